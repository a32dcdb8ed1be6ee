"""Image parts get what video parts get, through every door: real images made here (Pillow), checked against the
providers' image rules, inlined where a provider will not fetch, fitted with ``fit`` (downscaled, converted,
turned upright, metadata dropped), and judged again by the strict fake upstream on loopback."""

from __future__ import annotations

import base64
import io
import json
import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jsonschema
import openai
import pytest
from imageclips import BLUE, RED, exif_block, heif_support, image_bytes, picture
from payloads import CLAUDE, image_request
from PIL import Image
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router.cli import main
from router.serve import make_server
from router.transport import Httpx2RouterTransport

AUTH = {"Authorization": "Bearer test"}
SARIF_SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
NO_HEIC = heif_support()
MIB5 = 5 * 2**20  # Anthropic's cap on one image's base64
GROK = "x-ai/grok-4.3"  # takes images, served by xai only (JPEG and PNG)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def sent_images(body: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(MIME type, bytes) of every inline image in a chat request as the upstream received it."""
    parts = [p for m in body["messages"] for p in m["content"] if p.get("type") == "image_url"]
    found = []
    for part in parts:
        head, _, payload = part["image_url"]["url"].partition(",")
        found.append((head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(payload)))
    return found


def _near(colour: Any, expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=False))


def _client(r: router.Router) -> httpx.Client:
    return httpx.Client(transport=router.RouterTransport(r), headers=AUTH, timeout=60)


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real 1950x1300 PNG of grain, about 7 MB: 9.2 MB of base64, over Anthropic's 5 MiB per image."""
    buffer = io.BytesIO()
    picture((1950, 1300), noise=90).save(buffer, "PNG")
    data = buffer.getvalue()
    assert 6.5e6 < len(data) < 7.5e6
    return data


@pytest.fixture(scope="module")
def turned_jpeg() -> bytes:
    """A 2400x1600 photo stored turned a quarter (EXIF Orientation 6 says how to show it upright) with a comment
    (a camera serial), 4.3 MB: its base64 is over 5 MiB."""
    stored = picture((2400, 1600), noise=90).transpose(Image.Transpose.ROTATE_90)
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=98, exif=exif_block(6), comment=b"serial 1234")
    data = buffer.getvalue()
    assert len(base64.b64encode(data)) > MIB5
    return data


@pytest.fixture
def fitting() -> Iterator[router.Router]:
    """A router that fits media to the route, allowed to fetch from loopback."""
    with router.Fetcher(allow_private_urls=True) as fetcher:
        yield router.Router(fetcher=fetcher, fit=True)


@pytest.fixture
def serve(media_server: MediaServer) -> Callable[..., tuple[str, str]]:
    """``serve(data, suffix, mime)`` -> (URL, target): the bytes on the media server under a name of their own."""

    def put(data: bytes, suffix: str = "png", mime: str = "image/png") -> tuple[str, str]:
        target = media_server.serve_file(f"{uuid.uuid4().hex[:10]}.{suffix}", data, mime)
        return media_server.url(target), target

    return put


# -- too large for Claude: refused without fit, fitted with it -----------------------------------------------


