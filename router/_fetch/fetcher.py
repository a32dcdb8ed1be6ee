"""Download video URLs for inlining: the ``Fetcher`` (configuration, cache, one download per URL, lifecycle).

How one download is made (SSRF guard on every hop, byte cap while streaming, sniffing, spooling) is
``download`` (run by ``drive``); which addresses may be reached is ``_base.ssrf``. The fetcher adds what many
callers share: a bounded cache whose entries end with their signed URL's expiry, and single flight, so
concurrent callers of one URL (threads or tasks) wait for one download.
"""

from __future__ import annotations

import concurrent.futures
import functools
import shutil
import ssl
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from cachetools import TLRUCache

from .._base.errors import MediaTooLarge, UnreachableURL
from .._base.kinds import Kind
from .download import Downloader, display
from .drive import Flow, Resolver, Wait, adrive, drive, system_resolver
from .spool import Media, Progress

__all__ = ["FetchStats", "Fetcher", "Media", "signed_url_expiry"]


@dataclass(frozen=True, slots=True)
class FetchStats:
    """Counters since the fetcher was made: ``hits`` are answers that needed no download of their own."""

    downloads: int = 0  # completed downloads
    hits: int = 0  # served from the cache, or from another caller's download of the same URL in flight
    failures: int = 0
    bytes: int = 0  # bytes downloaded by completed downloads


class _Abandoned(Exception):
    """The caller leading a download went away (cancelled); whoever waited on it starts over."""


@dataclass(slots=True)
class _Flight:
    future: concurrent.futures.Future[Media]
    cap: int | None
    deadline: float


class _Resources:
    """What ``close()`` and the exit finalizer release; holds no reference to the Fetcher (or it would never die)."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="router-fetch-"))
        self.transport: httpx.HTTPTransport | None = None
        self.closed = False

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class Fetcher:
    """Downloads video URLs. Thread-safe; one instance serves ``fetch`` and ``afetch`` with one shared cache.

    ``allow_private_urls`` lifts the private, loopback and CGNAT blocks for local development; cloud metadata
    endpoints and link-local addresses stay blocked even then, because they hand out credentials.
    """

    def __init__(
        self,
        *,
        allow_private_urls: bool = False,
        connect_timeout: float = 10,
        read_timeout: float = 30,
        total_timeout: float = 300,
        max_redirects: int = 5,
        cache_bytes: int = 2 * 1024**3,
        cache_ttl: float = 3600,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._downloader = Downloader(
            allow_private_urls,
            connect_timeout,
            read_timeout,
            total_timeout,
            max_redirects,
            resolver or system_resolver,
            verify,
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, _Flight] = {}
        self._counts = {"downloads": 0, "hits": 0, "failures": 0, "bytes": 0}
        # Size-bounded by bytes; each entry expires after cache_ttl or when its signed URL does.
        self._cache: TLRUCache[str, Media, float] = TLRUCache(
            maxsize=cache_bytes, ttu=functools.partial(_expires, cache_ttl), getsizeof=_media_size
        )
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, self._res.close)  # also runs at interpreter exit

    # -- public API --------------------------------------------------------------------------------------------

    def fetch(
        self, url: str, *, max_bytes: int | None = None, on_progress: Progress | None = None, kind: Kind = "video"
    ) -> Media:
        """Download ``url`` (or reuse the cached copy) as media of ``kind``. Raises a ``FetchError`` subclass
        saying why not (``NotTheMedia`` when the bytes are not media of that kind, or are cut short; ``NotAVideo``
        for a video).

        ``on_progress(received, total_or_None)`` is called per chunk; raising from it aborts the download.
        """
        return drive(self._flow(url.strip(), max_bytes, on_progress, kind), self._sync_transport)

    async def afetch(
        self, url: str, *, max_bytes: int | None = None, on_progress: Progress | None = None, kind: Kind = "video"
    ) -> Media:
        """``fetch`` for asyncio; concurrent callers of one URL (threads or tasks) share one download."""
        flow = self._flow(url.strip(), max_bytes, on_progress, kind)
        return await adrive(flow, self._downloader.transport_options())

    @property
    def allow_private_urls(self) -> bool:
        return self._downloader.allow_private_urls

    @property
    def stats(self) -> FetchStats:
        with self._lock:
            return FetchStats(**self._counts)

    @property
    def spool_dir(self) -> Path:
        """Where downloads are spooled (one private temp directory per fetcher, removed by ``close``)."""
        return self._res.directory

    def close(self) -> None:
        """Forget the cache and remove every spooled file, including those of Media objects still held."""
        with self._lock:
            self._cache.clear()
            self._finalizer()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache and single flight: the same steps for sync and async callers ----------------------------------

    def _flow(self, url: str, cap: int | None, on_progress: Progress | None, kind: Kind) -> Flow:
        """Serve from the cache, join the download of the same URL in flight, or lead a new one. One URL asked for
        as two kinds of media (an image part and a file part) is two entries: each is judged as its kind."""
        key = url if kind == "video" else f"{url}#{kind}"
        while True:
            with self._lock:
                if self._res.closed:
                    raise RuntimeError("the Fetcher is closed")
                self._cache.expire()  # drops expired entries now, so their files go too
                media = self._cache.get(key)
                flight = None if media is not None else self._inflight.get(key)
                leading = media is None and flight is None
                if leading:
                    deadline = time.monotonic() + self._downloader.total_timeout
                    flight = self._inflight[key] = _Flight(_running_future(), cap, deadline)
                elif media is not None:
                    self._counts["hits"] += 1
            if media is not None:
                return _deliver(media, cap, on_progress)
            assert flight is not None
            if leading:
                try:
                    media = yield from self._downloader.run(url, cap, on_progress, self._res.directory, kind)
                except BaseException as exc:
                    self._land(key, flight, exc)
                    raise
                self._land(key, flight, media)
                return media
            # Bounded even when the leader cannot progress (a sync call blocking the leader's event loop).
            wait = flight.deadline - time.monotonic() + self._downloader.read_timeout + 1
            try:
                media = yield Wait(flight.future, max(wait, 0.1))
            except _Abandoned:
                continue
            except MediaTooLarge:
                if _looser(cap, flight.cap):
                    continue  # the leader's cap was tighter than ours: try with ours
                raise
            except TimeoutError:
                raise UnreachableURL(
                    f"{display(url)}: timed out waiting for another download of the same URL",
                    url=display(url),
                    transient=True,
                ) from None
            with self._lock:
                self._counts["hits"] += 1
            return _deliver(media, cap, on_progress)

    def _land(self, key: str, flight: _Flight, outcome: Media | BaseException) -> None:
        """Publish a download's outcome: success goes to the cache, a failure only to those who waited for it."""
        with self._lock:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
            if isinstance(outcome, Media):
                self._counts["downloads"] += 1
                self._counts["bytes"] += outcome.size
                if not self._res.closed and outcome.size <= self._cache.maxsize:
                    self._cache[key] = outcome
            elif isinstance(outcome, Exception):
                self._counts["failures"] += 1
        if isinstance(outcome, Media):
            flight.future.set_result(outcome)
        else:
            flight.future.set_exception(outcome if isinstance(outcome, Exception) else _Abandoned())

    def _sync_transport(self) -> httpx.HTTPTransport:
        options = self._downloader.transport_options()
        with self._lock:
            if self._res.closed:
                raise RuntimeError("the Fetcher is closed")
            if self._res.transport is None:
                self._res.transport = httpx.HTTPTransport(**options)
            return self._res.transport


