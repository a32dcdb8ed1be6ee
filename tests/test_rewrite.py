"""Rewrites that need no download: routing field, key and YouTube normalisation, streamed body framing."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
from clips import clip_bytes
from payloads import video_request

import router
from router._report.output import describe
from router._rewrite.outgoing import Inlined, Outgoing, Routed
from router._rewrite.pieces import Inline, encoded_size


def test_youtube_routes_to_ai_studio_and_is_normalised() -> None:
    """A Shorts link becomes a watch URL and the request is routed to AI Studio only."""
    out = router.Router().rewrite(video_request("https://youtube.com/shorts/dQw4w9WgXcQ"))
    assert out["messages"][0]["content"][1]["video_url"]["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert out["provider"] == {"only": ["google-ai-studio"]}


def test_callers_provider_fields_are_kept_and_intersected() -> None:
    """The caller's other provider fields survive; `only` is narrowed to providers that can take the request."""
    payload = video_request(
        "https://youtu.be/dQw4w9WgXcQ",
        provider={"order": ["google-vertex", "google-ai-studio"], "data_collection": "deny"},
    )
    frozen = copy.deepcopy(payload)
    out = router.Router().rewrite(payload)
    assert out["provider"] == {"only": ["google-ai-studio"], "order": ["google-ai-studio"], "data_collection": "deny"}
    assert payload == frozen


def test_variant_tag_spelling_is_kept() -> None:
    """A caller's variant tag (`google-ai-studio/flex`) is what goes into `only`."""
    out = router.Router().rewrite(video_request("https://youtu.be/dQw4w9WgXcQ", only=["google-ai-studio/flex"]))
    assert out["provider"]["only"] == ["google-ai-studio/flex"]


DATA = "data:video/mp4;base64," + base64.b64encode(clip_bytes("mp4")).decode()


@pytest.mark.parametrize(
    ("prefs", "expected"),
    [
        # Two regions of one provider: both stay allowed.
        ({"only": ["google-vertex/us-east5", "google-vertex/europe-west1"]},
         {"only": ["google-vertex/us-east5", "google-vertex/europe-west1"]}),
        # order with a region tag is a preference: it keeps its place and does not narrow `only`.
        ({"only": ["google-vertex", "google-ai-studio"], "order": ["google-vertex/us-east5", "google-ai-studio"]},
         {"only": ["google-vertex", "google-ai-studio"], "order": ["google-vertex/us-east5", "google-ai-studio"]}),
        ({"order": ["google-vertex/us-east5", "google-ai-studio"]},
         {"only": ["google-vertex", "google-ai-studio"], "order": ["google-vertex/us-east5", "google-ai-studio"]}),
        # Ignoring one endpoint leaves the provider's others; ignoring the provider removes it.
        ({"ignore": ["google-vertex/us-east5"]},
         {"only": ["google-vertex", "google-ai-studio"], "ignore": ["google-vertex/us-east5"]}),
        ({"ignore": ["google-vertex"]}, {"only": ["google-ai-studio"], "ignore": ["google-vertex"]}),
    ],
)  # fmt: skip
def test_region_tags_in_the_callers_preferences_are_honoured(prefs: dict[str, Any], expected: dict[str, Any]) -> None:
    """Variant tags (`google-vertex/us-east5`) keep the caller's meaning: `only` narrows to the endpoints named,
    `order` only orders, `ignore` of one endpoint is not the provider's ban."""
    out = router.Router().rewrite(video_request(DATA, provider=prefs))
    assert out["provider"] == expected


def test_camelcase_key_is_renamed() -> None:
    """`videoUrl` goes out as `video_url`, everything else in the part unchanged."""
    out = router.Router().rewrite(video_request("https://youtu.be/dQw4w9WgXcQ", key="videoUrl"))
    part = out["messages"][0]["content"][1]
    assert part == {"type": "video_url", "video_url": {"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}}


def test_rejected_request_raises_with_diagnostics() -> None:
    """A request no provider can take raises RequestRejected carrying the diagnostics."""
    with pytest.raises(router.RequestRejected) as info:
        router.Router().rewrite(video_request("https://youtu.be/dQw4w9WgXcQ"), provider="google-vertex")
    assert [d.rule for d in info.value.diagnostics] == ["url-not-accepted"]


def test_dry_run_downloads_nothing() -> None:
    """A dry run leaves URLs that would be inlined in place and says so in its notes."""
    out = router.Router().outgoing(video_request("https://cdn.example.com/a.mp4"), dry_run=True)
    assert out.to_dict()["messages"][0]["content"][1]["video_url"]["url"] == "https://cdn.example.com/a.mp4"
    inlined, routed = out.notes
    assert inlined == Inlined("/messages/0/content/1", "https://cdn.example.com/a.mp4", None, 75_000_000, True)
    assert routed == Routed(("google-vertex", "google-ai-studio"))
    assert describe(inlined).startswith("would inline https://cdn.example.com/a.mp4 (up to 75 MB)")


class _FileMedia:
    """Just enough of fetch.Media for the body framing: a real file on disk."""

    def __init__(self, path: Path, mime: str) -> None:
        self.path, self.mime, self.size = path, mime, path.stat().st_size

    def open(self) -> Any:
        return self.path.open("rb")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 786_431, 786_432, 786_433, 2_000_000])
def test_streamed_body_matches_its_dict(tmp_path: Path, size: int) -> None:
    """The streamed body is valid JSON with an exact Content-Length, whatever the size against the chunking."""
    path = tmp_path / "blob.bin"
    path.write_bytes((clip_bytes("mp4") * (size // 1000 + 1))[:size])
    media = _FileMedia(path, "video/mp4")
    pieces = [b'{"messages":[{"content":[{"video_url":{"url":"data:video/mp4;base64,', Inline(media), b'"}}]}]}']
    out = Outgoing(pieces)  # type: ignore[arg-type]
    body = b"".join(out.iter_bytes())
    assert len(body) == out.content_length
    url = out.to_dict()["messages"][0]["content"][0]["video_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:video/mp4;base64,"), validate=True) == path.read_bytes()
    assert encoded_size(size) == len(url) - len("data:video/mp4;base64,")


def test_parts_that_need_nothing_are_not_looked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image URLs the provider fetches itself go out as written without the rewrite walking the text to each part
    (a walk per part made a request of many parts cost time quadratic in their number)."""
    import router._rewrite.edits as edits

    def walked(*args: object) -> None:
        raise AssertionError("the rewrite looked for a part that needs no edit")

    monkeypatch.setattr(edits, "locate", walked)
    monkeypatch.setattr(edits, "value_span", walked)
    images = [{"type": "image_url", "image_url": {"url": f"https://img.example.com/{i}.jpg"}} for i in range(50)]
    request = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": images}]}
    request["provider"] = {"only": ["openai"]}
    out = router.Router().outgoing(request)
    assert out.to_dict() == request
    assert out.notes == []
