"""One download, as a generator of the I/O it needs: the policy, which ``drive`` runs blocking or on asyncio.

The policy lives once: ``Downloader.run`` *yields* what it needs (resolve, send, read, wait) and a sync driver
(``httpx.HTTPTransport``) or an async driver (``httpx.AsyncHTTPTransport``) performs it, so ``fetch`` and
``afetch`` cannot drift apart. Every hop is checked by ``_base.ssrf`` (the URL's host offline, then every resolved
address) and the connection goes to the address that was checked (no DNS-rebinding window); redirects are
followed by hand; the byte cap counts the (decoded) bytes that arrive, never ``Content-Length``; credentials
in a URL go to its own origin only.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .._base.errors import BlockedURL, FetchError, MediaTooLarge, UnreachableURL
from .._base.kinds import Kind
from .._base.redact import redacted, short_url
from .._base.rules import shorten
from .._base.ssrf import IP, Refusal, address_refusal, host_refusal, literal_ip
from .._model.media import classify_url
from .drive import Flow, Op, Read, Resolve, Resolver, Send
from .spool import Progress, Spool

__all__ = ["Downloader", "display"]

_MAX_ADDRESSES = 4  # addresses tried in turn when connecting fails (all of them are checked first)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
# gzip is fine: the cap counts the bytes after decoding (what lands in the spool), so a bomb stops at the cap.
_HEADERS = {"User-Agent": "router-fetch/0.1", "Accept": "video/*, */*;q=0.1", "Accept-Encoding": "identity, gzip"}


@redacted(url=short_url)
@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str  # IDNA form: what is resolved, sent as Host and as TLS SNI
    port: int
    literal: IP | None


@dataclass(frozen=True, slots=True)
class Downloader:
    """How downloads are made: timeouts, redirects, address policy, TLS. ``run`` is one download's flow."""

    allow_private_urls: bool
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_redirects: int
    resolver: Resolver
    verify: ssl.SSLContext | bool

    def run(
        self, url: str, cap: int | None, on_progress: Progress | None, directory: Path, kind: Kind = "video"
    ) -> Flow:
        """Follow redirects by hand, checking every hop, and stream the final body into a spool."""
        deadline = time.monotonic() + self.total_timeout
        label = display(url)
        spool = Spool(directory, cap, on_progress, label, kind)
        current, where = url, label
        try:
            for _ in range(self.max_redirects + 1):
                try:
                    response = yield from self._open(current, where, deadline)
                    location = self._verdict(response, where, cap)
                    if location is None:
                        return (yield from self._receive(url, where, response, spool, deadline))
                    current = _next_hop(current, location)
                except (httpx.RequestError, httpx.InvalidURL, TimeoutError) as exc:
                    raise self._unreachable(where, exc) from exc
                where = f"{label} (redirected to {display(current)})"
            raise UnreachableURL(f"{label}: more than {self.max_redirects} redirects")
        except BaseException as exc:
            spool.discard()  # a failed or partial download never yields a Media
            if isinstance(exc, FetchError):
                exc.url = label  # the URL asked for, shown safely; the message says which hop failed
            raise

    def _open(self, url: str, where: str, deadline: float) -> Generator[Op, Any, httpx.Response]:
        """Check the URL and every address it resolves to, then connect to a checked address only."""
        target = self._target(url, where)
        if target.literal is not None:
            answers = [str(target.literal)]
        else:
            try:
                answers = yield Resolve(target.host, target.port, _left(deadline), self.resolver)
            except TimeoutError:
                raise  # the total deadline, reported as such (it is an OSError too)
            except UnicodeError as exc:  # IDNA: a label over 63 characters, or not encodable
                raise UnreachableURL(f"{where}: {shorten(target.host)} is not a valid host name ({exc})") from exc
            except OSError as exc:
                transient = not isinstance(exc, socket.gaierror) or exc.errno == socket.EAI_AGAIN
                raise UnreachableURL(
                    f"{where}: could not resolve {target.host} ({exc.strerror or exc})", transient=transient
                ) from exc
        addresses = self._vet(answers, target, where)
        failure: httpx.ConnectError | None = None
        for ip in addresses[:_MAX_ADDRESSES]:
            try:
                response: httpx.Response = yield Send(self._request(target, ip, deadline), _left(deadline))
            except httpx.ConnectError as exc:
                failure = exc
                continue
            return response
        assert failure is not None
        raise failure

    def _target(self, url: str, where: str) -> _Target:
        info = classify_url(url)
        if info.kind == "youtube":
            raise BlockedURL(
                f"{where} is a YouTube page: router never downloads YouTube links; route the link to a provider "
                "that takes YouTube URLs",
            )
        if info.kind == "file":
            raise BlockedURL(f"{where} is a local file path: router never reads local files")
        if info.kind == "data":
            raise BlockedURL("a data: URL carries its bytes inline and is never downloaded")
        if info.kind == "invalid":
            raise UnreachableURL(f"{where} is not a valid URL")
        if info.kind not in ("http", "https"):
            raise BlockedURL(f"{where}: only http and https URLs are downloaded")
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeError):
            raise UnreachableURL(f"{where} is not a valid URL") from None
        if refusal := host_refusal(host, allow_private=self.allow_private_urls):
            raise BlockedURL(f"{where} points at {refusal.reason}; {_refused(refusal)}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return _Target(parsed, host, port, literal_ip(host))

    def _vet(self, answers: list[str], target: _Target, where: str) -> list[IP]:
        """Every address must pass, not just the first: the connection may land on any of them."""
        addresses: list[IP] = []
        for answer in dict.fromkeys(answers):
            try:
                ip = ipaddress.ip_address(answer)
            except ValueError:
                raise UnreachableURL(f"{where}: the resolver returned {answer!r}, not an address") from None
            if refusal := address_refusal(ip, allow_private=self.allow_private_urls):
                # The address itself stays out of the message: it would make the router an internal-DNS oracle.
                raise BlockedURL(f"{where}: {target.host} resolves to {refusal.reason}; {_refused(refusal)}")
            addresses.append(ip)
        if not addresses:
            raise UnreachableURL(f"{where}: {target.host} has no address")
        return addresses

    def _request(self, target: _Target, ip: IP, deadline: float) -> httpx.Request:
        """A request to the checked IP literal; Host and TLS SNI keep the real name, so TLS verifies that name."""
        left = _left(deadline)
        connect, read = min(self.connect_timeout, left), min(self.read_timeout, left)
        extensions: dict[str, Any] = {"timeout": {"connect": connect, "read": read, "write": read, "pool": connect}}
        if target.url.scheme == "https":
            extensions["sni_hostname"] = target.host
        headers = {"Host": target.url.netloc.decode("ascii"), **_HEADERS}
        if target.url.userinfo:  # what a client would do with user:password@ (the transport ignores userinfo)
            credentials = f"{target.url.username}:{target.url.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        url = target.url.copy_with(host=str(ip), username=None, password=None)
        return httpx.Request("GET", url, headers=headers, extensions=extensions)

    def _verdict(self, response: httpx.Response, where: str, cap: int | None) -> str | None:
        """The redirect target, None when the body is the video, or raise: status first, then the declared size."""
        status = response.status_code
        if status in _REDIRECT_STATUSES:
            location: str | None = response.headers.get("location")
            if not location:
                raise UnreachableURL(f"{where}: HTTP {status} without a Location header", status=status)
            return location
        if status not in (200, 203):
            transient = status in _TRANSIENT_STATUSES or status >= 500
            raise UnreachableURL(
                f"{where}: HTTP {status} {response.reason_phrase}".rstrip()
                + (" (transient: retry later)" if transient else ""),
                status=status,
                transient=transient,
            )
        length = _content_length(response)
        if cap is not None and length is not None and length > cap:  # the early no; the real cap is in _Spool
            raise MediaTooLarge(f"{where} is {length:,} bytes (Content-Length), over the {cap:,}-byte cap")
        return None

    def _receive(self, url: str, where: str, response: httpx.Response, spool: Spool, deadline: float) -> Flow:
        spool.total = _content_length(response)
        spool.declared = response.headers.get("content-type")
        while chunk := (yield Read(_left(deadline))):  # _left: a slow drip never trips the read timeout
            spool.write(chunk)
        return spool.media(url)

    def _unreachable(self, where: str, exc: Exception) -> UnreachableURL:
        if isinstance(exc, httpx.InvalidURL):
            return UnreachableURL(f"{where}: invalid redirect target ({exc})")
        if isinstance(exc, TimeoutError):
            message = f"{where}: took longer than the {self.total_timeout:g}s total timeout"
        elif isinstance(exc, httpx.TimeoutException):
            phase = {
                httpx.ConnectTimeout: "while connecting",
                httpx.ReadTimeout: "waiting for data",
                httpx.WriteTimeout: "sending the request",
                httpx.PoolTimeout: "waiting for a connection",
            }.get(type(exc), "")
            message = f"{where}: timed out {phase}".rstrip()
        elif _certificate_error(exc):
            return UnreachableURL(f"{where}: TLS certificate verification failed ({exc})")
        elif isinstance(exc, httpx.ConnectError):
            message = f"{where}: could not connect ({str(exc) or type(exc).__name__})"
        elif isinstance(exc, httpx.RemoteProtocolError):
            message = f"{where}: the server broke off the download ({exc})"
        else:
            message = f"{where}: {type(exc).__name__}: {exc}"
        return UnreachableURL(message, transient=True)

    def transport_options(self) -> dict[str, Any]:
        """Transports, not clients: no redirects, cookies or auth to switch off, and no httpx INFO log line with
        the full (signed) URL. trust_env=False: a proxy from the environment would connect by name and bypass the
        address checks. No keep-alive: pooled connections are keyed by IP, and one verified for another name must
        not be reused."""
        verify = _default_tls() if self.verify is True else self.verify
        return {"trust_env": False, "verify": verify, "limits": httpx.Limits(max_keepalive_connections=0)}


def _next_hop(current: str, location: str) -> str:
    """The redirect target; credentials written in the URL go to their own origin only."""
    here, there = httpx.URL(current), httpx.URL(current).join(location)
    if (there.scheme, there.host, there.port) != (here.scheme, here.host, here.port):
        there = there.copy_with(username=None, password=None)
    return str(there)


def _refused(refusal: Refusal) -> str:
    if not refusal.private:
        return "router never fetches it"
    hint = "pass --allow-private-urls / Router(allow_private_urls=True) for local development"
    return f"router does not fetch it ({hint})"


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~50 ms, too much for every async call."""
    return httpx.create_ssl_context(trust_env=False)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _certificate_error(exc: BaseException) -> bool:
    """A failed certificate check is permanent, unlike other connect errors (httpx wraps the ssl error)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short; bounded in case of a cycle
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def display(url: str) -> str:
    """The URL as messages show it: no credentials, no query string (signatures) or fragment, shortened."""
    return "a data: URL" if url[:5].lower() == "data:" else shorten(url)
