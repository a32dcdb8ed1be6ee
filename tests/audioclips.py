"""Real audio files for tests, encoded with PyAV at test time: a tone under noise (so encoders cannot squeeze
it to nothing), in any format ``input_audio`` names, plus an Ogg file with a video stream."""

from __future__ import annotations

import functools
import math
import random
import struct
import tempfile
from fractions import Fraction
from pathlib import Path

import av

# format -> (FFmpeg muxer, encoder, encoder options); the suffix of the path is the format's name
AUDIO_FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    "wav": ("wav", "pcm_s16le", {}),
    "mp3": ("mp3", "libmp3lame", {}),
    "m4a": ("ipod", "aac", {}),
    "aac": ("adts", "aac", {}),
    "flac": ("flac", "flac", {}),
    "ogg": ("ogg", "libopus", {}),
    "vorbis": ("ogg", "vorbis", {"strict": "experimental"}),  # Ogg Vorbis, with FFmpeg's own encoder
    "aiff": ("aiff", "pcm_s16be", {}),
    "webm": ("webm", "libopus", {}),
    "amr": ("amr", "libopencore_amrnb", {}),
    "mp4": ("mp4", "aac", {}),  # audio-only mp4 with the generic `isom` brand
}
_RATE = {"ogg": 48_000, "webm": 48_000, "amr": 8_000}


def make_audio(
    path: Path,
    fmt: str | None = None,
    seconds: float = 2.0,
    *,
    rate: int = 44_100,
    channels: int = 2,
    bit_rate: int | None = None,
    noise: int = 3000,
) -> Path:
    """Encode ``seconds`` of a 440 Hz tone under noise as ``fmt`` (default: the path's suffix) into ``path``."""
    fmt = fmt or path.suffix.lstrip(".")
    muxer, codec, options = AUDIO_FORMATS[fmt]
    rate = _RATE.get(fmt, rate)
    channels = 1 if fmt == "amr" else channels
    layout = "stereo" if channels == 2 else "mono"
    total = round(seconds * rate)
    second = _second(rate, channels, noise)  # one second of samples, repeated: the noise still defeats encoders
    width = 2 * channels
    with av.open(str(path), "w", format=muxer) as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.layout = layout
        if bit_rate:
            stream.bit_rate = bit_rate
        for start in range(0, total, 1024):
            count = min(1024, total - start)
            at = start % rate
            chunk = (second[at * width :] + second)[: count * width]
            frame = av.AudioFrame(format="s16", layout=layout, samples=count)
            frame.sample_rate = rate
            frame.planes[0].update(chunk)
            frame.pts, frame.time_base = start, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@functools.cache
def _second(rate: int, channels: int, noise: int) -> bytes:
    """One second of a 440 Hz tone under noise, as interleaved little-endian 16-bit samples."""
    rng = random.Random(5)
    samples = []
    for n in range(rate):
        value = int(8000 * math.sin(2 * math.pi * 440 * n / rate)) + rng.randint(-noise, noise)
        samples += [value] * channels
    return struct.pack(f"<{len(samples)}h", *samples)


@functools.cache
def audio_bytes(fmt: str, seconds: float = 2.0) -> bytes:
    """The bytes of a small real audio file, encoded once per test process."""
    with tempfile.TemporaryDirectory() as tmp:
        return make_audio(Path(tmp) / f"clip.{fmt}", fmt, seconds).read_bytes()


def make_ogg_video(path: Path, seconds: float = 1.0) -> Path:
    """An Ogg file with a VP8 video stream and an Opus one (FFmpeg has no Theora encoder; VP8 is Ogg video too)."""
    fps = 10
    with av.open(str(path), "w", format="ogg") as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("libopus", rate=48_000)
        sound.layout = "mono"
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        out.mux(sound.encode(None))
    return path


def decoded_seconds(path: Path) -> float:
    """Seconds of sound every packet of ``path`` decodes to (FFmpeg errors propagate)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / (stream.codec_context.sample_rate or 1)
