"""A griffe extension for the API reference (mkdocs.yml): router's docstrings are written to be read as plain
text, in reST's spelling (``:class:`X```, ``text::`` before an indented block, simple tables drawn with ``=``).
This turns those three into the Markdown mkdocstrings renders, without touching the source.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
_RULE = re.compile(r"^=+(?: +=+)+ *$")
_CODE = re.compile(r"``([^`]+)``")


def _tables(text: str) -> str:
    """A simple table (rows between ``=== ===`` rules) becomes a preformatted block, rules dropped."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _RULE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip():
            end += 1
        rows = [_CODE.sub(r"\1", line) for line in lines[i:end] if not _RULE.match(line)]  # no spans in a block
        out += ["```text", *rows, "```"]
        i = end
    return "\n".join(out)


def markdown(text: str) -> str:
    """The docstring as Markdown: roles as code spans, ``::`` as ``:``, simple tables as preformatted text."""
    return _tables(_LITERAL.sub(":", _ROLE.sub(r"`\1`", text)))


class ReSTDocstrings(griffe.Extension):
    """Rewrites every docstring griffe loads (router's own: the reference renders nothing else)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
