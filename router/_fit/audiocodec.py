"""PyAV for audio files: what one is (``probe``), its packets copied into parts (``copy``), and its sound decoded,
resampled and encoded into parts (``transcode``). Imports ``av`` at load time: ``router._fit.audio`` loads it on
first use. Each loop streams one packet or frame at a time, so memory does not grow with the input.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet

from .._model.audio import audio_damage, audio_duration, audio_format
from .._model.container import reader
from .audioplan import Target
from .av import failures, open_input, why
from .types import AudioProbe, FitError

__all__ = ["copy", "encoder", "probe", "transcode"]


def encoder(names: Sequence[str]) -> str | None:
    """The first of ``names`` this PyAV build can encode with (``libmp3lame`` is not in every FFmpeg)."""
    for name in names:
        try:
            av.Codec(name, "w")
        except (av.FFmpegError, ValueError):
            continue
        return name
    return None


def probe(path: Path) -> AudioProbe:
    """What ``path`` is: its headers, then FFmpeg's view of its best audio stream and its first decoded frame.

    Never raises for bad content (``damage`` says what is wrong); raises :class:`FitError` when the file
    cannot be read at all.
    """
    name = path.name
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            read = reader(fh)
            fmt = audio_format(fh.read(4096), read)
            broken = audio_damage(read, size, fmt) if fmt else ("the file is empty" if size == 0 else None)
            exact = audio_duration(read, size, fmt) if fmt and not broken else None
    except OSError as exc:
        raise FitError(f"{name} cannot be read: {exc.strerror or exc}") from exc
    info = AudioProbe(name, size, fmt, damage=broken)
    if broken:
        return info
    try:
        container = open_input(path)
    except av.FFmpegError as exc:
        return AudioProbe(name, size, fmt, damage=f"FFmpeg cannot read it as audio ({why(exc)})")
    with container:
        stream = container.streams.best("audio")
        if not isinstance(stream, AudioStream):
            return AudioProbe(name, size, fmt, damage="it has no audio stream")
        ctx = stream.codec_context
        info = AudioProbe(name, size, fmt, 0.0, ctx.name, ctx.channels, ctx.sample_rate, ctx.bit_rate or 0)
        try:
            decodable = _first_frame(container, stream)
            seconds = exact or (fmt in _HEADED and _header_seconds(container, stream)) or _packets(container, stream)
        except av.FFmpegError as exc:
            return _damaged(info, f"FFmpeg cannot decode it ({why(exc)})")
    if not decodable:
        return _damaged(info, "no audio frame in it could be decoded")
    return AudioProbe(name, size, fmt, seconds, ctx.name, ctx.channels, ctx.sample_rate, ctx.bit_rate or 0)


# Formats whose headers FFmpeg reads a duration from; for the others (raw ADTS and AMR, an MP3 without a Xing
# header) it guesses from the bitrate, so the packets are counted.
_HEADED = frozenset({"wav", "flac", "aiff", "m4a", "ogg", "webm"})


def _damaged(info: AudioProbe, why: str) -> AudioProbe:
    return AudioProbe(info.name, info.size, info.format, codec=info.codec, damage=why)


def _first_frame(container: InputContainer, stream: AudioStream) -> bool:
    return any(packet.size and packet.decode() for packet in container.demux(stream))


def _header_seconds(container: InputContainer, stream: AudioStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else 0.0


def _packets(container: InputContainer, stream: AudioStream) -> float:
    """The sum of every packet's duration (a demux, no decoding: about a second for an hour of audio)."""
    container.seek(0)
    ticks = sum(p.duration or 0 for p in container.demux(stream) if p.size)
    return float(ticks * stream.time_base) if stream.time_base else 0.0


