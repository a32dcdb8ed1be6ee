"""What a catalogue refresh changes, in words, and whether it looks like OpenRouter's catalogue at all.

A refresh is taken only when it looks right: the ``GET /models`` answer has OpenRouter's shape (a ``data`` array
of objects with an ``id``), and the table it makes still knows most of the video models the data in use knows.
A test double, a captive portal or a half-deployed mirror fails one of these, and the data in use stays
(``router models --refresh --force`` takes it anyway). Pure functions: tables and documents in, words out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from .capabilities import CapabilityTable
from .catalogue import Catalogue

__all__ = ["changes", "dropped", "label", "models_of", "not_a_listing", "summary"]


def _count(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def label(table: CapabilityTable) -> str:
    """The data a table stands on, in a few words: ``the bundled snapshot of 2026-08-14``."""
    snap = table.snapshot
    if snap is None:
        return "the data in use"
    if snap.fetched_at is None:
        return f"the bundled snapshot of {snap.date.isoformat()}"
    return f"the catalogue fetched {snap.fetched_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _some(ids: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(ids[:limit]) + ("…" if len(ids) > limit else "")
    return f" ({shown})" if ids else ""


def _is_model(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("id"), str) and bool(entry["id"])


def not_a_listing(document: Any) -> str | None:
    """Why a ``GET /models`` answer is not OpenRouter's catalogue (``{"data": [{"id": ...}, ...]}``), or None."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list) or not data:
        return "no `data` array of models"
    bad = sum(not _is_model(entry) for entry in data)
    if bad:
        return f"{bad} of the {len(data)} entries in `data` are not models (an object with an `id`)"
    return None


def models_of(document: Any) -> list[dict[str, Any]]:
    """The model objects of a ``GET /models`` answer (entries without an ``id`` left out)."""
    data = document.get("data") if isinstance(document, dict) else None
    return [entry for entry in data if _is_model(entry)] if isinstance(data, list) else []


def dropped(before: CapabilityTable, after: CapabilityTable) -> str | None:
    """Why ``after`` looks wrong against ``before`` (the data in use): it no longer has more than half of the
    video models ``before`` knows, as models that take video. None when it looks like a catalogue's day-to-day
    change."""
    known = [mid for mid, model in before.models.items() if model.takes_video]
    lost = [mid for mid in known if not ((model := after.models.get(mid)) is not None and model.takes_video)]
    if not known or len(lost) * 2 <= len(known):
        return None
    return f"it drops {len(lost)} of the {len(known)} video models {label(before)} knows{_some(sorted(lost))}"


def changes(before: CapabilityTable, after: CapabilityTable) -> str:
    """What ``after`` changes against ``before``, in words: models in and out, who serves video models, and
    the providers that have no rules in the table (handled conservatively)."""
    old, new = set(before.models), set(after.models)
    added, gone = sorted(new - old), sorted(old - new)
    added_video = [m for m in added if after.models[m].takes_video]

    def serving(table: CapabilityTable, model_id: str) -> tuple[set[str], set[str]]:
        model = table.models[model_id]
        return set(model.providers), set(model.tiers or ())

    moved = [m for m in sorted(old & new) if after.models[m].takes_video and serving(before, m) != serving(after, m)]
    used = {k for m in after.models.values() for k in (*m.providers, *(m.tiers or ()))}
    unruled = sorted(k for k in used if not after.providers[k].documented)
    taking = f" ({len(added_video)} taking video: {', '.join(added_video[:3])}{'…' * (len(added_video) > 3)})"
    line = (
        f"against {label(before)}: {_count(len(added), 'new model')}{taking if added_video else ''}, "
        f"{len(gone)} gone, {_count(len(moved), 'video model')} served differently{_some(moved)}"
    )
    if unruled:
        has = "has" if len(unruled) == 1 else "have"
        line += (
            f"; {_count(len(unruled), 'provider')} {has} no rules in the table and will be handled "
            f"conservatively: {', '.join(unruled)}"
        )
    return line


def summary(catalogue: Catalogue, before: CapabilityTable, after: CapabilityTable, path: Path | None) -> str:
    """One line: what a refresh read, and what it changes against the data in use."""
    stored = f" Saved to {path}." if path else ""
    return (
        f"Read {_count(len(catalogue.models), 'model')} ({len(catalogue.video_models)} taking video) and "
        f"{_count(len(catalogue.providers), 'provider')} from {catalogue.base_url}; {changes(before, after)}.{stored}"
    )
