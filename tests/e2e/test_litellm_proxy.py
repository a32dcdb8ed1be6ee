"""The real LiteLLM proxy with router's plugin, in front of the strict fake OpenRouter, driven by the openai SDK.

Two proxies run as subprocesses on loopback: one registers ``router.litellm.callback`` (configured by environment
variables), the other a factory module beside its ``config.yaml`` that trusts the HTTPS media server's test CA.
Both serve an OpenRouter deployment (``gemini``) and an OpenAI-compatible one on a non-OpenRouter host (``direct``),
both pointed at the fake upstream; ``gemini`` retries twice and falls back to ``direct``.
Needs ``pip install -e '.[litellm]'``; skipped without it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from payloads import GEMINI, PROMPT, YOUTUBE
from servers import MediaServer
from upstream import FakeOpenRouter

pytestmark = [
    pytest.mark.litellm,
    pytest.mark.skipif(find_spec("litellm") is None, reason="LiteLLM is not installed: pip install -e '.[litellm]'"),
    pytest.mark.timeout(300),  # the first test pays for starting the proxies (CPU-bound, ~10 s each on 2 cores)
]

MASTER_KEY = "sk-router-tests-0123456789abcdef"  # the proxy refuses to start without one
FACTORY = """\
import ssl

import router
from router._fetch.fetcher import Fetcher
from router.litellm import VideoRouterCallback

video = VideoRouterCallback(
    router.Router(fetcher=Fetcher(allow_private_urls=True, verify=ssl.create_default_context(cafile={cafile!r})))
)
"""


@dataclass
class Proxy:
    """A running LiteLLM proxy: ``client()`` is an openai SDK pointed at it; ``log`` is its output."""

    base_url: str
    log: Path

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=MASTER_KEY, max_retries=0, timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(upstream: FakeOpenRouter, callbacks: str) -> str:
    return f"""\
model_list:
  - model_name: gemini
    litellm_params:
      model: openrouter/{GEMINI}
      api_base: {upstream.base_url}
      api_key: sk-or-test
  - model_name: direct
    litellm_params:
      model: openai/{GEMINI}
      api_base: {upstream.base_url}
      api_key: sk-or-test
litellm_settings:
  callbacks: {callbacks}
router_settings:  # a rejection must be neither retried nor handed to a fallback
  num_retries: 2
  fallbacks: [{{"gemini": ["direct"]}}]
general_settings:
  master_key: {MASTER_KEY}
"""


def _start(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = folder / "proxy.log"
    command = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", str(folder / "config.yaml")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


def _wait_ready(process: subprocess.Popen[bytes], origin: str, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the LiteLLM proxy exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{origin}/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the LiteLLM proxy did not get ready in time:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def proxies(
    upstream: FakeOpenRouter, https_media: MediaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Proxy]]:
    """``{"env": ..., "factory": ...}``: both proxies, started side by side, stopped at the end of the module."""
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list from GitHub (CI reaches PyPI only)
        "ROUTER_ALLOW_PRIVATE_URLS": "1",  # the media server is on loopback
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("ROUTER_CAPABILITIES", None)
    env_dir, factory_dir = tmp_path_factory.mktemp("litellm-env"), tmp_path_factory.mktemp("litellm-factory")
    (env_dir / "config.yaml").write_text(_config(upstream, "router.litellm.callback"))
    (factory_dir / "config.yaml").write_text(_config(upstream, "custom_callbacks.video"))
    (factory_dir / "custom_callbacks.py").write_text(FACTORY.format(cafile=str(https_media.cafile)))
    started = {name: _start(folder, env) for name, folder in [("env", env_dir), ("factory", factory_dir)]}
    try:
        deadline = time.monotonic() + 240
        for process, origin, log in started.values():
            _wait_ready(process, origin, log, deadline)
        yield {name: Proxy(f"{origin}/v1", log) for name, (_, origin, log) in started.items()}
    finally:
        for process, _, _ in started.values():  # the processes this fixture started, by their handles
            process.terminate()
        for process, _, _ in started.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _messages(*parts: dict[str, Any]) -> Any:
    """One user message: a text part, then ``parts`` as given (spellings LiteLLM itself may refuse)."""
    return [{"role": "user", "content": [{"type": "text", "text": PROMPT}, *parts]}]


def _create(client: openai.OpenAI, stream: bool, **kwargs: Any) -> dict[str, Any]:
    """One chat completion, streamed or not; the fake upstream's JSON summary of what it received."""
    if not stream:
        return json.loads(client.chat.completions.create(**kwargs).choices[0].message.content or "")  # type: ignore[no-any-return]
    chunks = client.chat.completions.create(stream=True, **kwargs)
    return json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("door", ["env", "factory"])
