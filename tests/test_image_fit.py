"""``fit_image`` on real files: the least change that fits the route's formats, bytes, side and pixel limits."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imageclips import BLUE, RED, exif_block, heif_support, make_image, picture
from PIL import Image, ImageCms, features

from router._base.rules import RULES
from router._fit import image as fitimage
from router._fit.image import MIN_SIDE, fit_image, target_size
from router._fit.types import CannotFit, DamagedImage, FitUnavailable

NO_HEIC = heif_support()
MB = 1_000_000
WEB = ["image/png", "image/jpeg", "image/webp", "image/gif"]  # what Anthropic and OpenAI take


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _near(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=False))


def test_an_accepted_image_within_limits_is_kept(tmp_path: Path, work: Path) -> None:
    """Nothing to do: the source itself comes back, named as the route spells the type, and nothing is written."""
    src = make_image(tmp_path / "a.jpg", size=(640, 480))
    fitted = fit_image(src, accepted=["image/jpg"], max_bytes=MB, max_side=1000, max_pixels=None, workdir=work)
    assert (fitted.path, fitted.action, fitted.mime) == (src, "kept", "image/jpg")
    assert fitted.note == f"kept: jpeg, 640x480, {fitted.size / 1e3:.0f} kB within limits"
    assert list(work.iterdir()) == []


def test_a_7_mb_png_fits_a_5_mb_cap_as_png_with_its_aspect(tmp_path: Path, work: Path) -> None:
    """A grainy PNG over the cap, on a route that takes only PNG, is shrunk until it fits, aspect kept."""
    src = make_image(tmp_path / "photo.png", size=(1950, 1300), noise=90)
    assert 6.5 * MB < src.stat().st_size < 7.5 * MB
    fitted = fit_image(src, accepted=["image/png"], max_bytes=5 * MB, max_side=None, max_pixels=None, workdir=work)
    assert fitted.action == "downscaled"
    assert fitted.size == fitted.path.stat().st_size <= 5 * MB
    with Image.open(fitted.path) as img:
        assert img.format == "PNG"
        assert abs(img.width / img.height - 1.5) < 0.01
        assert img.width < 1950
    assert fitted.note.startswith("downscaled 1950x1300 -> ")


def test_a_png_over_the_cap_becomes_a_jpeg_at_full_size_when_the_route_takes_jpeg(tmp_path: Path, work: Path) -> None:
    """Converting keeps every pixel: better than shrinking when a lossy format is accepted."""
    src = make_image(tmp_path / "photo.png", size=(1950, 1300), noise=90)
    fitted = fit_image(src, accepted=WEB, max_bytes=5 * MB, max_side=None, max_pixels=None, workdir=work)
    assert (fitted.action, fitted.mime) == ("converted", "image/jpeg")
    assert fitted.size <= 5 * MB
    assert fitted.note.startswith("converted png -> jpeg (quality 90): ")
    with Image.open(fitted.path) as img:
        assert img.size == (1950, 1300)


def test_a_9000_px_wide_image_comes_down_to_an_8000_px_side(tmp_path: Path, work: Path) -> None:
    """Over the side limit: the long side becomes exactly the limit, the short one follows the aspect."""
    src = make_image(tmp_path / "wide.png", size=(9000, 3000))
    fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=8000, max_pixels=None, workdir=work)
    assert (fitted.action, fitted.mime) == ("downscaled", "image/png")
    with Image.open(fitted.path) as img:
        assert img.size == (8000, 2667)
    assert fitted.note.startswith("downscaled 9000x3000 -> 8000x2667: ")


def test_a_jpeg_shrunk_a_lot_is_decoded_at_a_reduced_scale(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JPEG draft mode: a 4000x3000 photo going to 400 px is decoded at 1/4 scale (still twice the goal), as
    Pillow's thumbnail does it, not whole."""
    from PIL import JpegImagePlugin

    drafts: list[object] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        drafts.append(draft(self, mode, size))
        drafts.append(self.size)
        return drafts[-2]

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    src = make_image(tmp_path / "big.jpg", size=(4000, 3000))
    fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=400, max_pixels=None, workdir=work)
    assert drafts[1] == (1000, 750)
    with Image.open(fitted.path) as img:
        assert img.size == (400, 300)


def test_a_pixel_limit_is_met_with_the_aspect_kept(tmp_path: Path, work: Path) -> None:
    """``max_pixels`` bounds width times height (a megapixel cap), not a side."""
    src = make_image(tmp_path / "a.jpg", size=(3000, 2000))
    fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=None, max_pixels=1_150_000, workdir=work)
    with Image.open(fitted.path) as img:
        assert img.width * img.height <= 1_150_000
        assert img.size == (1313, 875)


