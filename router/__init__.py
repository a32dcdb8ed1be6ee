"""router: make media inputs (video, audio, images, PDFs) to LLM chat-completion and Responses requests just work.

    import httpx, router
    r = router.Router()                       # bundled capability table
    report = r.check(payload)                 # Report: .diagnostics, .ok
    out = r.rewrite(payload)                  # new dict; raises router.RequestRejected
    client = httpx.Client(transport=router.RouterTransport(r))

Everything a user touches, and every type a public method returns, is importable from here; the parts behind
it are private packages (``router._model``, ``router._judgement``, ...) and may change. Public submodules:
``router.transport`` (the httpx and httpx2 transports, the requests adapter, the aiohttp middleware),
``router.serve`` (the proxy: ``create_app``, ``make_server``), ``router.litellm`` (the LiteLLM plugin),
``router.fit`` (remux, re-encode and cut a video to a budget, with the ``fit`` extra) and ``router.cli`` (the
``router`` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base.errors import (
    BlockedURL,
    BodyTooLarge,
    CapabilityError,
    FetchError,
    MediaTooLarge,
    NotAVideo,
    NotTheMedia,
    RequestRejected,
    RouterError,
    UnreachableURL,
)
from ._base.rules import RULES, Diagnostic, Rule
from ._base.version import __version__
from ._rewrite.outgoing import Inlined, Note, Outgoing, Refitted, Routed
from ._rewrite.pipeline import Router
from ._rewrite.prepared import Prepared, Report
from ._table.capabilities import CapabilityTable, Model, Provider
from ._table.load import load_table

if TYPE_CHECKING:
    from . import cli as cli  # re-exported lazily
    from . import fit as fit
    from . import litellm as litellm
    from . import serve as serve
    from . import transport as transport
    from ._fetch.fetcher import Fetcher, FetchStats, Media
    from ._model.body import Body
    from ._rewrite.inline import data_url_from_file
    from ._table.refresh import LiveTable, RefreshResult, refresh
    from ._table.remote import RefreshError, RefreshRefused
    from .transport import (
        AiohttpMiddleware,
        AsyncHttpx2RouterTransport,
        AsyncRouterTransport,
        BodyStream,
        Httpx2RouterTransport,
        RequestsAdapter,
        RouterTransport,
    )


__all__ = [
    "RULES",
    "AiohttpMiddleware",
    "AsyncHttpx2RouterTransport",
    "AsyncRouterTransport",
    "BlockedURL",
    "Body",
    "BodyStream",
    "BodyTooLarge",
    "CapabilityError",
    "CapabilityTable",
    "Diagnostic",
    "FetchError",
    "FetchStats",
    "Fetcher",
    "Httpx2RouterTransport",
    "Inlined",
    "LiveTable",
    "Media",
    "MediaTooLarge",
    "Model",
    "NotAVideo",
    "NotTheMedia",
    "Note",
    "Outgoing",
    "Prepared",
    "Provider",
    "Refitted",
    "RefreshError",
    "RefreshRefused",
    "RefreshResult",
    "Report",
    "RequestRejected",
    "RequestsAdapter",
    "Routed",
    "Router",
    "RouterError",
    "RouterTransport",
    "Rule",
    "UnreachableURL",
    "__version__",
    "data_url_from_file",
    "load_table",
    "refresh",
]

# Names whose modules pull in the HTTP machinery (httpx transports, the fetcher) or do I/O: imported on
# first use, so checking payloads never pays for them.
_LAZY = {
    "RouterTransport": "transport",
    "AsyncRouterTransport": "transport",
    "Httpx2RouterTransport": "transport",
    "AsyncHttpx2RouterTransport": "transport",
    "RequestsAdapter": "transport",
    "AiohttpMiddleware": "transport",
    "BodyStream": "transport",
    "Body": "_model.body",
    "Fetcher": "_fetch.fetcher",
    "FetchStats": "_fetch.fetcher",
    "Media": "_fetch.fetcher",
    "data_url_from_file": "_rewrite.inline",
    "LiveTable": "_table.refresh",
    "RefreshError": "_table.remote",
    "RefreshRefused": "_table.remote",
    "RefreshResult": "_table.refresh",
    "refresh": "_table.refresh",
}
_SUBMODULES = frozenset({"cli", "fit", "litellm", "serve", "transport"})


def __getattr__(name: str) -> Any:
    """Import the HTTP machinery on first use: checking payloads never pays for it."""
    from importlib import import_module

    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:  # `router.serve.make_server(...)` after a plain `import router`
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'router' has no attribute {name!r}")
