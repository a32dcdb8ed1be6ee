"""Stream copy: packets moved into another container untouched, whole or cut on keyframes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from .av import MUX_OPTIONS, Ticker, failures, kept_streams, open_input, time_bases, why
from .plan import EPS
from .probe import Scan, Source
from .types import DamagedVideo, FitError, Probe, Progress, Span


def copy(
    src: Path, info: Probe, spans: Sequence[Span], outs: Sequence[Path], muxer: str, progress: Progress | None
) -> None:
    """Stream-copy each span (keyframe-aligned, seconds from the first picture) into its own file."""
    ticker = Ticker(progress, spans)
    last = len(spans) - 1
    for i, (span, out) in enumerate(zip(spans, outs, strict=True)):
        to_end = i == last and span[1] >= info.duration - EPS
        with failures(src.name, f"copying it into {muxer}"):
            if not _copy_span(src, info, span, to_end, out, muxer, ticker, seek=span[0] > 0):
                _copy_span(src, info, span, to_end, out, muxer, ticker, seek=False)  # the seek landed too late
        ticker.next_span(span[1] - span[0])


def remux(source: Source, out: Path, muxer: str, progress: Progress | None) -> Probe:
    """Copy every packet of ``source`` into ``out`` while probing them: one pass instead of two.

    Returns the full probe; when it reports damage, ``out`` is to be thrown away. Muxer failures raise
    FitError (the source may be fine: re-encoding can still work).
    """
    taken = source.take()
    if taken is None:
        if source.info.damage:
            return source.info
        with Source(source.path) as again:
            return remux(again, out, muxer, progress)
    container, scan = taken
    ticker = Ticker(progress, [(0.0, scan.head.duration)])
    start = max(container.start_time / 1e6 if container.start_time else 0.0, 0.0)
    try:
        _copy_packets(container, scan.video, scan.audio, out, muxer, ticker, start, math.inf, whole=True, scan=scan)
        scan.flush()
        return scan.result()
    except av.FFmpegError as exc:
        return scan.failed(exc)
    finally:
        source.close()


def _copy_span(
    src: Path,
    info: Probe,
    span: Span,
    to_end: bool,
    out: Path,
    muxer: str,
    ticker: Ticker,
    *,
    seek: bool,
) -> bool:
    """One span into ``out``; False when a seek landed past the span's first keyframe (scan from the top)."""
    start = info.origin + span[0]
    end = math.inf if to_end else info.origin + span[1]
    with open_input(src) as inp:
        video, audio = kept_streams(inp)
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
    ticker: Ticker,
    start: float,
    end: float,
    *,
    whole: bool,
    seek: bool = False,
    scan: Scan | None = None,
) -> bool:
    """Packets of ``[start, end)`` seconds into ``out``, moved so ``start`` is at 0.

    A cut span starts on the video keyframe at ``start`` and ends before the one at ``end``; its audio is
    the packets wholly inside. A ``whole`` copy takes every packet (see _copy_all).
    """
    kept: list[VideoStream | AudioStream] = [video] if audio is None else [video, audio]
    with av.open(str(out), "w", format=muxer, options=MUX_OPTIONS.get(muxer, {})) as output:
        out_video = output.add_stream_from_template(video)
        out_audio = output.add_stream_from_template(audio) if audio else None
        bases = time_bases(video, audio)
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
                raise FitError(f"the {muxer} muxer refused a packet: {why(exc)}") from exc
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
    ticker: Ticker,
    start: float,
    bases: dict[int, float],
    scan: Scan | None,
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
            raise FitError(f"the {muxer} muxer refused a packet: {why(exc)}") from exc
        count += 1
        if not count % 64 and ticker.progress is not None:
            t = _time(packet, bases[index])  # already moved: seconds from the start
            if t is not None:
                ticker.at(t)


def _time(packet: Packet[Any], base: float) -> float | None:
    ts = packet.pts if packet.pts is not None else packet.dts
    return None if ts is None else ts * base
