"""What the LiteLLM plugin does with one deployment call, free of LiteLLM itself (so it is tested without it).

LiteLLM calls ``async_pre_call_deployment_hook(kwargs, call_type)`` on its async path (``acompletion``,
``aresponses``: the proxy's calls, and the SDK's async ones) once the deployment is known and before the request is
transformed and sent. ``kwargs`` are the call's: the deployment's ``litellm_params`` (``model``, ``api_base``,
``extra_body``, ...) merged with the client's request (``messages`` or the Responses API's ``input``, ``provider``,
...). :func:`route` answers

- ``None``: leave the call alone (not a chat completion nor an async Responses call, no video part in it: never
  parsed; or a deployment that is not OpenRouter's);
- a new kwargs dict: the call as the router rewrote it (``messages`` or ``input`` with videos inlined, links
  normalised, keys and MIME types renamed; the routing field in ``extra_body["provider"]``, where LiteLLM forwards
  OpenRouter-specific parameters on both APIs);

or raises :class:`router.RequestRejected`, which the plugin turns into an HTTP 400 (see :func:`rejection`).

LiteLLM's synchronous calls are another matter (LiteLLM 1.108): ``litellm.completion`` runs no hook that may change
or refuse a request (``log_pre_api_call`` only logs, and swallows errors; a LiteLLM Router's sync
``pre_call_check`` sees the deployment, not the messages), and ``litellm.responses`` runs this hook (call type
``responses``) without the call's ``extra_body`` and without a way to set it, so the router could neither see a
``provider`` pin nor write one. Such calls are left alone here; the plugin's ``sync_client()`` puts the router in
LiteLLM's HTTP client instead, where it sees the very body OpenRouter would get.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._model.parts import Api, is_media_part
from .._report.output import describe
from .._rewrite.pipeline import Router
from .._transports.core import rejection

__all__ = [
    "CHAT_CALLS",
    "OPENROUTER_HOSTS",
    "RESPONSES_CALLS",
    "apply",
    "has_media_parts",
    "openrouter_model",
    "rejection",
    "request_view",
    "route",
    "settings_from_env",
]

# LiteLLM's call types (``CallTypes`` values) the router judges, and the field holding their media parts. The
# proxy only ever makes the async ones; sync `responses` is left to the HTTP client (see above).
CHAT_CALLS = frozenset({"acompletion", "completion"})
RESPONSES_CALLS = frozenset({"aresponses"})
_FIELDS = {**dict.fromkeys(CHAT_CALLS, "messages"), **dict.fromkeys(RESPONSES_CALLS, "input")}
# An OpenAI-compatible deployment (``openai/...``) whose api_base is on one of these hosts talks to OpenRouter.
OPENROUTER_HOSTS = ("openrouter.ai",)
# Model prefixes LiteLLM strips before sending: its OpenRouter provider, and its generic OpenAI-compatible one.
_PREFIXES = ("openrouter", "openai")
# The keys of the request that LiteLLM sends on to OpenRouter and the router judges (besides model and messages).
_ROUTING_KEYS = ("provider", "models")

log = logging.getLogger("router")
_warned: set[str] = set()  # deployments already warned about (once each: a busy proxy must not flood its log)


def has_media_parts(messages: object, api: Api = "chat") -> bool:
    """The cheap screen: does any content part look like a media part, in any spelling? Nothing is parsed.

    ``messages`` is a chat call's ``messages`` or a Responses call's ``input`` (its message items hold ``content``
    lists too). LiteLLM hands them over already decoded, so this walks the parts' keys instead of scanning bytes
    (the transports' ``mentions_media``); text-only requests cost a loop over their parts.
    """
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if is_media_part(part, api):
                return True
    return False


def _on_openrouter_host(api_base: object, hosts: Collection[str]) -> bool:
    if not isinstance(api_base, str):
        return False
    host = (urlsplit(api_base.strip()).hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith(f".{h}") for h in hosts)


def openrouter_model(kwargs: Mapping[str, Any], hosts: Collection[str] = OPENROUTER_HOSTS) -> str | None:
    """The model id OpenRouter will be sent, when this deployment is an OpenRouter one; ``None`` otherwise.

    A deployment is OpenRouter's when LiteLLM's provider for it is ``openrouter`` (``model: openrouter/...`` or
    ``custom_llm_provider: openrouter``), whatever its ``api_base`` (a gateway, a test double), or when its
    ``api_base`` is on openrouter.ai (an OpenAI-compatible ``openai/<author>/<slug>`` deployment).
    """
    model = kwargs.get("model")
    if not isinstance(model, str) or not model.strip():
        return None
    named = kwargs.get("custom_llm_provider")
    if isinstance(named, str) and named:
        provider = named
    else:  # `google/gemini-2.5-flash` with no LiteLLM prefix: the whole string is the model id
        head, slash, _ = model.partition("/")
        provider = head if slash and head in _PREFIXES else ""
    wire = model.removeprefix(f"{provider}/") if provider else model
    if provider == "openrouter" or _on_openrouter_host(kwargs.get("api_base"), hosts):
        return wire
    return None


def request_view(kwargs: Mapping[str, Any], model: str, field: str = "messages") -> dict[str, Any]:
    """The parts of the call that OpenRouter will receive and the router judges, as a chat-completion request
    (``field="messages"``) or a Responses API one (``field="input"``).

    ``provider`` and ``models`` reach OpenRouter either as keyword arguments or inside ``extra_body``; LiteLLM
    lets the keyword argument win when both are given, and so does this view.
    """
    extra = kwargs.get("extra_body")
    extra = extra if isinstance(extra, Mapping) else {}
    view: dict[str, Any] = {"model": model, field: kwargs.get(field)}
    for key in _ROUTING_KEYS:
        value = kwargs[key] if kwargs.get(key) is not None else extra.get(key)
        if value is not None:
            view[key] = value
    return view


def apply(kwargs: Mapping[str, Any], rewritten: Mapping[str, Any], field: str = "messages") -> dict[str, Any]:
    """New call kwargs with the rewritten ``field`` and routing field; ``kwargs`` and what it holds stay untouched.

    The routing field goes into a new ``extra_body`` (LiteLLM merges that into the body it sends to OpenRouter);
    a ``provider`` keyword argument is dropped, since LiteLLM would let it override ``extra_body`` on chat calls
    (and drops it on Responses calls, where the router's judgement would then not be what is sent).
    """
    call = dict(kwargs)
    call[field] = rewritten[field]
    if "provider" in rewritten:
        call.pop("provider", None)
        extra = kwargs.get("extra_body")
        call["extra_body"] = {**(extra if isinstance(extra, Mapping) else {}), "provider": rewritten["provider"]}
    return call


def _left_alone(kwargs: Mapping[str, Any]) -> None:
    model = str(kwargs.get("model"))
    if model not in _warned:
        _warned.add(model)
        log.warning(
            "a video request goes to %s, not an OpenRouter deployment: router leaves it to LiteLLM "
            "(which drops video_url parts for gemini/ and vertex_ai/ deployments, LiteLLM issue 30501)",
            model,
        )


async def route(
    router: Router, kwargs: Mapping[str, Any], call_type: str | None, hosts: Collection[str] = OPENROUTER_HOSTS
) -> dict[str, Any] | None:
    """Decide for one deployment call: ``None`` (leave it alone), new kwargs, or ``RequestRejected``."""
    field = _FIELDS.get(call_type or "")
    if field is None or not has_media_parts(kwargs.get(field), "responses" if field == "input" else "chat"):
        return None
    model = openrouter_model(kwargs, hosts)
    if model is None:
        _left_alone(kwargs)
        return None
    outgoing = await router.aoutgoing(request_view(kwargs, model, field))  # raises RequestRejected
    log.info("routed a media request: %s", "; ".join(map(describe, outgoing.notes)) or "checked, sent unchanged")
    return apply(kwargs, await asyncio.to_thread(outgoing.to_dict), field)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """``Router`` keyword arguments from ``ROUTER_CAPABILITIES`` and ``ROUTER_ALLOW_PRIVATE_URLS``.

    ``ROUTER_CAPABILITIES`` lists capability tables layered over the bundled one, separated like ``PATH``
    (``os.pathsep``). ``ROUTER_ALLOW_PRIVATE_URLS`` is ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/
    ``off`` (default: off); anything else is a ``ValueError`` naming the variable, so a typo never opens the fetcher
    to private addresses, nor silently keeps it closed.
    """
    settings: dict[str, Any] = {}
    tables = [p for p in environ.get("ROUTER_CAPABILITIES", "").split(os.pathsep) if p.strip()]
    if tables:
        settings["capabilities"] = tables
    flag = environ.get("ROUTER_ALLOW_PRIVATE_URLS", "").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError(
            f"ROUTER_ALLOW_PRIVATE_URLS={environ['ROUTER_ALLOW_PRIVATE_URLS']!r}: use 1/true/yes/on or 0/false/no/off"
        )
    settings["allow_private_urls"] = flag in _TRUE
    return settings
