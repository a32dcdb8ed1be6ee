"""router._fetch.fetcher against a real HTTP server on loopback, serving real clips (see tests/servers.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from clips import FORMATS
from servers import Gate, MediaServer, padded_mp4

from router._base.errors import BlockedURL, MediaTooLarge, NotAVideo, UnreachableURL
from router._fetch import fetcher as fetch_module
from router._fetch.fetcher import Fetcher, Media, signed_url_expiry

Target = Callable[[str], str]


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A fetcher allowed to reach the loopback media server, closed after the test."""
    with Fetcher(allow_private_urls=True) as f:
        yield f


@pytest.fixture
def target() -> Target:
    """Makes a path unique to this call (``case=`` query), so hit counts on the shared server are the test's own."""

    def make(path: str) -> str:
        return f"{path}{'&' if '?' in path else '?'}case={uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def gate(media_server: MediaServer) -> Iterator[Gate]:
    """A closed gate on the media server (``?gate=NAME`` holds a request until ``open()``), opened at teardown."""
    held = media_server.gate()
    yield held
    held.open()


class Joined:
    """Counts callers that join a download already in flight (they wait on its future) instead of starting one."""

    def __init__(self) -> None:
        self._count = threading.Semaphore(0)

    def future(self) -> concurrent.futures.Future[Media]:
        """What the fetcher makes for each download it leads: a future that counts who waits on it."""
        count = self._count

        class Watched(concurrent.futures.Future[Media]):
            def result(self, timeout: float | None = None) -> Media:  # a thread waits (the sync driver)
                count.release()
                return super().result(timeout)

            def add_done_callback(self, fn: Callable[[Any], object]) -> None:  # a task waits (asyncio.wrap_future)
                count.release()
                super().add_done_callback(fn)

        watched = Watched()
        watched.set_running_or_notify_cancel()
        return watched

    def wait(self, n: int) -> None:
        """Until ``n`` more callers have joined (30 s at most)."""
        for _ in range(n):
            assert self._count.acquire(timeout=30), "a caller never joined the download in flight"


@pytest.fixture
def joined(monkeypatch: pytest.MonkeyPatch) -> Joined:
    """Lets a test wait until callers have joined a download in flight, so single flight is shown, not hoped for."""
    counter = Joined()
    monkeypatch.setattr(fetch_module, "_running_future", counter.future)
    return counter


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolved {host}: a refused URL must be refused before any lookup")


def resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


def spooled(fetcher: Fetcher) -> list[Path]:
    return sorted(fetcher.spool_dir.iterdir())


# -- bytes and types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_clip_bytes_are_exact_and_type_is_sniffed(
    fetcher: Fetcher, media_server: MediaServer, clips: dict[str, Path], suffix: str
) -> None:
    """Every clip arrives byte for byte (size and sha256 of the file) with its container sniffed from the bytes."""
    media = fetcher.fetch(media_server.url(f"/clip.{suffix}"))
    data = clips[suffix].read_bytes()
    assert media.size == len(data)
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    assert media.path.read_bytes() == data
    assert media.mime == FORMATS[suffix][2]
    with media.open() as fh:
        assert fh.read(64) == data[:64]


@pytest.mark.parametrize("path", ["/octet.mp4", "/wrong-type.mp4"])
def test_server_content_type_does_not_override_the_bytes(
    fetcher: Fetcher, media_server: MediaServer, path: str
) -> None:
    """An mp4 served as application/octet-stream or text/plain is still video/mp4."""
    assert fetcher.fetch(media_server.url(path)).mime == "video/mp4"


def test_html_behind_an_mp4_url_is_not_a_video(fetcher: Fetcher, media_server: MediaServer) -> None:
    """An HTML page at a .mp4 path that claims video/mp4 is refused as format-mismatch, naming what it is."""
    with pytest.raises(NotAVideo, match="HTML page") as caught:
        fetcher.fetch(media_server.url("/page.mp4"))
    assert caught.value.rule == "format-mismatch"
    assert spooled(fetcher) == []


def test_unrecognisable_bytes_are_not_a_video_whatever_the_server_says(
    fetcher: Fetcher, media_server: MediaServer
) -> None:
    """Plain text served as video/mp4 from a .mp4 path is refused: every accepted format is one the sniffer
    knows, so the checker's rule for data URLs holds for downloads too."""
    with pytest.raises(NotAVideo, match="no video container router knows") as caught:
        fetcher.fetch(media_server.url("/notes.mp4"))
    assert caught.value.rule == "format-mismatch"
    assert "the server said video/mp4" in str(caught.value)


def test_png_is_not_a_video(fetcher: Fetcher, media_server: MediaServer) -> None:
    """A PNG image is refused, and the message says it is an image."""
    with pytest.raises(NotAVideo, match=r"an image \(image/png\)"):
        fetcher.fetch(media_server.url("/image.png"))


# -- statuses and messages ------------------------------------------------------------------------------------


def test_404_is_permanent(fetcher: Fetcher, media_server: MediaServer) -> None:
    """A 404 is an UnreachableURL with its status, not worth retrying."""
    with pytest.raises(UnreachableURL, match="HTTP 404") as caught:
        fetcher.fetch(media_server.url("/status/404"))
    assert (caught.value.status, caught.value.transient, caught.value.rule) == (404, False, "unreachable-url")


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_408_429_and_5xx_are_transient(fetcher: Fetcher, media_server: MediaServer, status: int) -> None:
    """408, 429 and 5xx failures say retrying may help."""
    with pytest.raises(UnreachableURL, match=f"HTTP {status}") as caught:
        fetcher.fetch(media_server.url(f"/status/{status}"))
    assert (caught.value.status, caught.value.transient) == (status, True)


def test_messages_never_show_the_signed_query(fetcher: Fetcher, media_server: MediaServer) -> None:
    """A signed URL's query (signature, credentials) stays out of the message and the error's url."""
    url = media_server.url("/status/403?X-Amz-Signature=SECRETSIG&X-Amz-Credential=AKIAKEY").replace(
        "http://", "http://user:PASSWORD@"
    )
    with pytest.raises(UnreachableURL) as caught:
        fetcher.fetch(url)
    shown = f"{caught.value} {caught.value.url}"
    assert "/status/403" in shown
    assert not any(secret in shown for secret in ("SECRETSIG", "AKIAKEY", "PASSWORD"))


# -- size cap -------------------------------------------------------------------------------------------------


def test_declared_size_over_the_cap_fails_before_the_body(
    fetcher: Fetcher, media_server: MediaServer, target: Target
) -> None:
    """An honest Content-Length over the cap fails at once, without reading the body."""
    progress: list[int] = []
    with pytest.raises(MediaTooLarge, match="Content-Length") as caught:
        fetcher.fetch(
            media_server.url(target("/big?n=500000")), max_bytes=100_000, on_progress=lambda n, t: progress.append(n)
        )
    assert caught.value.rule == "too-large"
    assert progress == []


@pytest.mark.parametrize(
    "path",
    [
        "/lying?n=400000&claim=1000",  # Content-Length says 1000 while a chunked body goes on
        "/chunked?n=400000",
        "/eof?n=400000",  # no length at all
    ],
)
def test_cap_is_enforced_while_streaming(fetcher: Fetcher, media_server: MediaServer, path: str) -> None:
    """Bodies whose headers understate (or omit) the size are stopped at the cap, and the spool is removed."""
    with pytest.raises(MediaTooLarge, match="while streaming"):
        fetcher.fetch(media_server.url(path), max_bytes=100_000)
    assert spooled(fetcher) == []
    assert fetcher.fetch(media_server.url(path), max_bytes=400_000).size == 400_000  # the same body fits a cap


