"""The fenced code blocks of the README and the docs pages, as the tests that run them read them: language, title,
marker, and the heading they sit under. ``snippet()`` is a client's example as an e2e test runs it;
``DocsExample`` runs one with OpenRouter and the clip on loopback.

A marker is an HTML comment on the last non-blank line before a block (``<!-- run -->``, ``<!-- fragment -->``);
tests/test_docs.py says what each one means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)(?P<rest>.*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<word>[\w-]+)[^>]*-->\s*$")
_HEADING = re.compile(r"^#{1,6} (?P<text>.+?)\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page: its language, title, text, where it starts and ends, its marker, and the
    heading above it."""

    page: Path
    lang: str
    title: str | None
    text: str
    line: int  # 1-based line of the opening fence
    end: int  # 0-based index of the line after the closing fence
    marker: str | None
    heading: str  # the nearest heading above it, "" before the first

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a Markdown page, indented ones (in lists) dedented."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    heading = ""
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            if h := _HEADING.match(lines[i]):
                heading = h["text"]
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = _MARKER.match(before)
        title = re.search(r'title="([^"]+)"', m["rest"])
        found.append(
            Block(
                page=page,
                lang=m["lang"],
                title=title[1] if title else None,
                text="\n".join(body) + "\n",
                line=i + 1,
                end=j + 1,
                marker=marker["word"] if marker else None,
                heading=heading,
            )
        )
        i = j + 1
    return found


def snippet(page: str, heading: str, swaps: Mapping[str, str], lang: str = "python") -> str:
    """The first unmarked ``lang`` block under ``heading`` of ``docs/page``, each public address it names (a key of
    ``swaps``) replaced by a test server's: what a reader runs, pointed at loopback. A swap that no longer applies
    fails, so the page and the test cannot drift apart."""
    found = [b for b in blocks(DOCS / page) if b.heading == heading and b.lang == lang and b.marker is None]
    assert found, f"docs/{page}: no ```{lang} block under the heading {heading!r}"
    code = found[0].text
    for old, new in swaps.items():
        assert old in code, f"{found[0].id}: the snippet no longer says {old!r}"
        code = code.replace(old, new)
    return code


def execute(code: str) -> dict[str, Any]:
    """Run a Python snippet as a script would run; its globals afterwards."""
    scope: dict[str, Any] = {"__name__": "__docs__"}
    exec(compile(code, "<docs snippet>", "exec"), scope)  # noqa: S102  (our own docs)
    return scope


DOCS_KEY = "sk-or-docs"


@dataclass(frozen=True)
class DocsExample:
    """A client page's examples, run as written with OpenRouter and the clip swapped for loopback."""

    clip_url: str
    swaps: dict[str, str]
    capsys: pytest.CaptureFixture[str]

    def run(self, page: str, heading: str, *, names_the_clip: bool = True) -> dict[str, Any]:
        """Runs the example under ``heading`` in ``docs/<page>``; returns its globals."""
        swaps = {old: new for old, new in self.swaps.items() if names_the_clip or new != self.clip_url}
        return execute(snippet(page, heading, swaps))

    def answer(self) -> Any:
        """The fake upstream's JSON answer, as the example printed it."""
        return json.loads(self.capsys.readouterr().out)
