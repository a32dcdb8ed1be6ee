"""What a PDF's structure says (pages, encryption, damage), read in place without loading or rendering it.

``read(offset, size)`` gives random access (a file, or a base64 payload decoded on demand: ``DataUrl.read``), so a
100 MB PDF costs its cross-reference table, page tree and a few small reads around them. pypdf parses; it is
imported on the first look at a PDF, never at ``import router``.

A hostile file is bounded four ways:

- the frame is checked first: ``%PDF-`` in the first KB and ``%%EOF`` in the last (where Acrobat looks). A truncated
  file never reaches pypdf, whose backward hunt for ``%%EOF`` re-reads a block per line through the whole file;
- pypdf's own limits (the ``pypdf>=6.14`` floor: decompression capped per stream, page-tree depth and cycles,
  cross-reference ``/Prev`` loops, the ``/Root`` search, xref and object stream sizes);
- a deadline on reading: past ``timeout`` seconds every read raises :class:`_Stop`, a ``BaseException`` so that
  pypdf's ``except Exception`` recovery loops cannot swallow it and go on;
- pypdf's repair of a broken cross-reference table reads the whole file at once: that read is refused past
  ``REPAIR_MAX`` bytes, so repairs (which work in ``strict=False`` mode) stay within that much memory.

CPU work between two reads (decompressing one object stream, walking a page tree already read) is not
interrupted; pypdf's limits bound it. pypdf's warnings (the repairs it made) are kept off the log's output and
logged once at debug level under ``router``.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._base.errors import RouterError
from .container import Read

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from pypdf import PdfReader

__all__ = ["REPAIR_MAX", "TIMEOUT", "PdfInfo", "PdfUnreadable", "facts", "pdf_info", "reading"]

TIMEOUT = 10.0  # seconds of reading to find the pages: a 1,200-page file takes 0.2 s, a 50 MB one 0.3 s
REPAIR_MAX = 32 * 1024 * 1024  # bytes pypdf may read at once to rebuild a broken cross-reference table
_BLOCK = 16 * 1024  # bytes per read: pypdf reads in small steps, mostly near the last one
_EDGE = 1024  # the header and the %%EOF marker are looked for this far from either end
_SAY = 160  # characters of pypdf's own words kept in a damage message
_HINT = "open it in a PDF viewer and save or print it to a new PDF"

log = logging.getLogger("router")


@dataclass(frozen=True, slots=True)
class PdfInfo:
    """What a PDF's structure says.

    ``pages``: the leaves of the page tree (not the ``/Count`` it claims); None when they cannot be counted (the file
    is damaged, or a password locks even the page tree). ``encrypted``: the file has an ``/Encrypt`` dictionary, a
    password or permissions only (Anthropic refuses both). ``damage``: why it cannot be read, in words a user can act
    on; None for a readable file.
    """

    pages: int | None
    encrypted: bool
    damage: str | None = None


class PdfUnreadable(ValueError):
    """The PDF cannot be read; the message says why and what to do, and names no path."""


def pdf_info(read: Read, size: int, *, timeout: float = TIMEOUT) -> PdfInfo:
    """The page count, encryption and damage of the ``size`` bytes ``read`` gives, from the structure alone.

    Never raises for bad content (``damage`` says what is wrong); ``OSError`` from ``read`` propagates.
    """
    try:
        with reading(read, size, timeout=timeout) as pdf:
            return facts(pdf)
    except PdfUnreadable as exc:
        return PdfInfo(None, False, str(exc))


def facts(pdf: PdfReader) -> PdfInfo:
    """What an open reader says; pypdf's exceptions propagate (inside :func:`reading`: as PdfUnreadable)."""
    from pypdf.errors import FileNotDecryptedError

    encrypted = bool(pdf.is_encrypted)
    try:
        pages = len(pdf.pages)
    except FileNotDecryptedError:  # a user password locks the page tree too
        return PdfInfo(None, True)
    return PdfInfo(pages, encrypted, None if pages else "it has no pages")


