"""What an audio fit will write, worked out before any file is: the format, its encoder settings, the parts.

Arithmetic only (no PyAV, no files). Lossy formats step down a ladder of bitrates, each with the sample rate
and channels that suit it; PCM and lossless ones step down sample rates and then to mono, no lower than
16 kHz mono (speech stays intelligible there; below it, a lossy format or more parts are the better answer).
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import MARGIN, mb
from .types import AudioProbe

__all__ = ["MUXERS", "PREFERENCE", "Target", "ladder"]

# format -> (FFmpeg muxer, encoders in order of preference). ``ipod`` is mp4 with the M4A brand; Opus needs
# libopus (FFmpeg's own Opus and Vorbis encoders are experimental).
MUXERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mp3": ("mp3", ("libmp3lame", "libshine")),
    "wav": ("wav", ("pcm_s16le",)),
    "m4a": ("ipod", ("aac",)),
    "aac": ("adts", ("aac",)),
    "ogg": ("ogg", ("libopus",)),
    "webm": ("webm", ("libopus",)),
    "flac": ("flac", ("flac",)),
    "aiff": ("aiff", ("pcm_s16be",)),
    "amr": ("amr", ("libopencore_amrnb",)),
}
# What a re-encode writes, best first among those the route takes: MP3 is what every audio provider reads;
# WAV next (lossless, but ten times the bytes); raw pcm16/pcm24 never (no header says its rate).
PREFERENCE = ("mp3", "wav", "m4a", "aac", "ogg", "webm", "flac", "aiff", "amr")
OVERHEAD = 4096  # bytes of headers and tags per file
CONTAINER_BPS = {"m4a": 400, "aac": 350, "ogg": 300, "webm": 400, "amr": 100}  # bytes of framing per second

# (bits per second, sample rate, channels) best first; the rate and channels never above the source's.
_LOSSY: dict[str, tuple[tuple[int, int, int], ...]] = {
    "mp3": (  # bitrates MPEG-1 (32 kHz and up) and MPEG-2 (16-24 kHz) Layer III both have
        (128_000, 44_100, 2),
        (112_000, 44_100, 2),
        (96_000, 44_100, 2),
        (80_000, 44_100, 1),
        (64_000, 44_100, 1),
        (56_000, 32_000, 1),
        (48_000, 32_000, 1),
        (40_000, 24_000, 1),
        (32_000, 22_050, 1),
        (24_000, 16_000, 1),
        (16_000, 16_000, 1),
    ),
    "m4a": (
        (128_000, 44_100, 2),
        (96_000, 44_100, 2),
        (80_000, 44_100, 1),
        (64_000, 44_100, 1),
        (48_000, 32_000, 1),
        (40_000, 24_000, 1),
        (32_000, 24_000, 1),
        (24_000, 16_000, 1),
        (16_000, 16_000, 1),
    ),
    "ogg": (
        (96_000, 48_000, 2),
        (64_000, 48_000, 2),
        (48_000, 48_000, 1),
        (32_000, 48_000, 1),
        (24_000, 48_000, 1),
        (16_000, 48_000, 1),
        (12_000, 48_000, 1),
    ),
    "amr": ((12_200, 8_000, 1),),
}
_LOSSY["aac"], _LOSSY["webm"] = _LOSSY["m4a"], _LOSSY["ogg"]
_RATES = (48_000, 44_100, 32_000, 24_000, 22_050, 16_000)  # PCM rates, and the ones MP3 and AAC know
_FIXED_RATE = {"ogg": 48_000, "webm": 48_000, "amr": 8_000}  # Opus always runs at 48 kHz, AMR-NB at 8 kHz
_LOWER_RATES = (12_000, 11_025, 8_000)


@dataclass(frozen=True, slots=True)
class Target:
    """One way to write the audio: ``format`` (OpenRouter's name) through ``muxer`` and ``codec``;
    ``bit_rate`` 0 means PCM or lossless (the size follows from the rate and channels)."""

    format: str
    muxer: str
    codec: str
    rate: int
    channels: int
    bit_rate: int = 0

    def estimate(self, seconds: float) -> int:
        """Bytes a file of ``seconds`` will take at most (a margin kept for lossy encoders' drift)."""
        if self.bit_rate:
            per_second = self.bit_rate / 8 + CONTAINER_BPS.get(self.format, 0)
            return int(per_second * seconds * (1 + MARGIN)) + OVERHEAD
        return int(self.rate * self.channels * 2 * seconds) + OVERHEAD

    def describe(self) -> str:
        what = f"{self.bit_rate // 1000} kb/s " if self.bit_rate else ""
        layout = "stereo" if self.channels > 1 else "mono"
        return f"{self.format} {what}{layout} {self.rate / 1000:g} kHz"


def ladder(fmt: str, codec: str, info: AudioProbe) -> list[Target]:
    """Every setting ``fmt`` may be written at for ``info``, best first (no upsampling, no upmixing)."""
    muxer = MUXERS[fmt][0]
    channels = max(1, min(info.channels or 2, 2))
    source_rate = info.rate or 48_000
    if fmt in _LOSSY:
        out = [
            Target(
                fmt, muxer, codec, _FIXED_RATE.get(fmt) or _rate_at_most(min(rate, source_rate)), min(c, channels), bps
            )
            for bps, rate, c in _LOSSY[fmt]
        ]
        # never spend more than the source did (a 64 kb/s podcast gains nothing at 128 kb/s)
        return [t for t in out if not info.bit_rate or t.bit_rate <= info.bit_rate] or out[-1:]
    rates = [r for r in _RATES if r <= source_rate] or [_rate_at_most(source_rate)]
    stereo = [Target(fmt, muxer, codec, r, 2) for r in rates if r >= 32_000] if channels == 2 else []
    return [*stereo, *(Target(fmt, muxer, codec, r, 1) for r in rates)]


def _rate_at_most(rate: int) -> int:
    return next((r for r in (*_RATES, *_LOWER_RATES) if r <= rate), _LOWER_RATES[-1])


def too_tight(fmt: str, seconds: float, budget: int) -> str:
    """Why no setting of ``fmt`` gets ``seconds`` under ``budget``, for the list of what was tried."""
    return f"{fmt} ({seconds:.1f} s does not fit in {mb(budget)} even at its lowest setting)"