def test_youtube_to_vertex_is_refused_with_the_routers_400(
    proxies: dict[str, Proxy], upstream: FakeOpenRouter, door: str, stream: bool
) -> None:
    """A YouTube link pinned to Vertex gets the router's 400 (BadRequestError, diagnostics) and never goes upstream."""
    client = proxies[door].client()
    video = {"type": "video_url", "video_url": {"url": YOUTUBE}}
    with pytest.raises(openai.BadRequestError) as caught:
        _create(
            client,
            stream,
            model="gemini",
            messages=_messages(video),
            extra_body={"provider": {"only": ["google-vertex"]}},
        )
    error = caught.value
    assert error.status_code == 400
    body: Any = error.body
    assert body["message"].startswith("request rejected: url-not-accepted: https://www.youtube.com/watch?")
    assert "google-vertex takes no YouTube links" in body["message"]
    assert body["param"] == "/messages/0/content/1/video_url/url"
    router_error = body["provider_specific_fields"]  # the transports' error object, as LiteLLM relays it
    assert router_error["code"] == 400
    assert router_error["message"] == body["message"]
    assert router_error["metadata"]["rule"] == "url-not-accepted"
    assert set(router_error["metadata"]["reasons"]) == {"google-vertex"}
    assert [d["rule"] for d in router_error["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


def test_a_rejection_after_a_download_is_not_retried_nor_falls_back(
    proxies: dict[str, Proxy], upstream: FakeOpenRouter, media_server: MediaServer
) -> None:
    """Text served as video/mp4 is refused once (one download: failures are never cached, so a retry would show)."""
    target = "/notes.mp4?case=litellm-no-retry"
    video = {"type": "video_url", "video_url": {"url": media_server.url(target)}}
    with pytest.raises(openai.BadRequestError) as caught:
        proxies["env"].client().chat.completions.create(model="gemini", messages=_messages(video))
    body: Any = caught.value.body
    assert body["provider_specific_fields"]["metadata"]["rule"] == "format-mismatch"
    assert media_server.hits(target) == 1
    assert upstream.requests == []  # the fallback deployment would have sent the request on


@pytest.mark.parametrize("stream", [False, True])
def test_https_mp4_arrives_inlined_and_routed(
    proxies: dict[str, Proxy],
    upstream: FakeOpenRouter,
    https_media: MediaServer,
    clip_sha: dict[str, str],
    stream: bool,
) -> None:
    """An https mp4 from loopback reaches OpenRouter as a data URL of the very clip, routed to both Google
    providers with Vertex (which takes no URL) first."""
    target = f"/clip.mp4?case=litellm-{stream}"
    video = {"type": "video_url", "video_url": {"url": https_media.url(target)}}
    summary = _create(proxies["factory"].client(), stream, model="gemini", messages=_messages(video))
    assert [(v["kind"], v["mime"], v["sha256"]) for v in summary["videos"]] == [("data", "video/mp4", clip_sha["mp4"])]
    sent = upstream.completions[-1].json()
    assert sent["model"] == GEMINI
    assert sent["provider"] == {"only": ["google-vertex", "google-ai-studio"]}  # the download opened Vertex
    assert summary["provider"] == "google-vertex"
    assert sent["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert https_media.hits(target) == 1


def test_http_mp4_is_inlined_by_the_env_configured_callback(
    proxies: dict[str, Proxy], upstream: FakeOpenRouter, media_server: MediaServer, clip_sha: dict[str, str]
) -> None:
    """`router.litellm.callback` with ROUTER_ALLOW_PRIVATE_URLS=1 downloads a loopback video, inlines it and routes
    it to both Google providers, Vertex first."""
    video = {"type": "video_url", "video_url": {"url": media_server.url("/clip.webm?case=litellm-env")}}
    summary = _create(proxies["env"].client(), False, model="gemini", messages=_messages(video))
    assert [(v["kind"], v["mime"], v["sha256"]) for v in summary["videos"]] == [
        ("data", "video/webm", clip_sha["webm"])
    ]
    assert upstream.completions[-1].json()["provider"] == {"only": ["google-vertex", "google-ai-studio"]}
    assert summary["provider"] == "google-vertex"


@pytest.mark.parametrize("door", ["env", "factory"])
def test_text_only_requests_are_untouched(proxies: dict[str, Proxy], upstream: FakeOpenRouter, door: str) -> None:
    """A text-only request reaches OpenRouter with its messages as sent and no routing field added."""
    messages: Any = [
        {"role": "system", "content": "You describe video_url parts."},
        {"role": "user", "content": [{"type": "text", "text": "What is a videoUrl?"}]},
    ]
    summary = _create(proxies[door].client(), False, model="gemini", messages=messages)
    assert summary["videos"] == []
    sent = upstream.completions[-1].json()
    assert sent["messages"] == messages
    assert "provider" not in sent


def test_sdk_spellings_survive_litellms_own_validation(proxies: dict[str, Proxy], upstream: FakeOpenRouter) -> None:
    """`videoUrl` and legacy `input_video` parts (LiteLLM alone answers 500) arrive as routed `video_url` parts."""
    parts = [
        {"type": "video_url", "videoUrl": {"url": "https://youtu.be/dQw4w9WgXcQ"}},
        {"type": "input_video", "video_url": {"url": "https://www.youtube.com/shorts/dQw4w9WgXcQ"}},
    ]
    summary = _create(proxies["env"].client(), False, model="gemini", messages=_messages(*parts))
    assert summary["provider"] == "google-ai-studio"
    sent = upstream.completions[-1].json()
    assert sent["messages"][0]["content"][1:] == [{"type": "video_url", "video_url": {"url": YOUTUBE}}] * 2
    assert sent["provider"] == {"only": ["google-ai-studio"]}


def test_litellm_alone_refuses_the_legacy_part(proxies: dict[str, Proxy], upstream: FakeOpenRouter) -> None:
    """Without the router's rewrite (a non-OpenRouter deployment), LiteLLM refuses an `input_video` part itself."""
    part = {"type": "input_video", "video_url": {"url": YOUTUBE}}
    with pytest.raises(openai.InternalServerError, match="Invalid user message"):
        proxies["env"].client().chat.completions.create(model="direct", messages=_messages(part))
    assert upstream.requests == []


def test_other_deployments_are_left_alone(proxies: dict[str, Proxy], upstream: FakeOpenRouter) -> None:
    """A video request to a non-OpenRouter deployment is sent as LiteLLM makes it: no routing, no normalising."""
    shorts = "https://www.youtube.com/shorts/dQw4w9WgXcQ"
    video = {"type": "video_url", "video_url": {"url": shorts}}
    with pytest.raises(openai.APIStatusError):  # the fake upstream judges it as Vertex would: no URLs
        proxies["env"].client().chat.completions.create(model="direct", messages=_messages(video))
    sent = upstream.requests[-1].json()
    assert sent["messages"][0]["content"][1] == video
    assert "provider" not in sent
    assert "not an OpenRouter deployment: router leaves it to LiteLLM" in proxies["env"].log.read_text()


def _responses_input(url: str) -> Any:
    """A Responses API input: one user message with a text item and an ``input_video`` item."""
    return [
        {"role": "user", "content": [{"type": "input_text", "text": PROMPT}, {"type": "input_video", "video_url": url}]}
    ]


@pytest.mark.parametrize("door", ["env", "factory"])
def test_responses_youtube_to_vertex_is_refused_with_the_routers_400(
    proxies: dict[str, Proxy], upstream: FakeOpenRouter, door: str
) -> None:
    """/v1/responses refuses a YouTube item pinned to Vertex with the router's 400; nothing goes upstream."""
    with pytest.raises(openai.BadRequestError) as caught:
        proxies[door].client().responses.create(
            model="gemini", input=_responses_input(YOUTUBE), extra_body={"provider": {"only": ["google-vertex"]}}
        )
    body: Any = caught.value.body
    assert body["message"].startswith("request rejected: url-not-accepted: https://www.youtube.com/watch?")
    assert body["param"] == "/input/0/content/1/video_url"
    assert body["provider_specific_fields"]["metadata"]["rule"] == "url-not-accepted"
    assert upstream.requests == []


def test_responses_https_mp4_arrives_inlined_and_routed(
    proxies: dict[str, Proxy], upstream: FakeOpenRouter, https_media: MediaServer, clip_sha: dict[str, str]
) -> None:
    """An https mp4 sent to the proxy's /v1/responses reaches OpenRouter's /responses as a data URL of the clip,
    routed to both Google providers with Vertex first."""
    target = "/clip.mp4?case=litellm-proxy-responses"
    reply = (
        proxies["factory"].client().responses.create(model="gemini", input=_responses_input(https_media.url(target)))
    )
    summary = json.loads(reply.output_text)
    assert [(v["kind"], v["mime"], v["sha256"]) for v in summary["videos"]] == [("data", "video/mp4", clip_sha["mp4"])]
    sent = upstream.completions[-1]
    assert sent.path == "/api/v1/responses"
    assert sent.json()["provider"] == {"only": ["google-vertex", "google-ai-studio"]}
    assert https_media.hits(target) == 1
