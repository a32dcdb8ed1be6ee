"""The commands behind ``router``: each takes the parsed arguments and the output stream, returns the exit status.

Exit status: 0 no errors, 1 errors found (or the upstream refused), 2 usage or I/O problem (``UsageError``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from .._base.errors import RequestRejected
from .._base.rules import RULES, Rule
from .._base.version import __version__
from .._model.request import STDIN, Payload, load_bytes, read_path
from .._report.lint import FixMode, LintOptions, LintResult, discover, lint, patterns
from .._report.output import Summary, describe, render
from .._rewrite.pipeline import Router
from .._table.catalogue import DEFAULT_BASE_URL
from .._table.rules import Rules
from .config import find_config, load_config, parse_rules, rule_set

__all__ = [
    "DEFAULT_BASE_URL",
    "UsageError",
    "cmd_check",
    "cmd_inline",
    "cmd_models",
    "cmd_providers",
    "cmd_rewrite",
    "cmd_rules",
    "cmd_send",
    "cmd_serve",
    "io_message",
]


class UsageError(Exception):
    """A problem with how router was called (exit 2), explained in one sentence."""


def _router(args: argparse.Namespace, **options: Any) -> Router:
    """The command's router, on the model data of its base URL (``options`` may name another)."""
    options.setdefault("base_url", _base_url(args))
    fit = getattr(args, "fit", None) or False
    if fit:
        from .._fit.engine import FitUnavailable

        try:
            return Router(args.capabilities or None, allow_private_urls=args.allow_private_urls, fit=fit, **options)
        except FitUnavailable as exc:  # --fit without the extra: a usage problem, said in one line
            raise UsageError(str(exc)) from None
    return Router(args.capabilities or None, allow_private_urls=args.allow_private_urls, **options)


