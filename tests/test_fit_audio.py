"""Fitting audio (router._fit.audio) on real files: keep, transcode to a budget, trim, split, refuse, clean up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from audioclips import decoded_seconds, make_audio

from router._fit import audiocodec
from router._fit.audio import fit_audio, probe_audio
from router._fit.audioplan import Target, ladder
from router._fit.types import AudioProbe, CannotFit, DamagedAudio, FitError, FitUnavailable


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30 s of FLAC (2.2 MB), 12 s of MP3 and of M4A, 20 s of WAV: stereo 44.1 kHz tone under noise."""
    folder = tmp_path_factory.mktemp("sounds")
    return {
        "flac": make_audio(folder / "talk.flac", seconds=30.0),
        "mp3": make_audio(folder / "talk.mp3", seconds=12.0),
        "m4a": make_audio(folder / "talk.m4a", seconds=12.0),
        "wav": make_audio(folder / "talk.wav", seconds=20.0),
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def left_in(folder: Path) -> set[Path]:
    return set(folder.iterdir())


# -- probe ------------------------------------------------------------------------------------------------------


def test_probe_reports_format_duration_codec_channels_and_rate(sounds: dict[str, Path]) -> None:
    """probe_audio() names the input_audio format from the bytes, the exact duration and the stream's shape."""
    info = probe_audio(sounds["m4a"])
    assert (info.format, info.codec, info.channels, info.rate) == ("m4a", "aac", 2, 44_100)
    assert info.duration == pytest.approx(12.0, abs=0.01)
    assert info.size == sounds["m4a"].stat().st_size
    assert info.ok


def test_probe_counts_packets_when_no_header_says_the_duration(tmp_path: Path) -> None:
    """Raw ADTS has no duration in any header (FFmpeg guesses one from the bitrate): its packets are counted."""
    info = probe_audio(make_audio(tmp_path / "talk.aac", seconds=20.0))
    assert info.format == "aac"
    assert info.duration == pytest.approx(20.0, abs=0.05)


@pytest.mark.parametrize(
    ("name", "says"),
    [("cut.wav", "truncated"), ("noise.mp3", "FFmpeg cannot read it"), ("empty.flac", "empty")],
)
def test_damaged_audio_is_refused_and_leaves_nothing(
    name: str, says: str, sounds: dict[str, Path], tmp_path: Path, workdir: Path
) -> None:
    """A cut WAV, bytes no demuxer knows and an empty file are damage: fit_audio raises DamagedAudio (rule
    format-mismatch) naming the file, never its directory."""
    bad = tmp_path / name
    if name == "cut.wav":
        bad.write_bytes(sounds["wav"].read_bytes()[:200_000])
    elif name == "noise.mp3":
        bad.write_bytes(bytes(range(256)) * 64)
    else:
        bad.write_bytes(b"")
    assert says in (probe_audio(bad).damage or "")
    with pytest.raises(DamagedAudio) as caught:
        fit_audio(bad, accepted=["mp3"], max_bytes=None, max_duration=None, workdir=workdir)
    assert caught.value.rule == "format-mismatch"
    assert name in str(caught.value)
    assert str(tmp_path) not in str(caught.value)
    assert not left_in(workdir)


# -- keep and transcode -----------------------------------------------------------------------------------------


def test_an_accepted_file_within_limits_is_kept(sounds: dict[str, Path], workdir: Path) -> None:
    """An MP3 the route takes (named in any spelling) within both limits is returned as it is: no new file."""
    (out,) = fit_audio(sounds["mp3"], accepted=["audio/mpeg"], max_bytes=10**6, max_duration=60, workdir=workdir)
    assert (out.path, out.action, out.mime) == (sounds["mp3"], "kept", "audio/mpeg")
    assert out.duration == pytest.approx(12.0, abs=0.01)
    assert not left_in(workdir)


def test_flac_becomes_mp3_under_a_byte_budget(sounds: dict[str, Path], workdir: Path) -> None:
    """30 s of FLAC (2.2 MB) for a route taking mp3 and wav in 150 kB: an MP3 under the budget, all 30 s of it."""
    budget = 150_000
    (out,) = fit_audio(sounds["flac"], accepted=["wav", "mp3"], max_bytes=budget, max_duration=None, workdir=workdir)
    assert out.action == "re-encoded"
    assert out.mime == "audio/mpeg"
    assert budget * 0.6 < out.size <= budget
    assert probe_audio(out.path).format == "mp3"
    assert decoded_seconds(out.path) == pytest.approx(30.0, abs=0.05)
    assert out.note.startswith("re-encoded flac -> mp3 32 kb/s mono")
    assert left_in(workdir) == {out.path}


def test_m4a_becomes_wav_when_only_wav_is_accepted(sounds: dict[str, Path], workdir: Path) -> None:
    """For a WAV-only route with 400 kB, 12 s of M4A becomes 16 kHz mono PCM (stereo 44.1 kHz would be 2.1 MB)."""
    (out,) = fit_audio(sounds["m4a"], accepted=["wav"], max_bytes=400_000, max_duration=None, workdir=workdir)
    info = probe_audio(out.path)
    assert (info.format, info.codec, info.channels, info.rate) == ("wav", "pcm_s16le", 1, 16_000)
    assert out.size <= 400_000
    assert info.duration == pytest.approx(12.0, abs=0.03)


def test_wav_keeps_the_source_shape_when_the_budget_allows(sounds: dict[str, Path], workdir: Path) -> None:
    """Without a budget, M4A for a WAV route keeps its stereo 44.1 kHz: nothing is lowered that need not be."""
    (out,) = fit_audio(sounds["m4a"], accepted=["wav"], max_bytes=None, max_duration=None, workdir=workdir)
    info = probe_audio(out.path)
    assert (info.channels, info.rate) == (2, 44_100)


@pytest.mark.parametrize("fmt", ["m4a", "aac", "ogg", "webm", "flac", "aiff", "amr"])
def test_every_writable_format_lands_under_its_budget(fmt: str, sounds: dict[str, Path], workdir: Path) -> None:
    """When a route takes only one other format, the MP3 becomes that format, under the budget, still 12 s."""
    budget = 60_000 if fmt not in ("flac", "aiff") else 500_000
    (out,) = fit_audio(sounds["mp3"], accepted=[fmt], max_bytes=budget, max_duration=None, workdir=workdir)
    assert out.size <= budget
    assert probe_audio(out.path).format == fmt
    assert decoded_seconds(out.path) == pytest.approx(12.0, abs=0.1)


def test_a_route_with_no_writable_format_is_refused(sounds: dict[str, Path], workdir: Path) -> None:
    """Raw pcm16 has no header to say its rate, so it is never written: a pcm16-only route cannot be met."""
    with pytest.raises(CannotFit) as caught:
        fit_audio(sounds["flac"], accepted=["pcm16"], max_bytes=None, max_duration=None, workdir=workdir)
    assert caught.value.reason == "container"
    assert "pcm16" in str(caught.value)
    assert not left_in(workdir)


# -- duration limits --------------------------------------------------------------------------------------------


def test_fit_never_cuts(sounds: dict[str, Path], workdir: Path) -> None:
    """Over the duration limit in "fit" mode: CannotFit "too-long", saying trim or split would fix it."""
    with pytest.raises(CannotFit, match=r"trim .* or split") as caught:
        fit_audio(sounds["mp3"], accepted=["mp3"], max_bytes=None, max_duration=5, workdir=workdir)
    assert caught.value.reason == "too-long"
    assert not left_in(workdir)


def test_trim_copies_the_first_seconds_of_an_accepted_file(sounds: dict[str, Path], workdir: Path) -> None:
    """Trimming an MP3 the route takes copies its first frames: at most 5 s, no re-encode."""
    (out,) = fit_audio(sounds["mp3"], accepted=["mp3"], max_bytes=None, max_duration=5, mode="trim", workdir=workdir)
    assert out.action == "cut"
    assert 4.9 <= out.duration <= 5.0
    assert decoded_seconds(out.path) == pytest.approx(out.duration, abs=0.06)
    assert out.note.startswith("trimmed to the first 5.0 s of 12.0 s, stream copy")


def test_trim_re_encodes_what_the_route_does_not_take(sounds: dict[str, Path], workdir: Path) -> None:
    """Trimming FLAC for an MP3 route writes exactly the first 10 s as MP3."""
    (out,) = fit_audio(sounds["flac"], accepted=["mp3"], max_bytes=None, max_duration=10, mode="trim", workdir=workdir)
    assert out.action == "re-encoded"
    assert out.duration == pytest.approx(10.0)
    assert decoded_seconds(out.path) == pytest.approx(10.0, abs=0.05)


def test_split_copies_consecutive_parts_within_the_limit(sounds: dict[str, Path], workdir: Path) -> None:
    """20 s of WAV split for a 7 s limit: three copied parts, each at most 7 s, back to back, 20 s in all."""
    parts = fit_audio(sounds["wav"], accepted=["wav"], max_bytes=None, max_duration=7, mode="split", workdir=workdir)
    assert len(parts) == 3
    assert all(p.action == "cut" and p.duration <= 7.0 for p in parts)
    assert [p.start for p in parts] == pytest.approx([0.0, parts[0].duration, parts[0].duration + parts[1].duration])
    assert sum(decoded_seconds(p.path) for p in parts) == pytest.approx(20.0, abs=0.01)
    assert left_in(workdir) == {p.path for p in parts}


def test_a_copy_ffmpeg_refuses_falls_back_to_re_encoding(
    sounds: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the muxer refuses the copied packets, the split is re-encoded instead, and the refusal is noted."""

    def refused(src: Path, *args: Any) -> Any:
        raise FitError(f"{src.name}: FFmpeg failed while copying its audio: Invalid data found")

    monkeypatch.setattr(audiocodec, "copy", refused)
    parts = fit_audio(sounds["wav"], accepted=["wav"], max_bytes=None, max_duration=7, mode="split", workdir=workdir)
    assert [p.action for p in parts] == ["re-encoded"] * 3
    assert left_in(workdir) == {p.path for p in parts}


def test_split_re_encodes_into_more_parts_when_the_budget_needs_them(sounds: dict[str, Path], workdir: Path) -> None:
    """30 s of FLAC for an MP3 route with 30 kB a file: 16 kb/s holds about 14 s, so the parts get shorter."""
    parts = fit_audio(
        sounds["flac"], accepted=["mp3"], max_bytes=30_000, max_duration=20, mode="split", workdir=workdir
    )
    assert len(parts) == 3
    assert all(p.size <= 30_000 and p.action == "re-encoded" for p in parts)
    assert sum(p.duration for p in parts) == pytest.approx(30.0)
    assert parts[1].note.startswith("part 2/3: 10.0-20.0 s of 30.0 s, re-encoded as mp3 16 kb/s mono 16 kHz")


def test_split_refuses_more_parts_than_the_route_takes(sounds: dict[str, Path], workdir: Path) -> None:
    """When the limit needs 4 parts and the route takes 2, CannotFit says "too-many-parts" and leaves nothing."""
    with pytest.raises(CannotFit) as caught:
        fit_audio(
            sounds["flac"], accepted=["mp3"], max_bytes=None, max_duration=8, mode="split", max_parts=2, workdir=workdir
        )
    assert caught.value.reason == "too-many-parts"
    assert not left_in(workdir)


def test_an_unreachable_budget_is_refused(sounds: dict[str, Path], workdir: Path) -> None:
    """10 kB for 30 s is under 16 kb/s MP3 and 16 kHz WAV: CannotFit "budget", listing each format tried."""
    with pytest.raises(CannotFit) as caught:
        fit_audio(sounds["flac"], accepted=["mp3", "wav"], max_bytes=10_000, max_duration=None, workdir=workdir)
    assert caught.value.reason == "budget"
    assert [t.split(" ")[0] for t in caught.value.tried] == ["mp3", "wav"]
    assert not left_in(workdir)


# -- clean-up ---------------------------------------------------------------------------------------------------


def test_a_failed_retry_removes_both_attempts(
    sounds: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When both settings come out over budget, CannotFit lists both and neither file is left behind."""
    real = audiocodec.transcode

    def bloated(src: Path, bounds: Any, outs: list[Path], target: Target) -> list[int]:
        counts = real(src, bounds, outs, target)
        for out in outs:
            with out.open("ab") as fh:
                fh.write(b"\0" * 200_000)
        return counts

    monkeypatch.setattr(audiocodec, "transcode", bloated)
    with pytest.raises(CannotFit, match="could not be brought under") as caught:
        fit_audio(sounds["flac"], accepted=["mp3"], max_bytes=150_000, max_duration=None, workdir=workdir)
    assert sum("re-encode as mp3" in t for t in caught.value.tried) == 2
    assert not left_in(workdir)


def test_an_interrupt_mid_encode_removes_the_half_written_file(
    sounds: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a part is being written propagates, and the part is removed."""

    def interrupted(output: Any, *args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(audiocodec, "_encoder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_audio(sounds["flac"], accepted=["mp3"], max_bytes=150_000, max_duration=None, workdir=workdir)
    assert not left_in(workdir)


def test_without_pyav_the_error_says_what_to_install(
    sounds: dict[str, Path], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the fit extra, probe_audio() and fit_audio() raise FitUnavailable naming router[fit]."""
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` meets when PyAV is not installed
    for call in (
        lambda: probe_audio(sounds["mp3"]),
        lambda: fit_audio(sounds["mp3"], accepted=["mp3"], max_bytes=None, max_duration=None, workdir=workdir),
    ):
        with pytest.raises(FitUnavailable, match=re.escape("pip install 'router[fit]'")) as caught:
            call()
        assert isinstance(caught.value, FitError)


# -- the plan (no audio needed) ---------------------------------------------------------------------------------


def test_the_ladder_never_upsamples_upmixes_or_outspends_the_source() -> None:
    """A 16 kHz mono 32 kb/s source gets MP3 settings at most 16 kHz, mono, 32 kb/s; WAV stops at 16 kHz mono."""
    source = AudioProbe("memo.m4a", 100_000, "m4a", 60.0, "aac", 1, 16_000, 32_000)
    mp3 = ladder("mp3", "libmp3lame", source)
    assert {(t.rate, t.channels) for t in mp3} == {(16_000, 1)}
    assert max(t.bit_rate for t in mp3) == 32_000
    assert [(t.rate, t.channels) for t in ladder("wav", "pcm_s16le", source)] == [(16_000, 1)]
    stereo = AudioProbe("song.flac", 10**7, "flac", 60.0, "flac", 2, 48_000)
    wav = ladder("wav", "pcm_s16le", stereo)
    assert wav[0] == Target("wav", "wav", "pcm_s16le", 48_000, 2)
    assert wav[-1] == Target("wav", "wav", "pcm_s16le", 16_000, 1)
    assert [t.estimate(10.0) for t in wav] == sorted((t.estimate(10.0) for t in wav), reverse=True)


def test_importing_the_audio_fit_does_not_import_pyav() -> None:
    """`router._fit.audio` loads PyAV on its first call, like the video engine: importing it costs nothing."""
    code = "import sys, router._fit.audio; sys.exit('av' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
