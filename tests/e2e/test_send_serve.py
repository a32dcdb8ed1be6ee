"""`router send` (a real subprocess) and `router serve` (in-process, port 0) against the fake strict upstream.

Everything here crosses real sockets on loopback: the CLI or an ``openai`` SDK client -> router -> the fake
OpenRouter in tests/upstream.py, which judges what it receives on its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from router.pipeline import Router
from router.serve import ProxyServer, make_server, serve
from tests.servers import MediaServer
from tests.upstream import FakeOpenRouter

MODEL = "google/gemini-2.5-flash"
YOUTUBE = "https://youtu.be/dQw4w9WgXcQ"
KEY = "sk-or-v1-e2e-test-key"
CaseUrl = Callable[[str], tuple[str, str]]


def _request(url: str, **extra: Any) -> dict[str, Any]:
    content = [{"type": "text", "text": "What happens?"}, {"type": "video_url", "video_url": {"url": url}}]
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


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
    result = _send(upstream, tmp_path, _request(YOUTUBE))
    assert result.returncode == 0, result.stderr
    completion = json.loads(result.stdout)
    summary = json.loads(completion["choices"][0]["message"]["content"])
    assert summary["provider"] == "google-ai-studio"
    assert summary["videos"][0]["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    (received,) = upstream.requests
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.json()["provider"]["only"] == ["google-ai-studio"]
    assert KEY not in result.stdout + result.stderr


def test_send_inlines_for_vertex(
    upstream: FakeOpenRouter, case_url: CaseUrl, clips: dict[str, Path], tmp_path: Path
) -> None:
    """Pinned to Vertex, the media-server clip arrives inline, byte-identical, with an exact Content-Length."""
    request = _request(case_url("/clip.mp4")[0])
    result = _send(upstream, tmp_path, request, "--provider", "google-vertex", "--allow-private-urls")
    assert result.returncode == 0, result.stderr
    (received,) = upstream.requests
    assert received.summary["provider"] == "google-vertex"
    assert received.summary["videos"][0]["sha256"] == _sha(clips["mp4"].read_bytes())
    assert received.content_length == received.body_size


def test_send_without_key_exits_2(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """Without OPENROUTER_API_KEY: exit 2, a sentence saying how to set it, and nothing sent."""
    result = _send(upstream, tmp_path, _request(YOUTUBE), key=None)
    assert result.returncode == 2
    assert "OPENROUTER_API_KEY is not set" in result.stderr
    assert "export OPENROUTER_API_KEY=" in result.stderr
    assert upstream.requests == []


def test_send_rejected_exits_1_and_sends_nothing(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """A YouTube link pinned to Vertex cannot work: diagnostics on stderr, exit 1, the upstream sees nothing."""
    result = _send(upstream, tmp_path, _request(YOUTUBE), "--provider", "google-vertex")
    assert result.returncode == 1
    assert "url-not-accepted" in result.stderr
    assert result.stdout == ""
    assert upstream.requests == []


def test_send_upstream_refusal_exits_1(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """An upstream 5xx prints its message on stderr and exits 1."""
    upstream.fail_with = (502, "Provider returned error")
    result = _send(upstream, tmp_path, _request(YOUTUBE))
    assert result.returncode == 1
    assert "upstream refused the request (HTTP 502): Provider returned error" in result.stderr
    assert result.stdout == ""


def test_send_streams_content_as_it_arrives(upstream: FakeOpenRouter, tmp_path: Path) -> None:
    """With "stream": true the first chunk is on stdout while the upstream still holds the rest back."""
    upstream.stream_gate = threading.Event()
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_request(YOUTUBE, stream=True)))
    argv = [sys.executable, "-m", "router", "send", str(path)]
    with subprocess.Popen(argv, env=_env(upstream), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert upstream.stream_paused.wait(30)
        ready, _, _ = select.select([proc.stdout], [], [], 3)
        first = os.read(proc.stdout.fileno(), 4096) if ready else b""
        upstream.stream_gate.set()
        rest, err = proc.communicate(timeout=30)
    assert first == b'{"model": "googl'  # the first 16-character content chunk, nothing more
    assert proc.returncode == 0, err
    summary = json.loads(first + rest)
    assert summary["provider"] == "google-ai-studio"


# -- router serve ---------------------------------------------------------------------------------------


@pytest.fixture
def proxy(upstream: FakeOpenRouter, local_router: Router) -> Iterator[ProxyServer]:
    """The proxy on a free port in a thread, pointed at the fake upstream, with no key of its own."""
    server = make_server(local_router, "127.0.0.1", 0, upstream.base_url, api_key="")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _client(proxy: ProxyServer, prefix: str = "/api/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + prefix, api_key=KEY, max_retries=0, timeout=30)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_serve_routes_youtube_to_ai_studio(upstream: FakeOpenRouter, proxy: ProxyServer, prefix: str) -> None:
    """An openai SDK client on either prefix gets its YouTube request routed to google-ai-studio, key intact."""
    messages: Any = _request("https://www.youtube.com/shorts/dQw4w9WgXcQ")["messages"]
    answer = _client(proxy, prefix).chat.completions.create(model=MODEL, messages=messages)
    assert json.loads(answer.choices[0].message.content or "")["provider"] == "google-ai-studio"
    (received,) = upstream.requests
    assert received.path == "/api/v1/chat/completions"
    assert received.json()["provider"]["only"] == ["google-ai-studio"]
    assert received.json()["messages"][0]["content"][1]["video_url"]["url"].endswith("watch?v=dQw4w9WgXcQ")
    assert received.headers["authorization"] == f"Bearer {KEY}"


def test_serve_inlines_media_for_vertex(
    upstream: FakeOpenRouter, proxy: ProxyServer, case_url: CaseUrl, media_server: MediaServer, clips: dict[str, Path]
) -> None:
    """A media-server URL pinned to Vertex reaches the upstream as a data URL of the very same bytes, fetched once."""
    url, target = case_url("/clip.webm")
    messages: Any = _request(url)["messages"]
    _client(proxy).chat.completions.create(
        model=MODEL, messages=messages, extra_body={"provider": {"only": ["google-vertex"]}}
    )
    (received,) = upstream.requests
    assert received.summary["provider"] == "google-vertex"
    assert received.summary["videos"][0] == {
        "kind": "data",
        "mime": "video/webm",
        "size": clips["webm"].stat().st_size,
        "sha256": _sha(clips["webm"].read_bytes()),
    }
    assert media_server.hits(target) == 1


def test_serve_rejects_with_400_json(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """A request no provider can take gets an OpenRouter-shaped 400 with diagnostics; nothing goes upstream."""
    messages: Any = _request("ftp://example.com/clip.mp4")["messages"]
    with pytest.raises(openai.BadRequestError) as caught:
        _client(proxy).chat.completions.create(model=MODEL, messages=messages)
    assert caught.value.status_code == 400
    body: Any = caught.value.body
    assert body["metadata"]["diagnostics"][0]["rule"] == "url-not-accepted"
    assert upstream.requests == []


def test_serve_streams_sse_through(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """SSE passes through chunk by chunk: the SDK reassembles the whole content from the proxied stream."""
    messages: Any = _request(YOUTUBE)["messages"]
    stream = _client(proxy).chat.completions.create(model=MODEL, messages=messages, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert json.loads(text)["provider"] == "google-ai-studio"


def test_serve_does_not_buffer_streams(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """The first SSE event reaches the client while the upstream still holds the rest of the stream back."""
    upstream.stream_gate = threading.Event()
    body = _request(YOUTUBE, stream=True)
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{proxy.url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        events = (line for line in response.iter_lines() if line.startswith("data:"))
        first, content = next(events), next(events)  # the role event, then the content chunk at the gate
        assert upstream.stream_paused.is_set()  # got them while the upstream was waiting at the gate
        upstream.stream_gate.set()
        rest = list(events)
    assert json.loads(first[5:])["choices"][0]["delta"]["role"] == "assistant"
    assert "content" in json.loads(content[5:])["choices"][0]["delta"]
    assert rest[-1] == "data: [DONE]"


def test_serve_key_fallback(upstream: FakeOpenRouter) -> None:
    """A client without Authorization gets the server's key; a client with one keeps its own."""
    server = make_server(Router(), "127.0.0.1", 0, upstream.base_url, api_key="sk-or-server-key")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{server.url}/api/v1/chat/completions", json=body).status_code == 200
        own = {"Authorization": "Bearer sk-or-client-key"}
        assert httpx.post(f"{server.url}/api/v1/chat/completions", json=body, headers=own).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    assert [r.headers["authorization"] for r in upstream.requests] == [
        "Bearer sk-or-server-key",
        "Bearer sk-or-client-key",
    ]


