"""`router serve` for real: a subprocess on a free loopback port (or the same app in a thread) in front of the
strict fake OpenRouter, driven by SDKs, Node's fetch, httpx and plain sockets, with every fault the proxy must
survive: truncated uploads, clients that vanish, slow and malformed heads, oversized bodies, foreign Host and
Origin, dot segments, a full upstream, SIGTERM in the middle of a stream.

Synchronisation is by events, never by sleeping: the fake upstream signals when it holds a request and when
the proxy hung up on it; the proxy's access log (stderr, one line per request, with the client's port) says when
it is done with a request.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from payloads import GEMINI, YOUTU_BE, text_request, video_messages, video_request
from prometheus_client.parser import text_string_to_metric_families
from proxy_process import Proxy
from servers import MediaServer
from upstream import FakeOpenRouter

from router._model.body import MEMORY_LIMIT
from router._rewrite.pipeline import Router
from router.serve import ProxyServer, ProxySettings, create_app, make_server

KEY = "sk-or-v1-e2e-test-key"
SERVER_KEY = "sk-or-v1-operator-key"
CaseUrl = Callable[[str], tuple[str, str]]


def _get(url: str, **kwargs: Any) -> httpx.Response:
    """httpx.get with room for a loaded machine (the default 5 s is not)."""
    return httpx.get(url, **{"timeout": 60, **kwargs})


def _post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, **{"timeout": 60, **kwargs})


TEXT = text_request()
AUTH = {"Authorization": f"Bearer {KEY}"}


# -- the proxy as a process ---------------------------------------------------------------------------------

# Both upstream clients: aiohttp's (the serve extra's) and httpx's pools (without aiohttp, or when told).
UPSTREAM_CLIENTS = ["aiohttp", "httpx"]


@pytest.fixture(scope="module", params=UPSTREAM_CLIENTS)
def served(upstream: FakeOpenRouter, request: pytest.FixtureRequest) -> Iterator[Proxy]:
    """One `router serve` process for the tests that do not stop it (header timeout 1 s, body limit 1 MB), on
    each upstream client."""
    proxy = Proxy(
        upstream,
        "--allow-private-urls",
        "--header-timeout",
        "1",
        "--keep-alive-timeout",
        "1",
        "--max-body-size",
        "1MB",
        env={"OPENROUTER_API_KEY": SERVER_KEY, "ROUTER_UPSTREAM_CLIENT": request.param},
    )
    yield proxy
    proxy.close()


def _raw(url: str, data: bytes, *, read: bool = True, timeout: float = 20) -> bytes:
    """Send ``data`` over a plain socket and read until the proxy closes the connection."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while read and (chunk := sock.recv(65536)):
            received += chunk
    return received


def _head(path: str = "/v1/chat/completions", *lines: str, method: str = "POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{h}\r\n" for h in lines) + "\r\n").encode()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=20)


