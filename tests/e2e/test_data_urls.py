"""Data URLs as people make them: base64 wrapped in lines (what `base64 clip.mp4` prints) and types with
parameters are warnings that `check --fix` and every rewrite repair; the upstream only ever sees
`data:<documented type>;base64,<one line of base64>`. Other stray characters stay `malformed-data-url`."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from clips import clip_bytes
from payloads import video_request
from servers import MediaServer, padded_mp4
from upstream import FakeOpenRouter

import router
from router._model.body import Body
from router._model.request import load_body
from router.cli import main

AUTH = {"Authorization": "Bearer test", "Content-Type": "application/json"}
CODECS = 'data:video/mp4;codecs="avc1.42E01E";base64'


def _wrapped(raw: bytes, newline: str = "\n") -> str:
    """What `base64 clip.mp4` prints: lines of 76 characters, each ending in a line break (the last one too)."""
    return base64.encodebytes(raw).decode().replace("\n", newline)


def _flat(raw: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(raw).decode()


def _client(r: router.Router) -> httpx.Client:
    return httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=30)


def _sent(upstream: FakeOpenRouter) -> str:
    """The video URL the upstream received; its body arrived whole, as long as its Content-Length said."""
    seen = upstream.requests[-1]
    assert seen.content_length == seen.body_size
    url: str = seen.json()["messages"][0]["content"][1]["video_url"]["url"]
    return url


def _check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["check", "--offline", "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)["diagnostics"]


# -- wrapped base64 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_check_calls_wrapped_base64_a_fixable_warning(
    newline: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real mp4 wrapped at 76 columns (LF or CRLF) is a `wrapped-base64` warning, not malformed: exit 0."""
    path = tmp_path / "req.json"
    path.write_text(json.dumps(video_request("data:video/mp4;base64," + _wrapped(clip_bytes("mp4"), newline))))
    code, found = _check_json(capsys, str(path))
    assert code == 0
    assert [(d["rule"], d["severity"]) for d in found] == [("wrapped-base64", "warning")]
    assert "line" in found[0]["message"]
    assert "router check --fix" in found[0]["fix"]


@pytest.mark.parametrize(
    ("newline", "count"), [("\n", "1 line-break character,"), ("\r\n", "2 line-break characters,")]
)
def test_wrapped_base64_counts_its_line_breaks_in_words(newline: str, count: str) -> None:
    """The warning says how many line-break characters the payload holds, in the singular for one."""
    flat = base64.b64encode(clip_bytes("mp4")).decode()
    url = f"data:video/mp4;base64,{flat[:76]}{newline}{flat[76:]}"
    (found,) = router.Router().check(video_request(url)).diagnostics
    assert found.rule == "wrapped-base64"
    assert f"({count} as `base64` writes it" in found.message


