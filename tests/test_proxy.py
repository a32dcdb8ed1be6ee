"""The proxy's parts without a server: path normalisation, Host/Origin rules, settings, readiness while loading.

The proxy under real traffic and faults is tests/e2e/test_proxy.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import pytest

from router._proxy import app as app_module
from router._proxy.guard import client_is_loopback, host_allowed, normalise_path, origin_allowed, split_prefix
from router._proxy.server import bind
from router.serve import LOOPBACK_HOSTS, ProxySettings, create_app, parse_size


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/api/v1/chat/completions", b"/api/v1/chat/completions"),
        (b"/api/v1/../../outside", b"/outside"),
        (b"/api/v1/%2e%2e/%2E%2e/outside", b"/outside"),
        (b"/api/v1/./chat/.%2E/models", b"/api/v1/models"),
        (b"/api/v1/..", b"/api/"),
        (b"/api/v1/chat/.", b"/api/v1/chat/"),
        (b"/../../..", b"/"),
        (b"/api/v1/models%3Fx", b"/api/v1/models%3Fx"),  # other encodings are kept as sent
        (b"/api/v1/..%2f..%2fx", None),  # an encoded slash could become a separator upstream
        (b"/api/v1/%5c..", None),
        (b"/api/v1/a\\b", None),
        (b"/api/v1/%00", None),
        (b"/api/v1/a b", None),
        (b"api/v1", None),
    ],
)
def test_normalise_path(raw: bytes, expected: bytes | None) -> None:
    """Dot segments (also %2e-encoded) resolve per RFC 3986; encoded separators and control bytes are refused."""
    assert normalise_path(raw) == expected


def test_split_prefix() -> None:
    """Only paths under /api/v1 or /v1 are routed, and a prefix must end at a segment boundary."""
    assert split_prefix("/api/v1/chat/completions") == ("/api/v1", "/chat/completions")
    assert split_prefix("/v1") == ("/v1", "")
    assert split_prefix("/v10/models") is None
    assert split_prefix("/api/v1x") is None


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("localhost:8787", LOOPBACK_HOSTS, True),
        ("LOCALHOST.", LOOPBACK_HOSTS, True),
        ("127.0.0.1", LOOPBACK_HOSTS, True),
        ("[::1]:8787", LOOPBACK_HOSTS, True),
        (None, LOOPBACK_HOSTS, True),  # HTTP/1.0 without Host: no browser
        ("evil.example", LOOPBACK_HOSTS, False),
        ("127.0.0.1.evil.example", LOOPBACK_HOSTS, False),
        ("localhost.evil.example:8787", LOOPBACK_HOSTS, False),
        ("api.example.com", ("*.example.com",), True),
        ("example.com.evil", ("*.example.com",), False),
        ("anything", ("*",), True),
    ],
)
def test_host_allowed(host: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    """Host names match exactly (port and trailing dot ignored), by *.suffix, or anything with *."""
    assert host_allowed(host, allowed) is ok


@pytest.mark.parametrize(
    ("client", "local"),
    [
        (("127.0.0.1", 5000), True),
        (("127.255.0.9", 5000), True),
        (("::1", 5000), True),
        (("::ffff:127.0.0.1", 5000), True),  # a dual-stack listener's IPv4 loopback
        (("203.0.113.5", 5000), False),
        (("::ffff:203.0.113.5", 5000), False),
        (("10.0.0.7", 5000), False),
        (("fe80::1%eth0", 5000), False),
        (("0.0.0.0", 5000), False),  # noqa: S104  # a peer address here, not a bind
        (("localhost", 5000), False),  # a peer is an address, never a name
        (None, False),  # unknown peer: not this machine
        (("not-an-address", 1), False),
    ],
)
def test_client_is_loopback(client: tuple[str, int] | None, local: bool) -> None:
    """Only peers in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 count as this machine for protected mode."""
    assert client_is_loopback(client) is local


@pytest.mark.parametrize(
    ("origin", "host", "listed", "ok"),
    [
        (None, "localhost:8787", (), True),
        ("http://localhost:8787", "localhost:8787", (), True),
        ("http://localhost:8787/", "LOCALHOST:8787", (), True),
        ("http://localhost", "localhost:80", (), True),
        ("http://localhost:3000", "localhost:8787", (), False),  # another local site is another origin
        ("https://localhost", "localhost:80", (), False),  # the default ports differ
        ("https://evil.example", "localhost:8787", (), False),
        ("null", "localhost:8787", (), False),
        ("https://app.example.com", "localhost:8787", ("https://app.example.com",), True),
        ("http://localhost:8787", None, (), False),
    ],
)
def test_origin_allowed(origin: str | None, host: str | None, listed: tuple[str, ...], ok: bool) -> None:
    """A browser Origin passes only when it is the proxy's own origin or listed by the operator."""
    assert origin_allowed(origin, host, listed) is ok


