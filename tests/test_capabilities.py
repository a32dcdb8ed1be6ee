"""The capability table: the bundled file, its generated models section, user overrides and load errors."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from clips import clip_bytes
from payloads import video_request

import router
from router._base.errors import CapabilityError
from router._table.capabilities import CapabilityTable
from router._table.load import BUNDLED, load_table

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).resolve().parent / "data" / "openrouter-models-2026-08.json"
OPENROUTER_MIME = ("video/mp4", "video/mpeg", "video/mov", "video/webm")


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_models", REPO / "scripts" / "gen_models.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_models", module)
    spec.loader.exec_module(module)
    return module


gen_models = _load_generator()


@pytest.fixture(scope="module")
def table() -> CapabilityTable:
    return load_table()


@pytest.fixture(scope="module")
def snapshot() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["data"]
    return data


def _write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # "\udcff" writes the byte 0xff
    return path


# --- the bundled table ----------------------------------------------------------------------------


def test_bundled_table_loads(table: CapabilityTable) -> None:
    """The shipped capabilities.yaml validates and carries providers, models and OpenRouter's MIME list."""
    assert BUNDLED == REPO / "capabilities.yaml"
    assert table.providers
    assert table.models
    assert table.openrouter.mime_types == OPENROUTER_MIME


def test_snapshot_models_are_all_known_with_their_modalities(
    table: CapabilityTable, snapshot: list[dict[str, Any]]
) -> None:
    """Every one of the 549 snapshot models is in the table with the snapshot's modalities, 76 taking video."""
    assert len(snapshot) == 549
    assert set(table.models) == {m["id"] for m in snapshot}
    for entry in snapshot:
        model = table.models[entry["id"]]
        assert list(model.input) == entry["architecture"]["input_modalities"], entry["id"]
        assert list(model.output) == entry["architecture"]["output_modalities"], entry["id"]
    assert sum(m.takes_video for m in table.models.values()) == 76


def test_variant_and_alias_ids_are_kept_verbatim(table: CapabilityTable) -> None:
    """Ids such as ``google/gemini-2.5-pro:batch`` and ``~google/gemini-pro-latest`` are table keys as-is."""
    for model_id in ("google/gemini-2.5-pro:batch", "~google/gemini-pro-latest", "google/gemma-4-31b-it:free"):
        assert model_id in table.models
        assert table.models[model_id].takes_video


def test_every_video_model_with_text_output_has_a_provider(table: CapabilityTable) -> None:
    """A video-input model that answers in text names at least one provider, all defined in the table."""
    for model_id, model in table.models.items():
        if model.takes_video and "text" in model.output:
            assert model.providers, model_id
        for slug in model.providers:
            assert slug in table.providers, (model_id, slug)


def test_text_only_models_have_no_providers(table: CapabilityTable) -> None:
    """Models that take no media carry no providers (the table routes media requests only), and the media models
    of the big families know who serves them."""
    media = {"video", "audio", "image", "file"}
    assert all(not m.providers for m in table.models.values() if not media & set(m.input))
    assert table.models["anthropic/claude-sonnet-4.5"].providers == ("anthropic", "amazon-bedrock", "google-vertex")
    assert table.models["openai/gpt-4o"].providers == ("openai", "azure")


def test_every_provider_cites_its_sources(table: CapabilityTable) -> None:
    """Each provider has an https ``source``, and every per-field citation is an https URL too."""
    for slug, provider in table.providers.items():
        assert provider.source.startswith("https://"), slug
        for field, url in provider.sources.items():
            assert url.startswith("https://"), (slug, field)
        assert provider.notes, slug
        for kind in ("audio", "image", "file"):
            section = getattr(provider, kind)
            if section is not None:  # a kind's section cites its own source (or one per field)
                assert (section.source or "").startswith("https://") or section.sources, (slug, kind)
                assert all(url.startswith("https://") for url in section.sources.values()), (slug, kind)


def test_key_provider_rules(table: CapabilityTable) -> None:
    """AI Studio takes YouTube links only, Vertex and Bedrock no URLs; Bedrock's 25 MB counts encoded bytes."""
    studio, vertex, bedrock = (table.providers[s] for s in ("google-ai-studio", "google-vertex", "amazon-bedrock"))
    assert studio.url_kinds == ("youtube",)
    assert studio.data_urls
    assert studio.max_request_bytes == 100_000_000
    assert vertex.url_kinds == ()
    assert vertex.data_urls
    assert bedrock.url_kinds == ()
    assert bedrock.max_request_bytes == 25_000_000
    assert bedrock.inline_cap() == 25_000_000 * 3 // 4
    assert table.mime_types("google-vertex") == OPENROUTER_MIME


