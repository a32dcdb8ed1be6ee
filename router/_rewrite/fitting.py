"""Fit the media of one request to its route (``Router(fit=...)``), between the downloads and ``settle``.

When a provider on the route takes every part as it is, nothing is touched. Otherwise the provider that asks the
fewest changes is the target (then the largest byte budget, then the longest duration limit: the least change to
what the model sees), each part over its limits is fitted to that provider by the fit engine (a video remuxed,
re-encoded and with ``trim``/``split`` cut; audio transcoded, trimmed or split; an image converted or downscaled;
a PDF split or trimmed by page), and the caller settles the route again on what came out, so the request goes only
to providers that take it. Fitting is opt-in and never silent: each change is a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._base.kinds import Kind
from .._base.rules import Diagnostic, shorten
from .._fetch.spool import Media, adopt, spool_data_url
from .._fit.types import FitError, Fitted
from .._judgement.check import Checked
from .._judgement.facts import PartFacts
from .._judgement.judge import Downloaded, FitMode, Judge, fits
from .._judgement.plan import DEFAULT_INLINE_CAP, RoutePlan
from .._table.capabilities import CapabilityTable
from .outgoing import Refitted

__all__ = ["Fitting", "downloaded", "fit_media"]

# Bytes of a request that are not media (messages, the JSON around the data URLs): kept free of the budget.
REQUEST_OVERHEAD = 256 * 1024


@dataclass(slots=True)
class Fitting:
    """The files to send instead (part pointer -> one file, or several for a split), and what happened."""

    media: dict[str, list[Media]] = field(default_factory=dict)
    notes: list[Refitted] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Target:
    """What one provider allows a part it would be sent: the rules for its kind, and its share of the request."""

    slug: str
    budget: int  # bytes of one file
    max_duration: float | None
    accepted: tuple[str, ...]
    max_parts: int | None
    max_side: int | None = None
    max_pages: int | None = None


def _target(judge: Judge, slug: str, f: PartFacts, fixed: int, fitting: int) -> _Target:
    """What ``slug`` allows part ``f`` when the rest of the request holds ``fixed`` bytes of base64 and ``fitting``
    parts are being fitted."""
    rules = judge.rules(slug, f.kind)
    cap = judge.table.providers[slug].max_request_bytes
    caps = [c for c in (rules.max_bytes,) if c is not None]
    if rules.max_base64_bytes is not None:
        caps.append(rules.max_base64_bytes * 3 // 4)
    if isinstance(cap, int):
        caps.append(max((cap - fixed - REQUEST_OVERHEAD) // max(fitting, 1), 0) * 3 // 4)
    others = sum(1 for g in judge.checked.parts if g.kind == f.kind and g is not f)
    side = rules.max_side
    count = others + 1
    if rules.many_over is not None and rules.max_side_many is not None and count > rules.many_over:
        side = min(side or rules.max_side_many, rules.max_side_many)
    return _Target(
        slug,
        min(caps) if caps else DEFAULT_INLINE_CAP,
        float(rules.max_duration_s) if rules.max_duration_s is not None else None,
        rules.formats,
        rules.max_count - others if rules.max_count is not None else None,
        side,
        rules.max_pages,
    )


def fit_media(
    checked: Checked,
    plan: RoutePlan,
    table: CapabilityTable,
    media: Mapping[str, Media],
    mode: FitMode,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> Fitting:
    """Fit what must be fitted for the route's least demanding provider; nothing when one takes it all as is."""
    out = Fitting()
    parts = [f for f in checked.parts if f.sendable and (f.part.pointer in media or f.data is not None)]
    if not plan.route or not parts:
        return out
    judge = Judge(checked, table, parts)
    facts = {ptr: downloaded(m) for ptr, m in media.items()}
    fixed = sum(f.data.encoded_size for f in checked.parts if f.sendable and f.data and f not in parts)
    best: tuple[int, int, float, int] | None = None
    chosen: tuple[str, list[PartFacts]] | None = None
    for rank, slug in enumerate(plan.route):
        misfits = [f for f in parts if not fits(judge, slug, f, facts.get(f.part.pointer))]
        if not misfits:
            return out  # a provider takes every part as it is: settle() narrows to it
        video = [_target(judge, slug, f, fixed, len(parts)) for f in misfits if f.kind == "video"]
        budget = min((t.budget for t in video), default=0)
        longest = min((t.max_duration or 1e9 for t in video), default=0.0)
        key = (-len(misfits), budget, longest, -rank)
        if best is None or key > best:
            best, chosen = key, (slug, misfits)
    assert chosen is not None
    slug, misfits = chosen
    for f in misfits:
        ptr = f.part.pointer
        source = media.get(ptr) or spool_data_url(f.data, workdir, "a data: URL", f.kind)  # type: ignore[arg-type]
        target = _target(judge, slug, f, fixed, len(parts))
        try:
            fitted = _fit(f.kind, source, target, mode, workdir, progress)
        except FitError as exc:
            rule = exc.rule or "too-large"
            message = f"{shorten(f.url)} cannot be fitted to {slug}: {exc}"
            out.problems.append(Diagnostic(rule, message, pointer=f.part.url_pointer, kind=f.kind))
            continue
        out.media[ptr] = [
            source if item.action == "kept" else adopt(item.path, source.url, f.kind, item.mime) for item in fitted
        ]
        out.notes += [Refitted(ptr, item.note) for item in fitted]
    return out


def downloaded(m: Media) -> Downloaded:
    """What the judge needs to know of a file on disk."""
    return Downloaded(m.size, m.mime, m.duration, content=m.content)


def _fit(
    kind: Kind,
    source: Media,
    target: _Target,
    mode: FitMode,
    workdir: Path,
    progress: Callable[[float], None] | None,
) -> list[Fitted]:
    """One file through the fit engine for its kind (each engine imports its library on its first call)."""
    parts = target.max_parts if mode == "split" else None
    if kind == "image":
        from .._fit.image import fit_image

        one = fit_image(
            source.path,
            accepted=target.accepted,
            max_bytes=target.budget,
            max_side=target.max_side,
            max_pixels=None,
            workdir=workdir,
        )
        return [one]
    if kind == "audio":
        from .._fit.audio import fit_audio

        return fit_audio(
            source.path,
            accepted=target.accepted,
            max_bytes=target.budget,
            max_duration=target.max_duration,
            workdir=workdir,
            mode=mode,
            max_parts=parts,
        )
    if kind == "file":
        from .._fit.pdf import split_pdf, trim_pdf

        if mode == "trim":
            return trim_pdf(source.path, max_pages=target.max_pages, max_bytes=target.budget, workdir=workdir)
        if mode == "split":
            return split_pdf(
                source.path, max_pages=target.max_pages, max_bytes=target.budget, workdir=workdir, max_parts=parts
            )
        raise FitError("a PDF over the route's limits can only be split or trimmed (`--fit-split`, `--fit-trim`)")
    from .._fit import engine  # the engine's module is light; PyAV loads on its first call

    return engine.fit(
        source.path,
        budget=target.budget,
        max_duration=target.max_duration,
        accepted=target.accepted,
        mode=mode,
        max_parts=parts,
        workdir=workdir,
        progress=progress,
    )
