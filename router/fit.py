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

from ._fit.engine import (
    CannotFit,
    DamagedVideo,
    Encoding,
    FitError,
    Fitted,
    FitUnavailable,
    Mode,
    Probe,
    Reason,
    fit,
    plan_encoding,
    probe,
)

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
