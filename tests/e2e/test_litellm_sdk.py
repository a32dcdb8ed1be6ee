"""router.litellm in-process: the callback class, its 400, and LiteLLM's async SDK path (``litellm.acompletion``).

Needs ``pip install -e '.[litellm]'``; skipped without it. LiteLLM is imported by the fixtures, not at collection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib.util import find_spec
from types import ModuleType
from typing import Any

import pytest
from payloads import GEMINI, YOUTUBE, video_messages
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router import Diagnostic

pytestmark = [
    pytest.mark.litellm,
    pytest.mark.skipif(find_spec("litellm") is None, reason="LiteLLM is not installed: pip install -e '.[litellm]'"),
    pytest.mark.timeout(300),  # importing LiteLLM takes seconds of CPU
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning"),  # pydantic about LiteLLM's own types
]


@pytest.fixture(scope="module")
def plugin() -> ModuleType:
    """``router.litellm``, imported without LiteLLM fetching its price list from the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import router.litellm

    return router.litellm


@pytest.fixture
def acompletion(plugin: ModuleType, local_router: router.Router, upstream: FakeOpenRouter) -> Iterator[Any]:
    """``litellm.acompletion`` to the fake OpenRouter with the plugin (loopback downloads allowed) as its callback."""
    import litellm

    saved = list(litellm.callbacks)
    litellm.callbacks = [plugin.VideoRouterCallback(local_router)]

    async def call(**kwargs: Any) -> Any:
        return await litellm.acompletion(
            model=f"openrouter/{GEMINI}", api_base=upstream.base_url, api_key="sk-or-test", num_retries=0, **kwargs
        )

    yield call
    litellm.callbacks = saved


def test_the_rejection_is_an_http_400_and_a_router_error(plugin: ModuleType) -> None:
    """VideoRequestRejected is the FastAPI 400 the proxy relays and the RequestRejected Python callers catch."""
    from fastapi import HTTPException

    diagnostics = [Diagnostic("model-lacks-video", "model 'x' does not take video input", pointer="/model")]
    error = plugin.VideoRequestRejected(diagnostics)
    assert isinstance(error, HTTPException)
    assert isinstance(error, router.RequestRejected)
    assert error.status_code == 400
    assert error.diagnostics == diagnostics
    assert error.param == "/model"
    assert error.detail["metadata"]["rule"] == "model-lacks-video"
    assert (
        str(error)
        == error.detail["message"]
        == "request rejected: model-lacks-video: model 'x' does not take video input"
    )
    assert error.headers == {"X-Should-Retry": "false"}


def test_the_registered_callback_is_made_from_the_environment_once(
    plugin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`router.litellm.callback` is built on first use from ROUTER_* variables, then the same object every time."""
    from litellm.integrations.custom_logger import CustomLogger

    monkeypatch.setattr(plugin, "_made", None)
    monkeypatch.setenv("ROUTER_ALLOW_PRIVATE_URLS", "on")
    first = plugin.callback
    assert isinstance(first, CustomLogger)
    assert first.router.allow_private_urls is True
    assert plugin.callback is first


async def test_acompletion_raises_the_rejection(acompletion: Any, upstream: FakeOpenRouter) -> None:
    """On LiteLLM's SDK path the rejection reaches the caller as router.RequestRejected, before any upstream call."""
    with pytest.raises(router.RequestRejected) as caught:
        await acompletion(messages=video_messages(YOUTUBE), provider={"only": ["google-vertex"]})
    assert [d.rule for d in caught.value.diagnostics] == ["url-not-accepted"]
    assert upstream.requests == []


async def test_acompletion_sends_the_inlined_clip(
    acompletion: Any, upstream: FakeOpenRouter, media_server: MediaServer, clip_sha: dict[str, str]
) -> None:
    """On LiteLLM's SDK path a loopback mp4 is downloaded and sent as a data URL to both Google providers, Vertex
    first."""
    reply = await acompletion(messages=video_messages(media_server.url("/clip.mp4?case=litellm-sdk")))
    summary = json.loads(reply.choices[0].message.content)
    assert [(v["kind"], v["sha256"]) for v in summary["videos"]] == [("data", clip_sha["mp4"])]
    assert summary["provider"] == "google-vertex"
    assert upstream.completions[-1].json()["provider"] == {"only": ["google-vertex", "google-ai-studio"]}
