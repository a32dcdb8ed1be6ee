"""Make one local image fit a route: the formats it takes, a byte cap, a longest side and a pixel count.

    fitted = fit_image(Path("IMG_0042.heic"), accepted=["image/jpeg", "image/png"], max_bytes=3_750_000,
                       max_side=8000, max_pixels=None, workdir=tmp)
    fitted.action, fitted.note   # "converted", "converted heic -> jpeg (quality 90): 2.1 MB -> 1.6 MB; ..."

The least change that fits, in this order:

==============  ===========================================================================================
kept            the format is accepted and the file is within every limit: ``path`` is the source itself
re-encoded      the same format and pixel size, a lower quality (a JPEG, WebP, AVIF or HEIF over the bytes)
converted       another format, same pixel size: the source format is not accepted (HEIC, AVIF, TIFF, BMP to
                JPEG, or PNG when the image has transparency), or a lossless one is over the bytes
downscaled      fewer pixels (aspect kept): over the side or pixel limit, or no quality gets under the bytes
==============  ===========================================================================================

Whenever the image changes, its EXIF orientation is applied to the pixels (a provider that ignores the tag
would show it turned) and EXIF, XMP and comments are dropped (camera serials, GPS); the ICC colour profile is
kept. The output format is the source format when accepted, else PNG (then WebP) for an image with transparency,
else JPEG, WebP, PNG; lossy formats go down a quality ladder, then the image shrinks step by step, never below
``MIN_SIDE`` pixels on its long side for the sake of bytes. An animation that must change keeps its first frame
(the note says so). A JPEG shrunk a lot is decoded at 1/2, 1/4 or 1/8 scale (``draft``), as Pillow's own
``thumbnail`` does. Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) stays in force.

Needs Pillow (the ``fit`` extra, with pillow-heif for HEIC/HEIF), imported on the first call that must decode;
a file kept as it is needs neither. Errors name the file, never its directory.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._model.container import reader
from .._model.image import IMAGE_MIMES, ImageInfo, canonical_image_mime, image_damage, image_info
from .engine import INSTALL_HINT
from .plan import mb
from .types import Action, CannotFit, DamagedImage, Fitted, FitUnavailable
from .workdir import Workdir

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = ["LADDER", "MIN_SIDE", "fit_image", "target_size"]

LADDER = (90, 85, 75, 60)  # qualities tried for a lossy format, best first
MIN_SIDE = 256  # pixels on the long side: shrinking for bytes stops here
STEP = (0.5, 0.9)  # bounds of one shrinking step (linear), aimed from the bytes the last attempt made

# MIME -> Pillow's format name (pillow-heif writes HEIC as "HEIF"); the suffix of the file written.
_PILLOW = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
    "image/tiff": "TIFF",
    "image/bmp": "BMP",
}
_SUFFIX = {"image/jpeg": "jpg", "image/tiff": "tif"}
# Pillow's format name -> MIME (when the header parser did not know the file); MPO: a camera's multi-picture JPEG.
_FROM_PILLOW = {name: mime for mime, name in reversed(_PILLOW.items())} | {"MPO": "image/jpeg"}
_LOSSY = frozenset({"image/jpeg", "image/webp", "image/avif", "image/heic", "image/heif"})
_NO_ALPHA = frozenset({"image/jpeg", "image/bmp"})
_NEEDS_HEIF = frozenset({"image/heic", "image/heif", "image/avif"})
# EXIF orientation -> the transpose that shows the picture upright (Pillow's ImageOps.exif_transpose table)
_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}
_METADATA = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "Raw profile type exif")


def fit_image(
    src: Path,
    *,
    accepted: Sequence[str],
    max_bytes: int | None,
    max_side: int | None,
    max_pixels: int | None,
    workdir: Path,
) -> Fitted:
    """Make ``src`` fit: in a format from ``accepted`` (MIME types, any spelling), at most ``max_bytes`` bytes
    (of the file: the caller accounts for base64), ``max_side`` pixels on its longest side and ``max_pixels``
    pixels in all; None lifts a limit.

    A new file is written to ``workdir`` (nothing is left there when this raises). Raises :class:`CannotFit`
    when no format or size meets the limits, :class:`DamagedImage` for a file that is cut short or no image
    Pillow reads, :class:`FitUnavailable` when the image must change and Pillow is not installed.
    """
    for name, value in (("max_bytes", max_bytes), ("max_side", max_side), ("max_pixels", max_pixels)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    src = Path(src)
    size = src.stat().st_size
    with src.open("rb") as fh:
        read = reader(fh)
        info = image_info(read, size)
        damage = image_damage(read, size, info) if info else None
    if damage:
        raise DamagedImage(f"{src.name} cannot be fitted: {damage}")
    wanted = {canonical_image_mime(name): name for name in reversed(accepted)}
    if info is not None and info.mime in wanted and _within(info, size, max_bytes, max_side, max_pixels):
        note = f"kept: {_short(info.mime)}, {info.width}x{info.height}, {mb(size)} within limits"
        return Fitted(src, wanted[info.mime], size, 0.0, note, "kept")
    return _Job(src, size, info, wanted, max_bytes, max_side, max_pixels, Path(workdir)).run()


def _within(info: ImageInfo, size: int, max_bytes: int | None, max_side: int | None, max_pixels: int | None) -> bool:
    return (
        (max_bytes is None or size <= max_bytes)
        and (max_side is None or max(info.width, info.height) <= max_side)
        and (max_pixels is None or info.width * info.height <= max_pixels)
    )


def _short(mime: str | None) -> str:
    return (mime or "unknown").rsplit("/", 1)[-1]


def target_size(size: tuple[int, int], max_side: int | None, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the aspect of ``size`` within both limits (``size`` itself when it is)."""
    width, height = size
    long_side, short_side = max(size), min(size)
    side = long_side if max_side is None else min(long_side, max_side)
    if max_pixels is not None:
        side = min(side, math.isqrt(max_pixels * long_side * long_side // (width * height)))

    def scaled(side: int) -> tuple[int, int]:
        other = max(1, round(short_side * side / long_side))
        return (side, other) if width >= height else (other, side)

    while side > 1 and max_pixels is not None and math.prod(scaled(side)) > max_pixels:
        side -= 1
    return size if side >= long_side else scaled(max(side, 1))


@functools.cache
def _pillow() -> frozenset[str]:
    """The types this Pillow writes; HEIC/HEIF when pillow-heif is installed (registered only when a file needs it)."""
    try:
        from PIL import features
    except ImportError:
        raise FitUnavailable(f"fitting images needs Pillow, which is not installed: {INSTALL_HINT}") from None
    found = {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/tiff"}  # every Pillow writes these
    found |= {"image/webp"} if features.check_module("webp") else set()
    found |= {"image/avif"} if _native_avif() else set()
    found |= {"image/heic", "image/heif"} if importlib.util.find_spec("pillow_heif") else set()
    return frozenset(found)


def _native_avif() -> bool:
    from PIL import features

    try:
        return bool(features.check_module("avif"))
    except ValueError:  # a Pillow older than 11.2 does not know the module
        return False


@functools.cache
def _register_heif() -> None:
    """pillow-heif's opener (and its AVIF one where this Pillow has no AVIF of its own), once, when installed."""
    try:
        heif: Any = importlib.import_module("pillow_heif")
    except ImportError:
        return
    heif.register_heif_opener()
    if not _native_avif() and hasattr(heif, "register_avif_opener"):
        heif.register_avif_opener()


class _Job:
    """One image decoded once, then encoded until an attempt fits; nothing is written before one does."""

    def __init__(
        self,
        src: Path,
        size: int,
        info: ImageInfo | None,
        wanted: dict[str, str],
        max_bytes: int | None,
        max_side: int | None,
        max_pixels: int | None,
        workdir: Path,
    ) -> None:
        self.src, self.name, self.size, self.info, self.wanted = src, src.name, size, info, wanted
        self.max_bytes, self.max_side, self.max_pixels, self.workdir = max_bytes, max_side, max_pixels, workdir
        self.tried: list[str] = []
        self.extras: list[str] = []
        self.source_name = "unknown"

    def run(self) -> Fitted:
        writable = _pillow()
        from PIL import Image, UnidentifiedImageError

        if not writable & self.wanted.keys():
            names = ", ".join(sorted(self.wanted.values())) or "no image format"
            raise CannotFit(
                f"{self.name} must change and the route takes {names}: none can be written", reason="format"
            )
        if self.info is None or self.info.mime in _NEEDS_HEIF:  # libheif loads for the files that need it
            _register_heif()
        try:
            with Image.open(self.src) as img:
                source = (self.info.mime if self.info else None) or _FROM_PILLOW.get(img.format or "")
                self.source_name = _short(source) if source else (img.format or "unknown").lower()
                picture, upright = self._decode(img)
        except Image.DecompressionBombError:
            raise CannotFit(
                f"{self.name} has more pixels than Pillow decodes safely ({2 * (Image.MAX_IMAGE_PIXELS or 0):,}, "
                "its decompression-bomb limit)",
                reason="pixels",
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
            unknown = isinstance(exc, UnidentifiedImageError)  # its message holds the path
            why = "" if unknown else f" ({str(exc).replace(str(self.src), self.name)})"
            raise DamagedImage(f"{self.name} is not an image Pillow can read{why}") from None
        alpha = _transparent(picture)
        if alpha and picture.mode not in ("RGBA", "LA"):
            picture = picture.convert("RGBA")  # a transparent colour (PNG's tRNS) as an alpha channel
        elif not alpha and picture.mode in ("RGBA", "LA", "PA"):
            picture = picture.convert("L" if picture.mode == "LA" else "RGB")  # no pixel was see-through
        icc = picture.info.get("icc_profile")
        picture.info = {}  # EXIF, XMP, comments: encoders copy some of them from here
        order = [source, *(("image/png", "image/webp") if alpha else ("image/jpeg", "image/webp", "image/png"))]
        formats = [m for m in dict.fromkeys([*order, *IMAGE_MIMES]) if m in self.wanted and m in writable]
        if alpha and formats[0] in _NO_ALPHA:
            self.extras.append("transparency flattened onto white")
        data, mime, quality, out = self._search(picture, formats, alpha, icc)
        return self._write(data, mime, quality, out.size, source, upright)

    def _decode(self, img: ImageFile.ImageFile) -> tuple[Image.Image, tuple[int, int]]:
        """The picture upright, at the size the limits allow (a JPEG decoded at a reduced scale when it helps)."""
        from PIL import Image

        frames = getattr(img, "n_frames", 1)
        if frames > 1 and img.format != "MPO":
            self.extras.append(f"first of {frames} frames only")
        if img.format not in ("JPEG", "MPO"):  # only a JPEG is worth not decoding whole (draft, below)
            img.load()  # and some decoders turn the picture as they load it (Pillow's TIFF): ask afterwards
        orientation = img.getexif().get(0x0112, 1)
        turned = orientation in (5, 6, 7, 8)
        upright = (img.height, img.width) if turned else img.size
        goal = target_size(upright, self.max_side, self.max_pixels)
        if any(key in img.info for key in _METADATA):
            self.extras.append("metadata dropped")
        picture: Image.Image = img
        if img.mode in ("P", "1", "PA"):  # palette images resize by nearest neighbour: go to full colour first
            picture = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
        elif img.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"):
            picture = img.convert("RGBA" if "A" in img.mode else "RGB")
        if goal != upright:  # as Pillow's thumbnail does it, to the exact size aimed at
            stored = (goal[1], goal[0]) if turned else goal
            reduced = picture.draft(None, (stored[0] * 2, stored[1] * 2))  # a JPEG decoded at 1/2, 1/4 or 1/8
            picture = picture.resize(stored, _lanczos(), box=reduced[1] if reduced else None, reducing_gap=2.0)
        else:
            picture.load()
        if orientation in _TRANSPOSE:  # the small picture turned
            picture = picture.transpose(Image.Transpose(_TRANSPOSE[orientation]))
            self.extras.insert(0, "EXIF orientation applied")
        return picture, upright

    def _search(
        self, picture: Image.Image, formats: list[str], alpha: bool, icc: bytes | None
    ) -> tuple[bytes, str, int | None, Image.Image]:
        """The first encoding under the byte cap: the best format's ladder, a lossy one (keeping transparency) for
        a lossless format that is too big, then smaller sizes in the one that came out smallest."""
        first = formats[0]
        lossy = next((m for m in formats if m in _LOSSY and not (alpha and m in _NO_ALPHA)), None)
        choices = [first] if first in _LOSSY or lossy is None else [first, lossy]
        current = picture
        floor = min(MIN_SIDE, max(picture.size))
        while True:
            made: dict[str, int] = {}
            for mime in choices:
                for quality in LADDER if mime in _LOSSY else (None,):
                    data = _encode(current, mime, quality, alpha, icc)
                    if self.max_bytes is None or len(data) <= self.max_bytes:
                        return data, mime, quality, current
                    made[mime] = min(made.get(mime, len(data)), len(data))
                label = f"{_short(mime)}{f' quality {LADDER[-1]}' if mime in _LOSSY else ''}"
                self.tried.append(f"{label} at {current.width}x{current.height} ({mb(made[mime])})")
            choices = [min(made, key=made.__getitem__)]
            smallest = made[choices[0]]
            assert self.max_bytes is not None
            if max(current.size) <= floor:
                raise CannotFit(
                    f"{self.name} could not be brought under {mb(self.max_bytes)} at {floor} px or more",
                    reason="budget",
                    tried=self.tried,
                )
            factor = min(max(math.sqrt(self.max_bytes / smallest) * 0.95, STEP[0]), STEP[1])
            side = max(floor, int(max(current.size) * factor))
            current = picture.resize(target_size(picture.size, side, None), _lanczos(), reducing_gap=2.0)

    def _write(
        self,
        data: bytes,
        mime: str,
        quality: int | None,
        size: tuple[int, int],
        source: str | None,
        upright: tuple[int, int],
    ) -> Fitted:
        action: Action
        what = []
        if size != upright:
            what.append(f"downscaled {upright[0]}x{upright[1]} -> {size[0]}x{size[1]}")
        if mime != source:
            what.append(f"converted {self.source_name} -> {_short(mime)}")
        elif size == upright:
            what.append(f"re-encoded {_short(mime)}")
        action = "downscaled" if size != upright else "converted" if mime != source else "re-encoded"
        note = " and ".join(what) + (f" (quality {quality})" if quality else "")
        note += f": {mb(self.size)} -> {mb(len(data))}" + "".join(f"; {extra}" for extra in self.extras)
        files = Workdir(self.workdir)
        path = files.new(_SUFFIX.get(mime, _short(mime)))
        try:
            path.write_bytes(data)
        except BaseException:
            files.discard()
            raise
        return Fitted(path, self.wanted[mime], len(data), 0.0, note, action)


def _lanczos() -> Image.Resampling:
    from PIL import Image

    return Image.Resampling.LANCZOS


def _transparent(picture: Image.Image) -> bool:
    """Whether any pixel is see-through (an alpha channel that is all opaque does not count)."""
    if picture.mode in ("RGBA", "LA", "PA"):
        alpha = picture.getchannel("A")
    elif "transparency" in picture.info:
        alpha = picture.convert("RGBA").getchannel("A")
    else:
        return False
    low = alpha.getextrema()[0]
    return isinstance(low, (int, float)) and low < 255


def _encode(picture: Image.Image, mime: str, quality: int | None, alpha: bool, icc: bytes | None) -> bytes:
    """``picture`` in ``mime``, with no metadata but its colour profile (when the colours stay in its space)."""
    from PIL import Image

    out = picture
    if picture.mode in _WIDE and mime not in ("image/png", "image/tiff"):  # 16-bit grey: to 8 bits, not clipped
        picture = out = picture.convert("I").point(lambda value: value / 256).convert("L")
    if mime in _NO_ALPHA:
        if alpha:
            out = Image.new("RGB", picture.size, "white")
            out.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
        elif picture.mode not in ("L", "RGB"):
            out = picture.convert("RGB")
    elif mime in ("image/webp", "image/avif", "image/heic", "image/heif") or picture.mode in ("CMYK", "F"):
        out = picture.convert("RGBA" if alpha else "RGB") if picture.mode not in ("RGB", "RGBA") else picture
    params: dict[str, Any] = {}
    if icc and _space(out.mode) == _space(picture.mode) and mime not in ("image/gif", "image/bmp"):
        params["icc_profile"] = icc
    if quality is not None:
        params["quality"] = quality
    if mime == "image/tiff":
        params["compression"] = "tiff_adobe_deflate"
    if _PILLOW[mime] == "HEIF":
        _register_heif()
    buffer = io.BytesIO()
    out.save(buffer, _PILLOW[mime], **params)
    return buffer.getvalue()


_WIDE = frozenset({"I", "I;16", "I;16B", "I;16L"})


def _space(mode: str) -> str:
    return "cmyk" if mode == "CMYK" else "grey" if mode in ("1", "L", "LA", "I", "I;16", "F") else "rgb"
