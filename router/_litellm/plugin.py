"""The LiteLLM callback (needs the ``litellm`` extra): the public face, and how to register it, is
:mod:`router.litellm`."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

try:
    from fastapi import HTTPException
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.llms.custom_httpx.http_handler import HTTPHandler
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f"router.litellm needs LiteLLM's proxy ({exc}): pip install 'router[litellm]'") from exc

from .._base.errors import RequestRejected
from .._base.rules import Diagnostic
from .._rewrite.pipeline import Router
from .._transports.httpx_transport import RouterTransport
from .core import OPENROUTER_HOSTS, rejection, route, settings_from_env

__all__ = ["VideoRequestRejected", "VideoRouterCallback", "callback"]


# mypy skips fastapi and litellm (pyproject: the default CI run has neither), so their classes are `Any` to it.
class VideoRequestRejected(HTTPException, RequestRejected):  # type: ignore[misc]
    """The router refused the request: an HTTP 400 to LiteLLM's proxy, a ``router.RequestRejected`` to Python.

    ``detail`` is the error object of the transports' answer, ``{"code": 400, "message", "metadata": {"rule",
    "pointer", "reasons", "diagnostics"}}``; the proxy sends it back as the error's ``provider_specific_fields``,
    with the message as ``error.message`` and the first error's JSON pointer as ``error.param``.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        RequestRejected.__init__(self, diagnostics)
        error = rejection(diagnostics)
        pointer = error["metadata"].get("pointer")
        self.param = pointer if isinstance(pointer, str) and pointer else None  # LiteLLM reports it as error.param
        HTTPException.__init__(self, status_code=400, detail=error, headers={"X-Should-Retry": "false"})

    def __str__(self) -> str:
        return RequestRejected.__str__(self)


class VideoRouterCallback(CustomLogger):  # type: ignore[misc]  # see VideoRequestRejected
    """Checks, routes and inlines the video parts of chat completions and Responses API calls bound for OpenRouter
    deployments.

    ``openrouter_hosts``: an OpenAI-compatible deployment whose ``api_base`` is on one of these hosts counts as
    OpenRouter's too. Requests to other deployments, and requests without video parts, are left alone.
    """

    def __init__(self, router: Router | None = None, *, openrouter_hosts: Iterable[str] = OPENROUTER_HOSTS) -> None:
        super().__init__()
        self.router = router if router is not None else Router()
        self.openrouter_hosts = tuple(openrouter_hosts)
        self._sync_client: HTTPHandler | None = None
        self._sync_lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VideoRouterCallback:
        """A callback whose router is configured by ``ROUTER_CAPABILITIES`` and ``ROUTER_ALLOW_PRIVATE_URLS``."""
        return cls(Router(**settings_from_env(os.environ if environ is None else environ)))

    def sync_client(self) -> HTTPHandler:
        """LiteLLM's HTTP client with this router in it, for ``client=`` on synchronous calls to OpenRouter.

        ``litellm.completion`` and ``litellm.responses`` run no hook that can change or refuse the request (see
        ``router/_litellm/core.py``), so the router sits where those calls send it: a ``RouterTransport`` under the
        ``HTTPHandler`` LiteLLM posts with. It sees the body OpenRouter would get (``extra_body`` merged in) and
        answers a rejection with the transports' 400, which LiteLLM raises as ``litellm.BadRequestError``. One
        client per callback, made on first use; pass it to OpenRouter deployments only (it judges every chat
        completion and Responses call it carries as OpenRouter's).
        """
        with self._sync_lock:
            if self._sync_client is None:
                self._sync_client = HTTPHandler(client=httpx.Client(transport=RouterTransport(self.router)))
            return self._sync_client

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        """LiteLLM's hook after the deployment is chosen: ``None`` (untouched), new kwargs, or a 400."""
        name = getattr(call_type, "value", call_type)  # a litellm CallTypes member, or None
        try:
            return await route(self.router, kwargs, name if isinstance(name, str) else None, self.openrouter_hosts)
        except RequestRejected as exc:
            raise VideoRequestRejected(exc.diagnostics) from None


callback: VideoRouterCallback  # declared for readers and type checkers; made by __getattr__ below
_made: VideoRouterCallback | None = None
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``router.litellm.callback``: made from the environment when LiteLLM first asks for it, then shared."""
    global _made
    if name != "callback":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if _made is None:
            _made = VideoRouterCallback.from_env()
        return _made
