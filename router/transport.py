"""httpx transports that route every chat-completion request through a ``Router``.

    client = httpx.Client(transport=router.RouterTransport(router.Router()))
    aclient = httpx.AsyncClient(transport=router.AsyncRouterTransport(router.Router()))

Like httpx's ``MockTransport``, each is one method: check -> plan -> rewrite -> delegate to ``wrapped``.
Requests without video go through untouched and unparsed; a rejected request is answered here with an
OpenRouter-shaped 400 and never reaches the network; responses (streams included) pass through untouched.

The same pair for ``httpx2`` (what ``openai`` 3.x is built on), when it is installed::

    from router.transport import Httpx2RouterTransport, AsyncHttpx2RouterTransport
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._transports.httpx_transport import AsyncRouterTransport, BodyStream, RouterTransport

if TYPE_CHECKING:
    from ._transports.httpx2_transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport

__all__ = [
    "AsyncHttpx2RouterTransport",
    "AsyncRouterTransport",
    "BodyStream",
    "Httpx2RouterTransport",
    "RouterTransport",
]


def __getattr__(name: str) -> Any:
    """The httpx2 pair is imported on first use, so httpx2 stays optional."""
    if name in ("Httpx2RouterTransport", "AsyncHttpx2RouterTransport"):
        try:
            from ._transports import httpx2_transport as _httpx2_transport
        except ModuleNotFoundError as exc:
            if exc.name not in ("httpx2", "httpcore2"):
                raise
            raise ImportError(
                f"router.transport.{name} needs httpx2, which is not installed: pip install 'router[httpx2]'"
            ) from exc
        return getattr(_httpx2_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
