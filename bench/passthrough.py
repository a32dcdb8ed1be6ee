"""Text-only pass-through cost in a fresh process: the same request through bare httpx and through RouterTransport.

    python bench/passthrough.py CHAT_URL [--rounds N] [--block N]

Prints one JSON object. Both clients post the same text-only chat request (about 1.3 KB) to a loopback
server over keep-alive. Each round times four blocks, A B B A (B A A B the next round), so drift and order
effects hit both clients alike; a round's ratio is the routed blocks' total over the bare blocks' total, and
``ratio`` is the median over rounds (``ratio_of_medians`` compares the median block means instead).

The same is done with no network at all, both clients on ``httpx.MockTransport`` (``client_*``): that is
the transport's own cost per request, free of server and scheduling noise, and ``implied_ratio`` is what it
comes to against the loopback round trip. ``decision_us`` times the screen alone (``route`` on the same
bytes): a body without video is never parsed.
"""

from __future__ import annotations

import argparse
import json
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


def block(client: httpx.Client, url: str, n: int) -> float:
    """Mean seconds per request over ``n`` requests."""
    start = time.perf_counter()
    for _ in range(n):
        response = client.post(url, json=REQUEST, headers={"Authorization": "Bearer bench"})
        if response.status_code != 200:
            raise SystemExit(f"the chat server answered {response.status_code}")
    return (time.perf_counter() - start) / n


def compare(clients: dict[str, httpx.Client], url: str, rounds: int, n: int) -> dict[str, Any]:
    """ABBA rounds: per-round ratio routed/bare, and the median mean-time per request of each client."""
    times: dict[str, list[float]] = {"httpx": [], "router": []}
    ratios = []
    for number in range(rounds):
        order = ["httpx", "router", "router", "httpx"] if number % 2 == 0 else ["router", "httpx", "httpx", "router"]
        got: dict[str, float] = {"httpx": 0.0, "router": 0.0}
        for name in order:
            seconds = block(clients[name], url, n)
            times[name].append(seconds)
            got[name] += seconds
        ratios.append(got["router"] / got["httpx"])
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "httpx_us": median["httpx"] * 1e6,
        "router_us": median["router"] * 1e6,
        "ratio": statistics.median(ratios),
        "ratio_of_medians": median["router"] / median["httpx"],
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--block", type=int, default=200)
    args = parser.parse_args()

    r = router.Router()
    loopback = {"httpx": httpx.Client(), "router": httpx.Client(transport=RouterTransport(r))}
    mocked = {
        "httpx": httpx.Client(transport=httpx.MockTransport(_canned)),
        "router": httpx.Client(transport=RouterTransport(r, wrapped=httpx.MockTransport(_canned))),
    }
    for client in [*loopback.values(), *mocked.values()]:
        block(client, args.url, 300)  # warm-up: connection, imports on first use

    wire = compare(loopback, args.url, args.rounds, args.block)
    local = compare(mocked, args.url, args.rounds, args.block)
    overhead = local["router_us"] - local["httpx_us"]
    out = {
        "body_bytes": len(json.dumps(REQUEST).encode()),
        "requests_per_client": args.rounds * args.block * 2,
        **wire,
        "client_httpx_us": local["httpx_us"],
        "client_router_us": local["router_us"],
        "client_overhead_us": overhead,
        "client_ratio": local["ratio"],
        "implied_ratio": 1 + overhead / wire["httpx_us"],
        "decision_us": decision_seconds(r, args.url) * 1e6,
        "rounds": args.rounds,
        "block": args.block,
    }
    for client in [*loopback.values(), *mocked.values()]:
        client.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
