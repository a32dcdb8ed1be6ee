"""The capability table: what each provider and model accepts, loaded from YAML into pydantic models.

Loading is fast on the happy path (libyaml when present, one pydantic validation); only when the table
is broken do we compose the YAML again to point at the file, line and dotted field that is wrong.

Layers, later wins: the bundled ``capabilities.yaml``; the OpenRouter catalogue cached for the base URL in use
(``router models --refresh``), whose models replace the bundled snapshot's when it is newer, except for what it
does not say (those facts stay as bundled); the user's own tables. Provider
rules only come from YAML: a provider the catalogue names but no table describes gets a conservative entry
(``documented: false``: every video inlined, no limit assumed) instead of failing the load.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._base.errors import CapabilityError
from .catalogue import VIDEO_GUIDE, Catalogue, cache_path, normalise_base_url, read_cached

__all__ = ["BUNDLED", "CapabilityTable", "Limit", "Model", "Provider", "Snapshot", "UrlKind", "load_table"]

UrlKind = Literal["youtube", "https", "http", "gs"]
Limit = int | Literal["unknown"]

_PACKAGE = Path(__file__).resolve().parents[1]
# Installed wheels carry the table inside the package; a source checkout reads the top-level file.
BUNDLED = next(
    (p for p in (_PACKAGE / "capabilities.yaml", _PACKAGE.parent / "capabilities.yaml") if p.is_file()),
    _PACKAGE / "capabilities.yaml",
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _size(value: Any) -> Any:
    """Accept ``100MB``/``25 MiB`` strings for byte limits; leave everything else to pydantic."""
    if isinstance(value, str) and value != "unknown" and (m := _SIZE.match(value)):
        return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider(_Strict):
    """One upstream provider's video rules, each backed by a documentation URL.

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
    tiers: tuple[str, ...] = ()
    documented: bool = True
    source: str
    sources: dict[str, str] = Field(default_factory=dict)
    unknown: dict[str, str] = Field(default_factory=dict)
    notes: str = ""

    _sized = field_validator("max_video_bytes", "max_request_bytes", mode="before")(_size)

    @field_validator("sources", "unknown")
    @classmethod
    def _name_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"names unknown field(s): {', '.join(unknown)}")
        return value

    def source_of(self, field: str) -> str:
        return self.sources.get(field, self.source)

    def inline_cap(self) -> int | None:
        """Largest video (decoded bytes) this provider can take inline, from its documented limits.

        Base64 grows the payload by a third, so a limit on the encoded request caps the video at 3/4 of it.
        """
        caps = []
        if isinstance(self.max_video_bytes, int):
            caps.append(self.max_video_bytes)
        if isinstance(self.max_request_bytes, int):
            caps.append(self.max_request_bytes * 3 // 4)
        return min(caps) if caps else None


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


class OpenRouterRules(_Strict):
    mime_types: tuple[str, ...]
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


def _read(path: Path) -> tuple[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CapabilityError(f"cannot read capability table: {exc.strerror or exc}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        at = path.read_bytes().count(b"\n", 0, exc.start) + 1
        raise CapabilityError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=str(path), line=at) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a Safe loader (C or pure Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise CapabilityError(f"invalid YAML: {problem}", path=str(path), line=line) from None
    if not isinstance(data, dict):
        raise CapabilityError("the table must be a YAML mapping", path=str(path), line=1)
    return text, data


def _line_of(text: str, loc: Iterable[str | int]) -> int | None:
    """Line (1-based) of the YAML node at ``loc``, or of the deepest ancestor that exists."""
    node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    line = node.start_mark.line + 1 if node else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Layer a user table over the bundled one: entries merge field by field, the user's value wins."""
    out = dict(base)
    for key, value in over.items():
        if key in ("providers", "models") and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            section = dict(out[key])
            for name, entry in value.items():
                old = section.get(name)
                both = isinstance(old, Mapping) and isinstance(entry, Mapping)
                section[name] = {**old, **entry} if both else entry  # type: ignore[dict-item]
            out[key] = section
        else:
            out[key] = value
    return out


def _dotted(loc: Iterable[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))


def _in(data: Any, loc: Iterable[str | int]) -> bool:
    try:
        for key in loc:
            data = data[key]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _tier_map(layers: Iterable[Any]) -> dict[str, str]:
    """``openrouter.service_tiers`` as the layers set it (raw YAML; validation reports it if it is malformed)."""
    tiers: dict[str, str] = {}
    for data in layers:
        section = data.get("openrouter") if isinstance(data, Mapping) else None
        found = section.get("service_tiers") if isinstance(section, Mapping) else None
        if isinstance(found, Mapping):
            tiers = {str(k).lower(): str(v).lower() for k, v in found.items()}
    return tiers


def _newer(catalogue: Catalogue, snapshot: Any) -> bool:
    """Whether ``catalogue`` was fetched on or after the day of the bundled snapshot (raw ``snapshot:``)."""
    date = snapshot.get("date") if isinstance(snapshot, Mapping) else None
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            date = None
    if isinstance(date, dt.datetime):
        date = date.date()
    if not isinstance(date, dt.date):
        return True
    return catalogue.fetched_at.astimezone(dt.UTC).date() >= date


def _unruled(slug: str, names: Mapping[str, str]) -> dict[str, Any]:
    """A conservative entry for a provider OpenRouter names but no table describes."""
    base, _, tier = slug.partition("/")
    name = names.get(base, base) + (f" ({tier})" if tier else "")
    return {
        "name": name,
        "url_kinds": [],
        "data_urls": True,
        "documented": False,
        "source": VIDEO_GUIDE,
        "notes": "No rules for this provider in the capability table (OpenRouter's catalogue lists it as serving "
        "a video model): router inlines every video as a base64 data URL, the form OpenRouter's video guide "
        "gives for every provider, and assumes no documented limit. Add its rules with --capabilities.",
    }


def _tier_entry(base: Mapping[str, Any], tier: str, over: Any) -> dict[str, Any]:
    """``slug/tier`` gets its provider's rules (a tier sells the same model on other terms) under its own name."""
    entry = {k: v for k, v in base.items() if k != "tiers"}
    entry["name"] = f"{base.get('name', '?')} ({tier})"
    return {**entry, **over} if isinstance(over, Mapping) else entry


def _add_providers(merged: dict[str, Any], refs: Iterable[str], names: Mapping[str, str], *, final: bool) -> None:
    """Give provider keys an entry where the YAML has none.

    Before the user's tables (``final=False``): every key the catalogue names whose provider no table
    describes gets a conservative entry, so a user table can complete it field by field. After them
    (``final=True``): each declared tier and each tier key a model names gets its provider's final rules (a
    user's partial entry for the tier layered on top), and a key OpenRouter lists (``names``) a conservative
    entry. Anything else is left for the load to report.
    """
    providers = merged.get("providers")
    if not isinstance(providers, dict):
        return
    tiers = set(_tier_map([merged]).values())
    providers = merged["providers"] = dict(providers)

    def complete(key: str) -> bool:
        current = providers.get(key)
        return isinstance(current, Mapping) and "source" in current

    wanted = [k for k in refs if not complete(k)]
    if final:
        for slug, entry in list(providers.items()):  # declared tiers (`tiers: [flex, priority]`)
            declared = entry.get("tiers") if isinstance(entry, Mapping) else None
            wanted += [f"{slug}/{str(t).lower()}" for t in (declared if isinstance(declared, list) else [])]
    for key in dict.fromkeys(wanted):
        if complete(key):
            continue
        base, _, tier = key.partition("/")
        if tier in tiers and complete(base):
            if final:
                providers[key] = _tier_entry(providers[base], tier, providers.get(key))
        elif not final or base in names:
            over = providers.get(key)
            providers[key] = {**_unruled(key, names), **(over if isinstance(over, Mapping) else {})}


def _refs(models: Any) -> list[str]:
    """Every provider key the ``models`` section names (raw YAML)."""
    out: list[str] = []
    for entry in models.values() if isinstance(models, Mapping) else []:
        for field in ("providers", "tiers"):
            named = entry.get(field) if isinstance(entry, Mapping) else None
            out += [s for s in named if isinstance(s, str)] if isinstance(named, list) else []
    return list(dict.fromkeys(out))


def load_table(
    *paths: str | os.PathLike[str],
    catalogue: Catalogue | Literal["cache"] | None = "cache",
    base_url: str | None = None,
) -> CapabilityTable:
    """Load the bundled table, then the OpenRouter catalogue, then each of ``paths`` (later files win).

    ``catalogue="cache"`` reads the one ``router models --refresh`` stored in the user cache directory for
    ``base_url`` (default OpenRouter's: a catalogue read from anywhere else never applies to it; a damaged file
    is ignored with a warning); a :class:`~router._table.catalogue.Catalogue` is used as given; None keeps the
    bundled snapshot. The catalogue's models replace the bundled ones only when it is newer than the bundled
    snapshot, and what it does not say about a model stays as bundled. Raises :class:`CapabilityError`
    (``FILE:LINE: what is wrong``) for a broken table.
    """
    files = [BUNDLED, *(Path(p) for p in paths)]
    texts = [_read(f) for f in files]
    url = normalise_base_url(base_url)
    cached = cache_path(url) if catalogue == "cache" else None
    live = read_cached(cached, url) if cached is not None else catalogue if isinstance(catalogue, Catalogue) else None
    merged: dict[str, Any] = dict(texts[0][1])
    names: Mapping[str, str] = {}
    if live is not None and _newer(live, merged.get("snapshot")):
        known = merged.get("models") if isinstance(merged.get("models"), Mapping) else None
        merged["models"] = models = live.table_models(_tier_map(data for _, data in texts), known)
        merged["snapshot"] = {
            "date": live.fetched_at.astimezone(dt.UTC).date(),
            "source": live.base_url,
            "fetched_at": live.fetched_at,
            "path": str(cached) if cached is not None else None,
            "unknown": live.unknown(known),
        }
        names = live.providers
        _add_providers(merged, _refs(models), names, final=False)
    for _, data in texts[1:]:
        merged = _merge(merged, data)
    _add_providers(merged, _refs(merged.get("models")), names, final=True)

    def fail(message: str, loc: tuple[str | int, ...]) -> CapabilityError:
        # Blame the last file that defines the failing path (a user override beats the bundled table).
        for f, (text, data) in reversed(list(zip(files, texts, strict=True))):
            if _in(data, loc[:2]):
                return CapabilityError(f"{_dotted(loc)}: {message}", path=str(f), line=_line_of(text, loc))
        return CapabilityError(f"{_dotted(loc)}: {message}", path=str(files[-1]), line=1)

    try:
        table = CapabilityTable.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]

        # Drop pydantic's union-member labels (`int`, `literal['unknown']`) from the path a user reads.
        def noise(p: str | int) -> bool:
            return isinstance(p, str) and (p in ("int", "str", "bool") or p.startswith(("function-", "literal[")))

        loc = tuple(p for p in err["loc"] if not noise(p))
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise fail(msg, loc) from None
    for model_id, model in table.models.items():
        for field, slugs in (("providers", model.providers), ("tiers", model.tiers or ())):
            for i, slug in enumerate(slugs):
                if slug not in table.providers:
                    raise fail(f"provider {slug!r} is not defined under providers", ("models", model_id, field, i))
    return table
