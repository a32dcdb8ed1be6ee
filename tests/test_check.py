"""Every rule fires on a realistic payload and stays silent on a clean one (offline checks)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import av
import pytest
from clips import clip_bytes, data_url
from payloads import GEMINI, TEXT_ONLY, YOUTUBE, text_request, video_request

import router


def rules(report: router.Report) -> list[str]:
    return [d.rule for d in report.diagnostics]


@pytest.fixture(scope="module")
def r() -> router.Router:
    return router.Router()


@pytest.fixture
def tiny_limits(tmp_path: Path) -> router.Router:
    """A router whose Vertex takes inline videos of at most 1,000 bytes and AI Studio requests of 2,000."""
    table = tmp_path / "limits.yaml"
    table.write_text(
        "providers:\n  google-vertex: {max_video_bytes: 1000}\n  google-ai-studio: {max_request_bytes: 2000}\n"
    )
    return router.Router(table)


def png_bytes(tmp_path: Path) -> bytes:
    """A real PNG image, encoded by FFmpeg's PNG encoder."""
    path = tmp_path / "frame.png"
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "rgb24"
        frame = av.VideoFrame(16, 16, "rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path.read_bytes()


# -- clean payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["mp4", "webm", "mov", "mpeg"])
def test_real_clip_as_data_url_is_clean(r: router.Router, suffix: str) -> None:
    """A real clip in each OpenRouter format, declared correctly, gives no diagnostic at all."""
    report = r.check(video_request(data_url(suffix)))
    assert report.diagnostics == []
    assert report.ok


def test_youtube_link_to_gemini_is_clean(r: router.Router) -> None:
    """With no provider pinned, a YouTube link to a Gemini model is fine: AI Studio takes it."""
    assert r.check(video_request(YOUTUBE)).diagnostics == []


def test_text_only_request_to_text_model_is_clean(r: router.Router) -> None:
    """A request without video parts is never second-guessed, whatever the model."""
    assert r.check(text_request()).diagnostics == []


def test_check_never_mutates_the_callers_request(r: router.Router) -> None:
    """Checking reads the request and leaves the caller's object exactly as it was."""
    payload = video_request(YOUTUBE, "https://cdn.example.com/a.mp4", key="videoUrl")
    before = json.dumps(payload, sort_keys=True)
    r.check(payload)
    r.rewrite(video_request(YOUTUBE))
    assert json.dumps(payload, sort_keys=True) == before


# -- one test per rule -------------------------------------------------------------------------------


def test_invalid_json_has_line_and_column(r: router.Router) -> None:
    """Broken JSON is `invalid-json` at the decoder's line and column."""
    report = r.check('{\n  "model": "x",\n  "messages": [\n}')
    (d,) = report.diagnostics
    assert (d.rule, d.line, d.column) == ("invalid-json", 4, 1)


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"model": GEMINI}, ""),
        ([1, 2], ""),
        (
            {"model": GEMINI, "messages": [{"role": "user", "content": [{"type": "video_url", "video_url": 3}]}]},
            "/messages/0/content/0/video_url",
        ),
        (
            {"model": GEMINI, "messages": [{"role": "user", "content": [{"type": "video_url"}]}]},
            "/messages/0/content/0",
        ),
        ({"model": GEMINI, "messages": [{"role": "user", "content": 7}]}, "/messages/0/content"),
    ],
)
def test_invalid_request(r: router.Router, payload: Any, pointer: str) -> None:
    """Requests without a messages list or with malformed video parts are `invalid-request` at the spot."""
    report = r.check(payload)
    assert [(d.rule, d.pointer) for d in report.diagnostics] == [("invalid-request", pointer)]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"model": GEMINI, "prompt": "What happens in this video?"}, "the request has no `messages` list"),
        ({"model": GEMINI, "input": 5}, "the request has no `input` string or list"),
    ],
)
def test_a_request_without_messages_says_what_it_lacks(r: router.Router, payload: Any, message: str) -> None:
    """A chat request without `messages`, or a Responses request whose `input` is neither text nor a list, is
    `invalid-request` with a sentence that names the missing field."""
    assert [(d.rule, d.message) for d in r.check(payload).diagnostics] == [("invalid-request", message)]


