"""PDFs on real files made with pypdf: page counts read in place (files and data URLs, bounded memory and time),
encryption and damage, and splitting or trimming by page within page and byte caps."""

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
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link, Text

from router._fit.pdf import split_pdf, trim_pdf
from router._fit.types import CannotFit, DamagedPdf, EncryptedPdf, FitError
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


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


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
    data = parse_data_url(url)
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
        "import sys, router, router._model.pdf, router._fit.pdf; print('pypdf' in sys.modules); "
        f"data = {data!r}; router._model.pdf.pdf_info(lambda o, n: data[o : o + n], len(data)); "
        "print('pypdf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]


# -- splitting and trimming -------------------------------------------------------------------------------------


def assert_whole(path: Path) -> list[int]:
    """The part reads back with pypdf in strict mode; its page markers."""
    assert len(PdfReader(path, strict=True).pages) > 0
    return page_markers(path)


def test_a_pdf_within_its_caps_is_kept(made: dict[str, Path], workdir: Path) -> None:
    """Within the page and byte caps the source itself is returned, and nothing is written."""
    src = made["p150"]
    (kept,) = split_pdf(src, max_pages=150, max_bytes=src.stat().st_size, workdir=workdir)
    assert (kept.path, kept.action, kept.mime, kept.start) == (src, "kept", "application/pdf", 0.0)
    assert kept.note == f"kept: 150 pages, {src.stat().st_size / 1e3:.0f} kB within limits"
    assert list(workdir.iterdir()) == []


def test_split_by_pages_gives_even_consecutive_parts(made: dict[str, Path], workdir: Path) -> None:
    """250 pages at 100 a part: three parts of 84, 83 and 83 pages, in order, each a whole PDF with the right pages."""
    parts = split_pdf(made["p250"], max_pages=100, max_bytes=None, workdir=workdir)
    assert [assert_whole(p.path) for p in parts] == [list(range(0, 84)), list(range(84, 167)), list(range(167, 250))]
    assert [(p.action, p.start, p.duration, p.mime) for p in parts] == [
        ("split", float(start), 0.0, "application/pdf") for start in (0, 84, 167)
    ]
    assert parts[1].note.startswith("part 2/3: pages 85-167 of 250, ")
    assert parts[1].note.endswith("(split into 3 PDFs of at most 100 pages)")
    assert sorted(workdir.iterdir()) == sorted(p.path for p in parts)
    assert all(p.size == p.path.stat().st_size for p in parts)


def test_split_by_bytes_keeps_every_part_under_the_cap(tmp_path: Path, workdir: Path) -> None:
    """A 4 MB PDF split at 1 MB: every part is within the bytes and together they hold every page in order."""
    src = make_pdf(tmp_path / "heavy.pdf", 40, image_bytes=100_000)
    parts = split_pdf(src, max_pages=None, max_bytes=1_000_000, workdir=workdir)
    assert all(p.size <= 1_000_000 for p in parts)
    assert [m for p in parts for m in assert_whole(p.path)] == list(range(40))
    assert [p.start for p in parts] == [float(sum(len(page_markers(q.path)) for q in parts[:i])) for i in range(5)]


def test_a_part_that_comes_out_over_the_bytes_is_cut_again(tmp_path: Path, workdir: Path) -> None:
    """Pages that weigh unlike: the even first cut leaves the heavy pages' part over the cap, and it is cut again
    in place, so the parts differ in length and still run in order."""
    weights = [400_000] * 10 + [10_000] * 30
    src = make_pdf(tmp_path / "skewed.pdf", 40, image_bytes=weights)
    parts = split_pdf(src, max_pages=None, max_bytes=1_500_000, workdir=workdir)
    lengths = [len(assert_whole(p.path)) for p in parts]
    assert all(p.size <= 1_500_000 for p in parts)
    assert [m for p in parts for m in page_markers(p.path)] == list(range(40))
    assert max(lengths) - min(lengths) > 1
    assert sorted(workdir.iterdir()) == sorted(p.path for p in parts)


