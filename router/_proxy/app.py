"""The proxy as an ASGI application: any ASGI server can run it, ``router serve`` runs it on uvicorn.

One API request, in order (each step answers in OpenRouter's error shape when it says no):

1. the path is normalised and must sit under ``/api/v1`` or ``/v1`` (404), ``Host`` and ``Origin`` must be
   allowed (421, 403), and the access token presented when one is configured (401);
2. a declared ``Content-Length`` over the limit is refused before a byte is read (413, connection closed);
3. the body streams into a ``Body`` spool (memory, then an anonymous temp file), bounded (413); a client that
   leaves before the end of its body is gone, and nothing is forwarded;
4. an upstream slot is taken (``max_upstream``), waiting at most ``queue_timeout`` (then 503 + Retry-After);
5. the request goes through ``AsyncRouterTransport`` (check, route, inline, or a 400 made here) to a
   keep-alive upstream pool, and the answer is relayed chunk by chunk. Meanwhile the client is watched: if it
   disconnects, the upstream request is cancelled at once, whether or not a byte came back.

``/healthz``, ``/readyz`` and ``/metrics`` answer beside the API. Readiness is 503 until the capability table
is loaded and from the moment a drain begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._body import Body
from .._errors import BodyTooLarge
from .._pipeline import Router
from ..transport import AsyncRouterTransport, BodyStream
from .guard import PREFIXES, host_allowed, normalise_path, origin_allowed, split_prefix
from .metrics import CONTENT_TYPE, Metrics
from .settings import ProxySettings
from .upstream import UpstreamPool

__all__ = ["ProxyApp", "create_app", "error_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

access_log = logging.getLogger("router.access")
log = logging.getLogger("router")

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1): never forwarded either way.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Recomputed for the leg the proxy sends (Host from the upstream URL, the length from the spool), or its own.
_REQUEST_DROP = _HOP_BY_HOP | {b"host", b"content-length", b"expect", b"x-router-token"}
_RESPONSE_DROP = _HOP_BY_HOP | {b"date"}  # the server dates the answer it sends (one Date header, not two)
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_JSON = (b"content-type", b"application/json")


def error_body(status: int, message: str) -> bytes:
    """OpenRouter's error shape, so SDKs raise their ordinary exceptions for the proxy's own answers."""
    return json.dumps({"error": {"code": status, "message": message, "metadata": {}}}).encode()


class _Refusal(Exception):
    """An answer the proxy gives itself (never reaches the upstream)."""

    def __init__(
        self, status: int, message: str, *, outcome: str = "refused", headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self.status, self.message, self.outcome, self.headers = status, message, outcome, headers
        super().__init__(message)


@dataclass(slots=True)
class _Record:
    """What the access log and the metrics say about one request."""

    method: str
    path: str
    client: str
    start: float = field(default_factory=time.perf_counter)
    status: int = 0
    outcome: str = "passed"
    rules: tuple[str, ...] = ()
    inlined_bytes: int = 0
    body_bytes: int = 0
    upstream_s: float | None = None


@dataclass(slots=True)
class _Watch:
    """Shared between a forwarding task and the watcher of its client's connection."""

    done: bool = False
    gone: bool = False


