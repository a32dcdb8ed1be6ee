"""Requests that mix kinds of media: video, audio and images in one message are routed to the providers that
take every one of them (or refused with each provider's reason), inlined and fitted part by part, through the
transports and the proxy, against the strict fake upstream on loopback."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from audioclips import audio_bytes
from clips import data_url as video_data_url
from clips import make_clip
from imageclips import image_bytes
from payloads import CLAUDE, GEMINI, YOUTUBE, audio_part, image_part, mixed_request, video_part
from PIL import Image
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.serve import make_server

CaseUrl = Callable[[str], tuple[str, str]]
AUTH = {"Authorization": "Bearer test"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def m4a() -> bytes:
    """Two seconds of real AAC in an m4a: Vertex takes it, AI Studio does not."""
    return audio_bytes("m4a")


@pytest.fixture
def serve_image(media_server: MediaServer) -> Callable[[bytes], tuple[str, str]]:
    """``serve_image(png)`` -> (URL, target) of the PNG on the loopback media server, under a name of its own."""

    def put(data: bytes) -> tuple[str, str]:
        target = media_server.serve_file(f"{uuid.uuid4().hex[:10]}.png", data, "image/png")
        return media_server.url(target), target

    return put


def test_video_audio_and_image_go_to_the_provider_that_takes_all_three(
    m4a: bytes, serve_image: Callable[[bytes], tuple[str, str]], upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A video, an m4a recording and a loopback image to Gemini: only Vertex takes m4a, so the request is routed
    there (`provider.only`), the image inlined, and the upstream takes all three parts as sent."""
    png = image_bytes("png")
    url, _ = serve_image(png)
    request = mixed_request(video_part(video_data_url("mp4")), audio_part(_b64(m4a), "m4a"), image_part(url))
    (warning,) = local_router.check(request).diagnostics
    assert (warning.rule, warning.kind) == ("url-needs-inline", "image")
    with httpx.Client(transport=router.RouterTransport(local_router), headers=AUTH, timeout=30) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    received = upstream.requests[-1]
    assert received.json()["provider"] == {"only": ["google-vertex"]}
    assert received.summary["provider"] == "google-vertex"
    assert [v["mime"] for v in received.summary["videos"]] == ["video/mp4"]
    audio, image = received.summary["parts"]
    assert (audio["kind"], audio["format"], audio["sha256"]) == ("audio", "m4a", _sha(m4a))
    assert (image["kind"], image["mime"], image["sha256"]) == ("image", "image/png", _sha(png))


