"""The LiteLLM plugin's decisions (router/_litellm/core.py), without LiteLLM: screen, deployment, rewrite, reject."""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from payloads import PROMPT, YOUTU_BE, YOUTUBE

from router import Diagnostic, RequestRejected, Router
from router._litellm.core import (
    apply,
    has_media_parts,
    openrouter_model,
    rejection,
    request_view,
    route,
    settings_from_env,
)
from router._table.capabilities import CapabilityTable
from router._transports.core import reject

DEPLOYMENT = {"model": "openrouter/google/gemini-2.5-flash", "api_base": "http://127.0.0.1:9/api/v1", "api_key": "k"}


def _call(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Deployment-hook kwargs: the deployment's litellm_params merged with a chat request carrying ``parts``."""
    content = [{"type": "text", "text": PROMPT}, *parts]
    return {**DEPLOYMENT, "messages": [{"role": "user", "content": content}], **extra}


def _video(url: str = YOUTU_BE, key: str = "video_url", kind: str = "video_url") -> dict[str, Any]:
    return {"type": kind, key: {"url": url}}


def _responses_call(url: str, **extra: Any) -> dict[str, Any]:
    """aresponses hook kwargs: the deployment merged with a Responses API input carrying one ``input_video`` item."""
    content = [{"type": "input_text", "text": PROMPT}, {"type": "input_video", "video_url": url}]
    return {**DEPLOYMENT, "input": [{"role": "user", "content": content}], **extra}


class _Untouchable(Router):
    """A router that fails the test if it is asked to judge anything."""

    async def aoutgoing(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the router was asked to parse a call it should have left alone")


@pytest.fixture(scope="module")
def table() -> CapabilityTable:
    """The bundled capability table, loaded once."""
    return Router().table


@pytest.fixture
def offline(table: CapabilityTable) -> Router:
    """A router with the default, safe settings (these tests never need a download)."""
    return Router(table)


# -- the cheap screen ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "part",
    [
        _video(),
        _video(key="videoUrl"),
        _video(kind="input_video"),
        {"type": "video_url"},  # malformed, but the router must see it (and refuse it)
        {"type": "text", "text": "x", "videoUrl": {"url": YOUTU_BE}},
        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://x.test/a.pdf"}},
    ],
)
def test_every_spelling_of_a_media_part_is_noticed(part: dict[str, Any]) -> None:
    """A part with a media type or key (video in any spelling, an image, audio, a file) goes to the router."""
    assert has_media_parts(_call(part)["messages"])


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "describe the video_url part of a videoUrl"}],
        [{"role": "user", "content": [{"type": "text", "text": "video_url videoUrl input_video"}]}],
        [{"role": "user", "content": [{"type": "text", "text": "image_url input_audio file_data"}]}],
        [{"role": "user", "content": [{"type": "text", "text": "a file"}], "file": "x"}],
        [{"role": "assistant", "content": None}, "not a message", {"content": {"video_url": {}}}],
        "not a list",
    ],
)
def test_text_only_calls_are_not_noticed(messages: Any) -> None:
    """Video words in text, images, and shapes LiteLLM would refuse anyway do not count as video parts."""
    assert not has_media_parts(messages)


async def test_a_text_only_call_is_left_alone_without_parsing(table: CapabilityTable) -> None:
    """A chat call with no video part returns None before the router is asked anything."""
    call = {**DEPLOYMENT, "messages": [{"role": "user", "content": "what is a video_url?"}]}
    assert await route(_Untouchable(table), call, "acompletion") is None


@pytest.mark.parametrize("call_type", ["aembedding", "responses", "atext_completion", None])
async def test_other_call_types_are_left_alone(table: CapabilityTable, call_type: str | None) -> None:
    """Only chat completions and async Responses calls are routed; embeddings, the sync Responses hook (which sees
    no ``extra_body``) and unknown call types pass untouched."""
    assert await route(_Untouchable(table), _call(_video()), call_type) is None
    assert await route(_Untouchable(table), _responses_call(YOUTU_BE), call_type) is None


async def test_a_text_only_responses_call_is_left_alone_without_parsing(table: CapabilityTable) -> None:
    """An aresponses call whose input is a string, or holds no video item, returns None unparsed."""
    text_items = [{"role": "user", "content": [{"type": "input_text", "text": "what is input_video?"}]}]
    for value in ("what is an input_video?", text_items):
        assert await route(_Untouchable(table), {**DEPLOYMENT, "input": value}, "aresponses") is None


