"""A fake OpenRouter on loopback that enforces the provider video rules itself.

It is the strict end of the wire in end-to-end tests: whatever router sends, this server judges on its
own (it imports nothing from ``router``), the way OpenRouter and its providers would.

    with FakeOpenRouter() as upstream:
        client = openai.OpenAI(base_url=upstream.base_url, api_key="test")
        ...
        upstream.requests[-1].summary["provider"]

``POST /api/v1/chat/completions`` and ``POST /api/v1/responses`` (the Responses API: ``input`` messages whose
video items are ``{"type": "input_video", "video_url": "<url>"}``, a URL string; it answers a ``response``
object, or ``response.*`` SSE events when streaming):

- needs ``Authorization: Bearer ...`` (401 otherwise) and a JSON object with a ``messages`` list;
- video parts are ``{"type": "video_url" | "input_video", "video_url": {"url": ...}}``; the SDK spelling
  ``videoUrl`` is not a wire key and is refused;
- the provider is the first of ``provider.only`` that takes every video part (fallback in order), or,
  without ``provider.only``, the model's first provider (``google/*`` -> ``google-vertex``): no fallback;
- ``google-ai-studio`` takes YouTube ``watch?v=`` / ``youtu.be`` links and data URLs; ``google-vertex``
  and every other provider take data URLs only; Shorts links fail everywhere;
- data URLs read exactly ``data:<type>;base64,`` (no parameters) and are decoded strictly (base64: no line
  breaks), and the bytes must be the declared video container
  (``ftyp`` for mp4/mov, EBML for webm, an MPEG pack or sequence header for mpeg);
- only ``google/*`` models take video; text-only requests go to any model;
- audio, image and file parts follow ``upstream_media.py``'s rules (its docstring lists them) and are summarised
  under ``parts``.

It answers 200 with a ``chat.completion`` whose message content is a JSON summary of what it received
(provider, and per video part: kind, sha256 of the decoded bytes, MIME type), or the same content as
SSE ``chat.completion.chunk`` events when ``"stream": true``; both name the provider that answered in a
top-level ``provider`` field, as OpenRouter's do. Rule violations get an OpenRouter-shaped
400. ``fail_with`` forces an error answer; ``stream_gate`` holds a stream after its first content chunk;
``hold`` holds a request before any byte of the answer. While held, the server watches its client's connection:
a client that hangs up sets ``hung_up``, so a test can tell that a proxy in front cancelled its request.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from upstream_media import MediaRejection, accept_part, file_parser_reads, media_parts, model_takes

__all__ = ["FakeOpenRouter", "Received", "UpstreamRejection"]

PATH = "/api/v1/chat/completions"
RESPONSES_PATH = "/api/v1/responses"
MIME_TYPES = {"video/mp4", "video/mpeg", "video/mov", "video/quicktime", "video/webm"}
DEFAULT_PROVIDERS = {
    "google/": ["google-vertex", "google-ai-studio"],
    "anthropic/": ["anthropic", "amazon-bedrock", "google-vertex"],
    "openai/": ["openai", "azure"],
    "x-ai/": ["xai"],
}
YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


class UpstreamRejection(Exception):
    """A request the fake provider refuses; becomes an OpenRouter-shaped error response."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


