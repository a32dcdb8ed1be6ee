"""The structural probe on real clips: whole files pass, cut or damaged ones say why, in every family."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from clips import FORMATS, clip_bytes, make_clip

from router._model.container import damage, mp4_duration, reader


def _damage(data: bytes, suffix: str) -> str:
    """Why the probe refuses ``data``; "" when it is whole."""
    return damage(reader(io.BytesIO(data)), len(data), FORMATS[suffix][2]) or ""


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_a_whole_clip_is_not_damaged(suffix: str) -> None:
    assert _damage(clip_bytes(suffix, 2), suffix) == ""


def test_an_mp4_cut_before_its_index_has_no_moov() -> None:
    """PyAV, like ffmpeg without +faststart, writes `moov` last: cutting the tail loses the index."""
    whole = clip_bytes("mp4", 2)
    assert whole.rfind(b"moov") > whole.find(b"mdat")
    reason = _damage(whole[: whole.find(b"moov") - 4], "mp4")
    assert "no `moov` box" in reason


def test_a_faststart_mp4_cut_in_its_media_data_is_truncated(tmp_path: Path) -> None:
    """With the index first, the file still has `moov`; its chunk offsets point past the end."""
    source = make_clip(tmp_path / "clip.mp4", seconds=2, noise=True)
    faststart = tmp_path / "fast.mp4"
    with av.open(str(source)) as src, av.open(str(faststart), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    whole = faststart.read_bytes()
    assert whole.find(b"moov") < whole.find(b"mdat")
    assert _damage(whole, "mp4") == ""
    cut = whole[: len(whole) - 1000]
    reason = _damage(cut, "mp4")
    assert reason.startswith("truncated")
    assert mp4_duration(reader(io.BytesIO(cut))) == pytest.approx(2, abs=0.2)  # the index alone looks fine


@pytest.mark.parametrize("suffix", ["webm", "mkv"])
def test_a_cut_matroska_family_file_is_truncated(suffix: str) -> None:
    whole = clip_bytes(suffix, 2)
    reason = _damage(whole[: len(whole) * 3 // 4], suffix)
    assert "truncated" in reason


def test_a_cut_mpeg_program_stream_is_truncated() -> None:
    whole = clip_bytes("mpeg", 2)
    assert whole.startswith(b"\x00\x00\x01\xba")
    reason = _damage(whole[: len(whole) - 100], "mpeg")
    assert "truncated" in reason


def test_a_malformed_mpeg_pack_header_is_damaged() -> None:
    whole = bytearray(clip_bytes("mpeg", 1))
    whole[4] = 0x00  # neither MPEG-1 (0010xxxx) nor MPEG-2 (01xxxxxx)
    reason = _damage(bytes(whole), "mpeg")
    assert "pack header is malformed" in reason


def test_a_box_with_an_impossible_size_is_damaged() -> None:
    whole = bytearray(clip_bytes("mp4", 1))
    whole[0:4] = (3).to_bytes(4, "big")  # the first box (ftyp) claims 3 bytes: less than its own header
    reason = _damage(bytes(whole), "mp4")
    assert "impossible size" in reason