def _base_url(args: argparse.Namespace) -> str:
    """``--base-url`` (where the command has it), ``$OPENROUTER_BASE_URL``, or OpenRouter's."""
    return (getattr(args, "base_url", None) or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


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
        base_url=_base_url(args),
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


def io_message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"cannot decode input as UTF-8: {exc}"


def _load_one(path: str) -> Payload:
    """The one request ``rewrite`` and ``send`` take: a file, or ``-`` (stdin)."""
    if path == "-":
        payloads, where = load_bytes(sys.stdin.buffer.read(), STDIN), "standard input"
    else:
        if Path(path).is_dir():
            raise UsageError(f"{path}: is a directory; give one request file (`router check` takes directories)")
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
        payloads, where = read_path(Path(path)), path
    if len(payloads) != 1:
        raise UsageError(
            f"{where} holds {len(payloads)} requests; this command takes one (`router check` takes JSONL files)"
        )
    return payloads[0]


def _reject(exc: RequestRejected) -> int:
    summary = Summary.of(exc.diagnostics, 1, 1)
    sys.stderr.write(render("text", exc.diagnostics, summary, __version__))
    return 1


def _write_streamed(chunks: Iterable[bytes], output: str | None, out: IO[str]) -> None:
    """Chunks to ``output`` (complete or not at all: a temporary file renamed at the end) or to ``out``."""
    if output:
        target = Path(output)
        if target.is_dir():
            raise UsageError(f"{output}: is a directory; -o takes the name of the file to write")
        if not target.parent.is_dir():
            raise UsageError(f"{output}: the directory {target.parent} does not exist")
        partial = target.with_name(f".{target.name}.partial")
        try:
            with partial.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            partial.replace(target)
        except OSError as exc:  # said of the file asked for, not of the temporary one beside it
            partial.unlink(missing_ok=True)
            raise UsageError(f"{output}: {exc.strerror or exc}") from None
        return
    out.flush()
    stream = getattr(out, "buffer", None)
    if stream is None:  # a text-only stream (tests): decode, the body is UTF-8 JSON or ASCII
        out.write(b"".join(chunks).decode() + "\n")
        return
    for chunk in chunks:
        stream.write(chunk)
    stream.write(b"\n")
    stream.flush()


def cmd_rewrite(args: argparse.Namespace, out: IO[str]) -> int:
    from .progress import ProgressDisplay

    router = _router(args)
    payload = _load_one(args.path)
    with ProgressDisplay(sys.stderr) as display:
        try:
            outgoing = router.outgoing(
                payload,
                args.provider or None,
                model=args.model,
                dry_run=args.dry_run,
                progress=display.task("downloading"),
                fitting=display.share("fitting"),
            )
        except RequestRejected as exc:
            display.stop()
            return _reject(exc)
    _write_streamed(outgoing.iter_bytes(), args.output, out)
    for note in outgoing.notes:
        sys.stderr.write(describe(note) + "\n")
    return 0


def cmd_send(args: argparse.Namespace, out: IO[str]) -> int:
    key = os.environ.get("OPENROUTER_API_KEY")
    if not key:
        raise UsageError(
            "OPENROUTER_API_KEY is not set: create a key at https://openrouter.ai/keys and run "
            "`export OPENROUTER_API_KEY=sk-or-...`"
        )
    from .dispatch import send  # deferred: only `send` needs the HTTP client

    router = _router(args)
    try:
        return send(
            router,
            _load_one(args.path),
            base_url=_base_url(args),
            api_key=key,
            provider=args.provider or None,
            model=args.model,
            out=out,
        )
    except RequestRejected as exc:
        return _reject(exc)


def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    try:  # deferred: only `serve` needs the server, and it is an extra
        from .._proxy.serve import LOOPBACK_HOSTS, ProxySettings, ServerOptions, is_loopback, parse_size, serve
    except ImportError as exc:
        raise UsageError(f"router serve needs the serve extra ({exc}): pip install 'router[serve]'") from None
    import dataclasses

    if args.workers < 1 or args.backlog < 1 or (args.max_upstream is not None and args.max_upstream < 1):
        raise UsageError("--workers, --backlog and --max-upstream take a positive number")
    try:
        settings = ProxySettings.from_env()
        refresh = settings.refresh_every if args.refresh_every is None else args.refresh_every * 3600
        hosts = args.allowed_host or (None if "ROUTER_ALLOWED_HOSTS" in os.environ else ())
        changes: dict[str, object] = {
            "base_url": _base_url(args),
            "capabilities": tuple(args.capabilities),
            "allow_private_urls": args.allow_private_urls or settings.allow_private_urls,
            "access_token": args.access_token or settings.access_token,
            "lend_key_to_network": args.lend_key_to_network or settings.lend_key_to_network,
            "refresh_every": refresh,
            "refresh_catalogue": args.refresh_catalogue or settings.refresh_catalogue,
            "fit": args.fit or settings.fit,
        }
        if hosts is not None:
            changes["allowed_hosts"] = tuple(hosts) or (LOOPBACK_HOSTS if is_loopback(args.host) else ("*",))
        if args.allowed_origin:
            changes["allowed_origins"] = tuple(args.allowed_origin)
        if args.max_body_size is not None:
            changes["max_body_size"] = parse_size(args.max_body_size)
        if args.max_upstream is not None:
            changes["max_upstream"] = args.max_upstream
        if args.queue_timeout is not None:
            changes["queue_timeout"] = args.queue_timeout
        if args.body_timeout is not None:
            changes["body_timeout"] = args.body_timeout
        settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # A broken capability table stops here, as FILE:LINE. The catalogue is the upstream's when that is OpenRouter
    # (or --refresh-catalogue says so), else OpenRouter's as bundled or cached, never refreshed from a stand-in.
    catalogue_url, every = settings.catalogue()
    router = _router(args, refresh_every=every, base_url=catalogue_url)
    options = ServerOptions(
        workers=args.workers,
        backlog=args.backlog,
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        grace_period=args.grace_period,
        drain_delay=args.drain_delay,
    )
    try:
        single = router if args.workers == 1 else None  # workers load their own
        return serve(single, args.host, args.port, out=out, settings=settings, options=options)
    except OSError as exc:  # the port is taken, or the host is not ours
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None


def cmd_inline(args: argparse.Namespace, out: IO[str]) -> int:
    from .._base.errors import NotAVideo
    from .._rewrite.inline import iter_data_url

    if Path(args.file).is_dir():
        raise UsageError(f"{args.file}: is a directory; give one video file")
    if not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file")
    from .._table.load import load_table

    try:
        chunks = iter_data_url(args.file, args.mime, load_table().openrouter.mime_types)
    except NotAVideo as exc:
        sys.stderr.write(f"router: {exc}\n")
        return 1
    except OSError as exc:
        raise UsageError(io_message(exc)) from None
    _write_streamed(chunks, args.output, out)
    return 0


def _limit(value: object, unit: str = "") -> str:
    if isinstance(value, int) and unit == "B":
        return f"{value / 1e6:g} MB"
    return f"{value}{' ' + unit if unit and isinstance(value, int) else ''}"


def _refresh(args: argparse.Namespace, out: IO[str]) -> int:
    from .._table.refresh import CountBar, RefreshError, RefreshRefused, refresh  # deferred: needs the HTTP client

    with CountBar(sys.stderr, "endpoints") as bar:
        try:
            result = refresh(_base_url(args), paths=args.capabilities, progress=bar.update, force=args.force)
        except RefreshRefused as exc:
            bar.stop()
            force = " (`router models --refresh --force` takes it anyway)" if exc.forceable else ""
            sys.stderr.write(f"router: error: {exc}; nothing was changed{force}\n")
            return 1
        except RefreshError as exc:
            bar.stop()
            sys.stderr.write(f"router: error: cannot refresh the catalogue: {exc}; nothing was changed\n")
            return 1
    out.write(result.summary + "\n")
    return 0


def cmd_models(args: argparse.Namespace, out: IO[str]) -> int:
    if args.refresh:
        return _refresh(args, out)
    if args.force:
        raise UsageError("--force goes with --refresh: it takes a refreshed catalogue that looks wrong")
    table = _router(args).table
    rows = [(mid, m) for mid, m in sorted(table.models.items()) if not args.modality or args.modality in m.input]
    width = max((len(mid) for mid, _ in rows), default=10)
    for mid, m in rows:
        note = "" if "text" in m.output else f"  (generates {'+'.join(m.output)}; cannot answer in text)"
        served = f"  providers: {', '.join(m.providers)}" if m.providers else ""
        tiers = f"  tiers: {', '.join(m.tiers)}" if m.tiers else ""
        out.write(f"{mid:<{width}}  in: {'+'.join(m.input)}  out: {'+'.join(m.output)}{served}{tiers}{note}\n")
    out.write(f"{len(rows)} model{'s' * (len(rows) != 1)}\n")
    if table.snapshot is not None:
        out.write(f"data: {table.snapshot.describe()}\n")
        if table.snapshot.fetched_at is None:
            out.write("`router models --refresh` reads OpenRouter's current catalogue.\n")
    return 0


def cmd_providers(args: argparse.Namespace, out: IO[str]) -> int:
    table = _router(args).table
    for slug, p in table.providers.items():
        if "/" in slug and slug.split("/", 1)[0] in table.providers:
            continue  # a service tier: shown under its provider
        urls = ", ".join(p.url_kinds) or "none (router inlines https URLs)"
        data = "yes" if p.data_urls else "no"
        if "data_urls" in p.unknown:
            data = f"unknown, so router sends none ({p.unknown['data_urls']})"
        out.write(f"{slug} ({p.name})\n")
        if not p.documented:
            out.write("  no rules in the table: every video is inlined, no limit assumed\n")
        out.write(f"  video URLs: {urls}; data URLs: {data}\n")
        out.write(f"  formats: {', '.join(table.mime_types(slug))}\n")
        out.write(
            f"  limits: video {_limit(p.max_video_bytes, 'B')}, request {_limit(p.max_request_bytes, 'B')}, "
            f"videos {_limit(p.max_videos)}, duration {_limit(p.max_duration_s, 's')}\n"
        )
        for kind in ("image", "audio", "file"):
            if getattr(p, kind) is not None:
                out.write(_kind_line(table.rules(slug, kind), getattr(p, kind).source or p.source))
        tiers = [k.split("/", 1)[1] for k in table.providers if k.startswith(slug + "/")]
        if tiers:
            out.write(f"  service tiers (opt-in, same rules): {', '.join(f'{slug}/{t}' for t in tiers)}\n")
        out.write(f"  source: {p.source}\n")
        for field, url in p.sources.items():
            out.write(f"    {field}: {url}\n")
        for field, why in p.unknown.items():
            if field != "data_urls":
                out.write(f"  {field}: unknown ({why})\n")
        if p.notes:
            out.write(f"  notes: {p.notes.strip()}\n")
    return 0


def _kind_line(rules: Rules, source: str) -> str:
    """One line of what a provider takes of a kind of media, as resolved over OpenRouter's own rules."""
    urls = ", ".join(rules.url_kinds) or "none (router inlines them)"
    limits = [
        f"{label} {value:,}{unit}"
        for label, value, unit in (
            ("bytes", rules.max_bytes, " B"),
            ("base64", rules.max_base64_bytes, " B"),
            ("all together", rules.max_total_bytes, " B"),
            ("side", rules.max_side, " px"),
            (f"side past {rules.many_over}", rules.max_side_many, " px"),
            ("pages", rules.max_pages, ""),
            ("duration", rules.max_duration_s, " s"),
            ("per request", rules.max_count, ""),
        )
        if value is not None
    ]
    formats = ", ".join(rules.formats) or "any"
    return (
        f"  {rules.kind}: URLs {urls}; formats {formats}; limits: {', '.join(limits) or 'unknown'}; source: {source}\n"
    )


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
