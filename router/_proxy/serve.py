"""``serve()``, the process around the proxy app (bind, signals, workers, logging): the public face is
:mod:`router.serve`."""

from __future__ import annotations

import logging
import signal
import sys
from typing import IO

from .._rewrite.pipeline import Router
from .app import ProxyApp, create_app, error_body
from .guard import PREFIXES
from .server import (
    ProxyServer,
    ServerOptions,
    bind,
    configure_logging,
    make_server,
    resolve_settings,
    run,
    supervise,
    url_of,
)
from .settings import DEFAULT_BASE_URL, LOOPBACK_HOSTS, ProxySettings, is_loopback, parse_size

__all__ = [
    "DEFAULT_BASE_URL",
    "LOOPBACK_HOSTS",
    "PREFIXES",
    "ProxyApp",
    "ProxyServer",
    "ProxySettings",
    "ServerOptions",
    "create_app",
    "error_body",
    "is_loopback",
    "make_server",
    "parse_size",
    "serve",
]


def serve(
    router: Router | None = None,
    host: str = "127.0.0.1",
    port: int = 8787,
    base_url: str | None = None,
    out: IO[str] | None = None,
    *,
    settings: ProxySettings | None = None,
    options: ServerOptions | None = None,
    api_key: str | None = None,
    log: IO[str] | None = None,
) -> int:
    """Run the proxy in this process (``options.workers`` > 1: a supervisor and worker processes) until
    SIGTERM or SIGINT, drain it, and return exit status 0.

    ``router`` is used by a single process; workers load their own from ``settings.capabilities``.
    """
    out = out if out is not None else sys.stdout
    err = log if log is not None else sys.stderr
    settings = resolve_settings(settings, host, base_url=base_url, api_key=api_key)
    options = options or ServerOptions()
    early: list[int] = []  # a stop signal while starting up is kept, then honoured: never a kill mid-start
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda sig, frame: early.append(sig)) for sig in stops}
    try:
        sock = bind(host, port, options.backlog)
    except BaseException:
        for sig, before in previous.items():
            signal.signal(sig, before)
        raise
    handler = configure_logging(err)
    try:
        out.write(f"router proxy on {url_of(sock)} -> {settings.base_url}\n")
        out.flush()
        if not is_loopback(host) and settings.access_token is None:
            err.write(_OPEN_WARNING.format(host=host, port=port))
            err.flush()
        if options.workers > 1:
            status = supervise(settings, options, sock, early=early)
        else:
            run(create_app(settings, router=router), sock, options, stops, early)
            status = 0
    finally:
        sock.close()
        for sig, previous_handler in previous.items():
            signal.signal(sig, previous_handler)
        for name in ("router", "uvicorn.error"):
            logging.getLogger(name).removeHandler(handler)
    out.write("router proxy stopped\n")
    out.flush()
    return status


_OPEN_WARNING = """\
router: WARNING ***************************************************************************************
router: WARNING listening on {host}:{port} (beyond this machine) with no access token: anyone who can reach
router: WARNING this port uses the proxy, and the operator's OPENROUTER_API_KEY for every request without
router: WARNING its own key. Set ROUTER_ACCESS_TOKEN (or --access-token), or listen on 127.0.0.1.
router: WARNING ***************************************************************************************
"""
