"""What goes upstream is exactly what the caller meant, and no spelling of a URL shows its secret (issue 8,
parts 2 and 3), through the transports with real clients against the strict fake upstream."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import openai
import pytest
import zstandard
from clips import clip_bytes, data_url
from payloads import YOUTUBE, text_request, video_request
from servers import MediaServer, padded_mp4
from upstream import FakeOpenRouter

import router
from router.cli import main

AUTH = {"Authorization": "Bearer test", "Content-Type": "application/json"}
CaseUrl = Callable[[str], tuple[str, str]]


def _client(r: router.Router) -> httpx.Client:
    return httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=10)


def _sdk(r: router.Router, upstream: FakeOpenRouter) -> openai.OpenAI:
    http = httpx.Client(transport=router.RouterTransport(r))
    return openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)


def _summary(response: httpx.Response) -> Any:
    return json.loads(response.json()["choices"][0]["message"]["content"])


# -- JSON fidelity ---------------------------------------------------------------------------------------


def test_untouched_values_reach_the_upstream_as_written(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """`1e400` (valid JSON, too big for a float) and every other byte the rewrite does not change arrive as the
    client wrote them; only the video URL and the routing field differ."""
    url, _ = case_url("/clip.mp4")
    text = (
        '{ "model" : "google/gemini-2.5-flash", "temperature": 1e400, "top_p": 1.0, "seed": 12345678901234567890,\n'
        '  "messages": [{"role": "user", "content": [{"type": "text", "text": "caf\\u00e9 \\ud83c\\udfa5"},\n'
        f'    {{"type": "video_url", "video_url": {{"url": "{url}"}}}}]}}]}}'
    )
    with _client(local_router) as client:
        assert client.post(upstream.chat_url, content=text.encode()).status_code == 200
    sent = upstream.requests[-1].body.decode()
    assert sent.startswith('{"provider":{"only":["google-vertex","google-ai-studio"]}, "model" : "google/gemini-2.5')
    assert '"temperature": 1e400, "top_p": 1.0, "seed": 12345678901234567890,\n' in sent
    assert (
        '"text": "caf\\u00e9 \\ud83c\\udfa5"},\n    {"type": "video_url", "video_url": {"url": "data:video/mp4' in sent
    )


def test_cli_rewrite_keeps_the_files_own_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`router rewrite` edits the request file's text: formatting, key order and number text stay."""
    path = tmp_path / "req.json"
    body = video_request("https://youtube.com/shorts/dQw4w9WgXcQ", temperature=0.5)
    path.write_text(json.dumps(body, indent=2).replace("0.5", "5e-1"))
    assert main(["rewrite", str(path)]) == 0
    out = capsys.readouterr().out
    assert '  "temperature": 5e-1\n' in out
    assert f'"url": "{YOUTUBE}"' in out
    assert json.loads(out)["provider"] == {"only": ["google-ai-studio"]}


def test_rewrite_returns_a_dict_that_shares_nothing_with_the_input() -> None:
    """Mutating what `rewrite` returns never reaches the caller's request."""
    request = video_request(YOUTUBE, metadata={"tags": ["a"]})
    out = router.Router().rewrite(request)
    out["metadata"]["tags"].append("b")
    out["messages"][0]["content"].clear()
    assert request["metadata"] == {"tags": ["a"]}
    assert len(request["messages"][0]["content"]) == 2


def test_a_dict_with_nan_is_refused_before_sending() -> None:
    """A dict that JSON cannot carry (NaN) is `invalid-request` in check and rewrite alike, not an Infinity body."""
    request = video_request(YOUTUBE, temperature=float("nan"))
    (d,) = router.Router().check(request).errors
    assert (d.rule, d.pointer) == ("invalid-request", "/temperature")
    with pytest.raises(router.RequestRejected):
        router.Router().rewrite(request)


# -- compressed request bodies ---------------------------------------------------------------------------

_CODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("coding", sorted(_CODINGS))
def test_a_compressed_request_is_checked_like_any_other(
    coding: str, upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl
) -> None:
    """A compressed chat completion is decoded and checked: a YouTube link pinned to Vertex is refused with
    router's own 400, and an https clip arrives inlined, uncompressed, without `Content-Encoding`."""
    compress = _CODINGS[coding]
    headers = {"Content-Encoding": coding}
    bad = json.dumps(video_request(YOUTUBE, only=["google-vertex"])).encode()
    url, _ = case_url("/clip.mp4")
    good = json.dumps(video_request(url)).encode()
    with _client(local_router) as client:
        refused = client.post(upstream.chat_url, content=compress(bad), headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["metadata"]["rule"] == "url-not-accepted"
        assert upstream.requests == []
        assert client.post(upstream.chat_url, content=compress(good), headers=headers).status_code == 200
    received = upstream.requests[-1]
    assert "content-encoding" not in received.headers
    assert received.json()["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;base64,")


def test_a_compressed_text_only_request_passes_untouched(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """Without a video in it, a gzip body is forwarded as the client sent it, still compressed."""
    body = gzip.compress(json.dumps(text_request()).encode())
    with _client(local_router) as client:
        client.post(upstream.chat_url, content=body, headers={"Content-Encoding": "gzip"})
    (received,) = upstream.requests
    assert received.body == body
    assert received.headers["content-encoding"] == "gzip"


def test_a_decompression_bomb_and_unknown_codings_are_refused(
    upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A gzip body that would expand a thousandfold is stopped (413), an unknown coding is a 400; neither
    reaches the upstream."""
    squeezer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = (
        b"".join(squeezer.compress(b'{"messages": "video_url' + bytes(1 << 20)) for _ in range(20)) + squeezer.flush()
    )
    with _client(local_router) as client:
        too_big = client.post(upstream.chat_url, content=bomb, headers={"Content-Encoding": "gzip"})
        unknown = client.post(upstream.chat_url, content=b"{}", headers={"Content-Encoding": "lzma"})
    assert too_big.status_code == 413
    assert unknown.status_code == 400
    assert "lzma" in unknown.json()["error"]["message"]
    assert upstream.requests == []


# -- MIME type names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "sent"), [("video/quicktime", "video/mov"), ("VIDEO/MP4", "video/mp4"),
                                                ("video/x-m4v", "video/mp4")])  # fmt: skip
def test_the_upstream_only_sees_documented_type_names(
    declared: str, sent: str, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """Another spelling of a documented type is a fixable warning in `check` and goes out renamed."""
    suffix = "mov" if sent == "video/mov" else "mp4"
    url = data_url(suffix, mime=declared)
    assert [d.rule for d in local_router.check(video_request(url)).diagnostics] == ["mime-alias"]
    reply = _sdk(local_router, upstream).chat.completions.create(**video_request(url))
    assert reply.choices[0].message.content
    received = upstream.requests[-1].json()["messages"][0]["content"][1]["video_url"]["url"]
    assert received.startswith(f"data:{sent};base64,")
    assert base64.b64decode(received.split(",", 1)[1]) == clip_bytes(suffix)


def test_check_fix_renames_the_type(tmp_path: Path) -> None:
    """`router check --fix` rewrites `video/quicktime` to `video/mov` in the file, and nothing else."""
    path = tmp_path / "req.json"
    original = json.dumps(video_request(data_url("mov", mime="video/quicktime")), indent=2)
    path.write_text(original)
    assert main(["check", "--offline", "--fix", str(path)]) == 0
    assert path.read_text() == original.replace("data:video/quicktime;", "data:video/mov;")


# -- damaged videos --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["mp4", "mov", "webm"])
def test_a_truncated_data_url_is_refused(suffix: str, upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A video cut short (its container says more bytes follow) is `format-mismatch`, and is not uploaded."""
    whole = clip_bytes(suffix, seconds=2)
    url = f"data:video/{suffix};base64," + base64.b64encode(whole[: len(whole) * 9 // 10]).decode()
    with pytest.raises(openai.BadRequestError) as caught:
        _sdk(local_router, upstream).chat.completions.create(**video_request(url))
    assert "format-mismatch" in str(caught.value)
    assert "truncated" in str(caught.value)
    assert upstream.requests == []


def test_a_download_shorter_than_the_file_is_refused(
    upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer, case_url: CaseUrl
) -> None:
    """A server that declares a shorter Content-Length than the video hands over a truncated file: refused
    (`format-mismatch`), never uploaded, never cached."""
    size = len(media_server.clips["mp4"])
    url, _ = case_url(f"/short?n={size}&claim={size - 200}")
    report = local_router.check(video_request(url), online=True)
    assert [d.rule for d in report.errors] == ["format-mismatch"]
    assert "truncated" in report.errors[0].message
    with _client(local_router) as client:
        assert client.post(upstream.chat_url, json=video_request(url)).status_code == 400
    assert upstream.requests == []


# -- YouTube forms ---------------------------------------------------------------------------------------


def test_a_playlist_player_is_not_a_video(local_router: router.Router) -> None:
    """`embed/videoseries?list=...` plays a playlist: `url-not-accepted`, never `watch?v=videoseries`."""
    url = "https://www.youtube.com/embed/videoseries?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    (d,) = local_router.check(video_request(url)).errors
    assert d.rule == "url-not-accepted"
    assert "not a video link" in d.message


def test_a_trailing_dot_youtube_host_is_youtube(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """`www.youtube.com.` is YouTube: routed to AI Studio as a watch link, never downloaded as a page."""
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request("https://www.youtube.com./watch?v=dQw4w9WgXcQ"))
    assert response.status_code == 200
    assert _summary(response)["provider"] == "google-ai-studio"
    assert _summary(response)["videos"][0]["url"] == YOUTUBE


# -- secrets and agreement -------------------------------------------------------------------------------


SPELLINGS = [
    " http://bob:SECRET@10.1.2.3/v.mp4",
    "\thttp://bob:SECRET@10.1.2.3/v.mp4 ",
    "http://bob:SE%2FCRET@10.1.2.3/v.mp4",
    "HTTP://bob:SECRET@10.1.2.3/v.mp4",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_no_spelling_of_a_url_shows_its_password(
    spelling: str, upstream: FakeOpenRouter, strict_router: router.Router, caplog: pytest.LogCaptureFixture
) -> None:
    """Whitespace, a slash in the password or an upper-case scheme: the password is in no diagnostic, no 400
    body the SDK receives and no log line."""
    caplog.set_level(logging.INFO, logger="router")
    report = strict_router.check(video_request(spelling))
    assert [d.rule for d in report.errors] == ["blocked-url"]
    with pytest.raises(openai.BadRequestError) as caught:
        _sdk(strict_router, upstream).chat.completions.create(**video_request(spelling))
    shown = " ".join(d.message for d in report.diagnostics) + str(caught.value) + json.dumps(caught.value.body)
    shown += caplog.text
    assert "10.1.2.3" in shown
    assert "CRET" not in shown
    assert "bob" not in shown


def test_a_url_with_surrounding_whitespace_is_one_url_everywhere(
    upstream: FakeOpenRouter, local_router: router.Router, case_url: CaseUrl, media_server: MediaServer
) -> None:
    """` <url> ` passes the online check and is downloaded by the rewrite alike (both strip it)."""
    url, _ = case_url("/clip.mp4")
    padded = f"  {url}\n"
    assert local_router.check(video_request(padded), online=True).ok
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request(padded))
    assert response.status_code == 200
    assert _summary(response)["videos"][0]["sha256"] == hashlib.sha256(media_server.clips["mp4"]).hexdigest()


def test_the_400_speaks_openrouters_error_vocabulary(upstream: FakeOpenRouter, local_router: router.Router) -> None:
    """A rejection carries the rule, the pointer and each provider's reason in `error.metadata`."""
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=video_request("gs://bucket/clip.mp4"))
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["metadata"]["rule"] == "url-not-accepted"
    assert error["metadata"]["pointer"] == "/messages/0/content/1/video_url/url"
    assert set(error["metadata"]["reasons"]) == {"google-vertex", "google-ai-studio"}
    assert error["metadata"]["diagnostics"][0]["rule"] == "url-not-accepted"


# -- big bodies: videos the client inlined itself -------------------------------------------------------


def _big_mp4(media_server: MediaServer) -> bytes:
    return b"".join(padded_mp4(media_server.clips["mp4"], 3_000_000))


@pytest.mark.parametrize("declared", ["video/mp4", "video/quicktime"])
@pytest.mark.parametrize("escaped", [False, True])
def test_a_client_inlined_video_goes_out_byte_for_byte(
    declared: str, escaped: bool, upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer
) -> None:
    """A 3 MB data URL in the client's body is routed and sent with its payload untouched (renamed type only),
    also when the client escaped its slashes (`\\/`, as PHP's encoder does)."""
    video = _big_mp4(media_server)
    payload = base64.b64encode(video).decode()
    url = f"data:{declared};base64,{payload}"
    text = json.dumps(video_request(url))
    if escaped:
        text = text.replace("/", "\\/")
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=text.encode())
    assert response.status_code == 200, response.text
    assert _summary(response)["videos"][0]["sha256"] == hashlib.sha256(video).hexdigest()
    sent = upstream.requests[-1].json()
    assert sent["messages"][0]["content"][1]["video_url"]["url"] == url.replace("quicktime", "mov")
    assert sent["provider"] == {"only": ["google-vertex", "google-ai-studio"]}


def test_a_spooled_body_is_read_from_its_spool(
    upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer
) -> None:
    """A body handed over as a `BodyStream` (the proxy's spool on disk) is checked and sent from the spool."""
    from router._model.body import Body
    from router.transport import BodyStream

    video = _big_mp4(media_server)
    text = json.dumps(video_request("data:video/mp4;base64," + base64.b64encode(video).decode())).encode()
    with Body() as body:
        for i in range(0, len(text), 65536):
            body.write(text[i : i + 65536])
        assert not body.in_memory
        with _client(local_router) as client:
            request = client.build_request("POST", upstream.chat_url)
            request = httpx.Request(
                "POST", upstream.chat_url, headers=request.headers, stream=BodyStream(body.finish())
            )
            response = client.send(request)
    assert response.status_code == 200
    assert _summary(response)["videos"][0]["sha256"] == hashlib.sha256(video).hexdigest()
