"""The commands that make the request a provider gets from one request file: ``router rewrite`` writes it out,
``router send`` sends it (``dispatch``), and ``router inline`` writes one local video as a data URL."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from .._base.errors import RequestRejected
from .._base.version import __version__
from .._model.request import STDIN, Payload, load_bytes, read_path
from .._report.output import Summary, describe, render
from .common import UsageError, base_url_of, io_message, router_for

__all__ = ["cmd_inline", "cmd_rewrite", "cmd_send"]


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

    router = router_for(args)
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

    router = router_for(args)
    try:
        return send(
            router,
            _load_one(args.path),
            base_url=base_url_of(args),
            api_key=key,
            provider=args.provider or None,
            model=args.model,
            out=out,
        )
    except RequestRejected as exc:
        return _reject(exc)


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
