"""Node clients through `router serve`: the Vercel AI SDK (``ai`` with ``@openrouter/ai-sdk-provider``) and the
``openai`` npm package, the real packages, driven by ``tests/node/client.mjs`` against the strict fake OpenRouter.

Needs Node and ``npm install --prefix tests/node --no-package-lock`` (CI's own step); skipped without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docblocks import snippet
from payloads import GEMINI, PROMPT, YOUTU_BE, YOUTUBE
from proxy_process import Proxy
from servers import MediaServer
from upstream import FakeOpenRouter

NODE_DIR = Path(__file__).parents[1] / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="Node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "ai").is_dir(),
        reason="the Node clients are not installed: npm install --prefix tests/node --no-package-lock",
    ),
]

CaseUrl = Callable[[str], tuple[str, str]]
KEY = "sk-or-v1-node-test"


@pytest.fixture(scope="module")
def served(upstream: FakeOpenRouter) -> Iterator[Proxy]:
    """`router serve` in front of the fake upstream, allowed to download from the loopback media server."""
    proxy = Proxy(upstream, "--allow-private-urls")
    yield proxy
    proxy.close()


@pytest.fixture
def spec(served: Proxy) -> Callable[..., dict[str, Any]]:
    """``spec(url, **fields)``: what client.mjs is asked to do, pointed at the proxy's OpenRouter prefix."""

    def make(url: str, **fields: Any) -> dict[str, Any]:
        base = {"client": "ai-sdk", "baseURL": f"{served.url}/api/v1", "apiKey": KEY, "model": GEMINI}
        return {**base, "prompt": PROMPT, "url": url, "mediaType": "video/mp4", "videoUrls": "as-urls", **fields}

    return make


