"""Lint payload files: check every request, fix what needs no network, and gather the results in input order --
in worker processes when there are many files. Which files: ``walk``.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .._base.kinds import Kind
from .._base.rules import RULES, Diagnostic
from .._model.request import STDIN, Payload, decode, load_text, universal_newlines
from .._rewrite.fix import FIXABLE, apply_fixes, unified_diff
from .._rewrite.pipeline import Router
from .._table.capabilities import CapabilityTable

__all__ = [
    "PARALLEL_MIN_FILES",
    "FileResult",
    "FixMode",
    "LintOptions",
    "LintResult",
    "default_jobs",
    "lint",
]

PARALLEL_MIN_FILES = 64  # below this, starting worker processes costs more than it saves


# -- checking and fixing ------------------------------------------------------------------------------


FixMode = Literal["", "write", "diff"]


@dataclass(frozen=True, slots=True)
class LintOptions:
    provider: tuple[str, ...] = ()
    model: str | None = None
    online: bool = False
    rules: frozenset[str] = frozenset(RULES)
    fix: FixMode = ""  # "write": fix files in place; "diff": only compute the diff


@dataclass(slots=True)
class FileResult:
    """One file's outcome; ``note`` says why a fix was not applied, ``error`` is an I/O problem (exit 2)."""

    name: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    requests: int = 0
    fixed: int = 0
    diff: str = ""
    note: str | None = None
    error: str | None = None
    skipped: bool = False  # found by walking a directory, and not a chat-completion payload


@dataclass(slots=True)
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    requests: int = 0
    fixed: int = 0
    fixed_files: int = 0
    diffs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0  # files found by walking that hold no chat-completion request


def _is_request(payload: Payload, text: str) -> bool:
    """Whether a file found by walking a directory holds chat-completion or Responses requests at all
    (``package.json``, ``tsconfig.json`` and embeddings batches do not); text that is not JSON counts when it
    names ``messages``."""
    if payload.problems:
        return '"messages"' in (payload.text if payload.text is not None else text)
    request = payload.request
    if not isinstance(request, Mapping):
        return False
    items = request.get("input")
    listed = isinstance(items, list) and any(isinstance(i, Mapping) and "content" in i for i in items)
    return "messages" in request or payload.api == "responses" or listed


def _check(
    router: Router, text: str, name: str, jsonl: bool | None, options: LintOptions, *, walked: bool = False
) -> tuple[list[Diagnostic], int] | None:
    """All diagnostics of one file's text (unfiltered: fixing must know about every invalid-json).

    None: a file found by walking a directory that holds no chat-completion request (skipped, not checked).
    """
    payloads = load_text(text, name, jsonl=jsonl)
    if walked and not any(_is_request(p, text) for p in payloads):
        return None
    diagnostics: list[Diagnostic] = []
    for payload in payloads:
        prepared = router.prepare(payload, options.provider or None, model=options.model)
        if options.online and prepared.ok:
            prepared = router.download(prepared)
        diagnostics += prepared.diagnostics
    return diagnostics, len(payloads)


