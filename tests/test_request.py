"""Payload parsing: JSON, JSONL, OpenAI batch lines, and line/column locations of video parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from payloads import GEMINI, text_request

import router
from router._base.rules import Diagnostic
from router._model.jsontext import locate
from router._model.request import load_text


def test_locate_points_at_the_value() -> None:
    """locate() finds the value at a JSON pointer, skipping strings that contain brackets and quotes."""
    text = '{"a": "x]}\\"{", "b": [1, {"c": [true, "here"]}]}'
    assert text[locate(text, "/b/1/c/1") :].startswith('"here"')
    assert text[locate(text, "/missing") :].startswith("{")


def test_jsonl_line_numbers_and_batch_bodies(tmp_path: Path) -> None:
    """In a JSONL batch, each diagnostic names its own line and a pointer under `/body`."""
    good = text_request(GEMINI)
    bad = {
        "custom_id": "2",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": GEMINI,
            "messages": [
                {"role": "user", "content": [{"type": "video_url", "video_url": {"url": "file:///etc/passwd"}}]}
            ],
        },
    }
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    report = router.Router().check(path)
    (d,) = report.diagnostics
    assert report.requests == 2
    assert (d.file, d.line, d.rule) == (str(path), 3, "blocked-url")
    assert d.pointer == "/body/messages/0/content/0/video_url/url"
    assert json.dumps(bad)[d.column - 1 :].startswith('"file:///etc/passwd"')


def test_json_file_line_and_column(tmp_path: Path) -> None:
    """In a pretty-printed file, the diagnostic's line and column are where the URL string starts."""
    payload = {
        "model": GEMINI,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "video_url", "video_url": {"url": "ftp://x/y.mp4"}},
                ],
            }
        ],
    }
    text = json.dumps(payload, indent=2)
    path = tmp_path / "req.json"
    path.write_text(text)
    (d,) = router.Router().check(path).diagnostics
    line = text.splitlines()[d.line - 1]
    assert line[d.column - 1 :].startswith('"ftp://x/y.mp4"')


def test_unknown_fields_are_kept_by_rewrite() -> None:
    """Fields router does not know (`video_url.processing`, top-level extras) survive a rewrite."""
    payload = {
        "model": GEMINI,
        "transforms": ["middle-out"],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "video_url",
                        "video_url": {"url": "https://youtu.be/dQw4w9WgXcQ", "processing": {"fps": 1}},
                    }
                ],
            }
        ],
    }
    out = router.Router().rewrite(payload)
    assert out["transforms"] == ["middle-out"]
    assert out["messages"][0]["content"][0]["video_url"]["processing"] == {"fps": 1}


def test_load_text_keeps_going_after_a_bad_jsonl_line() -> None:
    """One broken JSONL line is `invalid-json` for that line only; the others are still read."""
    payloads = load_text('{"messages": []}\n{oops\n{"messages": []}\n', "x.jsonl")
    assert [bool(p.problems) for p in payloads] == [False, True, False]
    assert payloads[1].problems[0].line == 2


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break() -> None:
    """A raw U+2028 inside a JSON string (valid JSON) does not split a JSONL line in two."""
    payloads = load_text('{"messages": [], "note": "a\u2028b"}\r\n{"messages": []}\n', "x.jsonl")
    assert [p.problems for p in payloads] == [[], []]
    assert payloads[0].request["note"] == "a\u2028b"


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('{"a": [1,\n  2,,]}', "Expecting value", (2, 5)),
        ('{"model": "x",\n "temperature": NaN}', "NaN is not a JSON value", (2, 17)),
        ('{"note": "NaN", "t": -Infinity}', "-Infinity is not a JSON value", (1, 22)),
        ('{"n": ' + "9" * 5000 + "}", "a number with more than 4300 digits", (1, 7)),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply", (1, 1)),
    ],
)
def test_every_way_json_fails_is_an_invalid_json_diagnostic(text: str, message: str, position: tuple[int, int]) -> None:
    """Bad syntax, NaN/Infinity (Python accepts them, JSON does not), huge numbers and deep nesting are
    diagnostics at the right place, never exceptions."""
    (payload,) = load_text(text, "p.json")
    (d,) = payload.problems
    assert d.rule == "invalid-json"
    assert d.message == f"not valid JSON: {message}"
    assert (d.line, d.column) == position


def test_unnamed_text_with_one_request_a_line_is_jsonl() -> None:
    """Standard input has no suffix: one document a line is a batch; other trailing data stays an error."""
    lines = '{"model": "a", "messages": []}\n{"model": "b", "messages": []}\n'
    assert [p.request["model"] for p in load_text(lines, "<stdin>")] == ["a", "b"]
    (broken,) = load_text('{"model": "a"} {"model": "b"}', "<stdin>")
    assert broken.problems[0].message == "not valid JSON: Extra data"
    (named,) = load_text(lines, "one.json")
    assert named.problems[0].rule == "invalid-json"


def test_bytes_that_are_not_utf8_are_a_diagnostic(tmp_path: Path) -> None:
    """A file or bytes payload that is not UTF-8 is ``invalid-json`` at the bad byte, like any bad text."""
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"a":\n \xff}')
    for payload in (path, path.read_bytes()):
        (d,) = router.Router().check(payload).diagnostics
        assert (d.rule, d.line, d.column) == ("invalid-json", 2, 2)
        assert "not UTF-8" in d.message


def test_a_duplicate_key_is_located_where_the_parser_took_it() -> None:
    """JSON parsers keep the last of duplicate keys; the diagnostic points at that one, not the first."""
    text = '{"model": "google/gemini-2.5-flash",\n "messages": [],\n "model": "openai/gpt-4o-mini"}'
    assert text[locate(text, "/model") :].startswith('"openai/gpt-4o-mini"')
    assert text[locate(text, "/messages") :].startswith("[]")


def test_place_is_pure_and_idempotent() -> None:
    """Placing a diagnostic returns a located copy; the original is untouched, and batch prefixes never stack."""
    (payload,) = load_text('{"custom_id": "a", "body": {"model": "m", "messages": []}}\n', "b.jsonl")
    raw = Diagnostic("unknown-model", "m", pointer="/model")
    placed = payload.place(raw)
    assert (placed.pointer, placed.file, placed.line) == ("/body/model", "b.jsonl", 1)
    assert (raw.pointer, raw.file, raw.line) == ("/model", None, None)
    assert payload.place(raw) == placed


def test_a_diagnostic_takes_its_severity_from_its_rule() -> None:
    """Severity is the rule's, and cannot be given otherwise."""
    assert Diagnostic("too-large", "x").severity == "error"
    assert Diagnostic("url-needs-inline", "x").severity == "warning"
    with pytest.raises(TypeError):
        Diagnostic("too-large", "x", severity="warning")  # type: ignore[call-arg]
