"""Real MP4 clips and WAV recordings of a given size for the inline benchmarks, made once with PyAV and cached.

A clip is 720p noise encoded lossless with libx264 (every frame a keyframe), so it is big on purpose and
a real, playable video all the way through: no padding, no repeated bytes. Encoding stops at the first
frame that would take the file past the target, so a clip is at most one frame (~2.2 MB) under its nominal
size (the encoder holds a few frames back, so the size of the frames still in it is estimated).

A recording is 48 kHz stereo 16-bit PCM noise in WAV, written frame by frame: its size is the header plus four
bytes a sample, so it is at most one sample (4 bytes) under its nominal size.

    python bench/media.py 10 60 500      # sizes in MB (10**6 bytes); prints the paths
    python bench/media.py --audio 60     # a WAV recording
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH, HEIGHT, FPS = 1280, 720, 30
MB = 10**6


def clip_path(size_mb: float) -> Path:
    return CACHE / f"noise-{size_mb:g}MB.mp4"


def make_clip(size_mb: float) -> Path:
    """The cached clip of at least ``size_mb`` MB, encoding it first when it is missing."""
    path = clip_path(size_mb)
    if path.exists():
        return path
    import av  # the test extra: only needed when a clip is missing

    CACHE.mkdir(parents=True, exist_ok=True)
    target = int(size_mb * MB)
    partial = path.with_suffix(".part")
    written = packets = 0
    with av.open(str(partial), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "qp": "0", "g": "1"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        index = 0
        while index == 0 or (index + 1) * (written / packets if packets else 2_200_000) <= target:
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            frame.pts = index
            index += 1
            for packet in stream.encode(frame):
                written, packets = written + packet.size, packets + 1
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    partial.rename(path)
    return path


def tiny_clip() -> Path:
    """A one-second 64x48 clip (a few KB): the warm-up and correctness-check video."""
    path = CACHE / "tiny.mp4"
    if path.exists():
        return path
    import av

    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with av.open(str(partial), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 20]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    partial.rename(path)
    return path


RATE, CHANNELS = 48_000, 2  # 16-bit stereo: 4 bytes a sample
_FRAME = 1024  # samples per frame


def audio_path(size_mb: float) -> Path:
    return CACHE / f"noise-{size_mb:g}MB.wav"


def make_audio(size_mb: float) -> Path:
    """The cached WAV of at most ``size_mb`` MB (and at most one sample under), writing it first when missing."""
    path = audio_path(size_mb)
    if not path.exists():
        header = tiny_audio().stat().st_size - RATE * 4  # what this libavformat writes before the samples
        _wav(path.with_suffix(".part"), (int(size_mb * MB) - header) // 4).rename(path)
    return path


def tiny_audio() -> Path:
    """A one-second WAV (192 kB): the warm-up and correctness-check recording."""
    path = CACHE / "tiny.wav"
    if not path.exists():
        _wav(path.with_suffix(".part"), RATE).rename(path)
    return path


def _wav(path: Path, samples: int) -> Path:
    """``samples`` samples of stereo noise as WAV (``pcm_s16le``) at ``path``."""
    import av

    CACHE.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="stereo")
        written = 0
        while written < samples:
            count = min(_FRAME, samples - written)
            frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
            frame.planes[0].update(os.urandom(count * 4))
            frame.sample_rate, frame.pts = RATE, written
            written += count
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


if __name__ == "__main__":
    audio = sys.argv[1:2] == ["--audio"]
    for arg in sys.argv[1 + audio :] or ["10"]:
        made = make_audio(float(arg)) if audio else make_clip(float(arg))
        print(f"{made} {made.stat().st_size:,} bytes")