def test_serve_unknown_path_and_dead_upstream(proxy: ProxyServer) -> None:
    """Outside /api/v1 and /v1 the proxy answers 404; an unreachable upstream is a 502, both as JSON errors."""
    missing = httpx.get(f"{proxy.url}/chat/completions")
    assert missing.status_code == 404
    assert "/api/v1" in missing.json()["error"]["message"]
    proxy.base_url = "http://127.0.0.1:9/api/v1"  # discard port: nothing listens
    dead = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert dead.status_code == 502
    assert dead.json()["error"]["message"].startswith("router proxy: cannot reach the upstream")


def test_serve_announces_and_stops(upstream: FakeOpenRouter) -> None:
    """`serve` prints its one start line, hands the server to ``ready``, and returns 0 once shut down."""
    out = io.StringIO()
    started: list[ProxyServer] = []

    def ready(server: ProxyServer) -> None:
        started.append(server)
        threading.Thread(target=server.shutdown, daemon=True).start()

    assert serve(Router(), "127.0.0.1", 0, upstream.base_url, out, ready, log=out) == 0
    assert out.getvalue() == f"router proxy on {started[0].url} -> {upstream.base_url}\n"


def test_serve_command_logs_and_stops_cleanly_on_ctrl_c(upstream: FakeOpenRouter) -> None:
    """`router serve` logs one line per request and what it did to video requests (no key, no query string);
    SIGINT ends it with exit 0 and a goodbye line, no traceback."""
    argv = [sys.executable, "-m", "router", "serve", "--port", "0", "--base-url", upstream.base_url]
    env = _env(upstream, key=None)
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" -> ", 1)[0]
        bodies = [
            {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            _request(YOUTUBE + "?t=42"),
            {**_request("https://example.com/v.mp4?sig=secret"), "model": "openai/gpt-4o-mini"},
            _request(YOUTUBE + "?si=secret", provider={"only": ["google-vertex"]}),
        ]
        headers = {"Authorization": f"Bearer {KEY}"}
        answers = [httpx.post(f"{url}/v1/chat/completions?x=1", json=b, headers=headers) for b in bodies]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert [a.status_code for a in answers] == [200, 200, 400, 400]
    assert proc.returncode == 0, err
    assert out == "router proxy stopped\n"
    lines = err.splitlines()
    assert lines[0] == "POST /v1/chat/completions -> 200"
    assert lines[1] == "router: routed a video request: route: provider.only = ['google-ai-studio']"
    assert lines[2] == "POST /v1/chat/completions -> 200"
    assert lines[3].startswith("router: rejected a request: model-lacks-video: model 'openai/gpt-4o-mini'")
    assert lines[4] == "POST /v1/chat/completions -> 400"
    assert lines[5].startswith("router: rejected a request: url-not-accepted: https://youtu.be/dQw4w9WgXcQ?…")
    assert lines[6] == "POST /v1/chat/completions -> 400"
    assert len(lines) == 7
    assert KEY not in err
    assert "secret" not in err


def _raw(proxy: ProxyServer, head: str, body: bytes = b"") -> bytes:
    """One request over a plain socket, read until the proxy closes the connection."""
    host, port = proxy.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_serve_streams_to_an_http10_client_without_chunking(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """HTTP/1.0 has no chunked coding: the stream is sent as is and the closed connection ends it."""
    body = json.dumps(_request(YOUTUBE, stream=True)).encode()
    head = f"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    answer = _raw(proxy, head + f"Authorization: Bearer {KEY}\r\n\r\n", body)
    headers, _, payload = answer.partition(b"\r\n\r\n")
    assert headers.split(b"\r\n", 1)[0].endswith(b" 200 OK")
    assert b"transfer-encoding" not in headers.lower()
    assert b"connection: close" in headers.lower()
    assert payload.rstrip().endswith(b"data: [DONE]")


@pytest.mark.parametrize("length", ["1e3", "-5", "ten"])
def test_serve_answers_bad_framing_with_a_400(upstream: FakeOpenRouter, proxy: ProxyServer, length: str) -> None:
    """A Content-Length that is not a number gets a 400 and a closed connection, not a dropped socket."""
    answer = _raw(proxy, f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"framing is invalid" in answer
    assert upstream.requests == []
