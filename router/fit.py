"""Make one local video fit a route: a byte budget, a duration limit and the containers the route accepts.

    from router.fit import fit
    parts = fit(Path("talk.mkv"), budget=18_000_000, max_duration=None, accepted=["video/mp4"], workdir=tmp)
    parts[0].path, parts[0].note     # .../fit-....mp4, "remuxed mkv -> mp4: 16.4 MB"

The least change that works, in this order:

==============  ===========================================================================================
kept            the container is accepted and the file is within the budget and the duration limit
remuxed         codecs fine (H.264/HEVC + AAC/MP3, or VP8/VP9/AV1 + Opus/Vorbis for WebM), container not
                accepted: stream copy into mp4 (``+faststart``), every packet kept
cut             ``mode="trim"`` / ``"split"``: stream copy cut on keyframes, when that loses little
re-encoded      H.264 yuv420p + AAC in mp4 (``+faststart``), 720p or less, fewer frames per second when the
                bitrate would be too low; one-pass ABR with a VBV cap so the file lands just under the budget
==============  ===========================================================================================

``mode="fit"`` (the default) never cuts content: a video over the duration limit is refused with an error
that says trim or split would fix it. ``"trim"`` keeps the first seconds the limit allows; ``"split"`` cuts
the whole video into consecutive parts, each within the budget and the limit.

Needs the ``fit`` extra (PyAV, which bundles FFmpeg with x264: GPL terms). ``av`` is imported on the first
call, never at ``import router`` nor at ``import router.fit``; without it the call raises
:class:`FitUnavailable`, which says what to install.

Errors (all are :class:`router.RouterError`; messages name the file, never its directory)::

    FitError                 fitting failed; the message says what was tried
    ├── FitUnavailable       PyAV is not installed: pip install 'router[fit]'
    ├── DamagedVideo         probe refused the file (rule ``format-mismatch``)
    └── CannotFit            the limits cannot be met in this mode (rule ``too-large``; ``reason`` says which)
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ._fittypes import Action as Action
from ._fittypes import CannotFit, DamagedVideo, FitError, Fitted, FitUnavailable, Mode, Probe, Reason
from ._fittypes import Progress as Progress
from ._fittypes import Span as Span
from ._media import canonical_mime

if TYPE_CHECKING:
    from . import _fitav

__all__ = [
    "CannotFit",
    "DamagedVideo",
    "Encoding",
    "FitError",
    "FitUnavailable",
    "Fitted",
    "Mode",
    "Probe",
    "Reason",
    "fit",
    "plan_encoding",
    "probe",
]

INSTALL_HINT = "pip install 'router[fit]'"
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
_SHORT_NAMES = {
    "video/mp4": "mp4",
    "video/mov": "mov",
    "video/webm": "webm",
    "video/x-matroska": "mkv",
    "video/x-msvideo": "avi",
    "video/x-flv": "flv",
    "video/mpeg": "mpeg",
    "video/mp2t": "ts",
    "video/3gpp": "3gp",
}


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


# -- the public calls -------------------------------------------------------------------------------------------


def probe(path: Path) -> Probe:
    """Open ``path``, check its streams, demux every packet and decode the first frames.

    Never raises for bad content: ``damage`` says what is wrong (missing ``moov``, truncation, garbage, no
    video stream, nothing decodable). Raises :class:`FitUnavailable` without PyAV, :class:`FitError` when
    the file cannot be read at all.
    """
    _require_av()
    from . import _fitav

    return _fitav.probe(Path(path))


def fit(
    src: Path,
    *,
    budget: int | None,
    max_duration: float | None,
    accepted: Sequence[str],
    mode: Mode = "fit",
    max_parts: int | None = None,
    workdir: Path,
    progress: Progress | None = None,
    probed: Probe | None = None,
) -> list[Fitted]:
    """Make ``src`` fit: each returned file is at most ``budget`` bytes and ``max_duration`` seconds long,
    in a container from ``accepted`` (MIME types, any spelling ``router.media`` knows).

    ``budget`` is the size of the video file itself (the caller has already taken base64 and JSON overhead
    off the provider's limit); None means no byte limit. ``mode``: "fit" never cuts content, "trim" keeps
    the first ``max_duration`` seconds, "split" returns consecutive parts (at most ``max_parts``). New files
    are written to ``workdir``; every temporary file is removed when this raises (KeyboardInterrupt too).
    ``progress`` gets the share done (0..1); ``probed`` reuses an earlier :func:`probe` of the same file.
    """
    if budget is not None and budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if max_duration is not None and max_duration <= 0:
        raise ValueError(f"max_duration must be positive, got {max_duration}")
    if max_parts is not None and max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    if mode not in ("fit", "trim", "split"):
        raise ValueError(f"mode must be 'fit', 'trim' or 'split', got {mode!r}")
    src = Path(src)
    _require_av()
    from . import _fitav

    # Headers first, from a container kept open: a whole-file remux probes the packets while it copies them.
    source = None if probed else _fitav.Source(src)
    try:
        info = source.info if source is not None else probed
        assert info is not None
        if info.damage:
            raise DamagedVideo(f"{info.name} cannot be fitted: {info.damage}")
        accepts = _accepted(accepted)
        return _Job(src, info, source, budget, max_duration, accepts, mode, max_parts, Path(workdir), progress).run()
    finally:
        if source is not None:
            source.close()


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
            f"{info.name}: {_mb(budget)} for {seconds:.1f} s leaves {max(video, 0) // 1000} kb/s for the picture, "
            f"under the {FLOOR_BPS // 1000} kb/s floor",
            reason="budget",
        )
    if video / (w * h * float(fps)) > CEILING_BPP:
        cap = int(video * seconds / (seconds + 2))  # the 2 s VBV buffer may overshoot the cap by its size
        return Encoding(w, h, fps, None, cap, audio, channels, sample_rate)
    return Encoding(w, h, fps, video, None, audio, channels, sample_rate)


# -- how a job runs ---------------------------------------------------------------------------------------------

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


def _mb(size: int | float) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1_000_000 else f"{size / 1e3:.0f} kB"


def _mbps(bps: int | None) -> str:
    bps = bps or 0
    return f"{bps / 1e6:.1f} Mbps" if bps >= 1_000_000 else f"{bps // 1000} kb/s"


def _short(mime: str | None, container: str) -> str:
    if mime and mime in _SHORT_NAMES:
        return _SHORT_NAMES[mime]
    return container.split(",")[0] or "unknown"


def _accepted(accepted: Sequence[str]) -> dict[str, str]:
    """Canonical MIME -> the spelling the caller gave (what the request will declare)."""
    out: dict[str, str] = {}
    for name in accepted:
        out.setdefault(canonical_mime(name), name)
    return out


def _require_av() -> None:
    try:
        importlib.import_module("av")
    except ImportError:
        raise FitUnavailable(f"fitting video needs PyAV, which is not installed: {INSTALL_HINT}") from None


class _Workdir:
    """Temporary outputs in ``workdir``: each ``new()`` file is removed by ``discard()`` unless it was kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[Path] = []

    def new(self, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(prefix="fit-", suffix=f".{suffix}", dir=self.root)
        os.close(fd)
        path = Path(name)
        self.made.append(path)
        return path

    def discard(self, paths: Sequence[Path] | None = None) -> None:
        for path in list(self.made if paths is None else paths):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if path in self.made:
                self.made.remove(path)


class _Job:
    def __init__(
        self,
        src: Path,
        info: Probe,
        source: _fitav.Source | None,
        budget: int | None,
        limit: float | None,
        accepted: dict[str, str],
        mode: Mode,
        max_parts: int | None,
        workdir: Path,
        progress: Progress | None,
    ) -> None:
        self.src, self.info, self.source, self.budget, self.limit = src, info, source, budget, limit
        self.accepted, self.mode, self.max_parts = accepted, mode, max_parts
        self.files = _Workdir(workdir)
        self.progress = progress
        self.tried: list[str] = []

    # The whole job; temporary files go on any way out but success.
    def run(self) -> list[Fitted]:
        try:
            out = self._run()
        except BaseException:
            self.files.discard()
            raise
        if self.progress:
            self.progress(1.0)
        return out

    def _run(self) -> list[Fitted]:
        if not self.info.duration:  # the headers do not say: the packets will
            self._complete()
        info, limit = self.info, self.limit
        too_long = limit is not None and info.duration > limit + EPS
        if too_long and self.mode == "fit":
            raise CannotFit(
                f"{info.name} is {info.duration:.1f} s long and the route takes at most {limit:g} s; "
                "fitting never cuts content: trim (keep the first part) or split (several parts) would fix it",
                reason="too-long",
            )
        fits_bytes = self.budget is None or info.size <= self.budget
        canonical = canonical_mime(info.mime) if info.mime else None
        if canonical in self.accepted and fits_bytes and not too_long:
            self._complete()  # sent as it is, so every packet is checked first
            info = self.info
            note = f"kept: {_short(info.mime, info.container)}, {_mb(info.size)}, {info.duration:.1f} s within limits"
            return [Fitted(self.src, self.accepted[canonical], info.size, info.duration, note, "kept")]
        target = self._copy_target()
        if target is not None:
            done = None
            if not too_long and info.payload <= self._room(info.duration):
                done = self._remux(*target) if not info.complete else self._copy([(0.0, info.duration)], *target)
            elif too_long or self.mode == "split":  # cuts on keyframes: those come from the full probe
                self._complete()
                spans = self._copy_spans()
                done = None if spans is None else self._copy(spans, *target)
            else:  # the whole file is over the budget and nothing may be cut
                self.tried.append(f"stream copy ({_mb(info.payload)} of packets, over {_mb(self.budget or 0)})")
            if done is not None:
                return done
        elif info.video_codec:
            self.tried.append(f"stream copy (not possible: {self._codecs()} cannot go into {self._names()})")
        return self._encode()

    def _complete(self) -> None:
        """Probe every packet, when only the headers were read so far; damage stops the job here."""
        if self.info.complete:
            return
        from . import _fitav

        self.info = self.source.packets() if self.source else _fitav.probe(self.src)
        if self.info.damage:
            raise DamagedVideo(f"{self.info.name} cannot be fitted: {self.info.damage}")

    # -- stream copy --

    def _codecs(self) -> str:
        return "/".join(c for c in (self.info.video_codec, self.info.audio_codec) if c)

    def _names(self) -> str:
        return ", ".join(sorted(self.accepted.values()))

    def _copy_target(self) -> tuple[str, str] | None:
        """(accepted MIME name, FFmpeg muxer) that the codecs can be copied into, the source's family first."""
        info = self.info
        options = [t for t in _COPYABLE if t[0] in self.accepted]
        own = canonical_mime(info.mime) if info.mime else None
        options.sort(key=lambda t: t[0] != own)
        for mime, muxer, video, audio in options:
            if info.video_codec in video and info.audio_codec in audio:
                return self.accepted[mime], muxer
        return None

    def _room(self, seconds: float) -> float:
        """Bytes of packets a copied part of ``seconds`` may hold under the budget."""
        if self.budget is None:
            return math.inf
        return self.budget * (1 - MARGIN) - _mp4_overhead(seconds, max(self.info.fps, 1), bool(self.info.audio_codec))

    def _copy_spans(self) -> list[Span] | None:
        """Keyframe-aligned spans for a stream copy, or None when copying cannot meet the limits."""
        info, limit = self.info, self.limit
        total = info.duration
        # (time, bytes before) of every place a copy may cut, the end included
        cuts = [kf for kf in info.keyframes if 0 < kf[0] < total - EPS]
        marks = [(0.0, 0), *cuts, (total, info.payload)]
        if self.mode != "split":
            end_at = total if limit is None else min(total, limit)
            end = max((m for m in marks if m[0] <= end_at + EPS), key=lambda m: m[0])
            if end[0] <= 0:
                self.tried.append("stream copy (no keyframe to cut at)")
                return None
            if end_at - end[0] > COPY_LOSS * end_at + EPS:
                self.tried.append(f"stream copy (the last keyframe before {end_at:.1f} s is at {end[0]:.1f} s)")
                return None
            if end[1] > self._room(end[0]):
                self.tried.append(f"stream copy ({_mb(end[1])} of packets, over {_mb(self.budget or 0)})")
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
                and m[1] - start[1] <= self._room(m[0] - start[0])
            ]
            if not ok:
                self.tried.append(f"stream copy split (no keyframe cut after {start[0]:.1f} s fits)")
                return None
            end = max(ok, key=lambda m: m[0])
            spans.append((start[0], end[0]))
            start = end
        if self.max_parts is not None and len(spans) > self.max_parts:
            self.tried.append(f"stream copy split ({len(spans)} parts, over {self.max_parts})")
            return None
        return spans

    def _remux(self, mime: str, muxer: str) -> list[Fitted] | None:
        """The whole file by stream copy, probing every packet on the way (one pass instead of two)."""
        from . import _fitav

        out = self.files.new(muxer)
        try:
            source = self.source or _fitav.Source(self.src)
            info = source.remux(out, muxer, self.progress)
        except FitError as exc:  # a muxer that refuses these packets: re-encoding still can work
            self.tried.append(f"stream copy into {muxer} (failed: {str(exc).split(': ', 1)[-1]})")
            self.files.discard([out])
            return None
        if info.damage:
            self.files.discard([out])
            raise DamagedVideo(f"{info.name} cannot be fitted: {info.damage}")
        self.info = info
        return self._copied([(0.0, info.duration)], [out], mime, muxer)

    def _copy(self, spans: list[Span], mime: str, muxer: str) -> list[Fitted] | None:
        from . import _fitav

        outs = [self.files.new(muxer) for _ in spans]
        try:
            _fitav.copy(self.src, self.info, spans, outs, muxer, self.progress)
        except FitError as exc:  # a muxer that refuses these packets: re-encoding still can work
            self.tried.append(f"stream copy into {muxer} (failed: {str(exc).split(': ', 1)[-1]})")
            self.files.discard(outs)
            return None
        return self._copied(spans, outs, mime, muxer)

    def _copied(self, spans: list[Span], outs: list[Path], mime: str, muxer: str) -> list[Fitted] | None:
        """The copies as results, or None (files removed) when one is over the budget or the limit."""
        from . import _fitav

        info = self.info
        sizes = [p.stat().st_size for p in outs]
        durations = [_fitav.duration(p) for p in outs]
        over = [i for i, s in enumerate(sizes) if self.budget is not None and s > self.budget]
        long_ = [i for i, d in enumerate(durations) if self.limit is not None and d > self.limit + EPS]
        if over or long_:
            what = f"{_mb(max(sizes))}, over {_mb(self.budget or 0)}" if over else "over the duration limit"
            self.tried.append(f"stream copy into {muxer} ({what})")
            self.files.discard(outs)
            return None
        source = _short(info.mime, info.container)
        whole = len(spans) == 1 and spans[0][1] >= info.duration - EPS
        result = []
        for i, (span, path, size, seconds) in enumerate(zip(spans, outs, sizes, durations, strict=True)):
            action: Action
            if whole:
                note, action = f"remuxed {source} -> {muxer}: {_mb(size)}", "remuxed"
            elif self.mode == "trim":
                note = f"trimmed to the first {seconds:.1f} s of {info.duration:.1f} s (stream copy, cut at a keyframe)"
                action = "cut"
            else:
                note = (
                    f"part {i + 1}/{len(spans)}: {span[0]:.1f}-{span[1]:.1f} s of {info.duration:.1f} s "
                    f"(stream copy, cut at keyframes), {_mb(size)}"
                )
                action = "cut"
            result.append(Fitted(path, mime, size, seconds, note, action, span[0]))
        self.files.made.clear()
        return result

    # -- re-encode --

    def _encode_spans(self) -> tuple[list[Span], Encoding]:
        info, limit, total = self.info, self.limit, self.info.duration
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
                tried=self.tried,
            )
        while True:
            spans = [(total * i / count, total * (i + 1) / count) for i in range(count)]
            try:
                return spans, plan_encoding(info, total / count, self.budget)
            except CannotFit as exc:
                # more, shorter parts each get the whole budget: split may keep going, fit and trim cannot
                if self.mode != "split" or (most is not None and count >= most):
                    raise CannotFit(str(exc), reason="budget", tried=self.tried) from None
                count += 1

    def _encode(self) -> list[Fitted]:
        from . import _fitav

        info = self.info
        writable = [
            (self.accepted[m], mux) for m, mux in (("video/mp4", "mp4"), ("video/mov", "mov")) if m in self.accepted
        ]
        if not writable:
            self._complete()  # a damaged file says so first: that is the thing to fix
            raise CannotFit(
                f"{info.name} needs re-encoding, which writes mp4, and the route takes only {self._names()}",
                reason="container",
                tried=self.tried,
            )
        mime, muxer = writable[0]
        spans, enc = self._encode_spans()
        budget = self.budget
        for attempt in (1, 2):
            outs = [self.files.new(muxer) for _ in spans]
            if self.source is not None and not self.info.complete:  # one pass: the probe rides along
                info = self.source.encode(spans, outs, muxer, enc, self.progress)
                if info.damage:
                    raise DamagedVideo(f"{info.name} cannot be fitted: {info.damage}")
                self.info = info
            else:
                _fitav.encode(self.src, self.info, spans, outs, muxer, enc, self.progress)
            sizes = [p.stat().st_size for p in outs]
            worst = max(sizes)
            if budget is None or worst <= budget:
                break
            self.tried.append(f"re-encode at {enc.describe()} ({_mb(worst)}, over {_mb(budget)})")
            self.files.discard(outs)
            if attempt == 2:
                raise CannotFit(
                    f"{info.name} could not be brought under {_mb(budget)}", reason="budget", tried=self.tried
                )
            enc = enc.lowered(budget / worst * (1 - RETRY_MARGIN))
        result = []
        for i, (span, path, size) in enumerate(zip(spans, outs, sizes, strict=True)):
            seconds = _fitav.duration(path)
            what = f"re-encoded {enc.describe()}"
            if len(spans) > 1:
                note = f"part {i + 1}/{len(spans)}: {span[0]:.1f}-{span[1]:.1f} s, {what}: {_mb(size)}"
            elif span[1] < info.duration - EPS:
                note = f"trimmed to the first {span[1]:.1f} s, {what}: {_mb(info.size)} -> {_mb(size)}"
            else:
                note = f"{what}: {_mb(info.size)} -> {_mb(size)}"
            result.append(Fitted(path, mime, size, seconds, note, "re-encoded", span[0]))
        self.files.made.clear()
        return result