def test_corrected_provider_facts(table: CapabilityTable) -> None:
    """The facts checked against the providers' own docs (issue 10), each with its source."""
    alibaba, zai, seed, xiaomi = (table.providers[s] for s in ("alibaba", "z-ai", "seed", "xiaomi"))
    assert alibaba.max_video_bytes == 7_500_000  # base64 under 10 MB
    assert alibaba.max_duration_s == 1200
    assert alibaba.url_kinds == ()
    assert zai.url_kinds == ("https", "http")
    assert not zai.data_urls
    assert "data_urls" in zai.unknown
    assert (zai.max_video_bytes, zai.max_videos) == (200_000_000, 2)
    assert table.mime_types("z-ai") == ("video/mp4", "video/mov")
    assert seed.max_video_bytes == 50_000_000
    assert xiaomi.max_video_bytes == 37_500_000  # base64 string up to 50 MB
    for slug in ("alibaba", "z-ai", "seed", "xiaomi"):
        assert "max_video_bytes" in table.providers[slug].sources, slug
    assert table.mime_types("google-ai-studio") == OPENROUTER_MIME
    assert table.models["amazon/nova-2-lite-v1"].providers == ("amazon-bedrock", "amazon-nova")
    assert table.providers["amazon-nova"].max_videos == 1
    assert table.models["minimax/minimax-m3"].providers == ("minimax", "gmicloud", "novita")


def test_corrected_facts_reach_the_checker() -> None:
    """Over 7.5 MB inline is too large for Alibaba; Z.AI keeps a public URL as is and refuses a data URL."""
    r = router.Router()
    big = "data:video/mp4;base64," + base64.b64encode(clip_bytes("mp4") + bytes(7_600_000)).decode()
    [finding] = r.check(video_request(big, model="qwen/qwen3.6-plus")).diagnostics
    assert finding.rule == "too-large"
    assert "alibaba takes inline videos up to 7,500,000 bytes" in finding.message
    assert r.check(video_request("https://media.example/clip.mp4", model="z-ai/glm-4.6v")).diagnostics == []
    small = "data:video/mp4;base64," + base64.b64encode(clip_bytes("mp4")).decode()
    [refused] = r.check(video_request(small, model="z-ai/glm-4.6v")).diagnostics
    assert (refused.rule, refused.severity) == ("url-not-accepted", "error")


def test_every_unknown_fact_says_why(table: CapabilityTable) -> None:
    """A field marked ``unknown`` carries a reason, and a limit marked so has no number."""
    for slug, provider in table.providers.items():
        for field, why in provider.unknown.items():
            assert len(why) > 10, (slug, field)
            if field.startswith("max_"):
                assert getattr(provider, field) == "unknown", (slug, field)


def test_model_variants_fall_back_to_their_base(table: CapabilityTable) -> None:
    """An id with an unknown ``:variant`` suffix resolves to its base model."""
    found = table.model("google/gemini-2.5-pro:some-new-variant")
    assert found is not None
    assert found == table.models["google/gemini-2.5-pro"]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("google-vertex/us-east5", "google-vertex"),
        ("google-vertex/global", "google-vertex"),
        ("z-ai/fp8", "z-ai"),
        ("Google-AI-Studio", "google-ai-studio"),
        ("Google AI Studio", "google-ai-studio"),
        ("amazon-bedrock", "amazon-bedrock"),
        ("nowhere/us-east5", None),
    ],
)
def test_region_and_quantization_tags_resolve_to_the_base_slug(
    table: CapabilityTable, name: str, slug: str | None
) -> None:
    """Region and quantization tags, and display names, resolve to the base slug; unknown names to None."""
    assert table.provider_slug(name) == slug


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("google-vertex/flex", "google-vertex/flex"),
        ("google-vertex/global/flex", "google-vertex/flex"),
        ("google-ai-studio/flex", "google-ai-studio/flex"),
        ("google-ai-studio/fast", "google-ai-studio/priority"),
        ("Google Vertex (priority)", "google-vertex/priority"),
        ("openai/priority", None),
        ("amazon-bedrock/flex", None),
    ],
)
def test_service_tier_tags_do_not_follow_their_base_slug(table: CapabilityTable, name: str, slug: str | None) -> None:
    """A service-tier tag is its own key (OpenRouter's base slug never matches it); a tier with no entry is None."""
    assert table.provider_slug(name) == slug