def signed_url_expiry(url: str) -> float | None:
    """When a signed URL stops working (epoch seconds), so its cache entry ends no later; None when unsigned.

    Knows S3 and GCS v4 (``X-Amz-Date`` + ``X-Amz-Expires``, ``X-Goog-*``), ``Expires=<epoch>`` (CloudFront,
    GCS v2) and Azure SAS ``se=``.
    """
    try:
        query = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        for prefix in ("x-amz-", "x-goog-"):
            if f"{prefix}date" in query and f"{prefix}expires" in query:
                start = datetime.strptime(query[f"{prefix}date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                return start.timestamp() + int(query[f"{prefix}expires"])
        if query.get("expires", "").isdigit():
            return float(query["expires"])
        if "se" in query and "sig" in query:
            end = datetime.fromisoformat(query["se"].replace("Z", "+00:00"))
            return (end if end.tzinfo else end.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        return None
    return None


def _expires(ttl: float, key: str, media: Media, now: float) -> float:
    signed = signed_url_expiry(media.url)
    return now + ttl if signed is None else now + min(ttl, signed - time.time())


def _media_size(media: Media) -> int:
    return media.size


def _running_future() -> concurrent.futures.Future[Media]:
    # Marked running so that a waiter's cancellation (asyncio.wrap_future propagates it) cannot cancel it.
    future: concurrent.futures.Future[Media] = concurrent.futures.Future()
    future.set_running_or_notify_cancel()
    return future


def _deliver(media: Media, cap: int | None, on_progress: Progress | None) -> Media:
    """Hand out a copy someone else downloaded, under this caller's own cap."""
    if cap is not None and media.size > cap:
        label = display(media.url)
        raise MediaTooLarge(f"{label} is {media.size:,} bytes, over the {cap:,}-byte cap", url=label)
    if on_progress is not None:
        on_progress(media.size, media.size)
    return media


def _looser(mine: int | None, theirs: int | None) -> bool:
    return theirs is not None and (mine is None or mine > theirs)