@pytest.mark.parametrize(
    ("extra", "pointer"),
    [
        ({"model": 5}, "/model"),
        ({"provider": "google-vertex"}, "/provider"),
        ({"provider": {"only": "google-vertex"}}, "/provider/only"),
        ({"provider": {"order": 5}}, "/provider/order"),
        ({"provider": {"ignore": [None]}}, "/provider/ignore"),
        ({"provider": {"allow_fallbacks": "no"}}, "/provider/allow_fallbacks"),
    ],
)
def test_malformed_routing_fields_are_invalid_request(r: router.Router, extra: dict[str, Any], pointer: str) -> None:
    """A field routing reads with the wrong type is named at its place, not misreported as a routing failure."""
    report = r.check(video_request(YOUTUBE, **extra))
    assert ("invalid-request", pointer) in [(d.rule, d.pointer) for d in report.diagnostics]
    assert not report.ok


def test_a_part_with_both_spellings_is_never_sent_half_checked(r: router.Router) -> None:
    """`video_url` and `videoUrl` in one part: which the upstream reads is unknown, so the part is refused."""
    part = {"type": "video_url", "video_url": {"url": YOUTUBE}, "videoUrl": {"url": "http://10.0.0.1/v.mp4"}}
    payload = {"model": GEMINI, "messages": [{"role": "user", "content": [part]}]}
    assert [(d.rule, d.pointer) for d in r.check(payload).diagnostics] == [("invalid-request", "/messages/0/content/0")]


def test_unknown_model_is_a_warning(r: router.Router) -> None:
    """A model missing from the table warns but does not fail; the parts are still checked."""
    report = r.check(video_request(YOUTUBE, "ftp://example.com/a.mp4", model="acme/vision-9000"))
    assert rules(report) == ["unknown-model", "url-not-accepted"]
    assert report.diagnostics[0].severity == "warning"


def test_model_lacks_video(r: router.Router) -> None:
    """A video part sent to a text-and-image model is `model-lacks-video`, not `unknown-model`."""
    report = r.check(video_request(YOUTUBE, model=TEXT_ONLY))
    assert "model-lacks-video" in rules(report)
    assert "unknown-model" not in rules(report)
    assert not report.ok


def test_unknown_provider_from_command_line_and_request(r: router.Router) -> None:
    """Providers the table does not know are errors, from `--provider` and from `provider.only`."""
    assert "unknown-provider" in rules(r.check(video_request(YOUTUBE), provider="acme-cloud"))
    report = r.check(video_request(YOUTUBE, only=["google-ai-studio", "nowhere"]))
    assert [(d.rule, d.pointer) for d in report.diagnostics] == [("unknown-provider", "/provider/only/1")]


def test_provider_variant_tag_follows_its_base_slug(r: router.Router) -> None:
    """`google-vertex/us-east5` gets Vertex's rules: a YouTube link is refused."""
    report = r.check(video_request(YOUTUBE), provider="google-vertex/us-east5")
    assert rules(report) == ["url-not-accepted"]


def test_url_needs_inline_is_a_fixable_warning(r: router.Router) -> None:
    """A plain https video URL to Gemini must be downloaded and inlined: a warning, still dispatchable."""
    report = r.check(video_request("https://cdn.example.com/v/clip.mp4?sig=secret"))
    (d,) = report.diagnostics
    assert (d.rule, d.severity, d.fixable) == ("url-needs-inline", "warning", True)
    assert "secret" not in d.message
    assert report.ok