def test_the_first_cut_never_exceeds_max_parts(tmp_path: Path, workdir: Path) -> None:
    """The byte estimate alone would cut three parts; two are allowed and two halves fit, so two are made."""
    src = make_pdf(tmp_path / "two.pdf", 100, image_bytes=97_000)
    size = src.stat().st_size
    assert size > 2 * 5_000_000 * 0.97
    assert size / 2 < 5_000_000
    parts = split_pdf(src, max_pages=None, max_bytes=5_000_000, workdir=workdir, max_parts=2)
    assert [len(assert_whole(p.path)) for p in parts] == [50, 50]


def test_a_split_holds_one_part_in_memory_not_the_source(big: Path, workdir: Path) -> None:
    """Splitting 50 MB into 5 MB parts allocates about one part at a time: the reader forgets each part's streams
    and the writer's copy is freed before the next part."""
    tracemalloc.start()
    try:
        parts = split_pdf(big, max_pages=None, max_bytes=5_000_000, workdir=workdir)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(parts) >= 10
    assert all(p.size <= 5_000_000 for p in parts)
    assert peak < 12_000_000, peak


def test_a_link_to_a_page_outside_the_part_is_dropped_not_copied(tmp_path: Path, workdir: Path) -> None:
    """A link from page 1 to page 31 would pull page 31 (and its image) into the first part: it is dropped, while a
    link within the part and a note stay."""
    src = make_pdf(tmp_path / "plain.pdf", 40, image_bytes=250_000)
    writer = PdfWriter(clone_from=src)
    writer.add_annotation(page_number=0, annotation=Link(rect=(50, 50, 200, 100), target_page_index=30))
    writer.add_annotation(page_number=0, annotation=Link(rect=(50, 150, 200, 200), target_page_index=3))
    writer.add_annotation(page_number=1, annotation=Text(text="a note", rect=(50, 50, 200, 100)))
    linked = tmp_path / "linked.pdf"
    writer.write(linked)
    first, second, *_ = split_pdf(linked, max_pages=10, max_bytes=None, workdir=workdir)
    assert first.size - second.size < 50_000  # not one 250 kB image more
    part = PdfReader(first.path)
    (link,) = [a.get_object() for a in part.pages[0]["/Annots"]]
    assert part.get_page_number(link["/Dest"][0].get_object()) == 3
    assert [a.get_object()["/Subtype"] for a in part.pages[1]["/Annots"]] == ["/Text"]


def test_too_many_parts_by_pages_is_refused_before_writing(made: dict[str, Path], workdir: Path) -> None:
    """250 pages at 100 a part need three parts: with two allowed the split is refused and nothing is written."""
    with pytest.raises(CannotFit, match=r"p250\.pdf has 250 pages: 3 parts of at most 100 pages") as caught:
        split_pdf(made["p250"], max_pages=100, max_bytes=None, workdir=workdir, max_parts=2)
    assert caught.value.reason == "too-many-parts"
    assert list(workdir.iterdir()) == []


def test_too_many_parts_by_bytes_removes_the_parts_written(tmp_path: Path, workdir: Path) -> None:
    """When the bytes need more parts than allowed, the parts already written are removed."""
    src = make_pdf(tmp_path / "heavy.pdf", 40, image_bytes=100_000)
    with pytest.raises(CannotFit) as caught:
        split_pdf(src, max_pages=None, max_bytes=1_000_000, workdir=workdir, max_parts=2)
    assert caught.value.reason == "too-many-parts"
    assert list(workdir.iterdir()) == []


def test_one_page_over_the_bytes_is_over_budget(tmp_path: Path, workdir: Path) -> None:
    """A page that alone is over the byte cap cannot be split further: reason "budget", nothing left behind."""
    src = make_pdf(tmp_path / "fat.pdf", 3, image_bytes=300_000)
    with pytest.raises(CannotFit, match=r"page 1 of fat\.pdf alone comes to 30\d kB, over 200 kB") as caught:
        split_pdf(src, max_pages=None, max_bytes=200_000, workdir=workdir)
    assert caught.value.reason == "budget"
    assert list(workdir.iterdir()) == []


