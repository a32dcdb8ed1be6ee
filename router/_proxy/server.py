"""The proxy app on uvicorn: what uvicorn lacks is added in small named parts.

- ``HeaderTimeoutProtocol``: uvicorn's httptools protocol plus a deadline for a request's head (from the
  connection, or from a keep-alive request's first byte, to the end of its headers: 408, then close) and a
  cap on its size (431). Without it a client sending its headers a byte a second holds a connection forever.
- ``DrainingServer``: on SIGTERM or SIGINT readiness turns 503 at once; after ``drain_delay`` the listener
  closes, idle connections close, requests and streams in flight get ``grace_period`` to finish; then the
  app shuts down (upstream pool, the fetcher's spool) and the process exits 0. A second signal cuts short.
- ``run``: one process serving the app on a bound socket (``bind``), with the ``router`` loggers set up by
  ``configure_logging``; ``supervisor`` runs several, ``threaded`` runs one in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

import uvicorn

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError as exc:  # pragma: no cover - httptools is part of the serve extra
    raise ImportError("router serve needs httptools: pip install 'router[serve]'") from exc

from .app import ProxyApp
from .asgi import error_body

__all__ = [
    "DrainingServer",
    "HeaderTimeoutProtocol",
    "ServerOptions",
    "bind",
    "config_for",
    "configure_logging",
    "run",
    "url_of",
]

log = logging.getLogger("router")
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerOptions:
    """How the server around the app behaves; every default is the safe one."""

    workers: int = 1
    backlog: int = 2048  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
    header_timeout: float = 10.0  # seconds for a request's head to arrive in full
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open (raise it behind an LB)
    grace_period: float = 30.0  # seconds in-flight requests get after the listener closes
    drain_delay: float = 0.0  # seconds between the stop signal and closing the listener (readiness is 503)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size cap on each request's head."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout: float = getattr(config, "header_timeout", ServerOptions.header_timeout)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def _arm(self) -> None:
        if self._header_timer is None and self._header_timeout > 0:
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(self._header_timeout, self._refuse, 408, "headers too slow")

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and says nothing is timed too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a keep-alive connection: its head gets the same time

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        pending = self._header_timer is not None
        if pending:
            self._header_bytes += len(data)
        super().data_received(data)
        if pending and self._header_timer is not None and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(431, f"request head over {MAX_HEADER_BYTES} bytes")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _refuse(self, status: int, reason: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # nothing else is being answered here
            body = error_body(status, f"router proxy: {reason}")
            head = (
                f"HTTP/1.1 {status} {'Request Timeout' if status == 408 else 'Request Header Fields Too Large'}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a readiness-first drain and no re-raised signal: a clean stop exits 0."""

    def __init__(
        self,
        config: uvicorn.Config,
        app: ProxyApp,
        options: ServerOptions,
        signals: tuple[int, ...],
        early: list[int] | None = None,
    ) -> None:
        super().__init__(config)
        self.app = app
        self.options = options
        self.signals = signals
        self.early = early if early is not None else []  # stop signals that came while starting up
        self.drain_started: float | None = None
        self._delay = 0.0

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread() or not self.signals:
            yield
            return
        original = {sig: signal.signal(sig, self._on_signal) for sig in self.signals}
        for _ in self.early[:2]:
            self.drain()
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.drain()

    def drain(self, delay: float | None = None) -> None:
        """Begin the drain (thread- and signal-safe); called again, stop now."""
        if self.drain_started is not None:
            self.force_exit = self.should_exit = True
            return
        self.drain_started = time.monotonic()
        self.app.begin_drain()
        self._delay = self.options.drain_delay if delay is None else delay
        if self._delay <= 0:
            self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", []):
            server.close()  # stop accepting first, then say so: a reader of the log can rely on it
        busy = len(self.server_state.tasks)
        log.info(
            "router proxy: stopped accepting; %d request(s) in flight get up to %g s", busy, self.options.grace_period
        )
        await super().shutdown(sockets)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_started is not None and time.monotonic() >= self.drain_started + self._delay:
            self.should_exit = True
        return await super().on_tick(counter)


def tune_malloc() -> None:
    """glibc: allocations of 256 KiB and more (video chunks in flight) come from mmap and go back to the system
    when freed, and at most two arenas: the server's resident size follows what it holds, not its history.

    Without it glibc raises its mmap threshold after the first large free, keeps later megabyte chunks on the
    heap and the process keeps their high-water mark. Only for processes ``router serve`` owns.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD (setting it also fixes it: no dynamic raise)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        pass


def config_for(app: ProxyApp, options: ServerOptions) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        http=HeaderTimeoutProtocol,
        # The standard loop, not uvloop. Under uvloop a socket that anyio (httpx) resumes reads up to 32 times
        # 256 KiB before anyio can pause it again, so each download buffers up to 8 MiB: 32 concurrent 60 MB
        # inlines held 158 MiB of Python objects on uvloop and 23 MiB on asyncio. uvloop's text throughput is
        # about 15 % higher here; bounded memory under video load matters more for this proxy.
        loop="asyncio",
        interface="asgi3",
        lifespan="on",
        ws="none",
        access_log=False,  # the app writes its own access log, without query strings or keys
        log_config=None,
        proxy_headers=False,
        server_header=False,
        backlog=options.backlog,
        timeout_keep_alive=options.keep_alive_timeout,  # type: ignore[arg-type]  # a float works (call_later)
        timeout_graceful_shutdown=options.grace_period,  # type: ignore[arg-type]
    )
    config.header_timeout = options.header_timeout  # type: ignore[attr-defined]  # read by HeaderTimeoutProtocol
    return config


def bind(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, bound once (workers share it).

    Its protocol is spelled out: asyncio turns Nagle's algorithm off only on connections whose socket says
    ``IPPROTO_TCP``, and ``socket.create_server`` leaves it 0. With Nagle on, a response's body waited for
    the client's delayed ACK of its headers: 44 ms per request on a kept-alive connection.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host.strip("[]"), port), family=family, backlog=backlog)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=listener.detach())
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}"


def run(
    app: ProxyApp, sock: socket.socket, options: ServerOptions, signals: tuple[int, ...], early: list[int] | None = None
) -> None:
    """Serve ``app`` on ``sock`` in this process until drained; the app's resources are released on every path.

    ``early``: stop signals already received (by a handler the caller installed while starting up).
    """
    tune_malloc()
    server = DrainingServer(config_for(app, options), app, options, signals, early)
    try:
        server.run(sockets=[sock])
    finally:
        app.close()


def configure_logging(stream: IO[str], verbose: bool = True) -> logging.Handler:
    """The ``router`` loggers (what was routed, one access line per request) and uvicorn's warnings to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    for name, level in (("router", logging.INFO if verbose else logging.WARNING), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler
