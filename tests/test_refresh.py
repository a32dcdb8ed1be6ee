"""``router models --refresh`` against a fake OpenRouter catalogue on loopback, and the background refresh.

The CLI runs as a subprocess with ``XDG_CACHE_HOME`` and ``HOME`` in a temporary directory, as a user would run
it; every later command in the same environment must see what the refresh stored.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_catalogue import CHANGED_MODEL, NEW_MODEL, UNKNOWN_PROVIDER, FakeCatalogue
from payloads import video_request

import router
from router._capabilities import load_table
from router._refresh import CountBar, LiveTable, RefreshError, refresh

CLIP = "https://media.example/clip.mp4"


@pytest.fixture(scope="module")
def catalogue() -> Iterator[FakeCatalogue]:
    bundled = load_table(catalogue=None)
    fake = FakeCatalogue({k: m.providers for k, m in bundled.models.items()}).start()
    yield fake
    fake.close()


@pytest.fixture
def fake(catalogue: FakeCatalogue) -> FakeCatalogue:
    """The module's catalogue server with its knobs reset."""
    catalogue.throttle, catalogue.retry_after, catalogue.broken = 0, "0", set()
    catalogue.hits.clear()
    return catalogue


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home)}
    env.pop("OPENROUTER_BASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "router", *args], capture_output=True, text=True, env=env, input=stdin, timeout=60
    )


def request_text(model: str, **extra: Any) -> str:
    """A request for ``model`` with a public https video, as the text `router check -` reads."""
    return json.dumps(video_request(CLIP, model=model, **extra))


def test_refresh_changes_what_every_command_says(fake: FakeCatalogue, home: Path) -> None:
    """After a refresh, ``models``, ``providers`` and ``check`` use the new catalogue, and say it is the source."""
    before = run(home, "check", "--offline", "-", stdin=request_text(NEW_MODEL))
    assert "unknown-model" in before.stdout

    done = run(home, "models", "--refresh", "--base-url", fake.base_url)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    listed_providers = len(fake.providers["data"])
    assert line.startswith(f"Read 550 models (77 taking video) and {listed_providers} providers from {fake.base_url}; ")
    assert "against the bundled snapshot of 2026-08-14: 1 new model (1 taking video: acme/vision-2), 0 gone, " in line
    assert f"{CHANGED_MODEL}" in line
    assert f"1 provider has no rules in the table and will be handled conservatively: {UNKNOWN_PROVIDER}" in line
    cached = home / "cache" / "router" / "catalogue.json"
    assert line.endswith(f"Saved to {cached}.")
    assert json.loads(cached.read_text(encoding="utf-8"))["models"][NEW_MODEL]["input"] == ["text", "image", "video"]
    assert done.stderr == ""

    listed = run(home, "models", "--modality", "video")
    assert f"{NEW_MODEL}  " in listed.stdout
    assert f"providers: {UNKNOWN_PROVIDER}, google-vertex" in listed.stdout
    assert "tiers: google-vertex/flex, google-ai-studio/flex" in listed.stdout
    assert "77 models\n" in listed.stdout
    assert "data: OpenRouter catalogue fetched " in listed.stdout
    assert f"from {fake.base_url}, cached in {cached}" in listed.stdout

    providers = run(home, "providers")
    assert f"{UNKNOWN_PROVIDER} (Acme Cloud)\n  no rules in the table: every video is inlined" in providers.stdout

    new = run(home, "check", "--offline", "--format", "json", "-", stdin=request_text(NEW_MODEL))
    assert [d["rule"] for d in json.loads(new.stdout)["diagnostics"]] == ["url-needs-inline"]
    assert new.returncode == 0
    moved = run(home, "check", "--offline", "-", stdin=request_text(CHANGED_MODEL, only=["alibaba"]))
    assert moved.returncode == 1
    assert "(it is served by: moonshotai)" in moved.stdout


