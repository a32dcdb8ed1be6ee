"""A lean HTTP/1.1 load generator (asyncio protocols, uvloop when installed), run in a process of its own.

    python bench/load.py URL --concurrency 256 --seconds 5 [--sse] [--requests N]

Keeps ``--concurrency`` keep-alive connections busy, each sending the same small chat request and reading the
whole answer (Content-Length or chunked) before the next. Stops at ``--seconds`` or after ``--requests`` in all,
whichever comes first. Prints one JSON object: requests, errors (by kind), rps, latency percentiles and, with
``--sse``, the time to the first event of each stream. A client that costs little per request, so that what is
measured is the server side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from typing import Any, cast
from urllib.parse import urlsplit

BODY = json.dumps(
    {
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            {"role": "user", "content": "Summarise the plot of a film about a robot who learns to paint. " * 3},
        ],
    }
).encode()


class _Run:
    def __init__(self, request: bytes, deadline: float, budget: int, sse: bool) -> None:
        self.request, self.deadline, self.budget, self.sse = request, deadline, budget, sse
        self.started = 0
        self.latencies: list[float] = []
        self.first_event: list[float] = []
        self.errors: Counter[str] = Counter()
        self.done = asyncio.Event()
        self.open = 0

    def take(self) -> bool:
        if self.started >= self.budget or time.perf_counter() >= self.deadline:
            return False
        self.started += 1
        return True


class _Conn(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.start = 0.0
        self.first: float | None = None
        self.busy = False
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's subclasses
        self.next()

    def next(self) -> None:
        assert self.transport is not None
        if not self.run.take():
            self.busy = False
            self.transport.close()
            return
        self.busy = True
        self.buffer.clear()
        self.first = None
        self.start = time.perf_counter()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.run.sse and self.first is None and b"data:" in data:
            self.first = time.perf_counter()
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        body = len(self.buffer) - end - 4
        if b"transfer-encoding: chunked" in head:
            complete = self.buffer.endswith(b"\r\n0\r\n\r\n") or self.buffer.endswith(b"\r\n\r\n0\r\n\r\n")
        else:
            at = head.find(b"content-length:")
            complete = at >= 0 and body >= int(head[at + 15 :].split(b"\r\n", 1)[0])
        if not complete:
            return
        now = time.perf_counter()
        if head[9:12] == b"200":
            self.run.latencies.append(now - self.start)
            if self.first is not None:
                self.run.first_event.append(self.first - self.start)
        else:
            self.run.errors[f"status {head[9:12].decode()}"] += 1
        if b"connection: close" in head:
            self.busy = False
            assert self.transport is not None
            self.transport.close()
            return
        self.next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy:
            self.run.errors[f"connection lost ({type(exc).__name__ if exc else 'closed'})"] += 1
        if not self.lost.done():
            self.lost.set_result(None)


async def _client(run: _Run, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    while time.perf_counter() < run.deadline and run.started < run.budget:
        try:
            _, conn = await loop.create_connection(lambda: _Conn(run), host, port)
        except OSError as exc:
            run.errors[f"connect ({type(exc).__name__})"] += 1
            await asyncio.sleep(0.01)
            continue
        await conn.lost
        if not conn.busy:
            return  # it closed because the run is over (or the server asked to close: reconnect)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = BODY if not args.sse else json.dumps({**json.loads(BODY), "stream": True}).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    start = time.perf_counter()
    run = _Run(request, start + args.seconds, args.requests or 1 << 62, args.sse)
    await asyncio.gather(*(_client(run, host, port) for _ in range(args.concurrency)))
    seconds = time.perf_counter() - start
    lat = sorted(run.latencies)

    def pct(values: list[float], q: float) -> float | None:
        return values[min(len(values) - 1, int(q * len(values)))] * 1e3 if values else None

    first = sorted(run.first_event)
    return {
        "concurrency": args.concurrency,
        "sse": args.sse,
        "requests": len(lat),
        "errors": sum(run.errors.values()),
        "error_kinds": dict(run.errors),
        "seconds": seconds,
        "rps": len(lat) / seconds,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "mean_ms": statistics.fmean(lat) * 1e3 if lat else None,
        "first_event_p50_ms": pct(first, 0.5),
        "first_event_p99_ms": pct(first, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--requests", type=int, default=0, help="stop after this many in all (0: no limit)")
    parser.add_argument("--sse", action="store_true", help='ask for "stream": true and time the first event')
    args = parser.parse_args()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    print(json.dumps(runner(main_async(args))))


if __name__ == "__main__":
    main()
