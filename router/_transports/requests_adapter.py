"""The ``requests`` adapter: a ``requests.adapters.HTTPAdapter`` mounted on a Session for the OpenRouter prefix.

    session.mount("https://openrouter.ai/", router.RequestsAdapter(router.Router()))

The same one method as the httpx transports (check -> plan -> rewrite -> delegate), over :mod:`.core`: no
business logic lives here. A rewritten body goes to urllib3 as an iterable of chunks with an exact
``Content-Length``, which requests sends as is (never chunked) and urllib3 streams chunk by chunk.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .._model.body import CHUNK, Body
from .._rewrite.outgoing import Outgoing
from .._rewrite.pipeline import Router
from .core import Reply, route

__all__ = ["RequestsAdapter"]


class _Chunks:
    """A body urllib3 iterates: each iteration starts again from the first byte (a retry resends all of it)."""

    def __init__(self, source: Outgoing | Body) -> None:
        self._source = source

    def __iter__(self) -> Iterator[bytes]:
        return self._source.iter_bytes()


def _pieces(body: object) -> Iterator[bytes]:
    """The bytes of a streamed body (a file or an iterable), as urllib3 would send them (text as UTF-8)."""
    if hasattr(body, "read"):
        while piece := body.read(CHUNK):
            yield piece.encode() if isinstance(piece, str) else bytes(piece)
        return
    assert isinstance(body, Iterable)
    for piece in body:
        yield piece.encode() if isinstance(piece, str) else bytes(piece)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value  # as http.client sends a bytes value


def _collect(body: object) -> Body | bytes:
    """The request's body, held once: bytes as requests made them, a stream spooled (to disk past a megabyte)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    held = Body()
    for piece in _pieces(body):
        held.write(piece)
    return held.finish()


class RequestsAdapter(HTTPAdapter):
    """Routes requests through ``router``, then hands them to ``wrapped`` (by default, this ``HTTPAdapter`` itself).

    Mount it on the prefix the router should look at (``session.mount("https://openrouter.ai/", adapter)``); every
    other request of the session never sees it. A rejected request never reaches the network: it is answered here
    with a 400 ``requests.Response`` in OpenRouter's error shape, whose reason phrase is the router's message (so
    ``raise_for_status()`` carries it). Needs the ``requests`` extra.
    """

    def __init__(self, router: Router, wrapped: BaseAdapter | None = None) -> None:
        super().__init__()
        self.router = router
        self.wrapped = wrapped

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        held: list[Body | bytes] = []

        def read() -> Body | bytes:
            held.append(_collect(request.body))
            return held[0]

        def header(name: str) -> str | None:
            value = request.headers.get(name)
            return None if value is None else _text(value)

        path = urlsplit(request.url or "").path
        decision = route(self.router, request.method or "", path, read, header)
        if isinstance(decision, Reply):
            return self._reply(decision, request)
        sent = request
        if decision is not None:
            sent = request.copy()  # the caller's request is never changed
            sent.headers = CaseInsensitiveDict(decision.headers((k, _text(v)) for k, v in request.headers.items()))
            sent.body = _Chunks(decision.outgoing)
        elif held and isinstance(held[0], Body):  # a stream read here: the same bytes go out, framed as before
            sent = request.copy()
            sent.body = _Chunks(held[0])
        try:
            send = self.wrapped.send if self.wrapped is not None else super().send
            return send(sent, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        finally:
            if held and isinstance(held[0], Body):
                held[0].close()  # urllib3 has sent the whole body before it returns the response

    def _reply(self, reply: Reply, request: requests.PreparedRequest) -> requests.Response:
        """An answer made here (a rejection): a urllib3 response over the bytes, so ``stream=True``, ``.json()``
        and ``raise_for_status()`` behave as for any other; its reason phrase is the router's message."""
        headers = urllib3.HTTPHeaderDict([*reply.headers, ("Content-Length", str(len(reply.body)))])
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(reply.body),
            headers=headers,
            status=reply.status,
            reason=reply.message,
            preload_content=False,
            decode_content=False,
            request_url=request.url,
        )
        return self.build_response(request, raw)

    def close(self) -> None:
        if self.wrapped is not None:
            self.wrapped.close()
        super().close()
