"""The PyAV basics every fit loop shares: opening a file, the streams kept, FFmpeg's errors, progress.

Imports ``av`` at load time, as do the loops (``probe``, ``remux``, ``encode``): ``router.fit`` loads
them on first use. Every loop streams: one packet or frame at a time from the source file, straight into the
output file, so memory does not grow with the input. FFmpeg's error texts are reported through ``strerror``
only (never with the file's path).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from .types import FitError, Progress, Span

MUX_OPTIONS = {"mp4": {"movflags": "+faststart"}, "mov": {"movflags": "+faststart"}}


def why(exc: av.FFmpegError) -> str:
    """FFmpeg's reason without the file name it carries."""
    return (exc.strerror or type(exc).__name__).rstrip(".")


@contextlib.contextmanager
def failures(name: str, doing: str) -> Iterator[None]:
    """FFmpeg errors as FitError, saying what was being done to which file (by name, not path)."""
    try:
        yield
    except av.FFmpegError as exc:
        raise FitError(f"{name}: FFmpeg failed while {doing}: {why(exc)}") from exc


def open_input(path: Path) -> InputContainer:
    return av.open(str(path), "r", metadata_errors="ignore")


def kept_streams(container: InputContainer) -> tuple[VideoStream | None, AudioStream | None]:
    """The video and audio stream fitting keeps (FFmpeg's pick of the best of each)."""
    video = container.streams.best("video")
    audio = container.streams.best("audio")
    return (
        video if isinstance(video, VideoStream) else None,
        audio if isinstance(audio, AudioStream) else None,
    )


def time_bases(*streams: VideoStream | AudioStream | None) -> dict[int, float]:
    """Seconds per tick of each stream, as floats: Fraction arithmetic per packet costs more than the copy."""
    return {s.index: float(s.time_base or Fraction(1, 90_000)) for s in streams if s is not None}


class Ticker:
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
