"""Audio read without a decoder (router._model.audio) on real files: the format from the first bytes, the duration
from the headers, damage from the structure, and the names people give formats."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import pytest
from audioclips import audio_bytes, make_audio, make_ogg_video
from clips import clip_bytes
from fitclips import make_av_clip

from router._model.audio import (
    AUDIO_MIME,
    audio_damage,
    audio_duration,
    audio_format,
    canonical_format,
    format_of_mime,
)
from router._model.container import reader
from router._model.media import parse_data_url

# what each made file is called in ``input_audio.format``
SNIFFED = {
    "wav": "wav",
    "mp3": "mp3",
    "m4a": "m4a",
    "aac": "aac",
    "flac": "flac",
    "ogg": "ogg",
    "vorbis": "ogg",
    "aiff": "aiff",
    "webm": "webm",
    "amr": "amr",
}


def _sniff(data: bytes, whole: bool = True) -> str | None:
    """audio_format() as a caller uses it: the first 4 KiB, and random access to the rest when ``whole``."""
    return audio_format(data[:4096], reader(io.BytesIO(data)) if whole else None)


def _facts(data: bytes, fmt: str) -> tuple[float | None, str | None]:
    read = reader(io.BytesIO(data))
    return audio_duration(read, len(data), fmt), audio_damage(read, len(data), fmt)


def _ogg_page(packet: bytes, flags: int = 0x02) -> bytes:
    """One Ogg page holding ``packet`` (CRC left zero: only the layout matters to the sniffer)."""
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    header = b"OggS\x00" + bytes([flags]) + struct.pack("<qII", 0, 1, 0) + b"\x00" * 4
    return header + bytes([len(lacing)]) + lacing + packet


# -- the format -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("made", sorted(SNIFFED))
def test_each_format_is_known_by_its_first_bytes(made: str) -> None:
    """A real file of every ``input_audio`` format FFmpeg can write is named from its first 4 KiB alone."""
    assert _sniff(audio_bytes(made), whole=False) == SNIFFED[made]


def test_a_generic_mp4_is_m4a_only_when_every_track_is_sound(tmp_path: Path) -> None:
    """An `isom` mp4 holding only sound is m4a once its tracks are read (its `moov` sits past the first 4 KiB);
    an mp4 with a picture track is not audio, even with its sound track."""
    sound = audio_bytes("mp4")
    assert sound[8:12] == b"isom"
    assert sound.find(b"moov") > 4096
    assert _sniff(sound, whole=False) is None  # the first 4 KiB do not reach the track list
    assert _sniff(sound) == "m4a"
    video = make_av_clip(tmp_path / "talk.mp4", seconds=1.0).read_bytes()
    assert _sniff(video) is None


def test_ogg_with_a_picture_stream_is_not_audio(tmp_path: Path) -> None:
    """Ogg holding VP8 (made by FFmpeg) or Theora (a first page as the spec lays it out) beside its sound is
    video; a lone Opus or Vorbis stream is audio, a lone Speex one unknown."""
    assert _sniff(make_ogg_video(tmp_path / "clip.ogv").read_bytes()) is None
    theora = _ogg_page(b"\x80theora" + bytes(34))
    opus = _ogg_page(b"OpusHead\x01\x01" + bytes(9))
    assert _sniff(theora + opus) is None
    assert _sniff(opus + _ogg_page(b"OpusTags", flags=0)) == "ogg"
    assert _sniff(_ogg_page(b"\x01vorbis" + bytes(22))) == "ogg"
    assert _sniff(_ogg_page(b"Speex   " + bytes(72))) is None


def test_an_id3_tag_in_front_is_looked_past() -> None:
    """An ID3v2 tag before FLAC or ADTS bytes does not make them MP3; an MP3's own tag does not hide it."""
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10)  # a 10-byte body
    assert _sniff(tag + audio_bytes("flac")) == "flac"
    assert _sniff(tag + audio_bytes("aac")) == "aac"
    assert audio_bytes("mp3").startswith(b"ID3")
    assert _sniff(audio_bytes("mp3")) == "mp3"


