"""Text read as if some of its characters were gone, without ever copying it whole.

A 100 MB base64 payload wrapped at 76 columns, or written as a JSON string with ``\\n`` escapes in a spooled
body, is read everywhere through slices (validation, sniffing, the rewrite's chunks). ``Filtered`` gives those
slices of the cleaned text from a sparse index made in one pass: where the cleaned text stands at every block
of ``source`` (a few thousand numbers for 100 MB); a slice cleans only the blocks it covers.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Protocol

__all__ = ["STEP", "Filtered", "Text"]

STEP = 64 * 1024  # characters of source per block of the index
_PIECE = 16  # blocks read at once while the index is made


class Text(Protocol):
    """What a data URL is read through: a ``str``, or a string that stays in a request body (``HoleText``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> str: ...


class Filtered:
    """``source`` with ``clean`` applied past its first ``keep`` characters: ``len`` and contiguous slices, as
    ``str`` offers them.

    ``clean`` maps a run of source characters to what it stands for and must give the same text for a run as
    for its pieces; ``split`` says how many characters of a block can be cleaned alone (an escape such as
    ``\\n`` is never cut in two). ``clean`` may raise ``ValueError`` to refuse the text; it does so while the
    index is made.
    """

    __slots__ = ("_clean", "_keep", "_out", "_raw", "_size", "_source")

    def __init__(
        self,
        source: Text,
        clean: Callable[[str], str],
        *,
        keep: int = 0,
        split: Callable[[str], int] = len,
        step: int = STEP,
    ) -> None:
        self._source, self._clean, self._keep = source, clean, keep
        self._raw, self._out = array("q", [0]), array("q", [0])
        total, at, size = len(source), min(keep, len(source)), min(keep, len(source))
        if at:
            self._raw.append(at)
            self._out.append(size)
        while at < total:
            piece = source[at : at + _PIECE * step]  # one read of many blocks: a layered source is read once
            last = at + len(piece) >= total
            offset = 0
            while offset < len(piece):
                block = piece[offset : offset + step]
                tail = offset + len(block) == len(piece)
                if not (tail and last):
                    block = block[: split(block) or len(block)]
                size += len(clean(block))
                offset += len(block)
                self._raw.append(at + offset)
                self._out.append(size)
                if tail:
                    break  # what a split left of the piece starts the next one
            at += offset
        self._size = size

    @property
    def dropped(self) -> int:
        """How many more characters the source has than the cleaned text."""
        return len(self._source) - self._size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: slice, /) -> str:
        begin, end, stride = key.indices(self._size)
        if stride != 1:
            raise ValueError("Filtered takes contiguous slices only")
        if begin >= end:
            return ""
        first = bisect_right(self._out, begin) - 1
        last = bisect_left(self._out, end)
        start, stop = self._raw[first], self._raw[last]
        kept = self._source[start : min(stop, self._keep)] if start < self._keep else ""
        text = kept + self._clean(self._source[max(start, self._keep) : stop]) if stop > self._keep else kept
        base = self._out[first]
        return text[begin - base : end - base]
