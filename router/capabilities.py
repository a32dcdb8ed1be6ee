"""The capability table: what each provider and model accepts, loaded from YAML into pydantic models.

Loading is fast on the happy path (libyaml when present, one pydantic validation); only when the table
is broken do we compose the YAML again to point at the file, line and dotted field that is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CapabilityError

__all__ = ["BUNDLED", "CapabilityTable", "Limit", "Model", "Provider", "UrlKind", "load_table"]

UrlKind = Literal["youtube", "https", "http", "gs"]
Limit = int | Literal["unknown"]

_HERE = Path(__file__).resolve().parent
# Installed wheels carry the table inside the package; a source checkout reads the top-level file.
BUNDLED = next(
    (p for p in (_HERE / "capabilities.yaml", _HERE.parent / "capabilities.yaml") if p.is_file()),
    _HERE / "capabilities.yaml",
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
    """One upstream provider's video rules, each backed by a documentation URL."""

    name: str
    url_kinds: tuple[UrlKind, ...] = ()
    data_urls: bool = True
    mime_types: tuple[str, ...] | None = None  # None: OpenRouter's documented list
    max_video_bytes: Limit = "unknown"
    max_request_bytes: Limit = "unknown"
    max_videos: Limit = "unknown"
    max_duration_s: Limit = "unknown"
    source: str
    sources: dict[str, str] = Field(default_factory=dict)
    notes: str = ""

    _sized = field_validator("max_video_bytes", "max_request_bytes", mode="before")(_size)

    @field_validator("sources")
    @classmethod
    def _sources_name_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"sources names unknown field(s): {', '.join(unknown)}")
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
    input: tuple[str, ...]
    output: tuple[str, ...] = ("text",)
    providers: tuple[str, ...] = ()
    source: str | None = None

    @property
    def takes_video(self) -> bool:
        return "video" in self.input


class OpenRouterRules(_Strict):
    mime_types: tuple[str, ...]
    source: str


class CapabilityTable(_Strict):
    version: Literal[1] = 1
    openrouter: OpenRouterRules
    providers: dict[str, Provider]
    models: dict[str, Model] = Field(default_factory=dict)

    @cached_property
    def _provider_index(self) -> dict[str, str]:
        index = {slug.lower(): slug for slug in self.providers}
        for slug, p in self.providers.items():
            index.setdefault(p.name.lower(), slug)
        return index

    def provider_slug(self, name: str) -> str | None:
        """Resolve a slug, a variant tag (``google-vertex/us-east5``) or a display name to a table slug."""
        key = name.strip().lower()
        return self._provider_index.get(key) or self._provider_index.get(key.split("/", 1)[0])

    def model(self, model_id: str) -> Model | None:
        """Look a model up; ``:free``/``:batch``-style variants fall back to their base id."""
        found = self.models.get(model_id)
        if found is None and ":" in model_id:
            found = self.models.get(model_id.rsplit(":", 1)[0])
        return found

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


def load_table(*paths: str | os.PathLike[str]) -> CapabilityTable:
    """Load the bundled table with each of ``paths`` layered over it in turn (later files win)."""
    files = [BUNDLED, *(Path(p) for p in paths)]
    texts = [_read(f) for f in files]
    merged: dict[str, Any] = {}
    for _, data in texts:
        merged = _merge(merged, data)

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
        for i, slug in enumerate(model.providers):
            if slug not in table.providers:
                raise fail(f"provider {slug!r} is not defined under providers", ("models", model_id, "providers", i))
    return table
