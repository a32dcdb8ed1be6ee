"""Pass-through cost in a fresh process: the same request through bare httpx and through RouterTransport.

    python bench/passthrough.py CHAT_URL [--rounds N] [--block N] [--images N]

Prints one JSON object. Both clients post the same text-only chat request (about 1.3 KB) to a loopback
server over keep-alive. Each round times four blocks, A B B A (B A A B the next round), so drift and order
effects hit both clients alike; a round's ratio is the routed blocks' total over the bare blocks' total, and
``ratio`` is the median over rounds (``ratio_of_medians`` compares the median block means instead), and
``added_us`` the median over rounds of the time the router adds to one request.

The same is done with no network at all, both clients on ``httpx.MockTransport`` (``client_*``): that is
the transport's own cost per request, free of server and scheduling noise, and ``implied_ratio`` is what it
comes to against the loopback round trip. ``decision_us`` times the screen alone (``route`` on the same
bytes): a body without video is never parsed.

``--images N``: the request is ``openai/gpt-4o`` pinned to ``openai`` with N public https image URLs, which
OpenAI fetches itself: the router parses and checks it, and must send it unchanged, without a download, a decode
or a DNS lookup. The process counts every ``socket.getaddrinfo`` host (only the loopback server may appear), and
one request goes through a transport that records the body the router sends (it must equal the request).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from typing import Any

import httpx

import router
from router._transports.core import route
from router.transport import RouterTransport

REQUEST: dict[str, Any] = {
    "model": "openai/gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a careful assistant. Answer briefly and cite the section you used."},
        {
            "role": "user",
            "content": "Summarise the following release notes in three bullet points.\n\n"
            + "\n".join(f"- change {i}: improved handling of edge case number {i} in the parser" for i in range(12)),
        },
        {"role": "assistant", "content": "Sure. Which audience is the summary for?"},
        {"role": "user", "content": [{"type": "text", "text": "Engineers who maintain the client libraries."}]},
    ],
    "temperature": 0.2,
    "max_tokens": 256,
}


def images_request(count: int) -> dict[str, Any]:
    """A question over ``count`` photos at public https URLs, to a model whose provider fetches them itself."""
    photos = [
        {"type": "image_url", "image_url": {"url": f"https://images.example.com/photos/{i:04d}.jpg"}}
        for i in range(count)
    ]
    return {
        "model": "openai/gpt-4o",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Which of these photos show a cat?"}, *photos]}
        ],
        "provider": {"only": ["openai"]},
        "max_tokens": 256,
    }


def block(client: httpx.Client, url: str, n: int, request: dict[str, Any]) -> float:
    """Mean seconds per request over ``n`` requests."""
    start = time.perf_counter()
    for _ in range(n):
        response = client.post(url, json=request, headers={"Authorization": "Bearer bench"})
        if response.status_code != 200:
            raise SystemExit(f"the chat server answered {response.status_code}")
    return (time.perf_counter() - start) / n


def compare(clients: dict[str, httpx.Client], url: str, rounds: int, n: int, request: dict[str, Any]) -> dict[str, Any]:
    """ABBA rounds: per-round ratio routed/bare, and the median mean-time per request of each client."""
    times: dict[str, list[float]] = {"httpx": [], "router": []}
    ratios, added = [], []
    for number in range(rounds):
        order = ["httpx", "router", "router", "httpx"] if number % 2 == 0 else ["router", "httpx", "httpx", "router"]
        got: dict[str, float] = {"httpx": 0.0, "router": 0.0}
        for name in order:
            seconds = block(clients[name], url, n, request)
            times[name].append(seconds)
            got[name] += seconds
        ratios.append(got["router"] / got["httpx"])
        added.append((got["router"] - got["httpx"]) / 2)
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "httpx_us": median["httpx"] * 1e6,
        "router_us": median["router"] * 1e6,
        "ratio": statistics.median(ratios),
        "ratio_of_medians": median["router"] / median["httpx"],
        "added_us": statistics.median(added) * 1e6,
        "ratios": ratios,
    }


def _canned(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})


def decision_seconds(r: router.Router, url: str, n: int = 20_000) -> float:
    body = json.dumps(REQUEST).encode()
    path = httpx.URL(url).path
    start = time.perf_counter()
    for _ in range(n):
        if route(r, "POST", path, lambda: body, lambda name: None) is not None:
            raise SystemExit("a text-only request was routed")
    return (time.perf_counter() - start) / n


class _Recording(httpx.HTTPTransport):
    """The transport under the router's: keeps the last body it was given to send."""

    sent = b""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent = request.read()
        return super().handle_request(request)


def unchanged(r: router.Router, url: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send the request once through the router onto a recording transport: what went out, and what it did."""
    recording = _Recording()
    with httpx.Client(transport=RouterTransport(r, wrapped=recording)) as client:
        response = client.post(url, json=request, headers={"Authorization": "Bearer bench"})
    outcome = response.extensions["router"]
    if json.loads(recording.sent) != request or outcome.inlined_bytes:
        raise SystemExit(f"the router changed the request or inlined something: {outcome}")
    return {"action": outcome.action, "inlined_bytes": outcome.inlined_bytes, "sent_unchanged": True}


def watch_dns() -> set[str]:
    """Every host this process asks the resolver for, from now on."""
    asked: set[str] = set()
    resolve = socket.getaddrinfo

    def recorded(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.add(str(host))
        return resolve(host, *args, **kwargs)

    socket.getaddrinfo = recorded
    return asked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--images", type=int, default=0, help="send N image URLs that need nothing instead of text")
    args = parser.parse_args()
    dns = watch_dns()
    request = images_request(args.images) if args.images else REQUEST

    r = router.Router()
    checked = unchanged(r, args.url, request) if args.images else {}
    loopback = {"httpx": httpx.Client(), "router": httpx.Client(transport=RouterTransport(r))}
    mocked = {
        "httpx": httpx.Client(transport=httpx.MockTransport(_canned)),
        "router": httpx.Client(transport=RouterTransport(r, wrapped=httpx.MockTransport(_canned))),
    }
    for client in [*loopback.values(), *mocked.values()]:
        block(client, args.url, 300, request)  # warm-up: connection, imports on first use

    wire = compare(loopback, args.url, args.rounds, args.block, request)
    local = compare(mocked, args.url, args.rounds, args.block, request)
    overhead = local["router_us"] - local["httpx_us"]
    out = {
        "body_bytes": len(json.dumps(request).encode()),
        "requests_per_client": args.rounds * args.block * 2,
        **wire,
        "client_httpx_us": local["httpx_us"],
        "client_router_us": local["router_us"],
        "client_overhead_us": overhead,
        "client_ratio": local["ratio"],
        "implied_ratio": 1 + overhead / wire["httpx_us"],
        "rounds": args.rounds,
        "block": args.block,
        **({"images": args.images, **checked} if args.images else {"decision_us": decision_seconds(r, args.url) * 1e6}),
        "dns_lookups": sorted(dns),
    }
    if dns - {httpx.URL(args.url).host}:
        raise SystemExit(f"hosts other than the server were looked up: {sorted(dns)}")
    for client in [*loopback.values(), *mocked.values()]:
        client.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
