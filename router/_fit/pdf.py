"""Split or trim a PDF by page with pypdf: consecutive parts, each within a page cap and a byte cap.

Pages are copied as they are (content, resources, annotations, the form fields on them), with pypdf's merge:
links between pages of one part keep working, links to pages outside it are dropped (copying them would pull
those pages in). The outline and the document metadata are not carried over; nothing is rendered or
recompressed. An encrypted PDF is kept when it fits and refused when it would have to be split: router never
strips a document's protection.

One reader serves the whole job (the page tree is read once), and memory holds one part at a time, never the
whole source: after each part the reader forgets the streams it read (content, images, fonts: re-read when a
later part needs them) and the collector frees the writer's copy, whose objects point back at it.

A part's size is known only once written. The first cut is even: as many parts as the page cap needs, or as the
byte cap needs if pages weigh alike (never more than ``max_parts`` allows); a part that comes out over the bytes
is cut again into as many even pieces as its size says (at least two), in place, so the order holds.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .._model.container import reader
from .._model.pdf import PdfUnreadable, facts, reading
from .plan import MARGIN, mb
from .types import CannotFit, DamagedPdf, EncryptedPdf, Fitted
from .workdir import Workdir

if TYPE_CHECKING:
    from pypdf import PdfReader

__all__ = ["JOB_TIMEOUT", "MIME", "split_pdf", "trim_pdf"]

MIME = "application/pdf"
JOB_TIMEOUT = 600.0  # seconds of reading the source for one job: stops a hostile loop, never a large honest file

Pages = tuple[int, int]  # [first, stop) page indices


def split_pdf(
    src: Path, *, max_pages: int | None, max_bytes: int | None, workdir: Path, max_parts: int | None = None
) -> list[Fitted]:
    """Consecutive parts of ``src``, each at most ``max_pages`` pages and ``max_bytes`` bytes (None: no cap), in
    ``workdir``; ``[src]`` itself (action "kept") when it is within both.

    Raises :class:`CannotFit` ("too-many-parts": more than ``max_parts`` parts are needed; "budget": one page
    alone is over ``max_bytes``), :class:`DamagedPdf` and :class:`EncryptedPdf`. Every file it made is removed
    when it raises.
    """
    _check(max_pages, max_bytes, max_parts)
    with _Job.open(Path(src), Path(workdir), max_pages, max_bytes, "split") as job:
        if job.fits():
            return [job.kept()]
        pages = job.count()
        per = min(pages, max_pages or pages)
        least = math.ceil(pages / per)
        if max_parts is not None and least > max_parts:
            raise CannotFit(
                f"{job.name} has {pages} pages: {least} parts of at most {per} pages are needed and the route "
                f"takes at most {max_parts}",
                reason="too-many-parts",
            )
        count = least
        if max_bytes is not None and job.size > max_bytes:  # pages assumed to weigh alike; the writes will tell
            count = max(count, min(pages, math.ceil(job.size / (max_bytes * (1 - MARGIN)))))
            count = min(count, max_parts or count)
        parts = job.run(_even(0, pages, count), max_parts)
    caps = ([f"{max_pages} pages"] if max_pages else []) + ([mb(max_bytes)] if max_bytes else [])
    return [
        Fitted(
            path,
            MIME,
            size,
            0.0,
            f"part {i}/{len(parts)}: pages {a + 1}-{b} of {pages}, {mb(size)} "
            f"(split into {len(parts)} PDFs of at most {' and '.join(caps)})",
            "split",
            float(a),
        )
        for i, ((a, b), path, size) in enumerate(parts, 1)
    ]


def trim_pdf(src: Path, *, max_pages: int | None, max_bytes: int | None, workdir: Path) -> list[Fitted]:
    """The first pages of ``src`` that fit ``max_pages`` and ``max_bytes``, as one new PDF in ``workdir``; ``[src]``
    itself (action "kept") when it is within both. Raises like :func:`split_pdf` ("budget": the first page alone
    is over ``max_bytes``)."""
    _check(max_pages, max_bytes, None)
    with _Job.open(Path(src), Path(workdir), max_pages, max_bytes, "trimmed") as job:
        if job.fits():
            return [job.kept()]
        pages = job.count()
        keep = min(pages, max_pages or pages)
        try:
            while True:
                path, size = job.write((0, keep))
                if max_bytes is None or size <= max_bytes:
                    break
                job.files.discard([path])
                if keep == 1:
                    raise job.too_big(0, size)
                keep = max(1, min(keep - 1, math.floor(keep * max_bytes / size * (1 - MARGIN))))
        except BaseException:
            job.files.discard()
            raise
    note = f"trimmed to the first {keep} of {pages} pages, {mb(size)}"
    return [Fitted(path, MIME, size, 0.0, note, "cut", 0.0)]


def _check(max_pages: int | None, max_bytes: int | None, max_parts: int | None) -> None:
    for name, value in (("max_pages", max_pages), ("max_bytes", max_bytes), ("max_parts", max_parts)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def _even(first: int, stop: int, count: int) -> list[Pages]:
    """``[first, stop)`` cut into ``count`` consecutive runs whose lengths differ by one at most."""
    whole, extra = divmod(stop - first, count)
    runs, at = [], first
    for i in range(count):
        step = whole + (i < extra)
        runs.append((at, at + step))
        at += step
    return runs


class _Job:
    """One source open in pypdf, its limits and the files written for it."""

    def __init__(
        self, src: Path, pdf: PdfReader, workdir: Path, max_pages: int | None, max_bytes: int | None, doing: str
    ) -> None:
        self.src, self.name, self.size, self.pdf, self.doing = src, src.name, src.stat().st_size, pdf, doing
        self.max_pages, self.max_bytes = max_pages, max_bytes
        self.files = Workdir(workdir)
        self.info = facts(pdf)
        if self.info.damage:
            raise PdfUnreadable(self.info.damage)

    @classmethod
    @contextmanager
    def open(cls, src: Path, workdir: Path, max_pages: int | None, max_bytes: int | None, doing: str) -> Iterator[_Job]:
        """The job over ``src`` for the length of the block (``doing``: "split" or "trimmed", for messages); a PDF
        pypdf cannot read is DamagedPdf."""
        try:
            with src.open("rb") as fh, reading(reader(fh), src.stat().st_size, timeout=JOB_TIMEOUT) as pdf:
                yield cls(src, pdf, workdir, max_pages, max_bytes, doing)
        except PdfUnreadable as exc:
            raise DamagedPdf(f"{src.name} cannot be {doing}: {exc}") from exc

    def fits(self) -> bool:
        pages = self.info.pages
        within_pages = self.max_pages is None or (pages is not None and pages <= self.max_pages)
        return within_pages and (self.max_bytes is None or self.size <= self.max_bytes)

    def kept(self) -> Fitted:
        pages = "" if self.info.pages is None else f"{self.info.pages} pages, "
        return Fitted(self.src, MIME, self.size, 0.0, f"kept: {pages}{mb(self.size)} within limits", "kept")

    def count(self) -> int:
        """The page count, once the file is known to need rewriting: an encrypted one is refused here."""
        if self.info.encrypted or self.info.pages is None:
            raise EncryptedPdf(
                f"{self.name} is encrypted (a password or permissions) and would have to be {self.doing}; router "
                "does not remove a PDF's protection: save an unprotected copy, or cut it yourself"
            )
        return self.info.pages

    def run(self, queue: list[Pages], max_parts: int | None) -> list[tuple[Pages, Path, int]]:
        """Write each run; one over the bytes is cut again in place. Files go on any way out but success."""
        todo, done = deque(queue), []
        try:
            while todo:
                run = todo.popleft()
                path, size = self.write(run)
                if self.max_bytes is None or size <= self.max_bytes:
                    done.append((run, path, size))
                    continue
                self.files.discard([path])
                first, stop = run
                if stop - first == 1:
                    raise self.too_big(first, size)
                pieces = min(stop - first, max(2, math.ceil(size / (self.max_bytes * (1 - MARGIN)))))
                todo.extendleft(reversed(_even(first, stop, pieces)))
                if max_parts is not None and len(done) + len(todo) > max_parts:
                    raise CannotFit(
                        f"{self.name} needs more than {max_parts} parts of at most {mb(self.max_bytes)}: pages "
                        f"{first + 1}-{stop} alone come to {mb(size)}",
                        reason="too-many-parts",
                    )
        except BaseException:
            self.files.discard()
            raise
        self.files.made.clear()
        return done

    def write(self, run: Pages) -> tuple[Path, int]:
        """Pages ``[first, stop)`` of the source as a new PDF; its path and size."""
        from pypdf.generic import StreamObject

        path = self.files.new("pdf")
        try:
            _write(self.pdf, run, path)
        finally:  # one part in memory at a time
            cache = self.pdf.resolved_objects
            for key in [key for key, obj in cache.items() if isinstance(obj, StreamObject)]:
                del cache[key]
            gc.collect()  # the part's objects point back at their writer, gone with _write's frame
        return path, path.stat().st_size

    def too_big(self, page: int, size: int) -> CannotFit:
        return CannotFit(
            f"page {page + 1} of {self.name} alone comes to {mb(size)}, over {mb(self.max_bytes or 0)}",
            reason="budget",
        )


def _write(pdf: PdfReader, run: Pages, path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    # append, not add_page: a link to a page outside the part would copy that page in, unseen, with its images
    writer.append(pdf, pages=run, import_outline=False)
    with path.open("wb") as out:
        writer.write(out)
