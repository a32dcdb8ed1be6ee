"""The capability table's data model: providers, models, OpenRouter's own rules, validated by pydantic.

``load.py`` reads the YAML layers and the cached catalogue into it; ``rules.py`` holds the per-kind rules (what a
provider takes of audio, images and files) and resolves them for one provider, kind and model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator

from .._base.kinds import Kind
from .rules import Limit, MediaRules, Rules, UrlKind, name_fields, resolve, size
from .rules import Strict as _Strict

__all__ = ["CapabilityTable", "Model", "OpenRouterRules", "Provider", "Snapshot"]


class Provider(_Strict):
    """One upstream provider's rules, each backed by a documentation URL: video at the top level, audio, images
    and files in sections of their own (``rules.MediaRules``; a missing section means OpenRouter's defaults).

    ``documented: false`` marks an entry the table made up for a provider it has no rules for (the catalogue
    says it serves a video model): every video is inlined and no limit is assumed. ``unknown`` names fields
    whose real value could not be confirmed, with the reason; their value is then the safe reading.
    ``tiers`` are the service tiers OpenRouter sells for this provider (``flex``, ``priority``): each is its
    own table entry, ``slug/tier``, with the same rules, because a base slug does not match tier endpoints.
    """

    name: str
    url_kinds: tuple[UrlKind, ...] = ()
    data_urls: bool = True
    mime_types: tuple[str, ...] | None = None  # None: OpenRouter's documented list
    max_video_bytes: Limit = "unknown"
    max_request_bytes: Limit = "unknown"
    max_videos: Limit = "unknown"
    max_duration_s: Limit = "unknown"
    audio: MediaRules | None = None
    image: MediaRules | None = None
    file: MediaRules | None = None
    tiers: tuple[str, ...] = ()
    documented: bool = True
    source: str
    sources: dict[str, str] = Field(default_factory=dict)
    unknown: dict[str, str] = Field(default_factory=dict)
    notes: str = ""

    _sized = field_validator("max_video_bytes", "max_request_bytes", mode="before")(size)

    _named = field_validator("sources", "unknown")(name_fields)

    def source_of(self, field: str) -> str:
        return self.sources.get(field, self.source)

    def inline_cap(self) -> int | None:
        """Largest video (decoded bytes) this provider can take inline, from its documented limits (every kind:
        ``CapabilityTable.rules(...).inline_cap``). Base64 grows the payload by a third, so a limit on the encoded
        request caps the video at 3/4 of it."""
        return Rules("video", (), True, (), max_bytes=_known(self.max_video_bytes)).inline_cap(
            _known(self.max_request_bytes)
        )


class Model(_Strict):
    """A model's modalities and who serves it with video. ``providers`` are the keys a request reaches by
    default; ``tiers`` the service-tier keys that also serve it (``google-vertex/flex``), reached only when a
    request names them. ``tiers=None``: not known (the bundled snapshot has no endpoint data)."""

    input: tuple[str, ...]
    output: tuple[str, ...] = ("text",)
    providers: tuple[str, ...] = ()
    tiers: tuple[str, ...] | None = None
    source: str | None = None

    @property
    def takes_video(self) -> bool:
        return "video" in self.input

    def takes(self, kind: Kind) -> bool:
        return kind in self.input


class OpenRouterRules(_Strict):
    """OpenRouter's own rules for every provider: the video types it documents, and for audio, images and files
    what its guides say (an audio URL is never accepted; image and PDF URLs are fetched)."""

    mime_types: tuple[str, ...]
    audio: MediaRules = MediaRules()
    image: MediaRules = MediaRules()
    file: MediaRules = MediaRules()
    # An endpoint tag's suffix that names a service tier -> the tier (``fast`` is OpenRouter's alias of
    # ``priority``). Every other suffix is a region or a quantization and follows the base slug.
    service_tiers: dict[str, str] = Field(default_factory=dict)
    source: str
    sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("service_tiers")
    @classmethod
    def _lower(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.lower(): v.lower() for k, v in value.items()}


class Snapshot(_Strict):
    """Where the ``models`` section came from, and when."""

    date: dt.date  # the bundled snapshot's newest model, or the day the catalogue was fetched (UTC)
    source: str
    fetched_at: dt.datetime | None = None  # a live catalogue: when it was read
    path: str | None = None  # a live catalogue: the cache file it was loaded from
    # A live catalogue: models it lists without saying what they take (id -> why), checked as unknown models.
    unknown: dict[str, str] = Field(default_factory=dict)

    def describe(self, now: dt.datetime | None = None) -> str:
        """``bundled snapshot of 2026-08-14 (108 days old)`` or ``OpenRouter catalogue fetched ... ago``."""
        now = now or dt.datetime.now(dt.UTC)
        if self.fetched_at is None:
            days = (now.date() - self.date).days
            return f"bundled snapshot of {self.date.isoformat()} ({_age_days(days)}), {self.source}"
        cached = f", cached in {self.path}" if self.path else ""
        return (
            f"OpenRouter catalogue fetched {self.fetched_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC "
            f"({_age(now - self.fetched_at)}) from {self.source}{cached}"
        )


def _age_days(days: int) -> str:
    return "from today" if days <= 0 else f"{days} day{'s' * (days != 1)} old"


def _age(delta: dt.timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


class CapabilityTable(_Strict):
    version: Literal[1] = 1
    openrouter: OpenRouterRules
    providers: dict[str, Provider]
    snapshot: Snapshot | None = None
    models: dict[str, Model] = Field(default_factory=dict)

    @cached_property
    def _provider_index(self) -> dict[str, str]:
        index = {slug.lower(): slug for slug in self.providers}
        for slug, p in self.providers.items():
            index.setdefault(p.name.lower(), slug)
        return index

    def service_tier(self, variant: str) -> str | None:
        """The service tier a tag's variant part names (``flex`` in ``global/flex``), or None."""
        tiers = self.openrouter.service_tiers
        return next((tiers[s] for s in variant.strip().lower().split("/") if s in tiers), None)

    def provider_slug(self, name: str) -> str | None:
        """Resolve a slug, an endpoint tag or a display name to a key of ``providers`` (None: unknown).

        A region or quantization tag (``google-vertex/us-east5``, ``z-ai/fp8``) follows its base slug. A
        service-tier tag does not: ``google-vertex/flex`` (also ``google-vertex/global/flex``) resolves to the
        key ``google-vertex/flex``, and ``openai/fast`` to ``openai/priority``, matching OpenRouter, where a
        base slug never selects tier endpoints. A tier the table has no entry for is unknown (None).
        """
        key = name.strip().lower()
        found = self._provider_index.get(key)
        if found is not None:
            return found
        base, _, variant = key.partition("/")
        if not variant:
            return None
        tier = self.service_tier(variant)
        return self._provider_index.get(f"{base}/{tier}" if tier else base)

    def served_by(self, model: Model | None, named: Iterable[str] = ()) -> tuple[str, ...]:
        """The keys that can serve ``model`` for a request naming the keys ``named`` (from :meth:`provider_slug`).

        Service tiers are opt-in, as on OpenRouter: a tier key is added only when the request names it and it
        serves the model, per the catalogue's endpoints or, when those are unknown, because its provider does.
        """
        if model is None:
            return ()
        extra = [
            key
            for key in named
            if "/" in key
            and key not in model.providers
            and key in self.providers
            and (key in model.tiers if model.tiers is not None else key.split("/", 1)[0] in model.providers)
        ]
        return (*model.providers, *dict.fromkeys(extra))

    def narrows(self, name: str) -> bool:
        """Whether ``name`` picks only some endpoints of its key (a region or quantization tag such as
        ``google-vertex/us-east5``): ignoring it leaves the key's other endpoints. A slug, a tier key
        (``google-vertex/flex``) or a display name stands for the whole key."""
        key = name.strip().lower()
        return "/" in key and key not in self._provider_index and self.provider_slug(name) is not None

    def model(self, model_id: str) -> Model | None:
        """Look a model up; ``:free``/``:batch``-style variants fall back to their base id."""
        found = self.models.get(model_id)
        if found is None and ":" in model_id:
            found = self.models.get(model_id.rsplit(":", 1)[0])
        return found

    def unknown_reason(self, model_id: str) -> str | None:
        """Why a model the catalogue lists is not in the table (it did not say what the model takes), or None."""
        notes = self.snapshot.unknown if self.snapshot is not None else {}
        return notes.get(model_id) or (notes.get(model_id.rsplit(":", 1)[0]) if ":" in model_id else None)

    def mime_types(self, slug: str | None) -> tuple[str, ...]:
        provider = self.providers.get(slug) if slug else None
        return provider.mime_types if provider and provider.mime_types else self.openrouter.mime_types

    def rules(self, slug: str | None, kind: Kind, model_id: str | None = None) -> Rules:
        """What provider ``slug`` (None: OpenRouter alone) takes of ``kind`` for ``model_id``, every field
        resolved: its own section over OpenRouter's, then the section's overrides for that model."""
        p = self.providers.get(slug) if slug else None
        if kind == "video":
            return Rules(
                "video",
                tuple(p.url_kinds) if p else (),
                p.data_urls if p else True,
                self.mime_types(slug),
                max_bytes=_known(p.max_video_bytes) if p else None,
                max_count=_known(p.max_videos) if p else None,
                max_duration_s=_known(p.max_duration_s) if p else None,
                documented=p.documented if p else True,
                unknown=p.unknown if p else {},
            )
        layers = [getattr(self.openrouter, kind)]
        own = getattr(p, kind) if p is not None else None
        if own is not None:
            layers.append(own)
        return resolve(kind, layers, model_id, documented=p.documented if p else True)


def _known(value: Limit) -> int | None:
    return value if isinstance(value, int) else None
