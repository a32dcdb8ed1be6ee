"""The fit engine's entry points, ``fit`` and ``probe``: the public face is :mod:`router.fit`, which says how
they choose between keeping, remuxing, cutting and re-encoding."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._model.media import canonical_mime
from .plan import CEILING_BPP as CEILING_BPP
from .plan import COPY_LOSS as COPY_LOSS
from .plan import CRF as CRF
from .plan import EPS, RETRY_MARGIN, Encoding, Limits, mb, plan_encoding
from .plan import FLOOR_BPS as FLOOR_BPS
from .plan import LADDER as LADDER
from .plan import MARGIN as MARGIN
from .plan import MIN_BPP as MIN_BPP
from .types import Action as Action
from .types import CannotFit, DamagedVideo, FitError, Fitted, FitUnavailable, Mode, Probe, Reason
from .types import Progress as Progress
from .types import Span as Span
from .workdir import Workdir

if TYPE_CHECKING:
    from .probe import Source

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

# -- the public calls -------------------------------------------------------------------------------------------


def probe(path: Path) -> Probe:
    """Open ``path``, check its streams, demux every packet and decode the first frames.

    Never raises for bad content: ``damage`` says what is wrong (missing ``moov``, truncation, garbage, no
    video stream, nothing decodable). Raises :class:`FitUnavailable` without PyAV, :class:`FitError` when
    the file cannot be read at all.
    """
    require_av()
    from . import probe as _fitprobe

    return _fitprobe.probe(Path(path))


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
    require_av()
    from . import probe as _fitprobe

    # Headers first, from a container kept open: a whole-file remux probes the packets while it copies them.
    source = None if probed else _fitprobe.Source(src)
    try:
        info = source.info if source is not None else probed
        assert info is not None
        if info.damage:
            raise DamagedVideo(f"{info.name} cannot be fitted: {info.damage}")
        limits = Limits(budget, max_duration, _accepted(accepted), mode, max_parts)
        return _Job(src, info, source, limits, Path(workdir), progress).run()
    finally:
        if source is not None:
            source.close()


# -- how a job runs ---------------------------------------------------------------------------------------------


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


def require_av(what: str = "video") -> None:
    """PyAV is imported on the first fit: without it, an error that says what to install."""
    try:
        importlib.import_module("av")
    except ImportError:
        raise FitUnavailable(f"fitting {what} needs PyAV, which is not installed: {INSTALL_HINT}") from None


class _Job:
    def __init__(
        self,
        src: Path,
        info: Probe,
        source: Source | None,
        limits: Limits,
        workdir: Path,
        progress: Progress | None,
    ) -> None:
        self.src, self.info, self.source, self.limits = src, info, source, limits
        self.files = Workdir(workdir)
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
        info, limits, limit = self.info, self.limits, self.limits.max_duration
        too_long = limit is not None and info.duration > limit + EPS
        if too_long and limits.mode == "fit":
            raise CannotFit(
                f"{info.name} is {info.duration:.1f} s long and the route takes at most {limit:g} s; "
                "fitting never cuts content: trim (keep the first part) or split (several parts) would fix it",
                reason="too-long",
            )
        fits_bytes = limits.budget is None or info.size <= limits.budget
        canonical = canonical_mime(info.mime) if info.mime else None
        if canonical in limits.accepted and fits_bytes and not too_long:
            self._complete()  # sent as it is, so every packet is checked first
            info = self.info
            note = f"kept: {_short(info.mime, info.container)}, {mb(info.size)}, {info.duration:.1f} s within limits"
            return [Fitted(self.src, limits.accepted[canonical], info.size, info.duration, note, "kept")]
        target = limits.copy_target(info)
        if target is not None:
            done = None
            if not too_long and info.payload <= limits.room(info, info.duration):
                done = self._remux(*target) if not info.complete else self._copy([(0.0, info.duration)], *target)
            elif too_long or limits.mode == "split":  # cuts on keyframes: those come from the full probe
                self._complete()
                spans = limits.copy_spans(self.info, self.tried)
                done = None if spans is None else self._copy(spans, *target)
            else:  # the whole file is over the budget and nothing may be cut
                self.tried.append(f"stream copy ({mb(info.payload)} of packets, over {mb(limits.budget or 0)})")
            if done is not None:
                return done
        elif info.video_codec:
            self.tried.append(f"stream copy (not possible: {self._codecs()} cannot go into {self._names()})")
        return self._encode()

    def _complete(self) -> None:
        """Probe every packet, when only the headers were read so far; damage stops the job here."""
        if self.info.complete:
            return
        from . import probe as _fitprobe

        self.info = self.source.packets() if self.source else _fitprobe.probe(self.src)
        if self.info.damage:
            raise DamagedVideo(f"{self.info.name} cannot be fitted: {self.info.damage}")

    # -- stream copy --

    def _codecs(self) -> str:
        return "/".join(c for c in (self.info.video_codec, self.info.audio_codec) if c)

    def _names(self) -> str:
        return ", ".join(sorted(self.limits.accepted.values()))

    def _remux(self, mime: str, muxer: str) -> list[Fitted] | None:
        """The whole file by stream copy, probing every packet on the way (one pass instead of two)."""
        from . import probe as _fitprobe
        from . import remux as _fitcopy

        out = self.files.new(muxer)
        try:
            source = self.source or _fitprobe.Source(self.src)
            info = _fitcopy.remux(source, out, muxer, self.progress)
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
        from . import remux as _fitcopy

        outs = [self.files.new(muxer) for _ in spans]
        try:
            _fitcopy.copy(self.src, self.info, spans, outs, muxer, self.progress)
        except FitError as exc:  # a muxer that refuses these packets: re-encoding still can work
            self.tried.append(f"stream copy into {muxer} (failed: {str(exc).split(': ', 1)[-1]})")
            self.files.discard(outs)
            return None
        return self._copied(spans, outs, mime, muxer)

    def _copied(self, spans: list[Span], outs: list[Path], mime: str, muxer: str) -> list[Fitted] | None:
        """The copies as results, or None (files removed) when one is over the budget or the limit."""
        from . import probe as _fitprobe

        info, budget, limit = self.info, self.limits.budget, self.limits.max_duration
        sizes = [p.stat().st_size for p in outs]
        durations = [_fitprobe.duration(p) for p in outs]
        over = [i for i, s in enumerate(sizes) if budget is not None and s > budget]
        long_ = [i for i, d in enumerate(durations) if limit is not None and d > limit + EPS]
        if over or long_:
            what = f"{mb(max(sizes))}, over {mb(budget or 0)}" if over else "over the duration limit"
            self.tried.append(f"stream copy into {muxer} ({what})")
            self.files.discard(outs)
            return None
        source = _short(info.mime, info.container)
        whole = len(spans) == 1 and spans[0][1] >= info.duration - EPS
        result = []
        for i, (span, path, size, seconds) in enumerate(zip(spans, outs, sizes, durations, strict=True)):
            action: Action
            if whole:
                note, action = f"remuxed {source} -> {muxer}: {mb(size)}", "remuxed"
            elif self.limits.mode == "trim":
                note = f"trimmed to the first {seconds:.1f} s of {info.duration:.1f} s (stream copy, cut at a keyframe)"
                action = "cut"
            else:
                note = (
                    f"part {i + 1}/{len(spans)}: {span[0]:.1f}-{span[1]:.1f} s of {info.duration:.1f} s "
                    f"(stream copy, cut at keyframes), {mb(size)}"
                )
                action = "cut"
            result.append(Fitted(path, mime, size, seconds, note, action, span[0]))
        self.files.made.clear()
        return result

    # -- re-encode --

    def _encode(self) -> list[Fitted]:
        from . import encode as _fitencode
        from . import probe as _fitprobe

        info = self.info
        target = self.limits.encode_target()
        if target is None:
            self._complete()  # a damaged file says so first: that is the thing to fix
            raise CannotFit(
                f"{info.name} needs re-encoding, which writes mp4, and the route takes only {self._names()}",
                reason="container",
                tried=self.tried,
            )
        mime, muxer = target
        spans, enc = self.limits.encode_spans(info, self.tried)
        budget = self.limits.budget
        for attempt in (1, 2):
            outs = [self.files.new(muxer) for _ in spans]
            if self.source is not None and not self.info.complete:  # one pass: the probe rides along
                info = _fitencode.encode_and_probe(self.source, spans, outs, muxer, enc, self.progress)
                if info.damage:
                    raise DamagedVideo(f"{info.name} cannot be fitted: {info.damage}")
                self.info = info
            else:
                _fitencode.encode(self.src, self.info, spans, outs, muxer, enc, self.progress)
            sizes = [p.stat().st_size for p in outs]
            worst = max(sizes)
            if budget is None or worst <= budget:
                break
            self.tried.append(f"re-encode at {enc.describe()} ({mb(worst)}, over {mb(budget)})")
            self.files.discard(outs)
            if attempt == 2:
                raise CannotFit(
                    f"{info.name} could not be brought under {mb(budget)}", reason="budget", tried=self.tried
                )
            enc = enc.lowered(budget / worst * (1 - RETRY_MARGIN))
        result = []
        for i, (span, path, size) in enumerate(zip(spans, outs, sizes, strict=True)):
            seconds = _fitprobe.duration(path)
            what = f"re-encoded {enc.describe()}"
            if len(spans) > 1:
                note = f"part {i + 1}/{len(spans)}: {span[0]:.1f}-{span[1]:.1f} s, {what}: {mb(size)}"
            elif span[1] < info.duration - EPS:
                note = f"trimmed to the first {span[1]:.1f} s, {what}: {mb(info.size)} -> {mb(size)}"
            else:
                note = f"{what}: {mb(info.size)} -> {mb(size)}"
            result.append(Fitted(path, mime, size, seconds, note, "re-encoded", span[0]))
        self.files.made.clear()
        return result