def test_a_7_mb_png_is_too_large_for_claude_and_never_leaves(
    big_png: bytes, upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """A 7 MB PNG data URL pinned to `anthropic` is `too-large` (5 MiB of base64) with the fit hint: `check`
    says so, `rewrite` raises, the transport answers 400 and the upstream sees nothing."""
    request = image_request(data_url(big_png), only=["anthropic"])
    (d,) = local_router.check(request).errors
    assert (d.rule, d.kind, d.pointer, d.fit) == ("too-large", "image", "/messages/0/content/1/image_url/url", True)
    assert "5,242,880 bytes of base64" in d.message
    assert "--fit" in (d.fix or "")
    with pytest.raises(router.RequestRejected):
        local_router.rewrite(request)
    with _client(local_router) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["rule"] == "too-large"
    assert upstream.requests == []


def test_a_7_mb_png_is_fitted_for_claude(big_png: bytes, upstream: FakeOpenRouter, fitting: router.Router) -> None:
    """With fit, the 7 MB PNG goes out within Anthropic's 5 MiB of base64, its aspect kept, and the strict upstream
    takes it from `anthropic`."""
    request = image_request(data_url(big_png), only=["anthropic"])
    with _client(fitting) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    received = upstream.requests[-1]
    assert received.summary["provider"] == "anthropic"
    ((mime, data),) = sent_images(received.json())
    assert len(base64.b64encode(data)) <= MIB5
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == mime.split("/")[1].upper()
        assert img.width / img.height == pytest.approx(1.5, abs=0.01)
    assert received.json()["provider"] == {"only": ["anthropic"]}


def test_a_7_mb_png_url_is_downloaded_then_refused_or_fitted(
    big_png: bytes, serve: Callable[..., tuple[str, str]], media_server: MediaServer, upstream: FakeOpenRouter
) -> None:
    """The same PNG on the (loopback) media server, pinned to `anthropic`: it must be inlined, is `too-large`
    once downloaded, and with fit reaches the upstream within 5 MiB of base64."""
    url, target = serve(big_png)
    request = image_request(url, only=["anthropic"])
    with router.Router(allow_private_urls=True) as plain, pytest.raises(router.RequestRejected) as caught:
        plain.rewrite(request)
    (d,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert (d.rule, d.kind, d.fit) == ("too-large", "image", True)
    assert "3,932,160-byte cap" in d.message  # 5 MiB of base64: the download stopped there
    assert "--fit" in (d.fix or "")
    with router.Router(allow_private_urls=True, fit=True) as fits, _client(fits) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    ((_, data),) = sent_images(upstream.requests[-1].json())
    assert len(base64.b64encode(data)) <= MIB5
    with Image.open(io.BytesIO(data)) as img:
        assert img.width / img.height == pytest.approx(1.5, abs=0.01)
    assert media_server.hits(target) == 2  # once by each router: a download over the cap is never kept


def test_a_turned_photo_is_fitted_upright_without_its_metadata(
    turned_jpeg: bytes, upstream: FakeOpenRouter, fitting: router.Router
) -> None:
    """A phone photo over 5 MiB of base64, stored turned with EXIF Orientation 6, reaches Claude upright (red
    corner top-left, blue bottom-right, landscape) with no EXIF and no comment left in it."""
    with _client(fitting) as client:
        response = client.post(upstream.chat_url, json=image_request(data_url(turned_jpeg, "image/jpeg")))
    assert response.status_code == 200, response.text
    ((mime, data),) = sent_images(upstream.requests[-1].json())
    assert mime == "image/jpeg"
    assert b"Exif" not in data
    assert b"serial 1234" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert not img.getexif()
        rgb = img.convert("RGB")
    assert rgb.size == (2400, 1600)
    assert _near(rgb.getpixel((20, 20)), RED)
    assert _near(rgb.getpixel((2380, 1580)), BLUE)


# -- where the image comes from: loopback, https, and who fetches it ---------------------------------------


def test_a_localhost_image_url_is_inlined_only_when_allowed(
    serve: Callable[..., tuple[str, str]], upstream: FakeOpenRouter, strict_router: router.Router
) -> None:
    """An image on localhost is `blocked-url` by default; with `allow_private_urls` it is downloaded and sent
    inline (no provider could reach it), even to `anthropic`, which fetches URLs."""
    png = image_bytes("png")
    url, _ = serve(png)
    request = image_request(url, only=["anthropic"])
    (d,) = strict_router.check(request).errors
    assert (d.rule, d.kind) == ("blocked-url", "image")
    with router.Router(allow_private_urls=True) as allowed, _client(allowed) as client:
        assert client.post(upstream.chat_url, json=request).status_code == 200
    assert sent_images(upstream.requests[-1].json()) == [("image/png", png)]


@pytest.fixture
def public(tls_media_server: MediaServer) -> Iterator[tuple[router.Fetcher, Callable[..., tuple[str, str]]]]:
    """A fetcher that resolves ``media.test`` to the TLS media server and trusts its certificate, and
    ``put(data, suffix, mime)`` -> (an https URL on ``media.test``, its target): a public-looking URL the tests
    can count hits of."""
    assert tls_media_server.cafile is not None
    trust = ssl.create_default_context(cafile=str(tls_media_server.cafile))

    def resolve(host: str, port: int) -> list[str]:
        assert host == "media.test"
        return ["127.0.0.1"]

    def put(data: bytes, suffix: str = "png", mime: str = "image/png") -> tuple[str, str]:
        target = tls_media_server.serve_file(f"{uuid.uuid4().hex[:10]}.{suffix}", data, mime)
        return tls_media_server.url(target, host="media.test"), target

    with router.Fetcher(allow_private_urls=True, resolver=resolve, verify=trust) as fetcher:
        yield fetcher, put


def test_an_https_image_stays_a_url_where_the_provider_fetches_it(
    public: tuple[router.Fetcher, Callable[..., tuple[str, str]]],
    tls_media_server: MediaServer,
    upstream: FakeOpenRouter,
) -> None:
    """Pinned to `anthropic` (which fetches image URLs) an https image goes out as the URL, never downloaded;
    pinned to `amazon-bedrock` (base64 only) it is downloaded and inlined, and the upstream takes both."""
    fetcher, put = public
    r = router.Router(fetcher=fetcher)
    png = image_bytes("png")
    url, target = put(png)
    with _client(r) as client:
        assert client.post(upstream.chat_url, json=image_request(url, only=["anthropic"])).status_code == 200
        assert upstream.requests[-1].summary["parts"] == [{"kind": "image", "url": url}]
        assert tls_media_server.hits(target) == 0
        response = client.post(upstream.chat_url, json=image_request(url, only=["amazon-bedrock"]))
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].summary["provider"] == "amazon-bedrock"
    assert sent_images(upstream.requests[-1].json()) == [("image/png", png)]
    assert tls_media_server.hits(target) == 1


def test_without_a_pin_the_route_stays_wide_and_the_image_goes_inline(
    public: tuple[router.Fetcher, Callable[..., tuple[str, str]]],
    tls_media_server: MediaServer,
    upstream: FakeOpenRouter,
) -> None:
    """Unpinned, Claude's route keeps every provider (the request's `provider` field is left as written, here
    absent) and the image is inlined, because Bedrock and Vertex on that route take base64 only."""
    fetcher, put = public
    r = router.Router(fetcher=fetcher)
    png = image_bytes("png")
    url, target = put(png)
    (warning,) = r.check(image_request(url)).diagnostics
    assert (warning.rule, warning.kind) == ("url-needs-inline", "image")
    with _client(r) as client:
        assert client.post(upstream.chat_url, json=image_request(url)).status_code == 200
    sent = upstream.requests[-1].json()
    assert "provider" not in sent
    assert sent_images(sent) == [("image/png", png)]
    assert tls_media_server.hits(target) == 1


# -- formats: converted with fit, spelt as documented, and what the bytes really are ------------------------


@pytest.mark.parametrize(
    ("suffix", "mime"),
    [
        pytest.param("heic", "image/heic", marks=pytest.mark.skipif(NO_HEIC is not None, reason=f"{NO_HEIC}")),
        ("tif", "image/tiff"),
        ("bmp", "image/bmp"),
    ],
)
def test_formats_openrouter_refuses_are_converted_with_fit(
    suffix: str, mime: str, upstream: FakeOpenRouter, strict_router: router.Router, fitting: router.Router
) -> None:
    """A HEIC, TIFF or BMP data URL is `unsupported-format` with the fit hint, and with fit reaches the upstream
    converted into a format it takes, at the same pixel size."""
    request = image_request(data_url(image_bytes(suffix), mime))
    (d,) = strict_router.check(request).errors
    assert (d.rule, d.kind, d.fit) == ("unsupported-format", "image", True)
    assert "--fit" in (d.fix or "")
    with _client(fitting) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    ((sent, data),) = sent_images(upstream.requests[-1].json())
    assert sent in ("image/jpeg", "image/png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (96, 64)


def test_xai_takes_jpeg_and_png_only(
    public: tuple[router.Fetcher, Callable[..., tuple[str, str]]],
    tls_media_server: MediaServer,
    upstream: FakeOpenRouter,
) -> None:
    """Grok on xAI takes JPEG and PNG only: a WebP data URL, and a `.webp` URL xAI would fetch itself, are
    `unsupported-format` with the fit hint; with fit both reach the upstream converted, the URL downloaded."""
    fetcher, put = public
    webp = image_bytes("webp")
    url, target = put(webp, "webp", "image/webp")
    request = image_request(data_url(webp, "image/webp"), url, model=GROK)
    found = router.Router(fetcher=fetcher).check(request).errors
    assert [(d.rule, d.pointer, d.fit) for d in found] == [
        ("unsupported-format", "/messages/0/content/1/image_url/url", True),
        ("unsupported-format", "/messages/0/content/2/image_url/url", True),
    ]
    assert "xai does not accept image/webp" in found[1].message
    with _client(router.Router(fetcher=fetcher, fit=True)) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].summary["provider"] == "xai"
    assert [mime for mime, _ in sent_images(upstream.requests[-1].json())] == ["image/jpeg"] * 2
    assert tls_media_server.hits(target) == 1


def test_an_image_jpg_data_url_is_fixed_and_sent_as_image_jpeg(
    tmp_path: Path, upstream: FakeOpenRouter, strict_router: router.Router
) -> None:
    """`data:image/jpg` is the fixable `mime-alias`: `router check --fix` writes `image/jpeg` in the file, and
    the transport sends it as `image/jpeg`, which the strict upstream takes."""
    jpeg = image_bytes("jpg")
    request = image_request(data_url(jpeg, "image/jpg"))
    (d,) = strict_router.check(request).diagnostics
    assert (d.rule, d.severity, d.kind) == ("mime-alias", "warning", "image")
    path = tmp_path / "alias.json"
    original = json.dumps(request, indent=2)
    path.write_text(original)
    assert main(["check", "--offline", "--fix", str(path)]) == 0
    assert path.read_text() == original.replace("data:image/jpg;", "data:image/jpeg;")
    with _client(strict_router) as client:
        assert client.post(upstream.chat_url, json=request).status_code == 200
    assert sent_images(upstream.requests[-1].json()) == [("image/jpeg", jpeg)]


def test_bytes_that_are_not_what_they_say_are_format_mismatch(strict_router: router.Router) -> None:
    """A data URL declared PNG holding a JPEG, and a PNG cut short, are `format-mismatch`: never sent."""
    jpeg_as_png = image_request(data_url(image_bytes("jpg"), "image/png"))
    (d,) = strict_router.check(jpeg_as_png).errors
    assert (d.rule, d.kind) == ("format-mismatch", "image")
    assert "image/jpeg" in d.message
    png = image_bytes("png", (300, 200))
    (cut,) = strict_router.check(image_request(data_url(png[: len(png) // 2]))).errors
    assert (cut.rule, cut.kind) == ("format-mismatch", "image")
    assert "truncated" in cut.message


# -- many images ------------------------------------------------------------------------------------------


def test_more_than_20_images_lower_claudes_pixel_cap(upstream: FakeOpenRouter, fitting: router.Router) -> None:
    """21 images, one of them 2400 px wide: `too-large` for Claude (2000 px a side past 20 images), and with fit
    that one is downscaled to 2000 px and all 21 reach the upstream."""
    small = data_url(image_bytes("png", (64, 64)))
    wide = image_bytes("png", (2400, 1200))
    request = image_request(*[small] * 20, data_url(wide), only=["anthropic"])
    (d,) = router.Router().check(request).errors
    assert (d.rule, d.kind, d.fit) == ("too-large", "image", True)
    assert "more than 20 images" in d.message
    with _client(fitting) as client:
        response = client.post(upstream.chat_url, json=request)
    assert response.status_code == 200, response.text
    images = sent_images(upstream.requests[-1].json())
    assert len(images) == 21
    with Image.open(io.BytesIO(images[-1][1])) as img:
        assert img.size == (2000, 1000)


def test_bedrock_takes_at_most_20_images(strict_router: router.Router) -> None:
    """21 small images pinned to `amazon-bedrock` are `too-large` by count (20 per request)."""
    small = data_url(image_bytes("png", (64, 64)))
    (d,) = strict_router.check(image_request(*[small] * 21, only=["amazon-bedrock"])).errors
    assert (d.rule, d.kind, d.pointer) == ("too-large", "image", "/messages")
    assert "at most 20 images" in d.message


def test_fifty_image_urls_that_need_nothing_go_out_byte_for_byte(
    public: tuple[router.Fetcher, Callable[..., tuple[str, str]]],
    tls_media_server: MediaServer,
    upstream: FakeOpenRouter,
) -> None:
    """50 https image URLs pinned to `anthropic`, which fetches them: every part is judged (the same body is over
    Bedrock's count), yet nothing is downloaded and the upstream receives exactly the caller's bytes."""
    fetcher, put = public
    r = router.Router(fetcher=fetcher)
    url, target = put(image_bytes("png"))
    urls = [f"{url}?i={i}" for i in range(50)]
    body = json.dumps(image_request(*urls, only=["anthropic"]), indent=1).encode()
    assert r.check(body).diagnostics == []
    (d,) = r.check(image_request(*urls), provider="amazon-bedrock").errors
    assert "at most 20 images per request; this one has 50" in d.message
    with _client(r) as client:
        response = client.post(upstream.chat_url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert upstream.requests[-1].body == body
    assert len(upstream.requests[-1].summary["parts"]) == 50
    assert sum(tls_media_server.hits(f"{target}?i={i}") for i in range(50)) == 0


# -- every door -------------------------------------------------------------------------------------------


def test_a_responses_input_image_is_inlined_for_bedrock(
    serve: Callable[..., tuple[str, str]], upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """An `input_image` item (`image_url` a URL string) in a Responses request is inlined as a data URL string,
    like a chat part, and the upstream takes it at /responses."""
    png = image_bytes("png")
    url, _ = serve(png)
    http = httpx.Client(transport=router.RouterTransport(local_router))
    client = openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)
    pinned = {"provider": {"only": ["amazon-bedrock"]}}
    reply = client.responses.create(**image_request(url, api="responses"), extra_body=pinned)
    assert json.loads(reply.output_text)["provider"] == "amazon-bedrock"
    received = upstream.requests[-1]
    assert received.path == "/api/v1/responses"
    item = received.json()["input"][0]["content"][1]
    assert item == {"type": "input_image", "image_url": data_url(png)}


def test_the_openai_sdk_on_httpx2_sends_an_image_part(
    big_png: bytes, upstream: FakeOpenRouter, fitting: router.Router
) -> None:
    """The openai SDK on the httpx2 twin: an `image_url` part too large for Claude raises BadRequestError
    without fit, and with fit reaches the upstream within the limit."""
    messages: Any = image_request(data_url(big_png))["messages"]

    def sdk(r: router.Router) -> openai.OpenAI:
        http: Any = httpx2.Client(transport=Httpx2RouterTransport(r))
        return openai.OpenAI(base_url=upstream.base_url, api_key="test", http_client=http, max_retries=0)

    pinned = {"provider": {"only": ["anthropic"]}}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(router.Router()).chat.completions.create(model=CLAUDE, messages=messages, extra_body=pinned)
    assert caught.value.body["metadata"]["rule"] == "too-large"  # type: ignore[index]
    assert upstream.requests == []
    reply = sdk(fitting).chat.completions.create(model=CLAUDE, messages=messages, extra_body=pinned)
    assert json.loads(reply.choices[0].message.content or "")["provider"] == "anthropic"
    ((_, data),) = sent_images(upstream.requests[-1].json())
    assert len(base64.b64encode(data)) <= MIB5


def test_the_proxy_inlines_an_image_for_bedrock(
    serve: Callable[..., tuple[str, str]], upstream: FakeOpenRouter, local_router: router.Router
) -> None:
    """`router serve` (in a thread) inlines a loopback image for Claude pinned to Bedrock; a HEIC-declared data
    URL without fit is refused there with a 400 the SDK raises."""
    png = image_bytes("png")
    url, _ = serve(png)
    with make_server(local_router, "127.0.0.1", 0, upstream.base_url, api_key="") as server:
        client = openai.OpenAI(base_url=server.url + "/api/v1", api_key="sk-test", max_retries=0, timeout=30)
        messages: Any = image_request(url)["messages"]
        client.chat.completions.create(
            model=CLAUDE, messages=messages, extra_body={"provider": {"only": ["amazon-bedrock"]}}
        )
        assert upstream.requests[-1].summary["provider"] == "amazon-bedrock"
        assert sent_images(upstream.requests[-1].json()) == [("image/png", png)]
        bmp: Any = image_request(data_url(image_bytes("bmp"), "image/bmp"))["messages"]
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=CLAUDE, messages=bmp)
    assert caught.value.body["metadata"]["rule"] == "unsupported-format"  # type: ignore[index]
    assert len(upstream.requests) == 1


def test_check_places_image_findings_in_json_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`router check` names image findings by file, line, column, pointer and kind "image" in `--format json`, a
    batch JSONL line included, and its `--format sarif` stays schema-valid."""
    single = tmp_path / "image.json"
    single.write_text(json.dumps(image_request("http://127.0.0.1/cat.png"), indent=2))
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
            "body": image_request("data:image/png;base64,iVBORw0K", only=["anthropic"])}  # fmt: skip
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"custom_id": "0", "body": image_request()}) + "\n" + json.dumps(line) + "\n")
    assert main(["check", "--offline", "--format", "json", str(single), str(batch)]) == 1
    found = [
        (Path(d["file"]).name, d["line"], d["column"] > 1, d["rule"], d["kind"], d["pointer"])
        for d in json.loads(capsys.readouterr().out)["diagnostics"]
    ]
    assert found == [
        ("image.json", 14, True, "blocked-url", "image", "/messages/0/content/1/image_url/url"),
        ("batch.jsonl", 2, True, "format-mismatch", "image", "/body/messages/0/content/1/image_url/url"),
    ]
    assert main(["check", "--offline", "--format", "sarif", str(single), str(batch)]) == 1
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(doc)
    assert [r["ruleId"] for r in doc["runs"][0]["results"]] == ["blocked-url", "format-mismatch"]
