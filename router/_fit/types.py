"""The types ``router.fit`` speaks in, for videos and images: its errors, its records and its literals.

Below every other fit module (they all import it, it imports none of them); ``router.fit`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from .._base.errors import RouterError

Mode = Literal["fit", "trim", "split"]
# "split": a part of a PDF split by page ("cut" is a video cut on keyframes, or a PDF trimmed to its first pages);
# "converted" / "downscaled": an image in another format, or made smaller.
Action = Literal["kept", "remuxed", "cut", "re-encoded", "split", "converted", "downscaled"]
Progress = Callable[[float], None]
Span = tuple[float, float]


# -- errors -----------------------------------------------------------------------------------------------------


class FitError(RouterError):
    """Fitting media failed; ``tried`` lists what was attempted, in order (also in the message)."""

    rule: ClassVar[str | None] = None

    def __init__(self, message: str, *, tried: Sequence[str] = ()) -> None:
        self.tried = tuple(tried)
        super().__init__(message + (f" (tried: {'; '.join(self.tried)})" if self.tried else ""))


class FitUnavailable(FitError):
    """PyAV, the ``fit`` extra, is not installed."""


class DamagedVideo(FitError):
    """The file is not a whole, readable video (no ``moov``, truncated, not a video at all)."""

    rule = "format-mismatch"


class DamagedAudio(FitError):
    """The file is not whole, readable audio (a cut ``data`` chunk, no audio stream, nothing decodable)."""

    rule = "format-mismatch"


class DamagedImage(FitError):
    """The file is not a whole image Pillow can read (cut short, damaged, not an image at all)."""

    rule = "format-mismatch"


class DamagedPdf(FitError):
    """The file is not a whole, readable PDF (truncated, a structure pypdf cannot read, not a PDF at all)."""

    rule = "format-mismatch"


class EncryptedPdf(FitError):
    """The PDF is encrypted (a password, or permissions only) and would have to be split: router never strips
    a document's protection to rewrite it."""

    rule = "unsupported-format"


Reason = Literal["too-long", "too-many-parts", "budget", "container", "format", "pixels"]


class CannotFit(FitError):
    """The budget, duration limit or part count cannot be met in the requested mode.

    ``reason``: "too-long" (over the duration limit and the mode may not cut: trim or split would fix it),
    "too-many-parts" (split needs more parts than allowed), "budget" (no bitrate, or for an image no quality
    and size down to the smallest sent, gets under it; for a PDF: one page alone is over the byte limit),
    "container" (a re-encode is needed and the route takes neither mp4 nor mov; for audio, no format the route
    takes can be written), "format" (an image must change and the route takes no format Pillow writes),
    "pixels" (an image too large to decode safely: Pillow's decompression-bomb limit).
    """

    rule = "too-large"

    def __init__(self, message: str, *, reason: Reason, tried: Sequence[str] = ()) -> None:
        self.reason = reason
        super().__init__(message, tried=tried)


# -- records ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """What a file is, from its container and every packet in it; ``damage`` says why it is unusable.

    Times are seconds from the first picture. ``keyframes`` holds, for each video keyframe in file order, its
    time and the bytes of kept packets (first video and first audio stream) before it.
    """

    name: str
    size: int
    mime: str | None = None  # the container as a provider names it, from the bytes
    container: str = ""  # FFmpeg's demuxer name
    duration: float = 0.0
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation: int = 0  # degrees counter-clockwise from the display matrix
    audio_channels: int = 0
    audio_rate: int = 0
    audio_bit_rate: int = 0
    video_packets: int = 0
    audio_packets: int = 0
    payload: int = 0  # bytes of the kept packets
    frames_decoded: int = 0
    damage: str | None = None
    keyframes: tuple[tuple[float, int], ...] = field(default=(), repr=False)
    origin: float = field(default=0.0, repr=False)  # the first picture's timestamp in the file, in seconds
    complete: bool = True  # False: headers only, no packet was read (counts are 0, payload is the file size)

    @property
    def ok(self) -> bool:
        return self.damage is None


@dataclass(frozen=True, slots=True)
class AudioProbe:
    """What an audio file is: ``format`` is the OpenRouter ``input_audio.format`` its bytes show (None: none of
    those, though FFmpeg may still read it), ``duration`` in seconds; ``damage`` says why it is unusable."""

    name: str
    size: int
    format: str | None = None
    duration: float = 0.0
    codec: str | None = None
    channels: int = 0
    rate: int = 0
    bit_rate: int = 0
    damage: str | None = None

    @property
    def ok(self) -> bool:
        return self.damage is None


@dataclass(frozen=True, slots=True)
class Fitted:
    """One output file (a video, an audio file, an image, a PDF). ``action`` "kept" means ``path`` is the source
    itself: do not delete it.

    Every other ``path`` is a new file in ``workdir`` that the caller owns. ``start`` is where the part
    begins in the source (seconds; for a PDF the index of its first page), for telling the model which part it
    sees; an image's or a PDF's ``duration`` is 0.
    """

    path: Path
    mime: str
    size: int
    duration: float
    note: str
    action: Action
    start: float = 0.0
