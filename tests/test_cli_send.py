"""`router inline`, `router rewrite -o`, `router send`'s failure paths and the progress display, in-process."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from payloads import YOUTU_BE, text_request, video_request
from servers import MediaServer, padded_mp4, png_bytes
from upstream import FakeOpenRouter

from router._base.errors import NotAVideo
from router._cli.progress import ProgressDisplay, counting
from router._rewrite.inline import data_url_from_file, data_url_size, iter_data_url
from router._rewrite.pipeline import Router
from router.cli import main


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decoded(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    return head, base64.b64decode(payload, validate=True)


def _write(tmp_path: Path, request: dict[str, Any]) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- inline ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["mp4", "mov", "webm", "mpeg"])
def test_inline_round_trips_a_real_clip(
    clips: dict[str, Path], suffix: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`router inline FILE` prints a data URL of the sniffed type whose payload decodes to the file's bytes."""
    assert main(["inline", str(clips[suffix])]) == 0
    printed = capsysbinary.readouterr().out
    assert printed.endswith(b"\n")
    head, data = _decoded(printed.decode().strip())
    expected = {"mp4": "video/mp4", "mov": "video/mov", "webm": "video/webm", "mpeg": "video/mpeg"}[suffix]
    assert head == f"data:{expected};base64"
    assert _sha(data) == _sha(clips[suffix].read_bytes())