def test_partial_body_never_yields_media(fetcher: Fetcher, media_server: MediaServer) -> None:
    """A body cut short of its Content-Length is a transient failure and leaves no file behind."""
    with pytest.raises(UnreachableURL, match="broke off") as caught:
        fetcher.fetch(media_server.url("/short?n=20000&claim=90000"))
    assert caught.value.transient
    assert spooled(fetcher) == []


def test_progress_reports_bytes_received(fetcher: Fetcher, media_server: MediaServer) -> None:
    """on_progress sees growing byte counts with the declared total, ending at the full size."""
    seen: list[tuple[int, int | None]] = []
    media = fetcher.fetch(media_server.url("/big?n=300000"), on_progress=lambda n, t: seen.append((n, t)))
    assert seen[-1] == (media.size, 300_000)
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)


# -- timeouts -------------------------------------------------------------------------------------------------


def test_total_timeout_stops_a_slow_drip(media_server: MediaServer) -> None:
    """A byte every 0.2 s never trips the read timeout, but the total deadline ends the 20 s body early
    (transient), and nothing of it stays spooled."""
    received: list[int] = []
    with Fetcher(allow_private_urls=True, total_timeout=0.8) as f:
        with pytest.raises(UnreachableURL, match="total") as caught:
            f.fetch(media_server.url("/drip?n=100&every=0.2"), on_progress=lambda n, _: received.append(n))
        assert spooled(f) == []
    assert caught.value.transient
    assert max(received, default=0) < 100


async def test_total_timeout_stops_a_slow_drip_async(media_server: MediaServer) -> None:
    """The async path meets the same total deadline."""
    received: list[int] = []
    with Fetcher(allow_private_urls=True, total_timeout=0.8) as f:
        with pytest.raises(UnreachableURL, match="total") as caught:
            await f.afetch(media_server.url("/drip?n=100&every=0.2"), on_progress=lambda n, _: received.append(n))
        assert spooled(f) == []
    assert caught.value.transient
    assert max(received, default=0) < 100


def test_read_timeout_on_a_stalled_body(media_server: MediaServer) -> None:
    """A server that stops sending mid-body (for 10 s, then hangs up) fails after the read timeout, as a
    transient error that says so (a hang-up would say the body broke off)."""
    with (
        Fetcher(allow_private_urls=True, read_timeout=0.3) as f,
        pytest.raises(UnreachableURL, match="timed out") as caught,
    ):
        f.fetch(media_server.url("/stall?after=10"))
    assert caught.value.transient


# -- redirects ------------------------------------------------------------------------------------------------


def test_five_redirects_are_followed(fetcher: Fetcher, media_server: MediaServer, target: Target) -> None:
    """A chain of exactly five redirects ends at the clip."""
    assert fetcher.fetch(media_server.url(target("/chain/5"))).mime == "video/mp4"


def test_a_sixth_redirect_is_refused(fetcher: Fetcher, media_server: MediaServer, target: Target) -> None:
    """Six redirects are one too many: refused before the last hop is requested."""
    path = target("/chain/6")
    with pytest.raises(UnreachableURL, match="more than 5 redirects"):
        fetcher.fetch(media_server.url(path))
    assert media_server.hits(path.replace("/chain/6", "/chain/1")) == 1
    assert media_server.hits(path.replace("/chain/6", "/clip.mp4")) == 0


def test_relative_redirect_is_followed(fetcher: Fetcher, media_server: MediaServer) -> None:
    """A relative Location resolves against the URL that answered with it."""
    assert fetcher.fetch(media_server.url("/redirect?to=/clip.webm")).mime == "video/webm"


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/", "file:///etc/passwd"]
)
def test_redirect_to_metadata_or_file_is_refused(fetcher: Fetcher, media_server: MediaServer, location: str) -> None:
    """A redirect hop is checked like the first URL, and metadata stays blocked even with allow_private_urls."""
    with pytest.raises(BlockedURL, match="redirected to"):
        fetcher.fetch(media_server.url(f"/redirect?to={location}"))


