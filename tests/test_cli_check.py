"""`router check` and `router rules` as CI uses them: real files in temporary repos, exit codes, formats,
configuration in pyproject.toml, --fix/--diff, and the real pre-commit tool."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from clips import make_clip
from payloads import GEMINI, YOUTUBE, video_request

from router._base.rules import RULES
from router.cli import main

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(autouse=True)
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs inside its own temporary project directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def mp4_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A data URL carrying a real (tiny) MP4 clip."""
    clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=0.2)
    return "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()


def write(path: str | Path, content: Any, *, indent: int | None = 2) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=indent) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


CLEAN = video_request(YOUTUBE)  # no finding
VERTEX_YOUTUBE = video_request(YOUTUBE, only=["google-vertex"])  # error: url-not-accepted
CAMEL = video_request(YOUTUBE, key="videoUrl")  # warning: camelcase-key (fixable)
UNKNOWN = video_request(YOUTUBE, model="acme/video-1")  # warning: unknown-model


# -- exit codes and formats ------------------------------------------------------------------------


def test_clean_file_passes(capsys: pytest.CaptureFixture[str]) -> None:
    """A request the route accepts exits 0 with the all-clear summary."""
    write("ok.json", CLEAN)
    assert run(capsys, "--offline", "ok.json") == (0, "All checks passed (1 request in 1 file).\n", "")


def test_error_exits_1_with_path_line_column(capsys: pytest.CaptureFixture[str]) -> None:
    """An error is reported as path:line:col: severity rule and fails the run."""
    write("bad.json", VERTEX_YOUTUBE)
    code, out, _ = run(capsys, "--offline", "bad.json")
    assert code == 1
    assert out.startswith("bad.json:14:20: error url-not-accepted: ")
    assert out.endswith("Found 1 error and 0 warnings (1 request in 1 file).\n")


def test_json_output_and_jsonl_line_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON output has the documented fields, and JSONL findings carry their own line numbers."""
    batch = {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": CAMEL}
    lines = [json.dumps(CLEAN), "", json.dumps(batch), json.dumps(VERTEX_YOUTUBE), "{broken"]
    write("batch.jsonl", "\n".join(lines) + "\n")
    code, out, _ = run(capsys, "--offline", "--format", "json", "batch.jsonl")
    doc = json.loads(out)
    assert code == 1
    assert doc["summary"] == {"files": 1, "requests": 4, "errors": 2, "warnings": 1}
    found = [(d["line"], d["rule"], d["pointer"]) for d in doc["diagnostics"]]
    assert found == [
        (3, "camelcase-key", "/body/messages/0/content/1/videoUrl"),
        (4, "url-not-accepted", "/messages/0/content/1/video_url/url"),
        (5, "invalid-json", ""),
    ]
    assert set(doc["diagnostics"][0]) == {
        "file",
        "line",
        "column",
        "pointer",
        "rule",
        "kind",
        "severity",
        "message",
        "fix",
    }
    assert doc["diagnostics"][0]["file"] == "batch.jsonl"


def test_strict_makes_warnings_fail(capsys: pytest.CaptureFixture[str]) -> None:
    """Warnings alone exit 0; --strict makes them exit 1."""
    write("warn.json", UNKNOWN)
    assert run(capsys, "--offline", "warn.json")[0] == 0
    assert run(capsys, "--offline", "--strict", "warn.json")[0] == 1


def test_select_and_ignore_decide_what_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """--ignore drops rules (comma-separated, repeatable), --select keeps only the named ones."""
    write("a.json", VERTEX_YOUTUBE)
    write("b.json", CAMEL)
    write("c.json", UNKNOWN)
    assert run(capsys, "--offline", ".")[0] == 1
    assert run(capsys, "--offline", "--ignore", "url-not-accepted", ".")[0] == 0
    assert run(capsys, "--offline", "--strict", "--ignore", "url-not-accepted,camelcase-key", ".")[0] == 1
    code, out, _ = run(
        capsys, "--offline", "--strict", "--ignore", "url-not-accepted,camelcase-key", "--ignore", "unknown-model", "."
    )
    assert (code, out) == (0, "All checks passed (3 requests in 3 files).\n")
    code, out, _ = run(capsys, "--offline", "--select", "camelcase-key", ".")
    assert code == 0
    assert "camelcase-key" in out
    assert "url-not-accepted" not in out
    assert run(capsys, "--offline", "--select", "camelcase-key", "--strict", ".")[0] == 1


def test_unknown_rule_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt rule is exit 2 with a suggestion, never a silently empty selection."""
    write("a.json", CLEAN)
    code, out, err = run(capsys, "--offline", "--ignore", "camelcase", "a.json")
    assert (code, out) == (2, "")
    assert (
        err == "router: error: --ignore: unknown rule 'camelcase' (did you mean 'camelcase-key'?); see `router rules`\n"
    )


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is an I/O problem: exit 2 naming it."""
    code, out, err = run(capsys, "--offline", "missing.json")
    assert (code, out) == (2, "")
    assert err == "router: error: missing.json: No such file or directory\n"


def test_broken_capabilities_table_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A broken --capabilities table fails with its file and line, exit 2."""
    write("ok.json", CLEAN)
    write("caps.yaml", "providers:\n  google-vertex:\n    max_videos: lots\n")
    code, out, err = run(capsys, "--offline", "--capabilities", "caps.yaml", "ok.json")
    assert (code, out) == (2, "")
    assert err.startswith("router: error: caps.yaml:3")
    assert "max_videos" in err


