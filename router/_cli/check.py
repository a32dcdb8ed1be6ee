"""``router check`` (lint request files, fix them, or show the fixes as a diff) and ``router rules`` (the rule
catalogue, or one rule explained)."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import IO

from .._base.rules import RULES, Rule
from .._base.version import __version__
from .._report.lint import FixMode, LintOptions, LintResult, lint
from .._report.output import Summary, render
from .._report.walk import discover, patterns
from .._rewrite.pipeline import Router
from .common import UsageError, base_url_of, io_message
from .config import find_config, load_config, parse_rules, rule_set

__all__ = ["cmd_check", "cmd_rules"]


def cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    config = load_config(find_config())
    select = None if args.select is None else parse_rules(args.select, "--select")
    rules = rule_set(config, select, parse_rules(args.ignore, "--ignore"))
    if not rules:
        raise UsageError("no rules are left to report after --select / --ignore and the configuration")
    strict = bool(config.strict if args.strict is None else args.strict)
    offline = bool(config.offline if args.offline is None else args.offline)
    fix: FixMode = "diff" if args.diff else "write" if args.fix else ""
    if fix and "-" in args.paths:
        raise UsageError("--fix and --diff change files; they cannot work on standard input")
    if args.jobs < 0:
        raise UsageError("--jobs must be 0 (one per CPU) or more")
    router = Router(
        args.capabilities or list(config.capabilities) or None,
        allow_private_urls=args.allow_private_urls,
        base_url=base_url_of(args),
    )
    exclude = patterns(config.exclude, config.root) + patterns(args.exclude, Path.cwd())
    try:
        files = discover(args.paths, exclude, force_exclude=args.force_exclude)
    except OSError as exc:
        raise UsageError(io_message(exc)) from None
    options = LintOptions(
        provider=tuple(args.provider or config.provider),
        model=args.model or config.model,
        online=not offline,
        rules=rules,
        fix=fix,
    )
    walked = frozenset(files) - set(args.paths)
    result = lint(router, files, options, jobs=args.jobs, walked=walked)
    for message in result.errors:
        sys.stderr.write(f"router: error: {message}\n")
    for note in result.notes:
        sys.stderr.write(f"router: {note}\n")
    if fix == "diff":
        return _report_diff(result, out)
    if not files:
        sys.stderr.write(f"router: warning: no .json or .jsonl files in {', '.join(args.paths)}\n")
    summary = Summary.of(result.diagnostics, result.files, result.requests, result.fixed, result.errors, result.skipped)
    out.write(render(args.format, result.diagnostics, summary, __version__))
    if result.fixed and args.format != "text":
        sys.stderr.write(f"router: fixed {_count(result.fixed, 'problem')} in {_count(result.fixed_files, 'file')}\n")
    if result.errors:
        return 2
    return 1 if summary.errors or (strict and summary.warnings) else 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _report_diff(result: LintResult, out: IO[str]) -> int:
    """``--diff``: the patch on stdout, the tally on stderr; exit 1 when applying it would change files."""
    out.write("".join(result.diffs))
    other = len(result.diagnostics) - result.fixed
    need = "needs" if other == 1 else "need"
    rest = f"; {_count(other, 'other problem')} {need} a manual fix (`router check`)" if other else ""
    if result.fixed:
        sys.stderr.write(
            f"Would fix {_count(result.fixed, 'problem')} in {_count(result.fixed_files, 'file')}{rest}.\n"
        )
    else:
        sys.stderr.write(f"No fixes available{rest}.\n")
    return 2 if result.errors else 1 if result.diffs else 0


def _fixed_by(rule: Rule) -> str:
    if "fix" in rule.fixed_by:
        return "router check --fix"
    return "rewrite" if "rewrite" in rule.fixed_by else ""


def cmd_rules(args: argparse.Namespace, out: IO[str]) -> int:
    if args.rule and args.rule not in RULES:
        close = difflib.get_close_matches(args.rule, list(RULES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown rule {args.rule!r}{hint}; `router rules` lists them all")
    chosen = [RULES[args.rule]] if args.rule else list(RULES.values())
    if args.format == "json":
        records = [
            {
                "name": r.name,
                "severity": r.severity,
                "summary": r.summary,
                "explanation": r.explanation,
                "fix": r.fix,
                "fixable": r.fixable,
                "fixed_by": _fixed_by(r) or None,
            }
            for r in chosen
        ]
        out.write(json.dumps(records[0] if args.rule else records, indent=2) + "\n")
        return 0
    if args.rule:
        rule = chosen[0]
        how = {
            "router check --fix": ", fixable with `router check --fix`",
            "rewrite": ", fixed by the rewrite when sent through router",
        }.get(_fixed_by(rule), "")
        out.write(f"{rule.name} ({rule.severity}{how})\n\n{rule.summary}.\n\n{rule.explanation}\n\nFix: {rule.fix}\n")
        return 0
    out.write(f"{'RULE':<20} {'SEVERITY':<8} {'FIXABLE':<8} MEANING\n")
    for rule in chosen:
        fixable = {"router check --fix": "--fix", "rewrite": "rewrite"}.get(_fixed_by(rule), "")
        out.write(f"{rule.name:<20} {rule.severity:<8} {fixable:<8} {rule.summary}\n{' ' * 39}fix: {rule.fix}\n")
    out.write(
        "\nFIXABLE: --fix = `router check --fix` fixes it in the file; rewrite = fixed when the request is sent "
        "through router.\n`router rules RULE` explains one rule.\n"
    )
    return 0