def test_what_is_not_audio_is_none() -> None:
    """Video containers, images, text and a lone chance frame sync are not named as any audio format."""
    assert _sniff(clip_bytes("mp4")) is None
    assert _sniff(clip_bytes("webm")) is None
    assert _sniff(b"\x89PNG\r\n\x1a\n" + bytes(64)) is None
    assert _sniff(b'{"messages": []}') is None
    assert _sniff(b"\xff\xfb\x90\x00" + bytes(413) + b"not another frame") is None


def _id3_end(data: bytes) -> int:
    """Where an ID3v2 tag (header and a body whose size is syncsafe: 7 bits a byte) ends."""
    return 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])


def test_a_headerless_mp3_is_known_by_two_frames_in_a_row() -> None:
    """Without its ID3 tag an MP3 starts with a frame whose successor sits where its length says."""
    data = audio_bytes("mp3")
    frames = data[_id3_end(data) :]
    assert frames[:2] == b"\xff\xfb"
    assert _sniff(frames) == "mp3"


# -- the duration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("made", ["wav", "flac", "aiff", "m4a", "mp3", "ogg", "vorbis"])
def test_the_headers_give_the_duration(made: str) -> None:
    """wav, flac, aiff, m4a, mp3 (its Info header, less the encoder's delay and padding) and Ogg (the last
    granule) say how long they are, to the millisecond of what was encoded."""
    seconds, _ = _facts(audio_bytes(made, 3.0), SNIFFED[made])
    assert seconds == pytest.approx(3.0, abs=0.002)


def test_an_mp3_without_an_info_header_has_no_exact_duration() -> None:
    """An MP3 without its Xing/Info frame is still MP3, but only a decoder could say how long it is."""
    data = audio_bytes("mp3")
    start = _id3_end(data)
    info_frame = 144 * 128_000 // 44_100 + ((data[start + 2] >> 1) & 1)  # 128 kb/s at 44.1 kHz
    assert data[start + 36 : start + 40] == b"Info"
    bare = data[:start] + data[start + info_frame :]
    assert _sniff(bare) == "mp3"
    assert _facts(bare, "mp3") == (None, None)


def test_the_duration_of_a_data_url_is_read_without_decoding_it_all() -> None:
    """Through ``DataUrl.read`` (base64 decoded on demand), a WAV's duration is found from a few small reads."""
    payload = base64.b64encode(audio_bytes("wav", 3.0)).decode()
    data = parse_data_url(f"data:audio/wav;base64,{payload}")
    reads: list[int] = []

    def read(offset: int, size: int) -> bytes:
        reads.append(size)
        return data.read(offset, size)

    assert audio_format(data.head(), read) == "wav"
    assert audio_duration(read, data.decoded_size, "wav") == pytest.approx(3.0)
    assert sum(reads) < 1024


