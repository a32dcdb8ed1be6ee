"""Renderers: the same diagnostics as text, JSON, SARIF 2.1.0 or GitHub Actions workflow commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from .rules import RULES, Diagnostic

__all__ = ["FORMATS", "Summary", "render"]

INFO_URI = "https://github.com/router-dev/router#rules"


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    requests: int
    errors: int
    warnings: int

    @classmethod
    def of(cls, diagnostics: Sequence[Diagnostic], files: int, requests: int) -> Summary:
        errors = sum(d.severity == "error" for d in diagnostics)
        return cls(files, requests, errors, len(diagnostics) - errors)


def _where(d: Diagnostic) -> str:
    parts = [d.file or "<request>"]
    if d.line is not None:
        parts += [str(d.line), str(d.column or 1)]
    return ":".join(parts)


def render_text(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    lines = []
    for d in diagnostics:
        pointer = f" [{d.pointer}]" if d.pointer else ""
        lines.append(f"{_where(d)}: {d.severity} {d.rule}: {d.message}{pointer}")
        if d.fix:
            lines.append(f"  fix: {d.fix}")
    s = summary
    checked = f"{s.requests} request{'s' * (s.requests != 1)} in {s.files} file{'s' * (s.files != 1)}"
    if not diagnostics:
        lines.append(f"All checks passed ({checked}).")
    else:
        lines.append(
            f"Found {s.errors} error{'s' * (s.errors != 1)} and {s.warnings} "
            f"warning{'s' * (s.warnings != 1)} ({checked})."
        )
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    doc = {
        "diagnostics": [d.to_dict() for d in diagnostics],
        "summary": {
            "files": summary.files,
            "requests": summary.requests,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _uri(path: str) -> str:
    return PurePath(path).as_posix()


def render_sarif(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    used = sorted({d.rule for d in diagnostics})
    index = {name: i for i, name in enumerate(used)}
    rules = []
    for name in used:
        rule = RULES[name]
        rules.append(
            {
                "id": name,
                "name": name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.explanation},
                "help": {
                    "text": f"{rule.explanation}\nFix: {rule.fix}",
                    "markdown": f"{rule.explanation}\n\n**Fix:** {rule.fix}",
                },
                "helpUri": f"{INFO_URI}-{name}",
                "defaultConfiguration": {"level": rule.severity},
                "properties": {"fixable": rule.fixable},
            }
        )
    results = []
    for d in diagnostics:
        result: dict[str, object] = {
            "ruleId": d.rule,
            "ruleIndex": index[d.rule],
            "level": d.severity,
            "message": {"text": f"{d.message}" + (f" Fix: {d.fix}" if d.fix else "")},
        }
        if d.file:
            physical: dict[str, object] = {"artifactLocation": {"uri": _uri(d.file)}}
            if d.line is not None:
                physical["region"] = {"startLine": d.line, "startColumn": d.column or 1}
            location: dict[str, object] = {"physicalLocation": physical}
            if d.pointer:
                location["logicalLocations"] = [{"fullyQualifiedName": d.pointer, "kind": "member"}]
            result["locations"] = [location]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "router", "version": version, "informationUri": INFO_URI, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def render_github(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    lines = []
    for d in diagnostics:
        props = []
        if d.file:
            props.append(f"file={_escape(_uri(d.file), prop=True)}")
        if d.line is not None:
            props += [f"line={d.line}", f"col={d.column or 1}"]
        props.append(f"title={_escape(d.rule, prop=True)}")
        fix = f" (fix: {d.fix})" if d.fix else ""
        lines.append(f"::{d.severity} {','.join(props)}::{_escape(d.message + fix)}")
    return "\n".join(lines) + ("\n" if lines else "")


Renderer = Callable[[Sequence[Diagnostic], Summary, str], str]
FORMATS: dict[str, Renderer] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def render(fmt: str, diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    return FORMATS[fmt](diagnostics, summary, version)
