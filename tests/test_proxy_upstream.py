"""The upstream leg's transports on the wire: aiohttp's client (``AiohttpPool``) sends what httpx's did, and
answers with httpx's exceptions; ``upstream_transport`` picks it, or httpx's pools without it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from router._proxy.aio import AiohttpPool
from router._proxy.settings import ProxySettings
from router._proxy.upstream import UpstreamPool, upstream_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
RAW = [(b"content-type", b"application/json"), (b"x-dup", b"1"), (b"x-dup", b"2"), (b"host", b"example.org")]


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def _head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def _request(origin: str, body: bytes = b"abcd") -> httpx.Request:
    headers = [*RAW, (b"content-length", str(len(body)).encode())]
    return httpx.Request("POST", f"{origin}/api/v1/chat?x=1", headers=headers, content=body)


def _recorder(seen: list[bytes], answer: bytes) -> Handler:
    """A keep-alive upstream that records each request (head and body) and gives each the same answer."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                seen.append(await _head(reader))
            except asyncio.IncompleteReadError:
                return
            writer.write(answer)

    return handler


async def _dead_origin() -> str:
    """An origin on a port nothing listens on any more: connecting is refused."""
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    origin = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    listener.close()
    await listener.wait_closed()
    return origin


BOTH = pytest.mark.parametrize("make", [lambda: AiohttpPool(4), lambda: UpstreamPool(4)], ids=["aiohttp", "httpx"])


@BOTH
async def test_the_request_goes_as_built_and_no_cookie_comes_back(make: Callable[[], httpx.AsyncBaseTransport]) -> None:
    """The same bytes from both clients: headers in order, duplicates kept, none added, no cookie jar."""
    seen: list[bytes] = []
    handler = _recorder(seen, b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok")
    transport = make()
    async with _server(handler) as origin:
        for _ in range(2):
            response = await transport.handle_async_request(_request(origin))
            assert b"".join([c async for c in response.stream]) == b"ok"  # type: ignore[union-attr]
            await response.aclose()
            assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    await transport.aclose()
    expected = (
        b"POST /api/v1/chat?x=1 HTTP/1.1\r\nhost: example.org\r\ncontent-type: application/json\r\n"
        b"x-dup: 1\r\nx-dup: 2\r\ncontent-length: 4\r\n\r\nabcd"
    )
    assert seen == [expected, expected]


async def test_aiohttp_relays_each_chunk_as_it_arrives() -> None:
    """An SSE answer is not held back: the first event is read while the upstream still holds the second."""
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"8\r\ndata: 1\n\r\n")
        await release.wait()
        writer.write(b"8\r\ndata: 2\n\r\n0\r\n\r\n")

    transport = AiohttpPool(4)
    async with _server(handler) as origin:
        response = await transport.handle_async_request(_request(origin))
        chunks = response.stream.__aiter__()  # type: ignore[union-attr]
        assert await asyncio.wait_for(chunks.__anext__(), 5) == b"data: 1\n"
        release.set()
        assert await asyncio.wait_for(chunks.__anext__(), 5) == b"data: 2\n"
        await response.aclose()
    await transport.aclose()


async def test_aiohttp_errors_are_httpx_errors() -> None:
    """forward.py answers 502/504 from httpx's exceptions: aiohttp's are mapped onto them."""
    transport = AiohttpPool(4)
    dead = await _dead_origin()
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(_request(dead))

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.close()

    async with _server(hang_up) as origin:
        with pytest.raises(httpx.RemoteProtocolError):
            await transport.handle_async_request(_request(origin))

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        await asyncio.sleep(5)

    async with _server(silent) as origin:
        request = _request(origin)
        request.extensions["timeout"] = {"connect": 5, "read": 0.2, "write": 5, "pool": 5}
        with pytest.raises(httpx.ReadTimeout):
            await transport.handle_async_request(request)
    await transport.aclose()


def test_upstream_transport_prefers_aiohttp_and_can_be_told() -> None:
    assert isinstance(upstream_transport(8), AiohttpPool)
    assert isinstance(upstream_transport(8, client="aiohttp"), AiohttpPool)
    assert isinstance(upstream_transport(8, client="httpx"), UpstreamPool)


def test_the_upstream_client_is_a_setting() -> None:
    """ROUTER_UPSTREAM_CLIENT is read with the other settings; a wrong value is refused, naming it."""
    assert ProxySettings.from_env({}).upstream_client == "auto"
    assert ProxySettings.from_env({"ROUTER_UPSTREAM_CLIENT": " HTTPX "}).upstream_client == "httpx"
    with pytest.raises(ValueError, match="ROUTER_UPSTREAM_CLIENT"):
        ProxySettings.from_env({"ROUTER_UPSTREAM_CLIENT": "curl"})


