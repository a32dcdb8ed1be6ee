"""``router models --refresh`` against a fake OpenRouter catalogue on loopback, and the background refresh.

The CLI runs as a subprocess with ``XDG_CACHE_HOME`` and ``HOME`` in a temporary directory, as a user would run
it; every later command in the same environment that talks to the same base URL must see what the refresh
stored, and no other. The fake also plays the stand-ins teams point their tests at: a ``/models`` without
``architecture``, a listing that drops most models, an answer that is not a catalogue at all.
"""

from __future__ import annotations

import copy
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_catalogue import CHANGED_MODEL, NEW_MODEL, TIERED_MODEL, UNKNOWN_PROVIDER, FakeCatalogue, build
from payloads import video_request

import router
from router._cli.progress import CountBar
from router._table.catalogue import DEFAULT_BASE_URL, cache_path, write_cached
from router._table.listing import details_path, from_api
from router._table.load import load_table
from router._table.refresh import LiveTable, refresh
from router._table.remote import RefreshError, RefreshRefused

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
    catalogue.throttle, catalogue.retry_after, catalogue.broken, catalogue.documents = 0, "0", set(), {}
    catalogue.hits.clear()
    return catalogue


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def run(
    home: Path, *args: str, stdin: str | None = None, base_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``router ARGS`` as a user at ``home`` runs it, with ``OPENROUTER_BASE_URL=base_url`` when given."""
    env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home)}
    env.pop("OPENROUTER_BASE_URL", None)
    if base_url is not None:
        env["OPENROUTER_BASE_URL"] = base_url
    return subprocess.run(
        [sys.executable, "-m", "router", *args], capture_output=True, text=True, env=env, input=stdin, timeout=60
    )


def cached_at(home: Path, base_url: str | None = None) -> Path:
    """The file the catalogue of ``base_url`` (default OpenRouter's) is cached in, for a user at ``home``."""
    return home / "cache" / "router" / cache_path(base_url).name


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
    cached = cached_at(home, fake.base_url)
    assert line.endswith(f"Saved to {cached}.")
    assert json.loads(cached.read_text(encoding="utf-8"))["models"][NEW_MODEL]["input"] == ["text", "image", "video"]
    assert done.stderr == ""

    listed = run(home, "models", "--modality", "video", "--base-url", fake.base_url)
    assert f"{NEW_MODEL}  " in listed.stdout
    assert f"providers: {UNKNOWN_PROVIDER}, google-vertex" in listed.stdout
    assert "tiers: google-vertex/flex, google-ai-studio/flex" in listed.stdout
    assert "77 models\n" in listed.stdout
    assert "data: OpenRouter catalogue fetched " in listed.stdout
    assert f"from {fake.base_url}, cached in {cached}" in listed.stdout

    providers = run(home, "providers", base_url=fake.base_url)
    assert f"{UNKNOWN_PROVIDER} (Acme Cloud)\n  no rules in the table: every video is inlined" in providers.stdout

    new = run(
        home, "check", "--offline", "--format", "json", "-", stdin=request_text(NEW_MODEL), base_url=fake.base_url
    )
    assert [d["rule"] for d in json.loads(new.stdout)["diagnostics"]] == ["url-needs-inline"]
    assert new.returncode == 0
    moved = run(
        home, "check", "--offline", "-", stdin=request_text(CHANGED_MODEL, only=["alibaba"]), base_url=fake.base_url
    )
    assert moved.returncode == 1
    assert "(it is served by: moonshotai)" in moved.stdout


def test_router_in_process_uses_the_refreshed_catalogue(
    fake: FakeCatalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``refresh()`` stores the catalogue and a new ``Router()`` in the same environment routes with it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = refresh(fake.base_url)
    assert result.path == tmp_path / "router" / cache_path(fake.base_url).name
    r = router.Router(base_url=fake.base_url)
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
    cached = cached_at(home, fake.base_url)
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
    assert "data: OpenRouter catalogue fetched" in run(home, "models", "--base-url", fake.base_url).stdout


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
    cached = cached_at(home)
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


# --- which catalogue is believed ----------------------------------------------------------------------------

MODELS = "/api/v1/models"
QWEN = "qwen/qwen3.6-plus"
BUNDLED_DATA = "data: bundled snapshot of 2026-08-14"


def listing(fake: FakeCatalogue, keep: int | None = None, architecture: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fake's ``/models`` answer with only its first ``keep`` video models when given, and the
    ``architecture`` of the models in ``architecture`` replaced (None: removed)."""
    models = copy.deepcopy(fake.models)
    video = [m["id"] for m in models["data"] if "video" in m["architecture"]["input_modalities"]]
    if keep is not None:
        models["data"] = [m for m in models["data"] if m["id"] not in video[keep:]]
    for entry in models["data"]:
        if entry["id"] in (architecture or {}):
            entry.pop("architecture")
            if (arch := (architecture or {})[entry["id"]]) is not None:
                entry["architecture"] = arch
    return models


def test_entries_without_architecture_keep_the_bundled_modalities(fake: FakeCatalogue, home: Path) -> None:
    """A refreshed catalogue listing Gemini without ``architecture`` (or with one of an unknown shape) keeps what
    the bundled table says it takes; a model nobody knows anything about is an unknown model, with the reason."""
    odd = {TIERED_MODEL: None, QWEN: "text+video", NEW_MODEL: None}
    fake.documents[MODELS] = listing(fake, architecture=odd)
    done = run(home, "models", "--refresh", "--base-url", fake.base_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Read 550 models (74 taking video) and {len(fake.providers['data'])} providers ")

    listed = run(home, "models", "--modality", "video", "--base-url", fake.base_url).stdout
    bundled = load_table(catalogue=None).models
    for model_id in (TIERED_MODEL, QWEN):
        m = bundled[model_id]
        line = f"in: {'+'.join(m.input)}  out: {'+'.join(m.output)}  providers: {', '.join(m.providers)}"
        assert re.search(rf"^{re.escape(model_id)} +{re.escape(line)}$", listed, re.M), listed
    assert f"from {fake.base_url}, cached in {cached_at(home, fake.base_url)}\n" in listed
    assert BUNDLED_DATA in run(home, "models").stdout  # OpenRouter's own data is still the bundled snapshot

    gemini = run(home, "check", "--offline", "-", stdin=request_text(TIERED_MODEL), base_url=fake.base_url)
    assert gemini.returncode == 0, gemini.stdout
    assert "model-lacks-video" not in gemini.stdout
    unknown = run(home, "check", "--offline", "-", stdin=request_text(NEW_MODEL), base_url=fake.base_url)
    assert unknown.returncode == 0
    assert (
        f"warning unknown-model: model '{NEW_MODEL}' is not in the capability table "
        f"(the catalogue from {fake.base_url} lists it without its input modalities)" in unknown.stdout
    )


def test_a_refresh_that_drops_most_video_models_is_refused_unless_forced(fake: FakeCatalogue, home: Path) -> None:
    """A catalogue keeping 29 of the 76 video models known is refused in one line (exit 1, nothing stored);
    ``--force`` takes it; one keeping 39 of them (an ordinary change, however large) is taken."""
    fake.documents[MODELS] = listing(fake, keep=40)  # acme/vision-2, new, comes first
    assert "(40 taking video)" in refresh(fake.base_url, path=home / "unused.json", store=False).summary
    fake.documents[MODELS] = listing(fake, keep=30)
    refused = run(home, "models", "--refresh", "--base-url", fake.base_url)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert re.fullmatch(
        rf"router: error: refused the catalogue from {re.escape(fake.base_url)}: it drops 47 of the 76 video models "
        r"the bundled snapshot of 2026-08-14 knows \([^)]+…\); nothing was changed "
        r"\(`router models --refresh --force` takes it anyway\)\n",
        refused.stderr,
    )
    assert not (home / "cache").exists()
    assert BUNDLED_DATA in run(home, "models", "--base-url", fake.base_url).stdout

    forced = run(home, "models", "--refresh", "--force", "--base-url", fake.base_url)
    assert forced.returncode == 0, forced.stderr
    assert "(30 taking video)" in forced.stdout
    assert "30 models\n" in run(home, "models", "--modality", "video", "--base-url", fake.base_url).stdout


@pytest.mark.parametrize(
    ("answer", "why", "forceable"),
    [
        ({"models": []}, "no `data` array of models", False),
        (b"<!doctype html><title>Sign in to the Wi-Fi</title>", "text/html, not JSON", False),
        ({"data": [{"name": "a model without an id"}]}, "1 of the 1 entries in `data` are not models", False),
        ("mixed", "1 of the 551 entries in `data` are not models", True),
    ],
    ids=["no-data", "html", "no-ids", "one-bad-entry"],
)
def test_an_answer_that_is_not_a_catalogue_is_refused(
    fake: FakeCatalogue, home: Path, answer: Any, why: str, forceable: bool
) -> None:
    """A 200 to ``GET /models`` that is not ``{"data": [{"id": ...}, ...]}`` is refused in one line and nothing
    is stored; where there are models in it, ``--force`` takes those."""
    if answer == "mixed":
        answer = listing(fake)
        answer["data"].append({"name": "a model without an id"})
    fake.documents[MODELS] = answer
    refused = run(home, "models", "--refresh", "--base-url", fake.base_url)
    assert refused.returncode == 1
    hint = " (`router models --refresh --force` takes it anyway)" if forceable else ""
    # The URL is shown as shorten() shows every URL: the query of the listing request is cut.
    assert re.match(
        rf"router: error: refused the answer of {re.escape(fake.base_url)}/models(\?…)?: "
        rf"it is not OpenRouter's catalogue \({re.escape(why)}",
        refused.stderr,
    )
    assert refused.stderr.endswith(f"; nothing was changed{hint}\n")
    assert refused.stderr.count("\n") == 1
    assert not (home / "cache").exists()
    forced = run(home, "models", "--refresh", "--force", "--base-url", fake.base_url)
    assert forced.returncode == (0 if forceable else 1), forced.stderr


def test_a_cache_applies_only_to_its_own_base_url(
    fake: FakeCatalogue, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalogue read from base URL X is used by processes talking to X only; OpenRouter's is used by those
    talking to OpenRouter only; and a file copied under another base URL's name is not believed."""
    assert run(home, "models", "--refresh", "--base-url", fake.base_url).returncode == 0
    other = "http://127.0.0.1:9/api/v1"
    for base_url, sees in ((fake.base_url, True), (None, False), (other, False)):
        checked = run(home, "check", "--offline", "-", stdin=request_text(NEW_MODEL), base_url=base_url)
        assert ("unknown-model" not in checked.stdout) is sees, (base_url, checked.stdout)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    assert NEW_MODEL in router.Router(base_url=fake.base_url + "/").table.models
    assert NEW_MODEL not in router.Router().table.models

    write_cached(from_api(*build_documents(), base_url=DEFAULT_BASE_URL))  # as `router models --refresh` would
    assert "data: OpenRouter catalogue fetched" in run(home, "models").stdout
    assert f"from {DEFAULT_BASE_URL}, cached in {cached_at(home)}" in run(home, "models").stdout
    assert BUNDLED_DATA in run(home, "models", "--base-url", other).stdout
    assert NEW_MODEL in run(home, "models", "--base-url", fake.base_url).stdout

    cached_at(home).write_bytes(cached_at(home, fake.base_url).read_bytes())  # the stand-in's file, renamed
    listed = run(home, "models")
    assert BUNDLED_DATA in listed.stdout
    assert listed.stderr == (
        f"router: warning: ignoring the cached catalogue {cached_at(home)}: it was read from {fake.base_url}, "
        f"not {DEFAULT_BASE_URL}\n"
    )


def test_missing_endpoints_and_providers_keep_what_the_table_knew(fake: FakeCatalogue, tmp_path: Path) -> None:
    """An endpoints answer that is not JSON, or not the documented shape, keeps the model's bundled providers;
    a ``/providers`` answer without ``data`` leaves names unknown instead of failing the refresh."""
    bundled = load_table(catalogue=None)
    path = {m["id"]: f"/api/v1/models/{details_path(m)}/endpoints" for m in fake.models["data"]}
    fake.documents[path[TIERED_MODEL]] = b"<html>maintenance</html>"
    fake.documents[path["google/gemini-2.5-pro"]] = {"data": {"endpoints": "none"}}
    fake.documents["/api/v1/providers"] = {"providers": []}
    result = refresh(fake.base_url, path=tmp_path / "c.json")
    for model_id in (TIERED_MODEL, "google/gemini-2.5-pro"):
        assert result.table.models[model_id].providers == bundled.models[model_id].providers
    assert result.catalogue.providers == {}
    assert result.table.models[CHANGED_MODEL].providers == ("moonshotai",)  # the answers that were fine are used


def test_live_table_keeps_its_table_on_a_suspicious_refresh(
    fake: FakeCatalogue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A background refresh whose catalogue drops most video models is refused: the old table and the cache
    file stay, with a warning saying why."""
    clock, target = Clock(), tmp_path / "c.json"
    live = LiveTable(base_url=fake.base_url, ttl=60, cache=target, timer=clock)
    live.refresh_now()
    before, stored = live.table, target.read_bytes()
    assert NEW_MODEL in before.models
    fake.documents[MODELS] = listing(fake, keep=2)
    clock.now += 61
    assert live.maybe_refresh()
    live.join(30)
    assert live.table is before
    assert target.read_bytes() == stored
    assert isinstance(live.last_error, RefreshRefused)
    assert any(
        "catalogue refresh failed, keeping the catalogue fetched " in r.getMessage()
        and f"refused the catalogue from {fake.base_url}: it drops 75 of the 77 video models" in r.getMessage()
        for r in caplog.records
    )


# --- `router serve` in front of a stand-in ------------------------------------------------------------------


class Served:
    """``router serve --port 0 --base-url BASE ARGS`` as a user at ``home`` runs it: ``url``, stderr lines as
    they come, and a SIGTERM stop."""

    def __init__(self, home: Path, base_url: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "ROUTER_"))}
        env.update(XDG_CACHE_HOME=str(home / "cache"), HOME=str(home))
        argv = [sys.executable, "-m", "router", "serve", "--port", "0", "--base-url", base_url, *args]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        stderr = self.proc.stderr
        threading.Thread(target=lambda: [self.lines.put(line.rstrip("\n")) for line in stderr], daemon=True).start()
        first = self.proc.stdout.readline()
        assert first.startswith("router proxy on "), first
        self.url = first.split(" on ", 1)[1].split(" -> ", 1)[0]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while httpx.get(self.url + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the proxy never became ready"
            time.sleep(0.05)

    def line_with(self, *texts: str, timeout: float = 60, unless: Callable[[], bool] = lambda: False) -> str:
        """The first stderr line holding one of ``texts``; "" as soon as ``unless()`` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not unless():
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if any(text in line for text in texts):
                return line
        assert unless(), f"no stderr line with any of {texts}"
        return ""

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(60) == 0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def stand_in(fake: FakeCatalogue) -> None:
    """Make the fake answer like a team's test double: one model, Gemini, listed without ``architecture``."""
    fake.documents[MODELS] = {"data": [{"id": TIERED_MODEL, "name": "Google: Gemini 2.5 Flash"}]}


def test_serve_behind_a_stand_in_teaches_no_other_process(fake: FakeCatalogue, home: Path) -> None:
    """`router serve` in front of a stand-in keeps OpenRouter's cached data, says so, and never refreshes from
    the stand-in: a later `router check` of a Gemini video request in the same home is not `model-lacks-video`,
    and OpenRouter's cache file is untouched."""
    stand_in(fake)
    openrouter = from_api(*build_documents(), base_url=DEFAULT_BASE_URL)
    write_cached(openrouter, cached_at(home))
    kept = cached_at(home).read_bytes()

    def files() -> list[Path]:
        return sorted((home / "cache" / "router").iterdir())

    proxy = Served(home, fake.base_url)
    try:
        proxy.wait_ready()
        # Settled: it says how it got its model data, or a refresh from the stand-in has written a cache file.
        said = proxy.line_with("model data:", unless=lambda: files() != [cached_at(home)])
    finally:
        proxy.stop()
    checked = run(home, "check", "--offline", "-", stdin=request_text(TIERED_MODEL))
    assert checked.returncode == 0, checked.stdout
    assert "model-lacks-video" not in checked.stdout
    assert files() == [cached_at(home)]
    assert cached_at(home).read_bytes() == kept
    assert fake.hits[MODELS] == 0
    assert said.startswith("router: model data: OpenRouter's (OpenRouter catalogue fetched ")
    assert f"cached in {cached_at(home)}); not refreshed from {fake.base_url}, which is not OpenRouter" in said


def test_serve_refreshes_from_a_stand_in_only_when_told_and_refuses_what_it_lists(
    fake: FakeCatalogue, home: Path
) -> None:
    """With ``--refresh-catalogue`` the proxy reads the stand-in's catalogue, refuses it (it drops most video
    models) and keeps the bundled data; nothing is cached, so a later check through the same base URL passes."""
    stand_in(fake)
    proxy = Served(home, fake.base_url, "--refresh-catalogue")
    try:
        proxy.wait_ready()
        said = proxy.line_with("catalogue refresh", "Read ")
    finally:
        proxy.stop()
    assert "catalogue refresh failed, keeping the bundled snapshot of 2026-08-14: refused the catalogue from " in said
    assert f"{fake.base_url}: it drops 75 of the 76 video models" in said
    assert fake.hits[MODELS] == 1
    assert not (home / "cache").exists()
    checked = run(home, "check", "--offline", "-", stdin=request_text(TIERED_MODEL), base_url=fake.base_url)
    assert checked.returncode == 0, checked.stdout
    assert "model-lacks-video" not in checked.stdout


def build_documents() -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """The fake catalogue's three documents as :func:`from_api` takes them: OpenRouter's data, today."""
    bundled = load_table(catalogue=None)
    models, endpoints, providers = build({k: m.providers for k, m in bundled.models.items()})
    return models["data"], endpoints, providers["data"]
