"""One judge before and after downloads (issue 8, part 1): what a download's bytes say (size, duration, type)
narrows the route the same way for an online check and for a rewrite, and fallback models stay reachable."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from clips import make_clip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payloads import GEMINI, YOUTU_BE, video_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router._fetch.fetcher import Fetcher
from router._model.container import mp4_duration
from router._table.capabilities import CapabilityTable

QWEN = "qwen/qwen3.5-27b"  # served by alibaba only


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 50-minute H.264 video (1 frame a second, 16x16): over Vertex's 2700 s, small on disk."""
    path = make_clip(tmp_path_factory.mktemp("lecture") / "lecture.mp4", seconds=3000, fps=1, size=(16, 16))
    return path.read_bytes()


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 1-second clip of noise, about 150 KB: big enough to trip small overridden limits."""
    return make_clip(tmp_path_factory.mktemp("noisy") / "noisy.mp4", size=(160, 120), noise=True).read_bytes()


def _data_url(data: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(data).decode()


@contextlib.contextmanager
def _router(table: CapabilityTable, tmp_path: Path | None = None, override: str = "") -> Iterator[router.Router]:
    """A router allowed to fetch from loopback, on the bundled table with ``override`` (YAML) layered on top."""
    if override:
        assert tmp_path is not None
        path = tmp_path / "override.yaml"
        path.write_text(override)
        table = router.Router(path).table
    with Fetcher(allow_private_urls=True) as fetcher, router.Router(table, fetcher=fetcher) as r:
        yield r


@pytest.fixture
def tight(table: CapabilityTable, tmp_path: Path) -> Iterator[router.Router]:
    """AI Studio takes requests of at most 300,000 bytes; Vertex inline videos of at most 1,000 bytes."""
    override = "providers:\n  google-ai-studio: {max_request_bytes: 300000}\n  google-vertex: {max_video_bytes: 1000}\n"
    with _router(table, tmp_path, override) as r:
        yield r


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_long_lecture_url_is_routed_to_the_provider_that_takes_it(
    lecture: bytes, media_server: MediaServer, local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A 50-minute https video for Gemini goes to AI Studio (Vertex stops at 2700 s), as its data URL does;
    through the openai SDK the upstream gets it inlined with `provider.only` narrowed to AI Studio."""
    url = media_server.url(media_server.serve_file("lecture.mp4", lecture))
    report = local_router.check(video_request(url), online=True)
    assert [d.rule for d in report.diagnostics] == ["url-needs-inline"]
    data_route = local_router.rewrite(video_request(_data_url(lecture)))["provider"]
    assert data_route == {"only": ["google-ai-studio"]}
    http = httpx.Client(transport=router.RouterTransport(local_router))
    client = openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http)
    reply = client.chat.completions.create(**video_request(url))
    summary = json.loads(reply.choices[0].message.content or "")
    assert summary["provider"] == "google-ai-studio"
    assert summary["videos"][0]["sha256"] == _sha(lecture)
    assert upstream.requests[-1].json()["provider"] == {"only": ["google-ai-studio"]}


def test_download_plus_data_url_over_ai_studio_cap_goes_to_vertex(
    noisy: bytes, media_server: MediaServer, table: CapabilityTable, tmp_path: Path
) -> None:
    """A download and a data URL that together pass AI Studio's request cap are sent to Vertex alone."""
    override = "providers:\n  google-ai-studio: {max_request_bytes: 300000}\n"
    url = media_server.url(media_server.serve_file("noisy-a.mp4", noisy))
    request = video_request(url)
    request["messages"][0]["content"].append({"type": "video_url", "video_url": {"url": _data_url(noisy)}})
    with _router(table, tmp_path, override) as r:
        assert r.check(request, online=True).ok
        out = r.rewrite(request)
        assert out["provider"] == {"only": ["google-vertex"]}
        sent = out["messages"][0]["content"][1]["video_url"]["url"]
        assert base64.b64decode(sent.split(",", 1)[1]) == noisy


