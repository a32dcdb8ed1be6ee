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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from .._base.errors import CapabilityError
from .capabilities import CapabilityTable
from .catalogue import VIDEO_GUIDE, Catalogue, cache_path, normalise_base_url, read_cached

__all__ = ["BUNDLED", "load_table"]

_PACKAGE = Path(__file__).resolve().parents[1]
# Installed wheels carry the table inside the package; a source checkout reads the top-level file.
BUNDLED = next(
    (p for p in (_PACKAGE / "capabilities.yaml", _PACKAGE.parent / "capabilities.yaml") if p.is_file()),
    _PACKAGE / "capabilities.yaml",
)

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


_SECTIONS = ("audio", "image", "file")  # a kind's rules merge field by field too, like the entry holding them


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Layer a user table over the bundled one: entries merge field by field (a kind's section within an entry
    too, and ``openrouter:``), the user's value wins."""
    out = dict(base)
    for key, value in over.items():
        if key in ("providers", "models") and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            section = dict(out[key])
            for name, entry in value.items():
                section[name] = _fields(section.get(name), entry)
            out[key] = section
        elif key == "openrouter":
            out[key] = _fields(out.get(key), value)
        else:
            out[key] = value
    return out


def _fields(old: Any, new: Any) -> Any:
    """One entry over another, field by field, and the kinds' sections within them likewise."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return new
    merged = {**old, **new}
    for kind in _SECTIONS:
        if isinstance(old.get(kind), Mapping) and isinstance(new.get(kind), Mapping):
            merged[kind] = {**old[kind], **new[kind]}
    return merged


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
