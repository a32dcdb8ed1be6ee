"""The proxy as an ASGI application: any ASGI server can run it, ``router serve`` runs it on uvicorn.

One API request, in order (each step answers in OpenRouter's error shape when it says no):

1. the path is normalised and must sit under ``/api/v1`` or ``/v1`` (404), ``Host`` and ``Origin`` must be
   allowed (421, 403), and the access token presented when one is configured (401); without one, a keyless
   request from beyond loopback is refused rather than given the operator's key (401, protected mode);
2. a declared ``Content-Length`` over the limit is refused before a byte is read (413, connection closed);
3. the body streams into a ``Body`` spool (memory, then an anonymous temp file), bounded (413); a client that
   leaves before the end of its body is gone, one that sends nothing for ``body_timeout`` gets 408 and its
   connection closed, and nothing is forwarded for either;
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
import gc
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any

import httpx

from .._rewrite.pipeline import Router
from .._transports.httpx_transport import AsyncRouterTransport, BodyStream
from .access import Record, finish
from .asgi import JSON, Receive, Refusal, Scope, Send, answer, read_body, respond, retry_after
from .forward import HOP_BY_HOP, Forwarder
from .guard import PREFIXES, authorization_to_send, host_allowed, normalise_path, origin_allowed, split_prefix
from .metrics import CONTENT_TYPE, Metrics
from .settings import ProxySettings
from .upstream import upstream_transport

__all__ = ["ProxyApp", "create_app"]

log = logging.getLogger("router")

# Recomputed for the leg the proxy sends (Host from the upstream URL, the length from the spool), or its own.
_REQUEST_DROP = HOP_BY_HOP | {b"host", b"content-length", b"expect", b"x-router-token"}
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


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
        self._forwarder: Forwarder | None = None
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
        self._ready = asyncio.Event()
        if self._upstream is None:
            s = self.settings
            self._upstream = upstream_transport(
                s.max_upstream, keepalive_expiry=s.keepalive_expiry, client=s.upstream_client
            )
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
        self._forwarder = Forwarder(self.settings, self.metrics, self._transport)
        # What is loaded now (the capability table: tens of thousands of objects) lives as long as the process:
        # out of the collector's sight, a full collection takes microseconds instead of holding the loop for
        # tens of milliseconds. A catalogue refresh thaws, collects and freezes again (router._table.refresh).
        gc.collect()
        gc.freeze()
        self._ready.set()

    async def _load(self) -> None:
        s = self.settings
        try:
            tables = list(s.capabilities) or None
            catalogue_url, every = s.catalogue()
            router = await asyncio.to_thread(
                functools.partial(
                    Router,
                    tables,
                    allow_private_urls=s.allow_private_urls,
                    refresh_every=every,
                    base_url=catalogue_url,
                    fit=s.fit or False,  # type: ignore[arg-type]  # validated by ProxySettings
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
        record = Record(method, text, f"{client[0]}:{client[1]}" if client else "-")
        self.metrics.in_flight.inc()
        try:
            await self._api(scope, receive, send, path, record)
        except Refusal as refusal:
            record.status, record.outcome = refusal.status, refusal.outcome
            close = refusal.status in (408, 413) or refusal.outcome == "cancelled"
            if refusal.outcome != "cancelled":
                await answer(send, refusal.status, refusal.message, refusal.headers, close=close)
        finally:
            self.metrics.in_flight.dec()
            finish(self.metrics, record, self.router)

    async def _api(self, scope: Scope, receive: Receive, send: Send, path: bytes | None, record: Record) -> None:
        s = self.settings
        if path is None:
            raise Refusal(400, "router proxy: the request path cannot be used (encoded separators or controls)")
        routed = split_prefix(record.path)
        if routed is None:
            where = " or ".join(PREFIXES)
            raise Refusal(404, f"router proxy: no route for {record.path}; the API is under {where}")
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        found = _find(headers, (b"host", b"origin", b"authorization", b"x-router-token", b"content-length"))
        host, origin = found.get(b"host"), found.get(b"origin")
        if not host_allowed(host, s.allowed_hosts):
            raise Refusal(
                421, "router proxy: this Host is not served here (allow it with --allowed-host / ROUTER_ALLOWED_HOSTS)"
            )
        if not origin_allowed(origin, host, s.allowed_origins):
            raise Refusal(403, "router proxy: requests from this Origin are refused (allow it with --allowed-origin)")
        authorization = authorization_to_send(s, found, scope.get("client"))
        length = found.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > s.max_body_size:
            raise Refusal(413, f"router proxy: the request body is over the {s.max_body_size:,}-byte limit")
        body = await read_body(receive, s.max_body_size, s.body_timeout, record)
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
            assert self._forwarder is not None
            await self._forwarder.forward(scope, receive, send, request, record)
        finally:
            body.close()

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
            raise Refusal(503, f"router proxy: the proxy {why}", outcome="overloaded", headers=retry_after(5))

    # -- probes, log ---------------------------------------------------------------------------------------

    async def _probe(self, path: str, method: str, send: Send) -> None:
        if method not in ("GET", "HEAD"):
            await answer(send, 405, f"router proxy: {path} takes GET", ((b"allow", b"GET, HEAD"),))
            return
        if path == "/metrics":
            self.metrics.sync_fetcher(self.router)
            await respond(send, 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE.encode())])
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
        await respond(send, status, json.dumps(body).encode(), [JSON, (b"cache-control", b"no-store")])


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
    connections, on aiohttp's client when installed, else in small ``httpx.AsyncHTTPTransport`` pools, see
    ``upstream_transport``). ``close_router``: close the router's fetcher (and so its spooled downloads) when the
    app shuts down.
    """
    return ProxyApp(
        settings if settings is not None else ProxySettings.from_env(),
        router=router,
        transport=transport,
        close_router=close_router,
    )


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
