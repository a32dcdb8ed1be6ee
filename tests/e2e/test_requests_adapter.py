"""``requests`` through router: a Session with ``router.RequestsAdapter`` mounted, as its users write it."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from docblocks import DOCS_KEY, DocsExample
from payloads import GEMINI, TEXT_ONLY, video_request
from requests.adapters import HTTPAdapter
from servers import MediaServer, Sink
from upstream import FakeOpenRouter
from urllib3.util.retry import Retry

import router

AUTH = {"Authorization": "Bearer test"}
CaseUrl = Callable[[str], tuple[str, str]]


@pytest.fixture
def session(upstream: FakeOpenRouter, local_router: router.Router) -> Iterator[requests.Session]:
    """What a user writes: a Session with the adapter mounted on the OpenRouter prefix, and a key."""
    with requests.Session() as s:
        s.mount(f"{upstream.origin}/", router.RequestsAdapter(local_router))
        s.headers["Authorization"] = "Bearer test"
        yield s


def _video_url(received: Any) -> str:
    url: str = received.json()["messages"][0]["content"][1]["video_url"]["url"]
    return url


def test_the_docs_example_sends_the_clip_inlined(
    upstream: FakeOpenRouter, docs_example: DocsExample, clip_sha: dict[str, str]
) -> None:
    """The lines docs/clients-http.md gives requests users, run as written with OpenRouter and the clip on loopback,
    send the clip inlined with the key from the environment and print the answer."""
    docs_example.run("clients-http.md", "requests")
    answer = docs_example.answer()
    assert [(v["kind"], v["sha256"]) for v in answer["videos"]] == [("data", clip_sha["mp4"])]
    seen = upstream.requests[-1]
    assert seen.headers["authorization"] == f"Bearer {DOCS_KEY}"
    assert seen.content_length == seen.body_size


def test_a_video_url_is_inlined_with_an_exact_length(
    session: requests.Session, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """A clip's URL for Vertex reaches the upstream as a data URL of the clip's bytes, sent with an exact
    Content-Length and no chunked framing, the caller's headers kept."""
    url, _ = case_url("/clip.mp4")
    response = session.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]), timeout=10)
    assert response.status_code == 200, response.text
    seen = upstream.requests[-1]
    assert _video_url(seen).startswith("data:video/mp4;base64,")
    assert seen.summary["videos"][0]["sha256"] == clip_sha["mp4"]
    assert seen.content_length == seen.body_size
    assert "transfer-encoding" not in seen.headers
    assert seen.headers["authorization"] == "Bearer test"


