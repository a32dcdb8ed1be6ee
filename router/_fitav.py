"""The PyAV loops behind ``router.fit``: probe, stream copy, re-encode.

Imports ``av`` at load time: only ``router.fit`` imports this module, on first use. Every loop streams: one
packet or frame at a time from the source file, straight into the output file, so memory does not grow
with the input. FFmpeg's error texts are reported through ``strerror`` only (never with the file's path).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from ._container import damage as container_damage
from ._container import mp4_duration, reader
from ._fitplan import CRF, EPS, Encoding
from ._fittypes import DamagedVideo, FitError, Probe, Progress, Span
from ._media import sniff

DECODE_FIRST = 3  # frames the probe decodes: the first GOP header, and a little past it
MAXRATE = 1.5  # VBV cap as a multiple of the target bitrate
BUFFER_SECONDS = 2.0  # VBV buffer, in seconds of the target bitrate (less for clips under 16 s: _Part)
AAC_FRAME = 1024  # samples per AAC frame; a part's audio is cut to a whole number of them
_MUX_OPTIONS = {"mp4": {"movflags": "+faststart"}, "mov": {"movflags": "+faststart"}}
_NOT_VIDEO = ("image/", "text/", "audio/", "application/")
_TEXT_ART = frozenset({"bintext", "xbin", "idf", "ansi"})


def _why(exc: av.FFmpegError) -> str:
    """FFmpeg's reason without the file name it carries."""
    return (exc.strerror or type(exc).__name__).rstrip(".")


@contextlib.contextmanager
def _failures(name: str, doing: str) -> Iterator[None]:
    """FFmpeg errors as FitError, saying what was being done to which file (by name, not path)."""
    try:
        yield
    except av.FFmpegError as exc:
        raise FitError(f"{name}: FFmpeg failed while {doing}: {_why(exc)}") from exc


def _open(path: Path) -> InputContainer:
    return av.open(str(path), "r", metadata_errors="ignore")


def _streams(container: InputContainer) -> tuple[VideoStream | None, AudioStream | None]:
    """The video and audio stream fitting keeps (FFmpeg's pick of the best of each)."""
    video = container.streams.best("video")
    audio = container.streams.best("audio")
    return (
        video if isinstance(video, VideoStream) else None,
        audio if isinstance(audio, AudioStream) else None,
    )


def _bases(*streams: VideoStream | AudioStream | None) -> dict[int, float]:
    """Seconds per tick of each stream, as floats: Fraction arithmetic per packet costs more than the copy."""
    return {s.index: float(s.time_base or Fraction(1, 90_000)) for s in streams if s is not None}


def _time(packet: Packet[Any], base: float) -> float | None:
    ts = packet.pts if packet.pts is not None else packet.dts
    return None if ts is None else ts * base


def _frame_time(pts: int | None, time_base: Fraction | None) -> float | None:
    """Seconds of a decoded frame (frames flushed out of a decoder carry no time base of their own)."""
    return None if pts is None or time_base is None else float(pts * time_base)


