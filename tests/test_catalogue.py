"""The cached OpenRouter catalogue: endpoint tags to provider keys, layering over the bundled table, the cache file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fake_catalogue import CHANGED_MODEL, NEW_MODEL, TIERED_MODEL, UNKNOWN_PROVIDER, build
from payloads import video_request

import router
from router._base.errors import CapabilityError
from router._table import catalogue as catalogue_module
from router._table.capabilities import CapabilityTable, Model
from router._table.catalogue import DEFAULT_BASE_URL, Catalogue, cache_path, endpoint_key, read_cached, write_cached
from router._table.listing import details_path, from_api
from router._table.load import load_table

TIERS = {"flex": "flex", "priority": "priority", "fast": "priority"}


@pytest.fixture(scope="module")
def bundled() -> CapabilityTable:
    return load_table(catalogue=None)


@pytest.fixture(scope="module")
def fresh(bundled: CapabilityTable) -> Catalogue:
    """The fake catalogue's documents (tests/fake_catalogue.py) turned into a Catalogue, fetched now."""
    models, endpoints, providers = build({k: m.providers for k, m in bundled.models.items()})
    return from_api(models["data"], endpoints, providers["data"], base_url="http://catalogue.test/api/v1")


@pytest.fixture(scope="module")
def table(fresh: Catalogue) -> CapabilityTable:
    return load_table(catalogue=fresh)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache directory of this test's own, and warnings that are not yet spent; the file OpenRouter's
    catalogue is cached in there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(catalogue_module, "_warned", set())
    return tmp_path / "router" / cache_path().name


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings as people read them (pytest listens on the logger, so they go there rather than to stderr)."""
    return [r.getMessage() for r in caplog.records if r.name == "router" and r.levelname == "WARNING"]


# --- endpoint tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "tier", "key"),
    [
        ("google-vertex", None, "google-vertex"),
        ("google-vertex/us-east5", None, "google-vertex"),
        ("z-ai/fp8", None, "z-ai"),
        ("google-vertex/flex", None, "google-vertex/flex"),
        ("google-vertex/global/flex", None, "google-vertex/flex"),
        ("openai/fast", None, "openai/priority"),
        ("Google-AI-Studio", "flex", "google-ai-studio/flex"),
    ],
)
def test_endpoint_tags_become_provider_keys(tag: str, tier: str | None, key: str) -> None:
    """Regions and quantizations fold into the provider slug; a service tier (by suffix or field) stays apart."""
    assert endpoint_key(tag, tier, TIERS) == key


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ({"id": "google/gemma-4:free", "links": {"details": "/api/v1/models/google/gemma-4-2026/endpoints"}},
         "google/gemma-4-2026"),
        ({"id": "~google/gemini-latest", "links": {"details": "/api/v1/models/~google/gemini-latest/endpoints"}},
         "~google/gemini-latest"),
        ({"id": "acme/vision-1:free"}, "acme/vision-1"),
        ({"id": "no-author"}, None),
    ],
)  # fmt: skip
def test_details_path_follows_the_models_own_link(model: dict[str, Any], path: str | None) -> None:
    """The endpoints path is the one ``links.details`` names (shared by ``:free``/``:batch``), else the base id."""
    assert details_path(model) == path


def test_from_api_keeps_the_raw_facts() -> None:
    """Modalities come from ``architecture``; endpoints only for video models whose document was fetched."""
    models = [
        {"id": "a/video", "architecture": {"input_modalities": ["text", "video"]}},
        {"id": "a/lost", "architecture": {"input_modalities": ["video"], "output_modalities": ["text"]}},
        {"id": "a/text", "architecture": {"input_modalities": ["text"]}},
        {"architecture": {}},
    ]
    docs = {"a/video": {"data": {"endpoints": [{"tag": "x/us"}, {"tag": "x", "service_tier": "flex"}, {}]}}}
    cat = from_api(models, docs, [{"slug": "x", "name": "X Cloud"}, {"name": "no slug"}], base_url="http://t")
    assert [e.tag for e in cat.models["a/video"].endpoints or ()] == ["x/us", "x"]
    assert cat.models["a/lost"].endpoints is None
    assert cat.models["a/text"].endpoints is None
    assert cat.models["a/text"].output == ("text",)
    assert cat.providers == {"x": "X Cloud"}
    assert cat.table_models(TIERS)["a/video"] == {
        "input": ["text", "video"], "output": ["text"], "providers": ["x"], "tiers": ["x/flex"],
    }  # fmt: skip


# --- the catalogue over the bundled table -------------------------------------------------------------


def test_catalogue_replaces_the_bundled_models(table: CapabilityTable, bundled: CapabilityTable) -> None:
    """New models appear, changed endpoints change who serves a model, and the snapshot says where data came from."""
    assert NEW_MODEL not in bundled.models
    assert table.models[NEW_MODEL].providers == (UNKNOWN_PROVIDER, "google-vertex")
    assert bundled.models[CHANGED_MODEL].providers == ("moonshotai", "alibaba")
    assert table.models[CHANGED_MODEL].providers == ("moonshotai",)
    assert table.snapshot is not None
    assert table.snapshot.fetched_at is not None
    assert table.snapshot.source == "http://catalogue.test/api/v1"
    assert bundled.snapshot is not None
    assert bundled.snapshot.date == dt.date(2026, 8, 14)
    assert bundled.snapshot.fetched_at is None


def test_service_tier_endpoints_are_opt_in(table: CapabilityTable) -> None:
    """Tier endpoints are kept out of a model's default providers and reached only when a request names them."""
    model = table.models[TIERED_MODEL]
    assert model.providers == ("google-vertex", "google-ai-studio")
    assert model.tiers == ("google-vertex/flex", "google-ai-studio/flex")
    assert table.served_by(model) == ("google-vertex", "google-ai-studio")
    assert table.served_by(model, ["google-vertex/flex"]) == ("google-vertex", "google-ai-studio", "google-vertex/flex")
    assert table.served_by(model, ["google-vertex/priority"]) == ("google-vertex", "google-ai-studio")
    assert table.served_by(None, ["google-vertex"]) == ()


