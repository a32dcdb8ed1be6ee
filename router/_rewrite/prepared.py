"""A request on its way through the pipeline: checked and planned (``Prepared``), then settled on what its
downloads and fitting said, then turned into the outgoing request; and ``Report``, what a check found.

``Router`` (``pipeline.py``) drives these steps; they are here so each is a function of its inputs alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .._base.errors import FetchError, RequestRejected
from .._base.kinds import Kind
from .._base.redact import redacted, sized
from .._base.rules import Diagnostic
from .._judgement.check import Checked
from .._judgement.judge import Downloaded
from .._judgement.plan import RoutePlan, settle
from .._model.request import Payload
from .._table.capabilities import CapabilityTable
from .outgoing import Inlined, Outgoing, Refitted, Routed, build_outgoing

if TYPE_CHECKING:
    from .._fetch.fetcher import Media

__all__ = ["FitProgress", "Prepared", "Report", "finish", "settled"]

FitProgress = Callable[[float], None]  # the share of a fitting job done, 0..1


@dataclass(slots=True)
class Report:
    """What ``Router.check`` found. ``ok`` means no errors: warnings are fixed by the rewrite."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


@redacted(table=sized)
@dataclass(slots=True)
class Prepared:
    """A request checked and planned; after downloads (``Router.download``) also settled, with its media.

    ``diagnostics`` are placed (file, line, column, pointer in the document) and complete: the request's own
    problems, the checker's, the plan's, and those of the downloads.
    """

    payload: Payload
    checked: Checked
    plan: RoutePlan
    table: CapabilityTable  # the table this request was judged by (a refresh may swap the router's meanwhile)
    fetched: list[Diagnostic] = field(default_factory=list)  # download and fitting failures (unplaced)
    media: dict[str, Media] = field(default_factory=dict)  # part pointer -> downloaded video
    fitted: dict[str, list[Media]] = field(default_factory=dict)  # part pointer -> what fitting made of it
    refits: list[Refitted] = field(default_factory=list)  # what fitting did, part by part
    diagnostics: list[Diagnostic] = field(init=False)

    def __post_init__(self) -> None:
        found = [*self.checked.diagnostics, *self.plan.diagnostics, *self.fetched]
        self.diagnostics = [*self.payload.problems, *(self.payload.place(self._kind(d)) for d in found)]

    def _kind(self, diagnostic: Diagnostic) -> Diagnostic:
        """A finding about a part names the part's kind, whoever made it."""
        if diagnostic.kind is not None:
            return diagnostic
        owner = [f.part for f in self.checked.parts if f"{diagnostic.pointer}/".startswith(f"{f.part.pointer}/")]
        return replace(diagnostic, kind=owner[0].kind) if owner else diagnostic

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def sent(self) -> dict[str, list[Media]]:
        """Part pointer -> the files that go out inline in its place (fitted, or as downloaded)."""
        return {**{ptr: [got] for ptr, got in self.media.items()}, **self.fitted}

    @property
    def downloads(self) -> dict[str, tuple[str, int, Kind]]:
        """Part pointer -> (URL, byte cap, kind of media) for every URL the plan downloads to inline."""
        return {
            f.part.pointer: (f.url, self.plan.caps[f.part.pointer], f.kind)
            for f in self.checked.parts
            if self.plan.actions.get(f.part.pointer) == "inline" and f.part.pointer in self.plan.caps
        }


def _facts(items: Sequence[Media]) -> Downloaded:
    """The facts of what fitting made: one file, or the parts of a split (judged by the largest of each)."""
    longest = max((m.duration or 0.0 for m in items), default=0.0) or None
    sizes = [m.size for m in items]
    contents = [m.content for m in items if m.content is not None]
    most = max(contents, key=lambda c: (c.pages or 0, c.side or 0), default=None)
    return Downloaded(max(sizes), items[0].mime, longest, len(items), sum(sizes), most)


def settled(
    prepared: Prepared,
    media: dict[str, Media],
    failed: Mapping[str, FetchError],
    workdir: Path,
    fitting: FitProgress | None = None,
    dry_run: bool = False,
) -> Prepared:
    """The request after its downloads: failures placed, videos fitted when the plan was made to fit (into
    ``workdir``), and the route settled on what the bytes said."""
    urls = {f.part.pointer: f.part.url_pointer for f in prepared.checked.parts}
    plan, fitted, refits = prepared.plan, {}, []
    can_fit = not plan.fit  # a download over the route's cap: a router that fits downloads far more, and fits it
    fetched = [Diagnostic(e.rule, str(e), urls[p], fit=can_fit and e.rule == "too-large") for p, e in failed.items()]
    if plan.fit and not failed:
        from .fitting import fit_media  # deferred: only a router that fits media needs it

        done = fit_media(prepared.checked, plan, prepared.table, media, plan.fit, workdir, fitting)
        fetched += done.problems
        fitted, refits = done.media, done.notes
        plan = replace(plan, actions={**plan.actions, **dict.fromkeys(fitted, "inline")})
    got = {ptr: Downloaded(m.size, m.mime, m.duration, content=m.content) for ptr, m in media.items()}
    got.update((ptr, _facts(items)) for ptr, items in fitted.items())
    plan = settle(plan, prepared.checked, prepared.table, got, dry_run)
    return Prepared(prepared.payload, prepared.checked, plan, prepared.table, fetched, media, fitted, refits)


def finish(prepared: Prepared, dry_run: bool) -> Outgoing:
    """The outgoing request of a settled plan, with notes of what was done; raises when it cannot be sent."""
    if not prepared.ok:
        raise RequestRejected(prepared.diagnostics)
    outgoing = build_outgoing(prepared.payload, prepared.checked, prepared.plan, prepared.sent)
    outgoing.diagnostics = list(prepared.diagnostics)
    outgoing.providers = prepared.plan.providers
    for ptr, (url, cap, _) in prepared.downloads.items():
        got = prepared.media.get(ptr)
        outgoing.notes.append(Inlined(ptr, url, got.size if got else None, cap, dry_run))
    outgoing.notes += prepared.refits
    if prepared.plan.providers is not None:
        outgoing.notes.append(Routed(tuple(prepared.plan.providers)))
    return outgoing