def test_router_in_process_uses_the_refreshed_catalogue(
    fake: FakeCatalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``refresh()`` stores the catalogue and a new ``Router()`` in the same environment routes with it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = refresh(fake.base_url)
    assert result.path == tmp_path / "router" / "catalogue.json"
    r = router.Router()
    assert r.table.models[CHANGED_MODEL].providers == ("moonshotai",)
    out = r.outgoing(video_request(CLIP, model=NEW_MODEL), dry_run=True)
    assert out.providers == [UNKNOWN_PROVIDER, "google-vertex"]


def test_rate_limits_are_waited_out(fake: FakeCatalogue, tmp_path: Path) -> None:
    """Two 429 answers (``Retry-After: 0``) on every path are retried, and the refresh succeeds."""
    fake.throttle = 2
    result = refresh(fake.base_url, path=tmp_path / "catalogue.json")
    assert NEW_MODEL in result.catalogue.models
    assert fake.hits["/api/v1/models"] == 3
    assert fake.hits["/api/v1/providers"] == 3


def test_rate_limits_that_do_not_end_fail_cleanly(fake: FakeCatalogue, home: Path) -> None:
    """A catalogue that keeps answering 429 ends the refresh with one line and exit 1; the cache is untouched."""
    assert run(home, "models", "--refresh", "--base-url", fake.base_url).returncode == 0
    cached = home / "cache" / "router" / "catalogue.json"
    kept = cached.read_bytes()
    fake.throttle = 1000
    failed = run(home, "models", "--refresh", "--base-url", fake.base_url)
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr == (
        f"router: error: cannot refresh the catalogue: {fake.base_url}/models?…: HTTP 429 (rate-limited) "
        "(5 attempts); nothing was changed\n"
    )
    assert cached.read_bytes() == kept
    assert "data: OpenRouter catalogue fetched" in run(home, "models").stdout


def test_a_long_retry_after_is_not_waited_for(fake: FakeCatalogue, tmp_path: Path) -> None:
    """A ``Retry-After`` beyond 30 s ends the refresh at once with the wait it asked for."""
    fake.throttle, fake.retry_after = 1000, "3600"
    with pytest.raises(RefreshError, match=r"answered HTTP 429 \(rate-limited\) and asks to wait 3600 s; try later"):
        refresh(fake.base_url, path=tmp_path / "catalogue.json")
    assert fake.hits["/api/v1/models"] == 1


def test_a_catalogue_that_breaks_mid_refresh_stores_nothing(fake: FakeCatalogue, tmp_path: Path) -> None:
    """Endpoints that keep failing (503) fail the refresh; no cache file is written."""
    fake.broken = {f"/api/v1/models/{NEW_MODEL}-20261120/endpoints"}
    target = tmp_path / "catalogue.json"
    with pytest.raises(RefreshError, match=r"/endpoints: HTTP 503 \(5 attempts\)"):
        refresh(fake.base_url, path=target)
    assert not target.exists()


def test_a_catalogue_that_is_gone_fails_cleanly(home: Path) -> None:
    """Nothing listening at the base URL: one line naming it, exit 1, and the bundled data stays in use."""
    failed = run(home, "models", "--refresh", "--base-url", "http://127.0.0.1:9/api/v1")
    assert failed.returncode == 1
    assert failed.stderr.startswith("router: error: cannot refresh the catalogue: http://127.0.0.1:9/api/v1/models?…: ")
    assert "cannot connect" in failed.stderr
    assert failed.stderr.count("\n") == 1
    assert not (home / "cache" / "router").exists()
    assert "data: bundled snapshot of 2026-08-14" in run(home, "models").stdout


def test_a_damaged_cache_gives_one_warning_and_the_bundled_data(home: Path) -> None:
    """A corrupt cache file: every command still works, says why on one stderr line, and uses the bundled data."""
    cached = home / "cache" / "router" / "catalogue.json"
    cached.parent.mkdir(parents=True)
    cached.write_text('{"format": 1, "models": ', encoding="utf-8")
    listed = run(home, "models", "--modality", "video")
    assert listed.returncode == 0
    assert listed.stderr == (
        f"router: warning: ignoring the cached catalogue {cached}: it is damaged (not JSON); using the bundled "
        "snapshot (`router models --refresh` writes a new one)\n"
    )
    assert "data: bundled snapshot of 2026-08-14" in listed.stdout
    checked = run(home, "check", "--offline", "-", stdin=request_text(NEW_MODEL))
    assert checked.returncode == 0
    assert "Traceback" not in checked.stderr
    assert checked.stderr.startswith("router: warning: ignoring the cached catalogue")


# --- background refresh (LiveTable) -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_live_table_refreshes_in_the_background_once_its_ttl_runs_out(fake: FakeCatalogue, tmp_path: Path) -> None:
    """Before the TTL the table is served as is; after it, one read starts a refresh and the new table follows."""
    clock, target = Clock(), tmp_path / "catalogue.json"
    live = LiveTable(base_url=fake.base_url, ttl=3600, cache=target, timer=clock)
    assert NEW_MODEL not in live.table.models
    assert not live.maybe_refresh()
    clock.now += 3601
    old = live.table  # starts the refresh and answers at once
    assert NEW_MODEL not in old.models
    assert not live.maybe_refresh()  # one refresh per TTL
    live.join(30)
    assert NEW_MODEL in live.table.models
    assert target.exists()
    assert fake.hits["/api/v1/models"] == 1


def test_live_table_keeps_its_table_when_a_refresh_fails(
    fake: FakeCatalogue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed background refresh keeps the old table, logs a warning, and waits ``retry`` before trying again."""
    clock = Clock()
    live = LiveTable(base_url=fake.base_url, ttl=60, retry=600, cache=tmp_path / "c.json", timer=clock)
    fake.throttle = 1000
    before = live.table
    clock.now += 61
    assert live.maybe_refresh()
    live.join(30)
    assert live.table is before
    assert isinstance(live.last_error, RefreshError)
    assert any("catalogue refresh failed, keeping the bundled snapshot" in r.getMessage() for r in caplog.records)
    clock.now += 60
    assert not live.maybe_refresh()
    fake.throttle = 0
    clock.now += 600
    assert live.maybe_refresh()
    live.join(30)
    assert NEW_MODEL in live.table.models


def test_live_table_refreshes_stale_data_first_when_asked(fake: FakeCatalogue, tmp_path: Path) -> None:
    """``stale_first`` (for servers): data older than the TTL (the 2026-08 bundle) is refreshed on first use."""
    live = LiveTable(base_url=fake.base_url, stale_first=True, cache=tmp_path / "c.json")
    assert live.maybe_refresh()
    live.join(30)
    assert NEW_MODEL in live.table.models


async def test_live_table_refreshes_from_async_code(fake: FakeCatalogue, tmp_path: Path) -> None:
    """``await arefresh()`` refreshes without blocking the event loop and swaps the table in."""
    live = LiveTable(base_url=fake.base_url, cache=tmp_path / "c.json")
    result = await live.arefresh()
    assert live.table is result.table
    assert NEW_MODEL in live.table.models


def test_progress_bar_counts_endpoint_requests_on_a_terminal_only() -> None:
    """On a terminal the refresh draws ``done/total`` endpoint requests; piped, it draws nothing."""
    drawn, piped = io.StringIO(), io.StringIO()
    with CountBar(drawn, "endpoints", enabled=True) as bar:
        bar.update(3, 4)
    with CountBar(piped, "endpoints") as quiet:
        quiet.update(3, 4)
    assert "endpoints" in drawn.getvalue()
    assert "3/4" in drawn.getvalue()
    assert piped.getvalue() == ""


def test_a_refreshing_router_picks_up_the_new_catalogue(
    fake: FakeCatalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Router(refresh_every=...)`, as `router serve` builds it, refreshes stale data in the background and
    then checks against it: a model new in the catalogue stops being `unknown-model`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the refresh writes its cache: keep it this test's
    r = router.Router(refresh_every=3600, base_url=fake.base_url)
    payload = video_request(CLIP, model=NEW_MODEL)
    assert r._live is not None
    r._live.join(30)  # the refresh the router started on its stale (2026-08) data
    assert NEW_MODEL in r.table.models
    assert "unknown-model" not in [d.rule for d in r.check(payload).diagnostics]
