"""router.litellm in-process: the callback class, its 400, LiteLLM's async SDK path (``litellm.acompletion``,
``litellm.aresponses``: the deployment hook) and its sync one (``litellm.completion``, ``litellm.responses``: no hook
can change or refuse those, so the router goes in through ``client=callback.sync_client()``).

Needs ``pip install -e '.[litellm]'``; skipped without it. LiteLLM is imported by the fixtures, not at collection.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator
from functools import partial
from importlib.util import find_spec
from types import ModuleType
from typing import Any

import pytest
from docblocks import execute, snippet
from payloads import GEMINI, PROMPT, YOUTUBE, video_messages
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router import Diagnostic
from router._fetch.fetcher import Fetcher

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


# -- the Responses API on the async path, and the sync path through the callback's client --------------------------

VERTEX = {"provider": {"only": ["google-vertex"]}}
MODEL = f"openrouter/{GEMINI}"


def _input(url: str) -> list[dict[str, Any]]:
    """A Responses API input: one user message with a text item and an ``input_video`` item."""
    return [
        {"role": "user", "content": [{"type": "input_text", "text": PROMPT}, {"type": "input_video", "video_url": url}]}
    ]


@pytest.fixture
def video(plugin: ModuleType, https_media: MediaServer) -> Iterator[Any]:
    """The callback registered in ``litellm.callbacks``, its router trusting the HTTPS media server's test CA."""
    import litellm

    assert https_media.cafile is not None
    trust = ssl.create_default_context(cafile=str(https_media.cafile))
    saved = list(litellm.callbacks)
    with Fetcher(allow_private_urls=True, verify=trust) as fetcher:
        callback = plugin.VideoRouterCallback(router.Router(fetcher=fetcher))
        litellm.callbacks = [callback]
        yield callback
    litellm.callbacks = saved


@pytest.fixture
def wire(upstream: FakeOpenRouter) -> dict[str, Any]:
    """What every call here passes LiteLLM: the fake OpenRouter, a key, no retries."""
    return {"api_base": upstream.base_url, "api_key": "sk-or-test", "num_retries": 0}


