"""What an image's bytes say without a decoder: the format, the size and orientation, and damage cheap to see.

Every file is a real one Pillow (and pillow-heif) wrote here; each is read from disk and through a base64 data URL.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imageclips import counting, data_url, heif_support, make_image
from PIL import Image, features

from router._model.container import reader
from router._model.image import IMAGE_MIMES, ImageInfo, canonical_image_mime, image_damage, image_info
from router._model.media import parse_data_url

NO_HEIC = heif_support()
needs_heic = pytest.mark.skipif(NO_HEIC is not None, reason=f"cannot write HEIC here: {NO_HEIC}")
needs_avif = pytest.mark.skipif(not features.check("avif"), reason="this Pillow was built without AVIF")


def _info(data: bytes) -> ImageInfo | None:
    return image_info(reader(io.BytesIO(data)), len(data))


def _damage(data: bytes) -> str | None:
    info = _info(data)
    assert info is not None
    return image_damage(reader(io.BytesIO(data)), len(data), info)


# name -> (suffix, make_image keywords, the ImageInfo expected)
CASES: dict[str, tuple[str, dict[str, object], ImageInfo]] = {
    "png": ("png", {}, ImageInfo("image/png", 96, 64, 1)),
    "png-alpha": ("png", {"alpha": True}, ImageInfo("image/png", 96, 64, 1)),
    "apng": ("png", {"frames": 3}, ImageInfo("image/png", 96, 64, 3)),
    "jpeg": ("jpg", {"size": (120, 80)}, ImageInfo("image/jpeg", 120, 80)),
    "jpeg-rotated": ("jpg", {"orientation": 6}, ImageInfo("image/jpeg", 96, 64, None, 6)),
    "jpeg-rotated-big-endian-exif": (
        "jpg",
        {"orientation": 5, "exif_order": "MM"},
        ImageInfo("image/jpeg", 96, 64, None, 5),
    ),
    "jpeg-progressive": ("jpg", {"progressive": True}, ImageInfo("image/jpeg", 96, 64)),
    "gif": ("gif", {}, ImageInfo("image/gif", 96, 64, 1)),
    "gif-animated": ("gif", {"frames": 4}, ImageInfo("image/gif", 96, 64, 4)),
    "webp": ("webp", {}, ImageInfo("image/webp", 96, 64, 1)),
    "webp-lossless": ("webp", {"lossless": True}, ImageInfo("image/webp", 96, 64, 1)),
    "webp-alpha": ("webp", {"alpha": True}, ImageInfo("image/webp", 96, 64, 1)),
    "webp-animated": ("webp", {"frames": 3}, ImageInfo("image/webp", 96, 64, 3)),
    "webp-rotated": ("webp", {"orientation": 8}, ImageInfo("image/webp", 96, 64, 1, 8)),
    "bmp": ("bmp", {}, ImageInfo("image/bmp", 96, 64)),
    "tiff": ("tif", {}, ImageInfo("image/tiff", 96, 64)),
    "tiff-rotated": ("tif", {"orientation": 3}, ImageInfo("image/tiff", 96, 64, None, 3)),
    "bigtiff-rotated": ("tif", {"orientation": 7, "big_tiff": True}, ImageInfo("image/tiff", 96, 64, None, 7)),
    "heic": ("heic", {}, ImageInfo("image/heic", 96, 64)),
    "heic-rotated": ("heic", {"orientation": 6}, ImageInfo("image/heic", 96, 64, None, 6)),
    "avif": ("avif", {}, ImageInfo("image/avif", 96, 64)),
}


def _case(name: str, tmp_path: Path) -> Path:
    suffix, options, _ = CASES[name]
    if suffix == "heic" and NO_HEIC:
        pytest.skip(f"cannot write HEIC here: {NO_HEIC}")
    if suffix == "avif" and not features.check("avif"):
        pytest.skip("this Pillow was built without AVIF")
    return make_image(tmp_path / f"{name}.{suffix}", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_header_gives_format_size_frames_and_orientation(name: str, tmp_path: Path) -> None:
    """Each format's header yields the real type, the stored pixel size, the frame count and the orientation."""
    assert _info(_case(name, tmp_path).read_bytes()) == CASES[name][2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_base64_data_url_reads_the_same(name: str, tmp_path: Path) -> None:
    """Through a data URL's on-demand decoding the answer is the same as from the file."""
    path = _case(name, tmp_path)
    data = parse_data_url(data_url(path, "image/whatever"))
    assert image_info(data.read, data.decoded_size) == CASES[name][2]
    assert image_damage(data.read, data.decoded_size, CASES[name][2]) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_whole_file_is_not_damaged(name: str, tmp_path: Path) -> None:
    """No whole file Pillow wrote is called damaged."""
    assert _damage(_case(name, tmp_path).read_bytes()) is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_displayed_size_is_what_pillow_shows(name: str, tmp_path: Path) -> None:
    """``display_size`` is the size Pillow shows once orientation is applied (pillow-heif applies `irot` itself)."""
    from PIL import ImageOps

    path = _case(name, tmp_path)
    info = _info(path.read_bytes())
    assert info is not None
    with Image.open(path) as img:
        assert info.display_size == ImageOps.exif_transpose(img).size


def test_a_rotated_image_shows_with_width_and_height_swapped() -> None:
    """Orientations 5-8 turn the picture by a quarter: the displayed width is the stored height."""
    assert ImageInfo("image/jpeg", 4032, 3024, None, 6).display_size == (3024, 4032)
    assert ImageInfo("image/jpeg", 4032, 3024, None, 3).display_size == (4032, 3024)
    assert ImageInfo("image/gif", 10, 10, 4).animated
    assert not ImageInfo("image/gif", 10, 10, 1).animated


def test_jpeg_app_segments_of_any_size_are_skipped_not_read(tmp_path: Path) -> None:
    """Big APPn segments (one holding a whole JPEG thumbnail of another size) are stepped over by their length:
    the answer comes from the real frame header, in a handful of small reads."""
    thumb = make_image(tmp_path / "thumb.jpg", size=(16, 12)).read_bytes()
    big = make_image(
        tmp_path / "big.jpg",
        size=(200, 150),
        orientation=8,
        app_segments=[(0xE2, b"ICC_PROFILE\0" + bytes(60_000)), (0xEB, thumb), (0xE9, bytes(65_000))],
    ).read_bytes()
    read, asked = counting(big)
    assert image_info(read, len(big)) == ImageInfo("image/jpeg", 200, 150, None, 8)
    assert len(asked) < 20
    assert sum(asked) < 200
    with Image.open(io.BytesIO(big)) as img:
        assert img.size == (200, 150)


@needs_heic
def test_heic_size_is_the_primary_items_not_the_first_one(tmp_path: Path) -> None:
    """A HEIF holding three images of different sizes reports the primary one (found through `pitm` and `ipma`),
    neither the first item nor the last: the one pillow-heif decodes."""
    import pillow_heif

    heif = pillow_heif.from_pillow(Image.new("RGB", (64, 48), "red"))
    heif.add_from_pillow(Image.new("RGB", (320, 200), "blue"))
    heif.add_from_pillow(Image.new("RGB", (128, 96), "green"))
    path = tmp_path / "three.heic"
    heif.save(path, primary_index=1, quality=60)
    data = path.read_bytes()
    assert data.count(b"ispe") == 3
    assert _info(data) == ImageInfo("image/heic", 320, 200)
    with Image.open(path) as img:
        assert img.size == (320, 200)


@pytest.mark.parametrize(
    ("declared", "canonical"),
    [
        ("image/jpg", "image/jpeg"),
        ("IMAGE/PJPEG", "image/jpeg"),
        ("image/x-png", "image/png"),
        ("image/x-ms-bmp", "image/bmp"),
        ("image/tif", "image/tiff"),
        ("image/heic-sequence", "image/heic"),
        ("image/webp; q=1", "image/webp"),
        ("image/avif", "image/avif"),
        ("video/mp4", "video/mp4"),
    ],
)
def test_aliases_have_one_name(declared: str, canonical: str) -> None:
    """Every spelling of an image type maps to the one name in IMAGE_MIMES; other types pass lower-cased."""
    assert canonical_image_mime(declared) == canonical
    assert canonical in IMAGE_MIMES or not canonical.startswith("image/")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world" * 10,
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64),  # an mp4
        b"\x89PNG\r\n\x1a\n\x00\x00",  # a PNG cut inside its header
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # a JPEG cut before its frame header
        b"BMxxxxxxxx" + struct.pack("<I", 999) + bytes(20),  # "BM" and no header size Windows wrote
    ],
)
def test_bytes_that_are_no_image_give_none(data: bytes) -> None:
    """Other files, or a header cut short, give None rather than a guess or an exception."""
    assert _info(data) is None