def test_the_download_cap_is_the_largest_limit_on_the_route(
    noisy: bytes, media_server: MediaServer, tight: router.Router
) -> None:
    """Vertex's 1,000-byte inline cap does not stop a 150 KB download AI Studio can take; the route narrows."""
    url = media_server.url(media_server.serve_file("noisy-b.mp4", noisy))
    prepared = tight.prepare(tight.payloads(video_request(url))[0])
    # The larger of Vertex's 1,000 bytes and AI Studio's 300,000-byte request counted as video (3/4 of it).
    ((_, cap, _),) = prepared.downloads.values()
    assert cap == 225_000
    assert tight.check(video_request(url), online=True).ok
    assert tight.rewrite(video_request(url))["provider"] == {"only": ["google-ai-studio"]}


def test_when_no_provider_is_left_each_reason_is_given_and_check_agrees(
    noisy: bytes, media_server: MediaServer, tight: router.Router
) -> None:
    """Two 150 KB downloads fit neither provider: `too-large` naming both providers' limits, the same from the
    online check and from the rewrite."""
    url = media_server.url(media_server.serve_file("noisy-c.mp4", noisy))
    request = video_request(url)
    request["messages"][0]["content"].append({"type": "video_url", "video_url": {"url": url + "?again"}})
    report = tight.check(request, online=True)
    with pytest.raises(router.RequestRejected) as caught:
        tight.rewrite(request)
    assert [(d.rule, d.pointer, d.message) for d in report.errors] == [
        (d.rule, d.pointer, d.message) for d in caught.value.diagnostics if d.severity == "error"
    ]
    (error,) = report.errors
    assert error.rule == "too-large"
    assert set(error.reasons) == {"google-vertex", "google-ai-studio"}
    assert "1,000 bytes" in error.reasons["google-vertex"]
    assert "300,000 bytes" in error.reasons["google-ai-studio"]


# -- fallback models ----------------------------------------------------------------------------------


def test_a_text_only_fallback_is_an_error_at_its_place(local_router: router.Router) -> None:
    """A fallback that cannot see video would get the request with the video dropped: an error at /models/1."""
    request = video_request("https://youtu.be/dQw4w9WgXcQ", models=[GEMINI, "openai/gpt-4o-mini"])
    rules = [(d.rule, d.pointer) for d in local_router.check(request).errors]
    assert rules == [("model-lacks-video", "/models/1")]


def test_findings_point_into_models_when_there_is_no_model(local_router: router.Router) -> None:
    """With only `models`, the first model's findings are at /models/0, not at an absent /model."""
    request = video_request("https://youtu.be/dQw4w9WgXcQ", model="x")
    del request["model"]
    request["models"] = ["openai/gpt-4o-mini", GEMINI]
    text = json.dumps(request, indent=1)
    line = text[: text.index('"openai/gpt-4o-mini"')].count("\n") + 1
    assert [(d.rule, d.pointer, d.line) for d in local_router.check(text).errors] == [
        ("model-lacks-video", "/models/0", line)
    ]


def test_a_video_capable_fallback_stays_reachable(
    media_server: MediaServer, local_router: router.Router, upstream: FakeOpenRouter, case_url: Any
) -> None:
    """Gemini with a Qwen fallback: `provider.only` names Alibaba too, so OpenRouter can still reach Qwen."""
    url, _ = case_url("/clip.mp4")
    request = video_request(url, models=[GEMINI, QWEN])
    assert local_router.check(request, online=True).ok
    assert local_router.rewrite(request)["provider"]["only"] == ["google-vertex", "google-ai-studio", "alibaba"]


def test_a_fallback_that_cannot_take_the_download_is_a_warning(
    noisy: bytes, media_server: MediaServer, table: CapabilityTable, tmp_path: Path
) -> None:
    """A fallback whose providers refuse the inlined video (here Alibaba at 1,000 bytes) is reported at
    /models/1 as `fallback-unusable`, and the request still goes to the primary's providers."""
    url = media_server.url(media_server.serve_file("noisy-d.mp4", noisy))
    request = video_request(url, models=[GEMINI, QWEN])
    with _router(table, tmp_path, "providers:\n  alibaba: {max_video_bytes: 1000}\n") as r:
        report = r.check(request, online=True)
        assert report.ok
        assert [(d.rule, d.pointer) for d in report.warnings] == [
            ("url-needs-inline", "/messages/0/content/1/video_url/url"),
            ("fallback-unusable", "/models/1"),
        ]
        assert r.rewrite(request)["provider"]["only"] == ["google-vertex", "google-ai-studio"]


