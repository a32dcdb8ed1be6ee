"""The `router` command's arguments; the commands themselves are in ``check``, ``rewrite``, ``serve`` and ``table``.
The public face is :mod:`router.cli`."""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from .._base.errors import CapabilityError
from .._base.version import __version__
from .._report.output import FORMATS, Summary, render
from .._rewrite.fix import FIXABLE
from .._table.catalogue import DEFAULT_BASE_URL
from .check import cmd_check, cmd_rules
from .common import UsageError, io_message
from .config import ConfigError
from .rewrite import cmd_inline, cmd_rewrite, cmd_send
from .serve import cmd_serve
from .table import cmd_models, cmd_providers

__all__ = ["main"]


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


def _fit(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--fit",
        action="store_const",
        const="fit",
        help="fit media a provider would refuse to the route (needs router[fit]): remux or re-encode a video, "
        "transcode audio, convert or downscale an image within its limits, never cutting content",
    )
    group.add_argument(
        "--fit-trim",
        dest="fit",
        action="store_const",
        const="trim",
        help="like --fit, and keep only the first seconds (of a PDF: pages) a limit allows",
    )
    group.add_argument(
        "--fit-split",
        dest="fit",
        action="store_const",
        const="split",
        help="like --fit, and cut a video or a recording too long for the route, or a PDF over its page limit, "
        "into consecutive parts",
    )


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped at spaces only: a rule name or an option (``legacy-video-part``, ``--fit-trim``) is
    never cut at one of its hyphens."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )


class _Parser(argparse.ArgumentParser):
    """An argument parser with that help; ``add_subparsers`` makes the commands' parsers of the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="router",
        description="Validate, route and rewrite video inputs of "
        "chat-completion requests before they reach a provider.",
    )
    parser.add_argument("--version", action="version", version=f"router {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="validate request payload files (JSON, JSONL, batch JSONL)",
        description="Validate request payload files. Settings come from [tool.router] in the nearest "
        "pyproject.toml (walking up from the current directory); the command line wins.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursive), or - for stdin")
    _routing(check)
    check.add_argument(
        "--offline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="never touch the network (no downloads to probe URLs)",
    )
    check.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default text)")
    check.add_argument(
        "--select", action="append", metavar="RULES", help="report only these rules (comma-separated, repeatable)"
    )
    check.add_argument(
        "--ignore", action="append", default=[], metavar="RULES", help="do not report these rules (comma-separated)"
    )
    check.add_argument(
        "--strict", action=argparse.BooleanOptionalAction, default=None, help="warnings fail too (exit 1)"
    )
    check.add_argument(
        "--fix", action="store_true", help=f"fix what needs no network ({', '.join(sorted(FIXABLE))}) in place"
    )
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff, write nothing")
    check.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN", help="skip paths matching this gitignore pattern"
    )
    check.add_argument(
        "--force-exclude", action="store_true", help="apply excludes to files named on the command line too"
    )
    check.add_argument(
        "-j", "--jobs", type=int, default=0, metavar="N", help="worker processes (default: one per CPU; 1: none)"
    )
    _common(check)

    rewrite = sub.add_parser("rewrite", help="write the request as it would be dispatched")
    rewrite.add_argument("path", metavar="PATH", help="a .json request (or - for stdin)")
    _routing(rewrite)
    rewrite.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    rewrite.add_argument(
        "--dry-run", action="store_true", help="download nothing: show the route and which URLs would be inlined"
    )
    _fit(rewrite)
    _common(rewrite)

    send = sub.add_parser("send", help="rewrite and dispatch a request (needs OPENROUTER_API_KEY)")
    send.add_argument("path", metavar="PATH", help="a .json request (or - for stdin)")
    _routing(send)
    send.add_argument("--base-url", help=f"upstream (default $OPENROUTER_BASE_URL or {DEFAULT_BASE_URL})")
    _fit(send)
    _common(send)

    serve = sub.add_parser(
        "serve",
        help="run an OpenAI-compatible proxy that routes media requests",
        description="Run the proxy (needs the serve extra: pip install 'router[serve]'). SIGTERM or Ctrl-C drains "
        "it: /readyz answers 503, requests in flight finish within the grace period, then it exits 0.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="listen port (default 8787; 0 picks a free one)")
    serve.add_argument("--base-url", help=f"upstream (default $OPENROUTER_BASE_URL or {DEFAULT_BASE_URL})")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    serve.add_argument(
        "--access-token",
        metavar="TOKEN",
        help="clients must present it (Authorization: Bearer TOKEN, or X-Router-Token) before the operator's key "
        "is used (default $ROUTER_ACCESS_TOKEN; prefer the variable: arguments show in ps)",
    )
    serve.add_argument(
        "--lend-key-to-network",
        action="store_true",
        help="without an access token, add the operator's key to keyless requests from any client, not only from "
        "this machine (loopback); for a trusted network only (default $ROUTER_LEND_KEY_TO_NETWORK, else off)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST",
        help="a Host name served (repeatable; *.example.com, or * for any; default: loopback names on a loopback "
        "address, any otherwise)",
    )
    serve.add_argument(
        "--allowed-origin", action="append", metavar="ORIGIN", help="a browser origin allowed (repeatable)"
    )
    serve.add_argument("--max-body-size", metavar="SIZE", help="largest request body (default 128MiB): 413 above")
    serve.add_argument(
        "--max-upstream", type=int, metavar="N", help="concurrent upstream requests per worker (default 512)"
    )
    serve.add_argument(
        "--queue-timeout",
        type=float,
        metavar="SECONDS",
        help="wait this long for an upstream slot, then 503 with Retry-After (default 10)",
    )
    serve.add_argument(
        "--header-timeout", type=float, default=10, metavar="SECONDS", help="time for a request's head (default 10)"
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        help="a request body that sends nothing this long gets 408 and a closed connection (default 60; 0: never)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=5,
        metavar="SECONDS",
        help="idle keep-alive connections close after this (default 5; above your load balancer's idle timeout)",
    )
    serve.add_argument("--backlog", type=int, default=2048, metavar="N", help="listen backlog (default 2048)")
    serve.add_argument(
        "--grace-period",
        type=float,
        default=30,
        metavar="SECONDS",
        help="on SIGTERM, requests in flight get this long to finish (default 30)",
    )
    serve.add_argument(
        "--drain-delay",
        type=float,
        default=0,
        metavar="SECONDS",
        help="on SIGTERM, keep accepting this long with /readyz at 503 before closing the listener (default 0)",
    )
    serve.add_argument(
        "--refresh-every",
        type=float,
        default=None,
        metavar="HOURS",
        help="re-read OpenRouter's model catalogue in the background this often (default 24; 0: never)",
    )
    serve.add_argument(
        "--refresh-catalogue",
        action="store_true",
        help="read the model catalogue from the upstream even when it is not OpenRouter (default "
        "$ROUTER_REFRESH_CATALOGUE; otherwise OpenRouter's bundled or cached data is used and never refreshed)",
    )
    _fit(serve)
    _common(serve)

    inline = sub.add_parser("inline", help="print a local video file as a data:video/...;base64, URL")
    inline.add_argument("file", metavar="FILE", help="a video file (its type is read from the bytes)")
    inline.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    inline.add_argument("--mime", metavar="M", help="declare this video type instead of the sniffed one")

    models = sub.add_parser(
        "models",
        help="list the models the table knows; --refresh reads OpenRouter's current catalogue",
        description="List the models the table knows and where that data came from. --refresh reads "
        "OpenRouter's public catalogue (models, their endpoints, providers; no API key) into the user cache "
        "directory, one file per base URL, which every command and Router() talking to that base URL then use "
        "instead of the bundled snapshot. A catalogue that looks wrong is refused (--force takes it).",
    )
    models.add_argument("--modality", help="only models that take this input modality (e.g. video)")
    models.add_argument(
        "--refresh", action="store_true", help="fetch the current catalogue from OpenRouter and cache it"
    )
    models.add_argument(
        "--force", action="store_true", help="with --refresh: take a catalogue that looks wrong (refused otherwise)"
    )
    models.add_argument(
        "--base-url",
        help="where --refresh reads the catalogue, and whose cached catalogue is listed (default "
        f"$OPENROUTER_BASE_URL or {DEFAULT_BASE_URL})",
    )
    _common(models)

    providers = sub.add_parser("providers", help="list the providers and their video rules")
    _common(providers)

    rules = sub.add_parser("rules", help="explain the rules (all, or one)")
    rules.add_argument("rule", nargs="?", help="a rule name, e.g. url-needs-inline")
    rules.add_argument("--format", choices=["text", "json"], default="text", help="output format (default text)")
    return parser


COMMANDS = {
    "check": cmd_check,
    "rewrite": cmd_rewrite,
    "send": cmd_send,
    "serve": cmd_serve,
    "inline": cmd_inline,
    "models": cmd_models,
    "providers": cmd_providers,
    "rules": cmd_rules,
}


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate from a JSON escape must not crash a message
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, sys.stdout)
    except (UsageError, CapabilityError, ConfigError) as exc:
        sys.stderr.write(f"router: error: {exc}\n")
        if args.command == "check" and args.format == "sarif":  # an upload step still gets a valid log
            sys.stdout.write(render("sarif", [], Summary(0, 0, 0, 0, failures=(str(exc),)), __version__))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file named on the command line cannot be read or written
        sys.stderr.write(f"router: error: {io_message(exc)}\n")
        return 2
