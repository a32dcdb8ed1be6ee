"""The `router` command: a thin front door onto ``Router``; every command is ``main(argv) -> int``.

Exit status: 0 no errors, 1 errors found (or the upstream refused), 2 usage or I/O problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import __version__
from .errors import CapabilityError, RequestRejected
from .lint import discover, lint
from .output import FORMATS, Summary, render
from .pipeline import Router
from .rules import RULES

__all__ = ["main"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"


class UsageError(Exception):
    """A problem with how router was called (exit 2), explained in one sentence."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--capabilities",
        metavar="YAML",
        action="append",
        default=[],
        help="a capability table layered over the bundled one (repeatable; later wins)",
    )
    parser.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let the fetcher reach private and loopback addresses (local development only)",
    )


def _routing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="P",
        help="only consider this provider (slug or tag; repeatable or comma-separated)",
    )
    parser.add_argument("--model", metavar="M", help="check against this model instead of the request's own")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="router",
        description="Validate, route and rewrite video inputs of "
        "chat-completion requests before they reach a provider.",
    )
    parser.add_argument("--version", action="version", version=f"router {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate request payload files (JSON, JSONL, batch JSONL)")
    check.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursive), or - for stdin")
    _routing(check)
    check.add_argument("--offline", action="store_true", help="never touch the network (no URL probing)")
    check.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default text)")
    _common(check)

    rewrite = sub.add_parser("rewrite", help="write the request as it would be dispatched")
    rewrite.add_argument("path", metavar="PATH", help="a .json request (or - for stdin)")
    _routing(rewrite)
    rewrite.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    rewrite.add_argument(
        "--dry-run", action="store_true", help="download nothing: show the route and which URLs would be inlined"
    )
    _common(rewrite)

    send = sub.add_parser("send", help="rewrite and dispatch a request (needs OPENROUTER_API_KEY)")
    send.add_argument("path", metavar="PATH", help="a .json request (or - for stdin)")
    _routing(send)
    send.add_argument("--base-url", help=f"upstream (default $OPENROUTER_BASE_URL or {DEFAULT_BASE_URL})")
    _common(send)

    serve = sub.add_parser("serve", help="run a local OpenAI-compatible proxy that routes video requests")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--base-url", help=f"upstream (default $OPENROUTER_BASE_URL or {DEFAULT_BASE_URL})")
    _common(serve)

    models = sub.add_parser("models", help="list the models the table knows")
    models.add_argument("--modality", help="only models that take this input modality (e.g. video)")
    _common(models)

    providers = sub.add_parser("providers", help="list the providers and their video rules")
    _common(providers)

    rules = sub.add_parser("rules", help="explain the rules (all, or one)")
    rules.add_argument("rule", nargs="?", help="a rule name, e.g. url-needs-inline")
    return parser


def _router(args: argparse.Namespace) -> Router:
    return Router(args.capabilities or None, allow_private_urls=args.allow_private_urls)


def _base_url(args: argparse.Namespace) -> str:
    return (args.base_url or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    router = _router(args)
    files = list(discover(args.paths))
    try:
        result = lint(router, files, provider=args.provider, model=args.model, online=not args.offline)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(_io_message(exc)) from None
    summary = Summary.of(result.diagnostics, result.files, result.requests)
    out.write(render(args.format, result.diagnostics, summary, __version__))
    return 1 if summary.errors else 0


def _io_message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"cannot decode input as UTF-8: {exc}"


def _load_one(path: str) -> Any:
    router_input = sys.stdin.read() if path == "-" else Path(path)
    if isinstance(router_input, Path) and not router_input.is_file():
        raise UsageError(f"{path}: no such file")
    return router_input


def _reject(exc: RequestRejected) -> int:
    summary = Summary.of(exc.diagnostics, 1, 1)
    sys.stderr.write(render("text", exc.diagnostics, summary, __version__))
    return 1


def cmd_rewrite(args: argparse.Namespace, out: IO[str]) -> int:
    router = _router(args)
    payload = _load_one(args.path)
    try:
        outgoing = router.outgoing(payload, args.provider or None, model=args.model, dry_run=args.dry_run)
    except RequestRejected as exc:
        return _reject(exc)
    if args.output:
        with open(args.output, "wb") as fh:
            outgoing.write_to(fh)
    else:
        out.flush()
        stream = getattr(out, "buffer", None)
        if stream is not None:
            outgoing.write_to(stream)
            stream.write(b"\n")
            stream.flush()
        else:
            out.write(b"".join(outgoing.iter_bytes()).decode() + "\n")
    for line in outgoing.notes:
        sys.stderr.write(line + "\n")
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
    from .serve import serve  # deferred: only `serve` needs the server

    return serve(_router(args), host=args.host, port=args.port, base_url=_base_url(args), out=out)


def _limit(value: object, unit: str = "") -> str:
    if isinstance(value, int) and unit == "B":
        return f"{value / 1e6:g} MB"
    return f"{value}{' ' + unit if unit and isinstance(value, int) else ''}"


def cmd_models(args: argparse.Namespace, out: IO[str]) -> int:
    table = _router(args).table
    rows = [(mid, m) for mid, m in sorted(table.models.items()) if not args.modality or args.modality in m.input]
    width = max((len(mid) for mid, _ in rows), default=10)
    for mid, m in rows:
        note = "" if "text" in m.output else f"  (generates {'+'.join(m.output)}; cannot answer in text)"
        served = f"  providers: {', '.join(m.providers)}" if m.providers else ""
        out.write(f"{mid:<{width}}  in: {'+'.join(m.input)}  out: {'+'.join(m.output)}{served}{note}\n")
    out.write(f"{len(rows)} model{'s' * (len(rows) != 1)}\n")
    return 0


def cmd_providers(args: argparse.Namespace, out: IO[str]) -> int:
    table = _router(args).table
    for slug, p in table.providers.items():
        urls = ", ".join(p.url_kinds) or "none (router inlines https URLs)"
        out.write(f"{slug} ({p.name})\n")
        out.write(f"  video URLs: {urls}; data URLs: {'yes' if p.data_urls else 'no'}\n")
        out.write(f"  formats: {', '.join(table.mime_types(slug))}\n")
        out.write(
            f"  limits: video {_limit(p.max_video_bytes, 'B')}, request {_limit(p.max_request_bytes, 'B')}, "
            f"videos {_limit(p.max_videos)}, duration {_limit(p.max_duration_s, 's')}\n"
        )
        out.write(f"  source: {p.source}\n")
        for field, url in p.sources.items():
            out.write(f"    {field}: {url}\n")
        if p.notes:
            out.write(f"  notes: {p.notes.strip()}\n")
    return 0


def cmd_rules(args: argparse.Namespace, out: IO[str]) -> int:
    if args.rule and args.rule not in RULES:
        raise UsageError(f"unknown rule {args.rule!r}; known rules: {', '.join(RULES)}")
    for rule in [RULES[args.rule]] if args.rule else RULES.values():
        fixable = " (fixable)" if rule.fixable else ""
        if args.rule:
            out.write(f"{rule.name} [{rule.severity}{fixable}]\n\n{rule.explanation}\n\nFix: {rule.fix}\n")
        else:
            out.write(f"{rule.name:<20} {rule.severity:<8} {rule.summary}{fixable}\n")
    return 0


COMMANDS = {
    "check": cmd_check,
    "rewrite": cmd_rewrite,
    "send": cmd_send,
    "serve": cmd_serve,
    "models": cmd_models,
    "providers": cmd_providers,
    "rules": cmd_rules,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, sys.stdout)
    except (UsageError, CapabilityError) as exc:
        sys.stderr.write(f"router: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
