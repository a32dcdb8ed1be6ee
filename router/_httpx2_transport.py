"""The httpx2 twins of the httpx transports: the same core, adapted to httpx2's classes.

    import httpx2, openai
    from router.transport import Httpx2RouterTransport
    client = openai.OpenAI(http_client=httpx2.Client(transport=Httpx2RouterTransport(router.Router())))

Imported lazily by ``router.transport``: httpx2 is an optional dependency (``pip install 'router[httpx2]'``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2

from ._transport_core import EXTENSION, Reply, aroute, outcome, require, route
from .body import Body
from .pipeline import Router
from .rewrite import Outgoing

__all__ = ["AsyncHttpx2RouterTransport", "Httpx2RouterTransport"]


class _Body(httpx2.SyncByteStream):
    def __init__(self, outgoing: Outgoing) -> None:
        self._outgoing = outgoing

    def __iter__(self) -> Iterator[bytes]:
        return self._outgoing.iter_bytes()


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(self, outgoing: Outgoing) -> None:
        self._outgoing = outgoing

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._outgoing.aiter_bytes()


async def _abody(request: httpx2.Request) -> Body:
    return Body.of(await request.aread())


class Httpx2RouterTransport(httpx2.BaseTransport):
    """Routes requests through ``router``, then hands them to ``wrapped`` (``httpx2.HTTPTransport()``)."""

    def __init__(self, router: Router, wrapped: httpx2.BaseTransport | None = None) -> None:
        self.router = router
        self.wrapped = wrapped if wrapped is not None else httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        require(request, httpx2.Request, "RouterTransport")
        encoding = request.headers.get("content-encoding")
        decision = route(self.router, request.method, request.url.path, lambda: Body.of(request.read()), encoding)
        if decision is None:
            response = self.wrapped.handle_request(request)
        elif isinstance(decision, Reply):
            reply = decision
            response = httpx2.Response(reply.status, headers=reply.headers, content=reply.body, request=request)
        else:
            headers = decision.headers(request.headers.multi_items())
            body = _Body(decision.outgoing)
            response = self.wrapped.handle_request(
                httpx2.Request(request.method, request.url, headers=headers, stream=body, extensions=request.extensions)
            )
        response.extensions[EXTENSION] = outcome(decision)
        return response

    def close(self) -> None:
        self.wrapped.close()


class AsyncHttpx2RouterTransport(httpx2.AsyncBaseTransport):
    """Async twin of ``Httpx2RouterTransport``: downloads run on the event loop, never blocking it."""

    def __init__(self, router: Router, wrapped: httpx2.AsyncBaseTransport | None = None) -> None:
        self.router = router
        self.wrapped = wrapped if wrapped is not None else httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        require(request, httpx2.Request, "AsyncRouterTransport")
        encoding = request.headers.get("content-encoding")
        decision = await aroute(self.router, request.method, request.url.path, lambda: _abody(request), encoding)
        if decision is None:
            response = await self.wrapped.handle_async_request(request)
        elif isinstance(decision, Reply):
            reply = decision
            response = httpx2.Response(reply.status, headers=reply.headers, content=reply.body, request=request)
        else:
            headers = decision.headers(request.headers.multi_items())
            body = _AsyncBody(decision.outgoing)
            response = await self.wrapped.handle_async_request(
                httpx2.Request(request.method, request.url, headers=headers, stream=body, extensions=request.extensions)
            )
        response.extensions[EXTENSION] = outcome(decision)
        return response

    async def aclose(self) -> None:
        await self.wrapped.aclose()