@pytest.mark.parametrize(
    "url",
    ["https://user:pa55@cdn.example.com/v/clip.mp4", "https://cdn.example.com/v/clip.mp4#token=pa55",
     "http://user:pa55@10.0.0.5/v.mp4", "ftp://user:pa55@example.com/v.mp4"],
)  # fmt: skip
def test_messages_never_carry_url_credentials(r: router.Router, url: str) -> None:
    """``user:pass@`` and fragments are cut from every message, like query strings."""
    report = r.check(video_request(url))
    assert report.diagnostics
    assert all("pa55" not in d.message for d in report.diagnostics)


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://youtube.com/shorts/dQw4w9WgXcQ", "google-vertex"),
        ("ftp://files.example.com/clip.mp4", None),
        ("gs://bucket/clip.mp4", None),
        ("https://www.youtube.com/@somechannel", None),
    ],
)
def test_url_not_accepted(r: router.Router, url: str, provider: str | None) -> None:
    """URLs no candidate provider takes and router cannot inline are `url-not-accepted`."""
    report = r.check(video_request(url), provider=provider)
    assert rules(report)[0] == "url-not-accepted"
    assert not report.ok


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/clip.mp4",
        "http://10.1.2.3/clip.mp4",
        "http://[::1]/clip.mp4",
        "http://2130706433/clip.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://100.64.0.1/clip.mp4",
        "file:///etc/passwd",
    ],
)
def test_blocked_url(r: router.Router, url: str) -> None:
    """Private, loopback, link-local, CGNAT, metadata and file: URLs are `blocked-url` without any DNS."""
    assert rules(r.check(video_request(url))) == ["blocked-url"]


def test_allow_private_urls_still_blocks_metadata() -> None:
    """`allow_private_urls` opens loopback for development, never the metadata service or local files."""
    r = router.Router(allow_private_urls=True)
    assert rules(r.check(video_request("http://127.0.0.1:8080/clip.mp4"))) == ["url-needs-inline"]
    assert rules(r.check(video_request("http://169.254.169.254/latest/"))) == ["blocked-url"]
    assert rules(r.check(video_request("file:///etc/passwd"))) == ["blocked-url"]


def test_unsupported_format(r: router.Router) -> None:
    """A real Matroska clip, honestly declared, is still a format OpenRouter does not take."""
    report = r.check(video_request(data_url("mkv")))
    assert rules(report) == ["unsupported-format"]
    assert rules(r.check(video_request("https://cdn.example.com/clip.mkv?x=1"))) == ["unsupported-format"]


@pytest.mark.parametrize(
    "url",
    [
        "data:video/mp4;base64",  # no comma
        "data:video/mp4;base64,AAAA$$$=",  # not base64
        "data:video/mp4;base64,AAAAA",  # truncated
        "data:image/png;base64," + base64.b64encode(b"x" * 30).decode(),  # not a video type
        "data:video/mp4,rawbytes",  # not base64-encoded
    ],
)
def test_malformed_data_url(r: router.Router, url: str) -> None:
    """Bad data-URL syntax, bad base64 and non-video MIME types are `malformed-data-url`."""
    report = r.check(video_request(url))
    assert rules(report) == ["malformed-data-url"]
    assert "$$$" not in report.diagnostics[0].message


def test_format_mismatch(r: router.Router, tmp_path: Path) -> None:
    """WebM bytes declared as MP4, a PNG declared as video, and corrupted bytes are all `format-mismatch`."""
    assert rules(r.check(video_request(data_url("webm", mime="video/mp4")))) == ["format-mismatch"]
    png = "data:video/mp4;base64," + base64.b64encode(png_bytes(tmp_path)).decode()
    report = r.check(video_request(png))
    assert rules(report) == ["format-mismatch"]
    assert "image/png" in report.diagnostics[0].message
    corrupted = bytearray(clip_bytes("mp4"))
    corrupted[:16] = bytes(16)
    assert rules(r.check(video_request("data:video/mp4;base64," + base64.b64encode(corrupted).decode()))) == [
        "format-mismatch"
    ]


