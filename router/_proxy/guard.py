"""Who may use the proxy, and where a path may lead: pure functions over one request's head.

- Paths are normalised before routing: dot segments (``..``, ``.``, also spelled ``%2e``) are resolved, and
  what is left must still sit under an API prefix. Encoded separators (``%2f``, ``%5c``), backslashes, NUL and
  control bytes are refused outright: an upstream that decodes them would see a path nobody checked.
- ``Host`` must name a served host (loopback names for a loopback listener): a DNS-rebinding page arrives
  under its own name. A request without ``Host`` (HTTP/1.0) is no browser and passes.
- ``Origin``, when a browser sends one, must be the proxy's own origin or one the operator listed.
- Without an access token the operator's key is lent to loopback clients only (Redis's protected mode): the
  peer address decides, never a header a client writes.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from .asgi import Refusal
from .settings import ProxySettings

__all__ = [
    "PREFIXES",
    "authorization_to_send",
    "client_is_loopback",
    "host_allowed",
    "normalise_path",
    "origin_allowed",
    "split_prefix",
]

PREFIXES = ("/api/v1", "/v1")  # OpenRouter's own path, and the one OpenAI-style clients assume

_REFUSED = re.compile(rb"%(?:2f|5c|00)|[\x00-\x20\x7f\\]", re.IGNORECASE)
_DOT = re.compile(rb"%2e", re.IGNORECASE)
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="router"'),)
_PROTECTED = (
    "router proxy: without an access token this proxy lends its operator's key only to clients on its own machine; "
    "send your own key (Authorization: Bearer <key>), or the operator sets an access token for you to present "
    "(--access-token / ROUTER_ACCESS_TOKEN) or, on a trusted network, --lend-key-to-network "
    "(ROUTER_LEND_KEY_TO_NETWORK=1)"
)


def normalise_path(raw: bytes) -> bytes | None:
    """The path with its dot segments resolved (RFC 3986, 5.2.4), or ``None`` when it cannot be trusted.

    Other percent-encodings are kept as they came: the upstream decodes them as it always would.
    """
    if not raw.startswith(b"/") or _REFUSED.search(raw):
        return None
    kept: list[bytes] = []
    segments = raw.split(b"/")[1:]
    for number, segment in enumerate(segments):
        dots = _DOT.sub(b".", segment)
        last = number == len(segments) - 1
        if dots == b"..":
            if kept:
                kept.pop()
        elif dots != b".":
            kept.append(segment)
            continue
        if last:
            kept.append(b"")  # "/a/b/.." is "/a/", a directory
    return b"/" + b"/".join(kept)


def split_prefix(path: str) -> tuple[str, str] | None:
    """``("/api/v1", "/chat/completions")`` for a path under an API prefix, ``None`` for any other."""
    for prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix, path[len(prefix) :]
    return None


def _hostname(authority: str) -> str:
    """``[::1]:8787`` -> ``::1``; ``Example.COM.:80`` -> ``example.com``."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0].rstrip(".") if ":" in authority else authority.rstrip(".")


def host_allowed(host: str | None, allowed: Iterable[str]) -> bool:
    """Whether ``Host`` names a served host: exact names, ``*.example.com`` suffixes, or ``*`` for any."""
    if host is None:
        return True
    name = _hostname(host)
    for pattern in allowed:
        pattern = pattern.strip().lower().strip("[]")
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def origin_allowed(origin: str | None, host: str | None, allowed_origins: Iterable[str]) -> bool:
    """A browser's ``Origin`` must be the proxy's own (same host and port as ``Host``) or listed.

    ``Origin: null`` (sandboxed frames, ``file:`` pages) is foreign.
    """
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in (o.strip().lower().rstrip("/") for o in allowed_origins):
        return True
    if origin == "null" or host is None:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    default = "443" if parts.scheme == "https" else "80"
    own = host.strip().lower()

    def with_port(authority: str) -> str:
        return authority if re.search(r":\d+$", authority) else f"{authority}:{default}"

    return with_port(parts.netloc) == with_port(own)


def client_is_loopback(client: Sequence[object] | None) -> bool:
    """Whether the ASGI scope's ``client`` (peer address, port) is this machine: 127.0.0.0/8, ``::1``, or
    ``::ffff:127.x`` (a dual-stack listener's IPv4 loopback). An unknown peer is not."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def authorization_to_send(s: ProxySettings, found: dict[bytes, str], client: Sequence[object] | None) -> str | None:
    """The Authorization to send instead of the client's (``""``: none), or ``None`` to keep the client's.

    With an access token, a client presents it as ``Authorization: Bearer <token>`` (the operator's key is
    sent instead) or as ``X-Router-Token`` (its own ``Authorization`` goes through). Without one, a client
    that sends no ``Authorization`` gets the operator's key if it is on this machine (``client``, the ASGI
    peer, is loopback) or the operator lent the key to the network; any other such client is refused.
    """
    key = f"Bearer {s.api_key}" if s.api_key else ""
    auth = found.get(b"authorization")
    if s.access_token is None:
        if auth is not None or not key:
            return None
        if s.lend_key_to_network or client_is_loopback(client):
            return key
        raise Refusal(401, _PROTECTED, headers=_CHALLENGE)
    token = s.access_token.encode()
    presented = found.get(b"x-router-token")
    if presented is not None and hmac.compare_digest(presented.encode("latin-1"), token):
        return None
    bearer = auth[7:] if auth is not None and auth[:7].lower() == "bearer " else None
    if bearer is not None and hmac.compare_digest(bearer.encode("latin-1"), token):
        return key
    raise Refusal(
        401,
        "router proxy: this proxy needs its access token (Authorization: Bearer <token>, or X-Router-Token)",
        headers=_CHALLENGE,
    )
