"""URL classification, data URLs and container sniffing on real clips."""

from __future__ import annotations

import base64

import pytest
from clips import FORMATS, clip_bytes

from router._model.container import mp4_duration
from router._model.media import (
    DataUrlError,
    classify_url,
    compatible,
    extension_mime,
    parse_data_url,
    sniff,
)

VIDEO_ID = "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={VIDEO_ID}",
        f"https://youtube.com/watch?v={VIDEO_ID}&t=42s",
        f"https://m.youtube.com/watch?feature=share&v={VIDEO_ID}",
        f"https://music.youtube.com/watch?v={VIDEO_ID}",
        f"https://youtu.be/{VIDEO_ID}?si=abc",
        f"https://www.youtube.com/shorts/{VIDEO_ID}",
        f"https://www.youtube.com/embed/{VIDEO_ID}",
        f"https://www.youtube-nocookie.com/embed/{VIDEO_ID}",
        f"http://www.youtube.com/live/{VIDEO_ID}",
    ],
)
def test_every_youtube_form_normalises_to_watch(url: str) -> None:
    """Every common YouTube link form is recognised and normalised to the canonical watch URL."""
    info = classify_url(url)
    assert info.kind == "youtube"
    assert info.canonical_youtube == f"https://www.youtube.com/watch?v={VIDEO_ID}"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.example.com/a.mp4", "https"),
        ("http://cdn.example.com/a.mp4", "http"),
        ("gs://bucket/a.mp4", "gs"),
        ("data:video/mp4;base64,AAAA", "data"),
        ("file:///tmp/a.mp4", "file"),
        ("ftp://example.com/a.mp4", "other"),
        ("not a url", "invalid"),
        ("https://notyoutube.com/watch?v=dQw4w9WgXcQ", "https"),
    ],
)
def test_classify_url(url: str, kind: str) -> None:
    """URL kinds are told apart offline, and look-alike hosts are not YouTube."""
    assert classify_url(url).kind == kind


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_sniff_real_containers(suffix: str) -> None:
    """The container is read from the first bytes of a real clip of each format."""
    assert compatible(FORMATS[suffix][2], sniff(clip_bytes(suffix)[:4096]) or "")


def test_sniff_rejects_html_and_garbage() -> None:
    """An HTML error page is text/html; random bytes are unknown."""
    assert sniff(b"<!DOCTYPE html><html><body>Not found</body></html>") == "text/html"
    assert sniff(bytes(range(7, 200))) is None


def test_mp4_duration_from_a_base64_payload() -> None:
    """Duration comes from moov/mvhd, read by random access into the base64 text without decoding it all."""
    raw = clip_bytes("mp4", seconds=2.0)
    data = parse_data_url("data:video/mp4;base64," + base64.b64encode(raw).decode())
    assert data.decoded_size == len(raw)
    assert data.read(5, 7) == raw[5:12]
    assert mp4_duration(data.read) == pytest.approx(2.0, abs=0.2)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_wrapped_base64_is_read_without_its_line_breaks(newline: str) -> None:
    """A payload wrapped at 76 columns is validated, sized, read by random access and timed as if on one line,
    and says how many line-break characters it held."""
    raw = clip_bytes("mp4", seconds=2.0)
    wrapped = base64.encodebytes(raw).decode().replace("\n", newline)
    data = parse_data_url("data:video/mp4;base64," + wrapped)
    assert data.breaks == wrapped.count("\n") * len(newline)
    assert data.encoded_size == len(base64.b64encode(raw))
    assert data.payload() == base64.b64encode(raw).decode()
    assert data.decoded_size == len(raw)
    assert data.read(1000, 7) == raw[1000:1007]
    assert mp4_duration(data.read) == pytest.approx(2.0, abs=0.2)


def test_data_url_errors_say_what_is_wrong() -> None:
    """Malformed data URLs raise with a sentence naming the problem."""
    with pytest.raises(DataUrlError, match="not a multiple of 4"):
        parse_data_url("data:video/mp4;base64,AAAAA")
    with pytest.raises(DataUrlError, match="not valid base64 at character 4"):
        parse_data_url("data:video/mp4;base64,AAAA!AAA")


def test_extension_ignores_query_strings() -> None:
    """Signed URLs are typed by their path's extension, never by what the query string ends with."""
    assert extension_mime("https://s3.example.com/v.webm?X-Amz-Signature=abc.mp4") == "video/webm"
    assert extension_mime("https://example.com/watch") is None
