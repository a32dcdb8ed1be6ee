"""What the proxy app needs to know, with safe defaults; from code, or from the environment for a factory.

``uvicorn 'router.serve:create_app' --factory`` builds its settings from these variables:

    OPENROUTER_BASE_URL        upstream (default https://openrouter.ai/api/v1)
    OPENROUTER_API_KEY         the operator's key: for keyless loopback clients (any, when lent) and token holders
    ROUTER_ACCESS_TOKEN        clients must present it before the operator's key is used
    ROUTER_LEND_KEY_TO_NETWORK 1: without a token, lend the operator's key to clients beyond loopback too
    ROUTER_CAPABILITIES        capability tables layered over the bundled one (os.pathsep-separated)
    ROUTER_ALLOW_PRIVATE_URLS  1: the fetcher may reach private and loopback addresses
    ROUTER_ALLOWED_HOSTS       Host names served (comma-separated; ``*`` any; default: loopback names)
    ROUTER_ALLOWED_ORIGINS     browser origins allowed besides the served hosts (comma-separated)
    ROUTER_MAX_BODY_SIZE       largest request body (``128MiB``, ``100MB``, bytes)
    ROUTER_MAX_UPSTREAM        concurrent upstream requests per process
    ROUTER_QUEUE_TIMEOUT       seconds a request may wait for an upstream slot before a 503
    ROUTER_BODY_TIMEOUT        seconds a request body may send nothing before a 408 (default 60; 0: never)
    ROUTER_LOOP_MONITOR_INTERVAL  seconds between event-loop lag samples (default 0.05; 0 turns it off)
    ROUTER_REFRESH_EVERY       hours between background refreshes of OpenRouter's catalogue (default 24; 0: never)
    ROUTER_REFRESH_CATALOGUE   1: read the catalogue from the upstream even when it is not OpenRouter
    ROUTER_FIT                 fit media to the route (needs router[fit]): fit, trim or split (default: off)
    ROUTER_UPSTREAM_CLIENT     the upstream leg's client: aiohttp or httpx (default: aiohttp when installed)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .._base.redact import masked, redacted, short_url
from .._table.catalogue import DEFAULT_BASE_URL, is_openrouter

__all__ = [
    "DEFAULT_BASE_URL",
    "LOOPBACK_HOSTS",
    "UPSTREAM_CLIENTS",
    "ProxySettings",
    "is_loopback",
    "parse_size",
    "resolve_settings",
]

# The names a loopback listener answers to: a DNS-rebinding page arrives with its own name and is refused.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
UPSTREAM_CLIENTS = ("auto", "aiohttp", "httpx")  # auto: aiohttp's when installed, else httpx's pools

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    """``128MiB``, ``100MB``, ``1GB`` or a plain number of bytes; ``ValueError`` otherwise."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (try 128MiB, 100MB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def is_loopback(host: str) -> bool:
    """Whether a listen address only takes connections from this machine."""
    host = host.strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").lower() in ("1", "true", "yes")


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


