"""Real images for the image tests, made with Pillow at test time (HEIC through pillow-heif).

The picture is a gradient with a red square in its top-left corner and a blue one in its bottom-right, so a
test can tell which way up a fitted image is; ``noise`` adds grain that no encoder squeezes away (size tests).
"""

from __future__ import annotations

import base64
import io
import struct
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

# suffix -> Pillow's format name
FORMATS = {
    "png": "PNG",
    "jpg": "JPEG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tif": "TIFF",
    "heic": "HEIF",
    "avif": "AVIF",
}
RED, BLUE = (230, 20, 20), (20, 20, 230)


def heif_support() -> str | None:
    """Why HEIC cannot be written here, or None when it can (pillow-heif with an HEVC encoder)."""
    try:
        import pillow_heif
    except ImportError:
        return "pillow-heif is not installed"
    pillow_heif.register_heif_opener()
    if not pillow_heif.libheif_info().get("HEIF"):
        return "this libheif has no HEVC encoder"
    return None


def picture(size: tuple[int, int], *, alpha: bool = False, noise: float = 0.0) -> Image.Image:
    """RGB(A): a gradient, red top-left and blue bottom-right squares; ``noise``: the sigma of grey grain."""
    width, height = size
    ramp = Image.linear_gradient("L").resize((width, height))
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    if noise:
        grain = Image.effect_noise((width, height), noise)
        ramp, across = Image.blend(ramp, grain, 0.5), Image.blend(across, Image.effect_noise(size, noise), 0.5)
    img = Image.merge("RGB", (ramp, across, Image.blend(ramp, across, 0.5)))
    mark = max(2, min(width, height) // 5)
    img.paste(RED, (0, 0, mark, mark))
    img.paste(BLUE, (width - mark, height - mark, width, height))
    if alpha:  # the left half see-through, fading in
        mask = Image.linear_gradient("L").rotate(90).resize((width, height))
        img.putalpha(mask)
    return img


def make_image(
    path: Path,
    fmt: str | None = None,
    size: tuple[int, int] = (96, 64),
    *,
    alpha: bool = False,
    noise: float = 0.0,
    orientation: int | None = None,
    exif_order: str = "II",
    frames: int = 1,
    app_segments: Sequence[tuple[int, bytes]] = (),
    **save: object,
) -> Path:
    """Write ``picture(size)`` to ``path`` in ``fmt`` (default: from the suffix); ``orientation`` goes into EXIF
    (byte order ``exif_order``; a TIFF's own tag), ``frames`` > 1 makes an animation, ``app_segments`` are
    (marker, payload) JPEG segments put after SOI."""
    name = FORMATS[fmt or path.suffix.lstrip(".")]
    if name == "HEIF" and (why := heif_support()):
        raise RuntimeError(why)
    img = picture(size, alpha=alpha, noise=noise)
    if orientation is not None and name == "TIFF":
        save["tiffinfo"] = {274: orientation}
    elif orientation is not None:
        save["exif"] = exif_block(orientation, exif_order)
    if frames > 1:
        shades = [Image.eval(img, lambda v, i=i: (v + 40 * i) % 256) for i in range(1, frames)]
        save.update(save_all=True, append_images=shades, duration=80, loop=0)
    buffer = io.BytesIO()
    img.save(buffer, name, **save)
    data = buffer.getvalue()
    if app_segments:
        extra = b"".join(
            b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body for marker, body in app_segments
        )
        data = data[:2] + extra + data[2:]
    path.write_bytes(data)
    return path


def image_bytes(suffix: str, size: tuple[int, int] = (96, 64), **options: Any) -> bytes:
    """``make_image`` into a temporary file of that suffix, as bytes (for data URLs and the media server)."""
    with tempfile.TemporaryDirectory() as tmp:
        return make_image(Path(tmp) / f"image.{suffix}", size=size, **options).read_bytes()


def exif_block(orientation: int, order: str = "II") -> bytes:
    """An APP1-style EXIF block holding only the Orientation tag, little- (II) or big-endian (MM) as cameras write."""
    e = "<" if order == "II" else ">"
    ifd = struct.pack(e + "HHHIH2sI", 1, 0x0112, 3, 1, orientation, b"", 0)
    return b"Exif\0\0" + order.encode() + struct.pack(e + "HI", 42, 8) + ifd


def data_url(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def counting(data: bytes) -> tuple[Callable[[int, int], bytes], list[int]]:
    """A ``read(offset, size)`` over ``data`` and the list of sizes it was asked for (to prove reads are few)."""
    asked: list[int] = []

    def read(offset: int, size: int) -> bytes:
        asked.append(size)
        return data[offset : offset + size]

    return read, asked
