"""File parts get what video parts get: real PDFs (made with pypdf) as data URLs or as URLs on the loopback media
server, judged by page count and encryption per provider, left as URLs where OpenRouter fetches them, inlined with a
filename where it must, split to fit the page limit when asked, and judged again by the strict fake OpenRouter."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from payloads import CLAUDE, GEMINI, file_part, file_request
from pdfclips import make_encrypted_pdf, make_pdf, page_markers
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router._fetch.fetcher import Fetcher
from router._table.capabilities import CapabilityTable
from router.cli import main

CaseUrl = Callable[[str], tuple[str, str]]
AUTH = {"Authorization": "Bearer test", "Content-Type": "application/json"}
FIRST = "/messages/0/content/1"  # the first media part of a payloads.py request
NO_FILES = "openai/gpt-4"  # takes text only; PDFs reach it through OpenRouter's file-parser
PUBLIC = "https://files.invalid/q3/report.pdf"  # a download would fail: `.invalid` never resolves
PDF = "data:application/pdf;base64,"


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real PDFs: 3 pages, 150 pages (over Claude's 100), and 3 pages encrypted (permissions only, and locked by a
    password)."""
    folder = tmp_path_factory.mktemp("pdfs")
    return {
        "small": make_pdf(folder / "small.pdf", 3).read_bytes(),
        "long": make_pdf(folder / "long.pdf", 150).read_bytes(),
        "encrypted": make_encrypted_pdf(folder / "encrypted.pdf", 3, user_password="").read_bytes(),
        "locked": make_encrypted_pdf(folder / "locked.pdf", 3).read_bytes(),
    }


@pytest.fixture(scope="module")
def served(media_server: MediaServer, pdfs: dict[str, bytes]) -> dict[str, str]:
    """The PDFs on the media server, by name."""
    return {name: media_server.serve_file(f"{name}.pdf", data, "application/pdf") for name, data in pdfs.items()}


def _data_url(raw: bytes) -> str:
    return PDF + base64.b64encode(raw).decode()


def _post(r: router.Router, upstream: FakeOpenRouter, request: dict[str, Any]) -> httpx.Response:
    with httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=30) as client:
        return client.post(upstream.chat_url, json=request)


def _sent(upstream: FakeOpenRouter, field: str = "messages") -> list[Any]:
    """The media parts of the last request the upstream received, whole; its body arrived as long as it said."""
    seen = upstream.requests[-1]
    assert seen.content_length == seen.body_size
    return list(seen.json()[field][0]["content"][1:])


