"""What a router transport does with one request, free of any HTTP library.

The httpx and httpx2 transports, the requests adapter and the aiohttp middleware are thin adapters over
:func:`route` / :func:`aroute`, which answer one of

- ``None``: send the request as it is (not a chat completion, or no video in it: never parsed);
- :class:`Reply`: answer it here without touching the network (the router rejected it: HTTP 400);
- :class:`Rewrite`: send this body instead (streamed, with its exact ``Content-Length``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._base.errors import BodyTooLarge, RequestRejected
from .._base.rules import Diagnostic
from .._model.body import Body
from .._model.coding import CodingError, decode_body, encodings
from .._model.parts import MARKERS, Api, find_media_parts
from .._model.request import Payload, load_body
from .._report.output import describe
from .._rewrite.outgoing import Outgoing
from .._rewrite.pipeline import Router

__all__ = [
    "EXTENSION",
    "Outcome",
    "Reply",
    "Rewrite",
    "aroute",
    "error_reply",
    "intercepts",
    "mentions_media",
    "outcome",
    "reject",
    "rejection",
    "require",
    "route",
]

# The key under which a transport records what it did in ``response.extensions`` (metrics, access logs).
EXTENSION = "router"

# A media part's key or type (``parts.MARKERS``) as a JSON string, quotes included: one regex search that only
# stops at quotes (a 1.3 KB text request costs about a microsecond). A body without one is forwarded unparsed.
_MARKER = re.compile(rb'"(?:' + b"|".join(map(re.escape, MARKERS)) + rb')"')

# `"vide\u006f_url"` is `"video_url"` to a JSON parser. Encoders escape non-ASCII and control characters (and
# Go's `<>&`), never ASCII letters: a body that escapes one (U to z, `_`) is parsed rather than trusted.
_ESCAPED_LETTER = re.compile(rb"\\u00[5-7][0-9a-fA-F]")
_BIG_BODY = 1 << 20  # bytes: above this, the async path parses off the event loop
_FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding"})
# What the router did to a request, for people: URLs shortened, no keys, no data. Pass-throughs are not logged.
log = logging.getLogger("router")


def require(request: object, expected: type, twin: str) -> None:
    """Fail clearly when a client of the other library is given this transport (httpx vs httpx2).

    ``openai.DefaultHttpxClient`` is an ``httpx2.Client`` in openai 3.x, an easy mix-up.
    """
    if not isinstance(request, expected):
        got, want = type(request).__module__.split(".")[0], expected.__module__.split(".")[0]
        raise TypeError(f"this transport is for {want} clients but got a {got} request: use router.transport.{twin}")


def intercepts(method: str, path: str) -> Api | None:
    """Which API a request is for, when it is one the router looks at: chat-completion and Responses POSTs."""
    if method.upper() != "POST":
        return None
    path = path.rstrip("/")
    return "chat" if path.endswith("/chat/completions") else "responses" if path.endswith("/responses") else None


def mentions_media(body: bytes) -> bool:
    """A cheap byte scan, before any JSON parsing."""
    return _MARKER.search(body) is not None or _ESCAPED_LETTER.search(body) is not None


_OVERLAP = max(len(m) for m in MARKERS) + 2  # and its quotes


def _mentions(body: Body) -> bool:
    """``mentions_media`` over a body in memory or spooled to disk (windows overlap so no marker is split)."""
    if body.in_memory:
        return mentions_media(body.getvalue())
    window = 1 << 20
    return any(mentions_media(body.read(at, window + _OVERLAP)) for at in range(0, body.size, window))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the router did with one request, for whoever counts (``response.extensions["router"]``)."""

    action: Literal["passed", "routed", "rejected"]
    rules: tuple[str, ...] = ()  # the rules of the diagnostics (warnings fixed, or errors that rejected)
    inlined_bytes: int = 0  # media bytes (every kind) downloaded and inlined into the body sent
    providers: tuple[str, ...] | None = None  # provider.only as sent (None: routing left alone)