# -- probe ------------------------------------------------------------------------------------------------------


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
        self.scan: _Scan | None = None
        name = path.name
        size, mime, broken = _precheck(path)
        self.info = Probe(name, size, mime, damage=broken)
        if broken:
            return
        try:
            self.container = _open(path)
        except av.FFmpegError as exc:
            self.info = Probe(name, size, mime, damage=f"FFmpeg cannot read it as a video ({_why(exc)})")
            return
        scan = _Scan.start(self.container, name, size, mime)
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

    def _take(self) -> tuple[InputContainer, _Scan] | None:
        """The open container and its scanner, for one pass only (None once used, or when damaged)."""
        if self.container is None or self.scan is None:
            return None
        taken, self.scan = (self.container, self.scan), None
        return taken

    def packets(self) -> Probe:
        """The full probe: every packet demuxed, the first frames decoded."""
        taken = self._take()
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

    def encode(
        self, spans: Sequence[Span], outs: Sequence[Path], muxer: str, enc: Encoding, progress: Progress | None
    ) -> Probe:
        """Re-encode the spans while probing the packets: one pass instead of two.

        Returns the probe; when it reports damage, ``outs`` are to be thrown away. Encoder and muxer failures
        raise FitError. After a trim the probe covers what was read (``complete`` False).
        """
        taken = self._take()
        if taken is None:
            if self.info.damage:
                return self.info
            with Source(self.path) as again:
                return again.encode(spans, outs, muxer, enc, progress)
        container, scan = taken
        scan.decode = False
        try:
            whole, empty = _encode_pass(
                container, scan.video, scan.audio, scan, scan.head, spans, outs, muxer, enc, progress
            )
            info = scan.result(whole=whole)
        except av.FFmpegError as exc:  # demuxing or decoding the source: its damage
            return scan.failed(exc)
        finally:
            self.close()
        if not info.damage:
            _check_parts(self.path, empty, len(outs))
        return info

    def remux(self, out: Path, muxer: str, progress: Progress | None) -> Probe:
        """Copy every packet into ``out`` while probing them: one pass instead of two.

        Returns the full probe; when it reports damage, ``out`` is to be thrown away. Muxer failures raise
        FitError (the source may be fine: re-encoding can still work).
        """
        taken = self._take()
        if taken is None:
            if self.info.damage:
                return self.info
            with Source(self.path) as again:
                return again.remux(out, muxer, progress)
        container, scan = taken
        ticker = _Ticker(progress, [(0.0, scan.head.duration)])
        start = max(container.start_time / 1e6 if container.start_time else 0.0, 0.0)
        try:
            _copy_packets(container, scan.video, scan.audio, out, muxer, ticker, start, math.inf, whole=True, scan=scan)
            scan.flush()
            return scan.result()
        except av.FFmpegError as exc:
            return scan.failed(exc)
        finally:
            self.close()


class _Scan:
    """What probe() learns from the packets, fed one at a time (by probe, or by a whole-file remux)."""

    def __init__(self, container: InputContainer, video: VideoStream, audio: AudioStream | None, head: Probe) -> None:
        self.container, self.video, self.audio, self.head = container, video, audio, head
        self.kept: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
        # per packet only integers are kept (ticks of each stream's time base): seconds are worked out at the end
        self.video_index, self.audio_index = video.index, audio.index if audio else -1
        self.bases = _bases(video, audio)
        self.packets = dict.fromkeys(self.bases, 0)
        self.ends: dict[int, float] = dict.fromkeys(self.bases, -math.inf)  # the latest pts + duration
        self.first: int | None = None  # the earliest video pts
        self.last = (video.index, 0)  # (stream, pts) of the latest timed packet, for error messages
        self.payload = self.frames = self.rotation = self.width = self.height = 0
        self.keyframes: list[tuple[int, int]] = []  # (pts, bytes before it)
        self.decode = True  # False when a re-encode decodes every frame anyway (and sets ``frames``)

    @classmethod
    def start(cls, container: InputContainer, name: str, size: int, mime: str | None) -> _Scan | Probe:
        """A scanner over ``container``'s video and audio, or a Probe saying why there is nothing to scan."""
        fmt = container.format.name
        video, audio = _streams(container)
        if video is None:
            return Probe(name, size, mime, fmt, damage="it has no video stream")
        try:
            video_codec = video.codec_context.name
        except av.FFmpegError as exc:
            return Probe(name, size, mime, fmt, damage=f"its video codec cannot be decoded ({_why(exc)})")
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
            return replace(head, damage=f"FFmpeg cannot read it as a video ({_why(exc)})")
        index, pts = self.last
        return replace(head, damage=f"damaged near {pts * self.bases[index]:.1f} s: {_why(exc)}")

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
    with _failures(path.name, "reading it back"), _open(path) as container:
        if container.duration:
            return float(container.duration / 1e6)
        ends = [float((s.duration or 0) * (s.time_base or 0)) for s in container.streams]
        return max(ends, default=0.0)


# -- stream copy ------------------------------------------------------------------------------------------------


class _Ticker:
    """Reports progress through a run of spans, at most every half percent."""

    def __init__(self, progress: Progress | None, spans: Sequence[Span]) -> None:
        self.progress = progress
        self.total = sum(end - start for start, end in spans) or 1.0
        self.done = 0.0
        self.last = -1.0

    def at(self, seconds_into_span: float) -> None:
        if self.progress is None:
            return
        share = min(max((self.done + seconds_into_span) / self.total, 0.0), 1.0)
        if share - self.last >= 0.005:
            self.last = share
            self.progress(share)

    def next_span(self, length: float) -> None:
        self.done += length


