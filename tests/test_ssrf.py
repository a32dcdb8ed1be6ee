"""router._base.ssrf: the one address policy, for every range and every spelling (offline, no DNS)."""

from __future__ import annotations

import ipaddress

import pytest

from router._base.ssrf import address_refusal, embedded_ipv4, host_refusal, literal_ip

PRIVATE = {
    "127.0.0.1": "loopback",
    "127.1": "loopback",  # the short form resolvers accept
    "0x7f.0.0.1": "loopback",
    "2130706433": "loopback",
    "017700000001": "loopback",  # octal
    "127.0.0.1.": "loopback",  # trailing dot
    "[::1]": "loopback",
    "10.0.0.8": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "[fd00::1]": "private",  # unique-local
    "[fec0::1]": "site-local",
    "100.64.1.1": "carrier-grade NAT",
    "0.0.0.0": "unspecified",  # noqa: S104 - a host to refuse, not one to bind
    "[::]": "unspecified",
    "224.0.0.1": "multicast",
    "[ff02::1]": "multicast",
    "192.0.2.10": "TEST-NET-1",
    "198.51.100.10": "TEST-NET-2",
    "203.0.113.10": "TEST-NET-3",
    "198.18.0.1": "benchmarking",
    "198.19.255.254": "benchmarking",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",  # broadcast: the top of 240.0.0.0/4
    "[2001:db8::1]": "documentation",
    # IPv6 forms that carry an IPv4 address are judged by it
    "[::ffff:127.0.0.1]": "loopback",
    "[::ffff:10.1.2.3]": "private",
    "[64:ff9b::7f00:1]": "loopback",  # NAT64 of 127.0.0.1
    "[64:ff9b::a00:1]": "private",  # NAT64 of 10.0.0.1
    "[64:ff9b:1::a00:1]": "private",  # local-use NAT64 prefix
    "[2002:7f00:1::]": "loopback",  # 6to4 of 127.0.0.1
    "[2002:c0a8:101::]": "private",  # 6to4 of 192.168.1.1
    "localhost": "local host name",
    "printer.local": "local host name",
    "db.internal": "local host name",
    "app.localhost": "local host name",
}

ALWAYS = {
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",  # ECS task credentials
    "[fd00:ec2::254]": "metadata",
    "100.100.100.200": "metadata",  # Alibaba
    "168.63.129.16": "metadata",  # Azure WireServer
    "192.0.0.192": "metadata",  # Oracle
    "169.254.1.1": "link-local",
    "[fe80::1]": "link-local",
    "[::ffff:169.254.169.254]": "metadata",
    "[64:ff9b::a9fe:a9fe]": "metadata",  # NAT64 of 169.254.169.254
    "[2002:a9fe:a9fe::]": "metadata",  # 6to4 of 169.254.169.254
    "metadata.google.internal": "metadata",
    "metadata.google.internal.": "metadata",
    "metadata": "metadata",
    "instance-data": "metadata",
}

PUBLIC = ["93.184.216.34", "8.8.8.8", "cdn.example.com", "[2606:4700::1111]", "1.1.1.1", "video.example.org."]


@pytest.mark.parametrize(("host", "word"), PRIVATE.items())
def test_private_ranges_are_refused_unless_allowed(host: str, word: str) -> None:
    """Private, loopback, CGNAT, documentation, benchmarking, reserved and local names are refused by default,
    in every spelling, and opened by allow_private."""
    refusal = host_refusal(host)
    assert refusal is not None
    assert word in refusal.reason
    assert refusal.private
    assert host_refusal(host, allow_private=True) is None


@pytest.mark.parametrize(("host", "word"), ALWAYS.items())
def test_metadata_and_link_local_are_refused_always(host: str, word: str) -> None:
    """Cloud metadata endpoints and link-local addresses stay refused even with allow_private."""
    for allow in (False, True):
        refusal = host_refusal(host, allow_private=allow)
        assert refusal is not None
        assert word in refusal.reason
        assert not refusal.private


@pytest.mark.parametrize("host", PUBLIC)
def test_public_hosts_pass(host: str) -> None:
    """Public addresses and ordinary names pass offline (DNS answers are judged by the fetcher, below)."""
    assert host_refusal(host) is None


def test_teredo_is_judged_by_both_of_its_ipv4_addresses() -> None:
    """A Teredo address names a server and (obfuscated) a client: a private one in either place is refused."""
    server_private = ipaddress.IPv6Address("2001:0:a00:1::ffff:ffff")  # server 10.0.0.1
    client_private = ipaddress.IPv6Address("2001:0:5db8:d822::f5ff:fffe")  # client 10.0.0.1 (bits inverted)
    public = ipaddress.IPv6Address("2001:0:5db8:d822::a3b5:e7de")  # server 93.184.216.34, client 92.74.24.33
    assert ipaddress.IPv4Address("10.0.0.1") in embedded_ipv4(server_private)
    assert ipaddress.IPv4Address("10.0.0.1") in embedded_ipv4(client_private)
    assert address_refusal(server_private) is not None
    assert address_refusal(client_private) is not None
    assert address_refusal(public) is None


def test_resolved_addresses_use_the_same_policy() -> None:
    """What DNS returns is judged by the same function the offline check uses."""
    assert address_refusal(ipaddress.ip_address("10.1.1.1")) is not None
    assert address_refusal(ipaddress.ip_address("10.1.1.1"), allow_private=True) is None
    assert address_refusal(ipaddress.ip_address("169.254.169.254"), allow_private=True) is not None
    assert address_refusal(ipaddress.ip_address("93.184.216.34")) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("[::1]", "::1"),
     ("10.0.0.1.", "10.0.0.1"), ("[fe80::1%eth0]", "fe80::1"), ("example.com", None), ("cafe.example", None)],
)  # fmt: skip
def test_literal_spellings(host: str, address: str | None) -> None:
    """Numeric spellings resolvers accept are read as the address they mean; names stay names."""
    found = literal_ip(host)
    assert (str(found) if found else None) == address