def test_when_no_provider_takes_every_kind_each_says_why(
    m4a: bytes, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A YouTube link (AI Studio only) beside an m4a recording (Vertex only) and an image: refused with one reason
    per provider, by `check` and by the transport's 400, and nothing reaches the upstream."""
    request = mixed_request(
        video_part(YOUTUBE),
        audio_part(_b64(m4a), "m4a"),
        image_part(f"data:image/png;base64,{_b64(image_bytes('png'))}"),
    )
    (d,) = local_router.check(request).errors
    assert d.rule == "no-provider-accepts"
    assert set(d.reasons) == {"google-vertex", "google-ai-studio"}
    assert "YouTube" in d.reasons["google-vertex"]
    assert "m4a" in d.reasons["google-ai-studio"]
    with httpx.Client(transport=router.RouterTransport(local_router), headers=AUTH, timeout=30) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["reasons"] == d.reasons
    assert upstream.requests == []


def test_each_part_is_judged_by_its_own_kind(local_router: router.Router) -> None:
    """A video beside an image to Claude, which takes images but not video: one `model-lacks-video` finding,
    named `video`, and nothing said against the image."""
    request = mixed_request(video_part(YOUTUBE), image_part("https://img.example.com/cat.png"), model=CLAUDE)
    (d,) = local_router.check(request).errors
    assert (d.rule, d.kind) == ("model-lacks-video", "video")
    assert all(x.kind != "image" for x in local_router.check(request).diagnostics)


def test_a_mixed_request_through_the_proxy(
    m4a: bytes,
    serve_image: Callable[[bytes], tuple[str, str]],
    case_url: CaseUrl,
    media_server: MediaServer,
    clips: dict[str, Path],
    upstream: FakeOpenRouter,
    local_router: router.Router,
) -> None:
    """`router serve` (in a thread) downloads a video URL and an image URL of one request once each, inlines
    both beside the m4a recording, and routes it to Vertex; the SDK gets the upstream's answer."""
    png = image_bytes("png")
    image_url, image_target = serve_image(png)
    video_url, video_target = case_url("/clip.webm")
    messages: Any = mixed_request(video_part(video_url), audio_part(_b64(m4a), "m4a"), image_part(image_url))
    with make_server(local_router, "127.0.0.1", 0, upstream.base_url, api_key="") as server:
        client = openai.OpenAI(base_url=server.url + "/api/v1", api_key="sk-test", max_retries=0, timeout=30)
        reply = client.chat.completions.create(model=GEMINI, messages=messages["messages"])
    summary = json.loads(reply.choices[0].message.content or "")
    assert summary["provider"] == "google-vertex"
    assert summary["videos"][0]["sha256"] == _sha(clips["webm"].read_bytes())
    assert [p["sha256"] for p in summary["parts"]] == [_sha(m4a), _sha(png)]
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-vertex"]}
    assert (media_server.hits(video_target), media_server.hits(image_target)) == (1, 1)


async def test_a_mixed_responses_request_through_the_async_transport(
    m4a: bytes, serve_image: Callable[[bytes], tuple[str, str]], upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """The Responses API with `input_video`, `input_audio` and `input_image` items, through the async transport:
    the image item becomes a data URL string and the request goes to Vertex."""
    png = image_bytes("png")
    url, _ = serve_image(png)
    audio = {"type": "input_audio", "input_audio": {"data": _b64(m4a), "format": "m4a"}}
    video = {"type": "input_video", "video_url": video_data_url("mp4")}
    request = mixed_request(video, audio, image_part(url, "responses"), api="responses")
    http = httpx.AsyncClient(transport=router.AsyncRouterTransport(local_router))
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test", http_client=http) as client:
        reply = await client.responses.create(**request)
    assert json.loads(reply.output_text)["provider"] == "google-vertex"
    item = upstream.requests[-1].json()["input"][0]["content"][3]
    assert item == {"type": "input_image", "image_url": f"data:image/png;base64,{_b64(png)}"}


def test_fit_fits_each_kind_of_a_mixed_request(
    m4a: bytes, tmp_path: Path, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A Matroska video and a BMP image with the m4a recording: refused without fit (`unsupported-format` for
    each, kind named), and with fit the video is remuxed to mp4 and the image converted, the audio untouched."""
    mkv = make_clip(tmp_path / "clip.mkv").read_bytes()
    request = mixed_request(
        video_part(f"data:video/x-matroska;base64,{_b64(mkv)}"),
        audio_part(_b64(m4a), "m4a"),
        image_part(f"data:image/bmp;base64,{_b64(image_bytes('bmp'))}"),
    )
    found = local_router.check(request).errors
    assert [(d.rule, d.kind, d.fit) for d in found] == [
        ("unsupported-format", "video", True),
        ("unsupported-format", "image", True),
    ]
    with router.Router(fit=True) as fitting, httpx.Client(transport=router.RouterTransport(fitting), headers=AUTH) as c:
        response = c.post(upstream.chat_url, json=request, timeout=60)
    assert response.status_code == 200, response.text
    summary = upstream.requests[-1].summary
    assert (summary["provider"], summary["videos"][0]["mime"]) == ("google-vertex", "video/mp4")
    audio, image = summary["parts"]
    assert audio["sha256"] == _sha(m4a)
    assert image["mime"] in ("image/jpeg", "image/png")
    sent = upstream.requests[-1].json()["messages"][0]["content"][3]["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(sent.split(",", 1)[1]))) as img:
        assert img.size == (96, 64)