def lint_file(
    router: Router, name: str, options: LintOptions, stdin: bytes | None = None, *, walked: bool = False
) -> FileResult:
    """Check one file (``-``: the already-read ``stdin``), and fix it if asked and safe.

    ``walked``: the file was found by walking a directory, so one that is not a chat-completion payload at
    all is skipped; a file named on the command line is always checked.
    """
    selected = options.rules
    if name == "-":
        data, display, jsonl = stdin or b"", STDIN, None
    else:
        display, jsonl = name, name.endswith(".jsonl")
        try:
            with open(name, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return FileResult(name, error=f"{name}: {exc.strerror or exc}")
    body = decode(data, display)
    if isinstance(body, Diagnostic):
        return FileResult(name, [body] if body.rule in selected else [], requests=1)
    bom = data.startswith(b"\xef\xbb\xbf")
    checked = _check(router, universal_newlines(body), display, jsonl, options, walked=walked)
    if checked is None:
        return FileResult(name, skipped=True)
    everything, requests = checked
    diagnostics = [d for d in everything if d.rule in selected]
    result = FileResult(name, diagnostics, requests)
    fixable = [d for d in diagnostics if d.rule in FIXABLE]
    if not options.fix or not fixable or name == "-":
        return result
    broken = next((d for d in everything if d.rule == "invalid-json"), None)
    fixed = None if broken else apply_fixes(body, fixable, jsonl=bool(jsonl))
    if fixed is None:
        why = f"it is not valid JSON (line {broken.line})" if broken else "a fix could not be placed with certainty"
        result.note = f"{name}: not fixed ({len(fixable)} fixable): {why}"
        return result
    new_body, result.fixed = fixed
    if new_body == body:
        return result
    if options.fix == "diff":
        result.diff = unified_diff(name, body, new_body)
        return result
    try:
        Path(name).write_bytes((("\ufeff" if bom else "") + new_body).encode("utf-8"))
    except OSError as exc:
        result.error = f"{name}: cannot write the fix: {exc.strerror or exc}"
        return result
    rechecked = _check(router, universal_newlines(new_body), display, jsonl, options)
    assert rechecked is not None
    remaining, result.requests = rechecked
    result.diagnostics = [d for d in remaining if d.rule in selected]
    return result


# -- many files ---------------------------------------------------------------------------------------

_worker: Router | None = None


def _init_worker(table: CapabilityTable, allow_private_urls: bool) -> None:
    """Build the worker's Router once (the table is passed in, not re-read from YAML)."""
    global _worker
    _worker = Router(table, allow_private_urls=allow_private_urls)


_Diag = tuple[str, str, str, str | None, int | None, int | None, str | None, bool, Kind | None]
_Packed = tuple[str, int, int, str, str | None, str | None, list[_Diag], bool]


def _pack(r: FileResult) -> _Packed:
    """Plain tuples cross the process boundary ~10x faster than slotted dataclasses (no Python-level
    ``__getstate__``/``__setstate__`` per object), which matters with thousands of small files."""
    diags = [(d.rule, d.message, d.pointer, d.file, d.line, d.column, d.fix, d.fit, d.kind) for d in r.diagnostics]
    return (r.name, r.requests, r.fixed, r.diff, r.note, r.error, diags, r.skipped)


def _unpack(packed: _Packed) -> FileResult:
    name, requests, fixed, diff, note, error, diags, skipped = packed
    found = [Diagnostic(*d[:7], fit=d[7], kind=d[8]) for d in diags]
    return FileResult(name, found, requests, fixed, diff, note, error, skipped)


def _lint_chunk(items: Sequence[tuple[str, bool]], options: LintOptions) -> list[_Packed]:
    assert _worker is not None, "worker initializer did not run"
    return [_pack(lint_file(_worker, name, options, walked=walked)) for name, walked in items]


def default_jobs() -> int:
    """Usable CPUs (respecting affinity masks, as in containers and CI runners)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """fork on Linux: workers start in milliseconds and inherit the imports (and stay fork on Python 3.14,
    whose default becomes forkserver); elsewhere the platform default."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _parallel(
    router: Router, files: Sequence[str], options: LintOptions, jobs: int, stdin: bytes | None, walked: frozenset[str]
) -> list[FileResult] | None:
    """Results in input order from worker processes; None when the platform cannot start them."""
    names = [(n, n in walked) for n in files if n != "-"]
    size = min(512, max(16, len(names) // (jobs * 4)))
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    try:
        pool = ProcessPoolExecutor(
            jobs, mp_context=_context(), initializer=_init_worker, initargs=(router.table, router.allow_private_urls)
        )
    except (OSError, NotImplementedError):  # no /dev/shm or no semaphores (some sandboxes, AWS Lambda)
        return None
    with pool:
        done = itertools.chain.from_iterable(pool.map(_lint_chunk, chunks, itertools.repeat(options)))
        return [lint_file(router, n, options, stdin) if n == "-" else _unpack(next(done)) for n in files]


def lint(
    router: Router,
    files: Sequence[str],
    options: LintOptions | None = None,
    *,
    jobs: int = 0,
    walked: frozenset[str] = frozenset(),
) -> LintResult:
    """Check (and fix) ``files`` in order; ``jobs`` 0 picks the CPU count, 1 forces one process.

    ``walked`` names the files found by walking a directory: those that are not chat-completion payloads
    are skipped and counted. Parallel runs start at ``PARALLEL_MIN_FILES`` files; results come back in
    input order either way.
    """
    options = options or LintOptions()
    stdin = sys.stdin.buffer.read() if "-" in files else None
    workers = jobs or default_jobs()
    results = None
    if workers > 1 and len(files) >= PARALLEL_MIN_FILES:
        results = _parallel(router, files, options, workers, stdin, walked)
    if results is None:
        results = [lint_file(router, name, options, stdin, walked=name in walked) for name in files]
    total = LintResult()
    for r in results:
        if r.skipped:
            total.skipped += 1
            continue
        if r.error:
            total.errors.append(r.error)
            if not r.requests:  # never read: nothing else to count
                continue
        total.files += 1
        total.requests += r.requests
        total.diagnostics += r.diagnostics
        total.fixed += r.fixed
        total.fixed_files += bool(r.fixed and (r.diff or options.fix == "write"))
        if r.diff:
            total.diffs.append(r.diff)
        if r.note:
            total.notes.append(r.note)
    return total