def test_settings_from_env_and_secrets_out_of_repr() -> None:
    """The factory's settings come from the environment, and neither key nor token shows in repr()."""
    settings = ProxySettings.from_env(
        {
            "OPENROUTER_BASE_URL": "http://up.example/api/v1/",
            "OPENROUTER_API_KEY": "sk-or-secret",
            "ROUTER_ACCESS_TOKEN": "tok-secret",
            "ROUTER_ALLOWED_HOSTS": "api.example.com, *.internal",
            "ROUTER_MAX_BODY_SIZE": "2MiB",
            "ROUTER_MAX_UPSTREAM": "7",
            "ROUTER_QUEUE_TIMEOUT": "1.5",
            "ROUTER_ALLOW_PRIVATE_URLS": "1",
            "ROUTER_REFRESH_EVERY": "6",
            "ROUTER_BODY_TIMEOUT": "2.5",
            "ROUTER_LEND_KEY_TO_NETWORK": "1",
        }
    )
    assert settings.lend_key_to_network is True
    assert ProxySettings.from_env({}).lend_key_to_network is False  # protected mode by default
    assert settings.body_timeout == 2.5
    assert ProxySettings.from_env({}).body_timeout == 60  # nginx's client_body_timeout
    assert settings.base_url == "http://up.example/api/v1"
    assert settings.refresh_every == 6 * 3600
    assert ProxySettings.from_env({}).refresh_every == 24 * 3600  # the catalogue refreshes daily by default
    assert settings.allowed_hosts == ("api.example.com", "*.internal")
    assert (settings.max_body_size, settings.max_upstream, settings.queue_timeout) == (2 * 2**20, 7, 1.5)
    assert settings.allow_private_urls is True
    assert "secret" not in repr(settings)
    assert ProxySettings.from_env({}).allowed_hosts == LOOPBACK_HOSTS  # safe default


OPENROUTER = "https://openrouter.ai/api/v1"
STAND_IN = "http://127.0.0.1:9/api/v1"


@pytest.mark.parametrize(
    ("base_url", "told", "every", "catalogue"),
    [
        (OPENROUTER, False, 3600.0, (OPENROUTER, 3600.0)),
        ("https://OpenRouter.ai:443/api/v1/", False, 3600.0, ("https://OpenRouter.ai:443/api/v1", 3600.0)),
        (OPENROUTER, False, 0.0, (OPENROUTER, None)),
        (STAND_IN, False, 3600.0, (OPENROUTER, None)),
        ("https://openrouter.ai.example.net/api/v1", False, 3600.0, (OPENROUTER, None)),
        (STAND_IN, True, 3600.0, (STAND_IN, 3600.0)),
    ],
)
def test_the_catalogue_comes_from_the_upstream_only_when_it_is_openrouter_or_told(
    base_url: str, told: bool, every: float, catalogue: tuple[str, float | None]
) -> None:
    """Behind OpenRouter (or with ``refresh_catalogue``) the proxy refreshes from its upstream; behind anything
    else it keeps OpenRouter's data and never refreshes it from there."""
    settings = ProxySettings(base_url=base_url, refresh_catalogue=told, refresh_every=every)
    assert settings.catalogue() == catalogue


