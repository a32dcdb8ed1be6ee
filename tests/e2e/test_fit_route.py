"""Fitting videos to the route (issue 12): `Router(fit=...)` and `--fit` turn a video a provider would refuse
(too large, too long, the wrong container) into a request that provider takes, within its limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from clips import make_clip
from payloads import YOUTU_BE, video_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router._model.container import mp4_duration
from router.cli import main

CaseUrl = Callable[[str], tuple[str, str]]


def data_url(data: bytes, mime: str = "video/mp4") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def sent_videos(body: dict[str, Any]) -> list[bytes]:
    parts = body["messages"][0]["content"]
    urls = [p["video_url"]["url"] for p in parts if p.get("type") == "video_url"]
    return [base64.b64decode(u.split(",", 1)[1]) for u in urls]


def duration(data: bytes) -> float:
    return mp4_duration(lambda offset, size: data[offset : offset + size]) or 0.0


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 3-second clip of noise, about 1.7 MB: far over a 100 kB limit."""
    return make_clip(tmp_path_factory.mktemp("fit") / "noisy.mp4", seconds=3, size=(320, 240), noise=True).read_bytes()


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 50-minute video (1 frame a second, tiny): over Vertex's 2700 s."""
    return make_clip(tmp_path_factory.mktemp("fit") / "lecture.mp4", seconds=3000, fps=1, size=(16, 16)).read_bytes()


@pytest.fixture
def small_vertex(tmp_path: Path) -> Path:
    """A table layer where Vertex takes inline videos of at most 100,000 bytes."""
    path = tmp_path / "small.yaml"
    path.write_text("providers:\n  google-vertex: {max_video_bytes: 100000}\n")
    return path


def _fitting_router(table: Path | None = None, fit: bool | str = True) -> Iterator[router.Router]:
    with router.Fetcher(allow_private_urls=True) as fetcher:
        yield router.Router(table, fetcher=fetcher, fit=fit)  # type: ignore[arg-type]


