"""Fit the videos of one request to its route (``Router(fit=...)``), between the downloads and ``settle``.

When a provider on the route takes every video as it is, nothing is touched. Otherwise the provider that asks
the least reduction is the target (the largest byte budget, then the longest duration limit: the least change
to what the model sees), each video over its limits is fitted to that provider with ``router.fit`` (remux,
re-encode, and with ``trim``/``split`` cut), and the caller settles the route again on what came out, so the
request goes only to providers that take it. Fitting is opt-in and never silent: each change is a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._base.rules import Diagnostic, shorten
from .._fetch.spool import Media, adopt, spool_data_url
from .._judgement.check import Checked, PartFacts
from .._judgement.judge import FitMode
from .._judgement.plan import DEFAULT_INLINE_CAP, RoutePlan
from .._model.media import canonical_mime
from .._table.capabilities import CapabilityTable, Provider
from .outgoing import Refitted

__all__ = ["Fitting", "fit_videos"]

# Bytes of a request that are not video (messages, the JSON around the data URLs): kept free of the budget.
REQUEST_OVERHEAD = 256 * 1024


@dataclass(slots=True)
class Fitting:
    """The videos to send instead (part pointer -> one file, or several for a split), and what happened."""

    media: dict[str, list[Media]] = field(default_factory=dict)
    notes: list[Refitted] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Limits:
    slug: str
    budget: int  # bytes of one video file
    max_duration: float | None
    accepted: tuple[str, ...]
    max_parts: int | None


def _limits(slug: str, p: Provider, table: CapabilityTable, fixed: int, fitting: int, others: int) -> _Limits:
    """What ``slug`` allows each of ``fitting`` videos when the rest of the request holds ``fixed`` bytes of
    base64 and ``others`` other videos."""
    caps = []
    if isinstance(p.max_video_bytes, int):
        caps.append(p.max_video_bytes)
    if isinstance(p.max_request_bytes, int):
        room = (p.max_request_bytes - fixed - REQUEST_OVERHEAD) // max(fitting, 1)
        caps.append(max(room, 0) * 3 // 4)
    budget = min(caps) if caps else DEFAULT_INLINE_CAP
    duration = float(p.max_duration_s) if isinstance(p.max_duration_s, int) else None
    parts = p.max_videos - others if isinstance(p.max_videos, int) else None
    return _Limits(slug, budget, duration, table.mime_types(slug), parts)


def _fits(size: int, duration: float | None, mime: str, limits: _Limits) -> bool:
    long = limits.max_duration is not None and (duration or 0) > limits.max_duration
    accepted = canonical_mime(mime) in {canonical_mime(m) for m in limits.accepted}
    return size <= limits.budget and not long and accepted


def fit_videos(
    checked: Checked,
    plan: RoutePlan,
    table: CapabilityTable,
    media: Mapping[str, Media],
    mode: FitMode,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> Fitting:
    """Fit what must be fitted for the route's least demanding provider; nothing when one takes it all as is."""
    from .._fit import engine  # the engine's module is light; PyAV loads on its first call

    out = Fitting()
    parts = [f for f in checked.parts if f.sendable and (f.part.pointer in media or f.data is not None)]
    facts = {f.part.pointer: _facts(f, media) for f in parts}
    if not plan.route or not parts:
        return out
    kept_base64 = sum(f.data.encoded_size for f in checked.parts if f.sendable and f.data and f not in parts)
    best: tuple[int, float, int] | None = None
    target: _Limits | None = None
    for rank, slug in enumerate(plan.route):  # the least reduction: the largest budget, then the longest limit
        limits = _limits(slug, table.providers[slug], table, kept_base64, len(parts), len(checked.parts) - len(parts))
        if all(_fits(*facts[ptr], limits) for ptr in facts):
            return out  # a provider takes every video as it is: settle() narrows to it
        key = (limits.budget, int(limits.max_duration or 10**9), -rank)
        if best is None or key > best:
            best, target = key, limits
    assert target is not None
    for f in parts:
        ptr = f.part.pointer
        if _fits(*facts[ptr], target):
            continue
        source = media.get(ptr) or spool_data_url(f.data, workdir, "a data: URL")  # type: ignore[arg-type]
        try:
            fitted = engine.fit(
                source.path,
                budget=target.budget,
                max_duration=target.max_duration,
                accepted=target.accepted,
                mode=mode,
                max_parts=target.max_parts if mode == "split" else None,
                workdir=workdir,
                progress=progress,
            )
        except engine.FitError as exc:
            rule = exc.rule or "too-large"
            message = f"{shorten(f.url)} cannot be fitted to {target.slug}: {exc}"
            out.problems.append(Diagnostic(rule, message, pointer=f.part.url_pointer))
            continue
        out.media[ptr] = [
            source if item.action == "kept" else adopt(item.path, source.url, item.mime, item.duration)
            for item in fitted
        ]
        out.notes += [Refitted(ptr, item.note) for item in fitted]
    return out


def _facts(f: PartFacts, media: Mapping[str, Media]) -> tuple[int, float | None, str]:
    got = media.get(f.part.pointer)
    if got is not None:
        return got.size, got.duration, got.mime
    return f.size or 0, f.duration, f.mime or ""