# -- which deployments are OpenRouter's ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "openrouter/google/gemini-2.5-flash"}, "google/gemini-2.5-flash"),
        ({"model": "openrouter/google/gemini-2.5-flash", "api_base": "http://10.0.0.7/v1"}, "google/gemini-2.5-flash"),
        ({"model": "google/gemini-2.5-flash", "custom_llm_provider": "openrouter"}, "google/gemini-2.5-flash"),
        (
            {"model": "openai/google/gemini-2.5-flash", "api_base": "https://openrouter.ai/api/v1"},
            "google/gemini-2.5-flash",
        ),
        (
            {"model": "google/gemini-2.5-flash", "api_base": "https://eu.openrouter.ai/api/v1"},
            "google/gemini-2.5-flash",
        ),
        ({"model": "gemini/gemini-2.5-flash"}, None),
        ({"model": "vertex_ai/gemini-2.5-flash"}, None),
        ({"model": "openai/google/gemini-2.5-flash", "api_base": "https://notopenrouter.ai/v1"}, None),
        ({"model": "openai/gpt-4o"}, None),
        ({"model": ""}, None),
        ({}, None),
    ],
)
def test_openrouter_deployments_and_the_model_they_are_sent(params: dict[str, Any], expected: str | None) -> None:
    """Provider `openrouter` (any api_base) or an api_base on openrouter.ai is OpenRouter; the prefix is stripped."""
    assert openrouter_model(params) == expected


async def test_other_deployments_are_left_alone_with_one_warning(
    table: CapabilityTable, caplog: pytest.LogCaptureFixture
) -> None:
    """A video call to a direct Gemini deployment is not touched, and the log says so once per deployment."""
    call = {
        "model": "gemini/gemini-2.5-flash-for-this-test",
        **{k: v for k, v in _call(_video()).items() if k != "model"},
    }
    with caplog.at_level(logging.WARNING, logger="router"):
        assert await route(_Untouchable(table), call, "acompletion") is None
        assert await route(_Untouchable(table), call, "acompletion") is None
    warnings = [r.getMessage() for r in caplog.records if "gemini-2.5-flash-for-this-test" in r.getMessage()]
    assert len(warnings) == 1
    assert "30501" in warnings[0]


# -- rewrite -------------------------------------------------------------------------------------------------------


async def test_a_youtube_link_is_routed_through_extra_body(offline: Router) -> None:
    """A youtu.be link is normalised and `provider.only` goes to `extra_body`, LiteLLM's road to OpenRouter."""
    call = _call(_video(), provider={"sort": "price"}, extra_body={"transforms": ["middle-out"]}, stream=True)
    before = copy.deepcopy(call)
    out = await route(offline, call, "acompletion")
    assert out is not None
    assert out["messages"][0]["content"][1] == {"type": "video_url", "video_url": {"url": YOUTUBE}}
    assert out["extra_body"] == {
        "transforms": ["middle-out"],
        "provider": {"sort": "price", "only": ["google-ai-studio"]},
    }
    assert "provider" not in out  # LiteLLM would let the keyword argument override extra_body
    assert out["stream"] is True
    assert out["api_base"] == DEPLOYMENT["api_base"]
    assert call == before  # the caller's kwargs, messages and extra_body are untouched


async def test_sdk_spellings_are_renamed(offline: Router) -> None:
    """`videoUrl` keys and legacy `input_video` parts go out as `video_url` parts (LiteLLM refuses the type)."""
    out = await route(offline, _call(_video(key="videoUrl"), _video(kind="input_video")), "acompletion")
    assert out is not None
    parts = out["messages"][0]["content"][1:]
    assert parts == [{"type": "video_url", "video_url": {"url": YOUTUBE}}] * 2


async def test_routing_field_in_extra_body_is_judged(offline: Router) -> None:
    """`provider` given in the deployment's `extra_body` is what OpenRouter would get, so it is what is checked."""
    call = _call(_video(), extra_body={"provider": {"only": ["google-vertex"]}})
    with pytest.raises(RequestRejected) as caught:
        await route(offline, call, "acompletion")
    assert [d.rule for d in caught.value.diagnostics] == ["url-not-accepted"]


async def test_keyword_provider_wins_over_extra_body(offline: Router) -> None:
    """When both carry `provider`, the keyword argument is judged, as LiteLLM would send it."""
    call = _call(
        _video(), provider={"only": ["google-ai-studio"]}, extra_body={"provider": {"only": ["google-vertex"]}}
    )
    out = await route(offline, call, "acompletion")
    assert out is not None
    assert out["extra_body"]["provider"] == {"only": ["google-ai-studio"]}


