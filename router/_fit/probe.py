"""What a video file is: its bytes checked, its headers read, every packet scanned (``router.fit.probe``).

The scan also rides along a whole-file remux or a re-encode of the same open container (``Source.take``).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .._model.container import damage as container_damage
from .._model.container import mp4_duration, reader
from .._model.media import sniff
from .av import failures, kept_streams, open_input, time_bases, why
from .types import FitError, Probe

DECODE_FIRST = 3  # frames the probe decodes: the first GOP header, and a little past it
_NOT_VIDEO = ("image/", "text/", "audio/", "application/")
_TEXT_ART = frozenset({"bintext", "xbin", "idf", "ansi"})


def _precheck(path: Path) -> tuple[int, str | None, str | None]:
    """(size, sniffed MIME, damage) from the first bytes and the container structure, without FFmpeg."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            mime = sniff(fh.read(4096))
            if size == 0:
                return 0, mime, "the file is empty"
            if mime and mime.startswith(_NOT_VIDEO) and mime != "application/ogg":
                return size, mime, f"it is not a video: the bytes are {mime}"
            return size, mime, container_damage(reader(fh), size, mime) if mime else None
    except OSError as exc:
        raise FitError(f"{path.name} cannot be read: {exc.strerror or exc}") from exc


def probe(path: Path) -> Probe:
    """What ``path`` is, from its headers and every packet (see :class:`Source`)."""
    with Source(path) as source:
        return source.packets()


