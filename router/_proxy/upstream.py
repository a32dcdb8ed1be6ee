"""The upstream side: keep-alive connections, on aiohttp's client when it is installed, else on httpx's.

``upstream_transport`` picks: aiohttp's client (``aio.AiohttpPool``, in the ``serve`` extra) costs the proxy about
half what httpcore does per request; without aiohttp, or when the settings say ``httpx``
(``ROUTER_UPSTREAM_CLIENT=httpx``), it is ``UpstreamPool``: several small ``httpx.AsyncHTTPTransport`` pools.

httpcore's pool re-examines every connection it holds on each request, and for each idle one counts all idle
ones again: its bookkeeping grows with the square of the pool's size. One pool of 512 connections serves a
couple of hundred requests a second; pools of 8, chosen least busy first, keep that cost flat whatever
``max_upstream`` is. A request is counted against its pool until its response is closed (streams included),
so with the app's cap on requests in flight there is always a pool with a free connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

__all__ = ["PER_POOL", "UpstreamPool", "upstream_transport"]

PER_POOL = 8


class _Counted(httpx.AsyncByteStream):
    """A response stream that gives its pool's slot back when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: UpstreamPool, index: int) -> None:
        self._stream, self._pool, self._index = stream, pool, index
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._open:
                self._open = False
                self._pool.busy[self._index] -= 1


class UpstreamPool(httpx.AsyncBaseTransport):
    """``connections`` keep-alive connections to the upstream, ``PER_POOL`` to an ``httpx.AsyncHTTPTransport``."""

    def __init__(self, connections: int, *, keepalive_expiry: float = 60.0, per_pool: int = PER_POOL) -> None:
        count = max(1, -(-connections // per_pool))
        limits = httpx.Limits(
            max_connections=per_pool, max_keepalive_connections=per_pool, keepalive_expiry=keepalive_expiry
        )
        self.pools = [httpx.AsyncHTTPTransport(limits=limits) for _ in range(count)]
        self.busy = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self.busy)), key=self.busy.__getitem__)
        self.busy[index] += 1
        try:
            response = await self.pools[index].handle_async_request(request)
        except BaseException:
            self.busy[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Counted(response.stream, self, index)
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


def upstream_transport(
    connections: int, *, keepalive_expiry: float = 60.0, client: str = "auto"
) -> httpx.AsyncBaseTransport:
    """``connections`` keep-alive upstream connections: aiohttp's client if installed, else httpx's pools.

    ``client`` (``ProxySettings.upstream_client``): ``httpx`` keeps httpx's even when aiohttp is installed,
    ``aiohttp`` insists on aiohttp's.
    """
    if client != "httpx":
        try:
            from .aio import AiohttpPool
        except ImportError:
            if client == "aiohttp":
                raise ImportError("the aiohttp upstream client needs aiohttp: pip install 'router[serve]'") from None
        else:
            return AiohttpPool(connections, keepalive_expiry=keepalive_expiry)
    return UpstreamPool(connections, keepalive_expiry=keepalive_expiry)
