"""Real video clips for tests, encoded with PyAV (FFmpeg's libraries) at test time."""

from __future__ import annotations

import base64
import functools
import random
import tempfile
from fractions import Fraction
from pathlib import Path

import av

# suffix -> (container format, codec, MIME type a provider knows it by)
FORMATS: dict[str, tuple[str, str, str]] = {
    "mp4": ("mp4", "libx264", "video/mp4"),
    "mov": ("mov", "libx264", "video/mov"),
    "webm": ("webm", "libvpx", "video/webm"),
    "mpeg": ("mpeg", "mpeg1video", "video/mpeg"),
    "mkv": ("matroska", "libx264", "video/x-matroska"),
}


def make_clip(
    path: Path, *, seconds: float = 1.0, fps: int = 10, size: tuple[int, int] = (64, 48), noise: bool = False
) -> Path:
    """Encode a short clip whose container follows the file suffix; ``noise`` makes it big on purpose."""
    fmt, codec, _ = FORMATS[path.suffix.lstrip(".")]
    rng = random.Random(7)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps if codec != "mpeg1video" else 25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        rate = fps if codec != "mpeg1video" else 25
        stream.time_base = Fraction(1, rate)
        for i in range(max(1, round(seconds * rate))):
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            for plane in frame.planes:
                n = plane.buffer_size
                plane.update(rng.randbytes(n) if noise else bytes([(i * 9) % 255]) * n)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@functools.cache
def clip_bytes(suffix: str = "mp4", seconds: float = 1.0) -> bytes:
    """The bytes of a small real clip, encoded once per test process."""
    with tempfile.TemporaryDirectory() as tmp:
        return make_clip(Path(tmp) / f"clip.{suffix}", seconds=seconds).read_bytes()


def data_url(suffix: str = "mp4", mime: str | None = None, seconds: float = 1.0) -> str:
    """A real clip as a base64 data URL (``mime`` overrides the declared type)."""
    payload = base64.b64encode(clip_bytes(suffix, seconds)).decode()
    return f"data:{mime or FORMATS[suffix][2]};base64,{payload}"