def test_the_docs_example_sends_the_clip_inlined_sync_and_async(
    plugin: ModuleType,
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    clip_sha: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The lines docs/clients-frameworks.md gives LiteLLM users, run as written with OpenRouter (LiteLLM's
    ``OPENROUTER_API_BASE``) and the clip on loopback: sync completion through ``sync_client()`` and async
    ``aresponses`` through the hook both send the clip inlined."""
    import litellm

    monkeypatch.setattr(litellm, "callbacks", [])  # the snippet registers its callback; restored afterwards
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-docs")
    monkeypatch.setenv("OPENROUTER_API_BASE", upstream.base_url)
    swaps = {
        "https://example.com/clip.mp4": media_server.url("/clip.mp4?case=litellm-docs"),
        "router.Router()": "router.Router(allow_private_urls=True)",  # the clip is on loopback
    }
    execute(snippet("clients-frameworks.md", "LiteLLM", swaps))
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [[(v["kind"], v["sha256"]) for v in a["videos"]] for a in answers] == [[("data", clip_sha["mp4"])]] * 2
    chat, responses = upstream.completions
    assert chat.json()["provider"] == {"only": ["google-vertex"]}
    assert responses.path.endswith("/responses")
    assert chat.headers["authorization"] == responses.headers["authorization"] == "Bearer sk-or-docs"


def test_sync_completion_alone_is_not_hooked(video: Any, upstream: FakeOpenRouter, wire: dict[str, Any]) -> None:
    """LiteLLM's sync completion runs no deployment hook: without the client, a YouTube link pinned to Vertex
    reaches the upstream, which refuses it (why the docs ask for ``client=callback.sync_client()``)."""
    import litellm

    with pytest.raises(litellm.BadRequestError, match="Google Vertex does not accept video URLs"):
        litellm.completion(model=MODEL, messages=video_messages(YOUTUBE), extra_body=VERTEX, **wire)
    assert [r.status for r in upstream.requests] == [400]


@pytest.mark.parametrize("api", ["completion", "responses"])
def test_sync_client_refuses_youtube_pinned_to_vertex(
    video: Any, upstream: FakeOpenRouter, wire: dict[str, Any], api: str
) -> None:
    """Through ``sync_client()``, sync completion and responses raise litellm.BadRequestError with router's message,
    and nothing reaches the upstream."""
    import litellm

    call = (
        partial(litellm.completion, messages=video_messages(YOUTUBE))
        if api == "completion"
        else partial(litellm.responses, input=_input(YOUTUBE))
    )
    with pytest.raises(litellm.BadRequestError) as caught:
        call(model=MODEL, extra_body=VERTEX, client=video.sync_client(), **wire)
    assert "request rejected: url-not-accepted" in str(caught.value)
    assert "google-vertex takes no YouTube links" in str(caught.value)
    assert upstream.requests == []


def test_a_litellm_router_hands_the_sync_client_on(video: Any, upstream: FakeOpenRouter) -> None:
    """A LiteLLM Router's sync ``completion`` passes ``client=`` on to its deployment call: refused there too."""
    import litellm

    deployment = {"model": MODEL, "api_base": upstream.base_url, "api_key": "sk-or-test"}
    balancer = litellm.Router(model_list=[{"model_name": "gemini", "litellm_params": deployment}], num_retries=0)
    with pytest.raises(litellm.BadRequestError, match="request rejected: url-not-accepted"):
        balancer.completion(
            model="gemini", messages=video_messages(YOUTUBE), extra_body=VERTEX, client=video.sync_client()
        )
    assert upstream.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_sync_completion_sends_an_https_mp4_inlined(
    video: Any,
    upstream: FakeOpenRouter,
    wire: dict[str, Any],
    https_media: MediaServer,
    clip_sha: dict[str, str],
    stream: bool,
) -> None:
    """Sync completion through ``sync_client()``: an https mp4 pinned to Vertex arrives as a data URL of the clip,
    ``provider.only`` kept; streamed or not."""
    import litellm

    target = f"/clip.mp4?case=litellm-sync-{stream}"
    reply = litellm.completion(
        model=MODEL,
        messages=video_messages(https_media.url(target)),
        extra_body=VERTEX,
        stream=stream,
        client=video.sync_client(),
        **wire,
    )
    text = "".join(c.choices[0].delta.content or "" for c in reply) if stream else reply.choices[0].message.content
    summary = json.loads(text)
    assert [(v["kind"], v["sha256"]) for v in summary["videos"]] == [("data", clip_sha["mp4"])]
    assert upstream.completions[-1].json()["provider"] == {"only": ["google-vertex"]}
    assert https_media.hits(target) == 1


def test_sync_responses_sends_an_https_mp4_inlined(
    video: Any, upstream: FakeOpenRouter, wire: dict[str, Any], https_media: MediaServer, clip_sha: dict[str, str]
) -> None:
    """Sync responses through ``sync_client()``: an https mp4 pinned to Vertex reaches /responses as a data URL."""
    import litellm

    target = "/clip.mp4?case=litellm-sync-responses"
    reply = litellm.responses(
        model=MODEL, input=_input(https_media.url(target)), extra_body=VERTEX, client=video.sync_client(), **wire
    )
    summary = json.loads(reply.output[0].content[0].text)
    assert [(v["kind"], v["sha256"]) for v in summary["videos"]] == [("data", clip_sha["mp4"])]
    sent = upstream.completions[-1]
    assert sent.path.endswith("/responses")
    assert sent.json()["provider"] == {"only": ["google-vertex"]}


async def test_aresponses_raises_the_rejection(video: Any, upstream: FakeOpenRouter, wire: dict[str, Any]) -> None:
    """On LiteLLM's async Responses path the hook refuses a YouTube link pinned to Vertex before any upstream call."""
    import litellm

    with pytest.raises(router.RequestRejected) as caught:
        await litellm.aresponses(model=MODEL, input=_input(YOUTUBE), extra_body=VERTEX, **wire)
    assert [(d.rule, d.pointer) for d in caught.value.diagnostics] == [
        ("url-not-accepted", "/input/0/content/1/video_url")
    ]
    assert upstream.requests == []


async def test_aresponses_sends_an_https_mp4_inlined(
    video: Any, upstream: FakeOpenRouter, wire: dict[str, Any], https_media: MediaServer, clip_sha: dict[str, str]
) -> None:
    """On LiteLLM's async Responses path an https mp4 arrives inlined, its ``provider`` keyword kept as
    ``provider.only`` (LiteLLM alone would drop that keyword on this path)."""
    import litellm

    target = "/clip.mp4?case=litellm-aresponses"
    reply = await litellm.aresponses(
        model=MODEL, input=_input(https_media.url(target)), provider=VERTEX["provider"], **wire
    )
    summary = json.loads(reply.output[0].content[0].text)
    assert [(v["kind"], v["sha256"]) for v in summary["videos"]] == [("data", clip_sha["mp4"])]
    assert upstream.completions[-1].json()["provider"] == {"only": ["google-vertex"]}
    assert https_media.hits(target) == 1