def test_upstream_transport_falls_back_to_httpx_without_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "router._proxy.aio", None)  # as if aiohttp were not installed
    assert isinstance(upstream_transport(8), UpstreamPool)
    with pytest.raises(ImportError, match="aiohttp"):
        upstream_transport(8, client="aiohttp")


async def test_aiohttp_verifies_the_upstream_certificate(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """HTTPS with httpx's certificates (SSL_CERT_FILE honoured as by httpx); an unknown CA is a ConnectError."""
    import ssl

    import trustme

    ca = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(served)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await _head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=served)
    origin = f"https://localhost:{server.sockets[0].getsockname()[1]}"
    try:
        with pytest.raises(httpx.ConnectError):  # the system's and certifi's roots do not know this CA
            await AiohttpPool(2).handle_async_request(_request(origin))
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        transport = AiohttpPool(2)
        response = await transport.handle_async_request(_request(origin))
        assert response.status_code == 200
        await response.aread()
        await response.aclose()
        await transport.aclose()
    finally:
        server.close()


@BOTH
async def test_url_and_header_bytes_arrive_as_sent(make: Callable[[], httpx.AsyncBaseTransport]) -> None:
    """No requoting of the URL (``%2F`` stays, ``%7E`` is not ``~``), and header values byte for byte: UTF-8
    (OpenRouter's X-Title holds app names) and a Latin-1 byte alike."""
    seen: list[bytes] = []
    handler = _recorder(seen, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    transport = make()
    target = "/api/v1/%7Euser/chat?a=%7Ex&b=%2b&e=%e2%82%ac&h=[1]&i=%2F"
    values = ["Café ☕".encode(), b"Caf\xe9"]
    async with _server(handler) as origin:
        for value in values:
            headers = [(b"host", b"example.org"), (b"x-title", value), (b"content-length", b"0")]
            request = httpx.Request("POST", httpx.URL(origin + target), headers=headers, content=b"")
            response = await transport.handle_async_request(request)
            await response.aread()
            await response.aclose()
    await transport.aclose()
    assert len(seen) == 2
    for head, value in zip(seen, values, strict=True):
        assert head.startswith(f"POST {target} HTTP/1.1\r\n".encode())
        assert b"\r\nx-title: " + value + b"\r\n" in head


@BOTH
@pytest.mark.parametrize(
    "head",
    [b"x-big: " + b"a" * 10_000, b"\r\n".join(b"x-%d: %d" % (i, i) for i in range(150))],
    ids=["a 10 kB header", "150 headers"],
)
async def test_large_answer_heads_are_read(make: Callable[[], httpx.AsyncBaseTransport], head: bytes) -> None:
    """An answer whose head httpcore reads is read by aiohttp too (its defaults: 8 KiB a line, 128 headers)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    transport = make()
    async with _server(handler) as origin:
        response = await transport.handle_async_request(_request(origin))
        assert await response.aread() == b"ok"
        await response.aclose()
    await transport.aclose()
    assert len(response.headers) >= head.count(b"\r\n") + 2


async def test_aiohttp_error_texts_do_not_show_the_url() -> None:
    """A malformed answer and a refused connection: the texts (which reach the client in a 502) say what went
    wrong without the request's URL and query string."""
    transport = AiohttpPool(4)

    async def malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nbroken header line\r\n\r\n")
        await writer.drain()

    async with _server(malformed) as origin:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await transport.handle_async_request(_request(origin))
    dead = await _dead_origin()
    with pytest.raises(httpx.ConnectError) as refused:
        await transport.handle_async_request(_request(dead))
    await transport.aclose()
    for text in (str(caught.value), str(refused.value)):
        assert text
        assert "x=1" not in text
        assert "127.0.0.1" not in text


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_an_answer_with_both_lengths_reaches_the_client_whole(client: str) -> None:
    """An upstream answer with Transfer-Encoding and a Content-Length its body does not match: the proxy relays
    the body the chunked coding frames, without the stale Content-Length, or answers 502; never a broken
    response."""
    from router import Router
    from router.serve import make_server

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        await writer.drain()

    settings = ProxySettings(upstream_client=client)
    async with _server(handler) as origin:
        with make_server(Router(), "127.0.0.1", 0, origin + "/api/v1", api_key="", settings=settings) as server:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.post(server.url + "/api/v1/chat/completions", json={"model": "m", "messages": []})
    assert (response.status_code, response.content) in {(200, b"ok"), (502, response.content)}
    if response.status_code == 200:
        assert "content-length" not in response.headers
