"""What the commands behind ``router`` share: each takes the parsed arguments and the output stream and returns
the exit status, and says a usage problem as one ``UsageError``.

Exit status: 0 no errors, 1 errors found (or the upstream refused), 2 usage or I/O problem (``UsageError``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._rewrite.pipeline import Router
from .._table.catalogue import DEFAULT_BASE_URL

__all__ = ["UsageError", "base_url_of", "io_message", "router_for"]


class UsageError(Exception):
    """A problem with how router was called (exit 2), explained in one sentence."""


def router_for(args: argparse.Namespace, **options: Any) -> Router:
    """The command's router, on the model data of its base URL (``options`` may name another)."""
    options.setdefault("base_url", base_url_of(args))
    fit = getattr(args, "fit", None) or False
    if fit:
        from .._fit.engine import FitUnavailable

        try:
            return Router(args.capabilities or None, allow_private_urls=args.allow_private_urls, fit=fit, **options)
        except FitUnavailable as exc:  # --fit without the extra: a usage problem, said in one line
            raise UsageError(str(exc)) from None
    return Router(args.capabilities or None, allow_private_urls=args.allow_private_urls, **options)


def base_url_of(args: argparse.Namespace) -> str:
    """``--base-url`` (where the command has it), ``$OPENROUTER_BASE_URL``, or OpenRouter's."""
    return (getattr(args, "base_url", None) or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def io_message(exc: BaseException) -> str:
    """An I/O or decoding error in one line: the file and what is wrong with it."""
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"cannot decode input as UTF-8: {exc}"
