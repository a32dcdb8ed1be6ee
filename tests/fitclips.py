"""Real clips with sound for the fitting tests, encoded with PyAV at test time (small: a second each to make).

The picture is a moving gradient under noise, so x264 cannot squeeze it to nothing; the sound is a tone
under noise. H.264 uses B-frames (``bframes``), which is what gives Matroska packets without a dts.
"""

from __future__ import annotations

import math
import random
import struct
from fractions import Fraction
from pathlib import Path

import av

# suffix -> FFmpeg muxer
_LOW_BITS = bytes(i & 0x3F for i in range(256))
MUXERS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "avi": "avi", "flv": "flv", "ts": "mpegts"}


def make_av_clip(
    path: Path,
    *,
    seconds: float = 4.0,
    fps: int = 24,
    size: tuple[int, int] = (320, 240),
    gop: int = 12,
    bframes: int = 2,
    audio: bool = True,
    rotation: int = 0,
    crf: int = 20,
) -> Path:
    """Encode an H.264 (+ AAC) clip into the container the suffix names; a keyframe every ``gop`` frames."""
    rng = random.Random(11)
    width, height = size
    frames = round(seconds * fps)
    options = {"preset": "ultrafast", "crf": str(crf), "g": str(gop), "keyint_min": str(gop), "bf": str(bframes)}
    options["x264-params"] = "scenecut=0"  # keyframes exactly every gop frames: the copy-cut tests count on it
    with av.open(str(path), "w", format=MUXERS[path.suffix.lstrip(".")]) as out:
        video = out.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = Fraction(1, fps)
        if rotation:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=48_000) if audio else None
        if sound is not None:
            sound.layout, sound.bit_rate = "stereo", 128_000
        luma = width * height
        for i in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            row = bytes((x * 2 + i * 5) % 190 for x in range(width))
            noise = rng.randbytes(luma).translate(_LOW_BITS)
            # bytewise sum without a loop: no byte carries, since 63 + 189 < 256
            plane = (int.from_bytes(noise, "big") + int.from_bytes(row * height, "big")).to_bytes(luma, "big")
            frame.planes[0].update(plane)
            for chroma in frame.planes[1:]:
                chroma.update(rng.randbytes(chroma.buffer_size))
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            for index, start in enumerate(range(0, round(seconds * 48_000), 1024)):
                count = min(1024, round(seconds * 48_000) - start)
                samples = []
                for n in range(start, start + count):
                    value = int(8000 * math.sin(2 * math.pi * 440 * n / 48_000)) + rng.randint(-3000, 3000)
                    samples += [value, value]
                frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
                frame.sample_rate = 48_000
                frame.planes[0].update(struct.pack(f"<{len(samples)}h", *samples))
                frame.pts = index * 1024
                frame.time_base = Fraction(1, 48_000)
                out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return path


def decode_all(path: Path) -> tuple[int, int]:
    """(video frames, audio samples) decoded from every packet of ``path``; FFmpeg errors propagate."""
    frames = samples = 0
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        for packet in container.demux(streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames += 1
                elif isinstance(frame, av.AudioFrame):
                    samples += frame.samples
    return frames, samples


def packet_counts(path: Path) -> dict[str, int]:
    """Real (non-empty) packets per stream type, and how many of them have no dts."""
    counts = {"video": 0, "audio": 0, "no_dts": 0}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            counts[packet.stream.type] = counts.get(packet.stream.type, 0) + 1
            counts["no_dts"] += packet.dts is None
    return counts