def _start(spec: dict[str, Any]) -> subprocess.Popen[str]:
    assert NODE is not None
    return subprocess.Popen(
        [NODE, "client.mjs", json.dumps(spec)], cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one call to its end: its last event (``{"text": ...}`` or ``{"error": ...}``)."""
    process = _start(spec)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    event: dict[str, Any] = json.loads(out.splitlines()[-1])
    return event


@pytest.mark.parametrize(
    "heading",
    [
        "The Vercel AI SDK, through `router serve`",
        "The openai npm package, through `router serve`",
    ],
    ids=["ai-sdk", "openai"],
)
def test_the_docs_example_sends_the_clip_inlined(
    heading: str,
    served: Proxy,
    upstream: FakeOpenRouter,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
    tmp_path: Path,
) -> None:
    """The lines docs/clients-frameworks.md gives Node users, run as written by Node against `router serve` (the
    clip on loopback), send the clip inlined to Vertex with the key from the environment, and print the answer."""
    assert NODE is not None
    url, _ = case_url("/clip.mp4")
    swaps = {"http://127.0.0.1:8787": served.url, "https://example.com/clip.mp4": url}
    (tmp_path / "example.mjs").write_text(snippet("clients-frameworks.md", heading, swaps, lang="js"))
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")  # the packages tests/node installs
    env = {**os.environ, "OPENROUTER_API_KEY": KEY}
    done = subprocess.run([NODE, "example.mjs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["provider"] == "google-vertex"
    assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    assert upstream.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("video_urls", ["as-urls", "download-hook"])
def test_ai_sdk_video_part_reaches_the_upstream_inlined(
    spec: Callable[..., dict[str, Any]],
    upstream: FakeOpenRouter,
    media_server: MediaServer,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
    video_urls: str,
) -> None:
    """A ``file`` part (video/mp4, a URL) pinned to Vertex passes the AI SDK as a URL (declared supported, or passed
    by the download hook), and the router downloads and inlines it: the upstream gets the clip's bytes."""
    url, target = case_url("/clip.mp4")
    event = _run(spec(url, only=["google-vertex"], videoUrls=video_urls))
    seen = json.loads(event["text"])
    assert seen["provider"] == "google-vertex"
    assert [(v["kind"], v["mime"], v["sha256"]) for v in seen["videos"]] == [("data", "video/mp4", clip_sha["mp4"])]
    assert media_server.hits(target) == 1  # once: by the router, not by the SDK


def test_ai_sdk_youtube_to_vertex_is_an_api_call_error_with_the_routers_message(
    spec: Callable[..., dict[str, Any]], upstream: FakeOpenRouter
) -> None:
    """A YouTube link pinned to Vertex is refused by the router; the AI SDK raises APICallError (400) whose message
    is the router's and whose responseBody carries the diagnostics. Nothing goes upstream."""
    error = _run(spec(YOUTUBE, only=["google-vertex"]))["error"]
    assert error["isAPICallError"] is True
    assert error["statusCode"] == 400
    assert error["message"].startswith("request rejected: url-not-accepted: https://www.youtube.com/watch?")
    assert "google-vertex takes no YouTube links" in error["message"]
    body = json.loads(error["responseBody"])
    assert [d["rule"] for d in body["error"]["metadata"]["diagnostics"]] == ["url-not-accepted"]
    assert upstream.requests == []


def test_ai_sdk_downloads_video_urls_itself_by_default(
    spec: Callable[..., dict[str, Any]], upstream: FakeOpenRouter, media_server: MediaServer, case_url: CaseUrl
) -> None:
    """Without declaring video URLs supported, the AI SDK fetches the URL itself (refusing a loopback host), so the
    router never sees it: the reason the docs ask for ``overrideSupportedUrls``."""
    url, target = case_url("/clip.mp4")
    error = _run(spec(url, only=["google-vertex"], videoUrls="default"))["error"]
    assert error["name"] == "AI_DownloadError"
    assert "127.0.0.1 is not allowed" in error["message"]
    assert media_server.hits(target) == 0
    assert upstream.requests == []


def test_ai_sdk_stream_is_relayed_chunk_by_chunk(spec: Callable[..., dict[str, Any]], upstream: FakeOpenRouter) -> None:
    """``streamText`` with a youtu.be link routed to AI Studio gets its first delta while the upstream still holds
    the rest back."""
    upstream.stream_gate = gate = threading.Event()
    process = _start(spec(YOUTU_BE, stream=True))
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    paused = upstream.stream_paused.is_set()
    gate.set()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert first["delta"]
    assert paused
    seen = json.loads(json.loads(out.splitlines()[-1])["text"])
    assert seen["videos"] == [{"kind": "youtube", "id": "dQw4w9WgXcQ", "url": YOUTUBE}]
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-ai-studio"]}


def test_openai_npm_video_url_reaches_the_upstream_inlined(
    spec: Callable[..., dict[str, Any]],
    upstream: FakeOpenRouter,
    case_url: CaseUrl,
    clip_sha: dict[str, str],
) -> None:
    """The openai npm package's chat completion with a ``video_url`` part pinned to Vertex arrives inlined."""
    url, _ = case_url("/clip.webm")
    seen = json.loads(_run(spec(url, client="openai", only=["google-vertex"]))["text"])
    assert [(v["kind"], v["mime"], v["sha256"]) for v in seen["videos"]] == [("data", "video/webm", clip_sha["webm"])]


def test_openai_npm_rejection_is_its_bad_request_error(
    spec: Callable[..., dict[str, Any]], upstream: FakeOpenRouter
) -> None:
    """The openai npm package raises BadRequestError (400) carrying the router's error object; nothing is sent."""
    error = _run(spec(YOUTUBE, client="openai", only=["google-vertex"]))["error"]
    assert error["constructor"] == "BadRequestError"
    assert error["statusCode"] == 400
    assert error["body"]["message"].startswith("request rejected: url-not-accepted:")
    assert error["body"]["metadata"]["rule"] == "url-not-accepted"
    assert upstream.requests == []
