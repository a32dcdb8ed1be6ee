"""Finding files (gitignore-style excludes), checking them in parallel, and the offline fixer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from payloads import YOUTUBE, video_request

from router._base.rules import Diagnostic
from router._report.lint import LintOptions, lint, lint_file
from router._report.walk import Pattern, discover, patterns
from router._rewrite.fix import apply_fixes, unified_diff
from router._rewrite.pipeline import Router

CLEAN = video_request(YOUTUBE)  # no finding
CAMEL = video_request(YOUTUBE, key="videoUrl")  # camelcase-key, which --fix fixes
UNKNOWN = video_request(YOUTUBE, model="nope/model")  # unknown-model


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, newline="")
    return path


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "matches"),
    [
        ("*.json", "a.json", False, True),
        ("*.json", "deep/er/a.json", False, True),  # no slash: any depth
        ("*.json", "a.jsonl", False, False),
        ("/top.json", "top.json", False, True),
        ("/top.json", "sub/top.json", False, False),  # leading slash anchors
        ("sub/*.json", "sub/a.json", False, True),
        ("sub/*.json", "x/sub/a.json", False, False),  # a middle slash anchors too
        ("sub/*.json", "sub/deeper/a.json", False, False),  # * never crosses /
        ("**/gen/*.json", "a/b/gen/x.json", False, True),
        ("**/gen/*.json", "gen/x.json", False, True),
        ("a/**/b.json", "a/b.json", False, True),
        ("a/**/b.json", "a/x/y/b.json", False, True),
        ("out/**", "out/x/y.json", False, True),
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # trailing slash: directories only
        ("fixture?.json", "fixture1.json", False, True),
        ("fixture[0-9].json", "fixture7.json", False, True),
        ("fixture[!0-9].json", "fixture7.json", False, False),
        (r"\#hash.json", "#hash.json", False, True),
    ],
)
def test_gitignore_patterns(pattern: str, path: str, is_dir: bool, matches: bool, tmp_path: Path) -> None:
    """Patterns follow gitignore's wildmatch: anchoring by slash, `*` within a segment, `**`, dir-only."""
    compiled = Pattern.parse(pattern, tmp_path)
    assert compiled is not None
    assert compiled.match(f"{tmp_path.as_posix()}/{path}", is_dir) is matches


def test_comments_and_blank_lines_are_not_patterns(tmp_path: Path) -> None:
    """Blank lines and `#` comments in an ignore file produce no pattern."""
    assert patterns(["", "# a comment", "   ", "*.json"], tmp_path) == [Pattern.parse("*.json", tmp_path)]


def test_discover_honours_gitignore_excludes_and_skip_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk skips .gitignore'd paths (root and nested, with `!` re-includes), --exclude, and .git/.venv."""
    for name in [
        "a.json",
        "b.jsonl",
        "notes.txt",
        "gen/x.json",
        "keep/gen.json",
        "keep/drop.json",
        "keep/tmp/one.json",
        "big/huge.json",
        ".git/config.json",
        ".venv/lib.json",
        "sub/deep/z.json",
        "sub/deep/keep-me.json",
    ]:
        write(tmp_path / name, "{}")
    write(tmp_path / ".gitignore", "gen/\n*.tmp\nsub/deep/*.json\n!sub/deep/keep-me.json\n")
    write(tmp_path / "keep" / ".gitignore", "drop.json\ntmp\n")
    monkeypatch.chdir(tmp_path)
    found = discover(["."], patterns(["big/"], tmp_path))
    assert found == ["a.json", "b.jsonl", "keep/gen.json", "sub/deep/keep-me.json"]
    assert discover([str(tmp_path / "keep")]) == [str(tmp_path / "keep" / "gen.json")]


