"""What a fit will make, worked out from the probe and the limits before any file is written.

The encoding ladder (:func:`plan_encoding`), the bytes a budget leaves for packets, and where a stream copy or
a re-encode cuts the video (:class:`Limits`). Arithmetic only: no PyAV, no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from .._model.media import canonical_mime
from .types import CannotFit, FitError, Mode, Probe, Span

MARGIN = 0.03  # share of the budget kept free: ABR + VBV lands at 96-98 % and never over (notes/media-fit.md)
RETRY_MARGIN = 0.06  # the second attempt aims this far under, scaled by how far the first one missed
COPY_LOSS = 0.10  # a keyframe-aligned trim may lose at most this share of the allowed duration
EPS = 1e-3  # seconds: container durations are rounded to the millisecond

# Short side in pixels and frames per second, best first. A rung is taken when the video bitrate gives it at
# least MIN_BPP bits per pixel per frame; below the last rung, FLOOR_BPS is the least worth sending.
LADDER: tuple[tuple[int, int], ...] = ((720, 30), (720, 15), (540, 15), (480, 15), (360, 15), (360, 10), (240, 10))
MIN_BPP = 0.1
FLOOR_BPS = 40_000
CRF = 23  # quality when only the container or the length is wrong and the budget leaves room to spare
CEILING_BPP = 0.2  # above this many bits per pixel per frame the budget is not what limits quality: use CRF

# Codecs that can be copied into each container a route may accept (None: no audio stream).
_COPYABLE: tuple[tuple[str, str, frozenset[str], frozenset[str | None]], ...] = (
    ("video/mp4", "mp4", frozenset({"h264", "hevc"}), frozenset({"aac", "mp3", None})),
    ("video/mov", "mov", frozenset({"h264", "hevc"}), frozenset({"aac", "mp3", None})),
    ("video/webm", "webm", frozenset({"vp8", "vp9", "av1"}), frozenset({"opus", "vorbis", None})),
)


# -- the encoding ladder ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encoding:
    """Settings of one re-encode: ``video_bps`` None means constant quality (CRF) under a ``cap_bps`` VBV cap."""

    width: int
    height: int
    fps: Fraction
    video_bps: int | None
    cap_bps: int | None
    audio_bps: int  # 0: no audio stream
    audio_channels: int
    sample_rate: int

    def describe(self) -> str:
        rate = f"{_mbps(self.video_bps)}" if self.video_bps else f"CRF {CRF}"
        fps = f"{float(self.fps):.3g} fps"
        return f"{min(self.width, self.height)}p {fps} {rate}"

    def lowered(self, factor: float) -> Encoding:
        """The same settings with the video bitrate (or its cap) times ``factor``."""
        if self.video_bps is not None:
            return replace(self, video_bps=max(int(self.video_bps * factor), FLOOR_BPS // 2))
        return replace(self, cap_bps=max(int((self.cap_bps or 0) * factor), FLOOR_BPS // 2))


def plan_encoding(info: Probe, seconds: float, budget: int | None) -> Encoding:
    """Settings that make ``seconds`` of ``info`` land under ``budget`` bytes (MARGIN kept free).

    The highest rung of LADDER with at least MIN_BPP bits per pixel per frame, never above the source's
    size or frame rate; CRF when the budget is roomy or absent. Raises :class:`CannotFit` when even the
    last rung would get less than FLOOR_BPS.
    """
    channels = min(info.audio_channels, 2) if info.audio_codec else 0
    sample_rate = info.audio_rate if info.audio_rate in _AAC_RATES else 48_000
    short, long_ = sorted((info.width, info.height))
    if short <= 0:
        raise FitError(f"{info.name}: the size of its pictures is unknown")
    src_fps = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(30)

    def shape(rung: tuple[int, int]) -> tuple[int, int, Fraction]:
        side = min(rung[0], short)
        other = _even(long_ * side / short)
        side = _even(side)
        w, h = (other, side) if info.width >= info.height else (side, other)
        return w, h, min(Fraction(rung[1]), src_fps)

    if budget is None:
        w, h, fps = shape(LADDER[0])
        audio = _audio_bps(10**9, info) if channels else 0
        return Encoding(w, h, fps, None, None, audio, channels, sample_rate)
    seconds = max(seconds, 0.1)
    total_bps = budget * (1 - MARGIN) * 8 / seconds
    audio = _audio_bps(total_bps, info) if channels else 0
    if channels and audio <= 32_000:
        channels = 1

    def video_bps(fps: Fraction) -> int:  # what is left for the picture at this frame rate
        usable = budget * (1 - MARGIN) - _mp4_overhead(seconds, float(fps), channels > 0)
        return int(usable * 8 / seconds - audio * 1.02)  # AAC lands at 100-101 % of its nominal rate

    for rung in LADDER:
        w, h, fps = shape(rung)
        video = video_bps(fps)
        if video / (w * h * float(fps)) >= MIN_BPP:
            break
    if video < FLOOR_BPS:
        raise CannotFit(
            f"{info.name}: {mb(budget)} for {seconds:.1f} s leaves {max(video, 0) // 1000} kb/s for the picture, "
            f"under the {FLOOR_BPS // 1000} kb/s floor",
            reason="budget",
        )
    if video / (w * h * float(fps)) > CEILING_BPP:
        cap = int(video * seconds / (seconds + 2))  # the 2 s VBV buffer may overshoot the cap by its size
        return Encoding(w, h, fps, None, cap, audio, channels, sample_rate)
    return Encoding(w, h, fps, video, None, audio, channels, sample_rate)


_AAC_RATES = frozenset({48_000, 44_100, 32_000, 24_000, 22_050, 16_000})


def _audio_bps(total_bps: float, info: Probe) -> int:
    """AAC rate for a share of ``total_bps``: 96 kb/s stereo when there is room, down to 32 kb/s mono."""
    if total_bps >= 800_000:
        rate = 96_000
    elif total_bps >= 300_000:
        rate = 64_000
    elif total_bps >= 150_000:
        rate = 48_000
    else:
        rate = 32_000
    if info.audio_bit_rate:  # never spend more than the source did
        rate = min(rate, max(32_000, info.audio_bit_rate))
    return rate


def _mp4_overhead(seconds: float, fps: float, audio: bool) -> int:
    """Bytes of mp4 index and headers: ~12 bytes per video frame, ~8 per AAC frame (measured: 17 KB at 30 s)."""
    per_second = fps * 12 + (47 * 8 if audio else 0)
    return int(4096 + seconds * per_second)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def mb(size: int | float) -> str:
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.0f} kB" if size >= 10_000 else f"{size / 1e3:.1f} kB" if size >= 1000 else f"{size:.0f} B"


def _mbps(bps: int | None) -> str:
    bps = bps or 0
    return f"{bps / 1e6:.1f} Mbps" if bps >= 1_000_000 else f"{bps // 1000} kb/s"


# -- what to make under the limits ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What every output must meet, and how the source may be cut to get there.

    ``accepted`` maps each canonical MIME type to the caller's spelling (what the request will declare). A
    plan that cannot meet the limits adds why to ``tried``, the job's list of what it attempted.
    """

    budget: int | None
    max_duration: float | None
    accepted: dict[str, str]
    mode: Mode
    max_parts: int | None

    def copy_target(self, info: Probe) -> tuple[str, str] | None:
        """(accepted MIME name, FFmpeg muxer) that the codecs can be copied into, the source's family first."""
        options = [t for t in _COPYABLE if t[0] in self.accepted]
        own = canonical_mime(info.mime) if info.mime else None
        options.sort(key=lambda t: t[0] != own)
        for mime, muxer, video, audio in options:
            if info.video_codec in video and info.audio_codec in audio:
                return self.accepted[mime], muxer
        return None

    def encode_target(self) -> tuple[str, str] | None:
        """(accepted MIME name, FFmpeg muxer) a re-encode writes: mp4, else mov; None when the route takes neither."""
        for mime, muxer in (("video/mp4", "mp4"), ("video/mov", "mov")):
            if mime in self.accepted:
                return self.accepted[mime], muxer
        return None

    def room(self, info: Probe, seconds: float) -> float:
        """Bytes of packets a copied part of ``seconds`` may hold under the budget."""
        if self.budget is None:
            return math.inf
        return self.budget * (1 - MARGIN) - _mp4_overhead(seconds, max(info.fps, 1), bool(info.audio_codec))

    def copy_spans(self, info: Probe, tried: list[str]) -> list[Span] | None:
        """Keyframe-aligned spans for a stream copy, or None when copying cannot meet the limits."""
        limit = self.max_duration
        total = info.duration
        # (time, bytes before) of every place a copy may cut, the end included
        cuts = [kf for kf in info.keyframes if 0 < kf[0] < total - EPS]
        marks = [(0.0, 0), *cuts, (total, info.payload)]
        if self.mode != "split":
            end_at = total if limit is None else min(total, limit)
            end = max((m for m in marks if m[0] <= end_at + EPS), key=lambda m: m[0])
            if end[0] <= 0:
                tried.append("stream copy (no keyframe to cut at)")
                return None
            if end_at - end[0] > COPY_LOSS * end_at + EPS:
                tried.append(f"stream copy (the last keyframe before {end_at:.1f} s is at {end[0]:.1f} s)")
                return None
            if end[1] > self.room(info, end[0]):
                tried.append(f"stream copy ({mb(end[1])} of packets, over {mb(self.budget or 0)})")
                return None
            return [(0.0, end[0])]
        spans: list[Span] = []
        start = marks[0]
        while start[0] < total - EPS:
            ok = [
                m
                for m in marks
                if m[0] > start[0]
                and (limit is None or m[0] - start[0] <= limit + EPS)
                and m[1] - start[1] <= self.room(info, m[0] - start[0])
            ]
            if not ok:
                tried.append(f"stream copy split (no keyframe cut after {start[0]:.1f} s fits)")
                return None
            end = max(ok, key=lambda m: m[0])
            spans.append((start[0], end[0]))
            start = end
        if self.max_parts is not None and len(spans) > self.max_parts:
            tried.append(f"stream copy split ({len(spans)} parts, over {self.max_parts})")
            return None
        return spans

    def encode_spans(self, info: Probe, tried: list[str]) -> tuple[list[Span], Encoding]:
        """Equal spans and their settings: one span unless splitting, then as few parts as the budget allows."""
        limit, total = self.max_duration, info.duration
        if self.mode == "fit" or limit is None:
            count = 1
        else:
            count = 1 if self.mode == "trim" else max(1, math.ceil(total / limit - EPS))
        if self.mode == "trim":
            length = total if limit is None else min(total, limit)
            return [(0.0, length)], plan_encoding(info, length, self.budget)
        most = self.max_parts if self.mode == "split" else 1
        if most is not None and count > most:
            raise CannotFit(
                f"{info.name} is {total:.1f} s long: split into parts of at most {limit:g} s it needs {count} "
                f"parts, the route takes at most {most}",
                reason="too-many-parts",
                tried=tried,
            )
        while True:
            spans = [(total * i / count, total * (i + 1) / count) for i in range(count)]
            try:
                return spans, plan_encoding(info, total / count, self.budget)
            except CannotFit as exc:
                # more, shorter parts each get the whole budget: split may keep going, fit and trim cannot
                if self.mode != "split" or (most is not None and count >= most):
                    raise CannotFit(str(exc), reason="budget", tried=tried) from None
                count += 1