def test_an_encrypted_pdf_is_kept_when_it_fits_and_refused_when_it_must_be_split(tmp_path: Path, workdir: Path) -> None:
    """Fitting never strips a PDF's protection: kept within the caps, EncryptedPdf when it would need splitting."""
    password = make_encrypted_pdf(tmp_path / "a.pdf", 6)
    permissions = make_encrypted_pdf(tmp_path / "b.pdf", 6, user_password="")
    for locked in (password, permissions):
        assert split_pdf(locked, max_pages=None, max_bytes=10_000_000, workdir=workdir)[0].action == "kept"
        with pytest.raises(EncryptedPdf, match=r"would have to be split; router does not remove") as caught:
            split_pdf(locked, max_pages=2, max_bytes=None, workdir=workdir)
        assert caught.value.rule == "unsupported-format"
        with pytest.raises(EncryptedPdf, match=r"would have to be trimmed; router does not remove"):
            trim_pdf(locked, max_pages=2, max_bytes=None, workdir=workdir)
    assert list(workdir.iterdir()) == []


def test_a_damaged_pdf_is_refused_even_within_its_caps(made: dict[str, Path], tmp_path: Path, workdir: Path) -> None:
    """A truncated PDF is never kept, split nor trimmed: DamagedPdf (rule format-mismatch), naming the file, not
    its folder."""
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(made["p150"].read_bytes()[:20_000])
    for max_pages in (None, 10):
        with pytest.raises(DamagedPdf, match=r"^cut\.pdf cannot be split: truncated") as caught:
            split_pdf(cut, max_pages=max_pages, max_bytes=None, workdir=workdir)
        assert caught.value.rule == "format-mismatch"
        assert str(tmp_path) not in str(caught.value)
    with pytest.raises(DamagedPdf, match=r"^cut\.pdf cannot be trimmed: truncated"):
        trim_pdf(cut, max_pages=10, max_bytes=None, workdir=workdir)
    assert isinstance(caught.value, FitError)
    assert list(workdir.iterdir()) == []


def test_compressed_and_incrementally_updated_sources_split(tmp_path: Path, workdir: Path) -> None:
    """Object streams and an incremental update are split like any PDF: the right pages in each part."""
    packed = make_compressed_pdf(tmp_path / "packed.pdf", 30)
    grown = append_pages(make_pdf(tmp_path / "grown.pdf", 20), 10)
    for src in (packed, grown):
        parts = split_pdf(src, max_pages=12, max_bytes=None, workdir=workdir)
        assert [assert_whole(p.path) for p in parts] == [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))]


def test_trim_keeps_the_first_pages_within_both_caps(made: dict[str, Path], tmp_path: Path, workdir: Path) -> None:
    """Trimming keeps the first max_pages pages, fewer when the bytes say so, and the source when it fits."""
    (first,) = trim_pdf(made["p250"], max_pages=100, max_bytes=None, workdir=workdir)
    assert assert_whole(first.path) == list(range(100))
    assert (first.action, first.start) == ("cut", 0.0)
    assert first.note.startswith("trimmed to the first 100 of 250 pages, ")
    heavy = make_pdf(tmp_path / "heavy.pdf", 40, image_bytes=100_000)
    (light,) = trim_pdf(heavy, max_pages=30, max_bytes=1_000_000, workdir=workdir)
    kept = assert_whole(light.path)
    assert light.size <= 1_000_000
    assert kept == list(range(len(kept)))
    assert 5 <= len(kept) < 10
    assert trim_pdf(made["p150"], max_pages=150, max_bytes=None, workdir=workdir)[0].action == "kept"
    assert sorted(workdir.iterdir()) == sorted([first.path, light.path])


@pytest.mark.parametrize("limits", [{"max_pages": 0}, {"max_bytes": -1}, {"max_parts": 0}])
def test_limits_below_one_are_a_programming_error(made: dict[str, Path], workdir: Path, limits: dict[str, int]) -> None:
    """A cap of zero is a caller's mistake, said as such, before the file is read."""
    args: dict[str, int | None] = {"max_pages": 10, "max_bytes": None, **limits}
    with pytest.raises(ValueError, match="must be at least 1"):
        split_pdf(made["p150"], workdir=workdir, **args)  # type: ignore[arg-type]