def test_check_says_fitting_would_fix_it(noisy: bytes, small_vertex: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` keeps reporting `too-large`, and its fix (and `"fit": true` in JSON) says `--fit` would fix it."""
    (d,) = router.Router(small_vertex).check(video_request(data_url(noisy), only=["google-vertex"])).errors
    assert (d.rule, d.fit, d.fixed_by) == ("too-large", True, ("fit",))
    assert "--fit" in (d.fix or "")
    path = small_vertex.parent / "req.json"
    path.write_text(json.dumps(video_request(data_url(noisy), only=["google-vertex"])))
    assert main(["check", "--offline", "--format", "json", "--capabilities", str(small_vertex), str(path)]) == 1
    (record,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert record["fit"] is True


def test_a_data_url_too_large_is_re_encoded_within_the_limit(
    noisy: bytes, small_vertex: Path, upstream: FakeOpenRouter
) -> None:
    """A 1.7 MB clip pinned to a Vertex that takes 100 kB goes out re-encoded under 100 kB, as a real mp4
    the strict upstream accepts, and the note says what was done."""
    for r in _fitting_router(small_vertex):
        out = r.outgoing(video_request(data_url(noisy), only=["google-vertex"]))
        (video,) = sent_videos(json.loads(b"".join(out.iter_bytes())))
        assert 10_000 < len(video) <= 100_000
        assert duration(video) == pytest.approx(3.0, abs=0.3)
        assert any("re-encoded" in router._report.output.describe(n) for n in out.notes)  # type: ignore[attr-defined]
        http = httpx.Client(transport=router.RouterTransport(r))
        client = openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)
        body = video_request(data_url(noisy))
        reply = client.chat.completions.create(**body, extra_body={"provider": {"only": ["google-vertex"]}})
        assert json.loads(reply.choices[0].message.content or "")["videos"][0]["size"] <= 100_000


def test_a_matroska_download_is_remuxed(media_server: MediaServer, case_url: CaseUrl, upstream: FakeOpenRouter) -> None:
    """An https .mkv (H.264) is refused without fitting (`unsupported-format`) and remuxed to mp4 with it: the
    upstream receives a video/mp4 data URL holding every frame."""
    url, _ = case_url("/clip.mkv")
    for r in _fitting_router(fit=False):
        assert [d.rule for d in r.check(video_request(url), online=True).errors] == ["unsupported-format"]
    for r in _fitting_router():
        out = r.outgoing(video_request(url))
        body = json.loads(b"".join(out.iter_bytes()))
        assert body["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;base64,")
        (video,) = sent_videos(body)
        assert video[4:8] == b"ftyp"
        assert any("remuxed" in router._report.output.describe(n) for n in out.notes)  # type: ignore[attr-defined]


def test_a_video_too_long_needs_trim_or_split(lecture: bytes) -> None:
    """Plain fitting never cuts: a 50-minute video pinned to Vertex (2700 s) is refused, saying trim or split
    would fix it; `trim` sends the first 2700 s; `split` sends the whole video as consecutive parts."""
    body = video_request(data_url(lecture), only=["google-vertex"])
    for r in _fitting_router():
        with pytest.raises(router.RequestRejected) as caught:
            r.outgoing(body)
        (error,) = caught.value.diagnostics
        assert (error.rule, error.fit) == ("too-large", True)
        assert "--fit-trim" in (error.fix or "")
    for r in _fitting_router(fit="trim"):
        (video,) = sent_videos(json.loads(b"".join(r.outgoing(body).iter_bytes())))
        assert 2700 * 0.9 <= duration(video) <= 2700  # a stream copy cuts on a keyframe: at most 10 % short
    for r in _fitting_router(fit="split"):
        parts = sent_videos(json.loads(b"".join(r.outgoing(body).iter_bytes())))
        assert len(parts) == 2
        assert all(duration(p) <= 2700 for p in parts)
        assert sum(duration(p) for p in parts) == pytest.approx(3000, abs=5)


def test_cli_rewrite_fit_remuxes_and_says_so(
    media_server: MediaServer, case_url: CaseUrl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`router rewrite --fit PATH` writes the request with the remuxed video and prints what was done."""
    url, _ = case_url("/clip.mkv")
    path = tmp_path / "req.json"
    path.write_text(json.dumps(video_request(url)))
    assert main(["rewrite", "--fit", "--allow-private-urls", str(path)]) == 0
    captured = capsys.readouterr()
    assert '"url": "data:video/mp4;base64,' in captured.out
    assert "remuxed" in captured.err


def test_fit_without_pyav_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--fit` when PyAV is missing stops at once (exit 2) with the install hint, before any work."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    path = tmp_path / "req.json"
    path.write_text(json.dumps(video_request(YOUTU_BE)))
    assert main(["rewrite", "--fit", str(path)]) == 2
    assert "pip install 'router[fit]'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def matroska(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 2-second H.264 clip in Matroska: codecs every provider takes, a container none does."""
    return make_clip(tmp_path_factory.mktemp("fit") / "clip.mkv", seconds=2, size=(160, 120), noise=True).read_bytes()


def test_a_matroska_data_url_is_remuxed(matroska: bytes, upstream: FakeOpenRouter) -> None:
    """`check` refuses an mkv data URL (`unsupported-format`) and says `--fit` would fix it; through the SDK, a
    fitting router sends it remuxed into mp4, and the strict upstream takes it."""
    body = video_request(data_url(matroska, "video/x-matroska"))
    (d,) = router.Router().check(body).errors
    assert (d.rule, d.fit) == ("unsupported-format", True)
    assert "--fit" in (d.fix or "")
    for r in _fitting_router():
        http = httpx.Client(transport=router.RouterTransport(r))
        client = openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)
        client.chat.completions.create(**body)
        (video,) = sent_videos(upstream.requests[-1].json())
        assert video[4:8] == b"ftyp"
        assert duration(video) == pytest.approx(2.0, abs=0.2)
        assert (
            upstream.requests[-1].json()["messages"][0]["content"][1]["video_url"]["url"].startswith("data:video/mp4;")
        )


def test_a_dry_run_fits_data_urls_and_downloads_nothing(
    matroska: bytes, media_server: MediaServer, case_url: CaseUrl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rewrite --dry-run --fit` fits what needs no download (the mkv data URL is remuxed, and says so) and
    leaves a URL it would download as it is, without fetching it."""
    url, target = case_url("/clip.mkv")
    request = video_request(data_url(matroska, "video/x-matroska"))
    request["messages"][0]["content"].append({"type": "video_url", "video_url": {"url": url}})
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))
    assert main(["rewrite", "--dry-run", "--fit", "--allow-private-urls", str(path)]) == 0
    out, err = capsys.readouterr()
    sent = json.loads(out)["messages"][0]["content"]
    assert sent[1]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert sent[2]["video_url"]["url"] == url
    assert "remuxed mkv -> mp4" in err
    assert f"would inline {url.split('?')[0]}" in err
    assert media_server.hits(target) == 0
