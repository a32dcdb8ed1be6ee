"""What a download flow asks for (``Op``: resolve, send, read, wait) and the two drivers that perform it, blocking
and asyncio: the only code that differs between ``fetch`` and ``afetch``.

A flow (``download.Downloader.run``) is a generator: it *yields* each op and is sent the result (or thrown the
error), so the policy lives once and the drivers hold none of it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import socket
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx

from .._base.redact import redacted, short_url
from .spool import Media

__all__ = ["Flow", "Op", "Read", "Resolve", "Resolver", "Send", "Wait", "adrive", "drive", "system_resolver"]

Resolver: TypeAlias = Callable[[str, int], list[str]]


@dataclass(slots=True)
class Resolve:
    host: str
    port: int
    timeout: float
    resolver: Resolver


def _shown(request: httpx.Request) -> str:
    return f"<Request({request.method!r}, {short_url(request.url)})>"  # httpx's shows user:password@


@redacted(request=_shown)
@dataclass(slots=True)
class Send:
    request: httpx.Request
    timeout: float


@dataclass(slots=True)
class Read:
    timeout: float


@dataclass(slots=True)
class Wait:
    future: concurrent.futures.Future[Media]
    timeout: float


Op: TypeAlias = Resolve | Send | Read | Wait
Flow: TypeAlias = Generator[Op, Any, Media]


def drive(flow: Flow, transport: Callable[[], httpx.HTTPTransport]) -> Media:
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
                if isinstance(op, Read):
                    value = next(chunks, b"")
                elif isinstance(op, Send):
                    if response is not None:
                        response.close()
                        response = None
                    response = transport().handle_request(op.request)
                    chunks, value = response.iter_bytes(), response
                elif isinstance(op, Resolve):
                    # getaddrinfo has no timeout of its own: wait for it in a worker, up to the deadline.
                    value = _dns_pool().submit(op.resolver, op.host, op.port).result(op.timeout)
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


async def adrive(flow: Flow, options: dict[str, Any]) -> Media:
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
                    if isinstance(op, Read):
                        assert chunks is not None
                        value = await anext(chunks, b"")
                    elif isinstance(op, Send):
                        if response is not None:
                            await response.aclose()
                            response = None
                        # Per call: an async transport belongs to one event loop, and callers may bring several.
                        transport = transport or httpx.AsyncHTTPTransport(**options)
                        response = await transport.handle_async_request(op.request)
                        chunks, value = response.aiter_bytes(), response
                    elif isinstance(op, Resolve):
                        loop = asyncio.get_running_loop()
                        value = await loop.run_in_executor(_dns_pool(), op.resolver, op.host, op.port)
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


@functools.cache
def _dns_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="router-dns")


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
