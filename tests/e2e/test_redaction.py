"""No record, exception, log line or answer shows a URL's credentials or signature, a data URL's payload or a key:
everything router shows, it shows through ``shorten``."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from clips import data_url
from payloads import video_request
from servers import MediaServer
from upstream import FakeOpenRouter

import router
from router._base.errors import BlockedURL, FetchError, MediaTooLarge, NotAVideo, RequestRejected, UnreachableURL
from router._fetch.fetcher import Fetcher
from router._proxy.settings import ProxySettings
from router._rewrite.outgoing import Refitted
from router._table.catalogue import Catalogue

KEY = "sk-or-v1-k3ysecret"
ACCESS = "acc3sssecret"  # the proxy's access token
SECRETS = ("pa55", "s1gnatur3", "t0kensecret", KEY, ACCESS)
RECORDS = {
    *("Payload", "Prepared", "Checked", "RoutePlan", "PartFacts", "MediaPart", "UrlInfo", "DataUrl", "Media"),
    *("Outgoing", "Inlined", "Routed", "Refitted", "Report", "Diagnostic", "FetchStats", "ProxySettings"),
    "Catalogue",
}


def _signed(media_server: MediaServer, path: str = "/private.mp4") -> str:
    """A URL with credentials, an S3-style signature and a token, that no other test uses."""
    query = f"X-Amz-Signature=s1gnatur3&token=t0kensecret&case={uuid.uuid4().hex[:10]}"
    return media_server.url(f"{path}?{query}").replace("://", "://user:pa55@", 1)


def _payload_piece(clip: str) -> str:
    """Forty characters from the middle of a data URL's payload: what must never be shown."""
    payload = clip.split(",", 1)[1]
    return payload[len(payload) // 2 : len(payload) // 2 + 40]


def _assert_clean(texts: list[str], secrets: tuple[str, ...]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret!r} shown in {text[:300]!r}"


def _records(local_router: router.Router, request: dict[str, Any], url: str) -> Iterator[object]:
    """Every kind of record router makes, made by real work on ``request`` (one real, credentialed download)."""
    [payload] = local_router.payloads(json.dumps(request).encode())
    prepared = local_router.prepare(payload)
    settled = local_router.download(prepared)
    outgoing = local_router.outgoing(payload)
    yield from (payload, prepared, settled, prepared.checked, prepared.plan, outgoing, *outgoing.notes)
    for facts in prepared.checked.parts:
        yield from (facts, facts.part, facts.info, facts.data)
    yield from settled.media.values()
    yield local_router.check(request)
    yield from local_router.check(request).diagnostics
    yield local_router.fetcher.stats
    yield router.Diagnostic("unreachable-url", f"{url} failed", reasons={"google-vertex": f"{url} is refused"})
    yield Refitted("/messages/0/content/1", f"remuxed {url}")
    yield ProxySettings(base_url=url, api_key=KEY, access_token=ACCESS)
    yield Catalogue(datetime.now(UTC), url, {})


def _errors(local_router: router.Router, strict: router.Router, request: dict[str, Any], url: str) -> list[Exception]:
    """Every kind of error router raises, most of them raised by real downloads of ``url``."""
    errors: list[Exception] = [FetchError(f"{url}: failed", url=url)]
    with Fetcher() as refusing:
        for call, kind in (
            (lambda: refusing.fetch(url), BlockedURL),
            (lambda: local_router.fetcher.fetch(url.replace("/private.mp4", "/clip.mp4"), max_bytes=10), MediaTooLarge),
            (lambda: local_router.fetcher.fetch(url.replace("/private.mp4", "/page.mp4")), NotAVideo),
            (lambda: local_router.fetcher.fetch(url.replace("/private.mp4", "/status/403")), UnreachableURL),
            (lambda: strict.outgoing(request), RequestRejected),
        ):
            with pytest.raises(kind) as caught:
                call()
            errors.append(caught.value)
    return errors


def test_no_record_error_or_rejection_shows_a_secret(
    local_router: router.Router,
    strict_router: router.Router,
    media_server: MediaServer,
    upstream: FakeOpenRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every record and error, in ``str``, ``repr``, ``args`` and DEBUG log lines on the ``router`` loggers, and the
    400 a real transport answers, show URLs without credentials or query values and data URLs by their prefix."""
    url, clip = _signed(media_server), data_url("mp4")
    request = video_request(url, clip, only=["google-vertex"])
    secrets = (*SECRETS, _payload_piece(clip))
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger("router"), logging.getLogger("router.access")]
    shown: list[str] = []
    records = [r for r in _records(local_router, request, url) if r is not None]
    assert {type(r).__name__ for r in records} == RECORDS
    for record in records:
        shown += [str(record), repr(record)]
        for log in loggers:
            log.debug("%s | %r", record, record)
    for exc in _errors(local_router, strict_router, request, url):
        shown += [str(exc), repr(exc), repr(exc.args)]
        loggers[0].debug("failed: %s", exc, exc_info=exc)
    with httpx.Client(transport=router.RouterTransport(strict_router), timeout=10) as client:
        answer = client.post(upstream.chat_url, json=request, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 400
    assert answer.json()["error"]["metadata"]["rule"] == "blocked-url"
    assert upstream.requests == []
    shown.append(answer.text)
    assert "user:pa55@" in url  # the secrets were there to be shown
    assert "X-Amz-Signature=s1gnatur3" in url
    _assert_clean([*shown, caplog.text], secrets)


def test_a_credentialed_signed_url_sent_through_the_transport_logs_no_secret(
    local_router: router.Router, media_server: MediaServer, upstream: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """A real request whose video URL carries credentials and a signature is inlined and sent, and nothing logged
    at DEBUG (router's loggers, httpx's, httpcore's) shows them or the caller's key."""
    url = _signed(media_server)
    caplog.set_level(logging.DEBUG)
    with httpx.Client(transport=router.RouterTransport(local_router), timeout=10) as client:
        answer = client.post(
            upstream.chat_url,
            json=video_request(url, only=["google-vertex"]),
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert answer.status_code == 200, answer.text
    assert upstream.requests[-1].summary["videos"][0]["kind"] == "data"
    assert any(r.name == "router" for r in caplog.records)
    _assert_clean([caplog.text], SECRETS)
