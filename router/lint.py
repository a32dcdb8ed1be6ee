"""Lint payload files: find them, check each request, and gather diagnostics in a stable order."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .pipeline import Router
from .request import Payload, load_text, read_path
from .rules import Diagnostic

__all__ = ["LintResult", "discover", "lint"]

SUFFIXES = (".json", ".jsonl")
_SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}


@dataclass(slots=True)
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    requests: int = 0


def discover(paths: Iterable[str]) -> Iterator[str]:
    """Expand directories into their ``*.json``/``*.jsonl`` files (sorted); ``-`` stands for stdin."""
    for raw in paths:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            found = (
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES and p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(path).parts)
            )
            yield from (str(p) for p in sorted(found))
        else:
            yield raw


def _read(name: str) -> list[Payload]:
    if name == "-":
        return load_text(sys.stdin.read(), "<stdin>")
    return read_path(Path(name))


def lint(
    router: Router,
    files: Sequence[str],
    *,
    provider: Sequence[str] = (),
    model: str | None = None,
    online: bool = False,
) -> LintResult:
    """Check every request of every file; raises OSError for a file that cannot be read."""
    result = LintResult()
    for name in files:
        payloads = _read(name)
        result.files += 1
        for payload in payloads:
            prepared = router.prepare(payload, provider or None, model=model)
            result.requests += 1
            result.diagnostics += prepared.diagnostics
            if online and prepared.ok:
                result.diagnostics += router.probe(prepared)
    return result
