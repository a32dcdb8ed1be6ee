"""The aiohttp client middleware (aiohttp >= 3.12)::

    aiohttp.ClientSession(middlewares=[router.AiohttpMiddleware(router.Router())])

The same one step as the httpx transports (check -> plan -> rewrite -> delegate), over :mod:`.core`. aiohttp hands
a middleware its own ``ClientRequest`` and expects a ``ClientResponse`` back, which only a connection can make: a
rejection is therefore raised as ``aiohttp.ClientResponseError`` (status 400, the router's message), the error
aiohttp itself raises for an HTTP error (``raise_for_status``), so one ``except`` clause serves both.
"""

from __future__ import annotations

import aiohttp
from aiohttp import ClientRequest, ClientResponse, payload
from aiohttp.abc import AbstractStreamWriter
from aiohttp.client_middlewares import ClientHandlerType
from multidict import CIMultiDict, CIMultiDictProxy

from .._model.body import Body
from .._rewrite.outgoing import Outgoing
from .._rewrite.pipeline import Router
from .core import Reply, aroute

__all__ = ["AiohttpMiddleware"]


class _Outgoing(payload.Payload):
    """The rewritten body as an aiohttp payload of known size: sent with its ``Content-Length``, never chunked,
    streamed from the spool chunk by chunk (each write waits for the socket to drain)."""

    _autoclose = True  # nothing to close: the spool belongs to the fetcher
    _value: Outgoing

    def __init__(self, outgoing: Outgoing) -> None:
        super().__init__(outgoing, content_type="application/json")
        self._size = outgoing.content_length

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        # `content_length` is the header set from `size`: the whole body always fits it
        async for chunk in self._value.aiter_bytes():
            await writer.write(chunk)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value.iter_bytes()).decode(encoding, errors)  # aiohttp never asks, when sending


class AiohttpMiddleware:
    """Routes the requests of an ``aiohttp.ClientSession`` through ``router``; responses are the session's own.

    ``aiohttp.ClientSession(middlewares=[AiohttpMiddleware(router)])`` (aiohttp >= 3.12). A rejected request never
    reaches the network: it raises ``aiohttp.ClientResponseError`` with status 400 and the router's message, the
    error ``raise_for_status()`` raises. Needs the ``aiohttp`` extra.
    """

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        async def read() -> Body | bytes:
            body = request.body  # a payload, or b"" when there is none
            return await body.as_bytes() if isinstance(body, payload.Payload) else body

        def header(name: str) -> str | None:
            if name.lower() == "content-encoding" and request.compress:
                return None  # aiohttp compresses when it writes (``compress=``): the body read here is plain
            return request.headers.get(name)

        decision = await aroute(self.router, request.method, request.url.path, read, header)
        if isinstance(decision, Reply):
            raise aiohttp.ClientResponseError(
                request.request_info,
                (),
                status=decision.status,
                message=decision.message,
                headers=CIMultiDictProxy(CIMultiDict(decision.headers)),
            )
        if decision is not None:
            headers = decision.headers(request.headers.items())
            request.headers.clear()
            request.headers.extend(headers)
            request.compress = None  # the rewritten body goes as the httpx transports send it: plain, exact length
            request.chunked = None
            await request.update_body(_Outgoing(decision.outgoing))
        return await handler(request)
