"""Make one local audio file fit a route: a byte budget, a duration limit and the ``input_audio`` formats it takes.

    parts = fit_audio(Path("talk.flac"), accepted=["mp3", "wav"], max_bytes=8_000_000, max_duration=None,
                      workdir=tmp)
    parts[0].path, parts[0].note     # .../fit-....mp3, "re-encoded flac -> mp3 64 kb/s mono 44.1 kHz: ..."

The least change that works, in this order: ``kept`` (the format is accepted and the file within the limits);
``cut`` (``mode`` "trim" or "split" of an accepted format: its packets copied into parts); ``re-encoded`` (MP3
when accepted, else WAV, else another accepted format; the bitrate, or for WAV the sample rate and channels,
chosen so each file lands under the budget). ``mode="fit"`` never cuts: audio over the duration limit is
refused (:class:`CannotFit`, reason "too-long"). ``av`` loads on the first call, never at import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from .._model.audio import AUDIO_MIME, canonical_format
from .audioplan import MUXERS, PREFERENCE, Target, ladder, too_tight
from .engine import require_av
from .plan import EPS, MARGIN, mb
from .types import Action, AudioProbe, CannotFit, DamagedAudio, FitError, Fitted, Mode
from .workdir import Workdir

__all__ = ["fit_audio", "probe_audio"]

MIN_PART = 1.0  # seconds: a split never makes parts shorter than this to meet a budget
SLACK = 0.2  # seconds: longer than any audio packet (FLAC's are 0.1 s), kept free when a copy splits


def probe_audio(src: Path) -> AudioProbe:
    """What ``src`` is (format, duration, codec, channels, rate; ``damage`` when unusable). Never raises for bad
    content; raises :class:`FitUnavailable` without PyAV, :class:`FitError` when the file cannot be read."""
    require_av("audio")
    from . import audiocodec

    return audiocodec.probe(Path(src))


def fit_audio(
    src: Path,
    *,
    accepted: Sequence[str],
    max_bytes: int | None,
    max_duration: float | None,
    workdir: Path,
    mode: Mode = "fit",
    max_parts: int | None = None,
    probed: AudioProbe | None = None,
) -> list[Fitted]:
    """Make ``src`` fit: each returned file is at most ``max_bytes`` and ``max_duration`` seconds, in a format
    from ``accepted`` (``input_audio.format`` names, any spelling :func:`canonical_format` knows).

    ``mode``: "fit" never cuts, "trim" keeps the first ``max_duration`` seconds, "split" returns consecutive
    parts (at most ``max_parts``). New files go to ``workdir`` and are the caller's; every one is removed when
    this raises. ``probed`` reuses an earlier :func:`probe_audio` of the same file.
    """
    if max_bytes is not None and max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    if max_duration is not None and max_duration <= 0:
        raise ValueError(f"max_duration must be positive, got {max_duration}")
    if max_parts is not None and max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    if mode not in ("fit", "trim", "split"):
        raise ValueError(f"mode must be 'fit', 'trim' or 'split', got {mode!r}")
    info = probed or probe_audio(src)
    if info.damage:
        raise DamagedAudio(f"{info.name} cannot be fitted: {info.damage}")
    formats = [f for f in (canonical_format(name) for name in accepted) if f is not None]
    job = _Job(Path(src), info, formats, max_bytes, max_duration, mode, max_parts, Path(workdir))
    try:
        return job.run()
    except BaseException:
        job.files.discard()
        raise


class _Job:
    def __init__(
        self,
        src: Path,
        info: AudioProbe,
        accepted: list[str],
        budget: int | None,
        limit: float | None,
        mode: Mode,
        max_parts: int | None,
        workdir: Path,
    ) -> None:
        self.src, self.info, self.accepted = src, info, accepted
        self.budget, self.limit, self.mode, self.max_parts = budget, limit, mode, max_parts
        self.files = Workdir(workdir)
        self.tried: list[str] = []

    def run(self) -> list[Fitted]:
        info, limit, fmt = self.info, self.limit, self.info.format
        too_long = limit is not None and info.duration > limit + EPS
        if too_long and self.mode == "fit":
            raise CannotFit(
                f"{info.name} is {info.duration:.1f} s long and the route takes at most {limit:g} s; "
                "fitting never cuts content: trim (keep the first part) or split (several parts) would fix it",
                reason="too-long",
            )
        fits_bytes = self.budget is None or info.size <= self.budget
        if fmt is None or fmt not in self.accepted:
            return self._encode()
        if fits_bytes and not too_long:
            note = f"kept: {fmt}, {mb(info.size)}, {info.duration:.1f} s within limits"
            return [Fitted(self.src, AUDIO_MIME[fmt], info.size, info.duration, note, "kept")]
        if fmt in MUXERS and (too_long or self.mode == "split"):
            done = self._copy(fmt)
            if done is not None:
                return done
        return self._encode()

    # -- stream copy --

    def _copy(self, fmt: str) -> list[Fitted] | None:
        """The accepted source cut into parts by copying its packets; None (files removed) when they miss a limit."""
        from . import audiocodec

        info, budget, limit = self.info, self.budget, self.limit
        if self.mode == "trim":
            if budget is not None and info.size * (limit or 0) / info.duration > budget * (1 - MARGIN):
                self.tried.append(f"stream copy (the first {limit:g} s are over {mb(budget)})")
                return None
            bounds = [limit or info.duration]
        else:
            length = limit if limit is not None else info.duration
            if budget is not None:  # at the source's average byte rate
                length = min(length, info.duration * budget * (1 - MARGIN) / info.size)
            # Equal parts, a packet's length (SLACK) under the limit: a part ends where a packet does.
            count = max(1, math.ceil(info.duration / max(length - SLACK, length / 2) - EPS))
            if self.max_parts is not None and count > self.max_parts:
                self.tried.append(f"stream copy split ({count} parts, over {self.max_parts})")
                return None
            bounds = [info.duration * (i + 1) / count for i in range(count - 1)] + [math.inf]
        try:
            parts = audiocodec.copy(self.src, bounds, lambda: self.files.new(fmt), MUXERS[fmt][0])
        except FitError as exc:  # a muxer that refuses these packets: re-encoding still can work
            self.tried.append(f"stream copy into {fmt} (failed: {str(exc).split(': ', 1)[-1]})")
            self.files.discard()
            return None
        sizes = [p.stat().st_size for p, _ in parts]
        if not parts:
            self.tried.append("stream copy (no packet to copy)")
        elif budget is not None and max(sizes) > budget:
            self.tried.append(f"stream copy ({mb(max(sizes))}, over {mb(budget)})")
        elif limit is not None and max(s for _, s in parts) > limit + EPS:
            self.tried.append("stream copy (a part over the duration limit)")
        else:
            return self._results(parts, sizes, fmt, None)
        self.files.discard()
        return None

    # -- re-encode --

    def _encode(self) -> list[Fitted]:
        from . import audiocodec

        info = self.info
        formats = [(f, c) for f in PREFERENCE if f in self.accepted and (c := audiocodec.encoder(MUXERS[f][1]))]
        if not formats:
            taken = ", ".join(self.accepted) or "none"
            raise CannotFit(
                f"{info.name} needs re-encoding, and no format the route takes ({taken}) can be written here",
                reason="container",
                tried=self.tried,
            )
        count, options = self._plan(formats)
        for target in options[:2]:  # the second one down when the first lands over the budget
            if self.mode == "trim":
                bounds = [self.limit or math.inf]  # the encode stops at the source's end too
            else:
                bounds = [info.duration * (i + 1) / count for i in range(count - 1)] + [math.inf]
            outs = [self.files.new(target.format) for _ in bounds]
            samples = audiocodec.transcode(self.src, bounds, outs, target)
            self.files.discard(outs[len(samples) :])  # the source ended early: no sound for the last parts
            parts = [(path, n / target.rate) for path, n in zip(outs, samples, strict=False)]
            sizes = [p.stat().st_size for p, _ in parts]
            if self.budget is None or max(sizes) <= self.budget:
                return self._results(parts, sizes, target.format, target)
            self.tried.append(f"re-encode as {target.describe()} ({mb(max(sizes))}, over {mb(self.budget)})")
            self.files.discard()
        raise CannotFit(
            f"{info.name} could not be brought under {mb(self.budget or 0)}", reason="budget", tried=self.tried
        )

    def _plan(self, formats: list[tuple[str, str]]) -> tuple[int, list[Target]]:
        """How many parts, and the settings to try (the first that fits the budget, then the next one down)."""
        info, limit, budget = self.info, self.limit, self.budget
        count = 1
        if self.mode == "split" and limit is not None:
            count = max(1, math.ceil(info.duration / limit - EPS))
        while True:
            if self.max_parts is not None and count > self.max_parts:
                raise CannotFit(
                    f"{info.name} is {info.duration:.1f} s long: it needs {count} parts to fit, "
                    f"the route takes at most {self.max_parts}",
                    reason="too-many-parts",
                    tried=self.tried,
                )
            seconds = min(info.duration, limit or info.duration) if self.mode == "trim" else info.duration / count
            for fmt, codec in formats:
                steps = ladder(fmt, codec, info)
                fitting = [t for t in steps if budget is None or t.estimate(seconds) <= budget]
                if fitting:
                    return count, fitting
            if self.mode != "split" or seconds / 2 < MIN_PART:
                tried = [too_tight(f, seconds, budget or 0) for f, _ in formats]
                raise CannotFit(
                    f"{info.name} does not fit in {mb(budget or 0)} in any format the route takes",
                    reason="budget",
                    tried=[*self.tried, *tried],
                )
            count += 1  # more, shorter parts each get the whole budget

    def _results(
        self, parts: list[tuple[Path, float]], sizes: list[int], fmt: str, target: Target | None
    ) -> list[Fitted]:
        """The parts as results (``target`` None: copied), every file now the caller's."""
        info = self.info
        how = f"re-encoded as {target.describe()}" if target else "stream copy"
        action: Action = "re-encoded" if target else "cut"
        out: list[Fitted] = []
        start = 0.0
        for i, ((path, seconds), size) in enumerate(zip(parts, sizes, strict=True)):
            if len(parts) > 1:
                note = f"part {i + 1}/{len(parts)}: {start:.1f}-{start + seconds:.1f} s of {info.duration:.1f} s, "
                note += f"{how}: {mb(size)}"
            elif seconds < info.duration - EPS:
                note = f"trimmed to the first {seconds:.1f} s of {info.duration:.1f} s, {how}: {mb(size)}"
            else:
                what = f"re-encoded {info.format or info.codec} -> {target.describe()}" if target else how
                note = f"{what}: {mb(info.size)} -> {mb(size)}"
            out.append(Fitted(path, AUDIO_MIME[fmt], size, seconds, note, action, start))
            start += seconds
        self.files.made.clear()
        return out
