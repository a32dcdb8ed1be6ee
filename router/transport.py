"""Transports that route every chat-completion request through a ``Router``: httpx, httpx2, requests, aiohttp.

    client = httpx.Client(transport=router.RouterTransport(router.Router()))
    aclient = httpx.AsyncClient(transport=router.AsyncRouterTransport(router.Router()))

Like httpx's ``MockTransport``, each is one method: check -> plan -> rewrite -> delegate to ``wrapped``.
Requests without video go through untouched and unparsed; a rejected request is answered here with an
OpenRouter-shaped 400 and never reaches the network; responses (streams included) pass through untouched.

The same pair for ``httpx2`` (what ``openai`` 3.x is built on), and the same work for ``requests`` and ``aiohttp``
clients, each when its library is installed::

    from router.transport import Httpx2RouterTransport, AsyncHttpx2RouterTransport
    session.mount("https://openrouter.ai/", router.RequestsAdapter(r))        # requests.Session
    aiohttp.ClientSession(middlewares=[router.AiohttpMiddleware(r)])           # aiohttp >= 3.12
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._transports.httpx_transport import AsyncRouterTransport, BodyStream, RouterTransport

if TYPE_CHECKING:
    from ._transports.aiohttp_middleware import AiohttpMiddleware
    from ._transports.httpx2_transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport
    from ._transports.requests_adapter import RequestsAdapter

__all__ = [
    "AiohttpMiddleware",
    "AsyncHttpx2RouterTransport",
    "AsyncRouterTransport",
    "BodyStream",
    "Httpx2RouterTransport",
    "RequestsAdapter",
    "RouterTransport",
]

# name -> (module under router._transports, the libraries it needs, the extra that installs them)
_OPTIONAL = {
    "Httpx2RouterTransport": ("httpx2_transport", ("httpx2", "httpcore2"), "httpx2"),
    "AsyncHttpx2RouterTransport": ("httpx2_transport", ("httpx2", "httpcore2"), "httpx2"),
    "RequestsAdapter": ("requests_adapter", ("requests", "urllib3"), "requests"),
    "AiohttpMiddleware": ("aiohttp_middleware", ("aiohttp",), "aiohttp"),
}


def __getattr__(name: str) -> Any:
    """The transports for optional libraries are imported on first use, so those libraries stay optional."""
    if name not in _OPTIONAL:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, libraries, extra = _OPTIONAL[name]
    try:
        found = import_module(f"._transports.{module}", __package__)
    except ModuleNotFoundError as exc:
        if exc.name not in libraries:
            raise
        raise ImportError(
            f"router.transport.{name} needs {libraries[0]}, which is not installed: pip install 'router[{extra}]'"
        ) from exc
    return getattr(found, name)
