"""Loopback servers for the benchmarks, each run in its own process so its memory and CPU are not the client's.

    python bench/servers.py media DIR   # GET /NAME serves DIR/NAME (type by suffix, Content-Length, sendfile)
    python bench/servers.py sink        # POST: reads the body in 1 MiB chunks, discards it, checks its length
    python bench/servers.py chat        # POST: a canned chat completion, as fast as asyncio answers
                                        # ("stream": true: 50 SSE events, one a millisecond)

Each prints ``READY <port>`` on its first line once it listens, then serves until killed.

The sink answers 200 with ``{"received": N, "content_length": N}`` in the completion's content when the
body had exactly its declared length (400 otherwise; 411 for a body without ``Content-Length``). With an
``X-Bench-Verify: <sha256>`` header it also keeps the body, decodes its one media part strictly (a video data URL,
or an ``input_audio`` part's bare base64 with ``"format": "wav"``) and checks the bytes' sha256: the correctness
check behind the figures.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def _completion(content: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": "gen-bench",
            "object": "chat.completion",
            "created": 0,
            "model": "bench",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(content)}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Media(_Quiet):
    root: Path

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/").split("?", 1)[0]
        if "/" in self.path.lstrip("/") or not path.is_file():
            self._answer(404, b"not found", "text/plain")
            return
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        with path.open("rb") as fh:
            self.connection.sendfile(fh)


_TYPES = {".mp4": "video/mp4", ".wav": "audio/wav", ".jpg": "image/jpeg"}


class _Sink(_Quiet):
    def do_POST(self) -> None:
        if "content-length" not in self.headers:
            self._answer(411, _completion({"error": "no Content-Length"}))
            self.close_connection = True
            return
        declared = int(self.headers["content-length"])
        expected = self.headers.get("x-bench-verify")
        kept = bytearray() if expected else None
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        received = 0
        while received < declared:
            n = self.rfile.readinto(view[: min(CHUNK, declared - received)])
            if not n:
                break
            received += n
            if kept is not None:
                kept += view[:n]
        result: dict[str, Any] = {"received": received, "content_length": declared}
        if kept is not None:
            result["verified"] = _verify(bytes(kept), expected or "")
        ok = received == declared and result.get("verified", True) is True
        self._answer(200 if ok else 400, _completion(result))


def _verify(body: bytes, expected_sha256: str) -> bool | str:
    """True when the one media part decodes (strictly) to the expected bytes: a video/mp4 data URL, or
    ``input_audio`` with bare base64 and ``"format": "wav"``."""
    request = json.loads(body)
    parts = [
        part
        for message in request["messages"]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if part.get("type") in ("video_url", "input_video", "input_audio")
    ]
    if len(parts) != 1:
        return f"expected one media part, found {len(parts)}"
    (part,) = parts
    if part["type"] == "input_audio":
        if part["input_audio"].get("format") != "wav":
            return f"expected format wav, found {part['input_audio'].get('format')!r}"
        encoded = part["input_audio"]["data"]
    elif part["video_url"]["url"].startswith("data:video/mp4;base64,"):
        encoded = part["video_url"]["url"].partition(",")[2]
    else:
        return f"expected a video/mp4 data URL, found {part['video_url']['url'][:40]!r}"
    data = base64.b64decode(encoded, validate=True)
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        return "the decoded media is not the served file"
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


# -- the chat server: a minimal HTTP/1.1 keep-alive responder on asyncio -------------------------------------

_REPLY = _completion({"ok": True})
_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_REPLY) + _REPLY


_SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_SSE_EVENTS = 50
_SSE_EVENT = (
    b"data: "
    + json.dumps({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "word "}}]}).encode()
    + b"\n\n"
)


class _Chat(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            if b'"stream": true' in body or b'"stream":true' in body:
                self._stream()
            else:
                self.transport.write(_RESPONSE)

    def _stream(self) -> None:
        """50 SSE events, one a millisecond (a buffering proxy shows as a late first event), then [DONE]."""
        self.transport.write(_SSE_HEAD)
        loop = asyncio.get_running_loop()
        for number in range(_SSE_EVENTS):
            loop.call_later(number / 1000, self._event, _SSE_EVENT)
        loop.call_later(_SSE_EVENTS / 1000, self._event, b"data: [DONE]\n\n", True)

    def _event(self, data: bytes, last: bool = False) -> None:
        if not self.transport.is_closing():
            self.transport.write(b"%x\r\n%s\r\n%s" % (len(data), data, b"0\r\n\r\n" if last else b""))


async def _serve_chat() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Chat, "127.0.0.1", 0)
    _ready(server.sockets[0].getsockname()[1])
    await server.serve_forever()


def _ready(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The least an ASGI app can do for a chat request: read the body, answer the canned completion."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_REPLY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _REPLY})


async def _serve_hello() -> None:
    """uvicorn as `router serve` runs it (httptools, the asyncio loop), around an app that does nothing: the
    ceiling of any proxy built on it, measured beside the proxy."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_hello, loop="asyncio", http="httptools", lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    _ready(sock.getsockname()[1])
    await server.main_loop()


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "chat":
        asyncio.run(_serve_chat())
        return
    if kind == "hello":
        asyncio.run(_serve_hello())
        return
    if kind == "media":
        handler = type("Media", (_Media,), {"root": Path(argv[1]).resolve()})
    elif kind == "sink":
        handler = _Sink
    else:
        raise SystemExit(f"unknown server {kind!r}: media DIR | sink | chat | hello")
    server = _Server(("127.0.0.1", 0), handler)
    _ready(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