def _response(sock: socket.socket) -> bytes:
    """One answer with a Content-Length, read in full from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += sock.recv(65536)
    return data


def _scrape(url: str) -> dict[str, float]:
    """``/metrics`` parsed: ``{"name{label=value,...}": value}`` for every sample."""
    text = _get(f"{url}/metrics").text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


# -- ordinary traffic, through the app in a thread (same code, same server, no process start) ---------------


@pytest.fixture(params=UPSTREAM_CLIENTS)
def proxy(upstream: FakeOpenRouter, local_router: Router, request: pytest.FixtureRequest) -> Iterator[ProxyServer]:
    """The proxy in a thread on a free port, pointed at the fake upstream, with no key of its own, on each
    upstream client."""
    settings = ProxySettings(upstream_client=request.param)
    with make_server(local_router, "127.0.0.1", 0, upstream.base_url, api_key="", settings=settings) as server:
        yield server


def _client(proxy: ProxyServer, prefix: str = "/api/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + prefix, api_key=KEY, max_retries=0, timeout=30)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_routes_youtube_to_ai_studio(upstream: FakeOpenRouter, proxy: ProxyServer, prefix: str) -> None:
    """An openai SDK client on either prefix gets its YouTube request routed to google-ai-studio, key intact."""
    messages: Any = video_messages("https://www.youtube.com/shorts/dQw4w9WgXcQ")
    answer = _client(proxy, prefix).chat.completions.create(model=GEMINI, messages=messages)
    assert json.loads(answer.choices[0].message.content or "")["provider"] == "google-ai-studio"
    (received,) = upstream.requests
    assert received.path == "/api/v1/chat/completions"
    assert received.json()["provider"]["only"] == ["google-ai-studio"]
    assert received.json()["messages"][0]["content"][1]["video_url"]["url"].endswith("watch?v=dQw4w9WgXcQ")
    assert received.headers["authorization"] == f"Bearer {KEY}"


def test_inlines_media_for_vertex(
    upstream: FakeOpenRouter, proxy: ProxyServer, case_url: CaseUrl, media_server: MediaServer, clips: dict[str, Path]
) -> None:
    """A media-server URL pinned to Vertex reaches the upstream as a data URL of the very same bytes, fetched once."""
    url, target = case_url("/clip.webm")
    messages: Any = video_messages(url)
    _client(proxy).chat.completions.create(
        model=GEMINI, messages=messages, extra_body={"provider": {"only": ["google-vertex"]}}
    )
    (received,) = upstream.requests
    data = clips["webm"].read_bytes()
    assert received.summary["provider"] == "google-vertex"
    assert received.summary["videos"][0] == {
        "kind": "data",
        "mime": "video/webm",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert received.content_length == received.body_size
    assert media_server.hits(target) == 1


def test_rejects_with_400_json(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """A request no provider can take gets an OpenRouter-shaped 400 with diagnostics; nothing goes upstream."""
    messages: Any = video_messages("ftp://example.com/clip.mp4")
    with pytest.raises(openai.BadRequestError) as caught:
        _client(proxy).chat.completions.create(model=GEMINI, messages=messages)
    body: Any = caught.value.body
    assert body["metadata"]["diagnostics"][0]["rule"] == "url-not-accepted"
    assert upstream.requests == []


def test_sdk_stream_arrives_event_by_event(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """The SDK's stream yields the first content chunk while the upstream still holds the rest back."""
    upstream.stream_gate = gate = threading.Event()
    messages: Any = video_messages(YOUTU_BE)
    text = ""
    for chunk in _client(proxy).chat.completions.create(model=GEMINI, messages=messages, stream=True):
        delta = chunk.choices[0].delta.content if chunk.choices else None
        if delta and not text:
            assert upstream.stream_paused.is_set()  # it got here while the upstream waited at the gate
            gate.set()
        text += delta or ""
    assert json.loads(text)["provider"] == "google-ai-studio"


def test_node_fetch_streams_through(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """Node's built-in fetch posts through the proxy and reads the SSE stream to [DONE] (a non-Python client)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = """
const res = await fetch(process.env.URL, {method: "POST", body: process.env.BODY,
  headers: {"content-type": "application/json", "authorization": "Bearer " + process.env.KEY}});
let text = "", done = false, buffer = "";
const decoder = new TextDecoder();
for await (const piece of res.body) {
  buffer += decoder.decode(piece, {stream: true});
  let cut;
  while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
    const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
    const data = event.replace(/^data: /, "");
    if (data === "[DONE]") { done = true; continue; }
    text += JSON.parse(data).choices[0].delta.content ?? "";
  }
}
console.log(JSON.stringify({status: res.status, done, text}));
"""
    env = {
        **os.environ,
        "URL": f"{proxy.url}/v1/chat/completions",
        "BODY": json.dumps(video_request(YOUTU_BE, stream=True)),
        "KEY": KEY,
    }
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == 200
    assert result["done"] is True
    assert json.loads(result["text"])["provider"] == "google-ai-studio"


def test_key_fallback(upstream: FakeOpenRouter) -> None:
    """A client without Authorization gets the server's key; a client with one keeps its own."""
    with make_server(Router(), "127.0.0.1", 0, upstream.base_url, api_key=SERVER_KEY) as server:
        assert _post(f"{server.url}/api/v1/chat/completions", json=TEXT).status_code == 200
        own = {"Authorization": "Bearer sk-or-client-key"}
        assert _post(f"{server.url}/api/v1/chat/completions", json=TEXT, headers=own).status_code == 200
    assert [r.headers["authorization"] for r in upstream.requests] == [
        f"Bearer {SERVER_KEY}",
        "Bearer sk-or-client-key",
    ]


def test_dead_upstream_is_502(local_router: Router) -> None:
    """An upstream nobody listens on is a 502 in OpenRouter's error shape, not a hang or a 500."""
    with make_server(local_router, "127.0.0.1", 0, "http://127.0.0.1:9/api/v1", api_key="") as server:
        dead = _post(f"{server.url}/v1/chat/completions", json=TEXT)
    assert dead.status_code == 502
    assert dead.json()["error"]["message"].startswith("router proxy: cannot reach the upstream")