def copy(src: Path, bounds: Sequence[float], new: Callable[[], Path], muxer: str) -> list[tuple[Path, float]]:
    """Copy the packets of ``src``'s audio into consecutive parts (new files from ``new``): part i holds the
    packets that end by ``bounds[i]`` seconds in and were not taken before (``math.inf``: up to the end); the
    packets after the last bound are left out. Returns (path, seconds) of each part that got packets."""
    parts: list[tuple[Path, float]] = []
    with failures(src.name, "copying its audio"), open_input(src) as inp, _Outputs() as opened:
        stream = inp.streams.best("audio")
        assert isinstance(stream, AudioStream)
        base = float(stream.time_base or Fraction(1, 90_000))
        path: Path | None = None
        copied, origin, first, last, part = stream, None, 0, 0, 0
        for packet in inp.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            origin = packet.pts if origin is None else origin
            end = packet.pts + (packet.duration or 0)
            while (end - origin) * base > bounds[part] + 1e-6:  # this packet belongs to a later part
                if path is not None:
                    opened.close()
                    parts.append((path, (last - first) * base))
                    path = None
                part += 1
                if part == len(bounds):
                    return parts
            if path is None:
                path = new()
                copied, first = opened.copy(path, muxer, stream), packet.pts
            last = end
            packet.pts -= first
            packet.dts = packet.pts
            packet.stream = copied
            opened.mux(packet)
        if path is not None:
            opened.close()
            parts.append((path, (last - first) * base))
    return parts


class _Outputs:
    """The output file being written; on an error it is closed without a trailer (the caller deletes it)."""

    def __init__(self) -> None:
        self.output: OutputContainer | None = None

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.output is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self.output.close()

    def open(self, path: Path, muxer: str) -> OutputContainer:
        self.output = av.open(str(path), "w", format=muxer)
        return self.output

    def mux(self, packets: Packet[Any] | list[Packet[Any]]) -> None:
        assert self.output is not None
        self.output.mux(packets)

    def copy(self, path: Path, muxer: str, template: AudioStream) -> AudioStream:
        return self.open(path, muxer).add_stream_from_template(template)

    def close(self) -> None:
        output, self.output = self.output, None
        if output is not None:
            output.close()


def transcode(src: Path, bounds: Sequence[float], outs: Sequence[Path], target: Target) -> list[int]:
    """Decode ``src``'s audio once and encode it as ``target`` into ``outs``: part i ends ``bounds[i]`` seconds in
    (``math.inf``: at the end of the source). Returns each part's sample count."""
    rate = target.rate
    ends = [None if math.isinf(b) else round(b * rate) for b in bounds]
    with failures(src.name, "re-encoding its audio"), open_input(src) as inp, _Outputs() as opened:
        stream = inp.streams.best("audio")
        assert isinstance(stream, AudioStream)
        layout = "stereo" if target.channels > 1 else "mono"
        sample_format = (av.Codec(target.codec, "w").audio_formats or [av.AudioFormat("s16")])[0].name
        resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
        fifo = av.AudioFifo()
        counts: list[int] = []
        done = pos = 0  # samples in the finished parts, samples written in all
        encoded = _encoder(opened.open(outs[0], target.muxer), target, layout, sample_format)

        def drain(final: bool) -> bool:
            """Move the fifo's samples into the parts; True when no part will take more."""
            nonlocal encoded, done, pos
            while True:
                end = ends[len(counts)]
                take = fifo.samples if end is None else min(fifo.samples, end - pos)
                if take:
                    frame = fifo.read(take)
                    assert frame is not None
                    frame.pts, frame.time_base = pos - done, Fraction(1, rate)
                    opened.mux(encoded.encode(frame))
                    pos += take
                if not final and (end is None or pos < end):
                    return False
                opened.mux(encoded.encode(None))
                opened.close()
                counts.append(pos - done)
                done = pos
                if len(counts) == len(outs) or (final and not fifo.samples):
                    return True
                encoded = _encoder(opened.open(outs[len(counts)], target.muxer), target, layout, sample_format)

        for frame in inp.decode(stream):
            frame.pts = None  # counted in samples from here on: gaps in the source's timestamps do not matter
            for out in resampler.resample(frame):
                out.pts = None
                fifo.write(out)
            if drain(final=False):
                return counts
        for out in resampler.resample(None):
            out.pts = None
            fifo.write(out)
        drain(final=True)
    return counts


def _encoder(output: OutputContainer, target: Target, layout: str, sample_format: str) -> AudioStream:
    stream = output.add_stream(target.codec, rate=target.rate)
    assert isinstance(stream, AudioStream)
    stream.layout = layout
    stream.format = sample_format
    if target.bit_rate:
        stream.bit_rate = target.bit_rate
    return stream