class ProxyApp:
    """The ASGI application. Build it with :func:`create_app`."""

    def __init__(
        self,
        settings: ProxySettings,
        *,
        router: Router | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        close_router: bool = True,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.router = router
        self.draining = False
        self.load_error: str | None = None
        self._upstream = transport
        self._close_router = close_router
        self._transport: AsyncRouterTransport | None = None
        self._ready: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._upstream_host = httpx.URL(settings.base_url).netloc  # an explicit stream gets no Host from httpx
        self._timeout = {
            "connect": settings.connect_timeout,
            "read": settings.read_timeout,
            "write": settings.write_timeout,
            "pool": settings.queue_timeout,
        }

    # -- ASGI ----------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if not self._started:
                await self.startup()
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- life cycle ------------------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Open the upstream pool and load the capability table (off the loop; readiness waits for it)."""
        if self._started:
            return
        self._started = True
        cap = self.settings.max_upstream
        self._ready = asyncio.Event()
        self._slots = asyncio.Semaphore(cap)
        if self._upstream is None:
            self._upstream = UpstreamPool(cap, keepalive_expiry=self.settings.keepalive_expiry)
        if self.router is not None:
            self._loaded(self.router)
        else:
            self._spawn(self._load())
        if self.settings.loop_monitor_interval > 0:
            self._spawn(self._monitor(self.settings.loop_monitor_interval))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _loaded(self, router: Router) -> None:
        assert self._upstream is not None
        assert self._ready is not None
        self.router = router
        self._transport = AsyncRouterTransport(router, wrapped=self._upstream)
        self._ready.set()

    async def _load(self) -> None:
        s = self.settings
        try:
            tables = list(s.capabilities) or None
            router = await asyncio.to_thread(
                functools.partial(
                    Router,
                    tables,
                    allow_private_urls=s.allow_private_urls,
                    refresh_every=s.refresh_every or None,
                    base_url=s.base_url,
                )
            )
        except Exception as exc:  # a broken table: readiness says why, the API answers 503
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("router proxy: cannot load the capability table: %s", self.load_error)
            return
        self._loaded(router)

    async def _monitor(self, interval: float) -> None:
        """Sample how late the loop wakes a timer: the worst time one callback held the loop."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(interval)
            self.metrics.observe_lag(max(0.0, time.perf_counter() - start - interval))

    def begin_drain(self) -> None:
        """Readiness turns 503 (load balancers stop sending); requests in flight carry on."""
        if not self.draining:
            self.draining = True
            log.info("router proxy: draining: /readyz answers 503, requests in flight finish")

    async def shutdown(self) -> None:
        """Close the upstream pool and the router's fetcher (its spooled downloads go with it)."""
        self.begin_drain()
        for task in list(self._tasks):
            task.cancel()
        if self._transport is not None:
            await self._transport.aclose()
        elif self._upstream is not None:
            await self._upstream.aclose()
        self.close()

    def close(self) -> None:
        """Close the router's fetcher, removing its spooled downloads (safe to call again, and without a loop)."""
        self.metrics.sync_fetcher(self.router)
        fetcher = self.router.active_fetcher if self.router is not None else None  # never make one to close it
        if self._close_router and fetcher is not None:
            fetcher.close()

    # -- one HTTP request ------------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        path = normalise_path(raw)
        text = path.decode("ascii", "replace") if path is not None else "(refused path)"
        if text in _PROBES:
            await self._probe(text, method, send)
            return
        client = scope.get("client")
        record = _Record(method, text, f"{client[0]}:{client[1]}" if client else "-")
        self.metrics.in_flight.inc()
        try:
            await self._api(scope, receive, send, path, record)
        except _Refusal as refusal:
            record.status, record.outcome = refusal.status, refusal.outcome
            close = refusal.status == 413 or refusal.outcome == "cancelled"
            if refusal.outcome != "cancelled":
                await _answer(send, refusal.status, refusal.message, refusal.headers, close=close)
        finally:
            self.metrics.in_flight.dec()
            self._finish(record)

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: bytes | None, record: _Record) -> None:
        s = self.settings
        if path is None:
            raise _Refusal(400, "router proxy: the request path cannot be used (encoded separators or controls)")
        routed = split_prefix(record.path)
        if routed is None:
            where = " or ".join(PREFIXES)
            raise _Refusal(404, f"router proxy: no route for {record.path}; the API is under {where}")
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        found = _find(headers, (b"host", b"origin", b"authorization", b"x-router-token", b"content-length"))
        host, origin = found.get(b"host"), found.get(b"origin")
        if not host_allowed(host, s.allowed_hosts):
            raise _Refusal(
                421, "router proxy: this Host is not served here (allow it with --allowed-host / ROUTER_ALLOWED_HOSTS)"
            )
        if not origin_allowed(origin, host, s.allowed_origins):
            raise _Refusal(403, "router proxy: requests from this Origin are refused (allow it with --allowed-origin)")
        authorization = self._authorization(found)
        length = found.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > s.max_body_size:
            raise _Refusal(413, f"router proxy: the request body is over the {s.max_body_size:,}-byte limit")
        body = await self._read_body(receive, record)
        try:
            await self._wait_ready()
            query: bytes = scope.get("query_string") or b""
            url = s.base_url + routed[1] + ("?" + query.decode("latin-1") if query else "")
            out = [(k, v) for k, v in headers if k not in _REQUEST_DROP and not k.startswith(b"proxy-")]
            out = _without_listed(out, headers)
            if authorization is not None:
                out = [(k, v) for k, v in out if k != b"authorization"]
                if authorization:
                    out.append((b"authorization", authorization.encode("latin-1")))
            out += [(b"host", self._upstream_host), (b"content-length", str(body.size).encode())]
            request = httpx.Request(
                scope["method"], url, headers=out, stream=BodyStream(body), extensions={"timeout": self._timeout}
            )
            await self._forward(scope, receive, send, request, record)
        finally:
            body.close()

    def _authorization(self, found: dict[bytes, str]) -> str | None:
        """The Authorization to send instead of the client's (``""``: none), or ``None`` to keep the client's.

        With an access token, a client presents it as ``Authorization: Bearer <token>`` (the operator's key is
        sent instead) or as ``X-Router-Token`` (its own ``Authorization`` goes through). Without one, a client
        that sends no ``Authorization`` gets the operator's key.
        """
        s = self.settings
        key = f"Bearer {s.api_key}" if s.api_key else ""
        auth = found.get(b"authorization")
        if s.access_token is None:
            return key if auth is None and key else None
        token = s.access_token.encode()
        presented = found.get(b"x-router-token")
        if presented is not None and hmac.compare_digest(presented.encode("latin-1"), token):
            return None
        bearer = auth[7:] if auth is not None and auth[:7].lower() == "bearer " else None
        if bearer is not None and hmac.compare_digest(bearer.encode("latin-1"), token):
            return key
        raise _Refusal(
            401,
            "router proxy: this proxy needs its access token (Authorization: Bearer <token>, or X-Router-Token)",
            headers=((b"www-authenticate", b'Bearer realm="router"'),),
        )

    async def _read_body(self, receive: Receive, record: _Record) -> Body:
        body = Body(max_bytes=self.settings.max_body_size)
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":  # gone before the end of its body: nothing is forwarded
                    raise _Refusal(499, "the client left during its upload", outcome="cancelled")
                if chunk := message.get("body"):
                    body.write(chunk)
                if not message.get("more_body"):
                    record.body_bytes = body.size
                    return body.finish()
        except BodyTooLarge as exc:
            body.close()
            raise _Refusal(413, f"router proxy: {exc}") from None
        except BaseException:
            body.close()
            raise

    async def _wait_ready(self) -> None:
        assert self._ready is not None
        if self._ready.is_set():
            return
        if self.load_error is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.queue_timeout):
                    await self._ready.wait()
        if not self._ready.is_set():
            why = "cannot load its capability table" if self.load_error else "is still loading its capability table"
            raise _Refusal(503, f"router proxy: the proxy {why}", outcome="overloaded", headers=_retry_after(5))

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, request: httpx.Request, record: _Record
    ) -> None:
        """Send upstream under a slot, relay the answer, and cancel everything if the client disconnects."""
        assert self._slots is not None
        task = asyncio.current_task()
        assert task is not None
        watch = _Watch()
        watcher = asyncio.ensure_future(_watch_client(receive, task, watch))
        response: httpx.Response | None = None
        try:
            try:
                async with asyncio.timeout(self.settings.queue_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise _Refusal(
                    503,
                    f"router proxy: all {self.settings.max_upstream} upstream slots are busy (--max-upstream); "
                    "retry shortly",
                    outcome="overloaded",
                    headers=_retry_after(1),
                ) from None
            self.metrics.upstream_in_flight.inc()
            try:
                sent = time.perf_counter()
                response = await self._send_upstream(request)
                _note_outcome(record, response)
                if record.outcome != "rejected":  # a rejection is answered here: no upstream latency to count
                    record.upstream_s = time.perf_counter() - sent
                    self.metrics.upstream_latency.observe(record.upstream_s)
                await self._relay(scope, send, response, watch, record)
            finally:
                self.metrics.upstream_in_flight.dec()
                self._slots.release()
        except asyncio.CancelledError:
            if not watch.gone:
                raise  # the server is stopping: not ours to swallow
            task.uncancel()
            raise _Refusal(499, "the client disconnected", outcome="cancelled") from None
        finally:
            watch.done = True
            watcher.cancel()
            if response is not None:
                with contextlib.suppress(Exception):
                    await response.aclose()

    async def _send_upstream(self, request: httpx.Request) -> httpx.Response:
        assert self._transport is not None
        try:
            return await self._transport.handle_async_request(request)
        except httpx.PoolTimeout:  # the local pool, not the upstream: never a misleading 504
            message = "router proxy: no upstream connection is free; retry shortly"
            raise _Refusal(503, message, outcome="overloaded", headers=_retry_after(1)) from None
        except httpx.TimeoutException as exc:
            message = f"router proxy: the upstream timed out ({type(exc).__name__})"
            raise _Refusal(504, message, outcome="failed") from None
        except httpx.TransportError as exc:
            message = f"router proxy: cannot reach the upstream: {exc or type(exc).__name__}"
            raise _Refusal(502, message, outcome="failed") from None
        except Exception as exc:  # a bug must still answer the client, not hang it
            log.exception("router proxy: internal error")
            raise _Refusal(500, f"router proxy: internal error: {type(exc).__name__}", outcome="failed") from None

    async def _relay(self, scope: Scope, send: Send, response: httpx.Response, watch: _Watch, record: _Record) -> None:
        """Status, headers, then the body chunk by chunk as the upstream sends it (never buffered)."""
        record.status = response.status_code
        headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _RESPONSE_DROP]
        if response.is_stream_consumed:  # an answer the transport made itself (a rejection): already in memory
            chunks: Any = _once(response.content)
        else:
            chunks = response.stream
        if scope.get("http_version") == "1.0" and not any(k == b"content-length" for k, _ in headers):
            # HTTP/1.0 has no chunked coding; the server would chunk anyway: send it whole, with its length.
            whole = b"".join([c async for c in chunks])
            headers.append((b"content-length", str(len(whole)).encode()))
            chunks = _once(whole)
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        try:
            async for chunk in chunks:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.TransportError as exc:  # the upstream broke off: end without the last chunk, so it shows
            record.outcome = "failed"
            log.warning("router proxy: the upstream broke off a response: %s", exc or type(exc).__name__)
            return
        watch.done = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- probes, log ---------------------------------------------------------------------------------------

    async def _probe(self, path: str, method: str, send: Send) -> None:
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, f"router proxy: {path} takes GET", ((b"allow", b"GET, HEAD"),))
            return
        if path == "/metrics":
            self.metrics.sync_fetcher(self.router)
            await _send(send, 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE.encode())])
            return
        status, state = 200, "ok"
        if path == "/readyz":
            ready = self._ready is not None and self._ready.is_set()
            status, state = (
                (503, "draining")
                if self.draining
                else (503, "failed")
                if self.load_error
                else (200, "ready")
                if ready
                else (503, "loading")
            )
        body: dict[str, Any] = {"status": state}
        if state == "failed":
            body["error"] = self.load_error
        await _send(send, status, json.dumps(body).encode(), [_JSON, (b"cache-control", b"no-store")])

    def _finish(self, record: _Record) -> None:
        m = self.metrics
        m.requests.labels(record.outcome, str(record.status)).inc()
        for rule in record.rules:
            m.rules.labels(record.outcome, rule).inc()
        if record.inlined_bytes:
            m.inlined_bytes.inc(record.inlined_bytes)
        if record.outcome in ("routed", "rejected"):
            m.sync_fetcher(self.router)
        if access_log.isEnabledFor(logging.INFO):
            total = (time.perf_counter() - record.start) * 1e3
            upstream = f"{record.upstream_s * 1e3:.1f}" if record.upstream_s is not None else "-"
            fields = {
                "method": record.method,
                "path": record.path,
                "status": record.status,
                "outcome": record.outcome,
                "rules": ",".join(record.rules) or "-",
                "inlined_bytes": record.inlined_bytes,
                "body_bytes": record.body_bytes,
                "upstream_ms": upstream,
                "total_ms": f"{total:.1f}",
                "client": record.client,
            }
            access_log.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"access": fields})


