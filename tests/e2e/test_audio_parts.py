"""Audio parts get what video parts get, through every door: real recordings (PyAV) as URLs on the loopback media
server or as base64, checked, inlined as `input_audio` with bare base64 and the format read from the bytes, routed to
a provider that takes that format, fitted when asked, and judged again by the strict fake OpenRouter."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
from audioclips import audio_bytes, decoded_seconds
from payloads import AUDIO_MODEL, GEMINI, TEXT_ONLY, audio_part, audio_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.cli import main
from router.serve import ProxySettings, make_server
from router.transport import AsyncHttpx2RouterTransport, Httpx2RouterTransport

CaseUrl = Callable[[str], tuple[str, str]]
AUTH = {"Authorization": "Bearer test", "Content-Type": "application/json"}
FIRST = "/messages/0/content/1"  # the first media part of a payloads.py request


@pytest.fixture(scope="module")
def sounds() -> dict[str, bytes]:
    """One second of real audio per format the tests send, encoded once."""
    return {fmt: audio_bytes(fmt, 1.0) for fmt in ("wav", "mp3", "m4a", "flac")}


@pytest.fixture(scope="module")
def served(media_server: MediaServer, sounds: dict[str, bytes]) -> dict[str, str]:
    """Recordings on the media server whose names and types say nothing true: an m4a as
    application/octet-stream, an mp3 named .wav and served as audio/wav; and a flac as it is."""
    return {
        "m4a": media_server.serve_file("talk.m4a", sounds["m4a"], "application/octet-stream"),
        "mp3": media_server.serve_file("talk.wav", sounds["mp3"], "audio/wav"),
        "flac": media_server.serve_file("talk.flac", sounds["flac"], "audio/flac"),
    }


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _client(r: router.Router) -> httpx.Client:
    return httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=30)


def _post(r: router.Router, upstream: FakeOpenRouter, request: dict[str, Any]) -> httpx.Response:
    with _client(r) as client:
        return client.post(upstream.chat_url, json=request)


def _sent_audio(upstream: FakeOpenRouter, field: str = "messages") -> list[Any]:
    """The media parts of the last request the upstream received, whole; its body arrived as long as it said."""
    seen = upstream.requests[-1]
    assert seen.content_length == seen.body_size
    return list(seen.json()[field][0]["content"][1:])


def _documented(raw: bytes, fmt: str) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": _b64(raw), "format": fmt}}


def _accepted(raw: bytes, fmt: str) -> dict[str, Any]:
    """The upstream's summary of an audio part it took."""
    return {"kind": "audio", "format": fmt, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _rules(diagnostics: list[Any]) -> list[tuple[str, str | None, str]]:
    return [(d.rule, d.kind, d.pointer) for d in diagnostics]


# -- URLs are downloaded and inlined, the format read from the bytes ----------------------------------------


@pytest.mark.parametrize(
    ("key", "held", "model", "only"),
    [
        ("input_audio", "m4a", GEMINI, ["google-vertex"]),  # AI Studio takes no m4a: the route narrows to Vertex
        ("audio_url", "m4a", GEMINI, ["google-vertex"]),
        ("input_audio", "mp3", GEMINI, None),  # both Gemini providers take mp3: routing left alone
        ("audio_url", "mp3", AUDIO_MODEL, None),
    ],
)
def test_an_audio_url_is_downloaded_and_sent_as_bare_base64_with_the_format_of_its_bytes(
    key: str,
    held: str,
    model: str,
    only: list[str] | None,
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    media_server: MediaServer,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """An audio URL (in `input_audio.data`, or an `audio_url` part) whose name and Content-Type lie is downloaded
    once and reaches the strict upstream as `input_audio` with bare base64 and the format the bytes say."""
    url, target = case_url(served[held])
    response = _post(local_router, upstream, audio_request(url, model=model, fmt="wav", key=key))
    assert response.status_code == 200, response.text
    assert _sent_audio(upstream) == [_documented(sounds[held], held)]
    assert upstream.requests[-1].json().get("provider") == ({"only": only} if only else None)
    assert upstream.requests[-1].summary["parts"] == [_accepted(sounds[held], held)]
    assert media_server.hits(target) == 1


@pytest.fixture(params=["httpx", "httpx2"])
def sdk(request: pytest.FixtureRequest, upstream: FakeOpenRouter) -> Iterator[Callable[[router.Router], openai.OpenAI]]:
    """``sdk(router)``: an ``openai.OpenAI`` on a legacy ``httpx.Client`` or on an ``httpx2.Client``."""
    made: list[openai.OpenAI] = []

    def make(r: router.Router) -> openai.OpenAI:
        http: Any = (
            httpx.Client(transport=router.RouterTransport(r))
            if request.param == "httpx"
            else httpx2.Client(transport=Httpx2RouterTransport(r))
        )
        made.append(openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_the_openai_sdk_sends_an_audio_url_inline(
    sdk: Callable[[router.Router], openai.OpenAI],
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """`chat.completions.create` with an `input_audio` part holding a URL, on either transport, reaches the
    audio model's provider as the mp3's own bytes under `format: mp3`."""
    url, _ = case_url(served["mp3"])
    messages: Any = audio_request(url)["messages"]
    completion = sdk(local_router).chat.completions.create(model=AUDIO_MODEL, messages=messages)
    summary = json.loads(completion.choices[0].message.content or "")
    assert (summary["provider"], summary["parts"]) == ("openai", [_accepted(sounds["mp3"], "mp3")])
    assert _sent_audio(upstream) == [_documented(sounds["mp3"], "mp3")]


@pytest.mark.parametrize("flavour", ["httpx", "httpx2"])
async def test_the_async_openai_sdk_sends_an_audio_url_part_inline(
    flavour: str,
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """`AsyncOpenAI` on either async transport turns an undocumented `audio_url` part into `input_audio`."""
    url, _ = case_url(served["m4a"])
    http: Any = (
        httpx.AsyncClient(transport=router.AsyncRouterTransport(local_router))
        if flavour == "httpx"
        else httpx2.AsyncClient(transport=AsyncHttpx2RouterTransport(local_router))
    )
    messages: Any = audio_request(url, key="audio_url")["messages"]
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="t", http_client=http, max_retries=0) as client:
        await client.chat.completions.create(model=GEMINI, messages=messages)
    assert _sent_audio(upstream) == [_documented(sounds["m4a"], "m4a")]
    assert upstream.requests[-1].summary["provider"] == "google-vertex"


def test_the_proxy_inlines_an_audio_url_part(
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """`router serve` (in a thread) sends an `audio_url` part on as `input_audio`, which the upstream takes."""
    url, _ = case_url(served["mp3"])
    settings = ProxySettings()
    with make_server(local_router, "127.0.0.1", 0, upstream.base_url, api_key="", settings=settings) as proxy:
        client = openai.OpenAI(base_url=proxy.url + "/api/v1", api_key="sk-or-v1-test", max_retries=0, timeout=30)
        messages: Any = audio_request(url, key="audio_url")["messages"]
        answer = client.chat.completions.create(model=AUDIO_MODEL, messages=messages)
    assert json.loads(answer.choices[0].message.content or "")["parts"] == [_accepted(sounds["mp3"], "mp3")]
    assert _sent_audio(upstream) == [_documented(sounds["mp3"], "mp3")]


def test_the_responses_api_inlines_an_input_audio_url(
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """`responses.create` with an `input_audio` item holding a URL reaches `/responses` with the bytes inline."""
    url, _ = case_url(served["mp3"])
    http = httpx.Client(transport=router.RouterTransport(local_router))
    with openai.OpenAI(base_url=upstream.base_url, api_key="t", http_client=http, max_retries=0) as client:
        reply = client.responses.create(**audio_request(url, api="responses"))
    assert json.loads(reply.output_text)["parts"] == [_accepted(sounds["mp3"], "mp3")]
    assert upstream.requests[-1].path == "/api/v1/responses"
    assert _sent_audio(upstream, "input") == [_documented(sounds["mp3"], "mp3")]


# -- the command line ---------------------------------------------------------------------------------------


def _position(text: str, needle: str) -> tuple[int, int]:
    """The 1-based line and column where ``needle`` starts in ``text``."""
    at = text.index(needle)
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def test_cli_check_and_rewrite_an_audio_url(
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`router check --format json` places the audio findings (kind `audio`) at their line and column, online it
    finds the m4a an OpenAI route refuses; `router rewrite` writes the bytes inline with their format."""
    url, _ = case_url(served["mp3"])
    path = tmp_path / "req.json"
    path.write_text(json.dumps(audio_request(url, key="audio_url", model=AUDIO_MODEL), indent=2))
    text = path.read_text()
    assert main(["check", "--offline", "--allow-private-urls", "--format", "json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)["diagnostics"]
    found = [(d["rule"], d["kind"], d["pointer"], d["line"], d["column"]) for d in report]
    assert found == [
        ("nonstandard-part", "audio", FIRST, *_position(text, '{\n          "type": "audio_url"')),
        ("url-needs-inline", "audio", f"{FIRST}/audio_url/url", *_position(text, json.dumps(url))),
    ]
    assert main(["rewrite", "--allow-private-urls", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["messages"][0]["content"][1] == _documented(sounds["mp3"], "mp3")
    m4a, _ = case_url(served["m4a"])
    path.write_text(json.dumps(audio_request(m4a, model=AUDIO_MODEL, only=["openai"])))
    assert main(["check", "--allow-private-urls", "--format", "json", str(path)]) == 1
    errors = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["severity"] == "error"]
    assert [(d["rule"], d["kind"]) for d in errors] == [("unsupported-format", "audio")]
    assert "openai does not accept m4a" in errors[0]["message"]


def test_cli_check_reads_audio_in_batch_lines(
    sounds: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Batch JSONL lines carrying audio are checked line by line under `/body`, and `--fix` writes the documented
    format name into the line that spelt it otherwise."""
    good, wrong = _b64(sounds["wav"]), _b64(sounds["mp3"])
    lines = [
        {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": audio_request(good, fmt="WAV")},
        {"custom_id": "2", "method": "POST", "url": "/v1/chat/completions", "body": audio_request(wrong, fmt="wav")},
    ]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["check", "--offline", "--format", "json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)["diagnostics"]
    found = [(d["line"], d["rule"], d["kind"], d["pointer"]) for d in report]
    assert found == [
        (1, "mime-alias", "audio", f"/body{FIRST}/input_audio/format"),
        (2, "format-mismatch", "audio", f"/body{FIRST}/input_audio/format"),
    ]
    assert main(["check", "--offline", "--fix", str(path)]) == 1  # the mismatch is no spelling: it stays
    first = json.loads(path.read_text().splitlines()[0])
    assert first["body"]["messages"][0]["content"][1] == _documented(sounds["wav"], "wav")


# -- what the bytes say against what the part says ----------------------------------------------------------


def test_a_declared_format_the_bytes_contradict_never_reaches_the_upstream(
    sounds: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """mp3 bytes declared `wav` are a `format-mismatch` error at the `format` key, and nothing is sent."""
    request = audio_request(_b64(sounds["mp3"]), fmt="wav")
    (finding,) = local_router.check(request).diagnostics
    assert (finding.rule, finding.kind, finding.pointer) == ("format-mismatch", "audio", f"{FIRST}/input_audio/format")
    assert "the bytes are mp3" in finding.message
    response = _post(local_router, upstream, request)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["rule"] == "format-mismatch"
    assert upstream.requests == []


@pytest.mark.parametrize("spelt", ["audio/wav", "WAV", "audio/x-wav"])
def test_another_spelling_of_the_format_is_a_warning_sent_as_documented(
    spelt: str, sounds: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A format spelt as a MIME type or in capitals is a fixable `mime-alias` warning, and goes out as `wav`."""
    request = audio_request(_b64(sounds["wav"]), fmt=spelt)
    (finding,) = local_router.check(request).diagnostics
    assert (finding.rule, finding.severity, finding.fixed_by) == ("mime-alias", "warning", ("fix", "rewrite"))
    assert finding.pointer == f"{FIRST}/input_audio/format"
    assert _post(local_router, upstream, request).status_code == 200
    assert _sent_audio(upstream) == [_documented(sounds["wav"], "wav")]


def test_check_fix_writes_the_documented_format_into_the_file(
    sounds: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`router check --fix` turns `"format": "audio/wav"` into `"wav"` and touches nothing else in the file."""
    path = tmp_path / "req.json"
    path.write_text(json.dumps(audio_request(_b64(sounds["wav"]), fmt="audio/wav"), indent=2))
    assert main(["check", "--offline", "--fix", str(path)]) == 0
    assert path.read_text() == json.dumps(audio_request(_b64(sounds["wav"]), fmt="wav"), indent=2)
    capsys.readouterr()
    assert main(["check", "--offline", "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["diagnostics"] == []


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        ("data:audio/wav;base64,", "wav"),
        ("", None),
        ("data:audio/wav;base64,", None),
        ("data:audio/x-wav;base64,", None),
    ],
)
def test_a_data_url_or_a_missing_format_is_a_nonstandard_part_sent_as_documented(
    data: str, fmt: str | None, sounds: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A `data:` URL in `input_audio.data` or no `format` is one `nonstandard-part` warning, and the upstream gets
    bare base64 under the format the bytes say."""
    request = audio_request(data + _b64(sounds["wav"]), fmt=fmt)
    assert _rules(local_router.check(request).diagnostics) == [("nonstandard-part", "audio", FIRST)]
    assert _post(local_router, upstream, request).status_code == 200
    assert _sent_audio(upstream) == [_documented(sounds["wav"], "wav")]


def test_wrapped_base64_is_a_warning_and_goes_out_on_one_line(
    sounds: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """Bare base64 wrapped at 76 columns (what `base64` prints) is `wrapped-base64`, and is sent unwrapped."""
    request = audio_request(base64.encodebytes(sounds["wav"]).decode())
    assert _rules(local_router.check(request).diagnostics) == [("wrapped-base64", "audio", f"{FIRST}/input_audio/data")]
    assert _post(local_router, upstream, request).status_code == 200
    assert _sent_audio(upstream) == [_documented(sounds["wav"], "wav")]


# -- formats and models the route does not take -------------------------------------------------------------


@pytest.fixture
def fitting_router(table: Any) -> Iterator[router.Router]:
    """A router that fits media to the route (`fit=True`) and may fetch from loopback."""
    from router._fetch.fetcher import Fetcher

    with Fetcher(allow_private_urls=True) as fetcher:
        yield router.Router(table, fetcher=fetcher, fit=True)


@pytest.mark.parametrize("as_url", [False, True])
def test_a_format_the_route_does_not_take_is_refused_without_fit(
    as_url: bool,
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """flac to an audio model pinned to OpenAI (wav and mp3 only), inline or downloaded, is `unsupported-format`
    with the fit hint; the message shows none of the payload, and nothing is sent."""
    data = case_url(served["flac"])[0] if as_url else _b64(sounds["flac"])
    request = audio_request(data, fmt="flac", model=AUDIO_MODEL, only=["openai"])
    response = _post(local_router, upstream, request)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["metadata"]["rule"] == "unsupported-format"
    assert "openai does not accept flac" in error["message"]
    assert "--fit" in error["metadata"]["diagnostics"][-1]["fix"]
    assert _b64(sounds["flac"])[:16] not in response.text
    assert upstream.requests == []


def test_without_a_pin_flac_goes_to_the_provider_that_takes_it(
    sounds: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """flac to the audio model unpinned narrows the route to Azure, which takes OpenRouter's formats."""
    request = audio_request(_b64(sounds["flac"]), fmt="flac", model=AUDIO_MODEL)
    assert local_router.check(request).diagnostics == []
    assert _post(local_router, upstream, request).status_code == 200
    assert upstream.requests[-1].json()["provider"] == {"only": ["azure"]}
    assert upstream.requests[-1].summary["parts"] == [_accepted(sounds["flac"], "flac")]


@pytest.mark.parametrize("as_url", [False, True])
def test_fit_transcodes_audio_into_a_format_the_route_takes(
    as_url: bool,
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    fitting_router: router.Router,
    upstream: FakeOpenRouter,
    tmp_path: Path,
) -> None:
    """With `Router(fit=True)` the flac bound for OpenAI is transcoded to mp3 or wav, which the upstream takes,
    the whole second of it."""
    data = case_url(served["flac"])[0] if as_url else _b64(sounds["flac"])
    response = _post(fitting_router, upstream, audio_request(data, fmt="flac", model=AUDIO_MODEL, only=["openai"]))
    assert response.status_code == 200, response.text
    ((kind, holder),) = [(p["type"], p["input_audio"]) for p in _sent_audio(upstream)]
    assert (kind, holder["format"]) in {("input_audio", "mp3"), ("input_audio", "wav")}
    assert upstream.requests[-1].summary["provider"] == "openai"
    out = tmp_path / f"sent.{holder['format']}"
    out.write_bytes(base64.b64decode(holder["data"]))
    assert decoded_seconds(out) == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("as_url", [False, True])
def test_audio_to_a_model_without_audio_input_is_refused_before_any_download(
    as_url: bool,
    served: dict[str, str],
    sounds: dict[str, bytes],
    case_url: CaseUrl,
    media_server: MediaServer,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """Audio for a model that takes none is `model-lacks-audio` at `/model`: nothing downloaded, nothing sent."""
    url, target = case_url(served["mp3"])
    request = audio_request(url if as_url else _b64(sounds["wav"]), model=TEXT_ONLY)
    assert [(d.rule, d.kind, d.pointer) for d in local_router.check(request).errors] == [
        ("model-lacks-audio", "audio", "/model")
    ]
    response = _post(local_router, upstream, request)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["rule"] == "model-lacks-audio"
    assert media_server.hits(target) == 0
    assert upstream.requests == []


def test_the_upstream_refuses_what_router_repairs(sounds: dict[str, bytes], upstream: FakeOpenRouter) -> None:
    """Sent without router, the shapes router repairs are refused by the strict upstream: the tests above prove
    a repair, not a lenient fake."""
    wav = _b64(sounds["wav"])
    parts = [
        audio_part("https://example.com/talk.wav", key="audio_url"),
        audio_part("https://example.com/talk.wav"),
        audio_part("data:audio/wav;base64," + wav),
        audio_part(wav, "audio/wav"),
        audio_part(wav, None),
        audio_part(_b64(sounds["mp3"]), "wav"),
        audio_part(base64.encodebytes(sounds["wav"]).decode()),
    ]
    with httpx.Client(headers=AUTH, timeout=30) as client:
        for part in parts:
            request = {"model": GEMINI, "messages": [{"role": "user", "content": [part]}]}
            assert client.post(upstream.chat_url, json=request).status_code == 400, part
        flac = audio_request(_b64(sounds["flac"]), fmt="flac", model=AUDIO_MODEL, only=["openai"])
        assert client.post(upstream.chat_url, json=flac).status_code == 400
