"""Payload parsing: JSON, JSONL, OpenAI batch lines, and line/column locations of video parts."""

from __future__ import annotations

import json
from pathlib import Path

import router
from router.request import load_text, locate


def test_locate_points_at_the_value() -> None:
    """locate() finds the value at a JSON pointer, skipping strings that contain brackets and quotes."""
    text = '{"a": "x]}\\"{", "b": [1, {"c": [true, "here"]}]}'
    assert text[locate(text, "/b/1/c/1") :].startswith('"here"')
    assert text[locate(text, "/missing") :].startswith("{")


def test_jsonl_line_numbers_and_batch_bodies(tmp_path: Path) -> None:
    """In a JSONL batch, each diagnostic names its own line and a pointer under `/body`."""
    good = {"model": "google/gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    bad = {
        "custom_id": "2",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "google/gemini-2.5-flash",
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
        "model": "google/gemini-2.5-flash",
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
        "model": "google/gemini-2.5-flash",
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