def test_upstream_cap_answers_503_with_retry_after(upstream: FakeOpenRouter, local_router: Router) -> None:
    """With every upstream slot busy past the queue deadline the proxy answers 503 + Retry-After, never 504."""
    upstream.hold = hold = threading.Event()
    settings = ProxySettings(base_url=upstream.base_url, max_upstream=1, queue_timeout=0.3)
    with make_server(local_router, port=0, settings=settings) as server, httpx.Client(timeout=30) as client:
        first: list[int] = []
        held = threading.Thread(
            target=lambda: first.append(
                client.post(f"{server.url}/v1/chat/completions", json=TEXT, headers=AUTH).status_code
            )
        )
        held.start()
        assert upstream.held.wait(20)
        second = _post(f"{server.url}/v1/chat/completions", json=TEXT, headers=AUTH, timeout=30)
        hold.set()
        held.join(30)
    assert second.status_code == 503
    assert second.headers["retry-after"] == "1"
    assert "upstream slots are busy" in second.json()["error"]["message"]
    assert first == [200]
    assert len(upstream.requests) == 1


def test_gzip_body_is_checked_like_any_other(upstream: FakeOpenRouter, proxy: ProxyServer) -> None:
    """A gzip-compressed request body is decoded and checked: a YouTube link pinned to Vertex is refused."""
    body = gzip.compress(json.dumps(video_request(YOUTU_BE, only=["google-vertex"])).encode())
    headers = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = _post(f"{proxy.url}/v1/chat/completions", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["metadata"]["diagnostics"][0]["rule"] == "url-not-accepted"
    assert upstream.requests == []


# -- probes, metrics, the access log (the process) ------------------------------------------------------------


def test_probes(served: Proxy) -> None:
    """/healthz and /readyz answer 200 JSON on a running proxy; other methods are 405."""
    assert _get(f"{served.url}/healthz").json() == {"status": "ok"}
    ready = _get(f"{served.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert _post(f"{served.url}/healthz").status_code == 405


def test_metrics_count_outcomes_rules_and_downloads(
    served: Proxy, upstream: FakeOpenRouter, case_url: CaseUrl, clips: dict[str, Path]
) -> None:
    """/metrics parses as Prometheus text and counts outcomes, rules, inlined bytes, downloads, cache hits."""
    before = _scrape(served.url)
    url, _ = case_url("/clip.mp4")
    vertex = video_request(url, only=["google-vertex"])
    for body in (TEXT, vertex, vertex, video_request("ftp://example.com/v.mp4")):
        _post(f"{served.url}/v1/chat/completions", json=body, headers=AUTH)
    after = _scrape(served.url)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew("router_proxy_requests_total{outcome=passed,status=200}") == 1
    assert grew("router_proxy_requests_total{outcome=routed,status=200}") == 2
    assert grew("router_proxy_requests_total{outcome=rejected,status=400}") == 1
    assert grew("router_proxy_rule_findings_total{outcome=routed,rule=url-needs-inline}") == 2
    assert grew("router_proxy_rule_findings_total{outcome=rejected,rule=url-not-accepted}") == 1
    assert grew("router_proxy_inlined_bytes_total{}") == 2 * clips["mp4"].stat().st_size
    assert grew("router_fetch_downloads_total{}") == 1
    assert grew("router_fetch_cache_hits_total{}") == 1
    assert grew("router_proxy_upstream_latency_seconds_count{}") == 3  # the rejection never went upstream
    assert after["router_proxy_in_flight_requests{}"] == 0
    assert "router_proxy_event_loop_lag_max_seconds{}" in after


def test_access_log_has_one_structured_line_and_no_secrets(served: Proxy, upstream: FakeOpenRouter) -> None:
    """Each request gets one key=value line on the router.access logger; keys and query strings never appear."""
    with _connect(served.url) as sock:
        port = sock.getsockname()[1]
        body = json.dumps(video_request(YOUTU_BE + "?si=secret-query")).encode()
        sock.sendall(
            _head(
                "/v1/chat/completions?token=secret-query",
                f"Content-Length: {len(body)}",
                f"Authorization: Bearer {KEY}",
            )
            + body
        )
        assert _response(sock).startswith(b"HTTP/1.1 200")
    line = served.wait_for(f"client=127.0.0.1:{port}")
    fields = dict(item.split("=", 1) for item in line.removeprefix("router.access: ").split(" "))
    assert fields["method"] == "POST"
    assert fields["path"] == "/v1/chat/completions"
    assert fields["status"] == "200"
    assert fields["outcome"] == "routed"
    log = served.stderr_now()
    assert KEY not in log
    assert SERVER_KEY not in log
    assert "secret-query" not in log


# -- who may use it ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),  # a DNS-rebinding page arrives under its own name
        ({"Host": "evil.example:8787", "Origin": "http://evil.example:8787"}, 421),
        ({"Origin": "https://evil.example"}, 403),  # a foreign page through a loopback name
        ({"Origin": "null"}, 403),
    ],
)
def test_foreign_host_and_origin_are_refused(
    served: Proxy, upstream: FakeOpenRouter, headers: dict[str, str], status: int
) -> None:
    """A foreign Host or Origin is refused before the operator's key is touched; nothing reaches the upstream."""
    answer = _post(f"{served.url}/v1/chat/completions", json=TEXT, headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == status
    assert upstream.requests == []


def test_own_origin_and_loopback_names_pass(served: Proxy, upstream: FakeOpenRouter) -> None:
    """The loopback names and the proxy's own origin are served (the refusals above are not blanket ones)."""
    for host in ("localhost", f"localhost:{served.port}", "127.0.0.1", f"[::1]:{served.port}"):
        own = {"Host": host, "Origin": f"http://{host}"}
        assert _post(f"{served.url}/v1/chat/completions", json=TEXT, headers=own).status_code == 200, host
    assert len(upstream.requests) == 4


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/../../outside-api", 404),
        ("/api/v1/%2e%2e/%2E%2E/outside-api", 404),
        ("/v1/..%2f..%2foutside-api", 400),
        ("/v1/chat/../../models", 404),
    ],
)
def test_dot_segments_never_leave_the_prefix(served: Proxy, upstream: FakeOpenRouter, path: str, status: int) -> None:
    """Dot segments, plain or percent-encoded, resolve before routing: nothing outside the prefix is reached."""
    answer = _raw(served.url, _head(path, "Content-Length: 2", "Connection: close") + b"{}")
    assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:200]
    assert upstream.requests == []


