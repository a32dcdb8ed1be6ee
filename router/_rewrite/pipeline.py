"""The one pipeline behind every front door: parse -> check -> plan -> fetch -> settle -> rewrite.

The CLI, the httpx transports and the proxy only call ``Router``; no business logic lives in them. An online
``check`` and a rewrite run the very same steps (``prepare``, downloads, ``settle``), so they cannot disagree.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._base.errors import FetchError, RequestRejected
from .._base.rules import Diagnostic
from .._judgement.check import Checked, check_request
from .._judgement.judge import FitMode
from .._judgement.plan import RoutePlan, plan_route
from .._model.request import Payload, PayloadLike, read_payloads
from .._table.capabilities import CapabilityTable
from .._table.load import load_table
from .outgoing import Outgoing
from .prepared import FitProgress, Prepared, Report, finish, settled

if TYPE_CHECKING:
    from .._fetch.fetcher import Fetcher, Media
    from .._table.refresh import LiveTable

__all__ = ["Router"]

Progress = Callable[[int, int | None], None]


def _require_fit_engine() -> None:
    """``Router(fit=...)`` without PyAV fails when the router is made, not on the first big video."""
    import importlib.util

    if importlib.util.find_spec("av") is None:
        from .._fit.engine import INSTALL_HINT, FitUnavailable

        raise FitUnavailable(f"fitting media needs PyAV, which is not installed: {INSTALL_HINT}")


def _pins(provider: str | Sequence[str] | None) -> tuple[str, ...]:
    if provider is None:
        return ()
    names = [provider] if isinstance(provider, str) else list(provider)
    return tuple(n.strip() for name in names for n in name.split(",") if n.strip())


class Router:
    """Checks, plans and rewrites chat-completion (and Responses) requests that carry media (video, audio, images,
    files) against a capability table.

    ``allow_private_urls`` comes from ``fetcher`` when one is given (the fetcher is what connects), so the
    checker and the fetcher can never disagree about a URL. ``close()`` (or ``with``) removes the spooled
    downloads of the fetcher the router made.

    ``base_url`` (default OpenRouter's) is the API the requests go to: the model data is the catalogue cached
    for that base URL by ``router models --refresh``, else the bundled snapshot; a catalogue read from another
    address never applies. ``refresh_every`` (seconds) keeps a long-running router's model data fresh: the
    catalogue is read again from ``base_url`` in the background at that age, and the old data is kept when
    that fails or the answer looks wrong.

    ``fit`` (the ``fit`` extra) fits media a provider would refuse to the route when rewriting: ``True`` remuxes
    or re-encodes a video, transcodes audio, converts or downscales an image, within the limits, and never cuts
    content; ``"trim"`` also keeps only the first seconds (a PDF: pages) a limit allows, ``"split"`` cuts a long
    video or recording, or a PDF over a page limit, into consecutive parts. ``check`` never fits: its
    findings say when fitting would fix them.
    """

    def __init__(
        self,
        capabilities: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | CapabilityTable | None = None,
        *,
        allow_private_urls: bool | None = None,
        fetcher: Fetcher | None = None,
        refresh_every: float | None = None,
        base_url: str | None = None,
        fit: bool | FitMode = False,
    ) -> None:
        self.fit: FitMode | None = "fit" if fit is True else fit or None
        if self.fit is not None:
            _require_fit_engine()
        self._live: LiveTable | None = None
        if isinstance(capabilities, CapabilityTable):
            self._table = capabilities
        else:
            paths: tuple[str | os.PathLike[str], ...] = (
                () if capabilities is None
                else (capabilities,) if isinstance(capabilities, str | os.PathLike)
                else tuple(capabilities)
            )  # fmt: skip
            if refresh_every:
                from .._table import refresh as _refresh  # deferred: only long-running routers refresh

                self._live = _refresh.LiveTable(paths, base_url=base_url, ttl=refresh_every, stale_first=True)
            self._table = self._live.table if self._live is not None else load_table(*paths, base_url=base_url)
        if fetcher is not None and allow_private_urls is not None and allow_private_urls != fetcher.allow_private_urls:
            raise ValueError(
                f"allow_private_urls={allow_private_urls} but the fetcher has {fetcher.allow_private_urls}: "
                "give it to the Fetcher only"
            )
        self.allow_private_urls = fetcher.allow_private_urls if fetcher is not None else bool(allow_private_urls)
        self._fetcher = fetcher
        self._owns_fetcher = fetcher is None
        self._lock = threading.Lock()

    @property
    def table(self) -> CapabilityTable:
        """The capability data in use (a refreshing router swaps in new data as it arrives)."""
        return self._live.table if self._live is not None else self._table

    @property
    def fetcher(self) -> Fetcher:
        with self._lock:  # one fetcher (one cache) per router, even when threads race to the first download
            if self._fetcher is None:
                from .._fetch.fetcher import Fetcher  # deferred: checking offline never needs the download machinery

                self._fetcher = Fetcher(allow_private_urls=self.allow_private_urls)
            return self._fetcher

    @property
    def active_fetcher(self) -> Fetcher | None:
        """The fetcher if one exists yet (``fetcher`` makes one on first use): for metrics and shutdown."""
        return self._fetcher

    def close(self) -> None:
        """Remove the downloads the router's own fetcher spooled (a fetcher you passed in stays yours)."""
        with self._lock:
            if self._owns_fetcher and self._fetcher is not None:
                self._fetcher.close()
                self._fetcher = None

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parse, check, plan --------------------------------------------------------------------------

    # Read any accepted payload form into located requests (JSONL files give one per line).
    payloads = staticmethod(read_payloads)

    def prepare(
        self,
        payload: Payload,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        fit: FitMode | None = None,
    ) -> Prepared:
        table = self.table  # once: the check and the plan see the same data, even if a refresh lands meanwhile
        if payload.problems:  # not JSON: nothing more can be said about it
            return Prepared(payload, Checked(None), RoutePlan(), table)
        checked = check_request(
            payload.request,
            table,
            model=model,
            allow_private_urls=self.allow_private_urls,
            holes=payload.holes,
            api=payload.api,
            fitting=fit is not None,
        )
        return Prepared(payload, checked, plan_route(checked, table, _pins(provider), fit), table)

    def check(
        self,
        payload: PayloadLike,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        online: bool = False,
    ) -> Report:
        """Validate a payload; ``online`` also downloads what would be inlined, as a rewrite would."""
        report = Report()
        for item in self.payloads(payload):
            prepared = self.prepare(item, provider, model=model)
            if online and prepared.ok:
                prepared = self.download(prepared)
            report.requests += 1
            report.diagnostics += prepared.diagnostics
        return report

    # -- fetch, settle and rewrite --------------------------------------------------------------------

    def download(
        self, prepared: Prepared, progress: Progress | None = None, fitting: FitProgress | None = None
    ) -> Prepared:
        """Download what the plan inlines (cached for a later send), fit what must be fitted when the plan was
        made to fit, and settle the route with what the bytes say."""
        media: dict[str, Media] = {}
        failed: dict[str, FetchError] = {}
        for pointer, (url, cap, kind) in prepared.downloads.items():
            try:
                media[pointer] = self.fetcher.fetch(url, max_bytes=cap, on_progress=progress, kind=kind)
            except FetchError as exc:
                failed[pointer] = exc
        return settled(prepared, media, failed, self.fetcher.spool_dir, fitting)

    async def adownload(
        self, prepared: Prepared, progress: Progress | None = None, fitting: FitProgress | None = None
    ) -> Prepared:
        """``download`` for event loops: the downloads run concurrently on the loop, fitting in a thread."""
        import asyncio  # only async callers pay for it: `import router` stays light

        items = list(prepared.downloads.items())
        results = await asyncio.gather(
            *(
                self.fetcher.afetch(url, max_bytes=cap, on_progress=progress, kind=kind)
                for _, (url, cap, kind) in items
            ),
            return_exceptions=True,
        )
        media: dict[str, Media] = {}
        failed: dict[str, FetchError] = {}
        for (pointer, _), result in zip(items, results, strict=True):
            if isinstance(result, FetchError):
                failed[pointer] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                media[pointer] = result
        if prepared.plan.fit:  # encoding is CPU work: off the loop
            return await asyncio.to_thread(settled, prepared, media, failed, self.fetcher.spool_dir, fitting)
        return settled(prepared, media, failed, self.fetcher.spool_dir, fitting)

    def _single(self, payload: PayloadLike) -> Payload:
        items = self.payloads(payload)
        if len(items) != 1:
            raise RequestRejected([Diagnostic("invalid-request", f"expected one request, found {len(items)}")])
        return items[0]

    def _prepare_one(
        self, payload: PayloadLike | Payload, provider: str | Sequence[str] | None, model: str | None
    ) -> Prepared:
        """One request, planned for sending: with the router's ``fit`` (``check`` plans without it)."""
        prepared = self.prepare(
            payload if isinstance(payload, Payload) else self._single(payload), provider, model=model, fit=self.fit
        )
        if not prepared.ok:
            raise RequestRejected(prepared.diagnostics)
        return prepared

    def outgoing(
        self,
        payload: PayloadLike | Payload,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        progress: Progress | None = None,
        dry_run: bool = False,
        fitting: FitProgress | None = None,
    ) -> Outgoing:
        """The request as it will be sent (streamable); raises ``RequestRejected`` when it cannot be.

        ``dry_run`` downloads nothing and leaves URLs that would be inlined as they are (a router that fits
        videos still fits its data URLs: that needs no download). ``progress`` follows the downloads, ``fitting``
        the fitting of videos (``Router(fit=...)``).
        """
        prepared = self._prepare_one(payload, provider, model)
        if not dry_run:
            prepared = self.download(prepared, progress, fitting)
        elif prepared.plan.fit:
            prepared = settled(prepared, {}, {}, self.fetcher.spool_dir, fitting, dry_run=True)
        return finish(prepared, dry_run)

    async def aoutgoing(
        self,
        payload: PayloadLike | Payload,
        provider: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
        progress: Progress | None = None,
        fitting: FitProgress | None = None,
    ) -> Outgoing:
        import asyncio

        # Checking decodes and sniffs inline base64 videos: CPU work that must not stall the event loop.
        prepared = await asyncio.to_thread(self._prepare_one, payload, provider, model)
        done = await self.adownload(prepared, progress, fitting)
        return await asyncio.to_thread(finish, done, False)

    def rewrite(
        self, payload: PayloadLike, provider: str | Sequence[str] | None = None, *, model: str | None = None
    ) -> dict[str, Any]:
        """A new request dict ready to send (nothing shared with the input); raises ``RequestRejected``."""
        return self.outgoing(payload, provider, model=model).to_dict()

    async def arewrite(
        self, payload: PayloadLike, provider: str | Sequence[str] | None = None, *, model: str | None = None
    ) -> dict[str, Any]:
        import asyncio

        outgoing = await self.aoutgoing(payload, provider, model=model)
        return await asyncio.to_thread(outgoing.to_dict)
