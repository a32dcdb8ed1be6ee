"""The ASGI basics the proxy's parts share: the message types, the answers the proxy gives itself (``Refusal``,
in OpenRouter's error shape, so SDKs raise their ordinary exceptions) and a request body read into a spool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._base.errors import BodyTooLarge
from .._model.body import Body
from .access import Record

__all__ = [
    "JSON",
    "Message",
    "Receive",
    "Refusal",
    "Scope",
    "Send",
    "answer",
    "error_body",
    "read_body",
    "respond",
    "retry_after",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = (b"content-type", b"application/json")


class Refusal(Exception):
    """An answer the proxy gives itself (never reaches the upstream)."""

    def __init__(
        self, status: int, message: str, *, outcome: str = "refused", headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self.status, self.message, self.outcome, self.headers = status, message, outcome, headers
        super().__init__(message)


def retry_after(seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", str(seconds).encode()),)


def error_body(status: int, message: str) -> bytes:
    """OpenRouter's error shape, so SDKs raise their ordinary exceptions for the proxy's own answers."""
    return json.dumps({"error": {"code": status, "message": message, "metadata": {}}}).encode()


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def answer(
    send: Send, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = (), *, close: bool = False
) -> None:
    extra = [(b"connection", b"close")] if close else []
    await respond(send, status, error_body(status, message), [JSON, *headers, *extra])


async def read_body(receive: Receive, limit: int, idle: float, record: Record) -> Body:
    """The request body, spooled; a client that sends nothing for ``idle`` seconds (0: never) gets a 408."""
    body = Body(max_bytes=limit)
    try:
        while True:
            try:
                async with asyncio.timeout(idle or None):  # between reads, like nginx's client_body_timeout
                    message = await receive()
            except TimeoutError:
                record.body_bytes = body.size
                raise Refusal(
                    408, f"router proxy: the request body stalled: nothing for {idle:g} s (--body-timeout)"
                ) from None
            if message["type"] == "http.disconnect":  # gone before the end of its body: nothing is forwarded
                raise Refusal(499, "the client left during its upload", outcome="cancelled")
            if chunk := message.get("body"):
                body.write(chunk)
            if not message.get("more_body"):
                record.body_bytes = body.size
                return body.finish()
    except BodyTooLarge as exc:
        body.close()
        raise Refusal(413, f"router proxy: {exc}") from None
    except BaseException:
        body.close()
        raise