@dataclass(slots=True)
class Received:
    """One request as the upstream saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    status: int = 0  # what the upstream answered
    summary: dict[str, Any] = field(default_factory=dict)  # provider and video parts (200 answers)
    error: str | None = None  # the rejection message (error answers)

    @property
    def body_size(self) -> int:
        return len(self.body)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None else None

    def json(self) -> Any:
        return json.loads(self.body)


# -- the rules ----------------------------------------------------------------------------------------


def _container(data: bytes) -> str | None:
    if data[4:8] == b"ftyp":
        return "video/mov" if data[8:12] == b"qt  " else "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if data[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    return None


def _decode_data_url(url: str) -> dict[str, Any]:
    head, comma, payload = url.partition(",")
    params = head[5:].split(";")
    mime = params[0].strip().lower()
    if not comma or params[1:] != ["base64"] or not head.startswith("data:"):  # no parameters, as documented
        raise UpstreamRejection("video data URLs must read data:video/<type>;base64,<payload>")
    if mime not in MIME_TYPES:
        raise UpstreamRejection(f"unsupported video MIME type {mime!r}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamRejection(f"invalid base64 in video data URL: {exc}") from None
    sniffed = _container(data)
    if sniffed is None:
        raise UpstreamRejection("the inline data is not a video (no MP4/MOV/WebM/MPEG signature)")
    mov_family = {"video/mp4", "video/mov", "video/quicktime"}
    if sniffed != mime and not (sniffed in mov_family and mime in mov_family):
        raise UpstreamRejection(f"the inline data is {sniffed} but declared {mime}")
    return {"kind": "data", "mime": mime, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _youtube(url: str) -> dict[str, Any] | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "youtu.be":
        vid = parts.path.strip("/")
    elif host in YOUTUBE_HOSTS:
        if parts.path.startswith("/shorts/"):
            raise UpstreamRejection("YouTube Shorts links are not supported; use https://www.youtube.com/watch?v=ID")
        if parts.path != "/watch":
            raise UpstreamRejection(f"not a YouTube video link: {url}")
        vid = (parse_qs(parts.query).get("v") or [""])[0]
    else:
        return None
    if not _YT_ID.match(vid):
        raise UpstreamRejection(f"not a YouTube video id: {vid!r}")
    return {"kind": "youtube", "url": url, "id": vid}


def _video_urls(request: Mapping[str, Any]) -> list[str]:
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise UpstreamRejection("messages must be a non-empty list")
    urls = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise UpstreamRejection("each message must be an object")
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, Mapping):
                raise UpstreamRejection("each content part must be an object")
            if "videoUrl" in part:
                raise UpstreamRejection("unknown content part key 'videoUrl' (the wire format is 'video_url')")
            if part.get("type") in ("video_url", "input_video"):
                holder = part.get("video_url")
                if not isinstance(holder, Mapping) or not isinstance(holder.get("url"), str):
                    raise UpstreamRejection("a video_url part needs video_url.url")
                urls.append(holder["url"])
    return urls


def _accept(provider: str, url: str) -> dict[str, Any]:
    """What ``provider`` makes of one video URL, or ``UpstreamRejection``."""
    base = provider.split("/", 1)[0]
    if url[:5].lower() == "data:":
        return _decode_data_url(url)
    if base == "google-ai-studio" and (found := _youtube(url)) is not None:
        return found
    if base == "google-vertex":
        raise UpstreamRejection("Google Vertex does not accept video URLs; send the video as a base64 data URL")
    if base == "google-ai-studio":
        raise UpstreamRejection("Google AI Studio only supports YouTube links as video URLs")
    raise UpstreamRejection(f"provider {provider} does not fetch video URLs")


def _input_video_urls(request: Mapping[str, Any]) -> list[str]:
    items = request.get("input")
    if isinstance(items, str):
        return []
    if not isinstance(items, list) or not items:
        raise UpstreamRejection("input must be a string or a non-empty list")
    urls = []
    for item in items:
        if not isinstance(item, Mapping):
            raise UpstreamRejection("each input item must be an object")
        content = item.get("content")
        if item.get("type", "message") != "message" or not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, Mapping):
                raise UpstreamRejection("each content item must be an object")
            if "videoUrl" in part:
                raise UpstreamRejection("unknown content item key 'videoUrl' (the wire format is 'video_url')")
            if part.get("type") == "input_video":
                if not isinstance(part.get("video_url"), str):
                    raise UpstreamRejection("an input_video item needs video_url, a URL string")
                urls.append(part["video_url"])
            elif part.get("type") == "video_url":
                raise UpstreamRejection("the Responses API takes input_video items, not video_url parts")
    return urls


def _other_parts(request: Mapping[str, Any], responses: bool) -> list[tuple[str, Mapping[str, Any]]]:
    """(kind, part) of every audio, image and file part of the request's messages."""
    messages = request.get("input" if responses else "messages")
    found: list[tuple[str, Mapping[str, Any]]] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            found += media_parts([p for p in content if isinstance(p, Mapping)], responses)
    return found


