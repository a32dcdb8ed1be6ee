"""Re-encoding: H.264 + AAC into mp4 or mov, one decoding pass cut into parts, with the settings planned."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from .av import MUX_OPTIONS, Ticker, failures, kept_streams, open_input, why
from .plan import CRF, Encoding
from .probe import Scan, Source
from .types import DamagedVideo, FitError, Probe, Progress, Span

MAXRATE = 1.5  # VBV cap as a multiple of the target bitrate
BUFFER_SECONDS = 2.0  # VBV buffer, in seconds of the target bitrate (less for clips under 16 s: _Part)
AAC_FRAME = 1024  # samples per AAC frame; a part's audio is cut to a whole number of them


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
        output = av.open(str(self.path), "w", format=self.muxer, options=MUX_OPTIONS.get(self.muxer, {}))
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
        raise FitError(f"writing {path.suffix.lstrip('.')} failed: {why(exc)}") from exc


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
    with failures(src.name, f"re-encoding it ({enc.describe()})"), open_input(src) as inp:
        video, audio = kept_streams(inp)
        if video is None:
            raise DamagedVideo(f"{src.name} has no video stream")
        _, empty = _encode_pass(inp, video, audio, None, info, spans, outs, muxer, enc, progress)
    _check_parts(src, empty, len(outs))


def encode_and_probe(
    source: Source,
    spans: Sequence[Span],
    outs: Sequence[Path],
    muxer: str,
    enc: Encoding,
    progress: Progress | None,
) -> Probe:
    """Re-encode the spans of ``source`` while probing the packets: one pass instead of two.

    Returns the probe; when it reports damage, ``outs`` are to be thrown away. Encoder and muxer failures
    raise FitError. After a trim the probe covers what was read (``complete`` False).
    """
    taken = source.take()
    if taken is None:
        if source.info.damage:
            return source.info
        with Source(source.path) as again:
            return encode_and_probe(again, spans, outs, muxer, enc, progress)
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
        source.close()
    if not info.damage:
        _check_parts(source.path, empty, len(outs))
    return info


def _check_parts(src: Path, empty: list[int], count: int) -> None:
    if empty:
        raise FitError(f"{src.name}: no frame of the video fell into part {empty[0]} of {count}")


def _encode_pass(
    inp: InputContainer,
    video: VideoStream,
    audio: AudioStream | None,
    scan: Scan | None,
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
        self.ticker = Ticker(progress, [(spans[0][0], spans[-1][1])])
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

    def run(self, inp: InputContainer, video: VideoStream, audio: AudioStream | None, scan: Scan | None) -> bool:
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


def _frame_time(pts: int | None, time_base: Fraction | None) -> float | None:
    """Seconds of a decoded frame (frames flushed out of a decoder carry no time base of their own)."""
    return None if pts is None or time_base is None else float(pts * time_base)
