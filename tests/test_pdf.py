"""PDFs on real files made with pypdf: page counts read in place (files and data URLs, bounded memory and time),
encryption and damage."""

from __future__ import annotations

import base64
import io
import logging
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from pdfclips import append_pages, classic_pdf, make_compressed_pdf, make_encrypted_pdf, make_pdf, page_markers

from router._model import pdf as pdfmodel
from router._model.container import reader
from router._model.media import parse_data_url
from router._model.pdf import PdfInfo, pdf_info

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"


def info_of(path: Path, **kwargs: float) -> PdfInfo:
    with path.open("rb") as fh:
        return pdf_info(reader(fh), path.stat().st_size, **kwargs)


def info_of_bytes(data: bytes) -> PdfInfo:
    return pdf_info(reader(io.BytesIO(data)), len(data))


def shifted(data: bytes) -> bytes:
    """The same PDF with a comment line after the header: every offset in its cross-reference table is now wrong."""
    return data[:9] + b"%" + b"x" * 40 + b"\n" + data[9:]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 150-page and a 1,200-page PDF, and a 250-page one for splitting."""
    folder = tmp_path_factory.mktemp("pdfs")
    return {f"p{n}": make_pdf(folder / f"p{n}.pdf", n) for n in (150, 250, 1200)}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 50 MB: 200 pages, each with a 250 kB image of random (incompressible) bytes."""
    return make_pdf(tmp_path_factory.mktemp("big") / "big.pdf", 200, image_bytes=250_000)


# -- reading the structure --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["p150", "p1200"])
def test_the_page_count_is_exact_from_a_file_and_from_a_data_url(made: dict[str, Path], name: str) -> None:
    """The page tree's leaves are counted, through random access into a file and into a base64 data URL."""
    path = made[name]
    expected = int(name[1:])
    assert info_of(path) == PdfInfo(expected, False, None)
    url = "data:application/pdf;base64," + base64.b64encode(path.read_bytes()).decode()
    data = parse_data_url(url)
    assert pdf_info(data.read, data.decoded_size) == PdfInfo(expected, False, None)


def test_a_50_mb_pdf_is_read_in_a_small_fraction_of_its_size(big: Path) -> None:
    """Counting the pages of a 50 MB PDF (a file, then a data URL decoded on demand) allocates under 4 MB, fast."""
    size = big.stat().st_size
    assert size > 45_000_000
    url = "data:application/pdf;base64," + base64.b64encode(big.read_bytes()).decode()
    data = parse_data_url(url, validate=False)
    for read, label in ((None, "file"), (data.read, "data URL")):
        with big.open("rb") as fh:
            tracemalloc.start()
            began = time.monotonic()
            try:
                got = pdf_info(read or reader(fh), size)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert got == PdfInfo(200, False, None), label
        assert peak < 4_000_000, (label, peak)
        assert time.monotonic() - began < 5, label