def test_sarif_from_the_command_line_validates(capsys: pytest.CaptureFixture[str]) -> None:
    """`--format sarif` over a directory is schema-valid and points at each file, line and column."""
    write("payloads/a.json", VERTEX_YOUTUBE)
    write("payloads/b.jsonl", json.dumps(CAMEL) + "\n")
    code, out, _ = run(capsys, "--offline", "--format", "sarif", "payloads")
    doc = json.loads(out)
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(doc)
    assert code == 1
    where = [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in doc["runs"][0]["results"]
    ]
    assert where == [("url-not-accepted", "payloads/a.json"), ("camelcase-key", "payloads/b.jsonl")]
    region = doc["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 1
    assert region["startColumn"] > 1


def test_github_format_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--format github` prints one workflow command per finding and keeps the exit status."""
    write("a.json", VERTEX_YOUTUBE)
    code, out, _ = run(capsys, "--offline", "--format", "github", "a.json")
    assert code == 1
    assert out.startswith("::error file=a.json,line=14,col=20,title=router (url-not-accepted)::url-not-accepted: ")
    assert out.count("\n") == 1


def test_directory_walk_honours_gitignore_and_exclude(capsys: pytest.CaptureFixture[str]) -> None:
    """A directory is walked for .json/.jsonl files, minus .gitignore'd and --exclude'd paths."""
    write("payloads/ok.json", CLEAN)
    write("payloads/deep/ok.jsonl", json.dumps(CLEAN) + "\n")
    write("payloads/generated/bad.json", VERTEX_YOUTUBE)
    write("payloads/vendor/bad.json", VERTEX_YOUTUBE)
    write("payloads/readme.txt", "{")
    write(".gitignore", "generated/\n")
    assert run(capsys, "--offline", ".", "--exclude", "vendor") == (
        0,
        "All checks passed (2 requests in 2 files).\n",
        "",
    )
    assert run(capsys, "--offline", ".")[0] == 1


def test_parallel_run_prints_what_a_serial_run_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """Above the parallel threshold, -j 2 and -j 1 give byte-identical output and the same exit code."""
    for i in range(80):
        write(f"many/{i:02}.json", [CLEAN, CAMEL, VERTEX_YOUTUBE, UNKNOWN][i % 4])
    serial = run(capsys, "--offline", "-j", "1", "many")
    parallel = run(capsys, "--offline", "-j", "2", "many")
    assert serial == parallel
    assert serial[0] == 1
    assert "(80 requests in 80 files)" in serial[1]


# -- configuration -----------------------------------------------------------------------------------


def test_configuration_is_found_walking_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """[tool.router] in a parent directory's pyproject.toml applies, and the command line wins over it."""
    write("pyproject.toml", '[project]\nname = "x"\n\n[tool.router]\nignore = ["url-not-accepted"]\nstrict = true\n')
    write("sub/dir/a.json", VERTEX_YOUTUBE)
    write("sub/dir/b.json", UNKNOWN)
    monkeypatch.chdir("sub/dir")
    code, out, _ = run(capsys, "--offline", ".")
    assert code == 1  # strict: the unknown-model warning fails
    assert "url-not-accepted" not in out
    assert run(capsys, "--offline", "--no-strict", ".")[0] == 0
    code, out, _ = run(capsys, "--offline", "--no-strict", "--select", "url-not-accepted", ".")
    assert code == 1  # a rule selected on the command line beats the configuration's ignore
    assert "unknown-model" not in out


def test_configuration_sets_model_provider_offline_capabilities_exclude(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every configuration key takes effect, with paths relative to the pyproject.toml."""
    write(
        "caps/extra.yaml",
        "models:\n  acme/video-1: {input: [text, video], providers: [google-vertex, google-ai-studio]}\n",
    )
    write(
        "pyproject.toml",
        "[tool.router]\n"
        'model = "acme/video-1"\n'
        'provider = "google-vertex"\n'
        "offline = true\n"
        'capabilities = ["caps/extra.yaml"]\n'
        'exclude = ["/payloads/skip/"]\n'
        'select = ["url-not-accepted", "unknown-model", "unknown-provider", "url-needs-inline"]\n',
    )
    write("payloads/a.json", video_request(YOUTUBE, model="something/else"))
    write("payloads/skip/b.json", "{broken")
    monkeypatch.chdir("payloads")
    code, out, _ = run(capsys, ".")  # no --offline: the configuration says so
    assert code == 1
    # model -> acme/video-1 (known thanks to the relative capabilities file), provider -> google-vertex
    assert out.startswith("a.json:")
    assert "error url-not-accepted: " in out
    assert "google-vertex takes no YouTube links" in out
    assert "(1 request in 1 file)" in out
    code, out, _ = run(capsys, "--provider", "google-ai-studio", "--model", GEMINI, ".")
    assert (code, out) == (0, "All checks passed (1 request in 1 file).\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'select = ["url-not-accepted", "x"]',
            "pyproject.toml: [tool.router] select: unknown rule 'x'; see `router rules`",
        ),
        ('ignore = "camelcase"', "pyproject.toml: [tool.router] ignore: unknown rule 'camelcase' (did you mean"),
        ("colour = true", "pyproject.toml: [tool.router]: unknown key 'colour'; known keys: capabilities, exclude,"),
        ("strcit = true", "pyproject.toml: [tool.router]: unknown key 'strcit' (did you mean 'strict'?)"),
        ('strict = "yes"', "pyproject.toml: [tool.router] strict: expected true or false, got 'yes'"),
        ("exclude = [1]", "pyproject.toml: [tool.router] exclude: expected a string or a list of strings, got [1]"),
        ("model = 3", "pyproject.toml: [tool.router] model: expected a string, got 3"),
        ("select = [", "pyproject.toml: invalid TOML: "),
    ],
)
def test_bad_configuration_exits_2(capsys: pytest.CaptureFixture[str], body: str, message: str) -> None:
    """Unknown rules, unknown keys, wrong types and broken TOML are errors (exit 2), never ignored."""
    write("pyproject.toml", f"[tool.router]\n{body}\n")
    write("a.json", CLEAN)
    code, out, err = run(capsys, "--offline", "a.json")
    assert (code, out) == (2, "")
    assert err.startswith(f"router: error: {message}")


# -- --fix and --diff ------------------------------------------------------------------------------


def test_fix_rewrites_in_place_and_is_idempotent(capsys: pytest.CaptureFixture[str], mp4_url: str) -> None:
    """--fix renames videoUrl keys in JSON and JSONL (real video data URLs included), touching nothing else."""
    original = json.dumps(video_request(mp4_url, key="videoUrl"), indent=4).replace("\n", "\r\n") + "\r\n"
    write("inline.json", original)
    jsonl = "\n".join([json.dumps(CLEAN), json.dumps(CAMEL), json.dumps({"custom_id": "x", "body": CAMEL})])
    write("batch.jsonl", jsonl)  # no final newline: must stay that way
    assert run(capsys, "--offline", ".")[0] == 0
    code, out, _ = run(capsys, "--offline", "--fix", ".")
    assert code == 0
    assert out == "Fixed 3 problems.\nAll checks passed (4 requests in 2 files).\n"
    assert Path("inline.json").read_bytes() == original.replace('"videoUrl"', '"video_url"').encode()
    assert Path("batch.jsonl").read_text() == jsonl.replace('"videoUrl"', '"video_url"')
    before = {p: p.read_bytes() for p in (Path("inline.json"), Path("batch.jsonl"))}
    assert run(capsys, "--offline", "--fix", ".") == (0, "All checks passed (4 requests in 2 files).\n", "")
    assert {p: p.read_bytes() for p in before} == before


def test_fix_reports_what_it_cannot_fix(capsys: pytest.CaptureFixture[str]) -> None:
    """A fixed file that still has errors is reported with the remaining diagnostics and exits 1."""
    write("both.json", video_request(YOUTUBE, key="videoUrl", only=["google-vertex"]))
    code, out, _ = run(capsys, "--offline", "--fix", "both.json")
    assert code == 1
    assert "camelcase-key" not in out
    assert "both.json:14:20: error url-not-accepted" in out
    assert "Fixed 1 problem.\nFound 1 error" in out


def test_fix_leaves_a_file_with_invalid_json_alone_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """A file with invalid-json is not touched; the run says why and reports every finding."""
    text = json.dumps(CAMEL) + "\n{broken\n"
    write("mixed.jsonl", text)
    code, out, err = run(capsys, "--offline", "--fix", "mixed.jsonl")
    assert Path("mixed.jsonl").read_text() == text
    assert code == 1
    assert err == "router: mixed.jsonl: not fixed (1 fixable): it is not valid JSON (line 2)\n"
    assert "mixed.jsonl:1:" in out
    assert "camelcase-key" in out
    assert "mixed.jsonl:2:" in out
    assert "invalid-json" in out


def test_fix_respects_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    """An ignored rule is not fixed either."""
    write("c.json", CAMEL)
    before = Path("c.json").read_text()
    assert run(capsys, "--offline", "--fix", "--ignore", "camelcase-key", "c.json")[0] == 0
    assert Path("c.json").read_text() == before


def test_diff_shows_the_fix_without_writing(capsys: pytest.CaptureFixture[str]) -> None:
    """--diff prints a unified diff, writes nothing and exits 1; with nothing to fix it exits 0."""
    write("c.json", CAMEL)
    write("e.json", VERTEX_YOUTUBE)
    before = Path("c.json").read_text()
    code, out, err = run(capsys, "--offline", "--diff", ".")
    assert code == 1
    assert Path("c.json").read_text() == before
    assert out.startswith("--- c.json\n+++ c.json\n@@ ")
    assert '-          "videoUrl": {\n+          "video_url": {\n' in out
    assert err == "Would fix 1 problem in 1 file; 1 other problem needs a manual fix (`router check`).\n"
    assert run(capsys, "--offline", "--fix", "c.json")[0] == 0
    assert run(capsys, "--offline", "--diff", "c.json") == (0, "", "No fixes available.\n")


def test_check_help_names_every_rule_fix_repairs(capsys: pytest.CaptureFixture[str]) -> None:
    """`router check --help` lists, under --fix, every rule the catalogue marks fixable by `--fix`, each name whole
    on one line (never cut at a hyphen)."""
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    fixable = [name for name, rule in RULES.items() if "fix" in rule.fixed_by]
    assert {"camelcase-key", "legacy-video-part", "mime-alias", "wrapped-base64"} <= set(fixable)
    for name in fixable:
        assert name in out, name


def test_diff_counts_the_other_problems_in_good_english(capsys: pytest.CaptureFixture[str]) -> None:
    """The --diff tally agrees its verb with the number of problems left for a manual fix (and exits 0: nothing to
    apply)."""
    write("e.json", VERTEX_YOUTUBE)
    write("u.json", UNKNOWN)
    assert run(capsys, "--offline", "--diff", ".") == (
        0,
        "",
        "No fixes available; 2 other problems need a manual fix (`router check`).\n",
    )
    Path("u.json").unlink()
    assert run(capsys, "--offline", "--diff", ".") == (
        0,
        "",
        "No fixes available; 1 other problem needs a manual fix (`router check`).\n",
    )


def test_fix_refuses_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    """--fix on standard input is a usage error (there is no file to write)."""
    code, _, err = run(capsys, "--offline", "--fix", "-")
    assert code == 2
    assert "standard input" in err


# -- router rules ----------------------------------------------------------------------------------


def test_rules_lists_every_rule_with_meaning_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    """`router rules` lists every rule with its severity, whether and how it is fixable, meaning and fix."""
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule in RULES.values():
        assert f"{rule.name:<20} {rule.severity:<8} " in out
        assert rule.summary in out
        assert f"fix: {rule.fix}" in out
    assert "camelcase-key        warning  --fix" in out
    assert "url-needs-inline     warning  rewrite" in out


def test_rules_explains_one_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """`router rules NAME` prints the full explanation and fix of that rule only."""
    assert main(["rules", "camelcase-key"]) == 0
    out = capsys.readouterr().out
    rule = RULES["camelcase-key"]
    assert out.startswith("camelcase-key (warning, fixable with `router check --fix`)\n")
    assert rule.explanation in out
    assert f"Fix: {rule.fix}" in out
    assert "invalid-json" not in out


def test_rules_json_and_unknown_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """`router rules --format json` is machine-readable; an unknown rule name exits 2 with a suggestion."""
    assert main(["rules", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == list(RULES)
    assert main(["rules", "url-needs-inlin"]) == 2
    assert "did you mean 'url-needs-inline'?" in capsys.readouterr().err


# -- through a real process ------------------------------------------------------------------------


def router_process(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *argv], input=stdin, capture_output=True, text=True, check=False, timeout=60
    )


def test_subprocess_reads_stdin_and_writes_json() -> None:
    """`python -m router check -` reads the request from stdin and exits 1 on an error."""
    proc = router_process("check", "--offline", "--format", "json", "-", stdin=json.dumps(VERTEX_YOUTUBE, indent=2))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(d["file"], d["line"], d["rule"]) for d in doc["diagnostics"]] == [("<stdin>", 14, "url-not-accepted")]


def test_subprocess_exit_codes() -> None:
    """A real process exits 0 when clean, 1 with --strict on a warning, and 2 on a missing file."""
    write("ok.json", CLEAN)
    write("warn.json", UNKNOWN)
    assert router_process("check", "--offline", "ok.json").returncode == 0
    assert router_process("check", "--offline", "--strict", "warn.json").returncode == 1
    missing = router_process("check", "--offline", "nope.json")
    assert missing.returncode == 2
    assert "nope.json" in missing.stderr


@pytest.mark.timeout(900)  # the first run builds pre-commit's environment (pip installs router's dependencies)
def test_pre_commit_hook_runs_for_real(repo: Path) -> None:
    """`pre-commit try-repo <this repo> router-check` installs router and fails on a bad payload, JSONL too."""
    git = shutil.which("git")
    assert git is not None, "git is needed to build the pre-commit test repository"
    write("good.json", CLEAN)
    write("fixtures/bad.json", VERTEX_YOUTUBE)
    write("batch.jsonl", json.dumps(CLEAN) + "\n{broken\n")
    write("notes.md", "{not a payload")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run([git, "init", "-q", "."], check=True, env=env)
    subprocess.run([git, "add", "."], check=True, env=env)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "router-check", "--all-files", "--verbose"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "router check (video request payloads)" in output
    assert "Failed" in output
    assert "fixtures/bad.json:14:20: error url-not-accepted" in output
    assert "batch.jsonl:2:2: error invalid-json" in output
    assert "notes.md" not in output


def test_stdin_reads_like_a_file() -> None:
    """Standard input gets what a file gets: a BOM is skipped, bad UTF-8 is a diagnostic, and one request a
    line is a JSONL batch."""
    command = [sys.executable, "-m", "router", "check", "--offline", "--format", "json", "-"]

    def check(data: bytes) -> tuple[int, list[tuple[Any, ...]]]:
        proc = subprocess.run(command, input=data, capture_output=True, check=False, timeout=60)
        doc = json.loads(proc.stdout)
        return proc.returncode, [(d["line"], d["rule"]) for d in doc["diagnostics"]]

    assert check(b"\xef\xbb\xbf" + json.dumps(CLEAN).encode()) == (0, [])
    assert check(b'{"model":\n "\xff"}') == (1, [(2, "invalid-json")])
    batch = "\n".join(json.dumps(r) for r in (CLEAN, VERTEX_YOUTUBE, UNKNOWN)).encode()
    assert check(batch) == (1, [(2, "url-not-accepted"), (3, "unknown-model")])


def test_a_lone_surrogate_is_printed_escaped() -> None:
    """`\\ud800` is legal in JSON text but not encodable: messages show it escaped instead of crashing."""
    text = json.dumps(video_request("https://ex\ud800.example/v.mp4", only=["google-vertex"]))
    assert "\\ud800" in text
    proc = router_process("check", "--offline", "-", stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert "https://ex\\ud800.example/v.mp4" in proc.stdout
    rewritten = router_process("rewrite", "--dry-run", "-", stdin=text)
    assert rewritten.returncode == 0, rewritten.stderr
    assert (
        json.loads(rewritten.stdout)["messages"][0]["content"][1]["video_url"]["url"]
        == "https://ex\ud800.example/v.mp4"
    )


def test_rewrite_usage_errors_name_the_problem(tmp_path: Path) -> None:
    """A directory is not a request file; a file that is not UTF-8 is a diagnostic; neither is a traceback."""
    directory = router_process("rewrite", str(tmp_path))
    assert directory.returncode == 2
    assert "is a directory" in directory.stderr
    (tmp_path / "bad.json").write_bytes(b'{"a": \xff}')
    bad = router_process("rewrite", str(tmp_path / "bad.json"))
    assert bad.returncode == 1
    assert "invalid-json: not UTF-8 text" in bad.stderr
    assert "Traceback" not in directory.stderr + bad.stderr


def test_a_check_of_nothing_is_never_silent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """No rules left is a usage error; a directory without payloads passes with a warning saying so."""
    write("ok.json", CLEAN)
    code, _, err = run(capsys, "--offline", "--select", ",", "ok.json")
    assert code == 2
    assert "no rules are left" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "--offline", str(tmp_path / "empty"))
    assert code == 0
    assert "no .json or .jsonl files" in err


def test_sarif_on_a_usage_error_is_still_a_valid_log(capsys: pytest.CaptureFixture[str]) -> None:
    """An upload-sarif step after a failed run gets a log that says the run failed, not an empty file."""
    code, out, err = run(capsys, "--offline", "--format", "sarif", "missing.json")
    assert code == 2
    (invocation,) = json.loads(out)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "missing.json" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert "missing.json" in err


def _web_app(root: Path) -> None:
    """A tree shaped like a real web app repository, with request payloads in fixtures/."""
    files = {
        "package.json": '{"name": "app", "version": "1.0.0", "scripts": {"build": "vite build"}}',
        "tsconfig.json": '{\n  // comments: JSONC, not JSON\n  "compilerOptions": {"strict": true},\n}\n',
        ".vscode/settings.json": '{"editor.formatOnSave": true}',
        "src/locales/en.json": '{"hello": "Hello", "video": "Video"}',
        "data/embeddings.jsonl": json.dumps({"custom_id": "1", "method": "POST", "url": "/v1/embeddings",
                                             "body": {"model": "text-embedding-3-small", "input": "hi"}}) + "\n",
        "fixtures/requests/youtube.json": json.dumps(CLEAN),
        "fixtures/requests/broken.json": '{"model": "m", "messages": [\n',
    }  # fmt: skip
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_walking_a_real_repository_skips_what_is_not_a_request(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`router check --offline .` in a web app checks the request payloads only: package.json, tsconfig.json,
    editor settings, locales and an embeddings batch are skipped and counted; a broken payload is still
    reported."""
    _web_app(repo)
    assert main(["check", "--offline", "--format", "json", "."]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [(d["file"], d["rule"]) for d in doc["diagnostics"]] == [
        (os.path.join("fixtures", "requests", "broken.json"), "invalid-json")
    ]
    assert doc["summary"] == {"files": 2, "requests": 2, "errors": 1, "warnings": 0, "skipped": 5}
    (repo / "fixtures" / "requests" / "broken.json").unlink()
    assert main(["check", "--offline", "."]) == 0
    assert "1 request in 1 file; 5 files skipped: not chat-completion requests" in capsys.readouterr().out


def test_a_file_named_on_the_command_line_is_checked_strictly(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Named explicitly, a file that is not a request is reported (`invalid-request`), never skipped."""
    _web_app(repo)
    assert main(["check", "--offline", "package.json"]) == 1
    assert "package.json:1:1: error invalid-request" in capsys.readouterr().out
