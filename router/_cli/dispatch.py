"""Send one rewritten request upstream and print the answer: the engine behind ``router send``.

The body is streamed from ``Outgoing.iter_bytes()`` with its exact ``Content-Length``: an inlined video is
read from its spooled file in chunks and never held in memory as a whole, let alone twice.

Exit status, as the CLI promises: 0 the upstream answered 2xx; 1 the router rejected the request, the
upstream refused it (non-2xx, or an error inside a 200 or a stream), or the upstream could not be reached
(connect, TLS, timeout: the request was fine, its delivery failed). Problems with how router was called
(no key, unreadable input) are the CLI's exit 2 and never get here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .._base.version import __version__
from .._model.request import Payload, PayloadLike
from .._report.output import describe
from .._rewrite.pipeline import Router
from .progress import ProgressDisplay, counting

__all__ = ["TIMEOUT", "chat_url", "send"]

# Connecting is quick or broken; a video model may think for minutes before its first byte, and a
# 100 MB upload on a slow link takes a while too.
TIMEOUT = httpx.Timeout(connect=15.0, read=600.0, write=600.0, pool=15.0)


def chat_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


def _safe_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class _Printer:
    """The answer goes to ``out`` as received; messages go to ``err`` with the API key scrubbed, in case an
    upstream error echoes it (a key shorter than 8 characters is a placeholder, not scrubbed: it would mangle
    every message)."""

    def __init__(self, out: IO[str], err: IO[str], secret: str) -> None:
        self.out, self.err = out, err
        self.secret = secret if len(secret) >= 8 else ""

    def _clean(self, text: str) -> str:
        return text.replace(self.secret, "[redacted]") if self.secret else text

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def error(self, text: str) -> None:
        self.err.write(f"router: {self._clean(text)}\n")
        self.err.flush()


def _error_message(body: Any) -> str | None:
    """The human part of an OpenRouter error object, with the provider's own words when it gave them."""
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        return None
    error = body["error"]
    message = str(error.get("message") or "unknown error")
    meta = error.get("metadata")
    if isinstance(meta, Mapping):
        provider = meta.get("provider_name")
        raw = meta.get("raw")
        if isinstance(raw, str) and raw and raw not in message:
            message += f" ({provider + ': ' if provider else ''}{raw[:500]})"
        elif provider:
            message += f" (provider {provider})"
        diagnostics = meta.get("diagnostics")
        if isinstance(diagnostics, list):
            for d in diagnostics:
                if isinstance(d, Mapping):
                    message += f"\n  {d.get('rule')}: {d.get('message')}"
    return message


def _refused(printer: _Printer, response: httpx.Response) -> int:
    response.read()
    try:
        message = _error_message(response.json())
    except ValueError:
        message = None
    if message is None:
        message = response.text.strip()[:500] or response.reason_phrase
    printer.error(f"upstream refused the request (HTTP {response.status_code}): {message}")
    return 1


def _print_completion(printer: _Printer, response: httpx.Response) -> int:
    response.read()
    try:
        body = response.json()
    except ValueError:
        printer.write(response.text.rstrip("\n") + "\n")
        return 0
    printer.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    if (message := _error_message(body)) is not None:  # OpenRouter reports some failures inside a 200
        printer.error(f"upstream error: {message}")
        return 1
    return 0


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent event stream (comments such as keep-alives skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def _print_stream(printer: _Printer, response: httpx.Response) -> int:
    """Print the assistant's text as it arrives; an error event mid-stream ends with exit 1."""
    wrote = False
    for data in _events(response.iter_lines()):
        if data.strip() == "[DONE]":
            break
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if not isinstance(event, Mapping):
            continue
        if (message := _error_message(event)) is not None:
            if wrote:
                printer.write("\n")
            printer.error(f"upstream error mid-stream: {message}")
            return 1
        for choice in event.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") if isinstance(choice, Mapping) else None
            if isinstance(text, str) and text:
                printer.write(text)
                wrote = True
    printer.write("\n")
    return 0


def send(
    router: Router,
    payload: PayloadLike | Payload,
    *,
    base_url: str,
    api_key: str,
    provider: str | Sequence[str] | None = None,
    model: str | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    display: ProgressDisplay | None = None,
) -> int:
    """Rewrite ``payload``, POST it to ``base_url``/chat/completions, print the answer; return the exit status.

    Raises ``RequestRejected`` (nothing was sent) for the caller to render; everything after that is
    reported on ``err`` and in the return value. ``display`` draws download and upload progress (by default
    on ``err`` when it is a terminal).
    """
    printer = _Printer(out or sys.stdout, err or sys.stderr, api_key)
    display = display if display is not None else ProgressDisplay(printer.err)
    items = [payload] if isinstance(payload, Payload) else Router.payloads(payload)
    one = items[0] if len(items) == 1 else payload  # parse once; several requests are rejected by outgoing()
    streaming = isinstance(one, Payload) and isinstance(one.request, Mapping) and one.request.get("stream") is True
    url = chat_url(base_url)
    with display:
        outgoing = router.outgoing(
            one, provider, model=model, progress=display.task("downloading"), fitting=display.share("fitting")
        )
        for note in outgoing.notes:
            display.note(describe(note))
        size = outgoing.content_length
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Content-Length": str(size),
            "Accept": "text/event-stream" if streaming else "application/json",
            "User-Agent": f"router/{__version__}",
        }
        body = counting(outgoing.iter_bytes(), size, display.task("uploading"))
        try:
            with (
                httpx.Client(transport=transport, timeout=TIMEOUT) as client,
                client.stream("POST", url, headers=headers, content=body) as response,
            ):
                display.stop()  # the body is sent: the answer prints on a clean terminal
                if not response.is_success:
                    return _refused(printer, response)
                if streaming and response.headers.get("content-type", "").startswith("text/event-stream"):
                    return _print_stream(printer, response)
                return _print_completion(printer, response)
        except httpx.ConnectError as exc:
            display.stop()
            printer.error(f"cannot reach {_safe_url(url)}: {exc or type(exc).__name__}")
        except httpx.TimeoutException as exc:
            display.stop()
            printer.error(f"{_safe_url(url)} timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            display.stop()
            printer.error(f"connection to {_safe_url(url)} failed: {exc or type(exc).__name__}")
        return 1