def test_object_streams_and_a_cross_reference_stream_are_read_without_repair(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A PDF 1.5 file with its page tree inside a compressed object stream is read through its xref stream: no
    repair note from pypdf."""
    path = make_compressed_pdf(tmp_path / "packed.pdf", 30)
    assert b"/ObjStm" in path.read_bytes()
    assert b"\nxref\n" not in path.read_bytes()
    with caplog.at_level(logging.DEBUG, logger="router"):
        assert info_of(path) == PdfInfo(30, False, None)
    assert caplog.records == []
    assert page_markers(path) == list(range(30))


def test_an_incremental_update_adds_its_pages(tmp_path: Path) -> None:
    """Pages appended in an incremental update (a second body, table and %%EOF after the first) are counted."""
    path = make_pdf(tmp_path / "base.pdf", 5)
    before = path.read_bytes()
    append_pages(path, 3)
    after = path.read_bytes()
    assert after.startswith(before)
    assert after.count(b"%%EOF") == 2
    assert info_of(path) == PdfInfo(8, False, None)


def test_a_password_protected_pdf_is_encrypted_and_its_pages_unknown(tmp_path: Path) -> None:
    """A user password locks the page tree: encrypted, no count, and not called damaged."""
    assert info_of(make_encrypted_pdf(tmp_path / "locked.pdf", 4)) == PdfInfo(None, True, None)


def test_a_permissions_only_pdf_is_encrypted_and_counted(tmp_path: Path) -> None:
    """An owner password alone (opens without one) still makes the file encrypted; its pages are counted."""
    assert info_of(make_encrypted_pdf(tmp_path / "owner.pdf", 4, user_password="")) == PdfInfo(4, True, None)


@pytest.mark.parametrize("keep", [0.99, 0.6, 0.05])
def test_a_truncated_pdf_is_damaged(made: dict[str, Path], keep: float) -> None:
    """A file cut short is damaged (no %%EOF at its end), wherever the cut falls, and pypdf never sees it."""
    data = made["p150"].read_bytes()
    got = info_of_bytes(data[: int(len(data) * keep)])
    assert got.pages is None
    assert got.damage is not None
    assert got.damage.startswith("truncated: there is no %%EOF marker at its end")


def test_garbage_after_the_header_is_damaged() -> None:
    """A header, random bytes and a final %%EOF: the structure cannot be read, and the message says what to do."""
    data = b"%PDF-1.7\n" + bytes(range(256)) * 400 + b"\n%%EOF\n"
    got = info_of_bytes(data)
    assert got.pages is None
    assert got.damage is not None
    assert got.damage.startswith("its structure cannot be read (")
    assert got.damage.endswith("open it in a PDF viewer and save or print it to a new PDF")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "the file is empty"),
        (b"<html>not a pdf</html>\n%%EOF", "not a PDF: there is no %PDF- header at its start"),
    ],
)
def test_an_empty_file_and_a_non_pdf_are_said_so(data: bytes, said: str) -> None:
    """The two ends are checked first, in words a user can act on."""
    assert info_of_bytes(data) == PdfInfo(None, False, said)


def test_a_pdf_without_pages_is_damaged() -> None:
    """An empty page tree is not a document worth sending."""
    data = classic_pdf({1: CATALOG, 2: b"<< /Type /Pages /Kids [] /Count 0 >>"})
    assert info_of_bytes(data) == PdfInfo(0, False, "it has no pages")


def test_a_cyclic_page_tree_is_damage_not_a_hang() -> None:
    """A /Pages node that is its own kid, or a loop through two nodes, ends as damage at once."""
    for objects in (
        {1: CATALOG, 2: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"},
        {1: CATALOG, 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", 3: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"},
    ):
        began = time.monotonic()
        got = info_of_bytes(classic_pdf(objects))
        assert got.pages is None
        assert got.damage is not None
        assert "cyclic" in got.damage
        assert time.monotonic() - began < 1


def test_a_broken_cross_reference_table_is_repaired_quietly(
    made: dict[str, Path], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Offsets that all point wrong are rebuilt by pypdf (strict=False): the pages are counted, and pypdf's notes
    about it go to router's logger at debug level, never to the log's warnings or to stderr."""
    data = shifted(made["p150"].read_bytes())
    with caplog.at_level(logging.DEBUG):
        assert info_of_bytes(data) == PdfInfo(150, False, None)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    (note,) = [r.getMessage() for r in caplog.records if r.name == "router"]
    assert note.startswith("pypdf, reading a PDF: ")
    assert "startxref" in note
    assert capfd.readouterr().err == ""
    pypdf_logger = logging.getLogger("pypdf")
    assert pypdf_logger.propagate
    assert pdfmodel._quiet not in pypdf_logger.handlers


def test_a_repair_that_would_read_too_much_at_once_is_refused(
    made: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pypdf rebuilds a broken table from the whole file in memory: past REPAIR_MAX the file is called damaged."""
    data = shifted(made["p150"].read_bytes())
    monkeypatch.setattr(pdfmodel, "REPAIR_MAX", len(data) // 2)
    got = info_of_bytes(data)
    assert got.pages is None
    assert got.damage is not None
    assert got.damage.startswith("its cross-reference table is broken, and repairing it means reading")


def test_reading_stops_at_the_deadline(made: dict[str, Path]) -> None:
    """A read that drags on (a slow source, or pypdf looping over reads) stops at the deadline as damage."""
    with made["p1200"].open("rb") as fh:
        read = reader(fh)

        def slow(offset: int, size: int) -> bytes:
            time.sleep(0.01)
            return read(offset, size)

        began = time.monotonic()
        got = pdf_info(slow, made["p1200"].stat().st_size, timeout=0.2)
    assert got.pages is None
    assert got.damage is not None
    assert got.damage.startswith("reading its structure took over 0.2 s (a damaged or hostile file)")
    assert time.monotonic() - began < 1


def test_other_threads_pypdf_records_pass_on_while_a_pdf_is_read(
    made: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Only the reading thread's pypdf records are held back: another thread's warning reaches the log meanwhile."""
    inside, done = threading.Event(), threading.Event()
    with made["p150"].open("rb") as fh:
        read = reader(fh)

        def waiting(offset: int, size: int) -> bytes:
            inside.set()
            done.wait(5)
            return read(offset, size)

        worker = threading.Thread(target=pdf_info, args=(waiting, made["p150"].stat().st_size))
        with caplog.at_level(logging.WARNING):
            worker.start()
            assert inside.wait(5)
            logging.getLogger("pypdf._reader").warning("from another thread")
            done.set()
            worker.join(5)
    assert [r.getMessage() for r in caplog.records] == ["from another thread"]


def test_looking_at_a_pdf_is_what_imports_pypdf() -> None:
    """The PDF modules load without pypdf: it comes with the first PDF looked at."""
    data = classic_pdf({1: CATALOG, 2: b"<< /Type /Pages /Kids [] /Count 0 >>"})
    code = (
        "import sys, router, router._model.pdf; print('pypdf' in sys.modules); "
        f"data = {data!r}; router._model.pdf.pdf_info(lambda o, n: data[o : o + n], len(data)); "
        "print('pypdf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]