def test_dot_segments_inside_the_prefix_are_resolved(served: Proxy, upstream: FakeOpenRouter) -> None:
    """A path that wanders but stays under the prefix reaches the upstream normalised."""
    body = json.dumps(TEXT).encode()
    answer = _raw(
        served.url,
        _head("/api/v1/x/%2e%2e/chat/./completions", f"Content-Length: {len(body)}", "Connection: close") + body,
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert [r.path for r in upstream.requests] == ["/api/v1/chat/completions"]


def test_access_token(upstream: FakeOpenRouter) -> None:
    """With a token, requests without it get 401 and send nothing; with it, the operator's key (or the client's
    own, via X-Router-Token) goes upstream and the token never does; the open-bind warning stays silent."""
    proxy = Proxy(upstream, env={"ROUTER_ACCESS_TOKEN": "tok-123456", "OPENROUTER_API_KEY": SERVER_KEY})
    try:
        url = f"{proxy.url}/v1/chat/completions"
        refused = [
            _post(url, json=TEXT),
            _post(url, json=TEXT, headers={"Authorization": "Bearer wrong"}),
            _post(url, json=TEXT, headers=AUTH),
        ]
        assert [r.status_code for r in refused] == [401, 401, 401]
        assert refused[0].headers["www-authenticate"].startswith("Bearer")
        assert upstream.requests == []
        bearer = _post(url, json=TEXT, headers={"Authorization": "Bearer tok-123456"})
        own = _post(url, json=TEXT, headers={**AUTH, "X-Router-Token": "tok-123456"})
        assert (bearer.status_code, own.status_code) == (200, 200)
    finally:
        assert proxy.stop() == 0
        proxy.close()
    sent = [r.headers for r in upstream.requests]
    assert [h["authorization"] for h in sent] == [f"Bearer {SERVER_KEY}", f"Bearer {KEY}"]
    assert not any("x-router-token" in h or "tok-123456" in json.dumps(h) for h in sent)
    assert "WARNING" not in proxy.stderr_now()


@pytest.mark.parametrize("lend", [False, True])
def test_open_bind_without_token_warns_with_the_bound_port(upstream: FakeOpenRouter, lend: bool) -> None:
    """Listening on 0.0.0.0 with --port 0 and no token, the warning names the port actually bound and what becomes
    of the operator's key: protected mode (loopback clients only) by default, lent to anyone with
    --lend-key-to-network; a loopback client gets the key either way."""
    flags = ["--lend-key-to-network"] if lend else []
    proxy = Proxy(upstream, "--host", "0.0.0.0", *flags, env={"OPENROUTER_API_KEY": SERVER_KEY})  # noqa: S104
    try:
        line = proxy.wait_for("no access token")
        assert line.startswith("router: WARNING")
        assert f"listening on 0.0.0.0:{proxy.port} " in line
        local = _post(f"http://127.0.0.1:{proxy.port}/v1/chat/completions", json=TEXT)  # loopback: key lent
        assert proxy.stop() == 0
        proxy.wait_for("stopped accepting")  # everything written before it has been read
    finally:
        proxy.close()
    warning = " ".join(
        line.removeprefix("router: WARNING ") for line in proxy.seen if line.startswith("router: WARNING")
    )
    if lend:
        assert "anyone who can reach this port uses the proxy, and the operator's OPENROUTER_API_KEY" in warning
    else:
        assert "Protected mode: the operator's OPENROUTER_API_KEY is added only to requests from this machine" in (
            warning
        )
        assert "--lend-key-to-network (ROUTER_LEND_KEY_TO_NETWORK=1)" in warning
    assert "ROUTER_ACCESS_TOKEN" in warning
    assert local.status_code == 200
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {SERVER_KEY}"]


FOREIGN = ("203.0.113.5", 40000)  # TEST-NET-3: a client beyond this machine, in the scope only (no traffic)


async def _from(
    client: tuple[str, int], upstream: FakeOpenRouter, router: Router, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[httpx.Response, bytes]:
    """One keyless-or-not request through the ASGI app as if from ``client`` (no access token; the operator has
    a key), and the app's metrics afterwards."""
    settings = ProxySettings(base_url=upstream.base_url, api_key=SERVER_KEY, loop_monitor_interval=0, **kw)
    app = create_app(settings, router=router, close_router=False)
    transport = httpx.ASGITransport(app, client=client)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
            answer = await http.post("/v1/chat/completions", json=TEXT, headers=headers)
    finally:
        await app.shutdown()
    return answer, app.metrics.render()


@pytest.mark.parametrize("client", [FOREIGN, ("::ffff:203.0.113.5", 40000), ("10.0.0.7", 40000)])
async def test_protected_mode_refuses_a_keyless_client_beyond_loopback(
    upstream: FakeOpenRouter, local_router: Router, client: tuple[str, int]
) -> None:
    """Without an access token, a keyless request from beyond loopback gets a 401 that says how to configure a
    token or the opt-out, counted as refused; the operator's key is not sent and nothing reaches the upstream."""
    answer, metrics = await _from(client, upstream, local_router)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    error = answer.json()["error"]
    assert (error["code"], error["metadata"]) == (401, {})
    for hint in ("--access-token", "ROUTER_ACCESS_TOKEN", "--lend-key-to-network", "ROUTER_LEND_KEY_TO_NETWORK=1"):
        assert hint in error["message"]
    assert SERVER_KEY not in answer.text
    assert b'router_proxy_requests_total{outcome="refused",status="401"} 1.0' in metrics
    assert upstream.requests == []


@pytest.mark.parametrize(
    "client", [("127.0.0.1", 40000), ("127.8.9.10", 40000), ("::1", 40000), ("::ffff:127.0.0.1", 1)]
)
async def test_protected_mode_lends_the_key_to_loopback_clients(
    upstream: FakeOpenRouter, local_router: Router, client: tuple[str, int]
) -> None:
    """A keyless request from this machine (127.0.0.0/8, ::1, IPv4-mapped loopback) gets the operator's key."""
    answer, _ = await _from(client, upstream, local_router)
    assert answer.status_code == 200
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {SERVER_KEY}"]


async def test_protected_mode_passes_a_client_that_brings_its_own_key(
    upstream: FakeOpenRouter, local_router: Router
) -> None:
    """A client beyond loopback with its own Authorization goes through with its own key, as before."""
    answer, _ = await _from(FOREIGN, upstream, local_router, AUTH)
    assert answer.status_code == 200
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {KEY}"]


async def test_lend_key_to_network_gives_the_key_to_any_client(upstream: FakeOpenRouter, local_router: Router) -> None:
    """With lend_key_to_network (--lend-key-to-network), a keyless client beyond loopback gets the operator's key."""
    answer, _ = await _from(FOREIGN, upstream, local_router, lend_key_to_network=True)
    assert answer.status_code == 200
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {SERVER_KEY}"]


# -- bodies ----------------------------------------------------------------------------------------------------


def test_absurd_content_length_is_refused_before_reading(served: Proxy, upstream: FakeOpenRouter) -> None:
    """Content-Length 10^14 gets a 413 in OpenRouter's shape at once (no body sent) and a closed connection."""
    answer = _raw(served.url, _head("/v1/chat/completions", "Content-Length: 100000000000000"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert (error["code"], error["metadata"]) == (413, {})
    assert "1,000,000-byte limit" in error["message"]
    assert upstream.requests == []


def test_chunked_body_over_the_limit_is_413(served: Proxy, upstream: FakeOpenRouter) -> None:
    """A chunked body with no declared length is cut at the limit (1 MB here): 413, nothing forwarded."""
    piece = b"x" * 1_000_001  # just over: the proxy has read every byte sent when it answers (no reset)
    answer = _raw(
        served.url, _head("/v1/chat/completions", "Transfer-Encoding: chunked") + b"%x\r\n" % len(piece) + piece
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"1,000,000-byte limit" in answer
    assert upstream.requests == []


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_truncated_upload_is_never_forwarded(served: Proxy, upstream: FakeOpenRouter, framing: str) -> None:
    """A client that hangs up in the middle of its body is logged as cancelled and nothing reaches the upstream."""
    body = json.dumps(video_request(YOUTU_BE)).encode()
    half = body[: len(body) // 2]
    if framing == "chunked":
        data = _head("/v1/chat/completions", "Transfer-Encoding: chunked", *AUTH_LINE) + b"%x\r\n" % len(half) + half
    else:
        data = _head("/v1/chat/completions", f"Content-Length: {len(body)}", *AUTH_LINE) + half
    with _connect(served.url) as sock:
        port = sock.getsockname()[1]
        sock.sendall(data)
    line = served.wait_for(f"client=127.0.0.1:{port}")
    assert "outcome=cancelled" in line
    assert upstream.requests == []


AUTH_LINE = (f"Authorization: Bearer {KEY}",)


@pytest.fixture(scope="module")
def stalling(upstream: FakeOpenRouter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Path]]:
    """A `router serve` process with --body-timeout 1, spooling request bodies into a temporary directory of its
    own (TMPDIR), and that directory."""
    tmp = tmp_path_factory.mktemp("spool")
    proxy = Proxy(upstream, "--body-timeout", "1", env={"OPENROUTER_API_KEY": SERVER_KEY, "TMPDIR": str(tmp)})
    yield proxy, tmp
    proxy.close()


def _spool_files(pid: int, directory: Path) -> list[str]:
    """The files under ``directory`` that process ``pid`` holds open (a body spool is anonymous: only its open
    descriptor shows it, as ``DIR/#inode (deleted)``)."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith(str(directory)):
                held.append(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads the proxy's open files from /proc")
@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_stalled_body_is_408_and_frees_everything(
    stalling: tuple[Proxy, Path], upstream: FakeOpenRouter, framing: str
) -> None:
    """A body that stops sending after 1.5 MiB (mid-way through a declared 64 MiB chunk, or short of its
    Content-Length) gets a 408 once --body-timeout (1 s here) passes with nothing, not before; the connection is
    closed, the spool file is gone, no request or upstream slot is held, and nothing reached the upstream."""
    proxy, tmp = stalling
    before = _scrape(proxy.url)
    sent = b"x" * (MEMORY_LIMIT * 3 // 2)  # past the memory limit: the body is in a spool file
    if framing == "chunked":
        data = _head("/v1/chat/completions", "Transfer-Encoding: chunked", *AUTH_LINE) + b"%x\r\n" % (64 << 20) + sent
    else:
        data = _head("/v1/chat/completions", f"Content-Length: {3 * MEMORY_LIMIT}", *AUTH_LINE) + sent
    with _connect(proxy.url) as sock:
        port = sock.getsockname()[1]
        sock.sendall(data)
        start = time.monotonic()
        while not (spooled := _spool_files(proxy.proc.pid, tmp)) and time.monotonic() < start + 0.9:
            time.sleep(0.005)  # polling the proxy's open files: there is no event to wait for
        answer = b""
        while chunk := sock.recv(65536):  # until the proxy closes the connection
            answer += chunk
        waited = time.monotonic() - start
    assert spooled, "the body never reached a spool file: the check below would prove nothing"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert (error["code"], error["metadata"]) == (408, {})
    assert "--body-timeout" in error["message"]
    assert 0.9 <= waited < 10  # the timeout (1 s) less a timer's rounding; far below the socket's 20 s
    assert _spool_files(proxy.proc.pid, tmp) == []
    line = proxy.wait_for(f"client=127.0.0.1:{port}")
    assert "status=408 outcome=refused" in line
    assert f"body_bytes={len(sent)}" in line
    after = _scrape(proxy.url)
    key = "router_proxy_requests_total{outcome=refused,status=408}"
    assert after[key] - before.get(key, 0) == 1
    assert after["router_proxy_in_flight_requests{}"] == 0
    assert after["router_proxy_upstream_in_flight{}"] == 0
    assert upstream.requests == []


def test_body_timeout_is_between_reads_not_a_total(stalling: tuple[Proxy, Path], upstream: FakeOpenRouter) -> None:
    """A body that trickles in over more than --body-timeout (1 s here), but never pauses that long, is forwarded
    whole: the timeout is an idle one, like nginx's client_body_timeout."""
    proxy, _ = stalling
    body = json.dumps(TEXT).encode()
    pieces = [body[len(body) * i // 5 : len(body) * (i + 1) // 5] for i in range(5)]
    with _connect(proxy.url) as sock:
        sock.sendall(_head("/v1/chat/completions", f"Content-Length: {len(body)}", *AUTH_LINE))
        start = time.monotonic()
        for piece in pieces:
            time.sleep(0.3)  # the client's own pace: 1.5 s in all, never 1 s without a byte
            sock.sendall(piece)
        answer = _response(sock)
        assert time.monotonic() - start > 1
    assert answer.startswith(b"HTTP/1.1 200")
    (received,) = upstream.requests
    assert received.body == body


# -- malformed and slow clients ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_http_is_a_400_and_a_closed_connection(served: Proxy, upstream: FakeOpenRouter, data: bytes) -> None:
    """Unparseable requests (garbage, bad or doubled lengths, bad chunk sizes) get a 400 and a closed connection."""
    answer = _raw(served.url, data)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert upstream.requests == []


def test_slow_headers_time_out(served: Proxy) -> None:
    """A head that has not arrived in full within --header-timeout (1 s here) gets a 408 and a closed connection,
    not before the timeout ran out."""
    start = time.monotonic()  # before connecting: the proxy's clock cannot start earlier
    with _connect(served.url) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408")
    assert waited >= 0.9  # the timeout (1 s), less a timer's rounding


def test_silent_connection_times_out(served: Proxy) -> None:
    """A client that connects and sends nothing is closed after --header-timeout too (slowloris from byte 0)."""
    start = time.monotonic()
    with _connect(served.url) as sock:
        answer = sock.recv(65536)
        assert sock.recv(65536) == b""
        waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408")
    assert waited >= 0.9


def test_idle_keep_alive_connection_is_closed(served: Proxy) -> None:
    """After an answer, a connection left idle is closed after --keep-alive-timeout (1 s here), not before."""
    with _connect(served.url) as sock:
        start = time.monotonic()  # before the request: the idle clock starts after the answer
        sock.sendall(_head("/healthz", method="GET"))
        first = _response(sock)
        assert sock.recv(65536) == b""
        waited = time.monotonic() - start
    assert first.startswith(b"HTTP/1.1 200")
    assert waited >= 0.9


def test_huge_head_is_431(served: Proxy) -> None:
    """A request head over 64 KiB is refused with 431 rather than buffered."""
    answer = _raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * 70_000)
    assert answer.startswith(b"HTTP/1.1 431")


# -- vanished clients ----------------------------------------------------------------------------------------


def test_client_gone_before_the_first_byte_cancels_the_upstream(served: Proxy, upstream: FakeOpenRouter) -> None:
    """A client that leaves while the upstream has not answered a byte: the proxy hangs up on the upstream, which
    still holds the request (nothing else ends it: the proxy's read timeout is 600 s)."""
    upstream.hold = threading.Event()
    body = json.dumps(TEXT).encode()
    sock = _connect(served.url)
    sock.sendall(_head("/v1/chat/completions", f"Content-Length: {len(body)}", *AUTH_LINE) + body)
    assert upstream.held.wait(20)
    sock.close()
    assert upstream.hung_up.wait(20)


def test_client_gone_mid_stream_cancels_the_upstream(served: Proxy, upstream: FakeOpenRouter) -> None:
    """A client that leaves after the first SSE event: the proxy hangs up on the upstream, which still holds the
    rest of the stream."""
    upstream.stream_gate = threading.Event()
    body = json.dumps(video_request(YOUTU_BE, stream=True)).encode()
    sock = _connect(served.url)
    sock.sendall(_head("/v1/chat/completions", f"Content-Length: {len(body)}", *AUTH_LINE) + body)
    received = b""
    while b"data: " not in received:  # the head, then the role event; the upstream now waits at its gate
        received += sock.recv(65536)
    assert upstream.stream_paused.wait(20)
    sock.close()
    assert upstream.hung_up.wait(20)


# -- drain -----------------------------------------------------------------------------------------------------


def test_sigterm_drains_a_stream_then_exits_0_and_removes_the_spool(
    upstream: FakeOpenRouter, case_url: CaseUrl, tmp_path: Path
) -> None:
    """On SIGTERM readiness turns 503 and the listener closes, the stream in flight still completes, then the
    process exits 0 and the downloads it spooled are gone from TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proxy = Proxy(upstream, "--allow-private-urls", "--drain-delay", "3", env={"TMPDIR": str(tmp)})
    try:
        url, _ = case_url("/clip.mp4")
        inlined = _post(
            f"{proxy.url}/v1/chat/completions",
            json=video_request(url, only=["google-vertex"]),
            headers=AUTH,
            timeout=30,
        )
        assert inlined.status_code == 200
        assert [p.name[:13] for p in tmp.iterdir()] == ["router-fetch-"]  # the download's spool
        upstream.stream_gate = gate = threading.Event()
        events: list[str] = []
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"{proxy.url}/v1/chat/completions", json=video_request(YOUTU_BE, stream=True), headers=AUTH
            ) as stream,
        ):
            lines = stream.iter_lines()
            events.append(next(line for line in lines if line.startswith("data:")))
            assert upstream.stream_paused.wait(20)
            proxy.proc.send_signal(signal.SIGTERM)
            proxy.wait_for("draining")
            ready = _get(f"{proxy.url}/readyz")
            assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
            proxy.wait_for("stopped accepting")
            with pytest.raises(httpx.ConnectError):
                _get(f"{proxy.url}/healthz")
            gate.set()
            events += [line for line in lines if line.startswith("data:")]
        assert events[-1] == "data: [DONE]"
        assert proxy.proc.wait(30) == 0
    finally:
        proxy.close()
    assert list(tmp.iterdir()) == []


def test_second_signal_stops_at_once_and_still_removes_the_spool(
    upstream: FakeOpenRouter, case_url: CaseUrl, tmp_path: Path
) -> None:
    """Ctrl-C twice during a held request ends the process without waiting for it, spool removed all the same."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proxy = Proxy(upstream, "--allow-private-urls", "--grace-period", "60", env={"TMPDIR": str(tmp)})
    try:
        url, _ = case_url("/clip.mp4")
        body = video_request(url, only=["google-vertex"])
        assert _post(f"{proxy.url}/v1/chat/completions", json=body, headers=AUTH, timeout=30).status_code == 200
        upstream.hold = threading.Event()
        sock = _connect(proxy.url)
        data = json.dumps(TEXT).encode()
        sock.sendall(_head("/v1/chat/completions", f"Content-Length: {len(data)}", *AUTH_LINE) + data)
        assert upstream.held.wait(20)
        proxy.proc.send_signal(signal.SIGINT)
        proxy.wait_for("stopped accepting")
        proxy.proc.send_signal(signal.SIGINT)
        assert proxy.proc.wait(20) == 0
        sock.close()
    finally:
        proxy.close()
    assert list(tmp.iterdir()) == []


def test_workers_share_the_port_and_add_up_their_metrics(upstream: FakeOpenRouter) -> None:
    """With --workers 2, requests spread over processes and /metrics (from any worker) counts all of them."""
    proxy = Proxy(upstream, "--workers", "2")
    try:
        url = f"{proxy.url}/v1/chat/completions"
        statuses = []
        for _ in range(8):
            with httpx.Client(timeout=30) as client:  # a new connection each: the kernel spreads them
                statuses.append(client.post(url, json=TEXT, headers=AUTH).status_code)
        assert statuses == [200] * 8
        samples = _scrape(proxy.url)
        assert samples["router_proxy_requests_total{outcome=passed,status=200}"] == 8
        assert proxy.stop() == 0
    finally:
        proxy.close()
    assert len(upstream.requests) == 8


def test_factory_runs_under_plain_uvicorn(upstream: FakeOpenRouter) -> None:
    """`uvicorn 'router.serve:create_app' --factory` serves the proxy with settings from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "ROUTER_"))}
    env.update(OPENROUTER_BASE_URL=upstream.base_url, OPENROUTER_API_KEY=SERVER_KEY)
    argv = [sys.executable, "-m", "uvicorn", "router.serve:create_app", "--factory", "--port", "0", "--no-access-log"]
    with subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            if "Uvicorn running on " in line:
                url = line.split("Uvicorn running on ", 1)[1].split(" ", 1)[0]
                break
        assert url
        try:
            answer = _post(f"{url}/v1/chat/completions", json=video_request(YOUTU_BE), timeout=30)
            ready = _get(f"{url}/readyz")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    assert answer.status_code == 200
    assert ready.status_code == 200
    (received,) = upstream.requests
    assert received.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert received.json()["provider"]["only"] == ["google-ai-studio"]