def test_quicktime_and_mov_are_the_same_type(r: router.Router) -> None:
    """A real .mov declared as video/quicktime is no mismatch: only the fixable `mime-alias` warning."""
    assert r.check(video_request(data_url("mov", mime="video/mov"))).diagnostics == []
    (d,) = r.check(video_request(data_url("mov", mime="video/quicktime"))).diagnostics
    assert (d.rule, d.severity, d.fixed_by) == ("mime-alias", "warning", ("fix", "rewrite"))


def test_too_large_for_the_only_provider(tiny_limits: router.Router) -> None:
    """A clip over Vertex's (overridden) inline limit, pinned to Vertex, is `too-large`."""
    big = data_url("mp4", seconds=3)
    report = tiny_limits.check(video_request(big), provider="google-vertex")
    assert rules(report) == ["too-large"]
    assert "1,000 bytes" in report.diagnostics[0].message


def test_too_many_videos(r: router.Router) -> None:
    """Eleven videos to Vertex (at most ten per prompt) are `too-large`."""
    report = r.check(video_request(*[data_url("mp4")] * 11), provider="google-vertex")
    assert rules(report) == ["too-large"]


def test_no_provider_accepts(tiny_limits: router.Router) -> None:
    """A YouTube link (Vertex refuses) plus a clip over AI Studio's request cap leaves no provider."""
    report = tiny_limits.check(video_request(YOUTUBE, data_url("mp4", seconds=3)))
    assert rules(report) == ["no-provider-accepts"]
    message = report.diagnostics[0].message
    assert "google-vertex" in message
    assert "google-ai-studio" in message


def test_no_provider_left_after_preferences(r: router.Router) -> None:
    """Asking only for a provider that does not serve the model leaves nothing to route to."""
    report = r.check(video_request(YOUTUBE, only=["amazon-bedrock"]))
    assert rules(report) == ["no-provider-accepts"]


def test_camelcase_key(r: router.Router) -> None:
    """The SDK-style `videoUrl` key is a fixable warning pointing at the key."""
    report = r.check(video_request(YOUTUBE, key="videoUrl"))
    (d,) = report.diagnostics
    assert (d.rule, d.pointer, d.fixable) == ("camelcase-key", "/messages/0/content/1/videoUrl", True)


def test_legacy_input_video_part_is_checked(r: router.Router) -> None:
    """OpenRouter's legacy `input_video` chat part is checked like `video_url`, never skipped, and reported as
    the fixable `legacy-video-part` warning; the rewrite sends `video_url`."""
    payload = video_request("http://127.0.0.1/x.mp4")
    payload["messages"][0]["content"][1]["type"] = "input_video"
    assert rules(r.check(payload)) == ["legacy-video-part", "blocked-url"]
    payload = video_request(YOUTUBE)
    payload["messages"][0]["content"][1]["type"] = "input_video"
    (d,) = r.check(payload).diagnostics
    assert (d.rule, d.pointer, d.fixed_by) == ("legacy-video-part", "/messages/0/content/1/type", ("fix", "rewrite"))
    assert r.rewrite(payload)["messages"][0]["content"][1]["type"] == "video_url"


# -- routing preferences ----------------------------------------------------------------------------


def test_ignore_removes_a_provider_from_the_route(r: router.Router) -> None:
    """`provider.ignore` removes AI Studio, so a YouTube link (which Vertex refuses) has nowhere to go."""
    assert rules(r.check(video_request(YOUTUBE))) == []
    report = r.check(video_request(YOUTUBE, provider={"ignore": ["google-ai-studio"]}))
    assert rules(report) == ["url-not-accepted"]
    assert r.outgoing(video_request(data_url("mp4"), provider={"ignore": ["google-vertex"]})).providers == [
        "google-ai-studio"
    ]