def test_inline_writes_out_with_predicted_size(clips: dict[str, Path], tmp_path: Path) -> None:
    """`-o OUT` holds exactly the data URL, its length known before encoding, and no partial file stays."""
    out = tmp_path / "clip.txt"
    assert main(["inline", str(clips["mp4"]), "-o", str(out)]) == 0
    text = out.read_text()
    assert text == data_url_from_file(clips["mp4"])
    assert len(text) == data_url_size(clips["mp4"], "video/mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["clip.txt"]


def test_inline_encodes_in_bounded_aligned_chunks(tmp_path: Path, clips: dict[str, Path]) -> None:
    """A file bigger than one encoder chunk streams as several pieces that concatenate to valid base64."""
    big = tmp_path / "big.mp4"
    big.write_bytes(b"".join(padded_mp4(clips["mp4"].read_bytes(), 3_000_001)))  # not a multiple of 3
    chunks = list(iter_data_url(big))
    assert len(chunks) > 3
    assert max(len(c) for c in chunks) <= 4 * 3 * 256 * 1024 // 3
    _, data = _decoded(b"".join(chunks).decode())
    assert data == big.read_bytes()


def test_inline_refuses_an_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A PNG is not a video: exit 1, a sentence on stderr, nothing on stdout."""
    image = tmp_path / "frame.mp4"
    image.write_bytes(png_bytes())
    assert main(["inline", str(image)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "image/png, not a video" in captured.err


def test_inline_mime_must_agree_with_the_bytes(clips: dict[str, Path], tmp_path: Path) -> None:
    """`--mime` may rename within a container family but cannot call an MP4 WebM, and must be video/*."""
    assert data_url_from_file(clips["mp4"], "video/mov").startswith("data:video/mov;base64,AAAA")
    with pytest.raises(NotAVideo, match="the bytes are video/mp4, not video/webm"):
        data_url_from_file(clips["mp4"], "video/webm")
    with pytest.raises(NotAVideo, match="must be a video type"):
        data_url_from_file(clips["mp4"], "image/png")
    unknown = tmp_path / "raw.bin"
    unknown.write_bytes(b"\x00\x01" * 100)
    with pytest.raises(NotAVideo, match="pass --mime"):
        data_url_from_file(unknown)
    assert data_url_from_file(unknown, "video/mp4").startswith("data:video/mp4;base64,")


def test_inline_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not there exits 2 and names it."""
    assert main(["inline", str(tmp_path / "nope.mp4")]) == 2
    assert "nope.mp4: no such file" in capsys.readouterr().err


# -- rewrite -o -----------------------------------------------------------------------------------------


def test_rewrite_streams_inlined_request_to_file(
    media_server: MediaServer, clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rewrite -o OUT` for Vertex writes the request with the downloaded clip inlined, byte for byte."""
    path = _write(tmp_path, video_request(media_server.url("/clip.mp4?case=rewrite-o")))
    out = tmp_path / "out.json"
    argv = ["rewrite", str(path), "--provider", "google-vertex", "-o", str(out), "--allow-private-urls"]
    assert main(argv) == 0
    written = json.loads(out.read_text())
    assert written["provider"]["only"] == ["google-vertex"]
    head, data = _decoded(written["messages"][0]["content"][1]["video_url"]["url"])
    assert head == "data:video/mp4;base64"
    assert _sha(data) == _sha(clips["mp4"].read_bytes())
    assert "inlined" in capsys.readouterr().err


def test_rewrite_dry_run_downloads_nothing(media_server: MediaServer, tmp_path: Path) -> None:
    """`--dry-run` leaves the URL in place and never touches the media server."""
    url = media_server.url("/clip.mp4?case=dry-run")
    path = _write(tmp_path, video_request(url))
    out = tmp_path / "out.json"
    argv = ["rewrite", str(path), "--provider", "google-vertex", "-o", str(out), "--dry-run", "--allow-private-urls"]
    assert main(argv) == 0
    assert json.loads(out.read_text())["messages"][0]["content"][1]["video_url"]["url"] == url
    assert media_server.hits("/clip.mp4?case=dry-run") == 0


@pytest.mark.parametrize("ending", ["", "\n"])
def test_rewrite_ends_its_output_with_one_newline_on_stdout_only(ending: str, tmp_path: Path) -> None:
    """A real `router rewrite --dry-run` process prints the outgoing request and one newline on stdout (a shell
    prompt starts on its own line), while `-o` writes the outgoing request's bytes exactly, newline or not."""
    path = tmp_path / "request.json"
    path.write_text(json.dumps(video_request(YOUTU_BE), indent=2) + ending)
    sent = b"".join(Router().outgoing(path.read_bytes(), dry_run=True).iter_bytes())
    argv = [sys.executable, "-m", "router", "rewrite", "--dry-run", str(path)]
    shown = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout
    assert shown == sent + b"\n"
    subprocess.run([*argv, "-o", str(tmp_path / "out.json")], capture_output=True, check=True, timeout=60)
    assert (tmp_path / "out.json").read_bytes() == sent


@pytest.mark.parametrize("command", ["rewrite", "inline"])
def test_output_to_a_missing_directory_is_a_usage_error(
    command: str, tmp_path: Path, clips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o` into a missing directory exits 2 with one line naming the file asked for and the missing directory
    (never the hidden temporary file beside it), not a traceback."""
    source = _write(tmp_path, video_request(YOUTU_BE)) if command == "rewrite" else clips["mp4"]
    target = tmp_path / "no" / "out.json"
    assert main([command, str(source), "-o", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"router: error: {target}: the directory {tmp_path / 'no'} does not exist\n"
    assert not (tmp_path / "no").exists()


# -- send: the failure paths ----------------------------------------------------------------------------


def test_send_without_key_exits_2_and_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No OPENROUTER_API_KEY: exit 2 with the export line to run."""
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    assert main(["send", str(_write(tmp_path, video_request(YOUTU_BE)))]) == 2
    assert "export OPENROUTER_API_KEY=" in capsys.readouterr().err


def test_send_to_a_closed_port_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upstream that refuses connections gives exit 1 and one line naming it, never the key (the reason after
    the URL is the operating system's, worded by the platform)."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-secret-closed")
    base = f"http://127.0.0.1:{_closed_port()}/api/v1"
    path = _write(tmp_path, video_request(YOUTU_BE))
    assert main(["send", str(path), "--base-url", base]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if line.startswith("router:")]
    (error,) = errors
    assert error.startswith(f"router: cannot reach {base}/chat/completions: ")
    assert "secret" not in captured.err


def test_send_upstream_error_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upstream error that echoes the key prints the message with the key scrubbed, exit 1."""
    key = "sk-or-v1-echoed-secret"
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    with FakeOpenRouter() as upstream:
        upstream.fail_with = (401, f"User not found for key {key}")
        path = _write(tmp_path, video_request(YOUTU_BE))
        assert main(["send", str(path), "--base-url", upstream.base_url]) == 1
    err = capsys.readouterr().err
    assert "upstream refused the request (HTTP 401): User not found for key [redacted]" in err
    assert key not in err


def test_send_body_has_exact_content_length(
    media_server: MediaServer, clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inlined request goes out with a Content-Length equal to the bytes the upstream received."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    path = _write(tmp_path, video_request(media_server.url("/clip.webm?case=send-length")))
    with FakeOpenRouter() as upstream:
        argv = ["send", str(path), "--provider", "google-vertex", "--base-url", upstream.base_url]
        assert main([*argv, "--allow-private-urls"]) == 0
        received = upstream.requests[-1]
    assert received.headers.get("transfer-encoding") is None
    assert received.content_length == received.body_size > clips["webm"].stat().st_size
    assert received.summary["videos"][0]["sha256"] == _sha(clips["webm"].read_bytes())


class _Canned(BaseHTTPRequestHandler):
    """Answers every POST with the status, content type and body in ``server.canned``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body = self.server.canned  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def canned() -> Iterator[ThreadingHTTPServer]:
    """A loopback server that answers with whatever a test puts in ``.canned``: error shapes the fake lacks."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def test_send_error_event_mid_stream_exits_1(
    canned: ThreadingHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text before an in-stream error is printed, then the provider's message goes to stderr and exit is 1."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    error = {"error": {"code": 502, "message": "Provider disconnected", "metadata": {"provider_name": "Google"}}}
    canned.canned = (200, "text/event-stream", _sse({"choices": [{"delta": {"content": "Half an ans"}}]}, error))  # type: ignore[attr-defined]
    path = _write(tmp_path, video_request(YOUTU_BE, stream=True))
    base = f"http://127.0.0.1:{canned.server_address[1]}/api/v1"
    assert main(["send", str(path), "--base-url", base]) == 1
    captured = capsys.readouterr()
    assert captured.out == "Half an ans\n"
    assert "router: upstream error mid-stream: Provider disconnected (provider Google)" in captured.err


def test_send_error_inside_a_200_exits_1(
    canned: ThreadingHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error object in a 200 body (as OpenRouter sends for some provider failures) is an exit 1."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    body = {"error": {"code": 429, "message": "Rate limit exceeded", "metadata": {"raw": "quota for today"}}}
    canned.canned = (200, "application/json", json.dumps(body).encode())  # type: ignore[attr-defined]
    path = _write(tmp_path, video_request(YOUTU_BE))
    base = f"http://127.0.0.1:{canned.server_address[1]}/api/v1"
    assert main(["send", str(path), "--base-url", base]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == body
    assert "router: upstream error: Rate limit exceeded (quota for today)" in captured.err


# -- progress -------------------------------------------------------------------------------------------


def test_progress_is_silent_off_a_terminal() -> None:
    """Piped stderr gets no bar: the display is inert and its callbacks do nothing."""
    stream = io.StringIO()
    with ProgressDisplay(stream) as display:
        assert not display.enabled
        display.task("downloading")(10, 100)
    assert stream.getvalue() == ""


def test_progress_without_rich_is_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the `progress` extra is missing, even a forced display runs without a bar."""
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    assert not ProgressDisplay(io.StringIO(), enabled=True).enabled


def test_progress_draws_download_and_upload(media_server: MediaServer, clips: dict[str, Path]) -> None:
    """A forced display draws bars for the fetcher's download and an upload that reach their totals."""
    stream = io.StringIO()
    seen: list[tuple[int, int | None]] = []
    with Router(allow_private_urls=True) as router, ProgressDisplay(stream, enabled=True) as display:
        draw = display.task("downloading")

        def both(done: int, total: int | None) -> None:
            seen.append((done, total))
            draw(done, total)

        url = media_server.url("/clip.mp4?case=progress")
        outgoing = router.outgoing(video_request(url), "google-vertex", progress=both)
        sent = b"".join(counting(outgoing.iter_bytes(), outgoing.content_length, display.task("uploading")))
    size = clips["mp4"].stat().st_size
    assert seen[-1] == (size, size)
    assert len(sent) == outgoing.content_length
    assert "downloading" in stream.getvalue()
    assert "uploading" in stream.getvalue()


def test_counting_reports_running_totals() -> None:
    """`counting` passes chunks through unchanged and reports 0, then each running total."""
    calls: list[tuple[int, int | None]] = []
    chunks = [b"ab", b"cde", b"f"]
    assert list(counting(iter(chunks), 6, lambda d, t: calls.append((d, t)))) == chunks
    assert calls == [(0, 6), (2, 6), (5, 6), (6, 6)]


def test_inline_refuses_what_would_only_fail_upstream(
    tmp_path: Path, clips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty file, a Matroska file and a truncated MP4 each get a clear exit 1 and no data URL; a directory
    is a usage error (exit 2), not "no such file"."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clips["mp4"].read_bytes()[:-300])
    expected = {empty: "is empty", clips["mkv"]: "not a type OpenRouter takes", cut: "truncated"}
    for path, words in expected.items():
        assert main(["inline", "--mime", "video/mp4", str(path)] if path == empty else ["inline", str(path)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert words in captured.err
    assert main(["inline", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_inline_writes_the_documented_type_name(clips: dict[str, Path]) -> None:
    """`--mime video/quicktime` comes out as OpenRouter's `video/mov`."""
    assert data_url_from_file(clips["mov"], "video/quicktime").startswith("data:video/mov;base64,")


@pytest.mark.parametrize("command", ["rewrite", "send"])
def test_one_request_commands_refuse_a_jsonl_of_several(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rewrite` and `send` take one request: a two-line JSONL file is a usage error (exit 2) that says so,
    like the same lines on stdin."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-key")
    line = json.dumps(text_request())
    path = tmp_path / "two.jsonl"
    path.write_text(f"{line}\n{line}\n")
    assert main([command, str(path)]) == 2
    assert "holds 2 requests; this command takes one" in capsys.readouterr().err
