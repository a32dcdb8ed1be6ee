"""How records show themselves: the shared redacted ``repr`` and the scrubbing of free text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from router._base.errors import UnreachableURL
from router._base.rules import Diagnostic, scrub
from router._fetch.spool import Media
from router._proxy.settings import ProxySettings

URL = "https://user:pa55@cdn.example.com/v/clip.mp4?X-Amz-Signature=s1g&token=t0k#frag"


def test_scrub_shortens_every_url_in_a_text_and_is_idempotent() -> None:
    """Credentials, query values and data URL payloads leave free text; trailing punctuation stays; twice is once."""
    text = f'fetching {URL}: refused (data:video/mp4;codecs="avc1";base64,AAAAGGZ0eXA=, then http://u:p@h/x).'
    once = scrub(text)
    assert once == (
        'fetching https://cdn.example.com/v/clip.mp4?…: refused (data:video/mp4;codecs="avc1";base64,…(12 chars), '
        "then http://h/x)."
    )
    assert scrub(once) == once
    assert scrub("no URL here: 3:4") == "no URL here: 3:4"


def test_redacted_records_keep_working_as_dataclasses() -> None:
    """A frozen, slotted record with a redacted repr still compares, hashes and copies, and keeps its raw URL in
    the field."""
    media = Media(URL, Path("clip.mp4"), 10, "video/mp4", "ab" * 32)
    assert "pa55" not in repr(media)
    assert "s1g" not in str(media)
    assert repr(media).startswith("Media(url='https://cdn.example.com/v/clip.mp4?…', path=PosixPath(")
    assert media.url == URL
    assert not hasattr(media, "__dict__")
    moved = dataclasses.replace(media, size=11)
    assert (moved.size, moved.url, moved == media) == (11, URL, False)
    assert hash(media) == hash(dataclasses.replace(media))


def test_keys_show_masked_and_messages_scrubbed() -> None:
    """The proxy's keys show as '***' (set) or None; errors and diagnostics scrub whoever wrote their words."""
    settings = ProxySettings(base_url="https://k:pw@gw.example.com/api", api_key="sk-1", access_token=None)
    assert "api_key='***', access_token=None" in repr(settings)
    assert "base_url='https://gw.example.com/api'" in repr(settings)
    error = UnreachableURL(f"{URL} failed", url=URL)
    assert error.args == ("https://cdn.example.com/v/clip.mp4?… failed",)
    assert error.url == URL
    found = Diagnostic("unreachable-url", f"{URL} failed", reasons={"p": URL}, fix=f"retry {URL}")
    assert "pa55" not in repr(found)
    assert "s1g" not in repr(found)
    assert found.to_dict()["message"] == "https://cdn.example.com/v/clip.mp4?… failed"