async def test_a_responses_call_is_routed_through_extra_body(offline: Router) -> None:
    """An aresponses call's youtu.be item is normalised in ``input`` and its route goes to ``extra_body`` (LiteLLM
    drops a ``provider`` keyword on the Responses path), the caller's kwargs untouched."""
    call = _responses_call(YOUTU_BE, provider={"sort": "price"})
    before = copy.deepcopy(call)
    out = await route(offline, call, "aresponses")
    assert out is not None
    assert out["input"][0]["content"][1] == {"type": "input_video", "video_url": YOUTUBE}
    assert out["extra_body"] == {"provider": {"sort": "price", "only": ["google-ai-studio"]}}
    assert "provider" not in out
    assert "messages" not in out
    assert call == before


async def test_a_responses_call_pinned_to_vertex_is_rejected(offline: Router) -> None:
    """A YouTube item on an aresponses call pinned to Vertex in ``extra_body`` is refused at its ``input`` pointer."""
    call = _responses_call(YOUTUBE, extra_body={"provider": {"only": ["google-vertex"]}})
    with pytest.raises(RequestRejected) as caught:
        await route(offline, call, "aresponses")
    assert [(d.rule, d.pointer) for d in caught.value.diagnostics] == [
        ("url-not-accepted", "/input/0/content/1/video_url")
    ]


# -- reject --------------------------------------------------------------------------------------------------------


async def test_a_youtube_link_pinned_to_vertex_is_rejected(offline: Router) -> None:
    """The router's url-not-accepted error, with Vertex's reason, is raised instead of a rewrite."""
    with pytest.raises(RequestRejected) as caught:
        await route(offline, _call(_video(), provider={"only": ["google-vertex"]}), "acompletion")
    error = rejection(caught.value.diagnostics)
    assert error["code"] == 400
    assert error["message"].startswith("request rejected: url-not-accepted: ")
    assert error["metadata"]["rule"] == "url-not-accepted"
    assert error["metadata"]["pointer"] == "/messages/0/content/1/video_url/url"
    assert "YouTube" in error["metadata"]["reasons"]["google-vertex"]


def test_the_rejection_is_the_transports_error_object() -> None:
    """The 400 the plugin raises carries exactly the `error` object the httpx transports answer with."""
    diagnostics = [Diagnostic("model-lacks-video", "no video here", pointer="/model")]
    assert rejection(diagnostics) == json.loads(reject(diagnostics).body)["error"]


def test_request_view_and_apply_round_trip() -> None:
    """The view holds model, messages and routing fields; apply swaps in messages and provider, nothing else."""
    call = _call(_video(), models=["google/gemini-2.5-pro"], temperature=0.2)
    view = request_view(call, "google/gemini-2.5-flash")
    assert set(view) == {"model", "messages", "models"}
    out = apply(call, {**view, "messages": [], "provider": {"only": ["x"]}})
    assert out == {**call, "messages": [], "extra_body": {"provider": {"only": ["x"]}}}


# -- settings ------------------------------------------------------------------------------------------------------


def test_settings_from_env() -> None:
    """ROUTER_CAPABILITIES is a PATH-style list; ROUTER_ALLOW_PRIVATE_URLS is a yes/no flag, off by default."""
    assert settings_from_env({}) == {"allow_private_urls": False}
    env = {"ROUTER_CAPABILITIES": f"a.yaml{os.pathsep}{os.pathsep}b.yaml", "ROUTER_ALLOW_PRIVATE_URLS": " Yes "}
    assert settings_from_env(env) == {"capabilities": ["a.yaml", "b.yaml"], "allow_private_urls": True}
    assert settings_from_env({"ROUTER_ALLOW_PRIVATE_URLS": "0"}) == {"allow_private_urls": False}


def test_a_mistyped_flag_is_an_error() -> None:
    """An unreadable ROUTER_ALLOW_PRIVATE_URLS fails at startup, naming the variable, rather than guessing."""
    with pytest.raises(ValueError, match="ROUTER_ALLOW_PRIVATE_URLS='ture'"):
        settings_from_env({"ROUTER_ALLOW_PRIVATE_URLS": "ture"})


def test_importing_router_never_imports_litellm() -> None:
    """`import router` (and the plugin's LiteLLM-free core) leave LiteLLM and FastAPI unimported."""
    code = "import sys, router, router._litellm.core; print(sorted({'litellm', 'fastapi'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