# -- SSRF -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1", "192.168.1.20",
     "100.64.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1"],  # noqa: S104 (a URL host, not a bind)
)  # fmt: skip
def test_private_literals_are_refused_without_a_connection(
    media_server: MediaServer, target: Target, host: str
) -> None:
    """Private, loopback, CGNAT, link-local, metadata and odd spellings of them are refused before connecting."""
    path = target("/clip.mp4")
    with Fetcher(resolver=no_dns) as f, pytest.raises(BlockedURL) as caught:
        f.fetch(media_server.url(path, host=host))
    assert caught.value.rule == "blocked-url"
    assert media_server.hits(path) == 0


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "[fd00:ec2::254]", "100.100.100.200", "[::ffff:169.254.169.254]", "169.254.1.1",
             "metadata.google.internal", "metadata"],
)  # fmt: skip
def test_metadata_stays_blocked_with_allow_private_urls(host: str) -> None:
    """allow_private_urls opens loopback and private ranges, never cloud metadata endpoints or link-local."""
    with Fetcher(allow_private_urls=True, resolver=no_dns) as f, pytest.raises(BlockedURL, match="metadata"):
        f.fetch(f"http://{host}/latest/meta-data/iam/security-credentials/")


def test_localhost_name_is_refused(media_server: MediaServer, target: Target) -> None:
    """``localhost`` is refused by name, before any lookup or connection."""
    path = target("/clip.mp4")
    with Fetcher(resolver=no_dns) as f, pytest.raises(BlockedURL):
        f.fetch(media_server.url(path, host="localhost"))
    assert media_server.hits(path) == 0


@pytest.mark.parametrize("answers", [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["127.0.0.1", "93.184.215.14"]])
def test_name_resolving_to_loopback_is_refused(media_server: MediaServer, target: Target, answers: list[str]) -> None:
    """A public-looking name is refused when any address it resolves to is loopback; the address is not echoed."""
    path = target("/clip.mp4")
    with (
        Fetcher(resolver=resolver({"evil.example": answers})) as f,
        pytest.raises(BlockedURL, match="loopback") as caught,
    ):
        f.fetch(media_server.url(path, host="evil.example"))
    assert "127.0.0.1" not in str(caught.value)
    assert media_server.hits(path) == 0


@pytest.mark.parametrize(
    ("answer", "allow_private"),
    [("64:ff9b::7f00:1", False), ("2002:7f00:1::1", False), ("64:ff9b::a9fe:a9fe", True), ("::ffff:10.1.2.3", False)],
)
def test_ipv4_inside_ipv6_is_checked(answer: str, allow_private: bool) -> None:
    """NAT64, 6to4 and mapped IPv6 addresses are judged by the IPv4 address they reach."""
    names = resolver({"v6.example": [answer]})
    with Fetcher(allow_private_urls=allow_private, resolver=names) as f, pytest.raises(BlockedURL):
        f.fetch("http://v6.example/clip.mp4")


def test_connection_goes_to_the_checked_address(media_server: MediaServer, target: Target) -> None:
    """The name is resolved once, by our resolver, and the request reaches that address with the real Host."""
    calls: list[str] = []
    path = target("/clip.mp4")
    with Fetcher(allow_private_urls=True, resolver=resolver({"media.test": ["127.0.0.1"]}, calls)) as f:
        media = f.fetch(media_server.url(path, host="media.test"))
    assert media.mime == "video/mp4"
    assert calls == ["media.test"]  # media.test exists in no DNS: a second lookup by httpx would have failed
    assert media_server.hosts(path) == [f"media.test:{media_server.port}"]


