"""The files ``router check`` lints: directories expanded into their ``*.json``/``*.jsonl`` files in a stable
order, honouring excludes and ``.gitignore``.

Exclude patterns follow gitignore's wildmatch rules, translated to regular expressions here: ``fnmatch``
lets ``*`` cross ``/`` and knows neither ``**`` nor anchoring, and ``pathspec`` would be one more dependency
for the ~40 lines below (``*``, ``?``, ``[...]``, ``**``, leading ``/``, trailing ``/``, ``!``, ``#``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Pattern", "discover", "patterns"]

SUFFIXES = (".json", ".jsonl")
_SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}


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