def test_tier_entries_carry_their_providers_rules(table: CapabilityTable, tmp_path: Path) -> None:
    """``google-vertex/flex`` has Vertex's rules under its own name, and a user override of Vertex reaches it."""
    vertex, flex = table.providers["google-vertex"], table.providers["google-vertex/flex"]
    assert flex.name == "Google Vertex (flex)"
    assert flex.model_dump(exclude={"name", "tiers"}) == vertex.model_dump(exclude={"name", "tiers"})
    assert flex.tiers == ()
    assert "google-vertex/flex" not in table.models["google/gemini-2.5-pro"].providers
    user = _write(tmp_path, "providers:\n  google-vertex:\n    max_request_bytes: 40MB\n")
    assert load_table(user).providers["google-vertex/flex"].max_request_bytes == 40_000_000


# --- the generator --------------------------------------------------------------------------------


def test_generator_reproduces_the_committed_table(tmp_path: Path) -> None:
    """Regenerating a copy of the table from the snapshot leaves it byte-for-byte identical."""
    copy = tmp_path / "capabilities.yaml"
    shutil.copyfile(BUNDLED, copy)
    assert gen_models.main([str(SNAPSHOT), "--table", str(copy)]) == 0
    assert copy.read_bytes() == BUNDLED.read_bytes()
    assert gen_models.main([str(SNAPSHOT), "--table", str(copy), "--check"]) == 0