# -- damage -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "options", "expected"),
    [
        ("png", {}, "truncated: the `IDAT` chunk"),
        ("jpg", {}, "no end-of-image marker"),
        ("jpg", {"progressive": True}, "no end-of-image marker"),
        ("gif", {"frames": 3}, "is cut off"),
        ("webp", {}, "RIFF header says"),
        ("bmp", {}, "its pixels need"),
        ("tif", {}, "its image data runs to byte"),
        pytest.param("heic", {}, "the `mdat` box", marks=needs_heic),
        pytest.param("avif", {}, "the `mdat` box", marks=needs_avif),
    ],
)
def test_a_file_cut_short_says_why(suffix: str, options: dict[str, object], expected: str, tmp_path: Path) -> None:
    """Cut at 70 %, each format's structure tells that its own data runs past the end of the file."""
    whole = make_image(tmp_path / f"noisy.{suffix}", size=(160, 120), noise=40, **options).read_bytes()  # type: ignore[arg-type]
    reason = _damage(whole[: len(whole) * 7 // 10])
    assert expected in (reason or "")


def test_pillow_refuses_the_jpeg_cut_that_is_refused_here(tmp_path: Path) -> None:
    """A JPEG without its final FF D9 is one Pillow will not load either: the check matches the decoder."""
    whole = make_image(tmp_path / "a.jpg", size=(160, 120), noise=40).read_bytes()
    cut = whole[:-2]
    assert _damage(cut) is not None
    with Image.open(io.BytesIO(cut)) as img, pytest.raises(OSError, match="truncated"):
        img.load()


def test_bytes_after_a_whole_image_are_tolerated(tmp_path: Path) -> None:
    """A phone's video after a JPEG's end, bytes after a PNG's IEND, a GIF without its trailer: all whole."""
    jpeg = make_image(tmp_path / "a.jpg", size=(160, 120), noise=40).read_bytes()
    motion = jpeg + b"\x00\x00\x00\x18ftypmp42" + bytes(10_000)
    assert _damage(motion) is None
    png = make_image(tmp_path / "a.png").read_bytes()
    assert _damage(png + b"trailing garbage") is None
    gif = make_image(tmp_path / "a.gif", frames=2).read_bytes()
    assert gif.endswith(b"\x3b")
    assert _damage(gif[:-1]) is None


def test_a_png_without_iend_is_truncated(tmp_path: Path) -> None:
    """Whole chunks but no IEND at the end (cut exactly between chunks) is still a cut file."""
    png = make_image(tmp_path / "a.png").read_bytes()
    assert _damage(png[: png.rindex(b"IEND") - 4]) == "truncated: it has no `IEND` chunk (the end every PNG has)"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Small real files of every format this host writes, rotated where the format can say so."""
    folder = tmp_path_factory.mktemp("seeds")
    wanted = [("png", {}), ("jpg", {"orientation": 6}), ("gif", {"frames": 2}), ("webp", {"orientation": 3})]
    wanted += [("webp", {"frames": 2}), ("bmp", {}), ("tif", {"orientation": 6}), ("png", {"frames": 2})]
    wanted += [("heic", {})] * (NO_HEIC is None) + [("avif", {})] * features.check("avif")
    return [
        make_image(folder / f"{i}.{suffix}", size=(24, 16), **options).read_bytes()  # type: ignore[arg-type]
        for i, (suffix, options) in enumerate(wanted)
    ]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mangled_images_never_raise(seeds: list[bytes], data: st.DataObject) -> None:
    """Whatever the bytes (real files with junk spliced in anywhere and cut anywhere), the parser answers, never
    raises, and the damage check answers too."""
    seed = data.draw(st.sampled_from(seeds))
    at = data.draw(st.integers(0, len(seed)))
    junk = data.draw(st.binary(max_size=16))
    mangled = (seed[:at] + junk + seed[at + len(junk) :])[: data.draw(st.integers(1, len(seed) + 16))]
    info = _info(mangled)
    if info is not None:
        image_damage(reader(io.BytesIO(mangled)), len(mangled), info)