def test_tiers_of_a_model_without_endpoint_data_follow_its_providers(bundled: CapabilityTable) -> None:
    """With the bundled snapshot (no endpoints), a named tier serves the model when its provider does."""
    model = bundled.models[TIERED_MODEL]
    assert model.tiers is None
    named = bundled.served_by(model, ["google-ai-studio/flex"])
    assert named == ("google-vertex", "google-ai-studio", "google-ai-studio/flex")
    nova = bundled.models["amazon/nova-2-lite-v1"]
    assert bundled.served_by(nova, ["google-ai-studio/flex"]) == nova.providers


@pytest.mark.parametrize(
    ("name", "narrows"),
    [("google-vertex/us-east5", True), ("google-vertex/global/flex", True), ("google-vertex", False),
     ("google-vertex/flex", False), ("Google Vertex", False), ("nowhere/us", False)],
)  # fmt: skip
def test_only_region_and_quantization_tags_narrow_a_key(bundled: CapabilityTable, name: str, narrows: bool) -> None:
    """Ignoring a region leaves its provider's other endpoints; a slug, a tier key or a display name is whole."""
    assert bundled.narrows(name) is narrows


def test_a_provider_without_rules_is_handled_conservatively(table: CapabilityTable) -> None:
    """A provider only the catalogue knows gets an entry that inlines everything and assumes no limit."""
    acme = table.providers[UNKNOWN_PROVIDER]
    assert acme.name == "Acme Cloud"
    assert not acme.documented
    assert acme.url_kinds == ()
    assert acme.data_urls
    assert acme.inline_cap() is None
    assert table.providers["google-vertex"].documented


def test_a_router_on_the_catalogue_routes_to_a_provider_without_rules(table: CapabilityTable) -> None:
    """Checking and planning a request for the new model works: its URL is inlined for both providers."""
    payload = video_request("https://a.test/c.mp4", model=NEW_MODEL)
    r = router.Router(table)
    report = r.check(payload)
    assert report.ok
    assert [d.rule for d in report.diagnostics] == ["url-needs-inline"]
    out = r.outgoing(payload, dry_run=True)
    assert out.providers == [UNKNOWN_PROVIDER, "google-vertex"]


