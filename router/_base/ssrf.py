"""May router connect here? The whole address policy, in one place.

A payload names the URL, so the URL is hostile until proven otherwise. The checker asks offline (a host name
or literal, no DNS); the fetcher asks again for every address a name resolves to, on every redirect hop, and
connects only to an address that passed. Three kinds of answer:

- public unicast: allowed;
- private, loopback, CGNAT, unique-local, reserved, documentation and benchmarking ranges, local names:
  refused, unless ``allow_private`` (local development) opens them;
- cloud metadata services (AWS, GCP, Azure, Alibaba, ECS) and link-local addresses: refused always, because
  they hand out credentials.

IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo) are judged by that address too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["IP", "Refusal", "address_refusal", "embedded_ipv4", "host_refusal", "literal_ip"]

IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# Letters no address literal holds (hex digits and the `x` of `0x7f.1` aside).
_NOT_NUMERIC = re.compile(r"[g-wyzG-WYZ_]")
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data"})
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local")
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure host (WireServer): not link-local, hands out platform secrets
        "192.0.0.192",  # Oracle Cloud metadata
    )
)
# Special-purpose ranges the ipaddress flags leave "global" or that deserve their own word.
_RANGES = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("192.0.2.0/24", "a documentation address (TEST-NET-1)"),
        ("198.51.100.0/24", "a documentation address (TEST-NET-2)"),
        ("203.0.113.0/24", "a documentation address (TEST-NET-3)"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("240.0.0.0/4", "a reserved address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("2001:db8::/32", "a documentation address"),
        ("fec0::/10", "a site-local address"),
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_FLAGS = (
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "an unspecified address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why router will not connect; ``private`` means ``allow_private`` would open it (never for metadata)."""

    reason: str
    private: bool


def literal_ip(host: str) -> IP | None:
    """The address a host literal stands for, in every spelling resolvers accept (``127.1``, ``0x7f.1``,
    ``2130706433``, ``[::1]``, a trailing dot); None for a name. Never resolves anything."""
    host = host.strip("[]").lower().rstrip(".")
    address = host.split("%", 1)[0]  # an IPv6 zone index does not change the address
    if _NOT_NUMERIC.search(address):  # a name (no literal has these letters): most hosts, answered at once
        return None
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        pass
    # inet_aton reads the numeric forms resolvers also accept, without any DNS.
    if host and not _NOT_NUMERIC.search(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def embedded_ipv4(ip: IP) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address routes to: IPv4-mapped, NAT64, 6to4, Teredo (server and client)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if v4 is not None]
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _one(ip: IP) -> Refusal | None:
    if ip in _METADATA_IPS:
        return Refusal("a cloud metadata address", private=False)
    if ip.is_link_local:
        return Refusal("a link-local address (where cloud metadata services live)", private=False)
    for net, why in _RANGES:
        if ip.version == net.version and ip in net:
            return Refusal(why, private=True)
    for attr, why in _FLAGS:
        if getattr(ip, attr):
            return Refusal(why, private=True)
    if not ip.is_global:
        return Refusal("a non-public address", private=True)
    return None


def address_refusal(ip: IP, *, allow_private: bool = False) -> Refusal | None:
    """Why router will not connect to ``ip``; None when it may.

    An IPv6 address that carries IPv4 addresses is judged by them alone, every one of them: the IPv6 prefix is
    a way there (DNS64 gives IPv4-only hosts NAT64 addresses), not the destination.
    """
    candidates: list[IP] = [*embedded_ipv4(ip)] or [ip]
    for candidate in candidates:
        refusal = _one(candidate)
        if refusal is not None and not (allow_private and refusal.private):
            return refusal
    return None


def host_refusal(host: str, *, allow_private: bool = False) -> Refusal | None:
    """The offline verdict on a URL's host (a name or an address literal), before any DNS."""
    name = host.strip("[]").lower().rstrip(".")
    if name in _METADATA_HOSTS:
        return Refusal("a cloud metadata host name", private=False)
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return None if allow_private else Refusal("a local host name", private=True)
    ip = literal_ip(name)
    return address_refusal(ip, allow_private=allow_private) if ip is not None else None