def judge(request: Any, path: str = PATH) -> dict[str, Any]:
    """The summary the upstream echoes back, or ``UpstreamRejection`` when the rules are broken."""
    if not isinstance(request, Mapping):
        raise UpstreamRejection("the body must be a JSON object")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise UpstreamRejection("model is required")
    responses = path == RESPONSES_PATH
    urls = _input_video_urls(request) if responses else _video_urls(request)
    try:
        others = _other_parts(request, responses)
    except MediaRejection as exc:
        raise UpstreamRejection(str(exc), exc.status) from None
    prefs = request.get("provider")
    only = prefs.get("only") if isinstance(prefs, Mapping) else None
    if not urls and not others:
        return {"model": model, "provider": (only or ["default"])[0], "videos": []}
    files = [p for k, p in others if k == "file"]
    for kind in ({"video"} if urls else set()) | {k for k, _ in others}:
        if not model_takes(model, kind) and not (kind == "file" and file_parser_reads(request, files, responses)):
            raise UpstreamRejection(f"No endpoints found for {model} that support {kind} input", 404)
    if only is not None and (not isinstance(only, list) or not only):
        raise UpstreamRejection("provider.only must be a non-empty list")
    candidates = only or next(v for k, v in DEFAULT_PROVIDERS.items() if model.startswith(k))[:1]
    counts = {kind: sum(1 for k, _ in others if k == kind) for kind, _ in others}
    reasons = []
    for provider in candidates:
        try:
            videos = [_accept(provider, u) for u in urls]
            parts = [accept_part(provider, model, k, p, counts[k], responses) for k, p in others]
        except (UpstreamRejection, MediaRejection) as exc:
            reasons.append(f"{provider}: {exc}")
            continue
        summary = {"model": model, "provider": provider, "videos": videos}
        return {**summary, "parts": parts} if parts else summary
    raise UpstreamRejection("; ".join(reasons))


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message, "metadata": {}}}).encode()


