"""A LiteLLM callback: video requests to OpenRouter deployments are checked, routed and inlined by router
(chat completions and the Responses API).

Register it in the LiteLLM proxy's ``config.yaml`` (``pip install 'router[litellm]'``)::

    litellm_settings:
      callbacks: router.litellm.callback

``callback`` is made on first use from the environment: ``ROUTER_CAPABILITIES`` (tables layered over the bundled
one, separated like ``PATH``) and ``ROUTER_ALLOW_PRIVATE_URLS`` (``1`` to fetch from private and loopback
addresses while developing). For anything else, make your own in a module beside ``config.yaml``::

    # custom_callbacks.py            (config.yaml: callbacks: custom_callbacks.video)
    import router
    from router.litellm import VideoRouterCallback
    video = VideoRouterCallback(router.Router(capabilities="mine.yaml"))

The work happens in ``async_pre_call_deployment_hook``, which LiteLLM calls on its async path (the proxy's
``/v1/chat/completions`` and ``/v1/responses``, ``litellm.acompletion``, ``litellm.aresponses``) once the
deployment is known and before it transforms the request for that provider; what it decides is in
``router/_litellm/core.py``. A request the router rejects raises :class:`VideoRequestRejected`, a FastAPI
``HTTPException``: the proxy answers it with status 400 (an SDK raises its bad-request error and does not retry),
and LiteLLM's router neither retries it, nor falls back on it, nor cools the deployment down.

LiteLLM's synchronous ``litellm.completion`` and ``litellm.responses`` run no hook that can change or refuse a
request, so there the router goes into the HTTP client LiteLLM sends with::

    video = VideoRouterCallback(router.Router())
    litellm.callbacks = [video]
    litellm.completion(model="openrouter/google/gemini-2.5-flash", messages=..., client=video.sync_client())

Importing ``router`` never imports this module, nor LiteLLM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._litellm.plugin import (
    VideoRequestRejected,
    VideoRouterCallback,
)

if TYPE_CHECKING:
    from ._litellm.plugin import callback as callback

__all__ = [
    "VideoRequestRejected",
    "VideoRouterCallback",
    "callback",
]


def __getattr__(name: str) -> Any:
    """``router.litellm.callback``, made from the environment when LiteLLM first asks for it (in the plugin)."""
    from ._litellm import plugin

    return getattr(plugin, name)
