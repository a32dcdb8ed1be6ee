"""Renderers: the same diagnostics as text, JSON, SARIF 2.1.0 or GitHub Actions workflow commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import quote

from .._base.rules import RULES, Diagnostic, Rule, shorten
from .._rewrite.fix import FIXABLE
from .._rewrite.outgoing import Inlined, Note, Refitted

__all__ = ["FORMATS", "Summary", "describe", "render"]

INFO_URI = "https://github.com/router-dev/router#rules"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts for the closing line and the JSON ``summary`` (which carries the first four only)."""

    files: int
    requests: int
    errors: int
    warnings: int
    fixed: int = 0  # diagnostics ``--fix`` removed (already gone from the list)
    fixable: int = 0  # remaining diagnostics ``--fix`` would remove
    failures: tuple[str, ...] = ()  # what stopped part of the run (an unreadable file): never "all passed"
    skipped: int = 0  # files found by walking that hold no chat-completion request

    @classmethod
    def of(
        cls,
        diagnostics: Sequence[Diagnostic],
        files: int,
        requests: int,
        fixed: int = 0,
        failures: Sequence[str] = (),
        skipped: int = 0,
    ) -> Summary:
        errors = sum(d.severity == "error" for d in diagnostics)
        fixable = sum(d.rule in FIXABLE for d in diagnostics)
        return cls(files, requests, errors, len(diagnostics) - errors, fixed, fixable, tuple(failures), skipped)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _where(d: Diagnostic) -> str:
    parts = [d.file or "<request>"]
    if d.line is not None:
        parts += [str(d.line), str(d.column or 1)]
    return ":".join(parts)


def render_text(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    """ruff's shape: ``path:line:col: severity rule: message``, ``[*]`` on what ``--fix`` fixes, a summary."""
    lines = []
    for d in diagnostics:
        pointer = f" [{d.pointer}]" if d.pointer else ""
        marker = " [*]" if d.rule in FIXABLE else ""
        lines.append(f"{_where(d)}: {d.severity} {d.rule}{marker}: {d.message}{pointer}")
        if d.fix:
            lines.append(f"  fix: {d.fix}")
    s = summary
    checked = f"{_plural(s.requests, 'request')} in {_plural(s.files, 'file')}"
    if s.skipped:
        checked += f"; {_plural(s.skipped, 'file')} skipped: not chat-completion requests"
    if s.fixed:
        lines.append(f"Fixed {_plural(s.fixed, 'problem')}.")
    if not diagnostics and not s.failures:
        lines.append(f"All checks passed ({checked}).")
    else:
        failed = f"; {_plural(len(s.failures), 'path')} could not be checked" if s.failures else ""
        lines.append(f"Found {_plural(s.errors, 'error')} and {_plural(s.warnings, 'warning')} ({checked}){failed}.")
    if s.fixable:
        lines.append(f"{s.fixable} fixable with `router check --fix`.")
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    doc = {
        # The documented record; `"fit": true` is added where fitting the video (`--fit`) would fix it.
        "diagnostics": [{**d.to_dict(), "fit": True} if d.fit else d.to_dict() for d in diagnostics],
        "summary": {
            "files": summary.files,
            "requests": summary.requests,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
    }
    if summary.skipped:  # only when a walk skipped files: the four documented counts stay as they are
        doc["summary"]["skipped"] = summary.skipped  # type: ignore[index]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _artifact(path: str) -> dict[str, str] | None:
    """SARIF wants URIs: relative paths resolve against ``%SRCROOT%`` (the directory router ran in, which
    GitHub maps to the checkout), absolute ones become ``file:`` URIs; stdin has no artifact."""
    if path == "<stdin>":
        return None
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(pure.as_posix()), "uriBaseId": "%SRCROOT%"}


def _rule_descriptor(rule: Rule) -> dict[str, object]:
    how = " ".join(
        {
            "fix": "Fixable with `router check --fix`.",
            "rewrite": "Fixed automatically when the request is sent through router (`router rewrite`, `router send`).",
        }[way]
        for way in rule.fixed_by
    )
    return {
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation},
        "help": {
            "text": "\n".join(filter(None, [rule.explanation, f"Fix: {rule.fix}", how])),
            "markdown": "\n\n".join(filter(None, [rule.explanation, f"**Fix:** {rule.fix}", how])),
        },
        "helpUri": INFO_URI,
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"fixable": rule.fixable},
    }


def render_sarif(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    """SARIF 2.1.0 with a descriptor for every rule (stable ``ruleIndex``; viewers show help for all)."""
    index = {name: i for i, name in enumerate(RULES)}
    results = []
    for d in diagnostics:
        result: dict[str, object] = {
            "ruleId": d.rule,
            "ruleIndex": index[d.rule],
            "level": d.severity,
            "message": {"text": d.message + (f" Fix: {d.fix}" if d.fix else "")},
        }
        if d.kind is not None:
            result["properties"] = {"kind": d.kind}  # the kind of media part the finding is about
        location: dict[str, object] = {}
        artifact = _artifact(d.file) if d.file else None
        if artifact:
            physical: dict[str, object] = {"artifactLocation": artifact}
            if d.line is not None:
                physical["region"] = {"startLine": d.line, "startColumn": d.column or 1}
            location["physicalLocation"] = physical
        if d.pointer:
            location["logicalLocations"] = [{"fullyQualifiedName": d.pointer, "kind": "member"}]
        if location:
            result["locations"] = [location]
        results.append(result)
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "router",
                "version": version,
                "semanticVersion": version,
                "informationUri": INFO_URI,
                "rules": [_rule_descriptor(rule) for rule in RULES.values()],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",  # columns count characters, as Python strings do
        "results": results,
        "invocations": [
            {
                "executionSuccessful": not summary.failures,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": f}} for f in summary.failures],
            }
        ],
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _escape(value: str, *, prop: bool = False) -> str:
    """Workflow-command escaping: ``%``, CR and LF always; ``:`` and ``,`` inside property values too."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def render_github(diagnostics: Sequence[Diagnostic], summary: Summary, version: str) -> str:
    """``::error file=F,line=L,col=C,title=router (rule)::message``: annotations on the pull request's diff."""
    lines = []
    for d in diagnostics:
        props = []
        if d.file and d.file != "<stdin>":
            props.append(f"file={_escape(PurePath(d.file).as_posix(), prop=True)}")
            if d.line is not None:
                props += [f"line={d.line}", f"col={d.column or 1}"]
        props.append(f"title={_escape(f'router ({d.rule})', prop=True)}")
        fix = f" (fix: {d.fix})" if d.fix else ""
        lines.append(f"::{d.severity} {','.join(props)}::{_escape(f'{d.rule}: {d.message}{fix}')}")
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


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size / 1e3:.3g} kB"


def describe(note: Note) -> str:
    """One line for people about what the rewrite did (URLs shortened: no signature or credential shows)."""
    if isinstance(note, Inlined):
        size = f"up to {_size(note.cap)}" if note.size is None else _size(note.size)
        return f"{'would inline' if note.dry_run else 'inlined'} {shorten(note.url)} ({size}) at {note.pointer}"
    if isinstance(note, Refitted):
        return f"{note.text} at {note.pointer}"
    return f"route: provider.only = {list(note.providers)}"