def test_order_ranks_the_route_and_without_fallbacks_limits_it(r: router.Router) -> None:
    """`provider.order` puts its providers first and keeps the others as fallbacks; with `allow_fallbacks: false`
    only the ordered providers remain, so a YouTube link ordered to Vertex alone has nowhere to go."""
    clip = data_url("mp4")
    assert r.outgoing(video_request(clip)).providers == ["google-vertex", "google-ai-studio"]
    ordered = {"order": ["google-ai-studio"]}
    assert r.outgoing(video_request(clip, provider=ordered)).providers == ["google-ai-studio", "google-vertex"]
    strict = {**ordered, "allow_fallbacks": False}
    assert r.outgoing(video_request(clip, provider=strict)).providers == ["google-ai-studio"]
    assert rules(r.check(video_request(YOUTUBE, provider={"order": ["google-vertex"]}))) == []
    vertex_only = {"order": ["google-vertex"], "allow_fallbacks": False}
    assert rules(r.check(video_request(YOUTUBE, provider=vertex_only))) == ["url-not-accepted"]


def test_unknown_model_with_pinned_provider_uses_its_rules(r: router.Router) -> None:
    """For a model the table does not know, a pinned provider's rules still apply."""
    report = r.check(video_request(YOUTUBE, model="acme/new-model"), provider="google-vertex")
    assert rules(report) == ["unknown-model", "url-not-accepted"]


def test_too_long_for_the_provider(tmp_path: Path) -> None:
    """A two-second clip inline, to a provider whose (overridden) limit is one second, is `too-large`."""
    table = tmp_path / "short.yaml"
    table.write_text("providers:\n  google-vertex: {max_duration_s: 1}\n")
    report = router.Router(table).check(video_request(data_url("mp4", seconds=2)), provider="google-vertex")
    assert rules(report) == ["too-large"]
    assert "runs 2 s" in report.diagnostics[0].message


def test_a_str_naming_a_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, r: router.Router) -> None:
    """`Router().check("req.json")` reads the file the README says a payload may be; a name with no file
    behind it says so instead of a bare JSON error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "req.json").write_text(json.dumps(video_request(YOUTUBE, model=TEXT_ONLY)))
    (d,) = r.check("req.json").diagnostics
    assert (d.rule, d.file) == ("model-lacks-video", "req.json")
    (missing,) = r.check("nope.json").diagnostics
    assert missing.rule == "invalid-json"
    assert "no file 'nope.json' exists" in missing.message


def test_private_urls_have_one_source_of_truth(tmp_path: Path) -> None:
    """The fetcher decides: a router given an allowing fetcher allows, and a contradiction is refused."""
    from router._fetch.fetcher import Fetcher

    with Fetcher(allow_private_urls=True) as fetcher:
        r = router.Router(fetcher=fetcher)
        assert r.allow_private_urls
        report = r.check(video_request("http://127.0.0.1:9/clip.mp4"))
        assert [d.rule for d in report.diagnostics] == ["url-needs-inline"]
        with pytest.raises(ValueError, match="give it to the Fetcher only"):
            router.Router(allow_private_urls=False, fetcher=fetcher)


def test_close_removes_the_routers_own_downloads() -> None:
    """`with Router()` removes the spool directory of the fetcher it made."""
    with router.Router() as r:
        spool = r.fetcher.spool_dir
        assert spool.is_dir()
    assert not spool.exists()


def test_a_provider_that_fetches_urls_is_held_to_its_own_formats() -> None:
    """Z.AI fetches video URLs itself and takes mp4 and mov only: a `.webm` URL is refused for it by name (router
    cannot inline for Z.AI, which takes no data URLs, so fitting cannot help), and an `.mp4` URL passes."""
    r = router.Router()
    (d,) = r.check(video_request("https://example.com/clip.webm", model="z-ai/glm-4.6v")).errors
    assert (d.rule, d.fit) == ("unsupported-format", False)
    assert "z-ai does not accept video/webm" in d.message
    assert r.check(video_request("https://example.com/clip.mp4", model="z-ai/glm-4.6v")).ok
