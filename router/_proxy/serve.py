"""``serve()``, the process around the proxy app (bind, signals, workers, logging): the public face is
:mod:`router.serve`."""

from __future__ import annotations

import logging
import signal
import sys
import textwrap
from typing import IO

from .._rewrite.pipeline import Router
from .app import ProxyApp, create_app
from .asgi import error_body
from .guard import PREFIXES
from .server import ServerOptions, bind, configure_logging, run, url_of
from .settings import DEFAULT_BASE_URL, LOOPBACK_HOSTS, ProxySettings, is_loopback, parse_size, resolve_settings
from .supervisor import supervise
from .threaded import ProxyServer, make_server

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
            err.write(_open_warning(url_of(sock).removeprefix("http://"), settings.lend_key_to_network))
        if settings.catalogue()[0] != settings.base_url:
            err.write(_catalogue_note(settings, router))
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


def _open_warning(where: str, lent: bool) -> str:
    """The start-up warning for a listener beyond loopback without an access token, at its bound address."""
    if lent:
        text = (
            f"listening on {where} (beyond this machine) with no access token and --lend-key-to-network: anyone "
            "who can reach this port uses the proxy, and the operator's OPENROUTER_API_KEY for every request "
            "without its own key. Set ROUTER_ACCESS_TOKEN (or --access-token), or listen on 127.0.0.1."
        )
    else:
        text = (
            f"listening on {where} (beyond this machine) with no access token: anyone who can reach this port "
            "uses the proxy. Protected mode: the operator's OPENROUTER_API_KEY is added only to requests from "
            "this machine (loopback); a request from elsewhere must bring its own key or gets a 401. To lend "
            "the key to other machines, set ROUTER_ACCESS_TOKEN (or --access-token) and give them the token; "
            "on a trusted network, --lend-key-to-network (ROUTER_LEND_KEY_TO_NETWORK=1) lends it to anyone."
        )
    lines = textwrap.wrap(text, 100)
    rule = "*" * 100
    return "".join(f"router: WARNING {line}\n" for line in (rule, *lines, rule))


def _catalogue_note(settings: ProxySettings, router: Router | None) -> str:
    """One line: behind an upstream that is not OpenRouter, the model data stays OpenRouter's and is not refreshed."""
    from .._base.rules import shorten

    snapshot = router.table.snapshot if router is not None else None
    data = snapshot.describe() if snapshot is not None else "the bundled snapshot, or the catalogue cached for it"
    return (
        f"router: model data: OpenRouter's ({data}); not refreshed from {shorten(settings.base_url)}, which is not "
        "OpenRouter (--refresh-catalogue or ROUTER_REFRESH_CATALOGUE=1 reads the catalogue from there)\n"
    )
