"""router: make video inputs to LLM chat-completion requests just work.

import httpx, router
r = router.Router()                       # bundled capability table
report = r.check(payload)                 # Report: .diagnostics, .ok
out = r.rewrite(payload)                  # new dict; raises router.RequestRejected
client = httpx.Client(transport=router.RouterTransport(r))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BlockedURL,
    CapabilityError,
    FetchError,
    MediaTooLarge,
    NotAVideo,
    RequestRejected,
    RouterError,
    UnreachableURL,
)
from .pipeline import Report, Router
from .rules import RULES, Diagnostic, Rule

if TYPE_CHECKING:
    from .fetch import Fetcher, Media
    from .inline import data_url_from_file
    from .transport import AsyncHttpx2RouterTransport, AsyncRouterTransport, Httpx2RouterTransport, RouterTransport

# The one place the version lives (pyproject reads it): importlib.metadata would cost 40 ms at import.
__version__ = "0.1.0"

__all__ = [
    "RULES",
    "AsyncHttpx2RouterTransport",
    "AsyncRouterTransport",
    "BlockedURL",
    "CapabilityError",
    "Diagnostic",
    "FetchError",
    "Fetcher",
    "Httpx2RouterTransport",
    "Media",
    "MediaTooLarge",
    "NotAVideo",
    "Report",
    "RequestRejected",
    "Router",
    "RouterError",
    "RouterTransport",
    "Rule",
    "UnreachableURL",
    "__version__",
    "data_url_from_file",
]

_LAZY = {
    "RouterTransport": "transport",
    "AsyncRouterTransport": "transport",
    "Httpx2RouterTransport": "transport",
    "AsyncHttpx2RouterTransport": "transport",
    "Fetcher": "fetch",
    "Media": "fetch",
    "data_url_from_file": "inline",
}


_SUBMODULES = frozenset({"serve", "transport", "fetch", "inline"})


def __getattr__(name: str) -> Any:
    """Import the HTTP machinery on first use: checking payloads never pays for it."""
    from importlib import import_module

    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:  # `router.serve.make_server(...)` after a plain `import router`
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'router' has no attribute {name!r}")