def copy(
    src: Path, info: Probe, spans: Sequence[Span], outs: Sequence[Path], muxer: str, progress: Progress | None
) -> None:
    """Stream-copy each span (keyframe-aligned, seconds from the first picture) into its own file."""
    ticker = _Ticker(progress, spans)
    last = len(spans) - 1
    for i, (span, out) in enumerate(zip(spans, outs, strict=True)):
        to_end = i == last and span[1] >= info.duration - EPS
        with _failures(src.name, f"copying it into {muxer}"):
            if not _copy_span(src, info, span, to_end, out, muxer, ticker, seek=span[0] > 0):
                _copy_span(src, info, span, to_end, out, muxer, ticker, seek=False)  # the seek landed too late
        ticker.next_span(span[1] - span[0])


def _copy_span(
    src: Path,
    info: Probe,
    span: Span,
    to_end: bool,
    out: Path,
    muxer: str,
    ticker: _Ticker,
    *,
    seek: bool,
) -> bool:
    """One span into ``out``; False when a seek landed past the span's first keyframe (scan from the top)."""
    start = info.origin + span[0]
    end = math.inf if to_end else info.origin + span[1]
    with _open(src) as inp:
        video, audio = _streams(inp)
        if video is None:
            raise DamagedVideo(f"{src.name} has no video stream")
        whole = span[0] <= 0 and to_end
        if whole:  # like `ffmpeg -c copy`: every packet, moved by the container's start time
            start = max(inp.start_time / 1e6 if inp.start_time else 0.0, 0.0)
        elif seek:  # a second early, so audio stored just before the keyframe is still read
            inp.seek(int(max(start - 1.0, 0) / (video.time_base or Fraction(1, 1000))), stream=video, backward=True)
        return _copy_packets(inp, video, audio, out, muxer, ticker, start, end, whole=whole, seek=seek)


def _copy_packets(
    inp: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    out: Path,
    muxer: str,
    ticker: _Ticker,
    start: float,
    end: float,
    *,
    whole: bool,
    seek: bool = False,
    scan: _Scan | None = None,
) -> bool:
    """Packets of ``[start, end)`` seconds into ``out``, moved so ``start`` is at 0.

    A cut span starts on the video keyframe at ``start`` and ends before the one at ``end``; its audio is
    the packets wholly inside. A ``whole`` copy takes every packet (see _copy_all).
    """
    kept: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
    with av.open(str(out), "w", format=muxer, options=_MUX_OPTIONS.get(muxer, {})) as output:
        out_video = output.add_stream_from_template(video)
        out_audio = output.add_stream_from_template(audio) if audio else None
        bases = _bases(video, audio)
        if whole:
            _copy_all(inp, kept, video.index, out_video, out_audio, output, muxer, ticker, start, bases, scan)
            return True
        started, video_done, audio_done = False, False, audio is None
        shifts: dict[int, int] = {}
        for packet in inp.demux(kept):
            if scan is not None:
                scan.see(packet)
            if packet.size == 0:  # end-of-stream markers only: packets without a dts are real and kept
                continue
            base = bases[packet.stream_index]
            t = _time(packet, base)
            if packet.stream_index == video.index:
                if video_done:
                    continue
                if not started:
                    if not packet.is_keyframe or t is None or t < start - EPS:
                        continue
                    if seek and t > start + EPS:
                        return False
                    started = True
                elif not whole and packet.is_keyframe and t is not None and t >= end - EPS:
                    video_done = True
                    if audio_done:
                        break
                    continue
                target: VideoStream | AudioStream = out_video
            else:
                if not whole:
                    if audio_done or t is None or t < start - EPS:
                        continue
                    dur = packet.duration * base if packet.duration else 0.0
                    if t + dur > end + EPS:
                        audio_done = t >= end - EPS or audio_done
                        if audio_done and video_done:
                            break
                        continue
                assert out_audio is not None
                target = out_audio
            shift = shifts.get(packet.stream_index)
            if shift is None:
                shift = shifts[packet.stream_index] = round(start / base)
            if shift:
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            packet.stream = target
            try:
                output.mux_one(packet)
            except av.FFmpegError as exc:  # the output's fault, not the source's
                raise FitError(f"the {muxer} muxer refused a packet: {_why(exc)}") from exc
            if t is not None:
                ticker.at(t - start)
    return True


