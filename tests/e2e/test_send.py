"""`router send` (a real subprocess) against the fake strict upstream (`router serve`: tests/e2e/test_proxy.py).

Everything here crosses real sockets on loopback: the CLI or an ``openai`` SDK client -> router -> the fake
OpenRouter in tests/upstream.py, which judges what it receives on its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from payloads import YOUTU_BE, YOUTUBE, video_request
from upstream import FakeOpenRouter

KEY = "sk-or-v1-e2e-test-key"
CaseUrl = Callable[[str], tuple[str, str]]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- router send ----------------------------------------------------------------------------------------


def _env(upstream: FakeOpenRouter, key: str | None = KEY) -> dict[str, str]:
    # No PYTHONUNBUFFERED: streamed output must reach the pipe because router flushes, not by luck.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_") and k != "PYTHONUNBUFFERED"}
    env["OPENROUTER_BASE_URL"] = upstream.base_url
    if key is not None:
        env["OPENROUTER_API_KEY"] = key
    return env


def _send(
    upstream: FakeOpenRouter, tmp_path: Path, request: dict[str, Any], *args: str, key: str | None = KEY
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    argv = [sys.executable, "-m", "router", "send", str(path), *args]
    return subprocess.run(argv, env=_env(upstream, key), capture_output=True, text=True, timeout=60, check=False)


def test_send_prints_the_completion(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """A YouTube request to Gemini is routed to AI Studio, sent with the key, and the completion is printed."""
    result = _send(upstream, tmp_path, video_request(YOUTU_BE))
    assert result.returncode == 0, result.stderr
    completion = json.loads(result.stdout)
    summary = json.loads(completion["choices"][0]["message"]["content"])
    assert summary["provider"] == "google-ai-studio"
    assert summary["videos"][0]["url"] == YOUTUBE
    (received,) = upstream.requests
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.json()["provider"]["only"] == ["google-ai-studio"]
    assert KEY not in result.stdout + result.stderr


def test_send_inlines_for_vertex(
    upstream: FakeOpenRouter, case_url: CaseUrl, clips: dict[str, Path], tmp_path: Path
) -> None:
    """Pinned to Vertex, the media-server clip arrives inline, byte-identical, with an exact Content-Length."""
    request = video_request(case_url("/clip.mp4")[0])
    result = _send(upstream, tmp_path, request, "--provider", "google-vertex", "--allow-private-urls")
    assert result.returncode == 0, result.stderr
    (received,) = upstream.requests
    assert received.summary["provider"] == "google-vertex"
    assert received.summary["videos"][0]["sha256"] == _sha(clips["mp4"].read_bytes())
    assert received.content_length == received.body_size


def test_send_without_key_exits_2(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """Without OPENROUTER_API_KEY: exit 2, a sentence saying how to set it, and nothing sent."""
    result = _send(upstream, tmp_path, video_request(YOUTU_BE), key=None)
    assert result.returncode == 2
    assert "OPENROUTER_API_KEY is not set" in result.stderr
    assert "export OPENROUTER_API_KEY=" in result.stderr
    assert upstream.requests == []


def test_send_rejected_exits_1_and_sends_nothing(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """A YouTube link pinned to Vertex cannot work: diagnostics on stderr, exit 1, the upstream sees nothing."""
    result = _send(upstream, tmp_path, video_request(YOUTU_BE), "--provider", "google-vertex")
    assert result.returncode == 1
    assert "url-not-accepted" in result.stderr
    assert result.stdout == ""
    assert upstream.requests == []


def test_send_upstream_refusal_exits_1(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """An upstream 5xx prints its message on stderr and exits 1."""
    upstream.fail_with = (502, "Provider returned error")
    result = _send(upstream, tmp_path, video_request(YOUTU_BE))
    assert result.returncode == 1
    assert "upstream refused the request (HTTP 502): Provider returned error" in result.stderr
    assert result.stdout == ""


def test_send_streams_content_as_it_arrives(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """With "stream": true the first chunk is on stdout while the upstream still holds the rest back."""
    upstream.stream_gate = threading.Event()
    path = tmp_path / "request.json"
    path.write_text(json.dumps(video_request(YOUTU_BE, stream=True)))
    argv = [sys.executable, "-m", "router", "send", str(path)]
    with subprocess.Popen(argv, env=_env(upstream), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert upstream.stream_paused.wait(30)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        first = os.read(proc.stdout.fileno(), 4096) if ready else b""
        upstream.stream_gate.set()
        rest, err = proc.communicate(timeout=30)
    assert first == b'{"model": "googl'  # the first 16-character content chunk, nothing more
    assert proc.returncode == 0, err
    summary = json.loads(first + rest)
    assert summary["provider"] == "google-ai-studio"