@redacted(base_url=short_url, api_key=masked, access_token=masked)
@dataclass(frozen=True)
class ProxySettings:
    """Everything the app needs; every default is the safe one. Secrets show masked in ``repr``."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    access_token: str | None = None
    # Without a token the operator's key goes only to loopback clients (protected mode); True lends it to any.
    lend_key_to_network: bool = False
    capabilities: tuple[str, ...] = ()
    allow_private_urls: bool = False
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS  # "*" accepts any Host (put a token in front then)
    allowed_origins: tuple[str, ...] = ()  # e.g. "https://app.example.com"
    max_body_size: int = 128 * 2**20  # Gemini's 100 MB inline request, with room for the JSON around it
    max_upstream: int = 512  # concurrent upstream requests (downloads and streams included), per process
    queue_timeout: float = 10.0  # seconds to wait for an upstream slot, then 503 + Retry-After
    body_timeout: float = 60.0  # seconds a request body may send nothing, then 408 (nginx's client_body_timeout)
    connect_timeout: float = 15.0
    read_timeout: float = 600.0  # a video model may think for minutes before its first byte
    write_timeout: float = 600.0
    keepalive_expiry: float = 60.0  # idle upstream connections are kept this long
    loop_monitor_interval: float = 0.05  # seconds between event-loop lag samples (0: off)
    refresh_every: float = 24 * 3600.0  # seconds between background catalogue refreshes (0: never)
    refresh_catalogue: bool = False  # read the catalogue from an upstream that is not OpenRouter (see catalogue())
    fit: str | None = None  # fit videos to the route: "fit", "trim" or "split" (None: off)
    upstream_client: str = "auto"  # see UPSTREAM_CLIENTS and upstream.upstream_transport

    def __post_init__(self) -> None:
        if self.max_body_size <= 0 or self.max_upstream <= 0 or self.queue_timeout < 0 or self.body_timeout < 0:
            raise ValueError(
                "max_body_size and max_upstream must be positive, queue_timeout and body_timeout not negative"
            )
        if self.upstream_client not in UPSTREAM_CLIENTS:
            raise ValueError(
                f"upstream_client (ROUTER_UPSTREAM_CLIENT) is aiohttp or httpx, not {self.upstream_client!r}"
            )
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def catalogue(self) -> tuple[str, float | None]:
        """The base URL whose model catalogue the router uses, and the seconds between background refreshes of
        it (None: never). Behind OpenRouter, or with ``refresh_catalogue``, that is the upstream; behind anything
        else (a test double, a gateway) it is OpenRouter's data as bundled or cached, never refreshed from here."""
        if self.refresh_catalogue or is_openrouter(self.base_url):
            return self.base_url, self.refresh_every or None
        return DEFAULT_BASE_URL, None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        """Settings from ``OPENROUTER_*`` and ``ROUTER_*`` variables (see the module docstring)."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {
            "base_url": env.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL,
            "api_key": env.get("OPENROUTER_API_KEY") or None,
            "access_token": env.get("ROUTER_ACCESS_TOKEN") or None,
            "capabilities": tuple(p for p in env.get("ROUTER_CAPABILITIES", "").split(os.pathsep) if p),
            "allow_private_urls": _flag(env, "ROUTER_ALLOW_PRIVATE_URLS"),
            "lend_key_to_network": _flag(env, "ROUTER_LEND_KEY_TO_NETWORK"),
            "refresh_catalogue": _flag(env, "ROUTER_REFRESH_CATALOGUE"),
        }
        if hosts := _items(env.get("ROUTER_ALLOWED_HOSTS")):
            kwargs["allowed_hosts"] = hosts
        if origins := _items(env.get("ROUTER_ALLOWED_ORIGINS")):
            kwargs["allowed_origins"] = origins
        if size := env.get("ROUTER_MAX_BODY_SIZE"):
            kwargs["max_body_size"] = parse_size(size)
        if cap := env.get("ROUTER_MAX_UPSTREAM"):
            kwargs["max_upstream"] = int(cap)
        if wait := env.get("ROUTER_QUEUE_TIMEOUT"):
            kwargs["queue_timeout"] = float(wait)
        if idle := env.get("ROUTER_BODY_TIMEOUT"):
            kwargs["body_timeout"] = float(idle)
        if interval := env.get("ROUTER_LOOP_MONITOR_INTERVAL"):
            kwargs["loop_monitor_interval"] = float(interval)
        if hours := env.get("ROUTER_REFRESH_EVERY"):
            kwargs["refresh_every"] = float(hours) * 3600
        if fit := env.get("ROUTER_FIT"):
            if fit not in ("fit", "trim", "split"):
                raise ValueError(f"ROUTER_FIT is fit, trim or split, not {fit!r}")
            kwargs["fit"] = fit
        if client := env.get("ROUTER_UPSTREAM_CLIENT", "").strip().lower():
            kwargs["upstream_client"] = client
        return cls(**kwargs)  # type: ignore[arg-type]


def resolve_settings(
    settings: ProxySettings | None, host: str, *, base_url: str | None = None, api_key: str | None = None
) -> ProxySettings:
    """Explicit settings win; otherwise the environment's key and base URL, and the hosts a bind implies."""
    if settings is None:
        settings = ProxySettings(
            base_url=os.environ.get("OPENROUTER_BASE_URL") or ProxySettings.base_url,
            api_key=os.environ.get("OPENROUTER_API_KEY") or None,
            allowed_hosts=ProxySettings.allowed_hosts if is_loopback(host) else ("*",),
        )
    if base_url is not None:
        settings = replace(settings, base_url=base_url)
    if api_key is not None:
        settings = replace(settings, api_key=api_key or None)
    return settings