def test_a_youtube_link_is_routed_to_ai_studio(session: requests.Session, upstream: FakeOpenRouter) -> None:
    """A YouTube Shorts link to Gemini goes out as a watch?v= link with ``provider.only`` set to AI Studio."""
    response = session.post(upstream.chat_url, json=video_request("https://youtube.com/shorts/dQw4w9WgXcQ"))
    assert response.status_code == 200, response.text
    sent = upstream.requests[-1].json()
    assert sent["provider"]["only"] == ["google-ai-studio"]
    assert _video_url(upstream.requests[-1]) == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_a_rejection_is_a_400_that_raise_for_status_raises(
    session: requests.Session, upstream: FakeOpenRouter, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """A video for a text-only model is answered 400 here, nothing downloaded or sent; ``raise_for_status()``
    raises ``requests.HTTPError`` whose message and response carry the router's words."""
    url, target = case_url("/clip.mp4")
    response = session.post(upstream.chat_url, json=video_request(url, model=TEXT_ONLY))
    assert response.status_code == 400
    assert response.request.url == upstream.chat_url
    error = response.json()["error"]
    assert [d["rule"] for d in error["metadata"]["diagnostics"]] == ["model-lacks-video"]
    with pytest.raises(requests.HTTPError, match=r"400 Client Error: request rejected: model-lacks-video") as caught:
        response.raise_for_status()
    assert caught.value.response is not None
    assert caught.value.response.json()["error"]["message"] == error["message"]
    assert upstream.requests == []
    assert media_server.hits(target) == 0


def test_a_rejection_reads_like_any_response_when_streamed(session: requests.Session, upstream: FakeOpenRouter) -> None:
    """With ``stream=True`` the 400 made here is read with ``iter_content`` like one from the network."""
    response = session.post(upstream.chat_url, json=video_request("ftp://example.com/a.mp4"), stream=True)
    body = b"".join(response.iter_content(chunk_size=7))
    assert response.status_code == 400
    assert json.loads(body)["error"]["metadata"]["rule"] == "url-not-accepted"
    assert response.headers["content-length"] == str(len(body))
    assert upstream.requests == []


def test_a_text_request_goes_out_byte_for_byte(session: requests.Session, upstream: FakeOpenRouter) -> None:
    """A request without video reaches the upstream with exactly the bytes requests made, as without router."""
    request = {"model": TEXT_ONLY, "messages": [{"role": "user", "content": "Say hi. Mention video_url. é"}]}
    routed = session.post(upstream.chat_url, json=request)
    plain = requests.post(upstream.chat_url, json=request, headers={"Authorization": "Bearer test"}, timeout=10)
    assert routed.status_code == plain.status_code == 200
    first, second = upstream.requests
    assert first.body == routed.request.body == second.body
    assert first.headers["content-length"] == second.headers["content-length"]


def test_a_streamed_text_body_goes_out_as_streamed(session: requests.Session, upstream: FakeOpenRouter) -> None:
    """A text body the caller streams (a generator) is read to be screened, then sent with the same bytes and the
    same chunked framing."""
    raw = json.dumps({"model": TEXT_ONLY, "messages": [{"role": "user", "content": "hi"}]}).encode()
    response = session.post(upstream.chat_url, data=iter([raw[:20], raw[20:]]))
    assert response.status_code == 200, response.text
    seen = upstream.requests[-1]
    assert seen.body == raw
    assert seen.headers["transfer-encoding"] == "chunked"


def test_a_streamed_video_body_is_rewritten_with_an_exact_length(
    session: requests.Session, upstream: FakeOpenRouter, case_url: CaseUrl, clip_sha: dict[str, str]
) -> None:
    """A video request the caller streams (chunked) goes out inlined with a Content-Length and no chunked framing."""
    url, _ = case_url("/clip.webm")
    raw = json.dumps(video_request(url, only=["google-vertex"])).encode()
    response = session.post(upstream.chat_url, data=iter([raw[:50], raw[50:]]))
    assert response.status_code == 200, response.text
    seen = upstream.requests[-1]
    assert "transfer-encoding" not in seen.headers
    assert seen.content_length == seen.body_size > len(raw)
    assert seen.summary["videos"][0]["sha256"] == clip_sha["webm"]


def test_a_gzip_body_is_checked_and_sent_plain(
    session: requests.Session, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """A gzip-compressed video request is decoded and routed, and goes out uncompressed with its exact length;
    a gzip text request goes out as sent, still compressed."""
    url, _ = case_url("/clip.mp4")
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    packed = gzip.compress(json.dumps(video_request(url, only=["google-vertex"])).encode())
    assert session.post(upstream.chat_url, data=packed, headers=headers).status_code == 200
    routed = upstream.requests[-1]
    assert "content-encoding" not in routed.headers
    assert routed.content_length == routed.body_size
    assert _video_url(routed).startswith("data:video/mp4;base64,")
    text = gzip.compress(json.dumps({"model": TEXT_ONLY, "messages": [{"role": "user", "content": "hi"}]}).encode())
    session.post(upstream.chat_url, data=text, headers=headers)
    assert upstream.requests[-1].body == text
    assert upstream.requests[-1].headers["content-encoding"] == "gzip"


def test_other_paths_and_methods_pass_through(session: requests.Session, upstream: FakeOpenRouter) -> None:
    """A POST to another endpoint and a GET are the upstream's business, even when they mention a video."""
    body = b'{"video_url": not json at all'
    assert session.post(f"{upstream.base_url}/embeddings", data=body).status_code == 404
    assert upstream.requests[-1].body == body
    assert session.get(upstream.chat_url).status_code == 404


def test_a_stream_is_relayed_event_by_event(
    session: requests.Session, upstream: FakeOpenRouter, case_url: CaseUrl
) -> None:
    """With ``stream=True`` and ``iter_lines`` the first SSE event arrives while the upstream holds back the rest."""
    url, _ = case_url("/clip.mp4")
    upstream.stream_gate = gate = threading.Event()
    request = video_request(url, only=["google-vertex"], stream=True)
    lines = []
    with session.post(upstream.chat_url, json=request, stream=True) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if b'"content": "{' in line:  # the first content chunk
                assert upstream.stream_paused.is_set()
                gate.set()
            lines.append(line)
    assert gate.is_set()
    assert [line for line in lines if line][-1] == b"data: [DONE]"


def test_wrapped_adapter_sends(upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl) -> None:
    """``wrapped`` is the adapter that sends: it gets the rewritten request, with one exact Content-Length."""
    sent: list[requests.PreparedRequest] = []

    class Recording(HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            sent.append(request)
            return super().send(request, *args, **kwargs)

    url, _ = case_url("/clip.mp4")
    with requests.Session() as s:
        s.mount(f"{upstream.origin}/", router.RequestsAdapter(local_router, wrapped=Recording()))
        original = s.prepare_request(
            requests.Request("POST", upstream.chat_url, json=video_request(url, only=["google-vertex"]))
        )
        original.headers["Authorization"] = "Bearer test"
        body = original.body
        response = s.send(original)
    assert response.status_code == 200, response.text
    (request,) = sent
    assert request.headers["Content-Length"] == str(upstream.requests[-1].body_size)
    assert not isinstance(request.body, bytes)  # streamed, not materialised
    assert original.body is body  # the caller's request is unchanged
    assert original.headers["Content-Length"] == str(len(body or b""))


def test_a_retry_of_the_wrapped_adapter_resends_the_whole_body(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """urllib3's retries (a ``wrapped`` adapter's) send the whole rewritten body each time; the video downloads once."""
    url, target = case_url("/clip.mp4")
    upstream.fail_with = (502, "bad gateway")
    retry = Retry(total=2, status_forcelist=[502], allowed_methods=None, raise_on_status=False, backoff_factor=0)
    with requests.Session() as s:
        s.mount(f"{upstream.origin}/", router.RequestsAdapter(local_router, wrapped=HTTPAdapter(max_retries=retry)))
        response = s.post(upstream.chat_url, json=video_request(url, only=["google-vertex"]), headers=AUTH)
    assert response.status_code == 502
    assert [r.status for r in upstream.requests] == [502, 502, 502]
    assert len({r.body for r in upstream.requests}) == 1
    assert all(r.content_length == r.body_size > 1000 for r in upstream.requests)
    assert media_server.hits(target) == 1


def test_missing_requests_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without requests, ``router.RequestsAdapter`` fails with the pip command that fixes it."""
    monkeypatch.setitem(sys.modules, "requests", None)
    monkeypatch.delitem(sys.modules, "router._transports.requests_adapter", raising=False)
    monkeypatch.delattr(router._transports, "requests_adapter", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'router\[requests\]'"):
        router.RequestsAdapter  # noqa: B018 - the attribute access is the import


# -- memory -------------------------------------------------------------------------------------------------


def test_a_60_mb_video_is_inlined_in_flat_memory(local_router: router.Router, media_server: MediaServer) -> None:
    """Inlining a 60 MB video (80 MB of base64) through the adapter allocates a few megabytes at most: the body is
    streamed from the spool, never joined."""
    size = 60_000_000
    request = video_request(media_server.url(f"/big?n={size}"), model=GEMINI, only=["google-vertex"])
    with Sink() as sink, requests.Session() as s:
        s.mount(f"{sink.origin}/", router.RequestsAdapter(local_router))
        tracemalloc.start()
        try:
            response = s.post(sink.chat_url, json=request, timeout=30)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 200
    [(got, headers)] = sink.received
    assert got == int(headers["content-length"]) > size * 4 // 3
    assert "transfer-encoding" not in headers

    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB"
