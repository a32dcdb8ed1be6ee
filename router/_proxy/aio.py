"""The upstream leg on aiohttp's client (optional: ``pip install 'router[serve]'``), behind httpx's transport API.

Per request, aiohttp's HTTP/1.1 client costs the proxy about half what httpcore does (a C parser, one pool
without per-request bookkeeping over every connection, no anyio layer), so ``upstream_transport`` picks it when
it is installed. What httpx's transport did is kept: the request goes as the proxy built it (no headers added:
no User-Agent, Accept or Accept-Encoding of aiohttp's, no cookie jar, no redirects, no decompression; the URL
as httpx holds it, never requoted; header values byte for byte, and one that is not UTF-8, which aiohttp cannot
write, goes through httpx's own transport), answers with heads as large as httpcore reads (100 KiB) are taken,
the answer comes back as it arrives (each chunk as soon as it is read: SSE events are not held back), a
cancelled request closes its connection, and aiohttp's errors become httpx's, without the URL aiohttp's texts
carry (``forward.py`` answers 502/503/504 from them).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
import yarl

__all__ = ["AiohttpPool"]

_SKIP = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})  # added only when absent: never
_HEAD = 100 * 1024  # an answer's head: httpcore reads up to 100 KiB; aiohttp's defaults are 8 KiB a line


def _why(exc: aiohttp.ClientError | OSError) -> str:
    """What went wrong, without the request URL that aiohttp's texts carry (it may hold a query string)."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.message or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno  # asyncio's strerror names the address
        return os.strerror(errno) if errno else type(exc.os_error).__name__
    return str(exc) or type(exc).__name__


@contextmanager
def _mapped(read: bool) -> Iterator[None]:
    """aiohttp's exceptions as httpx's (most specific first: several aiohttp errors subclass others)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout("timed out connecting to the upstream") from exc
    except aiohttp.ServerTimeoutError as exc:  # sock_read: no byte for `read` seconds
        raise httpx.ReadTimeout("timed out reading from the upstream") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(_why(exc)) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(_why(exc)) from exc  # a broken or malformed answer
    except (aiohttp.ClientError, OSError) as exc:
        raise (httpx.ReadError if read else httpx.WriteError)(_why(exc)) from exc


class _Stream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(read=True):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # An answer not read to its end closes its connection (aiohttp does not reuse it), else it is pooled.
        self._response.release()


class AiohttpPool(httpx.AsyncBaseTransport):
    """``connections`` keep-alive HTTP/1.1 connections in one aiohttp connector (made on first use, in the loop)."""

    def __init__(self, connections: int, *, keepalive_expiry: float = 60.0) -> None:
        self._connections, self._keepalive = connections, keepalive_expiry
        self._ssl = httpx.create_ssl_context()  # the same certificates as httpx.AsyncHTTPTransport
        self._session: aiohttp.ClientSession | None = None
        self._plain: httpx.AsyncHTTPTransport | None = None  # for a header value that is not UTF-8 (rare)

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._connections, limit_per_host=0, keepalive_timeout=self._keepalive, ssl=self._ssl
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_SKIP,
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=_HEAD,
            max_field_size=_HEAD,
            max_headers=_HEAD // 4,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # As built, in order, duplicates kept; a chunked body is framed by aiohttp (it chunks a body of no length).
        try:
            headers = [
                (k.decode("ascii"), v.decode("utf-8"))
                for k, v in request.headers.raw
                if k.lower() != b"transfer-encoding"
            ]
        except UnicodeDecodeError:  # aiohttp writes str headers as UTF-8: these bytes go through httpx as they are
            if self._plain is None:
                self._plain = httpx.AsyncHTTPTransport(limits=httpx.Limits(keepalive_expiry=self._keepalive))
            return await self._plain.handle_async_request(request)
        session = self._session
        if session is None:
            session = self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        with _mapped(read=False):
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # as httpx holds it: aiohttp would requote it
                headers=headers,
                data=stream,
                allow_redirects=False,
                compress=None,
                chunked=None,
                # No bound on the wait for a free connection: the app's upstream slots (as many as the connector
                # has) bound it, and aiohttp would report it as a connect timeout, a misleading 504.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Stream(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._plain is not None:
            await self._plain.aclose()
