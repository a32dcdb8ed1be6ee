"""Lint payload files: find them (honouring excludes and ``.gitignore``), check every request, fix what
needs no network, and gather the results in input order -- in worker processes when there are many files.

Exclude patterns follow gitignore's wildmatch rules, translated to regular expressions here: ``fnmatch``
lets ``*`` cross ``/`` and knows neither ``**`` nor anchoring, and ``pathspec`` would be one more dependency
for the ~40 lines below (``*``, ``?``, ``[...]``, ``**``, leading ``/``, trailing ``/``, ``!``, ``#``).
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
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
    "Pattern",
    "default_jobs",
    "discover",
    "lint",
    "patterns",
]

SUFFIXES = (".json", ".jsonl")
_SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}
PARALLEL_MIN_FILES = 64  # below this, starting worker processes costs more than it saves


# -- finding files ------------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return os.path.abspath(path).replace(os.sep, "/")


def _translate(pattern: str) -> str:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i) and (i == 0 or pattern[i - 1] == "/"):
            if i + 2 == n:  # trailing "**": everything below
                out.append(".*")
                i += 2
                continue
            if pattern[i + 2] == "/":  # "**/": zero or more directories
                out.append("(?:.*/)?")
                i += 3
                continue
        if c == "*":
            out.append("[^/]*")
            while pattern.startswith("*", i + 1):
                i += 1
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One gitignore-style line, relative to ``base`` (an absolute, ``/``-separated directory)."""

    base: str
    regex: re.Pattern[str]
    negate: bool = False
    dir_only: bool = False

    @classmethod
    def parse(cls, line: str, base: str | os.PathLike[str]) -> Pattern | None:
        text = line.rstrip("\n\r")
        if not text.endswith("\\ "):
            text = text.rstrip(" ")
        if not text or text.startswith("#"):
            return None
        negate = text.startswith("!")
        text = text[1:] if negate else text.removeprefix("\\")
        dir_only = text.endswith("/")
        text = text.rstrip("/")
        if not text:
            return None
        anchored = "/" in text
        body = _translate(text.lstrip("/"))
        regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z")
        return cls(_absolute(os.fspath(base)).rstrip("/"), regex, negate, dir_only)

    def match(self, path: str, is_dir: bool) -> bool:
        """Whether this line matches the absolute ``/``-separated ``path`` (itself, not its ancestors)."""
        if self.dir_only and not is_dir:
            return False
        if not path.startswith(self.base + "/"):
            return False
        return self.regex.match(path, len(self.base) + 1) is not None


def patterns(lines: Iterable[str], base: str | os.PathLike[str]) -> list[Pattern]:
    """Parse gitignore-style lines (blank lines and ``#`` comments skipped) relative to ``base``."""
    return [p for line in lines if (p := Pattern.parse(line, base)) is not None]


def _ignored(rules: Sequence[Pattern], path: str, is_dir: bool) -> bool:
    """Git's rule: the last matching line wins, and ``!`` re-includes."""
    verdict = False
    for rule in rules:
        if rule.match(path, is_dir):
            verdict = not rule.negate
    return verdict


def _gitignore(directory: str) -> list[Pattern]:
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as fh:
            return patterns(fh, directory)
    except OSError:
        return []


def _walk(display: str, absolute: str, exclude: Sequence[Pattern], ignore: list[Pattern], out: list[str]) -> None:
    ignore = ignore + _gitignore(absolute)
    with os.scandir(absolute) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{absolute}/{entry.name}"
        shown = entry.name if display in ("", ".") else os.path.join(display, entry.name)
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIP_DIRS and not _ignored(exclude, path, True) and not _ignored(ignore, path, True):
                _walk(shown, path, exclude, ignore, out)
        elif (
            entry.name.endswith(SUFFIXES)
            and entry.is_file()
            and not _ignored(exclude, path, False)
            and not _ignored(ignore, path, False)
        ):
            out.append(shown)


def _force_excluded(exclude: Sequence[Pattern], raw: str) -> bool:
    path = _absolute(raw)
    parts = path.split("/")
    ancestors = ("/".join(parts[:i]) for i in range(2, len(parts)))
    return any(_ignored(exclude, a, True) for a in ancestors) or _ignored(exclude, path, False)


def discover(paths: Iterable[str], exclude: Sequence[Pattern] = (), *, force_exclude: bool = False) -> list[str]:
    """Expand directories into their ``*.json``/``*.jsonl`` files, in a stable order, skipping what
    ``exclude`` or a ``.gitignore`` inside the walked directory matches; ``-`` stands for stdin.

    Files named explicitly are always checked unless ``force_exclude`` (pre-commit passes every file by
    name, so the hook sets it to honour the configured excludes). A missing path raises FileNotFoundError.
    """
    found: list[str] = []
    for raw in paths:
        if raw == "-":
            found.append(raw)
        elif os.path.isdir(raw):
            _walk(os.path.normpath(raw), _absolute(raw), exclude, [], found)
        elif not os.path.exists(raw):
            raise FileNotFoundError(2, "No such file or directory", raw)
        elif not (force_exclude and _force_excluded(exclude, raw)):
            found.append(raw)
    return list(dict.fromkeys(found))


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