class Source:
    """``path`` opened once: its headers at once (``info``, ``complete`` False), its packets in one pass later.

    fit() decides from the headers; a whole-file remux then copies and probes the packets of the same open
    container. Opening costs FFmpeg a stream analysis (~0.1 s for 1080p H.264), so it is done once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: InputContainer | None = None
        self.scan: Scan | None = None
        name = path.name
        size, mime, broken = _precheck(path)
        self.info = Probe(name, size, mime, damage=broken)
        if broken:
            return
        try:
            self.container = open_input(path)
        except av.FFmpegError as exc:
            self.info = Probe(name, size, mime, damage=f"FFmpeg cannot read it as a video ({why(exc)})")
            return
        scan = Scan.start(self.container, name, size, mime)
        if isinstance(scan, Probe):
            self.info = scan
            self.close()
        else:
            self.scan, self.info = scan, scan.headers()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    def take(self) -> tuple[InputContainer, Scan] | None:
        """The open container and its scanner, for one pass only (None once used, or when damaged)."""
        if self.container is None or self.scan is None:
            return None
        taken, self.scan = (self.container, self.scan), None
        return taken

    def packets(self) -> Probe:
        """The full probe: every packet demuxed, the first frames decoded."""
        taken = self.take()
        if taken is None:
            return self.info if self.info.damage else probe(self.path)
        container, scan = taken
        try:
            for packet in container.demux(scan.kept):
                scan.see(packet)
            scan.flush()
            return scan.result()
        except av.FFmpegError as exc:
            return scan.failed(exc)
        finally:
            self.close()  # after the result is made: a closed container's streams must not be touched


class Scan:
    """What probe() learns from the packets, fed one at a time (by probe, or by a whole-file remux)."""

    def __init__(self, container: InputContainer, video: VideoStream, audio: AudioStream | None, head: Probe) -> None:
        self.container, self.video, self.audio, self.head = container, video, audio, head
        self.kept: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
        # per packet only integers are kept (ticks of each stream's time base): seconds are worked out at the end
        self.video_index, self.audio_index = video.index, audio.index if audio else -1
        self.bases = time_bases(video, audio)
        self.packets = dict.fromkeys(self.bases, 0)
        self.ends: dict[int, float] = dict.fromkeys(self.bases, -math.inf)  # the latest pts + duration
        self.first: int | None = None  # the earliest video pts
        self.last = (video.index, 0)  # (stream, pts) of the latest timed packet, for error messages
        self.payload = self.frames = self.rotation = self.width = self.height = 0
        self.keyframes: list[tuple[int, int]] = []  # (pts, bytes before it)
        self.decode = True  # False when a re-encode decodes every frame anyway (and sets ``frames``)

    @classmethod
    def start(cls, container: InputContainer, name: str, size: int, mime: str | None) -> Scan | Probe:
        """A scanner over ``container``'s video and audio, or a Probe saying why there is nothing to scan."""
        fmt = container.format.name
        video, audio = kept_streams(container)
        if video is None:
            return Probe(name, size, mime, fmt, damage="it has no video stream")
        try:
            video_codec = video.codec_context.name
        except av.FFmpegError as exc:
            return Probe(name, size, mime, fmt, damage=f"its video codec cannot be decoded ({why(exc)})")
        if video_codec in _TEXT_ART:  # what FFmpeg makes of arbitrary bytes when nothing else matches
            return Probe(name, size, mime, fmt, damage=f"it is not a video: FFmpeg reads it as {video_codec} text art")
        video.codec_context.thread_type = "AUTO"
        rate = video.average_rate or video.guessed_rate or video.codec_context.framerate
        head = Probe(
            name,
            size,
            mime,
            fmt,
            container.duration / 1e6 if container.duration else 0.0,
            video_codec,
            audio.codec_context.name if audio else None,
            video.codec_context.width,
            video.codec_context.height,
            float(rate) if rate else 0.0,
            audio_channels=audio.codec_context.channels if audio else 0,
            audio_rate=audio.codec_context.sample_rate if audio else 0,
            audio_bit_rate=(audio.bit_rate or audio.codec_context.bit_rate or 0) if audio else 0,
            payload=size,
            origin=float(video.start_time * video.time_base) if video.start_time and video.time_base else 0.0,
            complete=False,
        )
        return cls(container, video, audio, head)

    def headers(self) -> Probe:
        return self.head

    def see(self, packet: Packet[Any]) -> None:
        size = packet.size
        if not size:  # the demuxer's end-of-stream markers; every real packet counts
            return
        index = packet.stream_index
        self.packets[index] += 1
        pts = packet.pts
        if pts is None:
            pts = packet.dts
        if pts is not None:
            self.last = (index, pts)
            end = pts + (packet.duration or 0)
            if end > self.ends[index]:
                self.ends[index] = end
            if index == self.video_index:
                if self.first is None or pts < self.first:
                    self.first = pts
                if packet.is_keyframe:
                    self.keyframes.append((pts, self.payload))
        if index == self.video_index and self.decode and self.frames < DECODE_FIRST:
            self._frames(self.video.decode(packet))
        self.payload += size

    def _frames(self, frames: list[VideoFrame]) -> None:
        for frame in frames:
            if self.frames == 0:
                self.rotation, self.width, self.height = frame.rotation, frame.width, frame.height
            self.frames += 1

    def flush(self) -> None:
        if self.decode and self.frames < DECODE_FIRST:
            self._frames(self.video.decode(None))

    def failed(self, exc: av.FFmpegError) -> Probe:
        head = self.head
        if not self.payload:
            return replace(head, damage=f"FFmpeg cannot read it as a video ({why(exc)})")
        index, pts = self.last
        return replace(head, damage=f"damaged near {pts * self.bases[index]:.1f} s: {why(exc)}")

    def result(self, *, whole: bool = True) -> Probe:
        """The probe. ``whole`` False: the pass stopped early (a trim), so only what it read is judged and the
        result stays incomplete (no truncation check, keyframes only up to where it stopped)."""
        head, base = self.head, self.bases[self.video_index]
        origin = (self.first or 0) * base
        last_end = max(end * self.bases[index] for index, end in self.ends.items())
        media_end = last_end - origin if self.first is not None else 0.0
        declared = head.duration or None
        damage = None
        if self.packets[self.video_index] == 0:
            damage = "its video stream has no packets"
        elif self.frames == 0:
            damage = "no frame of its video could be decoded"
        elif whole and declared and media_end < declared - max(1.0, 0.05 * declared):
            damage = f"truncated: its packets stop at {media_end:.1f} s but the container says {declared:.1f} s"
        return replace(
            head,
            duration=declared or max(media_end, 0.0),
            width=self.width or head.width,
            height=self.height or head.height,
            rotation=self.rotation,
            video_packets=self.packets[self.video_index],
            audio_packets=self.packets.get(self.audio_index, 0),
            payload=self.payload,
            frames_decoded=self.frames,
            damage=damage,
            keyframes=tuple((pts * base - origin, before) for pts, before in self.keyframes),
            origin=origin,
            complete=whole,
        )


def duration(path: Path) -> float:
    """Seconds of a file this module wrote, as its container states it (mp4: from ``mvhd``, no FFmpeg)."""
    if path.suffix in (".mp4", ".mov"):
        with path.open("rb") as fh:
            seconds = mp4_duration(reader(fh))
        if seconds is not None:
            return seconds
    with failures(path.name, "reading it back"), open_input(path) as container:
        if container.duration:
            return float(container.duration / 1e6)
        ends = [float((s.duration or 0) * (s.time_base or 0)) for s in container.streams]
        return max(ends, default=0.0)