def test_tls_verifies_the_real_hostname_on_the_pinned_address(tls_media_server: MediaServer, target: Target) -> None:
    """Over HTTPS the pinned connection sends SNI for the real name and verifies the certificate against it."""
    assert tls_media_server.cafile is not None
    trust = ssl.create_default_context(cafile=str(tls_media_server.cafile))
    names = resolver({"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    path = target("/clip.mp4")
    with Fetcher(allow_private_urls=True, resolver=names, verify=trust) as f:
        assert f.fetch(tls_media_server.url(path, host="media.test")).mime == "video/mp4"
        assert tls_media_server.sni[-1] == "media.test"
        with pytest.raises(UnreachableURL, match="certificate") as caught:
            f.fetch(tls_media_server.url(path, host="other.test"))  # same address, a name the cert does not cover
    assert not caught.value.transient
    assert tls_media_server.hits(path) == 1


@pytest.mark.parametrize(
    ("error", "transient"),
    [(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), False),
     (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), True)],
)  # fmt: skip
def test_dns_failures_say_whether_to_retry(error: OSError, transient: bool) -> None:
    """A name that does not exist is a permanent failure; a lookup that could not finish is transient."""

    def failing(host: str, port: int) -> list[str]:
        raise error

    with Fetcher(resolver=failing) as f, pytest.raises(UnreachableURL, match="could not resolve") as caught:
        f.fetch("https://no-such-host.example/v.mp4")
    assert caught.value.transient is transient


def test_next_checked_address_is_tried_when_one_refuses(media_server: MediaServer, target: Target) -> None:
    """When the first checked address refuses the connection, the next one is used."""
    names = resolver({"media.test": ["127.0.0.2", "127.0.0.1"]})
    with Fetcher(allow_private_urls=True, resolver=names) as f:
        assert f.fetch(media_server.url(path := target("/clip.mp4"), host="media.test")).mime == "video/mp4"
    assert media_server.hits(path) == 1


def test_connection_refused_is_transient() -> None:
    """Nothing listening on the port is a transient UnreachableURL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Fetcher(allow_private_urls=True) as f, pytest.raises(UnreachableURL, match="could not connect") as caught:
        f.fetch(f"http://127.0.0.1:{port}/clip.mp4")
    assert caught.value.transient


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "FILE:///etc/hostname", "ftp://example.com/v.mp4", "gs://bucket/v.mp4",
            "data:video/mp4;base64,AAAAIGZ0eXBpc29tSECRETPAYLOAD"],
)  # fmt: skip
def test_non_http_schemes_are_never_read(url: str) -> None:
    """file:, ftp:, gs: and data: URLs are refused without touching the disk or the network; payloads stay out."""
    with Fetcher(allow_private_urls=True, resolver=no_dns) as f, pytest.raises(BlockedURL) as caught:
        f.fetch(url)
    assert "SECRETPAYLOAD" not in str(caught.value)


def test_youtube_is_never_downloaded() -> None:
    """YouTube links are refused with a message that says why."""
    with Fetcher(resolver=no_dns) as f, pytest.raises(BlockedURL, match="YouTube"):
        f.fetch("https://youtu.be/dQw4w9WgXcQ")


def test_proxy_environment_is_ignored(
    fetcher: Fetcher, media_server: MediaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy from the environment is not used (it would connect by name, around the address checks)."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert fetcher.fetch(media_server.url("/clip.mp4")).mime == "video/mp4"


# -- cache ----------------------------------------------------------------------------------------------------


def test_second_fetch_is_a_cache_hit(fetcher: Fetcher, media_server: MediaServer, target: Target) -> None:
    """Fetching a URL again downloads nothing and returns the same spooled file."""
    url = media_server.url(path := target("/clip.mp4"))
    first, second = fetcher.fetch(url), fetcher.fetch(url)
    assert second is first
    assert media_server.hits(path) == 1
    assert (fetcher.stats.downloads, fetcher.stats.hits) == (1, 1)


def test_cached_copy_obeys_each_callers_cap(fetcher: Fetcher, media_server: MediaServer, target: Target) -> None:
    """A cached video over a later caller's cap is refused for that caller, without downloading again."""
    url = media_server.url(path := target("/clip.mp4"))
    fetcher.fetch(url)
    with pytest.raises(MediaTooLarge):
        fetcher.fetch(url, max_bytes=100)
    assert media_server.hits(path) == 1