def _accepted(raw: bytes) -> dict[str, Any]:
    """The upstream's summary of a PDF it took inline."""
    return {"kind": "file", "mime": "application/pdf", "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


@pytest.fixture
def splitting_router(table: CapabilityTable) -> Iterator[router.Router]:
    """A router that splits media over the route's limits (`fit="split"`) and may fetch from loopback."""
    with Fetcher(allow_private_urls=True) as fetcher:
        yield router.Router(table, fetcher=fetcher, fit="split")


# -- pages ----------------------------------------------------------------------------------------------------


def test_a_pdf_over_the_page_limit_is_too_large_without_fit(
    pdfs: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """150 pages to Claude pinned to Anthropic is `too-large` (pages, kind `file`) with the fit hint; nothing is
    sent, and a fitting router that may not split refuses it too."""
    request = file_request(_data_url(pdfs["long"]), only=["anthropic"])
    (finding,) = local_router.check(request).diagnostics
    assert (finding.rule, finding.kind, finding.pointer) == ("too-large", "file", f"{FIRST}/file/file_data")
    assert "up to 100 pages; this one has 150" in finding.message
    assert finding.fit
    assert _post(local_router, upstream, request).json()["error"]["metadata"]["rule"] == "too-large"
    with router.Router(local_router.table, fit=True) as fitting:
        assert _post(fitting, upstream, request).status_code == 400
    assert upstream.requests == []


def test_fit_split_sends_consecutive_parts_within_the_page_limit(
    pdfs: dict[str, bytes], splitting_router: router.Router, upstream: FakeOpenRouter, tmp_path: Path
) -> None:
    """With `Router(fit="split")` the 150 pages go to Anthropic as two file parts of at most 100 pages each,
    every page once and in order, named after the caller's file; the upstream takes both."""
    response = _post(splitting_router, upstream, file_request(_data_url(pdfs["long"]), only=["anthropic"]))
    assert response.status_code == 200, response.text
    parts = _sent(upstream)
    assert [p["file"]["filename"] for p in parts] == ["report-part1of2.pdf", "report-part2of2.pdf"]
    markers = []
    for i, part in enumerate(parts):
        assert part["type"] == "file"
        assert part["file"]["file_data"].startswith(PDF)
        path = tmp_path / f"part{i}.pdf"
        path.write_bytes(base64.b64decode(part["file"]["file_data"].removeprefix(PDF)))
        markers.append(page_markers(path))
    assert all(len(m) <= 100 for m in markers)
    assert [n for m in markers for n in m] == list(range(150))
    assert [p["kind"] for p in upstream.requests[-1].summary["parts"]] == ["file", "file"]


def test_cli_check_places_the_page_limit_finding(
    pdfs: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`router check --format json` reports the long PDF as `too-large` of kind `file` at its line and column."""
    path = tmp_path / "req.json"
    path.write_text(json.dumps(file_request(_data_url(pdfs["long"]), only=["anthropic"]), indent=2))
    assert main(["check", "--offline", "--format", "json", str(path)]) == 1
    (d,) = json.loads(capsys.readouterr().out)["diagnostics"]
    text = path.read_text()
    at = text.index('"data:application/pdf')
    assert (d["rule"], d["kind"], d["pointer"]) == ("too-large", "file", f"{FIRST}/file/file_data")
    assert (d["line"], d["column"]) == (text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))


# -- URLs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "only"), [(GEMINI, None), ("openai/gpt-4o", None), (CLAUDE, ["anthropic"])])
def test_a_pdf_url_stays_a_url_where_openrouter_fetches_it(
    model: str, only: list[str] | None, strict_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A public PDF URL to a route that fetches it is checked clean, never downloaded (its host does not even
    resolve), and reaches the upstream as the URL it was."""
    request = file_request(PUBLIC, model=model, only=only)
    assert strict_router.check(request).diagnostics == []
    response = _post(strict_router, upstream, request)
    assert response.status_code == 200, response.text
    assert _sent(upstream) == request["messages"][0]["content"][1:]
    assert upstream.requests[-1].summary["parts"] == [{"kind": "file", "url": PUBLIC}]


@pytest.mark.parametrize(("filename", "sent_as"), [(None, "small.pdf"), ("Q3 report.pdf", "Q3 report.pdf")])
def test_a_localhost_pdf_url_is_inlined_with_a_filename(
    filename: str | None,
    sent_as: str,
    served: dict[str, str],
    pdfs: dict[str, bytes],
    case_url: CaseUrl,
    media_server: MediaServer,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """With private URLs allowed, a loopback PDF URL (which no provider can reach) is downloaded once and sent as
    a data URL, under the part's filename or, when it has none, the URL's."""
    url, target = case_url(served["small"])
    request = file_request(url, filename=filename, only=["anthropic"])
    [(rule, kind)] = [(d.rule, d.kind) for d in local_router.check(request).diagnostics]
    assert (rule, kind) == ("url-needs-inline", "file")
    assert _post(local_router, upstream, request).status_code == 200
    assert _sent(upstream) == [{"type": "file", "file": {"filename": sent_as, "file_data": _data_url(pdfs["small"])}}]
    assert upstream.requests[-1].summary["parts"] == [_accepted(pdfs["small"])]
    assert media_server.hits(target) == 1


@pytest.mark.parametrize("key", ["file_url", "fileData"])
def test_an_inlined_file_goes_under_file_data_however_its_key_was_spelt(
    key: str,
    served: dict[str, str],
    pdfs: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """A chat file part that holds its URL under `file_url` or `fileData` (a body the transport must not pass
    through unread) is sent inline under the documented `file_data`, never under a key the API does not read."""
    url, _ = case_url(served["small"])
    request = file_request(url, model=GEMINI)
    request["messages"][0]["content"][1]["file"] = {"filename": "q3.pdf", key: url}
    assert _post(local_router, upstream, request).status_code == 200
    assert _sent(upstream) == [{"type": "file", "file": {"filename": "q3.pdf", "file_data": _data_url(pdfs["small"])}}]


def test_a_localhost_pdf_url_is_blocked_by_default(
    served: dict[str, str],
    case_url: CaseUrl,
    media_server: MediaServer,
    strict_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """Without `allow_private_urls` a loopback PDF URL is `blocked-url`: no download, nothing sent."""
    url, target = case_url(served["small"])
    request = file_request(url, model=GEMINI)
    assert [(d.rule, d.kind) for d in strict_router.check(request).diagnostics] == [("blocked-url", "file")]
    assert _post(strict_router, upstream, request).json()["error"]["metadata"]["rule"] == "blocked-url"
    assert media_server.hits(target) == 0
    assert upstream.requests == []


# -- models without file input --------------------------------------------------------------------------------


def test_a_non_pdf_file_to_a_model_without_file_input_is_refused(
    strict_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """A text/plain file for a text-only model is `model-lacks-file`: the file-parser reads PDFs only."""
    request = file_request("data:text/plain;base64," + base64.b64encode(b"minutes\n").decode(), model=NO_FILES)
    assert [(d.rule, d.kind, d.pointer) for d in strict_router.check(request).diagnostics] == [
        ("model-lacks-file", "file", "/model")
    ]
    assert _post(strict_router, upstream, request).status_code == 400
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("plugins", "refused"),
    [
        (None, False),
        ([{"id": "file-parser", "pdf": {"engine": "pdf-text"}}], False),
        ([{"id": "file-parser", "pdf": {"engine": "native"}}], True),
    ],
)
def test_a_pdf_to_a_model_without_file_input_goes_to_the_file_parser_unless_native(
    plugins: list[Any] | None,
    refused: bool,
    pdfs: dict[str, bytes],
    strict_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """A PDF for a text-only model is no finding (OpenRouter's file-parser reads it) and the upstream takes it;
    asking for the `native` engine makes it `model-lacks-file`, and nothing is sent."""
    extra = {"plugins": plugins} if plugins else {}
    request = file_request(_data_url(pdfs["small"]), model=NO_FILES, **extra)
    rules = [d.rule for d in strict_router.check(request).diagnostics]
    assert rules == (["model-lacks-file"] if refused else [])
    response = _post(strict_router, upstream, request)
    assert response.status_code == (400 if refused else 200), response.text
    assert len(upstream.requests) == (0 if refused else 1)


# -- encryption -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["encrypted", "locked"])
def test_claude_takes_no_encrypted_pdf_on_any_provider(
    name: str, pdfs: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """An encrypted PDF (permissions only, or a password) for Claude is `unsupported-format` with every
    provider's reason, and nothing is sent; the upstream itself refuses it from a caller without router."""
    request = file_request(_data_url(pdfs[name]))
    (finding,) = local_router.check(request).diagnostics
    assert (finding.rule, finding.kind, finding.fit) == ("unsupported-format", "file", False)
    assert set(finding.reasons) == {"anthropic", "amazon-bedrock", "google-vertex"}
    assert all("encrypted PDFs" in why for why in finding.reasons.values())
    assert _post(local_router, upstream, request).status_code == 400
    assert upstream.requests == []
    direct = httpx.post(upstream.chat_url, json=file_request(_data_url(pdfs[name]), only=["anthropic"]), headers=AUTH)
    assert direct.status_code == 400
    assert "encrypted" in direct.json()["error"]["message"]


def test_an_encrypted_pdf_url_is_refused_once_its_bytes_say_so(
    served: dict[str, str],
    case_url: CaseUrl,
    splitting_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """A downloaded PDF that turns out encrypted is refused for Claude on Anthropic, even by a router that may
    split PDFs: router never removes encryption."""
    url, _ = case_url(served["encrypted"])
    response = _post(splitting_router, upstream, file_request(url, only=["anthropic"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["metadata"]["rule"] == "unsupported-format"
    assert "anthropic does not accept encrypted PDFs" in error["message"]
    assert upstream.requests == []


def test_gemini_takes_an_encrypted_pdf(
    pdfs: dict[str, bytes], local_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """Only the providers that say so refuse encryption: Gemini gets the permissions-only PDF as it is."""
    request = file_request(_data_url(pdfs["encrypted"]), model=GEMINI)
    assert local_router.check(request).diagnostics == []
    assert _post(local_router, upstream, request).status_code == 200
    assert upstream.requests[-1].summary["parts"] == [_accepted(pdfs["encrypted"])]


# -- the Responses API ----------------------------------------------------------------------------------------


def _responses(r: router.Router, upstream: FakeOpenRouter, request: dict[str, Any]) -> Any:
    http = httpx.Client(transport=router.RouterTransport(r))
    with openai.OpenAI(base_url=upstream.base_url, api_key="t", http_client=http, max_retries=0) as client:
        return client.responses.create(**request)


def test_responses_input_file_url_is_inlined_as_file_data(
    served: dict[str, str],
    pdfs: dict[str, bytes],
    case_url: CaseUrl,
    local_router: router.Router,
    upstream: FakeOpenRouter,
) -> None:
    """An `input_file` item whose `file_url` no provider can reach goes to `/responses` as `file_data` holding the
    PDF, with the URL's file name."""
    url, _ = case_url(served["small"])
    reply = _responses(local_router, upstream, file_request(url, api="responses", key="file_url", filename=None))
    assert json.loads(reply.output_text)["parts"] == [_accepted(pdfs["small"])]
    assert upstream.requests[-1].path == "/api/v1/responses"
    assert _sent(upstream, "input") == [
        {"type": "input_file", "filename": "small.pdf", "file_data": _data_url(pdfs["small"])}
    ]


@pytest.mark.parametrize(("key", "data"), [("file_data", "small"), ("file_url", PUBLIC)])
def test_responses_input_file_goes_as_written_when_the_route_takes_it(
    key: str, data: str, pdfs: dict[str, bytes], strict_router: router.Router, upstream: FakeOpenRouter
) -> None:
    """An `input_file` with a PDF's data URL, or with a public `file_url` for Gemini, reaches `/responses` as it
    was written."""
    value = _data_url(pdfs[data]) if data in pdfs else data
    request = file_request(value, api="responses", key=key, model=GEMINI)
    _responses(strict_router, upstream, request)
    assert _sent(upstream, "input") == [file_part(value, api="responses", key=key)]
    assert upstream.requests[-1].status == 200