@pytest.mark.parametrize(
    ("newline", "eol", "header"),
    [
        ("\n", "\n", "data:video/mp4;base64"),
        ("\r\n", "\r\n", CODECS),
        ("\n", "\r\n", "data:video/mp4;name=clip.mp4;base64"),
    ],
)
def test_check_fix_unwraps_the_payload_and_drops_parameters_in_the_file(
    newline: str, eol: str, header: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`router check --fix` leaves the base64 on one line and the header as documented; every other byte of
    the file (indentation, its own line endings) stays, and the fixed file checks clean."""
    raw = clip_bytes("mp4")
    path = tmp_path / "req.json"
    path.write_bytes(
        json.dumps(video_request(f"{header},{_wrapped(raw, newline)}"), indent=2).replace("\n", eol).encode()
    )
    assert main(["check", "--offline", "--fix", str(path)]) == 0
    assert path.read_bytes() == json.dumps(video_request(_flat(raw)), indent=2).replace("\n", eol).encode()
    capsys.readouterr()
    assert _check_json(capsys, str(path)) == (0, [])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_upstream_receives_wrapped_base64_on_one_line(
    newline: str, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """Sent through the transport, a wrapped data URL reaches the (strict) upstream unwrapped, with an exact
    Content-Length, and decodes to the very clip."""
    raw = clip_bytes("mp4")
    with _client(local_router) as client:
        body = json.dumps(video_request("data:video/mp4;base64," + _wrapped(raw, newline))).encode()
        response = client.post(upstream.chat_url, content=body)
    assert response.status_code == 200, response.text
    assert _sent(upstream) == _flat(raw)


def test_a_big_wrapped_data_url_is_read_in_place_and_sent_unwrapped(
    upstream: FakeOpenRouter, local_router: router.Router, media_server: MediaServer
) -> None:
    """A 4 MB wrapped data URL with `\\n` and `\\/` escapes (a body big enough that its strings stay in it) is
    checked through its escapes without being decoded whole, and streamed out unwrapped, type renamed."""
    video = b"".join(padded_mp4(media_server.clips["mp4"], 3_000_000))
    url = "data:video/quicktime;name=clip.mp4;base64," + _wrapped(video, "\r\n")
    text = json.dumps(video_request(url)).replace("/", "\\/").encode()
    payload = load_body(Body.of(text))
    assert payload.holes  # the data URL stayed in the body
    [part] = local_router.prepare(payload).checked.parts
    assert part.part.source is not None
    assert not isinstance(part.part.source, str)  # read through its escapes, never one 4 MB string
    assert part.size == len(video)
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, content=text)
    assert response.status_code == 200, response.text
    assert _sent(upstream) == "data:video/mov;base64," + base64.b64encode(video).decode()
    summary = json.loads(response.json()["choices"][0]["message"]["content"])
    assert summary["videos"][0]["sha256"] == hashlib.sha256(video).hexdigest()


def test_size_limits_count_the_unwrapped_payload(tmp_path: Path) -> None:
    """A provider's request cap is measured on the base64 as sent (one line), not as the caller wrapped it."""
    raw = clip_bytes("mp4")
    payload, sent = _wrapped(raw, "\r\n"), len(base64.b64encode(raw))
    assert len(payload) > sent + 20  # the line breaks alone would pass the cap
    for cap, rules in ((sent + 20, ["wrapped-base64"]), (sent - 20, ["wrapped-base64", "too-large"])):
        table = tmp_path / f"cap{cap}.yaml"
        table.write_text(f"providers:\n  google-vertex: {{max_request_bytes: {cap}}}\n")
        report = router.Router(table).check(video_request("data:video/mp4;base64," + payload), provider="google-vertex")
        assert [d.rule for d in report.diagnostics] == rules


@pytest.mark.parametrize("junk", [" ", "!", "\t"])
def test_anything_but_line_breaks_in_base64_is_still_malformed(
    junk: str, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A stray character in wrapped base64 is `malformed-data-url`, named with its place, and is never sent."""
    lines = _wrapped(clip_bytes("mp4")).split("\n")
    lines[1] = lines[1][:10] + junk + lines[1][10:]
    request = video_request("data:video/mp4;base64," + "\n".join(lines))
    [finding] = local_router.check(request).diagnostics
    assert finding.rule == "malformed-data-url"
    assert f"at character 86 ({junk!r} is not a base64 character)" in finding.message
    with _client(local_router) as client:
        assert client.post(upstream.chat_url, json=request).status_code == 400
    assert upstream.requests == []


# -- parameters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [CODECS, "data:video/mp4;name=clip.mp4;base64", "data:video/mp4;BASE64"])
def test_data_url_parameters_never_reach_the_upstream(
    header: str, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """`codecs=`, `name=` or another spelling of `base64` is a fixable `mime-alias` warning in check, and the
    upstream receives exactly `data:video/mp4;base64,` with the payload as it was."""
    raw = clip_bytes("mp4")
    request = video_request(f"{header},{base64.b64encode(raw).decode()}")
    [finding] = local_router.check(request).diagnostics
    assert (finding.rule, finding.severity, finding.fixed_by) == ("mime-alias", "warning", ("fix", "rewrite"))
    assert "data:video/mp4;base64," in finding.fix
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    assert _sent(upstream) == _flat(raw)
