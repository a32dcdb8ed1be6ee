"""router.fit on real clips: probe, remux, re-encode to a budget, trim, split, clean-up, and the missing extra."""

from __future__ import annotations

import random
import re
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from fitclips import decode_all, make_av_clip, packet_counts

from router import RouterError
from router._fit.plan import LADDER
from router.fit import (
    CannotFit,
    DamagedVideo,
    FitError,
    Fitted,
    FitUnavailable,
    Probe,
    fit,
    plan_encoding,
    probe,
)

OPENROUTER = ["video/mp4", "video/mpeg", "video/mov", "video/webm"]
MP4_ONLY = ["video/mp4"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """4 s 320x240 24 fps H.264 (B-frames, a keyframe every 0.5 s) + AAC clips, and a 2 s one per container.

    ``long-gop.mp4`` has one keyframe only, so no copy cut is possible inside it.
    """
    folder = tmp_path_factory.mktemp("fit-clips")
    made = {name: make_av_clip(folder / f"clip.{name}") for name in ("mkv", "mp4")}
    made["long-gop"] = make_av_clip(folder / "long-gop.mp4", gop=250)
    for suffix in ("avi", "flv", "ts"):
        made[suffix] = make_av_clip(folder / f"short.{suffix}", seconds=2.0)
    return made


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def left_in(folder: Path) -> set[Path]:
    return set(folder.iterdir())


def top_boxes(path: Path) -> list[bytes]:
    """The ISO-BMFF top-level box types of a file, in order."""
    boxes, offset, size = [], 0, path.stat().st_size
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            length, kind = struct.unpack(">I4s", fh.read(8))
            if length == 1:
                length = struct.unpack(">Q", fh.read(8))[0]
            boxes.append(kind)
            offset += length
    return boxes


def x264_settings(path: Path) -> str:
    """The options string x264 writes into the first packet of the stream it encoded."""
    with av.open(str(path)) as container:
        packet = next(iter(container.demux(container.streams.video[0])))
        text = bytes(packet).decode("latin-1")
    match = re.search(r"x264 - core \d+.*?options: ([^\x00]*)", text)
    assert match, "no x264 settings in the first packet"
    return match.group(1)


# -- probe ------------------------------------------------------------------------------------------------------


def test_probe_reads_streams_packets_and_frames(clips: dict[str, Path]) -> None:
    """probe() reports the container, codecs, size, duration, every packet and decoded frames of a clip."""
    info = probe(clips["mkv"])
    counts = packet_counts(clips["mkv"])
    assert info.ok
    assert info.damage is None
    assert (info.mime, info.video_codec, info.audio_codec) == ("video/x-matroska", "h264", "aac")
    assert (info.width, info.height, info.fps) == (320, 240, 24.0)
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert (info.video_packets, info.audio_packets) == (counts["video"], counts["audio"])
    assert info.frames_decoded > 0
    assert info.size == clips["mkv"].stat().st_size
    assert [round(t, 3) for t, _ in info.keyframes] == [i * 0.5 for i in range(8)]


def _truncate(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


def _faststart(src: Path, workdir: Path) -> Path:
    """An mp4 with its index at the front (a remux of the mkv clip)."""
    (out,) = fit(src, budget=None, max_duration=None, accepted=MP4_ONLY, workdir=workdir)
    assert top_boxes(out.path)[:2] == [b"ftyp", b"moov"]
    return out.path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("no-moov", "no `moov`"),
        ("cut-mp4", "truncated"),
        ("truncated-mp4", "truncated"),
        ("truncated-mkv", "truncated"),
        ("random", "FFmpeg cannot read it"),
        ("html", "not a video"),
        ("empty", "empty"),
    ],
)
def test_probe_refuses_damaged_files(
    kind: str, reason: str, clips: dict[str, Path], tmp_path: Path, workdir: Path
) -> None:
    """A damaged file gets a damage reason from probe() and a DamagedVideo naming the file (not its folder)."""
    bad = tmp_path / f"bad-{kind}.mp4"  # named like the video it should have been
    if kind == "no-moov":  # PyAV writes the index last: a recording stopped before it was written
        boxes = top_boxes(clips["mp4"])
        assert boxes[-1] == b"moov"
        data = clips["mp4"].read_bytes()
        bad.write_bytes(data[: data.rindex(b"moov") - 4])
    elif kind == "cut-mp4":
        _truncate(clips["mp4"], bad, 0.5)
    elif kind == "truncated-mp4":
        _truncate(_faststart(clips["mkv"], tmp_path), bad, 0.6)
    elif kind == "truncated-mkv":
        _truncate(clips["mkv"], bad, 0.6)
    elif kind == "random":
        bad.write_bytes(random.Random(3).randbytes(200_000))
    elif kind == "html":
        bad.write_bytes(b"<!DOCTYPE html><html><body>Sign in to view this video</body></html>")
    else:
        bad.write_bytes(b"")
    info = probe(bad)
    assert not info.ok
    assert info.damage is not None
    assert reason in info.damage
    with pytest.raises(DamagedVideo, match=re.escape(bad.name)) as caught:
        fit(bad, budget=10**9, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert str(tmp_path) not in str(caught.value)
    assert caught.value.rule == "format-mismatch"
    assert not left_in(workdir)


@pytest.mark.parametrize(
    ("suffix", "budget", "accepted"),
    [
        ("mkv", None, MP4_ONLY),  # fit() remuxes, probing the packets as it copies them
        ("mkv", 100_000, MP4_ONLY),  # fit() re-encodes, probing the packets as it decodes them
        ("mp4", None, OPENROUTER),  # an accepted file is probed in full before it is kept
        ("mp4", None, ["video/webm"]),  # no way to fit it, but the damage is what is reported
    ],
)
def test_truncation_is_caught_by_packet_time(
    suffix: str,
    budget: int | None,
    accepted: list[str],
    clips: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the structural check, the last packet's time against the container's duration still catches a
    file cut in half, on every path through fit(), and nothing is left in the work folder."""
    from router._fit import probe as _fitprobe

    monkeypatch.setattr(_fitprobe, "container_damage", lambda *args: None)
    (tmp_path / "f").mkdir()
    source = _faststart(clips["mkv"], tmp_path / "f") if suffix == "mp4" else clips["mkv"]
    bad = _truncate(source, tmp_path / f"cut.{suffix}", 0.5)
    damage = probe(bad).damage
    assert damage is not None
    assert "truncated" in damage
    (tmp_path / "w").mkdir()
    with pytest.raises(DamagedVideo, match="truncated: its packets stop at"):
        fit(bad, budget=budget, max_duration=None, accepted=accepted, workdir=tmp_path / "w")
    assert not left_in(tmp_path / "w")


# -- nothing to do, remux ---------------------------------------------------------------------------------------


def test_accepted_file_within_limits_is_kept(clips: dict[str, Path], workdir: Path) -> None:
    """An accepted container within budget and duration comes back as the source itself, nothing written."""
    (out,) = fit(clips["mp4"], budget=10**8, max_duration=60, accepted=OPENROUTER, workdir=workdir)
    assert (out.path, out.action, out.mime) == (clips["mp4"], "kept", "video/mp4")
    assert out.note.startswith("kept")
    assert not left_in(workdir)


def test_remux_keeps_codecs_and_every_packet(clips: dict[str, Path], workdir: Path) -> None:
    """mkv -> mp4 by stream copy keeps the codecs and every packet (those without a dts too), index in front."""
    source = packet_counts(clips["mkv"])
    assert source["no_dts"] > 0  # the packets a common remux loop drops
    (out,) = fit(clips["mkv"], budget=10**8, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert (out.action, out.mime, out.note) == ("remuxed", "video/mp4", f"remuxed mkv -> mp4: {out.size / 1e6:.1f} MB")
    info = probe(out.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    got = packet_counts(out.path)
    assert (got["video"], got["audio"]) == (source["video"], source["audio"])
    assert decode_all(out.path)[0] == decode_all(clips["mkv"])[0] == 96
    assert top_boxes(out.path)[:2] == [b"ftyp", b"moov"]  # +faststart
    assert left_in(workdir) == {out.path}


@pytest.mark.parametrize("suffix", ["avi", "flv", "ts"])
def test_remux_other_containers(suffix: str, clips: dict[str, Path], workdir: Path) -> None:
    """AVI, FLV and MPEG-TS with H.264/AAC are remuxed to mp4 with every video packet kept, and decode."""
    (out,) = fit(clips[suffix], budget=None, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert (out.action, out.mime) == ("remuxed", "video/mp4")
    assert packet_counts(out.path)["video"] == packet_counts(clips[suffix])["video"]
    assert decode_all(out.path)[0] == 48


# -- re-encode --------------------------------------------------------------------------------------------------


def test_reencode_lands_under_budget_with_the_same_duration(clips: dict[str, Path], workdir: Path) -> None:
    """Over budget: re-encoded H.264/AAC mp4 at most the budget (and not far under), same duration ±5 %, decodes."""
    budget = 150_000
    source = probe(clips["mkv"])
    (out,) = fit(clips["mkv"], budget=budget, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert (out.action, out.mime) == ("re-encoded", "video/mp4")
    assert out.size == out.path.stat().st_size
    assert 0.80 * budget <= out.size <= budget
    assert out.duration == pytest.approx(source.duration, rel=0.05)
    assert re.fullmatch(r"re-encoded 240p \d+ fps \d+ kb/s: 5\.\d MB -> 1\d\d kB", out.note), out.note
    info = probe(out.path)
    assert (info.video_codec, info.audio_codec, info.ok) == ("h264", "aac", True)
    frames, samples = decode_all(out.path)
    assert frames == round(info.fps * 4)
    assert samples >= 0.95 * 4 * 48_000
    assert top_boxes(out.path)[:2] == [b"ftyp", b"moov"]
    with av.open(str(out.path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_reencode_rate_control_is_what_was_asked(clips: dict[str, Path], workdir: Path) -> None:
    """The x264 settings in the output are ABR with a VBV cap (1.5x, 2 s), veryfast, frame threads: none ignored."""
    (out,) = fit(clips["mp4"], budget=150_000, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    settings = dict(item.split("=", 1) for item in x264_settings(out.path).split() if "=" in item)
    bitrate = int(settings["bitrate"])
    assert settings["rc"] == "abr"
    assert int(settings["vbv_maxrate"]) == pytest.approx(1.5 * bitrate, abs=1)
    assert int(settings["vbv_bufsize"]) == pytest.approx(0.5 * bitrate, abs=1)  # 2 s, or less for a 4 s clip
    assert (settings["subme"], settings["ref"]) == ("2", "1")  # preset veryfast
    assert settings["sliced_threads"] == "0"  # frame threads (PyAV's default would be slices)


def test_reencode_keeps_rotation(tmp_path: Path, workdir: Path) -> None:
    """A phone video's display rotation survives a re-encode (the pictures are not turned sideways)."""
    src = make_av_clip(tmp_path / "portrait.mp4", seconds=1.0, rotation=90)
    (out,) = fit(src, budget=40_000, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert out.action == "re-encoded"
    assert probe(out.path).rotation == 90


def test_unreachable_budget_fails_clearly_and_leaves_nothing(clips: dict[str, Path], workdir: Path) -> None:
    """A budget no bitrate can meet raises CannotFit (rule too-large) saying what was tried; no file is left."""
    with pytest.raises(CannotFit, match=r"clip\.mkv.*kb/s") as caught:
        fit(clips["mkv"], budget=3_000, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert (caught.value.rule, caught.value.reason) == ("too-large", "budget")
    assert "stream copy" in caught.value.tried[0]
    assert not left_in(workdir)


def test_reencode_needs_an_mp4_route(clips: dict[str, Path], workdir: Path) -> None:
    """A route that takes only WebM cannot get an H.264 re-encode: CannotFit says so before any work."""
    with pytest.raises(CannotFit, match="re-encoding, which writes mp4, and the route takes only video/webm") as caught:
        fit(clips["mp4"], budget=100_000, max_duration=None, accepted=["video/webm"], workdir=workdir)
    assert caught.value.reason == "container"
    assert not left_in(workdir)


# -- duration: fit, trim, split ---------------------------------------------------------------------------------


def test_fit_mode_never_cuts(clips: dict[str, Path], workdir: Path) -> None:
    """Over the duration limit in the default mode: CannotFit that says trim or split would fix it."""
    with pytest.raises(CannotFit, match=r"trim.*split") as caught:
        fit(clips["mp4"], budget=None, max_duration=2.0, accepted=OPENROUTER, workdir=workdir)
    assert "4.0 s" in str(caught.value)
    assert caught.value.reason == "too-long"
    assert not left_in(workdir)


def test_trim_by_stream_copy(clips: dict[str, Path], workdir: Path) -> None:
    """trim keeps the first seconds up to the limit, cut at a keyframe by stream copy when that loses little."""
    (out,) = fit(clips["mkv"], budget=None, max_duration=2.6, accepted=OPENROUTER, mode="trim", workdir=workdir)
    assert out.action == "cut"
    assert "stream copy" in out.note
    assert 2.4 <= out.duration <= 2.6
    assert probe(out.path).video_codec == "h264"
    assert decode_all(out.path)[0] == 60  # 2.5 s at 24 fps


def test_trim_by_reencode_when_no_keyframe_is_near(clips: dict[str, Path], workdir: Path) -> None:
    """trim re-encodes when the nearest keyframe is far before the limit, and cuts exactly at the limit."""
    (out,) = fit(clips["long-gop"], budget=None, max_duration=2.6, accepted=OPENROUTER, mode="trim", workdir=workdir)
    assert out.action == "re-encoded"
    assert 2.5 <= out.duration <= 2.6
    assert decode_all(out.path)[0] == 62


def test_split_by_stream_copy(clips: dict[str, Path], workdir: Path) -> None:
    """split cuts consecutive keyframe-aligned parts, each within the limit, that together hold every frame."""
    parts = fit(
        clips["mkv"], budget=None, max_duration=1.6, accepted=OPENROUTER, mode="split", max_parts=3, workdir=workdir
    )
    assert len(parts) == 3
    assert all(p.action == "cut" and p.duration <= 1.6 for p in parts)
    assert [p.start for p in parts] == pytest.approx([0.0, 1.5, 3.0], abs=0.01)
    assert sum(decode_all(p.path)[0] for p in parts) == 96
    assert left_in(workdir) == {p.path for p in parts}


def test_split_by_reencode_respects_budget_limit_and_count(clips: dict[str, Path], workdir: Path) -> None:
    """split re-encodes when copied parts would be over budget: every part within budget and limit, in order."""
    budget, limit = 80_000, 1.5
    parts = fit(
        clips["mp4"], budget=budget, max_duration=limit, accepted=OPENROUTER, mode="split", max_parts=4, workdir=workdir
    )
    assert len(parts) == 3
    for i, part in enumerate(parts):
        assert part.action == "re-encoded"
        assert part.note.startswith(f"part {i + 1}/3")
        assert part.size <= budget
        assert part.duration <= limit
        assert decode_all(part.path)[0] > 0
    assert sum(p.duration for p in parts) == pytest.approx(4.0, rel=0.05)


def test_split_refuses_more_parts_than_allowed(clips: dict[str, Path], workdir: Path) -> None:
    """When the limit needs more parts than max_parts, split raises CannotFit naming both counts."""
    with pytest.raises(CannotFit, match=r"needs 4 parts.*at most 2") as caught:
        fit(
            clips["long-gop"],
            budget=None,
            max_duration=1.0,
            accepted=OPENROUTER,
            mode="split",
            max_parts=2,
            workdir=workdir,
        )
    assert caught.value.reason == "too-many-parts"
    assert not left_in(workdir)


# -- clean-up, progress, the extra ------------------------------------------------------------------------------


def test_interrupt_removes_temporary_files(clips: dict[str, Path], workdir: Path) -> None:
    """Ctrl-C in the middle of a re-encode propagates, and the half-written output is removed."""
    seen: list[float] = []

    def interrupt(share: float) -> None:
        seen.append(share)
        if share > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(clips["mp4"], budget=150_000, max_duration=None, accepted=OPENROUTER, workdir=workdir, progress=interrupt)
    assert seen
    assert not left_in(workdir)


def test_failed_retry_removes_both_attempts(
    clips: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When both attempts come out over budget, CannotFit lists both and neither file is left behind."""
    from router._fit import encode as _fitencode

    real = _fitencode._encode_pass

    def bloated(*args: Any) -> tuple[bool, list[int]]:  # every pass writes 200 kB too many
        done = real(*args)
        for out in args[6]:
            with out.open("ab") as fh:
                fh.write(b"\0" * 200_000)
        return done

    monkeypatch.setattr(_fitencode, "_encode_pass", bloated)
    with pytest.raises(CannotFit, match="could not be brought under") as caught:
        fit(clips["mp4"], budget=150_000, max_duration=None, accepted=OPENROUTER, workdir=workdir)
    assert sum("re-encode at" in t for t in caught.value.tried) == 2
    assert not left_in(workdir)


def test_progress_runs_from_zero_to_one(clips: dict[str, Path], workdir: Path) -> None:
    """The progress callback gets rising shares of the work in [0, 1], ending at 1."""
    seen: list[float] = []
    fit(clips["mp4"], budget=150_000, max_duration=None, accepted=OPENROUTER, workdir=workdir, progress=seen.append)
    assert len(seen) > 5
    assert seen == sorted(seen)
    assert seen[0] >= 0
    assert seen[-1] == 1.0


def test_without_pyav_the_error_says_what_to_install(
    clips: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the fit extra, probe() and fit() raise FitUnavailable (a RouterError) naming router[fit]."""
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` meets when PyAV is not installed
    for module in ("_fitav", "_fitprobe", "_fitcopy", "_fitencode"):
        monkeypatch.delitem(sys.modules, f"router.{module}", raising=False)
    for call in (
        lambda: probe(clips["mp4"]),
        lambda: fit(clips["mkv"], budget=None, max_duration=None, accepted=OPENROUTER, workdir=workdir),
    ):
        with pytest.raises(FitUnavailable, match=re.escape("pip install 'router[fit]'")) as caught:
            call()
        assert isinstance(caught.value, RouterError)
        assert isinstance(caught.value, FitError)


def test_importing_router_does_not_import_pyav() -> None:
    """`import router` and `import router.fit` never load PyAV: it is paid for on the first fit only."""
    code = "import sys, router, router.fit; sys.exit('av' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- the plan (no video needed) ---------------------------------------------------------------------------------


def _source(width: int = 1920, height: int = 1080, fps: float = 30.0, audio: bool = True) -> Probe:
    return Probe(
        "src.mp4",
        90_000_000,
        "video/mp4",
        "mov,mp4",
        60.0,
        "h264",
        "aac" if audio else None,
        width,
        height,
        fps,
        audio_channels=2 if audio else 0,
        audio_rate=48_000 if audio else 0,
        audio_bit_rate=128_000 if audio else 0,
    )


@pytest.mark.parametrize(
    ("budget", "shape"),
    [
        (60_000_000, "1280x720@30"),
        (18_000_000, "1280x720@15"),
        (8_000_000, "960x540@15"),
        (3_000_000, "640x360@10"),
        (1_200_000, "426x240@10"),
    ],
)
def test_plan_takes_the_best_rung_the_bitrate_allows(budget: int, shape: str) -> None:
    """60 s of 1080p30: the richer the budget, the higher the rung (720p30, 720p15 at 18 MB, ... 240p10)."""
    enc = plan_encoding(_source(), 60.0, budget)
    assert f"{enc.width}x{enc.height}@{enc.fps}" == shape
    if enc.video_bps is not None:  # ABR: the budget less the margin, container and audio
        total = (enc.video_bps + enc.audio_bps * 1.02) * 60 / 8
        assert 0.92 * budget < total < 0.97 * budget


def test_plan_never_scales_up_nor_raises_the_frame_rate() -> None:
    """A small, slow source keeps its size and frame rate; a portrait one keeps its orientation."""
    small = plan_encoding(_source(640, 360, 12.0), 60.0, 4_000_000)
    assert (small.width, small.height, small.fps) == (640, 360, Fraction(12))
    portrait = plan_encoding(_source(1080, 1920), 60.0, 18_000_000)
    assert (portrait.width, portrait.height) == (720, 1280)
    assert min(LADDER)[0] == 240


def test_plan_without_budget_uses_constant_quality() -> None:
    """No byte limit (only the container or the length is wrong): CRF at 720p, no bitrate target."""
    enc = plan_encoding(_source(), 60.0, None)
    assert (enc.video_bps, enc.cap_bps, enc.height) == (None, None, 720)
    assert enc.describe() == "720p 30 fps CRF 23"


def test_plan_refuses_a_budget_below_the_floor() -> None:
    """A budget that leaves under 40 kb/s for the picture is refused up front, with the numbers."""
    with pytest.raises(CannotFit, match="kb/s for the picture"):
        plan_encoding(_source(), 60.0, 300_000)


def test_fitted_is_a_plain_record() -> None:
    """Fitted and Probe are frozen records a caller can keep and compare."""
    a = Fitted(Path("x.mp4"), "video/mp4", 1, 1.0, "kept", "kept")
    with pytest.raises(AttributeError):
        a.size = 2  # type: ignore[misc]
    assert a == Fitted(Path("x.mp4"), "video/mp4", 1, 1.0, "kept", "kept")