def test_named_files_are_checked_unless_force_exclude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file named on the command line is checked even when excluded, unless --force-exclude says otherwise."""
    write(tmp_path / "fixtures" / "broken.json", "{")
    write(tmp_path / "ok.json", "{}")
    monkeypatch.chdir(tmp_path)
    exclude = patterns(["fixtures/"], tmp_path)
    names = ["fixtures/broken.json", "ok.json", "ok.json"]
    assert discover(names, exclude) == ["fixtures/broken.json", "ok.json"]
    assert discover(names, exclude, force_exclude=True) == ["ok.json"]


def test_discover_reports_a_missing_path(tmp_path: Path) -> None:
    """A path that does not exist is an error, not an empty result."""
    with pytest.raises(FileNotFoundError):
        discover([str(tmp_path / "nope.json")])


def test_parallel_lint_matches_serial_in_order(router: Router, tmp_path: Path) -> None:
    """With many files, worker processes give exactly the serial result, in the same order."""
    files = []
    for i in range(90):
        payload = [CAMEL, UNKNOWN, CLEAN][i % 3]
        files.append(str(write(tmp_path / f"f{i:03}.json", json.dumps(payload, indent=1))))
    files.append(str(write(tmp_path / "broken.jsonl", '{"a": 1}\n{oops\n')))
    serial = lint(router, files, LintOptions(), jobs=1)
    parallel = lint(router, files, LintOptions(), jobs=2)
    assert [d.to_dict() for d in parallel.diagnostics] == [d.to_dict() for d in serial.diagnostics]
    assert (parallel.files, parallel.requests) == (serial.files, serial.requests) == (91, 92)
    assert [d.file for d in serial.diagnostics if d.rule == "camelcase-key"] == files[0:90:3]
    assert serial.diagnostics[-1].rule == "invalid-json"
    assert serial.diagnostics[-1].line == 2


def test_non_utf8_file_is_invalid_json_with_position(router: Router, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 give invalid-json at their line and column instead of a crash."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"model": "x",\n  "caf\xe9": 1}')
    result = lint_file(router, str(path), LintOptions())
    assert [(d.rule, d.line, d.column) for d in result.diagnostics] == [("invalid-json", 2, 7)]


def test_selection_filters_inside_the_linter(router: Router, tmp_path: Path) -> None:
    """Only the selected rules come back from the linter."""
    path = write(tmp_path / "p.json", json.dumps(video_request(YOUTUBE, key="videoUrl", model="nope/model")))
    everything = lint_file(router, str(path), LintOptions())
    only = lint_file(router, str(path), LintOptions(rules=frozenset({"unknown-model"})))
    assert {d.rule for d in everything.diagnostics} == {"camelcase-key", "unknown-model"}
    assert [d.rule for d in only.diagnostics] == ["unknown-model"]


def camel(pointer: str, line: int | None = None) -> Diagnostic:
    return Diagnostic("camelcase-key", "x", pointer=pointer, line=line)


POINTER = "/messages/0/content/1/videoUrl"


def test_fix_is_a_targeted_text_edit() -> None:
    """Only the key's literal changes: CRLF endings, odd indentation and escapes elsewhere survive."""
    text = (
        '{ "model":"m",\r\n\t"messages": [ {"role":"user","content":[ {"type":"text","text":"caf\\u00e9"},\r\n'
        '        {"type": "video_url",   "videoUrl" :{"url":"https://x/y.mp4"}} ]}]}\r\n'
    )
    fixed = apply_fixes(text, [camel(POINTER)], jsonl=False)
    assert fixed == (text.replace('"videoUrl"', '"video_url"'), 1)


def test_fix_handles_an_escaped_key_spelling() -> None:
    """A key written with a JSON escape (`video\\u0055rl`) is still found and replaced whole."""
    text = json.dumps(CAMEL).replace('"videoUrl"', '"video\\u0055rl"')
    fixed = apply_fixes(text, [camel(POINTER)], jsonl=False)
    assert fixed is not None
    assert json.loads(fixed[0]) == CLEAN


def test_fix_edits_jsonl_lines_in_place() -> None:
    """In JSONL only the flagged lines change, batch `/body` pointers included; other lines stay byte-equal."""
    batch = {"custom_id": "c", "method": "POST", "url": "/v1/chat/completions", "body": CAMEL}
    lines = [json.dumps(CLEAN), "", json.dumps(batch), json.dumps(CAMEL, indent=None)]
    text = "\n".join(lines) + "\n"
    fixed = apply_fixes(text, [camel("/body" + POINTER, 3), camel(POINTER, 4)], jsonl=True)
    assert fixed is not None
    new_lines = fixed[0].split("\n")
    assert new_lines[:2] == lines[:2]
    assert json.loads(new_lines[2])["body"] == CLEAN
    assert json.loads(new_lines[3]) == CLEAN
    assert fixed[1] == 2


def test_fix_refuses_what_it_cannot_place() -> None:
    """A pointer that does not lead to a `videoUrl` key, or text that is not JSON, yields no fix at all."""
    text = json.dumps(CLEAN)
    assert apply_fixes(text, [camel(POINTER)], jsonl=False) is None
    assert apply_fixes("{oops", [camel(POINTER)], jsonl=False) is None
    assert apply_fixes(text, [camel(POINTER, 7)], jsonl=True) is None


def test_unified_diff_marks_a_missing_final_newline() -> None:
    """The diff is git-applicable: a last line without newline gets the `\\ No newline` marker."""
    diff = unified_diff("p.json", '{"videoUrl": 1}', '{"video_url": 1}')
    assert diff.splitlines() == [
        "--- p.json",
        "+++ p.json",
        "@@ -1 +1 @@",
        '-{"videoUrl": 1}',
        "\\ No newline at end of file",
        '+{"video_url": 1}',
        "\\ No newline at end of file",
    ]


def test_fix_writes_and_a_second_run_changes_nothing(router: Router, tmp_path: Path) -> None:
    """lint_file with fix=write rewrites the file, reports what remains, and is idempotent."""
    path = write(
        tmp_path / "p.json",
        "\ufeff" + json.dumps(video_request(YOUTUBE, key="videoUrl", model="nope/model"), indent=3),
    )
    first = lint_file(router, str(path), LintOptions(fix="write"))
    after = path.read_bytes()
    assert first.fixed == 1
    assert [d.rule for d in first.diagnostics] == ["unknown-model"]
    assert after.startswith("\ufeff".encode())
    assert b'"video_url"' in after
    assert b"videoUrl" not in after
    second = lint_file(router, str(path), LintOptions(fix="write"))
    assert second.fixed == 0
    assert path.read_bytes() == after
    mtime = os.stat(path).st_mtime_ns
    assert lint_file(router, str(path), LintOptions(fix="diff")).diff == ""
    assert os.stat(path).st_mtime_ns == mtime
