"""OpenRouter's public catalogue, cached on disk: the models, what they take, and the endpoints that serve them.

``router models --refresh`` fetches it (``refresh``; ``listing`` reads OpenRouter's answers into a catalogue) and
:func:`write_cached` stores it in the user cache directory, one file per base URL it came from
(``$XDG_CACHE_HOME/router/catalogue-openrouter.ai-<hash>.json`` on Linux): what a test double at
``http://127.0.0.1:P/api/v1`` lists only ever applies to processes talking to that same address, and a process
talking to OpenRouter reads OpenRouter's file alone. The file also names its
base URL, checked on read, so a file copied under another name is not believed either. :func:`read_cached` is
what every ``load_table()`` calls: it never touches the network, costs one ``stat`` when there is no cache, and
a cache it cannot read is ignored with a one-line warning (never a traceback), so the bundled snapshot is used.

The file keeps the raw facts (modalities, endpoint tags, service tiers); what they mean for routing (a region
tag follows its provider, a service tier does not) is decided when the table is loaded. A fact the catalogue
did not give (a model without ``architecture.input_modalities``, an endpoints answer that was missing or
malformed) is stored as unknown (``null``), never as a guess: the table then keeps what it knew before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._base.kinds import KINDS
from .._base.redact import redacted, short_url

__all__ = [
    "DEFAULT_BASE_URL",
    "FORMAT",
    "Catalogue",
    "CatalogueModel",
    "Endpoint",
    "cache_path",
    "endpoint_key",
    "is_openrouter",
    "normalise_base_url",
    "read_cached",
    "write_cached",
]

FORMAT = 1
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
# The page that documents video inputs: a provider the table has no rules for is handled the way it describes
# for every provider (base64 data URLs), and nothing more is assumed.
VIDEO_GUIDE = "https://openrouter.ai/docs/guides/overview/multimodal/videos"
MEDIA = frozenset(KINDS)  # a model taking any of these has its endpoints read: who serves it matters to routing


class DamagedCatalogue(ValueError):
    """The cache file is not a catalogue this version can read; the message says where it goes wrong."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of a model: its ``tag`` (``google-vertex/us-east5``) and the service tier it sells, if any."""

    tag: str
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """One model as the catalogue lists it. ``input`` None: the entry had no ``architecture.input_modalities``
    this reader understands, so what the model takes is unknown (not "text only"). ``endpoints`` None: not
    fetched (only the endpoints of models taking media are), or the answer was missing or malformed."""

    input: tuple[str, ...] | None = None
    output: tuple[str, ...] = ("text",)
    endpoints: tuple[Endpoint, ...] | None = None


