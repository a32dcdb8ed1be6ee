"""Real PDFs for the tests, made at test time (a 1,200-page one in a tenth of a second, 50 MB in a fifth).

Every page says ``(page N)`` in its content stream, N counted from 0 in the document it was first made in:
:func:`page_markers` reads them back, so a test can tell which pages a part holds. Pages may carry an image of
incompressible bytes, so sizes are realistic. pypdf writes classic cross-reference tables only; the one PDF with
object streams and a cross-reference stream (PDF 1.5, what most producers write today) is written by hand.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

_MARKER = re.compile(rb"\(page (\d+)\) Tj")
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _name(value: str) -> NameObject:
    return NameObject(value)


def make_pdf(path: Path, pages: int, *, image_bytes: int | list[int] = 0, seed: int = 0) -> Path:
    """A PDF of ``pages`` Letter pages, each with its marker and, when ``image_bytes`` says so (one size for every
    page or one per page), a grey image of that many random bytes, stored unfiltered."""
    rng = random.Random(seed)
    sizes = image_bytes if isinstance(image_bytes, list) else [image_bytes] * pages
    writer = PdfWriter()
    entries = {"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}
    font = writer._add_object(DictionaryObject({_name(k): _name(v) for k, v in entries.items()}))
    for index, weight in zip(range(pages), sizes, strict=True):
        page = writer.add_blank_page(612, 792)
        ops = f"BT /F1 24 Tf 72 720 Td (page {index}) Tj ET\n"
        resources = DictionaryObject({_name("/Font"): DictionaryObject({_name("/F1"): font})})
        if weight:
            width = 512
            image = DecodedStreamObject()
            image.set_data(rng.randbytes(width * -(-weight // width)))
            image.update(
                {
                    _name("/Type"): _name("/XObject"),
                    _name("/Subtype"): _name("/Image"),
                    _name("/Width"): NumberObject(width),
                    _name("/Height"): NumberObject(-(-weight // width)),
                    _name("/ColorSpace"): _name("/DeviceGray"),
                    _name("/BitsPerComponent"): NumberObject(8),
                }
            )
            resources[_name("/XObject")] = DictionaryObject({_name("/Im0"): writer._add_object(image)})
            ops += "q 400 0 0 300 72 300 cm /Im0 Do Q\n"
        content = DecodedStreamObject()
        content.set_data(ops.encode())
        page[_name("/Contents")] = writer._add_object(content)
        page[_name("/Resources")] = resources
    with path.open("wb") as out:
        writer.write(out)
    return path


def page_markers(path: Path) -> list[int]:
    """The marker of each page of ``path``, in order (-1 for a page without one)."""
    out = []
    for page in PdfReader(path).pages:
        contents = page.get_contents()
        found = _MARKER.search(contents.get_data() if contents is not None else b"")
        out.append(int(found.group(1)) if found else -1)
    return out


def make_encrypted_pdf(path: Path, pages: int, *, user_password: str = "secret") -> Path:  # noqa: S107 (test data)
    """A PDF encrypted with AES-256; ``user_password=""`` gives one that opens without a password (permissions
    only, under an owner password)."""
    make_pdf(path, pages)
    writer = PdfWriter(clone_from=path)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")  # noqa: S106 (test data)
    with path.open("wb") as out:
        writer.write(out)
    return path


def append_pages(path: Path, count: int) -> Path:
    """Add ``count`` marked pages as an incremental update: the original bytes stay, a second body, cross-reference
    table and ``%%EOF`` follow them. The new pages' markers go on from the old page count."""
    writer = PdfWriter(path, incremental=True)
    first = len(writer.pages)
    for index in range(first, first + count):
        page = writer.add_blank_page(612, 792)
        content = DecodedStreamObject()
        content.set_data(f"BT 72 720 Td (page {index}) Tj ET\n".encode())
        page[_name("/Contents")] = writer._add_object(content)
    with path.open("wb") as out:
        writer.write(out)
    return path


def make_compressed_pdf(path: Path, pages: int) -> Path:
    """A PDF 1.5 file whose catalog, page tree, font and page dictionaries sit in a Flate-compressed object stream,
    indexed by a compressed cross-reference stream (no classic table, no ``trailer`` keyword)."""
    page_ids = range(4, 4 + pages)
    content_ids = range(4 + pages, 4 + 2 * pages)
    stream_id, xref_id = 4 + 2 * pages, 5 + 2 * pages
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    packed = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        3: _FONT,
    }
    for page_id, content_id in zip(page_ids, content_ids, strict=True):
        packed[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {content_id} 0 R >>"
        ).encode()
    index, body = [], b""
    for number, text in packed.items():
        index.append(f"{number} {len(body)}")
        body += text + b"\n"
    head = (" ".join(index) + "\n").encode()
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, content_id in enumerate(content_ids):
        offsets[content_id] = len(out)
        out += _stream(content_id, b"", f"BT /F1 24 Tf 72 720 Td (page {number}) Tj ET".encode())
    offsets[stream_id] = len(out)
    extra = f"/Type /ObjStm /N {len(packed)} /First {len(head)} /Filter /FlateDecode".encode()
    out += _stream(stream_id, extra, zlib.compress(head + body))
    offsets[xref_id] = len(out)
    slots = {number: i for i, number in enumerate(packed)}
    rows = b"".join(
        struct.pack(">BIH", 0, 0, 65535)
        if n == 0
        else struct.pack(">BIH", 2, stream_id, slots[n])
        if n in slots
        else struct.pack(">BIH", 1, offsets[n], 0)
        for n in range(xref_id + 1)
    )
    extra = f"/Type /XRef /Size {xref_id + 1} /W [1 4 2] /Root 1 0 R /Filter /FlateDecode".encode()
    out += _stream(xref_id, extra, zlib.compress(rows))
    out += f"startxref\n{offsets[xref_id]}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def _stream(number: int, extra: bytes, data: bytes) -> bytes:
    head = f"{number} 0 obj\n<< ".encode() + extra + f" /Length {len(data)} >>\nstream\n".encode()
    return head + data + b"\nendstream\nendobj\n"


def classic_pdf(objects: dict[int, bytes], *, root: int = 1) -> bytes:
    """A PDF from object bodies as written (hostile structures included), with a correct classic cross-reference
    table and trailer: whatever is wrong with it is what the bodies say."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    table = len(out)
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for number in range(1, size):
        out += (f"{offsets[number]:010d} 00000 n \n" if number in offsets else "0000000000 65535 f \n").encode()
    out += f"trailer\n<< /Size {size} /Root {root} 0 R >>\nstartxref\n{table}\n%%EOF\n".encode()
    return bytes(out)