def _copy_all(
    inp: InputContainer,
    kept: list[VideoStream | AudioStream],
    video_index: int,
    out_video: VideoStream,
    out_audio: AudioStream | None,
    output: OutputContainer,
    muxer: str,
    ticker: _Ticker,
    start: float,
    bases: dict[int, float],
    scan: _Scan | None,
) -> None:
    """Every packet, in the tightest loop: leading non-keyframes, audio before the first picture, and packets
    without a dts, which a common remux loop drops (losing Matroska keyframes). Only end-of-stream markers
    (empty packets) are skipped."""
    shifts = {index: round(start / base) for index, base in bases.items()}
    count = 0
    for packet in inp.demux(kept):
        if scan is not None:
            scan.see(packet)
        if packet.size == 0:
            continue
        index = packet.stream_index
        shift = shifts[index]
        if shift:
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        packet.stream = out_video if index == video_index or out_audio is None else out_audio
        try:
            output.mux_one(packet)
        except av.FFmpegError as exc:  # the output's fault, not the source's
            raise FitError(f"the {muxer} muxer refused a packet: {_why(exc)}") from exc
        count += 1
        if not count % 64 and ticker.progress is not None:
            t = _time(packet, bases[index])  # already moved: seconds from the start
            if t is not None:
                ticker.at(t)


# -- re-encode --------------------------------------------------------------------------------------------------