# -- the server -----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(404, error_body(404, f"no such endpoint: GET {self.path}"))

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        received = Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with owner.lock:
            owner.requests.append(received)
        status, message = owner.fail_with or (0, "")
        try:
            path = urlsplit(self.path).path
            if path not in (PATH, RESPONSES_PATH):
                raise UpstreamRejection(f"no such endpoint: POST {self.path}", 404)
            if not received.headers.get("authorization", "").startswith("Bearer "):
                raise UpstreamRejection("No auth credentials found", 401)
            if status:
                raise UpstreamRejection(message, status)
            try:
                request = json.loads(body)
            except ValueError as exc:
                raise UpstreamRejection(f"invalid JSON body: {exc}") from None
            received.summary = judge(request, path)
        except UpstreamRejection as exc:
            received.status, received.error = exc.status, str(exc)
            self._send(exc.status, error_body(exc.status, str(exc)))
            return
        received.status = 200
        if owner.hold is not None:
            owner.held.set()
            if not self._wait_or_hang_up(owner.hold):
                received.status = 499  # nginx's "client closed request": nothing was answered
                return
        content = json.dumps(received.summary, sort_keys=True)
        streaming = isinstance(request, Mapping) and request.get("stream") is True
        model = received.summary["model"]
        if path == RESPONSES_PATH and streaming:
            self._stream_response(model, content)
        elif path == RESPONSES_PATH:
            self._send(200, json.dumps(_response(model, content)).encode())
        elif streaming:
            self._stream(model, received.summary["provider"], content)
        else:
            self._send(200, json.dumps(_completion(model, received.summary["provider"], content)).encode())

    def _stream_response(self, model: str, content: str) -> None:
        """The Responses API's SSE: `response.created`, text deltas, `response.completed`."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events: list[dict[str, Any]] = [{"type": "response.created", "response": _response(model, "", "in_progress")}]
        delta = {"type": "response.output_text.delta", "item_id": "msg_fake", "output_index": 0, "content_index": 0}
        events += [{**delta, "delta": content[i : i + 16], "logprobs": []} for i in range(0, len(content), 16)]
        events.append({"type": "response.completed", "response": _response(model, content)})
        for number, event in enumerate(events):
            event["sequence_number"] = number
            self._event(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(self, model: str, provider: str, content: str) -> None:
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = [content[i : i + 16] for i in range(0, len(content), 16)]
        events = [_chunk(model, provider, {"role": "assistant", "content": ""}, None)]
        events += [_chunk(model, provider, {"content": piece}, None) for piece in pieces]
        events.append(_chunk(model, provider, {}, "stop"))
        for number, event in enumerate(events):
            gated = number == 1 and owner.stream_gate is not None  # the first content chunk
            if gated:  # paused before the chunk leaves: a client that sees it sees the pause too
                owner.stream_paused.set()
            self._event(f"data: {json.dumps(event)}\n\n".encode())
            if gated and owner.stream_gate is not None:
                released = self._wait_or_hang_up(owner.stream_gate)
                owner.stream_paused.clear()
                if not released:
                    return
        self._event(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _wait_or_hang_up(self, gate: threading.Event) -> bool:
        """Wait for ``gate`` (up to ``gate_timeout``) while watching the client: False if it hung up first."""
        owner = self.server.owner
        deadline = time.monotonic() + owner.gate_timeout
        while not gate.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):  # EOF: the client is gone
                owner.hung_up.set()
                self.close_connection = True
                return False
        return True

    def _event(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _completion(model: str, provider: str, content: str) -> dict[str, Any]:
    return {
        "id": "gen-fake-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "provider": provider,  # OpenRouter names the provider that answered (pydantic-ai requires it)
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _response(model: str, content: str, status: str = "completed") -> dict[str, Any]:
    message = {
        "type": "message",
        "id": "msg_fake",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": content, "annotations": []}] if content else [],
    }
    return {
        "id": "resp_fake_1",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": status,
        "output": [message],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, provider: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "gen-fake-1",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "provider": provider,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeOpenRouter

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is no server error
            super().handle_error(request, client_address)


class FakeOpenRouter:
    """The fake OpenRouter: start it (or use ``with``), point clients at ``base_url``, read ``requests``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.fail_with: tuple[int, str] | None = None  # answer every request with this status and message
        self.stream_gate: threading.Event | None = None  # set: streams wait here after the first content
        self.stream_paused = threading.Event()  # set while a stream waits at the gate
        self.gate_timeout = 30.0  # a held request goes on by itself after this: only a test that forgets a gate waits
        self.hold: threading.Event | None = None  # set: requests wait here before their answer
        self.held = threading.Event()  # set once a request waits at ``hold``
        self.hung_up = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openrouter", daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1"

    @property
    def chat_url(self) -> str:
        return f"{self.origin}{PATH}"

    @property
    def completions(self) -> list[Received]:
        """Requests answered 200."""
        return [r for r in self.requests if r.status == 200]

    def reset(self) -> None:
        """Forget received requests and error/stream modes (between tests)."""
        with self.lock:
            self.requests.clear()
        self.fail_with = None
        for gate in (self.stream_gate, self.hold):
            if gate is not None:
                gate.set()
        self.stream_gate = self.hold = None
        self.held.clear()
        self.hung_up.clear()

    def start(self) -> FakeOpenRouter:
        self._thread.start()
        return self

    def close(self) -> None:
        for gate in (self.stream_gate, self.hold):
            if gate is not None:
                gate.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenRouter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":  # pragma: no cover - manual use: python tests/upstream.py
    with FakeOpenRouter(port=8787) as fake:
        print(f"fake OpenRouter at {fake.base_url} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