def test_refresh_catalogue_is_read_from_the_environment() -> None:
    """``ROUTER_REFRESH_CATALOGUE=1`` turns the setting on; it is off by default."""
    assert ProxySettings.from_env({"ROUTER_REFRESH_CATALOGUE": "1"}).refresh_catalogue is True
    assert ProxySettings.from_env({"ROUTER_REFRESH_CATALOGUE": "0"}).refresh_catalogue is False
    assert ProxySettings.from_env({}).refresh_catalogue is False


@pytest.mark.parametrize(("text", "size"), [("128MiB", 128 * 2**20), ("100MB", 10**8), ("1.5GB", 15 * 10**8), ("9", 9)])
def test_parse_size(text: str, size: int) -> None:
    """Body limits read like the capability table's: decimal and binary units, or bytes."""
    assert parse_size(text) == size


def test_parse_size_refuses_nonsense() -> None:
    """A size that is not one is a ValueError naming the accepted forms."""
    with pytest.raises(ValueError, match="128MiB"):
        parse_size("lots")


async def _get(app: Any, path: str) -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "headers": [],
        "query_string": b"",
    }
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(sent[1]["body"])


async def test_readiness_waits_for_the_capability_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """/readyz is 503 "loading" until the table is loaded, then 200; /healthz is 200 all along."""
    release = threading.Event()
    real = app_module.Router

    def slow_router(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "Router", slow_router)
    app = create_app(ProxySettings(loop_monitor_interval=0))
    await app.startup()
    assert await _get(app, "/readyz") == (503, {"status": "loading"})
    assert await _get(app, "/healthz") == (200, {"status": "ok"})
    release.set()
    assert app._ready is not None
    await asyncio.wait_for(app._ready.wait(), 30)
    assert await _get(app, "/readyz") == (200, {"status": "ready"})
    app.begin_drain()
    assert await _get(app, "/readyz") == (503, {"status": "draining"})
    await app.shutdown()


async def test_a_broken_table_keeps_readiness_at_503_with_the_reason(tmp_path: Any) -> None:
    """A capability table that cannot load leaves /readyz at 503 "failed" with the error, and the API at 503."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("providers: [\n")
    app = create_app(ProxySettings(capabilities=(str(broken),), loop_monitor_interval=0, queue_timeout=0.1))
    await app.startup()
    await asyncio.wait(list(app._tasks), timeout=30)  # the load (monitor off: the only task) ends in an error
    status, body = await _get(app, "/readyz")
    assert (status, body["status"]) == (503, "failed")
    assert "broken.yaml" in body["error"]
    status, body = await _get(app, "/v1/chat/completions")
    assert status == 503
    assert "cannot load its capability table" in body["error"]["message"]
    await app.shutdown()


def test_the_proxy_is_reachable_after_a_plain_import_router() -> None:
    """`import router` is enough for `router.serve.make_server` and `router.serve.create_app` (as the README
    writes them), in a fresh interpreter."""
    import subprocess
    import sys

    code = "import router; print(callable(router.serve.make_server), callable(router.serve.create_app))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split() == ["True", "True"], done.stderr


async def test_connections_to_the_proxy_send_without_nagle_delays() -> None:
    """The listening socket says IPPROTO_TCP, so asyncio turns Nagle off on every connection it accepts; with
    `socket.create_server`'s proto 0 it did not, and each kept-alive response's body waited 44 ms for the
    client's delayed ACK."""
    sock = bind("127.0.0.1", 0, 8)
    accepted: asyncio.Future[asyncio.BaseTransport] = asyncio.get_running_loop().create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)

    server = await asyncio.get_running_loop().create_server(Accept, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        transport = await asyncio.wait_for(accepted, 10)
        assert transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        writer.close()
        transport.close()
    finally:
        server.close()
        await server.wait_closed()
