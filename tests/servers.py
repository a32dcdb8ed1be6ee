"""A real HTTP(S) media server on 127.0.0.1 for download tests: real clips, and every way a server misbehaves.

Routes (any route also takes ``delay=SECONDS`` to answer late, or ``gate=NAME`` to answer only once the test
opens ``server.gate()`` of that name, and ignores other query parameters, so a test can make its own URL with
``?case=name`` and count its own hits):

    /clip.<ext>            a clip with its proper Content-Type (mp4, mov, webm, mpeg, mkv)
    /octet.mp4             the mp4 as application/octet-stream
    /wrong-type.mp4        the mp4 as text/plain
    /page.mp4              an HTML page that claims to be video/mp4
    /notes.mp4             20 KB of plain text that claims to be video/mp4
    /image.png             a PNG image
    /status/<code>         that status, small text body
    /redirect?to=URL       302 to URL (``code=`` for another status)
    /chain/<n>             n redirects, then the mp4 (the query string is kept on every hop)
    /big?n=N               N bytes (the mp4, then padding), honest Content-Length
    /chunked?n=N           N bytes, chunked, no Content-Length
    /lying?n=N&claim=C     N bytes chunked, with a lying ``Content-Length: C`` beside it
    /eof?n=N               N bytes, no length at all: the body ends when the connection closes
    /short?n=N&claim=C     ``Content-Length: C`` but only N < C bytes, then the connection closes
    /drip?n=N&every=S      N bytes of the mp4, one every S seconds
    /stall?after=S         headers and a few bytes, then silence for S seconds
    /private.mp4           the mp4 for Basic credentials ``user:pa55`` only, 401 otherwise
    /files/<name>          bytes a test registered with ``serve_file(name, data, mime)``
    /gzip?n=N              the padded mp4 of N bytes, sent gzip-compressed (``Content-Encoding: gzip``)
"""

from __future__ import annotations

import base64
import gzip
import ssl
import struct
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mpeg": "video/mpeg",
    "mkv": "video/x-matroska",
}
_BLOCK = 64 * 1024
HTML = b"<!DOCTYPE html>\n<html><head><title>Video</title></head><body><video src='x.mp4'></video></body></html>\n"


def padded_mp4(clip: bytes, n: int) -> Iterator[bytes]:
    """The mp4 ``clip`` grown to ``n`` bytes with a trailing `free` box, still a whole video; in blocks."""
    if n < len(clip) + 8:
        yield clip[:n]
        return
    yield clip + struct.pack(">I4s", n - len(clip), b"free")
    zeros, left = bytes(_BLOCK), n - len(clip) - 8
    while left > 0:
        yield zeros[: min(left, _BLOCK)]
        left -= _BLOCK


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (grey pixels): an image is the classic wrong thing behind a video URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@contextmanager
def serving_tls(clips: Mapping[str, Path], directory: Path, hostname: str) -> Iterator[MediaServer]:
    """The media server over HTTPS, its certificate for ``hostname`` from a throwaway CA; ``.cafile`` trusts it."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(hostname).configure_cert(context)
    server = MediaServer(clips, tls=context).start()
    server.cafile = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(server.cafile))
    try:
        yield server
    finally:
        server.close()


class Gate:
    """Holds every request that names it (``?gate=NAME``) until the test calls ``open()``: a download the test can
    keep in flight for as long as it needs, instead of guessing with ``delay``. ``arrived`` is set when the first
    request is held. A gate never opened answers 504 after ``limit`` seconds, so a broken test fails, not hangs."""

    def __init__(self, name: str, limit: float) -> None:
        self.name, self.limit = name, limit
        self.arrived = threading.Event()
        self._opened = threading.Event()

    def open(self) -> None:
        self._opened.set()

    def hold(self) -> bool:
        """Called by the handler: wait for ``open()``; False when the limit ran out first."""
        self.arrived.set()
        return self._opened.wait(self.limit)


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-body is what half these routes are for: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


class MediaServer:
    """Serves ``clips`` (suffix -> file) from a background thread; counts requests per target (path + query)."""

    def __init__(self, clips: Mapping[str, Path], *, tls: ssl.SSLContext | None = None) -> None:
        self.clips = {suffix: path.read_bytes() for suffix, path in clips.items()}
        self.files: dict[str, tuple[bytes, str]] = {}  # name -> (bytes, Content-Type), for /files/<name>
        self.gates: dict[str, Gate] = {}  # name -> Gate, for ?gate=<name>
        self._counts: Counter[str] = Counter()
        self._hosts: defaultdict[str, list[str]] = defaultdict(list)
        self.sni: list[str | None] = []  # server names TLS clients asked for
        self.cafile: Path | None = None  # the certificate to trust, when serving TLS
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        if tls is not None:
            tls.sni_callback = self._record_sni
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="media-server", daemon=True)

    def start(self) -> MediaServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_file(self, name: str, data: bytes, mime: str = "video/mp4") -> str:
        """Serve ``data`` at ``/files/<name>`` from now on; returns that path."""
        self.files[name] = (data, mime)
        return f"/files/{name}"

    def gate(self, limit: float = 30) -> Gate:
        """A new closed gate; put ``gate=<its name>`` in a URL's query to have requests for it held."""
        with self._lock:
            name = f"gate{len(self.gates)}"
            gate = self.gates[name] = Gate(name, limit)
        return gate

    def url(self, target: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{target}"

    def hits(self, target: str) -> int:
        """How many requests asked for exactly this path and query."""
        with self._lock:
            return self._counts[target]

    def hosts(self, target: str) -> list[str]:
        """The Host headers the requests for this target carried."""
        with self._lock:
            return list(self._hosts[target])

    def _record(self, target: str, host: str) -> None:
        with self._lock:
            self._counts[target] += 1
            self._hosts[target].append(host)

    def _record_sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        self.sni.append(name)

    def padded(self, n: int) -> Iterator[bytes]:
        """``n`` bytes of a real, whole mp4: the clip, then a `free` box of zeros that pads it to ``n`` (a box
        players skip), in blocks (flat memory at 50 MB). Under the clip's own size, its first ``n`` bytes."""
        yield from padded_mp4(self.clips["mp4"], n)


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server._record(self.path, self.headers.get("Host", ""))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            time.sleep(float(query.get("delay", 0)))
            gate = server.gates.get(query.get("gate", ""))
            try:
                if gate is not None and not gate.hold():
                    self._send(504, b"the test never opened this gate\n", "text/plain")
                else:
                    self._route(parts.path, query)
            except (ConnectionError, ssl.SSLError):
                self.close_connection = True

        def _route(self, path: str, q: dict[str, str]) -> None:
            n = int(q.get("n", 0))
            name, _, suffix = path.lstrip("/").partition(".")
            if name == "clip" and suffix in server.clips:
                return self._send(200, server.clips[suffix], CONTENT_TYPES[suffix])
            if path.startswith("/files/") and path[len("/files/") :] in server.files:
                data, mime = server.files[path[len("/files/") :]]
                return self._send(200, data, mime)
            if path == "/private.mp4":
                if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:pa55").decode():
                    return self._send(401, b"who are you?\n", "text/plain")
                return self._send(200, server.clips["mp4"], "video/mp4")
            if path == "/octet.mp4":
                return self._send(200, server.clips["mp4"], "application/octet-stream")
            if path == "/wrong-type.mp4":
                return self._send(200, server.clips["mp4"], "text/plain")
            if path == "/notes.mp4":
                return self._send(200, b"meeting notes, not a video\n" * 800, "video/mp4")
            if path == "/page.mp4":
                return self._send(200, HTML, "video/mp4")
            if path == "/image.png":
                return self._send(200, png_bytes(), "image/png")
            if path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                return self._send(code, f"status {code}\n".encode(), "text/plain")
            if path == "/redirect":
                return self._redirect(q["to"], int(q.get("code", 302)))
            if path.startswith("/chain/"):  # the query rides along, so a test can count its own last hop
                left, tail = int(path.rsplit("/", 1)[1]), f"?{urlsplit(self.path).query}"
                return self._redirect(f"/chain/{left - 1}{tail}" if left > 1 else f"/clip.mp4{tail}", 302)
            if path == "/gzip":
                packed = gzip.compress(b"".join(server.padded(n)))
                return self._head(200, "video/mp4", length=len(packed), Content_Encoding="gzip") or self._raw(packed)
            if path == "/big":
                return self._stream(server.padded(n), length=n)
            if path == "/chunked":
                return self._chunked(server.padded(n))
            if path == "/lying":
                return self._chunked(server.padded(n), claim=int(q["claim"]))
            if path == "/eof":
                return self._stream(server.padded(n), length=None)
            if path == "/short":
                return self._stream(server.padded(n), length=int(q["claim"]))
            if path == "/drip":
                return self._drip(server.clips["mp4"][:n], float(q.get("every", 0.2)))
            if path == "/stall":
                self._head(200, "video/mp4", length=len(server.clips["mp4"]))
                self.wfile.write(server.clips["mp4"][:16])
                self.wfile.flush()
                time.sleep(float(q.get("after", 2)))
                self.close_connection = True
                return None
            return self._send(404, b"not found\n", "text/plain")

        def _head(self, code: int, content_type: str | None, *, length: int | None, **extra: str) -> None:
            self.send_response(code)
            if content_type:
                self.send_header("Content-Type", content_type)
            if length is not None:
                self.send_header("Content-Length", str(length))
            for key, value in extra.items():
                self.send_header(key.replace("_", "-"), value)
            self.end_headers()

        def _raw(self, body: bytes) -> None:
            self.wfile.write(body)

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self._head(code, content_type, length=len(body))
            self.wfile.write(body)

        def _redirect(self, location: str, code: int) -> None:
            self._head(code, "text/plain", length=0, Location=location)

        def _stream(self, blocks: Iterator[bytes], *, length: int | None) -> None:
            # Without a length (or when it lies) the body can only end with the connection.
            self._head(200, "video/mp4", length=length, Connection="close")
            self.close_connection = True
            for block in blocks:
                self.wfile.write(block)

        def _chunked(self, blocks: Iterator[bytes], *, claim: int | None = None) -> None:
            extra = {"Content_Length": str(claim)} if claim is not None else {}
            self._head(200, "application/octet-stream", length=None, Transfer_Encoding="chunked", **extra)
            for block in blocks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            self.wfile.write(b"0\r\n\r\n")

        def _drip(self, body: bytes, every: float) -> None:
            self._head(200, "video/mp4", length=len(body))
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(every)

    return Handler


class Sink:
    """A chat-completion endpoint that reads each body in 1 MiB pieces and keeps only its size and headers, so a
    test measuring a client's memory (tracemalloc sees every thread) counts the client's alone.

        with Sink() as sink:
            client.post(sink.chat_url, ...)
            [(size, headers)] = sink.received        # headers with lower-cased names
    """

    def __init__(self) -> None:
        self.received: list[tuple[int, dict[str, str]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                left, size = int(self.headers.get("Content-Length") or 0), 0
                while left > 0 and (piece := self.rfile.read(min(left, 1 << 20))):
                    size, left = size + len(piece), left - len(piece)
                received.append((size, {k.lower(): v for k, v in self.headers.items()}))
                body = b'{"choices": [{"message": {"role": "assistant", "content": "{}"}}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.chat_url = f"{self.origin}/api/v1/chat/completions"

    def __enter__(self) -> Sink:
        threading.Thread(target=self._httpd.serve_forever, name="sink", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