def test_generator_rewrites_a_stale_models_section(tmp_path: Path) -> None:
    """A table whose generated section was edited by hand is restored, and ``--check`` flags it first."""
    text = BUNDLED.read_text(encoding="utf-8")
    stale = _write(tmp_path, re.sub(r"(?m)^  google/gemini-2\.5-pro: .*\n", "", text), "capabilities.yaml")
    assert gen_models.main([str(SNAPSHOT), "--table", str(stale), "--check"]) == 1
    assert gen_models.main([str(SNAPSHOT), "--table", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text


def test_generator_refuses_an_unmapped_video_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A video model that no SERVED_BY pattern covers is an error, and the table is left untouched."""
    snap = _write(
        tmp_path,
        json.dumps({"data": [{"id": "acme/vision-1", "architecture": {"input_modalities": ["text", "video"]}}]}),
        "snap.json",
    )
    copy = tmp_path / "capabilities.yaml"
    shutil.copyfile(BUNDLED, copy)
    assert gen_models.main([str(snap), "--table", str(copy)]) == 1
    assert "acme/vision-1" in capsys.readouterr().err
    assert copy.read_bytes() == BUNDLED.read_bytes()


@pytest.mark.parametrize(
    ("model_id", "providers"),
    [
        ("google/gemini-2.5-pro:batch", ("google-vertex", "google-ai-studio")),
        ("~google/gemini-pro-latest", ("google-vertex", "google-ai-studio")),
        ("amazon/nova-2-lite-v1", ("amazon-bedrock", "amazon-nova")),
        ("minimax/minimax-m3:batch", ("minimax", "gmicloud", "novita")),
        ("minimax/hailuo-3", ("minimax",)),
        ("qwen/qwen3.6-plus", ("alibaba",)),
        ("acme/unknown", None),
    ],
)
def test_served_by_ignores_alias_and_variant_marks(model_id: str, providers: tuple[str, ...] | None) -> None:
    """SERVED_BY patterns match ids without their leading ``~`` and ``:variant`` suffix."""
    assert gen_models.served_by(model_id) == providers


def test_served_by_names_only_defined_providers(table: CapabilityTable) -> None:
    """Every provider slug in the generator's SERVED_BY is defined under providers."""
    for pattern, slugs in gen_models.SERVED_BY.items():
        assert set(slugs) <= set(table.providers), pattern


# --- user tables layered over the bundled one -----------------------------------------------------


def test_user_table_fields_win_and_the_rest_is_kept(tmp_path: Path) -> None:
    """A user entry overrides only the fields it names; other fields and entries come from the bundle."""
    user = _write(
        tmp_path,
        "providers:\n"
        "  google-vertex:\n"
        "    max_request_bytes: 500MB\n"
        "  acme:\n"
        "    name: Acme Cloud\n"
        "    url_kinds: [https]\n"
        "    source: https://acme.example/docs/video\n"
        "models:\n"
        "  acme/vision-1: {input: [text, video], providers: [acme, google-vertex]}\n",
    )
    table = load_table(user)
    vertex = table.providers["google-vertex"]
    assert vertex.max_request_bytes == 500_000_000
    assert vertex.max_videos == 10
    assert vertex.url_kinds == ()
    assert vertex.name == "Google Vertex"
    assert table.providers["acme"].url_kinds == ("https",)
    assert table.provider_slug("acme cloud") == "acme"
    assert table.models["acme/vision-1"].providers == ("acme", "google-vertex")
    assert "google/gemini-2.5-pro" in table.models


def test_later_user_tables_win(tmp_path: Path) -> None:
    """With several override files, the last one that sets a field decides it."""
    first = _write(
        tmp_path, "providers:\n  amazon-bedrock:\n    max_request_bytes: 30MB\n    max_videos: 2\n", "a.yaml"
    )
    second = _write(tmp_path, "providers:\n  amazon-bedrock:\n    max_request_bytes: 40MB\n", "b.yaml")
    bedrock = load_table(first, second).providers["amazon-bedrock"]
    assert bedrock.max_request_bytes == 40_000_000
    assert bedrock.max_videos == 2


def test_user_model_entry_replaces_fields_it_names(tmp_path: Path) -> None:
    """Overriding a model's providers keeps its modalities from the bundle."""
    user = _write(tmp_path, "models:\n  google/gemini-2.5-pro:\n    providers: [google-ai-studio]\n")
    model = load_table(user).models["google/gemini-2.5-pro"]
    assert model.providers == ("google-ai-studio",)
    assert "video" in model.input


# --- broken tables fail at load with FILE:LINE: ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            "providers:\n  google-vertex:\n    name: [unclosed\n    data_urls: true\n",
            4,
            "invalid YAML",
            id="bad-yaml",
        ),
        pytest.param(
            "providers:\n  google-vertex:\n    max_videos: 3\n    colour: blue\n",
            4,
            "providers.google-vertex.colour: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            "version: 1\nsurprise: true\n",
            2,
            "surprise: unknown key",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "providers:\n  google-vertex:\n    data_urls: maybe\n",
            3,
            "providers.google-vertex.data_urls",
            id="wrong-type-bool",
        ),
        pytest.param(
            "providers:\n  amazon-bedrock:\n    max_videos: lots\n",
            3,
            "providers.amazon-bedrock.max_videos",
            id="wrong-type-limit",
        ),
        pytest.param(
            "providers:\n  google-ai-studio:\n    url_kinds: [youtube, ftp]\n",
            3,
            "providers.google-ai-studio.url_kinds",
            id="unknown-url-kind",
        ),
        pytest.param(
            "providers:\n  acme:\n    name: Acme\n",
            2,
            "providers.acme.source",
            id="missing-source",
        ),
        pytest.param(
            "providers:\n  google-vertex:\n    sources: {max_bytes: https://example.com}\n",
            3,
            "providers.google-vertex.sources",
            id="sources-unknown-field",
        ),
        pytest.param(
            "models:\n  acme/vision-1:\n    input: [text, video]\n    providers: [google-vertex, nowhere]\n",
            4,
            "provider 'nowhere' is not defined under providers",
            id="undefined-provider",
        ),
        pytest.param("- just\n- a list\n", 1, "must be a YAML mapping", id="not-a-mapping"),
        pytest.param("providers:\n  acme:\n    name: \udcff\n", 3, "not UTF-8 text", id="not-utf8"),
    ],
)
def test_broken_user_table_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    """A broken override fails at load with ``FILE:LINE: what is wrong`` pointing into the user's file."""
    user = _write(tmp_path, text)
    with pytest.raises(CapabilityError) as excinfo:
        load_table(user)
    err = excinfo.value
    assert str(err).startswith(f"{user}:{line}: "), str(err)
    assert message in str(err)
    assert (err.path, err.line) == (str(user), line)


def test_missing_user_table_is_a_capability_error(tmp_path: Path) -> None:
    """A user table path that does not exist is reported as a CapabilityError naming the file."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(CapabilityError, match=re.escape(str(missing))):
        load_table(missing)
