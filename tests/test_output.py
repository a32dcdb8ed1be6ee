"""Renderers: SARIF validated against the official 2.1.0 schema, GitHub workflow commands, text and JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from router._base.rules import RULES, Diagnostic
from router._report.output import Summary, render

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _diagnostics() -> list[Diagnostic]:
    return [
        Diagnostic(
            "url-not-accepted", "a YouTube link to Vertex", pointer="/messages/0", file="dir/a b.json", line=3, column=7
        ),
        Diagnostic(
            "camelcase-key", "videoUrl", pointer="/body/messages/0/content/1/videoUrl", file="x.jsonl", line=2, column=9
        ),
        Diagnostic("invalid-json", "not valid JSON", file="<stdin>", line=1, column=1),
        Diagnostic("unknown-model", "no model", file=str(Path("/abs/p.json")), line=1, column=1),
        Diagnostic("invalid-request", "expected one request"),
    ]


def _sarif(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render("sarif", diagnostics, Summary.of(diagnostics, 3, 4), "1.2.3"))
    return doc


def test_sarif_validates_against_the_official_schema() -> None:
    """SARIF output, with relative, absolute, stdin and location-less findings, is valid SARIF 2.1.0."""
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(_sarif(_diagnostics()))


def test_sarif_without_findings_validates() -> None:
    """A clean run is still a valid SARIF log with an empty results list."""
    doc = _sarif([])
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []


def test_sarif_has_one_descriptor_per_rule_with_help() -> None:
    """tool.driver.rules lists every rule once, with help text and its level, so viewers can explain it."""
    rules = _sarif([])["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for descriptor in rules:
        rule = RULES[descriptor["id"]]
        assert rule.fix in descriptor["help"]["text"]
        assert rule.explanation in descriptor["help"]["markdown"]
        assert descriptor["defaultConfiguration"]["level"] == rule.severity
    camel = next(r for r in rules if r["id"] == "camelcase-key")
    assert "router check --fix" in camel["help"]["text"]


def test_sarif_results_carry_file_line_column_and_rule_index() -> None:
    """Each result names its rule (and the matching ruleIndex), its file URI, line and column."""
    run = _sarif(_diagnostics())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    first, camel, stdin, absolute, bare = run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    where = first["locations"][0]["physicalLocation"]
    assert where["artifactLocation"] == {"uri": "dir/a%20b.json", "uriBaseId": "%SRCROOT%"}
    assert where["region"] == {"startLine": 3, "startColumn": 7}
    assert first["level"] == "error"
    assert camel["level"] == "warning"
    assert camel["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("/videoUrl")
    assert "physicalLocation" not in stdin.get("locations", [{}])[0]
    assert absolute["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == Path("/abs/p.json").as_uri()
    assert "locations" not in bare
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")


def test_github_commands_escape_properties_and_message() -> None:
    """Workflow commands escape `,` and `:` in properties and `%`, CR, LF in the message."""
    d = Diagnostic("url-not-accepted", "50% of\nit", file="a,b:c.json", line=4, column=2, fix="x")
    line = render("github", [d], Summary.of([d], 1, 1), "0")
    assert line == (
        "::error file=a%2Cb%3Ac.json,line=4,col=2,title=router (url-not-accepted)::"
        "url-not-accepted: 50%25 of%0Ait (fix: x)\n"
    )


def test_github_warning_and_fileless_findings() -> None:
    """Warnings become ::warning, and a finding without a file (stdin) carries no file property."""
    out = render("github", _diagnostics(), Summary.of(_diagnostics(), 1, 1), "0").splitlines()
    assert out[1].startswith("::warning file=x.jsonl,line=2,col=9,title=router (camelcase-key)::")
    assert out[2].startswith("::error title=router (invalid-json)::")
    assert out[4].startswith("::error title=router (invalid-request)::")
    assert render("github", [], Summary.of([], 0, 0), "0") == ""


def test_text_marks_what_fix_can_fix_and_summarises() -> None:
    """Text output is path:line:col: severity rule, marks --fix-able findings, and ends with a summary."""
    diags = _diagnostics()[:2]
    out = render("text", diags, Summary.of(diags, 2, 3, fixed=1), "0")
    assert "dir/a b.json:3:7: error url-not-accepted: a YouTube link to Vertex [/messages/0]" in out
    assert "x.jsonl:2:9: warning camelcase-key [*]: videoUrl" in out
    assert out.endswith(
        "Fixed 1 problem.\nFound 1 error and 1 warning (3 requests in 2 files).\n1 fixable with `router check --fix`.\n"
    )
    assert render("text", [], Summary.of([], 1, 1), "0") == "All checks passed (1 request in 1 file).\n"


def _findings(fmt: str, out: str) -> list[tuple[str, str]]:
    """(rule, severity) of each finding, read back from one format's output the way its consumer reads it."""
    if fmt == "json":
        return [(d["rule"], d["severity"]) for d in json.loads(out)["diagnostics"]]
    if fmt == "sarif":  # the results, not tool.driver.rules (which describes every rule, found or not)
        return [(r["ruleId"], r["level"]) for r in json.loads(out)["runs"][0]["results"]]
    if fmt == "github":  # ::severity props,title=router (rule)::message
        found = re.findall(r"^::(error|warning) (?:.*,)?title=router \(([a-z-]+)\)::", out, re.M)
    else:  # path:line:col: severity rule[ [*]]: message
        found = re.findall(r"^\S.*?: (error|warning) ([a-z-]+)(?: \[\*\])?: ", out, re.M)
    return [(rule, severity) for severity, rule in found]


@pytest.mark.parametrize("fmt", ["json", "text", "sarif", "github"])
def test_every_format_renders_the_same_findings(fmt: str) -> None:
    """Each format carries exactly the findings given, in order, each with its rule and severity: the formats
    are renderings of one list, not separate checkers."""
    out = render(fmt, _diagnostics(), Summary.of(_diagnostics(), 1, 1), "0")
    assert _findings(fmt, out) == [(d.rule, d.severity) for d in _diagnostics()]


def test_json_record_fields_and_summary() -> None:
    """JSON output is {diagnostics: [file, line, column, pointer, rule, kind, severity, message, fix], summary}."""
    diags = _diagnostics()
    doc = json.loads(render("json", diags, Summary.of(diags, 2, 5), "0"))
    assert list(doc) == ["diagnostics", "summary"]
    assert list(doc["diagnostics"][0]) == [
        "file",
        "line",
        "column",
        "pointer",
        "rule",
        "kind",
        "severity",
        "message",
        "fix",
    ]
    assert doc["summary"] == {"files": 2, "requests": 5, "errors": 3, "warnings": 2}
