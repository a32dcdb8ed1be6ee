"""`router check` without --offline downloads what it would inline and reports what the bytes say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from payloads import video_request
from servers import MediaServer

import router
from router.cli import main


def payload(url: str) -> dict[str, Any]:
    """A request for Gemini pinned to Vertex, which takes no URLs: every video must be downloaded."""
    return video_request(url, only=["google-vertex"])


def run(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    path = tmp_path / "req.json"
    path.write_text(json.dumps(payload(url), indent=2))
    code = main(["check", str(path), "--allow-private-urls", "--format", "json", *extra])
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    return code, [d["rule"] for d in found]


def test_reachable_clip_only_needs_inlining(tmp_path: Path, media_server: MediaServer, capsys: Any) -> None:
    """A real clip on a reachable URL leaves only the fixable warning, and exit status 0."""
    assert run(tmp_path, media_server.url("/clip.mp4?t=online-ok"), capsys) == (0, ["url-needs-inline"])
    assert media_server.hits("/clip.mp4?t=online-ok") == 1


def test_offline_never_touches_the_network(tmp_path: Path, media_server: MediaServer, capsys: Any) -> None:
    """With --offline the media server sees no request at all."""
    assert run(tmp_path, media_server.url("/status/404?t=offline"), capsys, "--offline")[0] == 0
    assert media_server.hits("/status/404?t=offline") == 0


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("/status/404?t=online", "unreachable-url"),
        ("/status/503?t=online", "unreachable-url"),
        ("/page.mp4?t=online", "format-mismatch"),
        ("/image.png?t=online", "format-mismatch"),
        ("/notes.mp4?t=online", "format-mismatch"),
    ],
)
def test_download_problems_are_reported(
    tmp_path: Path, media_server: MediaServer, capsys: Any, target: str, rule: str
) -> None:
    """A 404, a 503, an HTML page, an image and text that claims video/mp4 each fail the check with their rule."""
    code, rules = run(tmp_path, media_server.url(target), capsys)
    assert code == 1
    assert rule in rules


def test_over_the_cap_while_streaming(tmp_path: Path, media_server: MediaServer, capsys: Any) -> None:
    """A body larger than the provider's inline cap is `too-large`, whatever Content-Length claims."""
    table = tmp_path / "cap.yaml"
    table.write_text("providers:\n  google-vertex: {max_video_bytes: 50000}\n")
    code, rules = run(tmp_path, media_server.url("/lying?n=400000&claim=1000"), capsys, "--capabilities", str(table))
    assert (code, rules[-1]) == (1, "too-large")


def test_python_check_online(media_server: MediaServer) -> None:
    """`Router.check(online=True)` reports the download failure with a message naming the status."""
    r = router.Router(allow_private_urls=True)
    report = r.check(payload(media_server.url("/status/410?t=py")), online=True)
    (bad,) = report.errors
    assert bad.rule == "unreachable-url"
    assert "410" in bad.message


def test_duration_over_the_route_limit(tmp_path: Path, media_server: MediaServer, capsys: Any) -> None:
    """A downloaded one-second clip is `too-large` for a route whose duration limit is zero seconds."""
    table = tmp_path / "short.yaml"
    table.write_text("providers:\n  google-vertex: {max_duration_s: 0}\n")
    code, rules = run(tmp_path, media_server.url("/clip.mp4?t=duration"), capsys, "--capabilities", str(table))
    assert (code, rules) == (1, ["url-needs-inline", "too-large"])
