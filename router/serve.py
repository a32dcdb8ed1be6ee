"""``router serve``: an OpenAI-compatible proxy, so a client in any language gets video routing by pointing its
base URL at ``http://127.0.0.1:8787/api/v1`` (or ``/v1``). Needs the ``serve`` extra (``pip install
'router[serve]'``: uvicorn, httptools, prometheus-client).

The proxy is plumbing: each request goes through ``AsyncRouterTransport`` (check, route, inline, or a 400
made here) and the answer is relayed as it arrives. Three ways to run it::

    router serve --workers 4                                  # the command: uvicorn underneath, drain on SIGTERM
    uvicorn 'router.serve:create_app' --factory               # your own server; settings from the environment
    with router.serve.make_server(router.Router(), port=0) as server:   # in a thread: tests, notebooks
        client = openai.OpenAI(base_url=server.url + "/api/v1")

The pieces live in ``router/_proxy/`` (settings, guard, metrics, app, server, supervisor, threaded).
"""

from __future__ import annotations

from ._proxy.serve import (
    DEFAULT_BASE_URL,
    LOOPBACK_HOSTS,
    PREFIXES,
    ProxyApp,
    ProxyServer,
    ProxySettings,
    ServerOptions,
    create_app,
    error_body,
    is_loopback,
    make_server,
    parse_size,
    serve,
)

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