@redacted(base_url=short_url)
@dataclass(frozen=True, slots=True)
class Catalogue:
    """What one refresh read from OpenRouter, as stored in the cache file (plain data: no validation cost at
    import, a hand-written check when read back)."""

    fetched_at: datetime
    base_url: str
    models: dict[str, CatalogueModel]
    providers: dict[str, str] = field(default_factory=dict)  # slug -> display name, from GET /providers

    def __post_init__(self) -> None:
        if self.fetched_at.tzinfo is None:
            object.__setattr__(self, "fetched_at", self.fetched_at.replace(tzinfo=UTC))

    def replace(self, **changes: Any) -> Catalogue:
        return replace(self, **changes)

    @property
    def video_models(self) -> list[str]:
        return [mid for mid, m in self.models.items() if m.input is not None and "video" in m.input]

    def table_models(
        self, service_tiers: Mapping[str, str], known: Mapping[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The ``models`` section this catalogue stands for, in the capability table's shape.

        What the catalogue does not say is taken from ``known`` (the bundled ``models`` section), never guessed:
        a model without modalities keeps its known entry, a media model whose endpoints are unknown keeps its
        known providers. A model without modalities that ``known`` lacks too is left out (see :meth:`unknown`).
        """
        out: dict[str, dict[str, Any]] = {}
        for mid, m in self.models.items():
            before = _entry(known, mid)
            if m.input is None:
                if "input" in before:
                    out[mid] = dict(before)
                continue
            entry: dict[str, Any] = {"input": list(m.input), "output": list(m.output)}
            if MEDIA & set(m.input) and m.endpoints is not None:
                keys = list(dict.fromkeys(endpoint_key(e.tag, e.tier, service_tiers) for e in m.endpoints))
                entry["providers"] = [k for k in keys if k and "/" not in k]
                entry["tiers"] = [k for k in keys if "/" in k]
            elif MEDIA & set(m.input):
                entry.update({k: before[k] for k in ("providers", "tiers") if k in before})
            out[mid] = entry
        return out

    def unknown(self, known: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The models listed without what they take, that ``known`` does not know either (id -> why)."""
        why = f"the catalogue from {self.base_url} lists it without its input modalities"
        return {mid: why for mid, m in self.models.items() if m.input is None and "input" not in _entry(known, mid)}

    def to_json(self) -> str:
        models: dict[str, Any] = {}
        for mid, m in self.models.items():
            entry: dict[str, Any] = {"input": None if m.input is None else list(m.input), "output": list(m.output)}
            if m.endpoints is not None:
                entry["endpoints"] = [{"tag": e.tag, **({"tier": e.tier} if e.tier else {})} for e in m.endpoints]
            models[mid] = entry
        document = {
            "format": FORMAT,
            "fetched_at": self.fetched_at.isoformat(),
            "base_url": self.base_url,
            "providers": self.providers,
            "models": models,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Catalogue:
        """Read a cache file's content back; :class:`DamagedCatalogue` names the first thing that is wrong."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise DamagedCatalogue("not JSON") from None

        def need(ok: bool, where: str) -> None:
            if not ok:
                raise DamagedCatalogue(f"{where} is missing or of the wrong type")

        def strings(value: Any, where: str) -> tuple[str, ...]:
            need(isinstance(value, list) and all(isinstance(v, str) for v in value), where)
            return tuple(value)

        need(isinstance(data, dict), "the document")
        if data.get("format") != FORMAT:
            raise DamagedCatalogue(f"format {data.get('format')!r} is not {FORMAT}")
        need(isinstance(data.get("base_url"), str), "base_url")
        try:
            fetched = datetime.fromisoformat(data.get("fetched_at"))
        except (TypeError, ValueError):
            raise DamagedCatalogue("fetched_at is not a date and time") from None
        providers = data.get("providers", {})
        need(isinstance(providers, dict) and all(isinstance(v, str) for v in providers.values()), "providers")
        models = data.get("models")
        need(isinstance(models, dict), "models")
        out: dict[str, CatalogueModel] = {}
        for mid, entry in models.items():
            need(isinstance(entry, dict), f"models.{mid}")
            endpoints = entry.get("endpoints")
            found = None
            if endpoints is not None:
                need(isinstance(endpoints, list), f"models.{mid}.endpoints")
                found = []
                for i, e in enumerate(endpoints):
                    tier = e.get("tier") if isinstance(e, dict) else None
                    need(isinstance(e, dict) and isinstance(e.get("tag"), str), f"models.{mid}.endpoints[{i}].tag")
                    need(tier is None or isinstance(tier, str), f"models.{mid}.endpoints[{i}].tier")
                    found.append(Endpoint(e["tag"], tier))
            out[mid] = CatalogueModel(
                None if entry.get("input", ()) is None else strings(entry.get("input"), f"models.{mid}.input"),
                strings(entry.get("output"), f"models.{mid}.output"),
                None if found is None else tuple(found),
            )
        return cls(fetched, data["base_url"], out, dict(providers))


def _entry(section: Mapping[str, Any] | None, model_id: str) -> Mapping[str, Any]:
    found = section.get(model_id) if section is not None else None
    return found if isinstance(found, Mapping) else {}


def endpoint_key(tag: str, tier: str | None, service_tiers: Mapping[str, str]) -> str:
    """The table key an endpoint belongs to: its provider slug, or ``slug/tier`` for a service-tier endpoint.

    OpenRouter matches a base slug against every region and quantization of a provider, but never against its
    service-tier endpoints (``google-vertex/flex``, ``openai/priority``); those need their own key.
    """
    base, _, rest = tag.strip().lower().partition("/")
    named = service_tiers.get(tier.lower(), tier.lower()) if tier else None
    found = next((service_tiers[s] for s in rest.split("/") if s in service_tiers), None) if rest else None
    chosen = named or found
    return f"{base}/{chosen}" if base and chosen else base


# --- the cache file ------------------------------------------------------------------------------------


def normalise_base_url(url: str | None = None) -> str:
    """``url`` (default OpenRouter's) as catalogues are keyed and compared: scheme and host lower-case, no
    default port, no credentials, query, fragment or trailing slash."""
    from urllib.parse import urlsplit  # deferred: `import router` never needs it

    text = (url or DEFAULT_BASE_URL).strip()
    parts = urlsplit(text)
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number: keep the text as given
        return text.rstrip("/")
    if not parts.scheme or not host:
        return text.rstrip("/")
    scheme = parts.scheme.lower()
    host = f"[{host}]" if ":" in host else host
    shown = f":{port}" if port is not None and port != {"http": 80, "https": 443}.get(scheme) else ""
    return f"{scheme}://{host}{shown}{parts.path.rstrip('/')}"


def is_openrouter(url: str | None) -> bool:
    """Whether ``url`` is OpenRouter's own API (its host is ``openrouter.ai``)."""
    from urllib.parse import urlsplit

    return urlsplit(normalise_base_url(url)).hostname == "openrouter.ai"


def cache_path(base_url: str | None = None) -> Path:
    """Where the catalogue read from ``base_url`` (default OpenRouter's) is cached: the platform's user cache
    directory (Linux: ``$XDG_CACHE_HOME/router``), ``catalogue-<host>-<hash of the base URL>.json``."""
    import hashlib
    import re
    from urllib.parse import urlsplit

    from platformdirs import user_cache_dir  # deferred: only loading a table needs it, never `import router`

    key = normalise_base_url(base_url)
    host = re.sub(r"[^a-z0-9.-]+", "-", urlsplit(key).hostname or "") or "local"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(user_cache_dir("router", appauthor=False)) / f"catalogue-{host}-{digest}.json"


_warned: set[str] = set()


def warn(message: str, *, once: bool = True) -> None:
    """One line for people (once per process unless ``once=False``): to the ``router`` logger when someone
    listens, else to stderr as ``router: warning: ...``."""
    import logging  # deferred: loading a table imports nothing it does not use

    if once and message in _warned:
        return
    _warned.add(message)
    logger = logging.getLogger("router")
    if logger.hasHandlers():
        logger.warning("warning: %s", message)
    else:
        sys.stderr.write(f"router: warning: {message}\n")


def read_cached(path: Path | None = None, base_url: str | None = None) -> Catalogue | None:
    """The catalogue cached for ``base_url`` (default OpenRouter's; ``path``: that file instead of its own), or
    None when there is none or it cannot be used (then with a warning): damaged, or fetched from elsewhere."""
    wanted = normalise_base_url(base_url)
    target = path or cache_path(wanted)
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warn(f"cannot read the cached catalogue {target} ({exc.strerror or exc}); using the bundled snapshot")
        return None
    try:
        found = Catalogue.from_json(raw)
    except DamagedCatalogue as exc:
        warn(
            f"ignoring the cached catalogue {target}: it is damaged ({exc}); using the bundled snapshot "
            "(`router models --refresh` writes a new one)"
        )
        return None
    if normalise_base_url(found.base_url) != wanted:
        warn(f"ignoring the cached catalogue {target}: it was read from {found.base_url}, not {wanted}")
        return None
    return found


def write_cached(catalogue: Catalogue, path: Path | None = None) -> Path:
    """Store ``catalogue`` atomically (a temporary file in the same directory, then a rename): a reader sees the
    old file or the new one, never half of it. ``path`` defaults to the file of the catalogue's own base URL.
    Raises OSError when the directory cannot be written."""
    import tempfile

    target = path or cache_path(catalogue.base_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = catalogue.to_json()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
