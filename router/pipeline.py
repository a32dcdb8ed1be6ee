"""The one pipeline behind every front door: parse -> check -> plan -> fetch -> rewrite.

The CLI, the httpx transports and the proxy only call ``Router``; no business logic lives in them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .capabilities import CapabilityTable, Provider, load_table
from .check import Checked, check_request
from .errors import FetchError, RequestRejected
from .media import canonical_mime, mp4_duration, reader
from .plan import RoutePlan, plan_route
from .request import Payload, load_bytes, load_text, read_path
from .rewrite import Outgoing, build_outgoing, encoded_size
from .rules import Diagnostic, shorten

if TYPE_CHECKING:
    from .fetch import Fetcher, Media

__all__ = ["Prepared", "Report", "Router"]

PayloadLike = Mapping[str, Any] | str | bytes | os.PathLike[str]
Progress = Callable[[int, int | None], None]
Fetched = tuple[dict[str, "Media"], list[Diagnostic]]


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


@dataclass(slots=True)
class Prepared:
    """A request checked and planned: ``diagnostics`` so far, and what must be downloaded to send it."""

    payload: Payload
    checked: Checked
    plan: RoutePlan
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def downloads(self) -> dict[str, tuple[str, int]]:
        """Part pointer -> (URL, byte cap) for every part the plan inlines."""
        return {
            f.part.pointer: (f.part.url or "", self.plan.caps[f.part.pointer])
            for f in self.checked.parts
            if self.plan.actions.get(f.part.pointer) == "inline"
        }


def _as_pins(provider: str | Sequence[str] | None) -> tuple[str, ...]:
    if provider is None:
        return ()
    names = [provider] if isinstance(provider, str) else list(provider)
    return tuple(n.strip() for name in names for n in name.split(",") if n.strip())


class Router:
    """Checks, plans and rewrites chat-completion requests that carry video against a capability table."""

    def __init__(
        self,
        capabilities: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | CapabilityTable | None = None,
        *,
        allow_private_urls: bool = False,
        fetcher: Fetcher | None = None,
    ) -> None:
        if isinstance(capabilities, CapabilityTable):
            self.table = capabilities
        elif capabilities is None:
            self.table = load_table()
        elif isinstance(capabilities, str | os.PathLike):
            self.table = load_table(capabilities)
        else:
            self.table = load_table(*capabilities)
        self.allow_private_urls = allow_private_urls
        self._fetcher = fetcher
        self._lock = threading.Lock()

    @property
    def fetcher(self) -> Fetcher:
        with self._lock:  # one fetcher (one cache) per router, even when threads race to the first download
            if self._fetcher is None:
                from .fetch import Fetcher  # deferred: checking offline never needs the download machinery

                self._fetcher = Fetcher(allow_private_urls=self.allow_private_urls)
            return self._fetcher

    # -- parse, check, plan --------------------------------------------------------------------------

    @staticmethod
    def payloads(payload: PayloadLike) -> list[Payload]:
        """Read any accepted payload form into located requests (JSONL files give one per line)."""
        if isinstance(payload, bytes | bytearray):
            return load_bytes(bytes(payload))
        if isinstance(payload, os.PathLike):
            return read_path(Path(payload))
        if isinstance(payload, str):
            return load_text(payload)
        return [Payload(payload)]  # already parsed: a dict, or anything else the checker will refuse

    def prepare(
        self, payload: Payload, provider: str | Sequence[str] | None = None, *, model: str | None = None
    ) -> Prepared:
        if payload.problems:  # not JSON: nothing more can be said about it
            checked, plan = Checked(None, None, None), RoutePlan()
        else:
            checked = check_request(
                payload.request, self.table, model=model, allow_private_urls=self.allow_private_urls
            )
            plan = plan_route(checked, self.table, _as_pins(provider))
        diagnostics = [
            payload.place(d) if d.line is None else d
            for d in [*payload.problems, *checked.diagnostics, *plan.diagnostics]
        ]
        return Prepared(payload, checked, plan, diagnostics)

    def check(
        self,
        payload: PayloadLike,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        online: bool = False,
    ) -> Report:
        """Validate a payload; ``online`` also downloads what would be inlined (``unreachable-url`` etc.)."""
        report = Report()
        for item in self.payloads(payload):
            prepared = self.prepare(item, provider, model=model)
            report.requests += 1
            report.diagnostics += prepared.diagnostics
            if online and prepared.ok:
                report.diagnostics += self.probe(prepared)
        return report

    def probe(self, prepared: Prepared) -> list[Diagnostic]:
        """Download what the plan inlines (cached for a later send) and report what the bytes say."""
        return self._fetch_all(prepared)[1]

    # -- fetch and rewrite ---------------------------------------------------------------------------

    def _route(self, prepared: Prepared) -> list[Provider]:
        names = prepared.plan.providers or []
        return [self.table.providers[slug] for name in names if (slug := self.table.provider_slug(name))]

    def _media_problems(self, prepared: Prepared, pointer: str, media: Media) -> list[Diagnostic]:
        """What the downloaded bytes say that the URL could not: a format and a duration the route accepts."""
        route = self._route(prepared)
        accepted = {canonical_mime(m) for p in route for m in (p.mime_types or self.table.openrouter.mime_types)}
        at = next(f.part.url_pointer for f in prepared.checked.parts if f.part.pointer == pointer)
        found: list[Diagnostic] = []
        if canonical_mime(media.mime) not in (
            accepted or {canonical_mime(m) for m in self.table.openrouter.mime_types}
        ):
            found.append(
                Diagnostic(
                    "unsupported-format",
                    f"{shorten(media.url)} is {media.mime}, which the route does not accept",
                    pointer=at,
                )
            )
        caps = [p.max_duration_s for p in route if isinstance(p.max_duration_s, int)]
        if caps and canonical_mime(media.mime) in ("video/mp4", "video/mov", "video/3gpp"):
            with media.open() as fh:
                seconds = mp4_duration(reader(fh))
            if seconds and seconds > min(caps):
                found.append(
                    Diagnostic(
                        "too-large",
                        f"{shorten(media.url)} runs {seconds:.0f} s; the route takes videos up to {min(caps)} s",
                        pointer=at,
                    )
                )
        return [prepared.payload.place(d) for d in found]

    def _fetched(self, prepared: Prepared, media: dict[str, Media], errors: dict[str, FetchError]) -> list[Diagnostic]:
        diags: list[Diagnostic] = []
        parts = {f.part.pointer: f for f in prepared.checked.parts}
        for pointer, exc in errors.items():
            diags.append(
                prepared.payload.place(Diagnostic(exc.rule, str(exc), pointer=parts[pointer].part.url_pointer))
            )
        for pointer, m in media.items():
            diags += self._media_problems(prepared, pointer, m)
        limits = [p.max_request_bytes for p in self._route(prepared) if isinstance(p.max_request_bytes, int)]
        total = sum(encoded_size(m.size) for m in media.values()) + sum(
            len(f.data.payload) for f in parts.values() if f.data
        )
        if media and limits and total > min(limits):
            diags.append(
                prepared.payload.place(
                    Diagnostic(
                        "too-large",
                        f"the inlined videos come to {total:,} bytes of base64, over the route's request "
                        f"limit of {min(limits):,} bytes",
                        pointer="/messages",
                    )
                )
            )
        return diags

    def _fetch_all(self, prepared: Prepared, progress: Progress | None = None) -> Fetched:
        media: dict[str, Media] = {}
        errors: dict[str, FetchError] = {}
        for pointer, (url, cap) in prepared.downloads.items():
            try:
                media[pointer] = self.fetcher.fetch(url, max_bytes=cap, on_progress=progress)
            except FetchError as exc:
                errors[pointer] = exc
        return media, self._fetched(prepared, media, errors)

    async def _afetch_all(self, prepared: Prepared, progress: Progress | None = None) -> Fetched:
        import asyncio  # only async callers pay for it: `import router` stays light

        items = list(prepared.downloads.items())
        results = await asyncio.gather(
            *(self.fetcher.afetch(url, max_bytes=cap, on_progress=progress) for _, (url, cap) in items),
            return_exceptions=True,
        )
        media: dict[str, Media] = {}
        errors: dict[str, FetchError] = {}
        for (pointer, _), result in zip(items, results, strict=True):
            if isinstance(result, FetchError):
                errors[pointer] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                media[pointer] = result
        return media, self._fetched(prepared, media, errors)

    def _single(self, payload: PayloadLike) -> Payload:
        items = self.payloads(payload)
        if len(items) != 1:
            raise RequestRejected([Diagnostic("invalid-request", f"expected one request, found {len(items)}")])
        return items[0]

    def _prepare_one(
        self, payload: PayloadLike | Payload, provider: str | Sequence[str] | None, model: str | None
    ) -> Prepared:
        prepared = self.prepare(
            payload if isinstance(payload, Payload) else self._single(payload), provider, model=model
        )
        if not prepared.ok:
            raise RequestRejected(prepared.diagnostics)
        return prepared

    @staticmethod
    def _finish(prepared: Prepared, media: dict[str, Media], problems: list[Diagnostic], dry_run: bool) -> Outgoing:
        if problems:
            raise RequestRejected(prepared.diagnostics + problems)
        outgoing = build_outgoing(prepared.checked, prepared.plan, media, dry_run=dry_run)
        outgoing.diagnostics = list(prepared.diagnostics)
        outgoing.providers = prepared.plan.providers
        verb = "would inline" if dry_run else "inlined"
        outgoing.notes = [
            f"{verb} {shorten(url)} (up to {cap / 1e6:g} MB) at {ptr}" for ptr, (url, cap) in prepared.downloads.items()
        ]
        if prepared.plan.providers is not None:
            outgoing.notes.append(f"route: provider.only = {prepared.plan.providers}")
        return outgoing

    def outgoing(
        self,
        payload: PayloadLike | Payload,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        progress: Progress | None = None,
        dry_run: bool = False,
    ) -> Outgoing:
        """The request as it will be sent (streamable); raises ``RequestRejected`` when it cannot be.

        ``dry_run`` downloads nothing and leaves URLs that would be inlined as they are.
        """
        prepared = self._prepare_one(payload, provider, model)
        media, problems = ({}, []) if dry_run else self._fetch_all(prepared, progress)
        return self._finish(prepared, media, problems, dry_run)

    async def aoutgoing(
        self,
        payload: PayloadLike | Payload,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        progress: Progress | None = None,
    ) -> Outgoing:
        import asyncio

        # Checking decodes and sniffs inline base64 videos: CPU work that must not stall the event loop.
        prepared = await asyncio.to_thread(self._prepare_one, payload, provider, model)
        media, problems = await self._afetch_all(prepared, progress)
        return self._finish(prepared, media, problems, False)

    def rewrite(
        self, payload: PayloadLike, provider: str | Sequence[str] | None = None, *, model: str | None = None
    ) -> dict[str, Any]:
        """A new request dict ready to send (input untouched); raises ``RequestRejected``."""
        return self.outgoing(payload, provider, model=model).to_dict()

    async def arewrite(
        self, payload: PayloadLike, provider: str | Sequence[str] | None = None, *, model: str | None = None
    ) -> dict[str, Any]:
        import asyncio

        outgoing = await self.aoutgoing(payload, provider, model=model)
        return await asyncio.to_thread(outgoing.to_dict)
