"""The upstream leg of one proxied request: a slot, the router transport, the answer relayed as it arrives.

While the request is upstream its client is watched: if it disconnects, the task is cancelled at once, whether
or not the upstream has sent a byte, so a model stops thinking (and billing) for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from .access import Record
from .asgi import Receive, Refusal, Scope, Send, retry_after
from .metrics import Metrics
from .settings import ProxySettings

__all__ = ["HOP_BY_HOP", "Forwarder"]


log = logging.getLogger("router")

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1): never forwarded either way.
HOP_BY_HOP = frozenset(
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
_RESPONSE_DROP = HOP_BY_HOP | {b"date"}  # the server dates the answer it sends (one Date header, not two)


@dataclass(slots=True)
class Watch:
    """Shared between a forwarding task and the watcher of its client's connection."""

    done: bool = False
    gone: bool = False


class Forwarder:
    """Sends requests upstream through the router transport, at most ``max_upstream`` at a time."""

    def __init__(self, settings: ProxySettings, metrics: Metrics, transport: httpx.AsyncBaseTransport) -> None:
        self.settings = settings
        self.metrics = metrics
        self.transport = transport
        self.slots = asyncio.Semaphore(settings.max_upstream)

    async def forward(self, scope: Scope, receive: Receive, send: Send, request: httpx.Request, record: Record) -> None:
        """Send upstream under a slot, relay the answer, and cancel everything if the client disconnects."""
        task = asyncio.current_task()
        assert task is not None
        watch = Watch()
        watcher = asyncio.ensure_future(_watch_client(receive, task, watch))
        response: httpx.Response | None = None
        try:
            try:
                async with asyncio.timeout(self.settings.queue_timeout):
                    await self.slots.acquire()
            except TimeoutError:
                raise Refusal(
                    503,
                    f"router proxy: all {self.settings.max_upstream} upstream slots are busy (--max-upstream); "
                    "retry shortly",
                    outcome="overloaded",
                    headers=retry_after(1),
                ) from None
            self.metrics.upstream_in_flight.inc()
            try:
                sent = time.perf_counter()
                response = await self._send(request)
                _note_outcome(record, response)
                if record.outcome != "rejected":  # a rejection is answered here: no upstream latency to count
                    record.upstream_s = time.perf_counter() - sent
                    self.metrics.upstream_latency.observe(record.upstream_s)
                await self._relay(scope, send, response, watch, record)
            finally:
                self.metrics.upstream_in_flight.dec()
                self.slots.release()
        except asyncio.CancelledError:
            if not watch.gone:
                raise  # the server is stopping: not ours to swallow
            task.uncancel()
            raise Refusal(499, "the client disconnected", outcome="cancelled") from None
        finally:
            watch.done = True
            watcher.cancel()
            if response is not None:
                with contextlib.suppress(Exception):
                    await response.aclose()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.transport.handle_async_request(request)
        except httpx.PoolTimeout:  # the local pool, not the upstream: never a misleading 504
            message = "router proxy: no upstream connection is free; retry shortly"
            raise Refusal(503, message, outcome="overloaded", headers=retry_after(1)) from None
        except httpx.TimeoutException as exc:
            message = f"router proxy: the upstream timed out ({type(exc).__name__})"
            raise Refusal(504, message, outcome="failed") from None
        except httpx.TransportError as exc:
            message = f"router proxy: cannot reach the upstream: {exc or type(exc).__name__}"
            raise Refusal(502, message, outcome="failed") from None
        except Exception as exc:  # a bug must still answer the client, not hang it
            log.exception("router proxy: internal error")
            raise Refusal(500, f"router proxy: internal error: {type(exc).__name__}", outcome="failed") from None

    async def _relay(self, scope: Scope, send: Send, response: httpx.Response, watch: Watch, record: Record) -> None:
        """Status, headers, then the body chunk by chunk as the upstream sends it (never buffered)."""
        record.status = response.status_code
        headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _RESPONSE_DROP]
        if "transfer-encoding" in response.headers:  # it overrides a Content-Length the body will not match
            headers = [(k, v) for k, v in headers if k != b"content-length"]
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


async def _watch_client(receive: Receive, task: asyncio.Task[None], watch: Watch) -> None:
    """Wait for the client to disconnect; then cancel the request's task, wherever it is."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if not watch.done:
        watch.gone = True
        task.cancel()


async def _once(data: bytes) -> Any:
    yield data


def _note_outcome(record: Record, response: httpx.Response) -> None:
    outcome = response.extensions.get("router")
    if outcome is not None:
        record.outcome = outcome.action
        record.rules = outcome.rules
        record.inlined_bytes = outcome.inlined_bytes
