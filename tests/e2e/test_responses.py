"""OpenRouter's Responses API and the legacy chat part (issue 11, parts 1 and 2): a video in a Responses
request gets the same answer as the same video in a chat request, through every door."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
from clips import data_url
from payloads import GEMINI, TEXT_ONLY, YOUTUBE, responses_request, video_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.cli import main

CaseUrl = Callable[[str], tuple[str, str]]


def _sdk(r: router.Router, upstream: FakeOpenRouter) -> openai.OpenAI:
    http = httpx.Client(transport=router.RouterTransport(r))
    return openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)


def _asdk(r: router.Router, upstream: FakeOpenRouter) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(transport=router.AsyncRouterTransport(r))
    return openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)


def test_responses_create_inlines_and_routes(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """`client.responses.create` with an https clip for Gemini: the upstream gets an `input_video` item holding
    the clip as a data URL, and `provider.only` set, exactly as for chat completions."""
    url, _ = case_url("/clip.mp4")
    request = responses_request(url)
    reply = _sdk(local_router, upstream).responses.create(**request)
    summary = json.loads(reply.output_text)
    assert summary["videos"][0]["sha256"] == hashlib.sha256(media_server.clips["mp4"]).hexdigest()
    sent = upstream.requests[-1].json()
    assert upstream.requests[-1].path == "/api/v1/responses"
    item = sent["input"][0]["content"][1]
    assert item["type"] == "input_video"
    assert item["video_url"].startswith("data:video/mp4;base64,")
    assert sent["provider"] == local_router.rewrite(video_request(url))["provider"]


async def test_async_responses_rejection_never_reaches_the_network(
    upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A YouTube link pinned to Vertex in a Responses request is the same 400 as in chat: the SDK raises
    BadRequestError with router's rule, and the upstream sees nothing."""
    async with _asdk(local_router, upstream) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.responses.create(
                **responses_request(YOUTUBE), extra_body={"provider": {"only": ["google-vertex"]}}
            )
    assert caught.value.body["metadata"]["rule"] == "url-not-accepted"  # type: ignore[index]
    assert caught.value.body["metadata"]["pointer"] == "/input/0/content/1/video_url"  # type: ignore[index]
    assert upstream.requests == []


def test_streaming_responses_are_relayed_event_by_event(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """`stream=True` on a routed Responses request yields the upstream's events, deltas and completion."""
    stream = _sdk(local_router, upstream).responses.create(**responses_request(YOUTUBE), stream=True)
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert json.loads(text)["provider"] == "google-ai-studio"
    assert json.loads(text)["videos"][0]["url"] == YOUTUBE


@pytest.mark.parametrize(
    "url",
    [YOUTUBE, "https://youtu.be/dQw4w9WgXcQ", "https://cdn.example.com/a.mp4", "http://127.0.0.1/a.mp4",
     "gs://bucket/a.mp4", "https://cdn.example.com/a.mkv", "data:video/webm;base64,AAAA", "ftp://x/y.mp4"],
)  # fmt: skip
@pytest.mark.parametrize("model", [GEMINI, TEXT_ONLY])
def test_a_responses_video_gets_the_chat_answer(url: str, model: str, strict_router: router.Router) -> None:
    """Every rule fires the same way for a video item in `input` as for a video part in `messages`."""
    chat = strict_router.check(video_request(url, model=model)).diagnostics
    responses = strict_router.check(responses_request(url, model=model)).diagnostics
    assert [(d.rule, d.message) for d in responses] == [(d.rule, d.message) for d in chat]
    assert [d.pointer.replace("/input/", "/messages/").removesuffix("/video_url") for d in responses] == [
        d.pointer.removesuffix("/video_url/url").removesuffix("/video_url") for d in chat
    ]


def test_responses_payload_files_are_checked_with_positions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`router check` reads a Responses payload file by its shape and places findings at line and column; a
    batch line whose `url` is `/v1/responses` is checked too."""
    single = tmp_path / "resp.json"
    single.write_text(json.dumps(responses_request(YOUTUBE, model=TEXT_ONLY), indent=2))
    batch = tmp_path / "batch.jsonl"
    line = {"custom_id": "1", "method": "POST", "url": "/v1/responses",
            "body": responses_request("gs://bucket/a.mp4")}  # fmt: skip
    batch.write_text(json.dumps(line) + "\n")
    assert main(["check", "--offline", "--format", "json", str(single), str(batch)]) == 1
    found = [
        (Path(d["file"]).name, d["line"], d["rule"], d["pointer"])
        for d in json.loads(capsys.readouterr().out)["diagnostics"]
    ]
    assert found == [
        ("resp.json", 2, "model-lacks-video", "/model"),
        ("batch.jsonl", 1, "url-not-accepted", "/body/input/0/content/1/video_url"),
    ]


def test_sdk_spelling_and_object_form_in_responses(strict_router: router.Router) -> None:
    """`videoUrl` is the fixable `camelcase-key` (and goes out as `video_url`); an object where the Responses
    API wants a URL string is `invalid-request`."""
    request = responses_request(YOUTUBE, key="videoUrl")
    assert [d.rule for d in strict_router.check(request).diagnostics] == ["camelcase-key"]
    item = strict_router.rewrite(request)["input"][0]["content"][1]
    assert item == {"type": "input_video", "video_url": YOUTUBE}
    wrong = responses_request(YOUTUBE)
    wrong["input"][0]["content"][1]["video_url"] = {"url": YOUTUBE}
    (d,) = strict_router.check(wrong).diagnostics
    assert (d.rule, d.pointer) == ("invalid-request", "/input/0/content/1/video_url")


def test_a_client_inlined_responses_video_is_sent_as_is(
    upstream: FakeOpenRouter, local_router: router.Router, clips: dict[str, Path]
) -> None:
    """A data URL item keeps its bytes and is routed: no download, same `provider.only` as chat."""
    url = data_url("mp4")
    reply = _sdk(local_router, upstream).responses.create(**responses_request(url))
    summary = json.loads(reply.output_text)
    assert summary["videos"][0]["kind"] == "data"
    assert upstream.requests[-1].json()["input"][0]["content"][1]["video_url"] == url


# -- the legacy chat part ------------------------------------------------------------------------------


def test_a_legacy_chat_part_goes_out_as_video_url(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A chat `input_video` part is a fixable warning in `check`, and the upstream receives `video_url`."""
    request = video_request(YOUTUBE)
    request["messages"][0]["content"][1]["type"] = "input_video"
    assert [d.rule for d in local_router.check(request).diagnostics] == ["legacy-video-part"]
    reply = _sdk(local_router, upstream).chat.completions.create(**request)
    assert json.loads(reply.choices[0].message.content or "")["provider"] == "google-ai-studio"
    assert upstream.requests[-1].json()["messages"][0]["content"][1]["type"] == "video_url"


def test_check_fix_rewrites_the_legacy_part_type(tmp_path: Path) -> None:
    """`router check --fix` changes `"input_video"` to `"video_url"` in the file and nothing else."""
    request = video_request(YOUTUBE)
    request["messages"][0]["content"][1]["type"] = "input_video"
    path = tmp_path / "legacy.json"
    original = json.dumps(request, indent=2)
    path.write_text(original)
    assert main(["check", "--offline", "--fix", str(path)]) == 0
    assert path.read_text() == original.replace('"input_video"', '"video_url"')