class _Part:
    """One output file of a re-encode, opened on its first picture and closed when both streams are past it.

    The display rotation comes from that first decoded picture (FFmpeg reports it per frame), so audio that
    arrives before it waits in ``pending`` (a fraction of a second: what the interleaving puts first).
    """

    def __init__(self, path: Path, muxer: str, enc: Encoding, seconds: float) -> None:
        self.path, self.muxer, self.enc = path, muxer, enc
        # A buffer as long as the clip lets x264 spend it all at once: short clips came out 10-40 % over
        # budget with 2 s, and 83-92 % of it with an eighth of their length (at least 0.5 s).
        self.buffer = min(BUFFER_SECONDS, max(0.5, seconds / 8))
        self.output: OutputContainer | None = None
        self.video: VideoStream | None = None
        self.audio: AudioStream | None = None
        self.pending: list[av.AudioFrame] = []
        self.frames = 0
        self.video_done = False
        self.audio_done = enc.audio_bps == 0
        self.closed = False

    def _open(self, rotation: int) -> OutputContainer:
        enc = self.enc
        output = av.open(str(self.path), "w", format=self.muxer, options=_MUX_OPTIONS.get(self.muxer, {}))
        self.output = output
        options = {"preset": "veryfast"}
        if enc.video_bps is not None:  # one-pass ABR under a VBV cap: lands just under, never far over
            maxrate, bufsize = enc.video_bps * MAXRATE, enc.video_bps * self.buffer
            options |= {"maxrate": str(int(maxrate)), "bufsize": str(int(bufsize))}
        else:
            options["crf"] = str(CRF)
            if enc.cap_bps:
                options |= {"maxrate": str(enc.cap_bps), "bufsize": str(int(enc.cap_bps * self.buffer))}
        video = output.add_stream("libx264", rate=enc.fps, options=options)
        video.width, video.height, video.pix_fmt = enc.width, enc.height, "yuv420p"
        video.time_base = 1 / enc.fps
        video.codec_context.thread_type = "AUTO"
        if enc.video_bps is not None:
            video.bit_rate = enc.video_bps
        if rotation:
            video.set_display_rotation(rotation)
        self.video = video
        if enc.audio_bps:
            audio = output.add_stream("aac", rate=enc.sample_rate)
            audio.bit_rate = enc.audio_bps
            audio.layout = "stereo" if enc.audio_channels >= 2 else "mono"
            audio.format = "fltp"
            audio.time_base = Fraction(1, enc.sample_rate)
            self.audio = audio
        return output

    def add_video(self, frame: VideoFrame, rotation: int) -> None:
        with _writing(self.path):
            output = self.output or self._open(rotation)
            assert self.video is not None
            output.mux(self.video.encode(frame))
            self.frames += 1
            while self.pending:
                self._audio(output, self.pending.pop(0))

    def add_audio(self, frame: av.AudioFrame) -> None:
        if self.output is None:
            self.pending.append(frame)
            return
        with _writing(self.path):
            self._audio(self.output, frame)

    def _audio(self, output: OutputContainer, frame: av.AudioFrame) -> None:
        if self.audio is not None:
            output.mux(self.audio.encode(frame))

    def finish(self, video: bool = False, audio: bool = False) -> None:
        self.video_done = self.video_done or video
        self.audio_done = self.audio_done or audio
        if self.video_done and self.audio_done and not self.closed:
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.output is None:
            return
        assert self.video is not None
        with _writing(self.path):
            self.output.mux(self.video.encode(None))
            if self.audio is not None:
                self.output.mux(self.audio.encode(None))
            self.output.close()

    def abandon(self) -> None:
        if self.output is not None and not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.output.close()


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Encoder and muxer errors as FitError: the output failed, which says nothing about the source."""
    try:
        yield
    except av.FFmpegError as exc:
        raise FitError(f"writing {path.suffix.lstrip('.')} failed: {_why(exc)}") from exc


def encode(
    src: Path,
    info: Probe,
    spans: Sequence[Span],
    outs: Sequence[Path],
    muxer: str,
    enc: Encoding,
    progress: Progress | None,
) -> None:
    """Decode ``src`` once and encode each span into its file with ``enc`` (H.264 + AAC)."""
    with _failures(src.name, f"re-encoding it ({enc.describe()})"), _open(src) as inp:
        video, audio = _streams(inp)
        if video is None:
            raise DamagedVideo(f"{src.name} has no video stream")
        _, empty = _encode_pass(inp, video, audio, None, info, spans, outs, muxer, enc, progress)
    _check_parts(src, empty, len(outs))


def _check_parts(src: Path, empty: list[int], count: int) -> None:
    if empty:
        raise FitError(f"{src.name}: no frame of the video fell into part {empty[0]} of {count}")


def _encode_pass(
    inp: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    scan: _Scan | None,
    info: Probe,
    spans: Sequence[Span],
    outs: Sequence[Path],
    muxer: str,
    enc: Encoding,
    progress: Progress | None,
) -> tuple[bool, list[int]]:
    """One decoding pass into the parts: (whether it read to the end, the parts that got no picture)."""
    parts = [_Part(out, muxer, enc, end - start) for out, (start, end) in zip(outs, spans, strict=True)]
    try:
        encoder = _Encoder(info, spans, parts, enc, progress)
        reached_end = encoder.run(inp, video, audio, scan)
        for part in parts:
            part.finish(video=True, audio=True)
    finally:
        for part in parts:
            part.abandon()
    if scan is not None:
        scan.frames = encoder.decoded
    return reached_end, [i + 1 for i, part in enumerate(parts) if part.frames == 0]


class _Encoder:
    """Routes decoded frames to parts: video by output frame slot, audio by sample, both from the origin."""

    def __init__(
        self,
        info: Probe,
        spans: Sequence[Span],
        parts: list[_Part],
        enc: Encoding,
        progress: Progress | None,
    ) -> None:
        self.info, self.parts, self.enc = info, parts, enc
        self.decoded = 0
        fps, rate = enc.fps, enc.sample_rate
        # Part k shows output frame slots [lo, hi): slot s covers [s/fps, (s+1)/fps), all inside the span.
        self.slots = [(math.ceil(s * fps - 1e-6), math.floor(e * fps + 1e-6)) for s, e in spans]
        # and audio samples [lo, hi), a whole number of AAC frames so the padded last one ends in the span
        self.samples = []
        for s, e in spans:
            lo = round(s * rate)
            self.samples.append((lo, lo + (round(e * rate) - lo) // AAC_FRAME * AAC_FRAME))
        self.ticker = _Ticker(progress, [(spans[0][0], spans[-1][1])])
        self.first = spans[0][0]
        self.vpart = self.apart = 0
        self.last_slot = -1
        self.apos: int | None = None  # sample index (from the origin) of the fifo's first sample
        self.fifo = av.AudioFifo()
        layout = "stereo" if enc.audio_channels >= 2 else "mono"
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate) if enc.audio_bps else None
        self.time_base = 1 / fps
        self.audio_base = Fraction(1, rate)
        self.scaler = VideoReformatter()  # one for the run: frame.reformat() would set up swscale per frame
        self.video_base: Fraction = Fraction(1, 90_000)
        self.sound_base: Fraction = self.audio_base

    def run(self, inp: InputContainer, video: VideoStream, audio: AudioStream | None, scan: _Scan | None) -> bool:
        """Decode and route every frame; True when the file was read to its end (not stopped after a trim)."""
        video.codec_context.thread_type = "AUTO"
        self.video_base = video.time_base or Fraction(1, 90_000)
        sound = audio if self.resampler is not None else None
        self.sound_base = (sound.time_base if sound else None) or Fraction(1, self.enc.sample_rate)
        kept: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
        count = len(self.parts)
        for packet in inp.demux(kept):
            if scan is not None:
                scan.see(packet)
            if packet.size == 0:  # end-of-stream markers: the decoders are flushed below
                continue
            if packet.stream_index == video.index:
                if self.vpart < count:
                    for frame in video.decode(packet):
                        self._video(frame)
            elif sound is not None and self.apart < count:
                for aframe in sound.decode(packet):
                    self._audio(aframe)
            if self.vpart >= count and (sound is None or self.apart >= count):
                return self._end(reached=False)  # trimmed: the rest of the file is never decoded
        for frame in video.decode(None):
            self._video(frame)
        if sound is not None:
            for aframe in sound.decode(None):
                self._audio(aframe)
        return self._end(reached=True)

    def _end(self, *, reached: bool) -> bool:
        self._pump(final=True)
        for part in self.parts[self.vpart :]:
            part.finish(video=True)
        return reached

    def _video(self, frame: VideoFrame) -> None:
        self.decoded += 1
        at = _frame_time(frame.pts, frame.time_base or self.video_base)
        if self.vpart >= len(self.parts) or at is None:
            return
        t = at - self.info.origin
        slot = round(t * self.enc.fps)
        if slot <= self.last_slot:
            return  # a frame rate cut: this slot is already shown
        while self.vpart < len(self.parts) and slot >= self.slots[self.vpart][1]:
            self.parts[self.vpart].finish(video=True)
            self.vpart += 1
        if self.vpart >= len(self.parts):
            return
        lo = self.slots[self.vpart][0]
        if slot < lo:
            return
        self.last_slot = slot
        enc = self.enc
        out = self.scaler.reformat(frame, enc.width, enc.height, "yuv420p", interpolation="BILINEAR")
        out.pts = slot - lo
        out.time_base = self.time_base
        out.pict_type = PictureType.NONE  # keyframes where x264 wants them, not where the source had them
        self.parts[self.vpart].add_video(out, frame.rotation)
        self.ticker.at(t - self.first)

    def _audio(self, frame: av.AudioFrame) -> None:
        assert self.resampler is not None
        if self.apos is None:  # before the first picture it is negative: _pump drops what comes before a part
            start = _frame_time(frame.pts, frame.time_base or self.sound_base)
            self.apos = round(((start or self.info.origin) - self.info.origin) * self.enc.sample_rate)
        for resampled in self.resampler.resample(frame):
            resampled.pts = None
            self.fifo.write(resampled)
        self._pump(final=False)

    def _pump(self, *, final: bool) -> None:
        """Move whole AAC frames from the fifo into the part their samples belong to."""
        fifo = self.fifo
        if self.resampler is not None and final:
            for resampled in self.resampler.resample(None):
                resampled.pts = None
                fifo.write(resampled)
        while self.apos is not None and self.apart < len(self.parts):
            lo, hi = self.samples[self.apart]
            if self.apos >= hi:
                self.parts[self.apart].finish(audio=True)
                self.apart += 1
                continue
            if self.apos < lo:  # before the part (or between parts): dropped
                drop = min(lo - self.apos, fifo.samples)
                if drop == 0:
                    break
                fifo.read(drop)
                self.apos += drop
                continue
            need = min(AAC_FRAME, hi - self.apos)
            if fifo.samples < need:
                if not final or fifo.samples == 0:
                    break
                need = fifo.samples
            chunk = fifo.read(need)
            assert chunk is not None
            chunk.pts = self.apos - lo
            chunk.time_base = self.audio_base
            self.parts[self.apart].add_audio(chunk)
            self.apos += need
        if final:
            for part in self.parts[self.apart :]:
                part.finish(audio=True)
            self.apart = len(self.parts)
