"""The httpx transports. This file is the source: ``httpx2_transport.py`` is generated from it for httpx2
(``python scripts/gen_twins.py``; CI runs it with ``--check``), so the two pairs cannot drift apart.

Like httpx's ``MockTransport``, each transport is one method: check -> plan -> rewrite -> delegate to
``wrapped``. No business logic lives here (see ``core``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

from .._model.body import Body
from .._rewrite.outgoing import Outgoing
from .._rewrite.pipeline import Router
from .core import EXTENSION, Reply, aroute, outcome, require, route

__all__ = ["AsyncRouterTransport", "BodyStream", "RouterTransport"]


class BodyStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A request body already collected into a ``Body`` (the proxy's spool): the transports read it from
    there instead of collecting it again, and a pass-through streams it out of the spool."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return self.body.iter_bytes()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.body.iter_bytes():
            yield chunk


class _Body(httpx.SyncByteStream):
    def __init__(self, outgoing: Outgoing) -> None:
        self._outgoing = outgoing

    def __iter__(self) -> Iterator[bytes]:
        return self._outgoing.iter_bytes()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, outgoing: Outgoing) -> None:
        self._outgoing = outgoing

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._outgoing.aiter_bytes()


def _reply(reply: Reply, request: httpx.Request) -> httpx.Response:
    """An answer made here (a rejection): the request never reaches the network."""
    return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)


def _body(request: httpx.Request) -> Body | bytes:
    """The request's body, once: from the proxy's spool when it came in one, else as the client built it."""
    return request.stream.body if isinstance(request.stream, BodyStream) else request.read()


async def _abody(request: httpx.Request) -> Body | bytes:
    return request.stream.body if isinstance(request.stream, BodyStream) else await request.aread()


class RouterTransport(httpx.BaseTransport):
    """Routes requests through ``router``, then hands them to ``wrapped`` (``httpx.HTTPTransport()``)."""

    def __init__(self, router: Router, wrapped: httpx.BaseTransport | None = None) -> None:
        self.router = router
        self.wrapped = wrapped if wrapped is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        require(request, httpx.Request, "Httpx2RouterTransport")
        decision = route(self.router, request.method, request.url.path, lambda: _body(request), request.headers.get)
        if decision is None:
            response = self.wrapped.handle_request(request)
        elif isinstance(decision, Reply):
            response = _reply(decision, request)
        else:
            headers = decision.headers(request.headers.multi_items())
            body = _Body(decision.outgoing)
            response = self.wrapped.handle_request(
                httpx.Request(request.method, request.url, headers=headers, stream=body, extensions=request.extensions)
            )
        response.extensions[EXTENSION] = outcome(decision)
        return response

    def close(self) -> None:
        self.wrapped.close()


class AsyncRouterTransport(httpx.AsyncBaseTransport):
    """Async twin of ``RouterTransport``: downloads run on the event loop, never blocking it."""

    def __init__(self, router: Router, wrapped: httpx.AsyncBaseTransport | None = None) -> None:
        self.router = router
        self.wrapped = wrapped if wrapped is not None else httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        require(request, httpx.Request, "AsyncHttpx2RouterTransport")
        decision = await aroute(
            self.router, request.method, request.url.path, lambda: _abody(request), request.headers.get
        )
        if decision is None:
            response = await self.wrapped.handle_async_request(request)
        elif isinstance(decision, Reply):
            response = _reply(decision, request)
        else:
            headers = decision.headers(request.headers.multi_items())
            body = _AsyncBody(decision.outgoing)
            response = await self.wrapped.handle_async_request(
                httpx.Request(request.method, request.url, headers=headers, stream=body, extensions=request.extensions)
            )
        response.extensions[EXTENSION] = outcome(decision)
        return response

    async def aclose(self) -> None:
        await self.wrapped.aclose()