def test_wav_written_to_a_pipe_runs_to_the_end() -> None:
    """A WAV whose sizes were never filled in (0xFFFFFFFF: written to a pipe) is whole: its data runs to the end."""
    data = bytearray(audio_bytes("wav", 3.0))
    at = data.find(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"
    data[4:8] = b"\xff\xff\xff\xff"
    assert _facts(bytes(data), "wav") == (pytest.approx(3.0), None)


# -- damage -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("made", ["wav", "flac", "aiff", "m4a", "mp3", "ogg", "webm"])
def test_a_whole_file_is_not_damaged(made: str) -> None:
    """Every file as FFmpeg wrote it passes the structural check."""
    assert _facts(audio_bytes(made), SNIFFED[made])[1] is None


@pytest.mark.parametrize("made", ["wav", "aiff", "m4a", "mp3", "ogg", "webm"])
def test_a_file_cut_short_is_truncated(made: str) -> None:
    """Two thirds of a file: the chunk, box, page or Info header that claims more bytes gives it away."""
    data = audio_bytes(made)
    _, damage = _facts(data[: len(data) * 2 // 3], SNIFFED[made])
    assert damage is not None
    assert "truncated" in damage


def test_a_wav_cut_short_says_how_much_is_missing() -> None:
    """The message for a cut WAV names the bytes its data chunk claims and what the file has."""
    data = audio_bytes("wav", 3.0)
    body = data.find(b"data") + 8
    _, damage = _facts(data[:100_000], "wav")
    claimed, have = 3 * 44_100 * 4, 100_000 - body
    assert damage == f"truncated: its `data` chunk holds {claimed:,} bytes but the file has {have:,} after its header"


@pytest.mark.parametrize(
    ("made", "cut", "says"),
    [
        ("flac", 20, "truncated: a metadata block"),
        ("flac", 4, "truncated: the file ends inside its metadata"),
        ("aiff", 30, "`COMM` chunk is cut off"),
        ("wav", 30, "`fmt ` chunk is cut off"),
        ("wav", 12, "no `fmt ` chunk"),
        ("ogg", 20, "first Ogg page is not whole"),
    ],
)
def test_a_header_that_is_not_whole_is_damage(made: str, cut: str, says: str) -> None:
    """A file cut inside its header is damaged, and it has no duration."""
    seconds, damage = _facts(audio_bytes(made)[: int(cut)], SNIFFED[made])
    assert seconds is None
    assert damage is not None
    assert says in damage


def test_an_empty_file_is_damage() -> None:
    """Zero bytes are never audio, whatever the declared format."""
    assert audio_damage(lambda offset, size: b"", 0, "mp3") == "the file is empty"


# -- names ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "fmt"),
    [
        ("audio/mpeg", "mp3"),
        ("audio/mp3", "mp3"),
        ("audio/x-wav", "wav"),
        ("audio/wave", "wav"),
        ("audio/vnd.wave", "wav"),
        ("audio/mp4", "m4a"),
        ("audio/x-m4a", "m4a"),
        ("audio/x-flac", "flac"),
        ("audio/aiff", "aiff"),
        ("audio/x-aiff", "aiff"),
        ("audio/opus", "ogg"),
        ("audio/x-aac", "aac"),
        ("Audio/L16; rate=16000", "pcm16"),
        ("audio/L24", "pcm24"),
        ("audio/webm", "webm"),
        ("audio/pcm", None),  # 16 or 24 bits? not said
        ("video/mp4", None),
        ("text/plain", None),
    ],
)
def test_mime_spellings_name_their_format(mime: str, fmt: str | None) -> None:
    """The MIME spellings in use map to one format each (as SDKs map them: audio/mp4 is m4a, L16 is pcm16)."""
    assert format_of_mime(mime) == fmt


@pytest.mark.parametrize(
    ("declared", "fmt"),
    [
        ("wav", "wav"),
        ("WAV", "wav"),
        (" wave ", "wav"),
        ("audio/wav", "wav"),
        ("mpeg", "mp3"),
        ("audio/mpeg", "mp3"),
        ("MP3", "mp3"),
        ("mp4", "m4a"),
        ("m4a", "m4a"),
        ("aac", "aac"),  # raw ADTS, not m4a: the bytes tell a mislabel apart
        ("aif", "aiff"),
        ("opus", "ogg"),
        ("x-flac", "flac"),
        ("pcm16", "pcm16"),
        ("L16", "pcm16"),
        ("pcm24", "pcm24"),
        ("mp2", None),
        ("", None),
        ("video/mp4", None),
    ],
)
def test_declared_formats_are_normalised(declared: str, fmt: str | None) -> None:
    """The ``format`` people write (a MIME type, upper case, an alias) maps to the name OpenRouter documents."""
    assert canonical_format(declared) == fmt


def test_every_format_has_one_mime_type_that_names_it_back() -> None:
    """AUDIO_MIME and format_of_mime agree, so a fitted file's MIME type gives its format back."""
    for fmt, mime in AUDIO_MIME.items():
        assert format_of_mime(mime) == fmt
        assert canonical_format(fmt) == fmt


def test_a_long_file_is_read_in_a_few_small_reads(tmp_path: Path) -> None:
    """A 60 s Ogg Opus file's duration and damage take a handful of reads: the first page and the tail."""
    data = make_audio(tmp_path / "long.ogg", seconds=60.0).read_bytes()
    reads: list[int] = []

    def read(offset: int, size: int) -> bytes:
        reads.append(size)
        return data[offset : offset + size]

    assert audio_duration(read, len(data), "ogg") == pytest.approx(60.0, abs=0.002)
    assert audio_damage(read, len(data), "ogg") is None
    assert len(reads) <= 8
    assert sum(reads) < len(data) // 2