# -- check (online) and rewrite never disagree -------------------------------------------------------

_LIMITS = {
    "max_video_bytes": st.sampled_from(["unknown", 1_000, 200_000, 10_000_000]),
    "max_request_bytes": st.sampled_from(["unknown", 5_000, 300_000, 50_000_000]),
    "max_duration_s": st.sampled_from(["unknown", 2, 2700, 5000]),
    "max_videos": st.sampled_from(["unknown", 1, 2]),
}
_PROVIDERS = ("google-vertex", "google-ai-studio")


@st.composite
def _cases(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]], list[str] | None]:
    limits = {p: {k: draw(v) for k, v in _LIMITS.items()} for p in _PROVIDERS}
    parts = draw(
        st.lists(
            st.tuples(st.sampled_from(["url", "data", "youtube"]), st.sampled_from(["small", "noisy", "lecture"])),
            min_size=1,
            max_size=3,
        )
    )
    only = draw(st.none() | st.lists(st.sampled_from(_PROVIDERS), min_size=1, max_size=2, unique=True))
    return limits, parts, only


@pytest.fixture(scope="module")
def corpus(
    media_server: MediaServer, lecture: bytes, noisy: bytes, clips: dict[str, Path]
) -> dict[str, tuple[str, bytes]]:
    videos = {"small": clips["mp4"].read_bytes(), "noisy": noisy, "lecture": lecture}
    return {
        name: (media_server.url(media_server.serve_file(f"prop-{name}.mp4", data)), data)
        for name, data in videos.items()
    }


def _fits(provider: Any, videos: list[bytes]) -> bool:
    """An independent oracle: would this provider's documented limits take these inline videos?"""
    encoded = sum(-(-len(v) // 3) * 4 for v in videos)
    durations = [mp4_duration(lambda o, n, v=v: v[o : o + n]) or 0 for v in videos]
    return (
        (not isinstance(provider.max_videos, int) or len(videos) <= provider.max_videos)
        and (not isinstance(provider.max_video_bytes, int) or all(len(v) <= provider.max_video_bytes for v in videos))
        and (not isinstance(provider.max_request_bytes, int) or encoded <= provider.max_request_bytes)
        and (not isinstance(provider.max_duration_s, int) or all(d <= provider.max_duration_s for d in durations))
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
def test_online_check_and_rewrite_never_disagree(
    case: tuple[dict[str, dict[str, Any]], list[tuple[str, str]], list[str] | None],
    table: CapabilityTable,
    corpus: dict[str, tuple[str, bytes]],
    shared_fetcher: Fetcher,
) -> None:
    """On random limits, parts and routes, the online check passes exactly when the rewrite succeeds, with the
    same errors; and whatever is sent fits every provider it is routed to."""
    limits, parts, only = case
    providers = {**table.providers}
    for slug, values in limits.items():
        providers[slug] = providers[slug].model_copy(update=values)
    r = router.Router(table.model_copy(update={"providers": providers}), fetcher=shared_fetcher)
    urls = []
    for kind, name in parts:
        url, data = corpus[name]
        urls.append({"url": url, "data": _data_url(data), "youtube": YOUTU_BE}[kind])
    request = video_request(*urls, only=only)
    report = r.check(request, online=True)
    if not report.ok:
        with pytest.raises(router.RequestRejected) as caught:
            r.rewrite(request)
        sent_errors = [(d.rule, d.pointer) for d in caught.value.diagnostics if d.severity == "error"]
        assert [(d.rule, d.pointer) for d in report.errors] == sent_errors
        return
    out = r.rewrite(request)
    sent = [part["video_url"]["url"] for part in out["messages"][0]["content"][1:]]  # after the text part
    inline = [base64.b64decode(u.split(",", 1)[1]) for u in sent if u.startswith("data:")]
    for slug in out["provider"]["only"]:
        assert _fits(r.table.providers[slug], inline), (slug, limits[slug], [len(v) for v in inline])


@pytest.fixture(scope="module")
def shared_fetcher() -> Iterator[Fetcher]:
    """One download cache for every generated example (each URL is fetched once)."""
    with Fetcher(allow_private_urls=True) as fetcher:
        yield fetcher