# EXIF orientation -> the transpose that turns an upright picture into what the file stores with that tag
_STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("suffix", ["jpg", "tif"])
@pytest.mark.parametrize("orientation", sorted(_STORE))
def test_every_orientation_comes_out_upright(orientation: int, suffix: str, tmp_path: Path, work: Path) -> None:
    """Each of the seven turns and mirrors EXIF (or a TIFF's own tag) can ask for is undone in the pixels: the
    red corner is top-left again and the blue one bottom-right, at the upright size."""
    stored = picture((300, 200)).transpose(_STORE[orientation])
    src = tmp_path / f"turned.{suffix}"
    if suffix == "tif":
        stored.save(src, tiffinfo={274: orientation})
    else:
        stored.save(src, exif=exif_block(orientation), quality=95)
    fitted = fit_image(src, accepted=["image/png"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    with Image.open(fitted.path) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (300, 200)
        assert _near(rgb.getpixel((5, 5)), RED)  # type: ignore[arg-type]
        assert _near(rgb.getpixel((294, 194)), BLUE)  # type: ignore[arg-type]


def test_a_rotated_jpeg_comes_out_upright_with_no_exif(tmp_path: Path, work: Path) -> None:
    """EXIF Orientation 6 (turn clockwise to view) is applied to the pixels, and no EXIF is left to turn it again."""
    src = make_image(tmp_path / "phone.jpg", size=(600, 400), orientation=6, comment=b"serial 1234")
    fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=300, max_pixels=None, workdir=work)
    assert fitted.note.endswith("; EXIF orientation applied; metadata dropped")
    data = fitted.path.read_bytes()
    assert b"Exif" not in data
    assert b"serial 1234" not in data
    with Image.open(fitted.path) as img:
        assert img.size == (200, 300)  # upright: portrait
        assert not img.getexif()
        rgb = img.convert("RGB")
        # stored top-left (red) is shown top-right after a clockwise quarter turn; stored bottom-right at bottom-left
        assert _near(rgb.getpixel((195, 5)), RED)  # type: ignore[arg-type]
        assert _near(rgb.getpixel((5, 295)), BLUE)  # type: ignore[arg-type]
        assert not _near(rgb.getpixel((5, 5)), RED)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "suffix",
    [
        pytest.param("heic", marks=pytest.mark.skipif(NO_HEIC is not None, reason=f"no HEIC here: {NO_HEIC}")),
        pytest.param("avif", marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")),
        "tif",
        "bmp",
    ],
)
def test_formats_the_route_refuses_become_jpeg(suffix: str, tmp_path: Path, work: Path) -> None:
    """HEIC, AVIF, TIFF and BMP convert to JPEG for a route that takes the web formats, at the same size."""
    src = make_image(tmp_path / f"a.{suffix}", size=(320, 240))
    fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert (fitted.action, fitted.mime) == ("converted", "image/jpeg")
    assert fitted.path.suffix == ".jpg"
    assert fitted.note.startswith(f"converted {'tiff' if suffix == 'tif' else suffix} -> jpeg (quality 90): ")
    with Image.open(fitted.path) as img:
        assert (img.format, img.size) == ("JPEG", (320, 240))
        assert _near(img.convert("RGB").getpixel((4, 4)), RED)  # type: ignore[arg-type]


@pytest.mark.skipif(NO_HEIC is not None, reason=f"no HEIC here: {NO_HEIC}")
def test_a_heic_is_kept_where_the_route_takes_it(tmp_path: Path, work: Path) -> None:
    """Gemini takes HEIC: within limits, the file goes as it is."""
    src = make_image(tmp_path / "a.heic", size=(320, 240))
    fitted = fit_image(src, accepted=["image/heic"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert (fitted.action, fitted.path) == ("kept", src)


def test_a_transparent_png_stays_png_with_its_alpha(tmp_path: Path, work: Path) -> None:
    """Transparency survives: PNG when the route takes it, even where JPEG would be smaller."""
    src = make_image(tmp_path / "logo.png", size=(1000, 800), alpha=True)
    fitted = fit_image(
        src, accepted=["image/jpeg", "image/png"], max_bytes=None, max_side=500, max_pixels=None, workdir=work
    )
    assert (fitted.action, fitted.mime) == ("downscaled", "image/png")
    with Image.open(fitted.path) as img:
        assert img.mode == "RGBA"
        assert img.getchannel("A").getextrema()[0] < 10


def test_transparency_on_a_jpeg_only_route_is_flattened_and_said(tmp_path: Path, work: Path) -> None:
    """xAI takes JPEG and PNG; a route taking only JPEG gets the image on white, and the note says so."""
    src = make_image(tmp_path / "logo.webp", size=(200, 100), alpha=True)
    fitted = fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert fitted.mime == "image/jpeg"
    assert "transparency flattened onto white" in fitted.note
    with Image.open(fitted.path) as img:
        assert img.mode == "RGB"
        assert _near(img.getpixel((2, 60)), (255, 255, 255))  # type: ignore[arg-type]  # see-through: now white
        assert not _near(img.getpixel((198, 60)), (255, 255, 255))  # type: ignore[arg-type]  # opaque: as it was


def test_an_opaque_alpha_channel_does_not_count_as_transparency(tmp_path: Path, work: Path) -> None:
    """An RGBA PNG whose every pixel is opaque may become a JPEG: nothing is lost."""
    src = tmp_path / "opaque.png"
    Image.new("RGBA", (3000, 2000), (10, 200, 10, 255)).save(src)
    fitted = fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=1000, max_pixels=None, workdir=work)
    assert "transparency" not in fitted.note
    assert fitted.mime == "image/jpeg"


def test_an_animated_gif_is_kept_when_accepted(tmp_path: Path, work: Path) -> None:
    """Animation is not a reason to change a file the route takes."""
    src = make_image(tmp_path / "a.gif", frames=5)
    assert fit_image(src, accepted=WEB, max_bytes=None, max_side=None, max_pixels=None, workdir=work).action == "kept"


def test_an_animated_gif_that_must_change_keeps_its_first_frame_and_says_so(tmp_path: Path, work: Path) -> None:
    """Over the side limit, an animation becomes its first frame (PNG: it came from a lossless palette)."""
    src = make_image(tmp_path / "a.gif", size=(400, 300), frames=5)
    fitted = fit_image(
        src, accepted=["image/png", "image/jpeg"], max_bytes=None, max_side=200, max_pixels=None, workdir=work
    )
    assert fitted.note.endswith("; first of 5 frames only")
    with Image.open(fitted.path) as img, Image.open(src) as first:
        assert getattr(img, "n_frames", 1) == 1
        assert img.size == (200, 150)
        assert _near(img.convert("RGB").getpixel((2, 2)), first.convert("RGB").getpixel((4, 4)))  # type: ignore[arg-type]


def test_a_jpeg_over_the_bytes_goes_down_the_quality_ladder_first(tmp_path: Path, work: Path) -> None:
    """Same format, same size, lower quality: the least change for a JPEG a little over the cap."""
    src = make_image(tmp_path / "a.jpg", size=(1200, 800), noise=60, quality=98)
    cap = src.stat().st_size * 6 // 10
    fitted = fit_image(src, accepted=WEB, max_bytes=cap, max_side=None, max_pixels=None, workdir=work)
    assert (fitted.action, fitted.mime) == ("re-encoded", "image/jpeg")
    assert fitted.size <= cap
    assert fitted.note.startswith("re-encoded jpeg (quality ")


def test_16_bit_grey_keeps_its_tones_in_an_8_bit_format(tmp_path: Path, work: Path) -> None:
    """A 16-bit greyscale PNG (scans, medical images) sent as JPEG is scaled to 8 bits, not clipped to white."""
    src = tmp_path / "scan.png"
    Image.new("I;16", (400, 300), 32768).save(src)
    fitted = fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    with Image.open(fitted.path) as img:
        assert img.mode == "L"
        assert abs(img.getpixel((200, 150)) - 128) <= 2  # type: ignore[operator]


def test_the_colour_profile_is_kept(tmp_path: Path, work: Path) -> None:
    """The ICC profile is colour, not metadata: dropping it would shift a wide-gamut photo's colours."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = make_image(tmp_path / "a.png", size=(800, 600), icc_profile=profile)
    fitted = fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    with Image.open(fitted.path) as img:
        assert img.info.get("icc_profile") == profile


def test_impossible_limits_raise_cannot_fit_and_leave_nothing(tmp_path: Path, work: Path) -> None:
    """No quality and no size down to MIN_SIDE gets a grainy image under 2 kB: CannotFit says what was tried."""
    src = make_image(tmp_path / "a.png", size=(2000, 1500), noise=80)
    with pytest.raises(CannotFit) as caught:
        fit_image(src, accepted=WEB, max_bytes=2000, max_side=None, max_pixels=None, workdir=work)
    assert caught.value.reason == "budget"
    assert caught.value.rule == "too-large"
    assert f"at {MIN_SIDE} px or more" in str(caught.value)
    assert caught.value.tried[-1].startswith(f"jpeg quality 60 at {MIN_SIDE}x192 (")
    assert str(tmp_path) not in str(caught.value)
    assert list(work.iterdir()) == []


def test_a_route_that_takes_no_writable_format_cannot_fit(tmp_path: Path, work: Path) -> None:
    """Only video on the route: the image must change and nothing can be written."""
    src = make_image(tmp_path / "a.bmp")
    with pytest.raises(
        CannotFit, match=r"^a\.bmp must change and the route takes video/mp4: none can be written$"
    ) as caught:
        fit_image(src, accepted=["video/mp4"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert caught.value.reason == "format"


def test_a_truncated_image_is_damaged(tmp_path: Path, work: Path) -> None:
    """A PNG cut short is refused before any decoding, with the structural reason and rule format-mismatch."""
    whole = make_image(tmp_path / "a.png", size=(300, 200), noise=40).read_bytes()
    src = tmp_path / "cut.png"
    src.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DamagedImage, match=r"^cut.png cannot be fitted: truncated: the `IDAT` chunk") as caught:
        fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert caught.value.rule == "format-mismatch"
    assert caught.value.rule in RULES


def test_a_file_that_is_no_image_is_damaged_without_its_directory(tmp_path: Path, work: Path) -> None:
    """Pillow's own message holds the path: the error names the file only."""
    src = tmp_path / "notes.png"
    src.write_text("not an image at all\n" * 20)
    with pytest.raises(DamagedImage) as caught:
        fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert str(caught.value) == "notes.png is not an image Pillow can read"
    assert list(work.iterdir()) == []


def test_a_decompression_bomb_is_refused(tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's pixel limit stays in force: over twice MAX_IMAGE_PIXELS the file is not decoded."""
    src = make_image(tmp_path / "bomb.png", size=(400, 300))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)
    with pytest.raises(CannotFit, match="decompression-bomb limit") as caught:
        fit_image(src, accepted=["image/jpeg"], max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert caught.value.reason == "pixels"


@contextlib.contextmanager
def _without_pillow() -> Iterator[None]:
    """Pillow made unimportable (as on a core install), its registration cache emptied around it."""
    fitimage._pillow.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in [n for n in sys.modules if n == "PIL" or n.startswith("PIL.")]:
                patch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
            yield
    finally:
        fitimage._pillow.cache_clear()


def test_without_pillow_a_change_says_what_to_install(tmp_path: Path, work: Path) -> None:
    """An image that must change needs Pillow; the error names the extra."""
    src = make_image(tmp_path / "a.bmp")
    with _without_pillow(), pytest.raises(FitUnavailable, match=r"pip install 'router\[fit\]'"):
        fit_image(src, accepted=WEB, max_bytes=None, max_side=None, max_pixels=None, workdir=work)


def test_without_pillow_a_kept_image_needs_nothing(tmp_path: Path, work: Path) -> None:
    """Keeping reads only the header: no decoder is needed for an image that fits."""
    src = make_image(tmp_path / "a.png")
    with _without_pillow():
        fitted = fit_image(src, accepted=WEB, max_bytes=None, max_side=None, max_pixels=None, workdir=work)
    assert fitted.action == "kept"


def test_pillow_loads_on_the_first_decode_and_libheif_only_for_heif(tmp_path: Path) -> None:
    """Importing loads no Pillow; fitting a JPEG loads Pillow but not pillow-heif (libheif), which only a HEIF
    file or a HEIF output needs (a fresh interpreter proves it)."""
    src = make_image(tmp_path / "a.jpg", size=(400, 300))
    code = (
        "import sys; from pathlib import Path; import router._fit.image as m; seen = ['PIL' in sys.modules]; "
        f"m.fit_image(Path({str(src)!r}), accepted=['image/png'], max_bytes=None, max_side=None, max_pixels=None, "
        f"workdir=Path({str(tmp_path)!r})); print(seen + ['PIL' in sys.modules, 'pillow_heif' in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[False, True, False]"


def test_limits_must_be_positive(tmp_path: Path, work: Path) -> None:
    """A zero or negative limit is a caller's mistake, said as such."""
    with pytest.raises(ValueError, match="max_side must be positive"):
        fit_image(tmp_path / "x.png", accepted=WEB, max_bytes=None, max_side=0, max_pixels=None, workdir=work)


@given(
    st.integers(1, 20_000),
    st.integers(1, 20_000),
    st.none() | st.integers(1, 10_000),
    st.none() | st.integers(1, 50_000_000),
)
def test_the_target_size_is_within_both_limits_with_the_aspect(
    width: int, height: int, max_side: int | None, max_pixels: int | None
) -> None:
    """The size aimed at never breaks a limit, keeps the aspect to a pixel, and is the size itself when it fits."""
    w, h = target_size((width, height), max_side, max_pixels)
    assert max_side is None or max(w, h) <= max_side
    assert max_pixels is None or w * h <= max_pixels or (w, h) == (1, 1)
    if (max_side is None or max(width, height) <= max_side) and (max_pixels is None or width * height <= max_pixels):
        assert (w, h) == (width, height)
    elif min(w, h) > 1:
        assert abs(w / h - width / height) <= width / height * (1 / min(w, h)) + 1e-9