@contextmanager
def reading(read: Read, size: int, *, timeout: float = TIMEOUT) -> Iterator[PdfReader]:
    """A pypdf reader (``strict=False``: broken cross-reference tables are repaired) for the length of the block.

    Raises :class:`PdfUnreadable` when the file is not a whole PDF or pypdf fails on it, opening it or inside the
    block (pypdf raises many kinds of exception on hostile input; the original is chained); the deadline covers
    the block too, and the reader's objects are dropped after it. ``OSError`` (the file system) and ``RouterError``
    (the caller's own) pass through.
    """
    problem = _frame(read, size)
    if problem:
        raise PdfUnreadable(problem)
    from pypdf import PdfReader

    source = _Source(read, size, time.monotonic() + timeout, timeout)
    with _quiet():
        pdf = None
        try:
            pdf = PdfReader(io.BufferedReader(source, _BLOCK), strict=False)
            yield pdf
        except _Stop as stop:
            raise PdfUnreadable(str(stop)) from None
        except (PdfUnreadable, OSError, RouterError):  # not the PDF's fault: the file system, or the caller's own
            raise
        except Exception as exc:
            log.debug("pypdf could not read a PDF: %r", exc)
            raise PdfUnreadable(_describe(exc)) from exc
        finally:
            if pdf is not None:
                pdf.close()  # drops the objects it read now, not when the collector finds their cycles


def _frame(read: Read, size: int) -> str | None:
    """What is wrong with the file's two ends (empty, no header, cut short), or None."""
    if size <= 0:
        return "the file is empty"
    if b"%PDF-" not in read(0, min(size, _EDGE)):
        return "not a PDF: there is no %PDF- header at its start"
    if b"%%EOF" not in read(max(0, size - _EDGE), min(size, _EDGE)):
        return "truncated: there is no %%EOF marker at its end (the file was cut short: download or export it again)"
    return None


def _describe(exc: Exception) -> str:
    said = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    if len(said) > _SAY:
        said = said[: _SAY - 1] + "…"
    return f"its structure cannot be read ({said}): {_HINT}"


class _Stop(BaseException):
    """Reading stops: past the deadline, or a whole-file read over ``REPAIR_MAX``. Not an ``Exception``, so that
    pypdf's recovery code (``except Exception``) lets it through; :func:`reading` turns it into PdfUnreadable."""


class _Source(io.RawIOBase):
    """``read(offset, size)`` as the seekable binary file pypdf reads, with the deadline and the repair cap."""

    def __init__(self, read: Read, size: int, deadline: float, timeout: float) -> None:
        super().__init__()
        self._read, self._size, self._pos = read, size, 0
        self._deadline, self._timeout = deadline, timeout

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            if offset < 0:
                raise ValueError(f"negative seek position {offset}")
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos = max(0, self._pos + offset)  # as io.BytesIO does, which pypdf is written against
        elif whence == io.SEEK_END:
            self._pos = max(0, self._size + offset)
        else:
            raise ValueError(f"invalid whence {whence}")
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        if time.monotonic() > self._deadline:
            raise _Stop(f"reading its structure took over {self._timeout:g} s (a damaged or hostile file): {_HINT}")
        view = memoryview(buffer)
        want = min(view.nbytes, self._size - self._pos)
        if want <= 0:
            return 0
        data = self._read(self._pos, want)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        """The rest of the file in one read: what pypdf's repair asks for, refused past REPAIR_MAX."""
        left = self._size - self._pos
        if left > REPAIR_MAX:
            raise _Stop(
                f"its cross-reference table is broken, and repairing it means reading {left / 1e6:.1f} MB at once "
                f"(router repairs files up to {REPAIR_MAX / 1e6:.1f} MB): {_HINT}"
            )
        chunks = []
        while self._pos < self._size and (chunk := self.read(self._size - self._pos)):
            chunks.append(chunk)
        return b"".join(chunks)


# -- pypdf's warnings -----------------------------------------------------------------------------------------------


class _Quiet(logging.Handler):
    """pypdf's records while router reads a PDF on this thread are collected (and logged once at debug level); other
    threads' records go on to the root logger as they would have."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()
        self.gate = threading.Lock()
        self.users = 0
        self.saved = True  # pypdf's logger's own propagate flag, put back when the last reader is done

    def emit(self, record: logging.LogRecord) -> None:
        notes: list[str] | None = getattr(self.local, "notes", None)
        if notes is None:
            logging.getLogger().handle(record)
        elif len(notes) < 20:
            notes.append(record.getMessage())

    @contextmanager
    def __call__(self) -> Iterator[None]:
        logger = logging.getLogger("pypdf")
        outer: list[str] | None = getattr(self.local, "notes", None)
        notes: list[str] = []
        self.local.notes = notes
        with self.gate:
            if not self.users:
                self.saved, logger.propagate = logger.propagate, False
                logger.addHandler(self)
            self.users += 1
        try:
            yield
        finally:
            self.local.notes = outer
            with self.gate:
                self.users -= 1
                if not self.users:
                    logger.removeHandler(self)
                    logger.propagate = self.saved
            if notes:
                log.debug("pypdf, reading a PDF: %s", "; ".join(notes))


_quiet = _Quiet()
