"""Download video URLs for inlining: SSRF-guarded, capped while streaming, sniffed, spooled to disk, cached.

A payload names the URL, so the URL is hostile until proven otherwise: only http(s), every resolved address
is checked and the connection goes to the address that was checked (no DNS-rebinding window), redirects are
followed by hand and checked hop by hop, and the byte cap counts the bytes that arrive rather than trusting
``Content-Length``.

The policy lives once, in generators that *yield* the I/O they need (resolve, send, read, wait). A sync driver
(``httpx.Client``) and an async driver (``httpx.AsyncClient``) run them, so ``fetch`` and ``afetch`` cannot
drift apart. Both share one cache and one table of downloads in flight.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import hashlib
import ipaddress
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import httpx
from cachetools import TLRUCache

from .errors import BlockedURL, FetchError, MediaTooLarge, NotAVideo, UnreachableURL
from .media import (
    canonical_mime,
    classify_url,
    damage,
    ip_block_reason,
    literal_ip,
    metadata_block_reason,
    mp4_duration,
    reader,
    sniff,
)
from .rules import shorten

__all__ = ["FetchStats", "Fetcher", "Media", "signed_url_expiry"]

Progress: TypeAlias = Callable[[int, int | None], None]
Resolver: TypeAlias = Callable[[str, int], list[str]]
_IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_SNIFF_BYTES = 4096  # enough for every container sniff() knows, and an early NotAVideo on a big HTML page
_MAX_ADDRESSES = 4  # addresses tried in turn when connecting fails (all of them are checked first)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HEADERS = {"User-Agent": "router-fetch/0.1", "Accept": "video/*, */*;q=0.1", "Accept-Encoding": "identity"}
_LOOKS_LIKE = {
    "text/html": "an HTML page",
    "text/xml": "an XML document",
    "application/json": "JSON",
    "application/pdf": "a PDF document",
    "application/zip": "a ZIP archive",
    "application/gzip": "gzip data",
}


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Media:
    """A downloaded video.

    ``path`` is a spooled file owned by the fetcher: it stays on disk while this object or the cache holds it
    (so a rewrite can stream it after later downloads evicted it), and is removed when both let go, on
    ``Fetcher.close()`` or at exit. Never delete it yourself.
    """

    url: str  # the URL asked for (may carry a signature: shorten and strip it before showing it)
    path: Path
    size: int
    mime: str  # sniffed from the bytes; Content-Type, then the URL's extension only when the bytes say nothing
    sha256: str
    duration: float | None = None  # seconds, from the container's header where it records one (MP4, MOV)

    def open(self) -> BinaryIO:
        return self.path.open("rb")


@dataclass(frozen=True, slots=True)
class FetchStats:
    """Counters since the fetcher was made: ``hits`` are answers that needed no download of their own."""

    downloads: int = 0  # completed downloads
    hits: int = 0  # served from the cache, or from another caller's download of the same URL in flight
    failures: int = 0
    bytes: int = 0  # bytes downloaded by completed downloads


# -- what the policy core asks its driver to do ---------------------------------------------------------------


@dataclass(slots=True)
class _Resolve:
    host: str
    port: int
    timeout: float


@dataclass(slots=True)
class _Send:
    request: httpx.Request
    timeout: float


@dataclass(slots=True)
class _Read:
    timeout: float


@dataclass(slots=True)
class _Wait:
    future: concurrent.futures.Future[Media]
    timeout: float


_Op: TypeAlias = _Resolve | _Send | _Read | _Wait
_Flow: TypeAlias = Generator[_Op, Any, Media]


class _Abandoned(Exception):
    """The caller leading a download went away (cancelled); whoever waited on it starts over."""


@dataclass(slots=True)
class _Flight:
    future: concurrent.futures.Future[Media]
    cap: int | None
    deadline: float


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str  # IDNA form: what is resolved, sent as Host and as TLS SNI
    port: int
    literal: _IP | None


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


class _Spool:
    """Temp file, running sha256 and byte cap: the body is judged by what arrives, never by its headers."""

    def __init__(self, directory: Path, cap: int | None, on_progress: Progress | None, label: str) -> None:
        self._directory = directory
        self._cap = cap
        self._on_progress = on_progress
        self._label = label
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0
        self.total: int | None = None
        self.head = bytearray()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._cap is not None and self.size > self._cap:
            raise MediaTooLarge(
                f"{self._label} is over the {self._cap:,}-byte cap (stopped after {self.size:,} bytes "
                f"while streaming{_declared(self.total)})",
            )
        if self._file is None:  # created lazily: refused URLs never touch the disk
            fd, name = tempfile.mkstemp(dir=self._directory, suffix=".part")
            self._file, self.path = os.fdopen(fd, "wb"), Path(name)
        self._file.write(chunk)
        self._hash.update(chunk)
        if len(self.head) < _SNIFF_BYTES:
            self.head += chunk[: _SNIFF_BYTES - len(self.head)]
        if self._on_progress is not None:
            self._on_progress(self.size, self.total)

    def finish(self) -> tuple[Path, str]:
        assert self._file is not None
        assert self.path is not None
        self._file.close()
        return self.path, self._hash.hexdigest()

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


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
        self.allow_private_urls = allow_private_urls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self._resolver: Resolver = resolver or _system_resolver
        self._verify = verify
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

    def fetch(self, url: str, *, max_bytes: int | None = None, on_progress: Progress | None = None) -> Media:
        """Download ``url`` (or reuse the cached copy). Raises a ``FetchError`` subclass saying why not.

        ``on_progress(received, total_or_None)`` is called per chunk; raising from it aborts the download.
        """
        return self._drive(self._flow(url.strip(), max_bytes, on_progress))

    async def afetch(self, url: str, *, max_bytes: int | None = None, on_progress: Progress | None = None) -> Media:
        """``fetch`` for asyncio; concurrent callers of one URL (threads or tasks) share one download."""
        return await self._adrive(self._flow(url.strip(), max_bytes, on_progress))

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

    # -- policy core: the same steps for sync and async callers ----------------------------------------------

    def _flow(self, url: str, cap: int | None, on_progress: Progress | None) -> _Flow:
        """Serve from the cache, join the download of the same URL in flight, or lead a new one."""
        while True:
            with self._lock:
                if self._res.closed:
                    raise RuntimeError("the Fetcher is closed")
                self._cache.expire()  # drops expired entries now, so their files go too
                media = self._cache.get(url)
                flight = None if media is not None else self._inflight.get(url)
                leading = media is None and flight is None
                if leading:
                    deadline = time.monotonic() + self.total_timeout
                    flight = self._inflight[url] = _Flight(_running_future(), cap, deadline)
                elif media is not None:
                    self._counts["hits"] += 1
            if media is not None:
                return _deliver(media, cap, on_progress)
            assert flight is not None
            if leading:
                try:
                    media = yield from self._download(url, cap, on_progress)
                except BaseException as exc:
                    self._land(url, flight, exc)
                    raise
                self._land(url, flight, media)
                return media
            # Bounded even when the leader cannot progress (a sync call blocking the leader's event loop).
            wait = flight.deadline - time.monotonic() + self.read_timeout + 1
            try:
                media = yield _Wait(flight.future, max(wait, 0.1))
            except _Abandoned:
                continue
            except MediaTooLarge:
                if _looser(cap, flight.cap):
                    continue  # the leader's cap was tighter than ours: try with ours
                raise
            except TimeoutError:
                raise UnreachableURL(
                    f"{_display(url)}: timed out waiting for another download of the same URL",
                    url=_display(url),
                    transient=True,
                ) from None
            with self._lock:
                self._counts["hits"] += 1
            return _deliver(media, cap, on_progress)

    def _land(self, url: str, flight: _Flight, outcome: Media | BaseException) -> None:
        """Publish a download's outcome: success goes to the cache, a failure only to those who waited for it."""
        with self._lock:
            if self._inflight.get(url) is flight:
                del self._inflight[url]
            if isinstance(outcome, Media):
                self._counts["downloads"] += 1
                self._counts["bytes"] += outcome.size
                if not self._res.closed and outcome.size <= self._cache.maxsize:
                    self._cache[url] = outcome
            elif isinstance(outcome, Exception):
                self._counts["failures"] += 1
        if isinstance(outcome, Media):
            flight.future.set_result(outcome)
        else:
            flight.future.set_exception(outcome if isinstance(outcome, Exception) else _Abandoned())

    def _download(self, url: str, cap: int | None, on_progress: Progress | None) -> _Flow:
        """Follow redirects by hand, checking every hop, and stream the final body into a spool."""
        deadline = time.monotonic() + self.total_timeout
        label = _display(url)
        spool = _Spool(self._res.directory, cap, on_progress, label)
        current, where = url, label
        try:
            for _ in range(self.max_redirects + 1):
                try:
                    response = yield from self._open(current, where, deadline)
                    location = self._verdict(response, where, cap)
                    if location is None:
                        return (yield from self._receive(url, where, response, spool, deadline))
                    current = str(httpx.URL(current).join(location))
                except (httpx.RequestError, httpx.InvalidURL, TimeoutError) as exc:
                    raise self._unreachable(where, exc) from exc
                where = f"{label} (redirected to {_display(current)})"
            raise UnreachableURL(f"{label}: more than {self.max_redirects} redirects")
        except BaseException as exc:
            spool.discard()  # a failed or partial download never yields a Media
            if isinstance(exc, FetchError):
                exc.url = label  # the URL asked for, shown safely; the message says which hop failed
            raise

    def _open(self, url: str, where: str, deadline: float) -> Generator[_Op, Any, httpx.Response]:
        """Check the URL and every address it resolves to, then connect to a checked address only."""
        target = self._target(url, where)
        if target.literal is not None:
            answers = [str(target.literal)]
        else:
            try:
                answers = yield _Resolve(target.host, target.port, _left(deadline))
            except TimeoutError:
                raise  # the total deadline, reported as such (it is an OSError too)
            except UnicodeError as exc:  # IDNA: a label over 63 characters, or not encodable
                raise UnreachableURL(f"{where}: {shorten(target.host)} is not a valid host name ({exc})") from exc
            except OSError as exc:
                transient = not isinstance(exc, socket.gaierror) or exc.errno == socket.EAI_AGAIN
                raise UnreachableURL(
                    f"{where}: could not resolve {target.host} ({exc.strerror or exc})", transient=transient
                ) from exc
        addresses = self._vet(answers, target, where)
        failure: httpx.ConnectError | None = None
        for ip in addresses[:_MAX_ADDRESSES]:
            try:
                response: httpx.Response = yield _Send(self._request(target, ip, deadline), _left(deadline))
            except httpx.ConnectError as exc:
                failure = exc
                continue
            return response
        assert failure is not None
        raise failure

    def _target(self, url: str, where: str) -> _Target:
        info = classify_url(url)
        if info.kind == "youtube":
            raise BlockedURL(
                f"{where} is a YouTube page: router never downloads YouTube links; route the link to a provider "
                "that takes YouTube URLs",
            )
        if info.kind == "file":
            raise BlockedURL(f"{where} is a local file path: router never reads local files")
        if info.kind == "data":
            raise BlockedURL("a data: URL carries its bytes inline and is never downloaded")
        if info.kind == "invalid":
            raise UnreachableURL(f"{where} is not a valid URL")
        if info.kind not in ("http", "https"):
            raise BlockedURL(f"{where}: only http and https URLs are downloaded")
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeError):
            raise UnreachableURL(f"{where} is not a valid URL") from None
        if reason := metadata_block_reason(host):
            raise BlockedURL(f"{where} points at {reason}; router never fetches it")
        if info.blocked and not self.allow_private_urls:
            raise BlockedURL(f"{where} points at {info.blocked}; router does not fetch it{_HINT}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return _Target(parsed, host, port, literal_ip(host))

    def _vet(self, answers: list[str], target: _Target, where: str) -> list[_IP]:
        """Every address must pass, not just the first: the connection may land on any of them."""
        addresses: list[_IP] = []
        for answer in dict.fromkeys(answers):
            try:
                ip = ipaddress.ip_address(answer)
            except ValueError:
                raise UnreachableURL(f"{where}: the resolver returned {answer!r}, not an address") from None
            if reason := self._ip_reason(ip):
                # The address itself stays out of the message: it would make the router an internal-DNS oracle.
                hint = "" if metadata_block_reason(str(ip)) or self.allow_private_urls else _HINT
                raise BlockedURL(f"{where}: {target.host} resolves to {reason}; router does not fetch it{hint}")
            addresses.append(ip)
        if not addresses:
            raise UnreachableURL(f"{where}: {target.host} has no address")
        return addresses

    def _ip_reason(self, ip: _IP) -> str | None:
        for candidate in (ip, *_embedded_ipv4(ip)):
            if reason := metadata_block_reason(str(candidate)):
                return reason
            if not self.allow_private_urls and (reason := ip_block_reason(candidate)):
                return reason
        return None

    def _request(self, target: _Target, ip: _IP, deadline: float) -> httpx.Request:
        """A request to the checked IP literal; Host and TLS SNI keep the real name, so TLS verifies that name."""
        left = _left(deadline)
        connect, read = min(self.connect_timeout, left), min(self.read_timeout, left)
        extensions: dict[str, Any] = {"timeout": {"connect": connect, "read": read, "write": read, "pool": connect}}
        if target.url.scheme == "https":
            extensions["sni_hostname"] = target.host
        headers = {"Host": target.url.netloc.decode("ascii"), **_HEADERS}
        if target.url.userinfo:  # what a client would do with user:password@ (the transport ignores userinfo)
            credentials = f"{target.url.username}:{target.url.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        url = target.url.copy_with(host=str(ip), username=None, password=None)
        return httpx.Request("GET", url, headers=headers, extensions=extensions)

    def _verdict(self, response: httpx.Response, where: str, cap: int | None) -> str | None:
        """The redirect target, None when the body is the video, or raise: status first, then the declared size."""
        status = response.status_code
        if status in _REDIRECT_STATUSES:
            location: str | None = response.headers.get("location")
            if not location:
                raise UnreachableURL(f"{where}: HTTP {status} without a Location header", status=status)
            return location
        if status not in (200, 203):
            transient = status in _TRANSIENT_STATUSES or status >= 500
            raise UnreachableURL(
                f"{where}: HTTP {status} {response.reason_phrase}".rstrip()
                + (" (transient: retry later)" if transient else ""),
                status=status,
                transient=transient,
            )
        length = _content_length(response)
        if cap is not None and length is not None and length > cap:  # the early no; the real cap is in _Spool
            raise MediaTooLarge(f"{where} is {length:,} bytes (Content-Length), over the {cap:,}-byte cap")
        return None

    def _receive(self, url: str, where: str, response: httpx.Response, spool: _Spool, deadline: float) -> _Flow:
        spool.total = _content_length(response)
        declared = response.headers.get("content-type")
        mime: str | None = None
        while chunk := (yield _Read(_left(deadline))):  # _left: a slow drip never trips the read timeout
            spool.write(chunk)
            if mime is None and len(spool.head) >= _SNIFF_BYTES:
                mime = _identify(bytes(spool.head), declared, where)  # refuse a big HTML page early
        if spool.size == 0:
            raise NotAVideo(f"{where}: the server sent an empty body")
        mime = mime or _identify(bytes(spool.head), declared, where)
        path, digest = spool.finish()
        # The container must be whole: a server that stops early, or declares a shorter Content-Length than
        # the file, hands over a truncated video that would otherwise be uploaded as if it were complete.
        with path.open("rb") as fh:
            broken = damage(reader(fh), spool.size, mime)
            duration = mp4_duration(reader(fh)) if mime in ("video/mp4", "video/mov", "video/3gpp") else None
        if broken:
            raise NotAVideo(f"{where}: the {mime} video is {broken}")
        media = Media(url, path, spool.size, mime, digest, duration)
        weakref.finalize(media, _unlink, path)
        return media

    def _unreachable(self, where: str, exc: Exception) -> UnreachableURL:
        if isinstance(exc, httpx.InvalidURL):
            return UnreachableURL(f"{where}: invalid redirect target ({exc})")
        if isinstance(exc, TimeoutError):
            message = f"{where}: took longer than the {self.total_timeout:g}s total timeout"
        elif isinstance(exc, httpx.TimeoutException):
            phase = {
                httpx.ConnectTimeout: "while connecting",
                httpx.ReadTimeout: "waiting for data",
                httpx.WriteTimeout: "sending the request",
                httpx.PoolTimeout: "waiting for a connection",
            }.get(type(exc), "")
            message = f"{where}: timed out {phase}".rstrip()
        elif _certificate_error(exc):
            return UnreachableURL(f"{where}: TLS certificate verification failed ({exc})")
        elif isinstance(exc, httpx.ConnectError):
            message = f"{where}: could not connect ({str(exc) or type(exc).__name__})"
        elif isinstance(exc, httpx.RemoteProtocolError):
            message = f"{where}: the server broke off the download ({exc})"
        else:
            message = f"{where}: {type(exc).__name__}: {exc}"
        return UnreachableURL(message, transient=True)

    # -- drivers: the only code that differs between sync and async -------------------------------------------

    def _transport_options(self) -> dict[str, Any]:
        """Transports, not clients: no redirects, cookies or auth to switch off, and no httpx INFO log line with
        the full (signed) URL. trust_env=False: a proxy from the environment would connect by name and bypass the
        address checks. No keep-alive: pooled connections are keyed by IP, and one verified for another name must
        not be reused."""
        return {"trust_env": False, "verify": self._tls(), "limits": httpx.Limits(max_keepalive_connections=0)}

    def _tls(self) -> ssl.SSLContext | bool:
        return _default_tls() if self._verify is True else self._verify

    def _sync_transport(self) -> httpx.HTTPTransport:
        options = self._transport_options()
        with self._lock:
            if self._res.closed:
                raise RuntimeError("the Fetcher is closed")
            if self._res.transport is None:
                self._res.transport = httpx.HTTPTransport(**options)
            return self._res.transport

    def _drive(self, flow: _Flow) -> Media:
        """Run the core with blocking I/O.

        Waits are bounded by the timeouts the core put in each request (never past the total deadline at send
        time) and the deadline is checked after every chunk, so a stall can overrun it by one read timeout at most.
        """
        response: httpx.Response | None = None
        chunks: Iterator[bytes] = iter(())
        value: Any = None
        error: Exception | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    result: Media = stop.value
                    return result
                value, error = None, None
                try:
                    if isinstance(op, _Read):
                        value = next(chunks, b"")
                    elif isinstance(op, _Send):
                        if response is not None:
                            response.close()
                            response = None
                        response = self._sync_transport().handle_request(op.request)
                        chunks, value = response.iter_bytes(), response
                    elif isinstance(op, _Resolve):
                        # getaddrinfo has no timeout of its own: wait for it in a worker, up to the deadline.
                        value = _dns_pool().submit(self._resolver, op.host, op.port).result(op.timeout)
                    else:
                        value = op.future.result(op.timeout)
                except Exception as exc:
                    error = exc
        finally:
            try:
                if response is not None:
                    response.close()
            finally:
                flow.close()

    async def _adrive(self, flow: _Flow) -> Media:
        """Run the core on asyncio; every await is bounded by what is left of the total deadline."""
        transport: httpx.AsyncHTTPTransport | None = None
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        value: Any = None
        error: Exception | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    result: Media = stop.value
                    return result
                value, error = None, None
                try:
                    async with asyncio.timeout(op.timeout):
                        if isinstance(op, _Read):
                            assert chunks is not None
                            value = await anext(chunks, b"")
                        elif isinstance(op, _Send):
                            if response is not None:
                                await response.aclose()
                                response = None
                            # Per call: an async transport belongs to one event loop, and callers may bring several.
                            transport = transport or httpx.AsyncHTTPTransport(**self._transport_options())
                            response = await transport.handle_async_request(op.request)
                            chunks, value = response.aiter_bytes(), response
                        elif isinstance(op, _Resolve):
                            loop = asyncio.get_running_loop()
                            value = await loop.run_in_executor(_dns_pool(), self._resolver, op.host, op.port)
                        else:
                            value = await asyncio.wrap_future(op.future)
                except Exception as exc:
                    error = exc
        finally:
            try:
                if response is not None:
                    await response.aclose()
                if transport is not None:
                    await transport.aclose()
            finally:
                flow.close()


_HINT = " (pass --allow-private-urls / Router(allow_private_urls=True) for local development)"


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


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~50 ms, too much for every async call."""
    return httpx.create_ssl_context(trust_env=False)


def _expires(ttl: float, url: str, media: Media, now: float) -> float:
    signed = signed_url_expiry(url)
    return now + ttl if signed is None else now + min(ttl, signed - time.time())


def _media_size(media: Media) -> int:
    return media.size


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


@functools.cache
def _dns_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="router-dns")


def _system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _running_future() -> concurrent.futures.Future[Media]:
    # Marked running so that a waiter's cancellation (asyncio.wrap_future propagates it) cannot cancel it.
    future: concurrent.futures.Future[Media] = concurrent.futures.Future()
    future.set_running_or_notify_cancel()
    return future


def _deliver(media: Media, cap: int | None, on_progress: Progress | None) -> Media:
    """Hand out a copy someone else downloaded, under this caller's own cap."""
    if cap is not None and media.size > cap:
        label = _display(media.url)
        raise MediaTooLarge(f"{label} is {media.size:,} bytes, over the {cap:,}-byte cap", url=label)
    if on_progress is not None:
        on_progress(media.size, media.size)
    return media


def _looser(mine: int | None, theirs: int | None) -> bool:
    return theirs is not None and (mine is None or mine > theirs)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _declared(total: int | None) -> str:
    return f"; the server declared {total:,}" if total is not None else ""


def _embedded_ipv4(ip: _IP) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 one routes to (6to4, Teredo, NAT64): they are checked too."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [v4 for v4 in (ip.sixtofour, *(ip.teredo or ())) if v4 is not None]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _identify(head: bytes, declared: str | None, where: str) -> str:
    """The container from the bytes alone, as the checker does for data URLs: every format a provider takes is
    one ``sniff`` knows, so bytes it cannot place are not a video, whatever the server or the name says."""
    sniffed = sniff(head)
    if sniffed is not None and sniffed.startswith("video/"):
        return canonical_mime(sniffed)
    looks = "no video container router knows (corrupted?)" if sniffed is None else _looks_like(sniffed)
    said = f"; the server said {canonical_mime(declared)}" if declared else ""
    raise NotAVideo(f"{where} is not a video: the bytes look like {looks}{said}")


def _looks_like(mime: str) -> str:
    if mime in _LOOKS_LIKE:
        return _LOOKS_LIKE[mime]
    kind = mime.split("/", 1)[0]
    return f"an image ({mime})" if kind == "image" else f"audio ({mime})" if kind == "audio" else mime


def _certificate_error(exc: BaseException) -> bool:
    """A failed certificate check is permanent, unlike other connect errors (httpx wraps the ssl error)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short; bounded in case of a cycle
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _display(url: str) -> str:
    """The URL as messages show it: no credentials, no query string (signatures) or fragment, shortened."""
    return "a data: URL" if url[:5].lower() == "data:" else shorten(url)
