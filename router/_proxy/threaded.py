"""``ProxyServer``: a bound proxy to run in a thread (tests, notebooks, an app that embeds it), and
``make_server``, which builds one."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from .._rewrite.pipeline import Router
from .app import ProxyApp, create_app
from .server import DrainingServer, ServerOptions, bind, config_for, url_of
from .settings import ProxySettings, resolve_settings

__all__ = ["ProxyServer", "make_server"]


class ProxyServer:
    """A bound proxy that serves in a thread: ``start()``/``shutdown()``, or ``with make_server(...) as server``.

    ``url`` is where clients point (port 0 picks a free port); ``app`` is the ASGI app (settings, metrics).
    """

    def __init__(self, app: ProxyApp, sock: socket.socket, options: ServerOptions | None = None) -> None:
        self.app = app
        self.socket = sock
        self.options = options or ServerOptions()
        self._server = DrainingServer(config_for(app, self.options), app, self.options, ())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return url_of(self.socket)

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        return self.app.settings.base_url

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``shutdown()`` (from another thread)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.app.close()

    def start(self, timeout: float = 30) -> ProxyServer:
        """Serve in a daemon thread; returns once the listener is accepting."""
        self._thread = threading.Thread(target=self.serve_forever, name="router-proxy", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the router proxy did not start")
            time.sleep(0.01)
        return self

    def shutdown(self, *, drain_delay: float = 0, timeout: float | None = None) -> None:
        """Drain (in-flight requests get the grace period) and wait for the serving thread to end."""
        self._server.drain(drain_delay)
        if self._thread is not None:
            self._thread.join(timeout)

    def server_close(self) -> None:
        self.socket.close()

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def make_server(
    router: Router | None = None,
    host: str = "127.0.0.1",
    port: int = 8787,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    transport: Any = None,
    settings: ProxySettings | None = None,
    options: ServerOptions | None = None,
) -> ProxyServer:
    """A bound, not yet serving proxy (see ``ProxyServer``)."""
    settings = resolve_settings(settings, host, base_url=base_url, api_key=api_key)
    options = options or ServerOptions()
    app = create_app(settings, router=router, transport=transport)
    return ProxyServer(app, bind(host, port, options.backlog), options)
