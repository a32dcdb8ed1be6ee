"""``router serve``: a local OpenAI-compatible proxy, so a client in any language gets video routing by
pointing its base URL at ``http://127.0.0.1:8787/api/v1`` (or ``/v1``).

The proxy is plumbing only: it forwards each request through ``RouterTransport``, which checks, rewrites
or answers 400, and relays the answer back byte for byte as it arrives (server-sent events included).
Standard library HTTP server, one thread per connection; no business logic lives here.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

import httpx

from .dispatch import TIMEOUT
from .pipeline import Router

__all__ = ["PREFIXES", "ProxyServer", "make_server", "serve"]

PREFIXES = ("/api/v1", "/v1")  # OpenRouter's own path, and the one OpenAI-style clients assume

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1), plus the ones the proxy
# recomputes for the leg it sends: never forwarded in either direction.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_REQUEST_DROP = _HOP_BY_HOP | {"host", "content-length", "expect"}
_NO_BODY = frozenset({204, 304})


def error_body(status: int, message: str) -> bytes:
    """An OpenRouter-shaped error, so SDKs raise their ordinary exceptions for the proxy's own failures."""
    return json.dumps({"error": {"code": status, "message": message, "metadata": {}}}).encode()


class ProxyServer(ThreadingHTTPServer):
    """The listening proxy. ``url`` is where clients point (port 0 picks a free port)."""

    daemon_threads = True  # Ctrl-C never waits for a slow upstream answer

    def __init__(
        self,
        router: Router,
        host: str,
        port: int,
        base_url: str,
        *,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        log: IO[str] | None = None,
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.log = log
        if transport is None:
            from .transport import RouterTransport  # deferred: the transport pulls in the fetcher

            transport = RouterTransport(router)
        self.client = httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}"

    def server_close(self) -> None:
        super().server_close()
        self.client.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that resets its connection is routine for a proxy, not a traceback on the operator's log."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming back to the client
    disable_nagle_algorithm = True  # each SSE chunk leaves at once, not after the client's delayed ACK
    server: ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Only errors, on the server's log: one line per request is written by ``_log``; headers (keys) never."""

    def log_error(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log.write((format % args).rstrip("\n") + "\n")

    def _log(self, status: int) -> None:
        if self.server.log is not None:
            self.server.log.write(f"{self.command} {self.path.split('?', 1)[0]} -> {status}\n")
            self.server.log.flush()

    # -- request ---------------------------------------------------------------------------------------

    def _target(self) -> str | None:
        for prefix in PREFIXES:
            if self.path == prefix or self.path.startswith((prefix + "/", prefix + "?")):
                return self.server.base_url + self.path[len(prefix) :]
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            raise ValueError(length)
        return self.rfile.read(int(length))

    def _forward_headers(self) -> list[tuple[str, str]]:
        listed = {t.strip().lower() for v in self.headers.get_all("Connection", []) for t in v.split(",")}
        headers = [
            (k, v) for k, v in self.headers.items() if k.lower() not in _REQUEST_DROP and k.lower() not in listed
        ]
        names = {k.lower() for k, _ in headers}
        if "authorization" not in names and self.server.api_key:
            headers.append(("Authorization", f"Bearer {self.server.api_key}"))
        if "accept-encoding" not in names:
            headers.append(("Accept-Encoding", "identity"))  # the client asked for no compression
        return headers

    def _proxy(self) -> None:
        target = self._target()
        try:
            body = self._read_body()
        except ValueError:  # a Content-Length or chunk size that is not a number
            self.close_connection = True  # the rest of the stream cannot be framed
            return self._fail(400, "router proxy: the request body's framing is invalid")
        if target is None:
            where = " or ".join(f"{self.server.url}{p}" for p in PREFIXES)
            return self._fail(404, f"router proxy: no route for {self.path.split('?', 1)[0]}; use {where}")
        client = self.server.client
        try:
            request = client.build_request(self.command, target, headers=self._forward_headers(), content=body)
            response = client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            return self._fail(504, f"router proxy: the upstream timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return self._fail(502, f"router proxy: cannot reach the upstream: {exc or type(exc).__name__}")
        except Exception as exc:  # a bug must still answer the client, not hang it
            self.log_error("router proxy: %s", traceback.format_exc())
            return self._fail(500, f"router proxy: internal error: {type(exc).__name__}: {exc}")
        try:
            self._relay(response)
        finally:
            response.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _proxy

    # -- response --------------------------------------------------------------------------------------

    def _fail(self, status: int, message: str) -> None:
        body = error_body(status, message)
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status)

    def _relay(self, response: httpx.Response) -> None:
        """Status, headers, then the body chunk by chunk as the upstream sends it (never buffered)."""
        status = response.status_code
        self.send_response_only(status, response.reason_phrase)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        has_body = self.command != "HEAD" and status not in _NO_BODY and status >= 200
        chunked = has_body and "content-length" not in response.headers
        if chunked and self.request_version == "HTTP/1.0":  # no chunked coding in 1.0: the close ends the body
            chunked, self.close_connection = False, True
            self.send_header("Connection", "close")
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._log(status)
        if not has_body:
            return
        # A response the transport built itself (a rejection) arrives already read; the network's streams.
        chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
        try:
            for chunk in chunks:
                if chunked and chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif chunk:
                    self.wfile.write(chunk)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except httpx.TransportError:
            self.close_connection = True  # the upstream broke off: end without the last chunk, so it shows
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: stop reading the upstream


def make_server(
    router: Router,
    host: str = "127.0.0.1",
    port: int = 8787,
    base_url: str = "https://openrouter.ai/api/v1",
    *,
    api_key: str | None = None,
    transport: httpx.BaseTransport | None = None,
    log: IO[str] | None = None,
) -> ProxyServer:
    """A bound, not yet serving proxy; ``api_key`` (default ``$OPENROUTER_API_KEY``) is used only for clients
    that send no ``Authorization`` of their own."""
    key = api_key if api_key is not None else os.environ.get("OPENROUTER_API_KEY") or None
    return ProxyServer(router, host, port, base_url, api_key=key, transport=transport, log=log)


def serve(
    router: Router,
    host: str = "127.0.0.1",
    port: int = 8787,
    base_url: str = "https://openrouter.ai/api/v1",
    out: IO[str] | None = None,
    ready: Callable[[ProxyServer], None] | None = None,
    *,
    api_key: str | None = None,
    log: IO[str] | None = None,
) -> int:
    """Run the proxy until Ctrl-C (or ``server.shutdown()`` from ``ready``'s thread); return exit status 0."""
    out = out if out is not None else sys.stdout
    log = log if log is not None else sys.stderr
    server = make_server(router, host, port, base_url, api_key=api_key, log=log)
    # What router did to each video request goes to the proxy's log, next to its one line per request.
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("router: %(message)s"))
    logger = logging.getLogger("router")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        out.write(f"router proxy on {server.url} -> {server.base_url}\n")
        out.flush()
        if ready is not None:
            ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        out.write("router proxy stopped\n")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        server.server_close()
    return 0