@dataclass(frozen=True, slots=True)
class Reply:
    """A response made here: the request never reaches the network."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    rules: tuple[str, ...] = ()
    message: str = ""  # the error's message, for clients whose errors carry one (requests, aiohttp)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The rewritten request body; ``headers`` turns the original headers into the ones to send with it."""

    outgoing: Outgoing
    rules: tuple[str, ...] = ()

    def headers(self, original: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The caller's headers (Authorization and all) with the body framing replaced by the exact length.

        httpx keeps a header it already has when a request is rebuilt, so the old ``Content-Length`` (or
        ``Transfer-Encoding``) must go before the new length goes in.
        """
        kept = [(k, v) for k, v in original if k.lower() not in _FRAMING]
        if not any(k.lower() == "content-type" for k, _ in kept):
            kept.append(("Content-Type", "application/json"))
        return [*kept, ("Content-Length", str(self.outgoing.content_length))]


def error_reply(status: int, message: str, metadata: Mapping[str, object] | None = None) -> Reply:
    """An answer in OpenRouter's error shape, ``{"error": {"code", "message", "metadata"}}``."""
    body = {"error": {"code": status, "message": message, "metadata": dict(metadata or {})}}
    headers = [("Content-Type", "application/json"), ("X-Should-Retry", "false")]
    return Reply(status, headers, json.dumps(body).encode(), message=message)


def rejection(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The error object of a rejection, in OpenRouter's vocabulary: ``{"code": 400, "message", "metadata"}``.

    ``metadata`` names the rule and pointer of the first error and, when the finding is about a route, each
    provider's reason, beside every diagnostic. Logged once, on the ``router`` logger.
    """
    log.info("rejected a request: %s", "; ".join(f"{d.rule}: {d.message}" for d in diagnostics))
    first = next((d for d in diagnostics if d.severity == "error"), diagnostics[0] if diagnostics else None)
    metadata: dict[str, object] = {}
    if first is not None:
        metadata = {"rule": first.rule, "pointer": first.pointer}
        if first.reasons:
            metadata["reasons"] = dict(first.reasons)
    metadata["diagnostics"] = [d.to_dict() for d in diagnostics]
    return {"code": 400, "message": str(RequestRejected(diagnostics)), "metadata": metadata}


def reject(diagnostics: list[Diagnostic]) -> Reply:
    """An OpenRouter-shaped 400: SDKs raise their ordinary bad-request error, and never retry a 400."""
    error = rejection(diagnostics)
    reply = error_reply(400, error["message"], error["metadata"])
    rules = tuple(dict.fromkeys(d.rule for d in diagnostics))
    return Reply(reply.status, reply.headers, reply.body, rules, reply.message)


_PASSED = Outcome("passed")


def outcome(decision: Reply | Rewrite | None) -> Outcome:
    if decision is None:
        return _PASSED
    if isinstance(decision, Reply):
        return Outcome("rejected", decision.rules)
    out = decision.outgoing
    providers = tuple(out.providers) if out.providers is not None else None
    return Outcome("routed", decision.rules, sum(m.size for m in out.inlined), providers)


def _rewritten(outgoing: Outgoing, diagnostics: list[Diagnostic]) -> Rewrite:
    log.info("routed a media request: %s", "; ".join(map(describe, outgoing.notes)) or "checked, sent unchanged")
    return Rewrite(outgoing, tuple(dict.fromkeys(d.rule for d in diagnostics)))


def _undecodable(exc: CodingError | BodyTooLarge) -> Reply:
    if isinstance(exc, BodyTooLarge):
        return error_reply(413, f"router: the decompressed request body is over the {exc.limit:,}-byte limit")
    return reject([Diagnostic("invalid-request", f"router cannot read the request body: {exc}")])


def _screen(body: Body | bytes, encoding: str | None, api: Api) -> Payload | Reply | None:
    """The request to route, an answer for a body that cannot be read, or ``None`` to pass it through.

    A compressed body is decoded (bounded) and checked like any other; it is passed through, still
    compressed, only when there is no media in it.
    """
    if isinstance(body, bytes):  # the client's own bytes: the byte scan first, before anything is built
        if not encoding and not mentions_media(body):
            return None
        body = Body.of(body)
    if encoding and encodings(encoding):
        try:
            body = decode_body(body, encoding)
        except (CodingError, BodyTooLarge) as exc:
            return _undecodable(exc)
    if not _mentions(body):
        return None
    payload = load_body(body)
    payload.api = api
    if payload.problems:
        return reject(payload.problems)
    problems: list[Diagnostic] = []
    request = payload.request
    found = isinstance(request, Mapping) and any(find_media_parts(request, problems, payload.holes, api))
    if isinstance(request, Mapping) and not found and not problems:
        return None  # the word appears in text only: nothing to route
    return payload


Headers = Callable[[str], str | None]


def route(
    router: Router, method: str, path: str, read: Callable[[], Body | bytes], header: Headers
) -> Reply | Rewrite | None:
    """Decide for one request; ``read`` (the body, held once) and ``header`` (a request header by name) are
    only called for chat-completion and Responses POSTs: everything else costs one string test."""
    api = intercepts(method, path)
    if api is None:
        return None
    screened = _screen(read(), header("content-encoding"), api)
    if not isinstance(screened, Payload):
        return screened
    try:
        outgoing = router.outgoing(screened)
        return _rewritten(outgoing, outgoing.diagnostics)
    except RequestRejected as exc:
        return reject(exc.diagnostics)


async def aroute(
    router: Router, method: str, path: str, read: Callable[[], Awaitable[Body | bytes]], header: Headers
) -> Reply | Rewrite | None:
    """:func:`route` for event loops: downloads go through the router's async fetcher.

    A big body (inline videos, a compressed body) is scanned and parsed in a worker thread so the loop keeps
    serving others.
    """
    api = intercepts(method, path)
    if api is None:
        return None
    body = await read()
    encoding = header("content-encoding")
    big = len(body) > _BIG_BODY if isinstance(body, bytes) else body.size > _BIG_BODY
    big = big or bool(encoding and encodings(encoding))
    screened = await asyncio.to_thread(_screen, body, encoding, api) if big else _screen(body, encoding, api)
    if not isinstance(screened, Payload):
        return screened
    try:
        outgoing = await router.aoutgoing(screened)
        return _rewritten(outgoing, outgoing.diagnostics)
    except RequestRejected as exc:
        return reject(exc.diagnostics)