def test_threads_share_one_download(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """Eight threads asking for one URL while it downloads cause one request, and all get the same Media."""
    url = media_server.url(path := target(f"/clip.mp4?gate={gate.name}"))
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(fetcher.fetch, url) for _ in range(8)]
        joined.wait(7)  # one leads (held at the gate), seven wait for its download
        gate.open()
        results = [f.result() for f in futures]
    assert media_server.hits(path) == 1
    assert len({id(m) for m in results}) == 1
    assert (fetcher.stats.downloads, fetcher.stats.hits) == (1, 7)


async def test_tasks_share_one_download(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """Eight asyncio tasks asking for one URL while it downloads cause one request."""
    url = media_server.url(path := target(f"/clip.webm?gate={gate.name}"))
    tasks = [asyncio.create_task(fetcher.afetch(url)) for _ in range(8)]
    await asyncio.to_thread(joined.wait, 7)
    gate.open()
    results = await asyncio.gather(*tasks)
    assert media_server.hits(path) == 1
    assert {m.sha256 for m in results} == {results[0].sha256}
    assert results[0].mime == "video/webm"


async def test_threads_and_tasks_share_one_download(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """A thread and two tasks fetching one URL together share the download: sync and async share one cache."""
    url = media_server.url(path := target(f"/clip.mp4?gate={gate.name}"))
    in_thread = asyncio.ensure_future(asyncio.to_thread(fetcher.fetch, url))
    tasks = [asyncio.create_task(fetcher.afetch(url)) for _ in range(2)]
    await asyncio.to_thread(joined.wait, 2)
    gate.open()
    results = await asyncio.gather(in_thread, *tasks)
    assert media_server.hits(path) == 1
    assert len({id(m) for m in results}) == 1


async def test_cancelled_leader_does_not_strand_waiters(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """When the task leading a download is cancelled, a task waiting on it downloads the URL itself."""
    url = media_server.url(path := target(f"/clip.mp4?gate={gate.name}"))
    leader = asyncio.create_task(fetcher.afetch(url))
    await asyncio.to_thread(gate.arrived.wait, 30)  # the leader's request is held at the server
    waiter = asyncio.create_task(fetcher.afetch(url))
    await asyncio.to_thread(joined.wait, 1)
    leader.cancel()
    gate.open()
    media = await waiter
    assert media.mime == "video/mp4"
    assert leader.cancelled()
    assert media_server.hits(path) == 2


def test_waiter_with_a_looser_cap_retries(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """A download that failed only the leader's tighter cap is retried for a waiter whose cap allows it."""
    url = media_server.url(path := target(f"/chunked?n=200000&gate={gate.name}"))
    with ThreadPoolExecutor(2) as pool:
        tight = pool.submit(fetcher.fetch, url, max_bytes=1000)
        assert gate.arrived.wait(30)  # the tight caller leads
        loose = pool.submit(fetcher.fetch, url)
        joined.wait(1)
        gate.open()
        with pytest.raises(MediaTooLarge):
            tight.result()
        assert loose.result().size == 200_000
    assert media_server.hits(path) == 2


def test_failures_are_not_cached(
    fetcher: Fetcher, media_server: MediaServer, gate: Gate, joined: Joined, target: Target
) -> None:
    """Concurrent callers share one failed attempt, but the next call tries again."""
    url = media_server.url(path := target(f"/status/503?gate={gate.name}"))

    def one() -> BaseException | None:
        try:
            fetcher.fetch(url)
        except UnreachableURL as exc:
            return exc
        return None

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(one) for _ in range(4)]
        joined.wait(3)
        gate.open()
        outcomes = [f.result() for f in futures]
    assert all(isinstance(o, UnreachableURL) for o in outcomes)
    assert media_server.hits(path) == 1
    with pytest.raises(UnreachableURL):
        fetcher.fetch(url)
    assert media_server.hits(path) == 2
    assert fetcher.stats.failures == 2


def test_eviction_deletes_the_spooled_file(media_server: MediaServer, clips: dict[str, Path]) -> None:
    """When the byte budget evicts an entry, its file goes as soon as no caller holds the Media."""
    budget = clips["mp4"].stat().st_size + clips["webm"].stat().st_size - 1
    with Fetcher(allow_private_urls=True, cache_bytes=budget) as f:
        first = f.fetch(media_server.url("/clip.mp4"))
        first_path = first.path
        held = f.fetch(media_server.url("/clip.webm"))  # evicts the mp4
        assert first_path.exists()  # still held by `first`: a rewrite may be streaming it
        assert first.path.read_bytes() == clips["mp4"].read_bytes()
        del first
        assert not first_path.exists()
        assert spooled(f) == [held.path]


def test_expired_entries_are_downloaded_again(media_server: MediaServer, target: Target) -> None:
    """After cache_ttl an entry is gone, its file too, and the URL is downloaded again."""
    url = media_server.url(path := target("/clip.mp4"))
    with Fetcher(allow_private_urls=True, cache_ttl=0.2) as f:
        old_path = f.fetch(url).path
        time.sleep(0.3)
        new = f.fetch(url)
        assert not old_path.exists()
        assert new.path.exists()
    assert media_server.hits(path) == 2


def test_expired_signed_url_is_not_cached(fetcher: Fetcher, media_server: MediaServer, target: Target) -> None:
    """A signed URL whose signature has already expired is not kept in the cache."""
    url = media_server.url(path := target(f"/clip.mp4?Expires={int(time.time()) - 60}&Signature=abc"))
    fetcher.fetch(url)
    fetcher.fetch(url)
    assert media_server.hits(path) == 2


def test_signed_url_expiry_is_read_from_the_query() -> None:
    """S3/GCS v4, Expires= and Azure SAS expiries are understood; unsigned URLs have none."""
    amz = "https://b.s3.amazonaws.com/v.mp4?X-Amz-Date=20250101T000000Z&X-Amz-Expires=600&X-Amz-Signature=x"
    goog = "https://storage.googleapis.com/b/v.mp4?X-Goog-Date=20250101T000000Z&X-Goog-Expires=60"
    assert signed_url_expiry(amz) == 1735689600 + 600
    assert signed_url_expiry(goog) == 1735689600 + 60
    assert signed_url_expiry("https://d.cloudfront.net/v.mp4?Expires=1735689600&Signature=x") == 1735689600
    assert signed_url_expiry("https://a.blob.core.windows.net/c/v.mp4?se=2025-01-01T00:00:00Z&sig=x") == 1735689600
    assert signed_url_expiry("https://example.com/v.mp4?expires=soon") is None
    assert signed_url_expiry("https://example.com/v.mp4") is None


def test_close_removes_every_spooled_file(media_server: MediaServer) -> None:
    """close() deletes the spool directory, even files of Media still held, and the fetcher refuses more work."""
    f = Fetcher(allow_private_urls=True)
    media = f.fetch(media_server.url("/clip.mov"))
    assert media.path.exists()
    f.close()
    assert not media.path.exists()
    assert not f.spool_dir.exists()
    with pytest.raises(RuntimeError, match="closed"):
        f.fetch(media_server.url("/clip.mov"))


async def test_async_fetch_gives_the_same_bytes(media_server: MediaServer, clips: dict[str, Path]) -> None:
    """afetch downloads through httpx.AsyncClient to the same exact bytes."""
    with Fetcher(allow_private_urls=True) as f:
        media = await f.afetch(media_server.url("/clip.mpeg"))
        assert media.sha256 == hashlib.sha256(clips["mpeg"].read_bytes()).hexdigest()
        assert media.mime == "video/mpeg"


@pytest.mark.parametrize("use_async", [False, True])
async def test_total_timeout_bounds_a_hanging_dns_lookup(use_async: bool) -> None:
    """A resolver that never answers in time is cut off by the total deadline, on both paths (transient): the
    error comes while the lookup still hangs."""
    release, answered = threading.Event(), threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        release.wait(60)
        answered.set()
        return ["93.184.216.34"]

    url = "https://slow-dns.example/v.mp4"
    try:
        with Fetcher(resolver=hanging, total_timeout=0.5) as f, pytest.raises(UnreachableURL, match="total") as caught:
            await (f.afetch(url) if use_async else asyncio.to_thread(f.fetch, url))
        assert not answered.is_set()
    finally:
        release.set()
    assert caught.value.transient


@pytest.mark.parametrize("use_async", [False, True])
async def test_url_credentials_are_sent_and_never_logged(
    media_server: MediaServer, use_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """``user:pass@`` becomes Basic auth, as in any client; neither it nor the signed query reaches a log line
    (the fetcher sends through transports, so httpx's INFO request line never sees the URL)."""
    caplog.set_level(logging.DEBUG)
    url = media_server.url("/private.mp4?X-Amz-Signature=s3cret").replace("://", "://user:pa55@", 1)
    with Fetcher(allow_private_urls=True) as f:
        media = await (f.afetch(url) if use_async else asyncio.to_thread(f.fetch, url))
        assert media.mime == "video/mp4"
        with pytest.raises(UnreachableURL, match="HTTP 401") as caught:
            f.fetch(url.replace("pa55", "wrong"))
    assert "wrong" not in str(caught.value)
    assert "pa55" not in caplog.text
    assert "s3cret" not in caplog.text


def test_a_host_name_idna_cannot_encode_is_unreachable_not_a_crash() -> None:
    """A label over 63 characters fails in the resolver's IDNA step: a clear permanent error, not UnicodeError."""
    with Fetcher() as f, pytest.raises(UnreachableURL, match="not a valid host name") as caught:
        f.fetch("https://" + "a" * 64 + ".example.com/v.mp4")
    assert not caught.value.transient


def test_credentials_go_to_their_own_origin_only(fetcher: Fetcher, media_server: MediaServer) -> None:
    """`user:pass@` reaches the URL's own origin, also after a same-origin redirect, and is dropped on a
    redirect to another origin (`localhost` is another host than `127.0.0.1`)."""
    base = media_server.url("/redirect?to=", host="user:pa55@127.0.0.1")
    assert fetcher.fetch(base + "/private.mp4?hop=same").size == len(media_server.clips["mp4"])
    elsewhere = media_server.url("/private.mp4?hop=cross", host="localhost")
    with pytest.raises(UnreachableURL, match="HTTP 401"):
        fetcher.fetch(base + elsewhere)


def test_compressed_downloads_are_capped_by_their_decoded_size(
    fetcher: Fetcher, media_server: MediaServer, target: Target
) -> None:
    """A gzip body is counted as the bytes it decodes to: 2 MB of video compressed to a few KB still trips a
    1 MB cap, and under the cap the spooled file is the decoded video."""
    whole = b"".join(padded_mp4(media_server.clips["mp4"], 2_000_000))
    with pytest.raises(MediaTooLarge):
        fetcher.fetch(media_server.url(target("/gzip?n=2000000")), max_bytes=1_000_000)
    media = fetcher.fetch(media_server.url(target("/gzip?n=2000000")), max_bytes=3_000_000)
    assert media.size == len(whole)
    assert media.path.read_bytes() == whole