def test_a_catalogue_older_than_the_bundled_snapshot_is_ignored(fresh: Catalogue) -> None:
    """The bundled data wins over a catalogue fetched before its snapshot was taken."""
    old = fresh.replace(fetched_at=dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    table = load_table(catalogue=old)
    assert NEW_MODEL not in table.models
    assert table.snapshot is not None
    assert table.snapshot.fetched_at is None


def test_user_tables_still_layer_over_the_catalogue(fresh: Catalogue, tmp_path: Path) -> None:
    """A user's file completes a provider without rules field by field and overrides a catalogue model."""
    user = tmp_path / "mine.yaml"
    user.write_text(
        f"providers:\n  {UNKNOWN_PROVIDER}:\n    max_video_bytes: 20MB\n"
        f"models:\n  {CHANGED_MODEL}:\n    providers: [moonshotai, alibaba]\n"
        "  acme/private-1: {input: [text, video], providers: [deepinfra]}\n",
        encoding="utf-8",
    )
    table = load_table(user, catalogue=fresh)
    acme = table.providers[UNKNOWN_PROVIDER]
    assert acme.max_video_bytes == 20_000_000
    assert not acme.documented
    assert table.models[CHANGED_MODEL].providers == ("moonshotai", "alibaba")
    assert not table.providers["deepinfra"].documented  # listed by /providers, so a user table may name it
    alone = tmp_path / "model.yaml"
    alone.write_text("models:\n  acme/private-1: {input: [text, video], providers: [deepinfra]}\n", encoding="utf-8")
    with pytest.raises(CapabilityError, match="provider 'deepinfra' is not defined under providers"):
        load_table(alone, catalogue=None)


# --- the cache file -----------------------------------------------------------------------------------


def test_the_cache_lives_in_the_user_cache_directory(cache_home: Path, tmp_path: Path) -> None:
    """On Linux the catalogue is cached under ``$XDG_CACHE_HOME/router/``, in a file named for its base URL."""
    assert cache_path() == cache_home
    assert cache_home.parent == tmp_path / "router"
    assert re.fullmatch(r"catalogue-openrouter\.ai-[0-9a-f]{12}\.json", cache_home.name)


def test_written_cache_reads_back_and_leaves_no_partial_file(fresh: Catalogue, cache_home: Path) -> None:
    """``write_cached`` creates the directory, replaces the file whole, and reads back equal."""
    assert read_cached(base_url=fresh.base_url) is None
    write_cached(fresh)
    write_cached(fresh)
    assert read_cached(base_url=fresh.base_url) == fresh
    assert [p.name for p in cache_home.parent.iterdir()] == [cache_path(fresh.base_url).name]


def test_router_and_load_table_use_the_cached_catalogue(fresh: Catalogue, cache_home: Path) -> None:
    """Once a catalogue is cached, ``Router()`` sees its models and says where its data came from."""
    write_cached(fresh.replace(base_url=DEFAULT_BASE_URL))
    table = router.Router().table
    assert NEW_MODEL in table.models
    assert table.snapshot is not None
    assert table.snapshot.path == str(cache_home)
    assert "OpenRouter catalogue fetched" in table.snapshot.describe()
    assert str(cache_home) in table.snapshot.describe()


@pytest.mark.parametrize(
    "content",
    [b"{not json", json.dumps({"format": 2, "models": {}}).encode(), b"\xff\xfe"],
    ids=["not-json", "wrong-format", "not-utf8"],
)
def test_a_damaged_cache_is_ignored_with_one_warning(
    content: bytes, cache_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache that does not parse gives one warning (once per process) and the bundled data."""
    cache_home.parent.mkdir(parents=True)
    cache_home.write_bytes(content)
    for _ in range(2):
        table = load_table()
        assert NEW_MODEL not in table.models
        assert table.snapshot is not None
        assert table.snapshot.fetched_at is None
    [message] = _warnings(caplog)
    assert message.startswith(f"warning: ignoring the cached catalogue {cache_home}: it is damaged")


def test_an_unreadable_cache_is_ignored_with_a_warning(cache_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache path that cannot be read (here a directory) warns and falls back to the bundled data."""
    cache_home.mkdir(parents=True)
    assert load_table().snapshot == load_table(catalogue=None).snapshot
    [message] = _warnings(caplog)
    assert message.startswith(f"warning: cannot read the cached catalogue {cache_home} (")  # the OS's reason
    assert message.endswith("); using the bundled snapshot")


def test_warnings_go_to_stderr_when_no_one_listens(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a logging handler anywhere, the warning is one ``router: warning:`` line on stderr."""
    monkeypatch.setattr(logging.Logger, "hasHandlers", lambda self: False)
    cache_home.parent.mkdir(parents=True)
    cache_home.write_text("[]", encoding="utf-8")
    load_table()
    err = capsys.readouterr().err
    assert err.startswith(f"router: warning: ignoring the cached catalogue {cache_home}: it is damaged")
    assert err.count("\n") == 1


def test_model_tiers_name_defined_keys_only(tmp_path: Path) -> None:
    """A user model listing a tier key that no provider has is a table error at its line."""
    user = tmp_path / "mine.yaml"
    user.write_text("models:\n  acme/v: {input: [video], tiers: [nowhere/flex]}\n", encoding="utf-8")
    with pytest.raises(CapabilityError, match=r"mine.yaml:2: models.acme/v.tiers\[0\]: provider 'nowhere/flex'"):
        load_table(user, catalogue=None)
    assert Model(input=("video",)).tiers is None