# -- helpers -----------------------------------------------------------------------------------------------------


def create_app(
    settings: ProxySettings | None = None,
    *,
    router: Router | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    close_router: bool = True,
) -> ProxyApp:
    """The proxy's ASGI app; with no arguments, settings come from the environment (``ProxySettings.from_env``).

    ``router``: use this router instead of loading one (``settings.capabilities`` is then unused).
    ``transport``: the upstream transport the router transport wraps (default: ``max_upstream`` keep-alive
    connections in small ``httpx.AsyncHTTPTransport`` pools, see ``UpstreamPool``). ``close_router``: close the
    router's fetcher (and so its spooled downloads) when the app shuts down.
    """
    return ProxyApp(
        settings if settings is not None else ProxySettings.from_env(),
        router=router,
        transport=transport,
        close_router=close_router,
    )


async def _watch_client(receive: Receive, task: asyncio.Task[None], watch: _Watch) -> None:
    """Wait for the client to disconnect; then cancel the request's task, wherever it is."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if not watch.done:
        watch.gone = True
        task.cancel()


async def _once(data: bytes) -> Any:
    yield data


def _note_outcome(record: _Record, response: httpx.Response) -> None:
    outcome = response.extensions.get("router")
    if outcome is not None:
        record.outcome = outcome.action
        record.rules = outcome.rules
        record.inlined_bytes = outcome.inlined_bytes


def _find(headers: list[tuple[bytes, bytes]], names: tuple[bytes, ...]) -> dict[bytes, str]:
    """The first value of each named header (names are lower-case in ASGI)."""
    found: dict[bytes, str] = {}
    for name, value in headers:
        if name in names and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _without_listed(out: list[tuple[bytes, bytes]], headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Drop the headers a ``Connection`` header names (they are hop-by-hop too)."""
    listed = {t.strip().lower() for k, v in headers if k == b"connection" for t in v.split(b",")}
    return [(k, v) for k, v in out if k not in listed] if listed else out


def _retry_after(seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", str(seconds).encode()),)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _answer(
    send: Send, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = (), *, close: bool = False
) -> None:
    extra = [(b"connection", b"close")] if close else []
    await _send(send, status, error_body(status, message), [_JSON, *headers, *extra])
