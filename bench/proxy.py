"""`router serve` under load and with big bodies, against the same fast upstream reached directly, same run.

    python bench/proxy.py [--quick] [--out FILE]      # or: python bench/run.py --only proxy

Every server is a process of its own: the upstream (``servers.py chat``: a raw asyncio responder, SSE on
request), the sink and the media server for the inline runs, the proxy (``router serve``), and the load
generator (``load.py``: asyncio protocols on uvloop, cheap per request, so the servers are what is measured).
All traffic stays on loopback; every run is bounded in time.

- text: a ~400-byte chat request at concurrency 1, 32, 256 and 1000 for a few seconds each, direct then
  through the proxy (1 worker, and 2 workers): requests/s, errors, p50/p99 latency.
- SSE: 50-event streams (one event a millisecond) at concurrency 256: errors, and the time to the first event
  (a proxy that buffers would show the whole stream's 50 ms there).
- memory: peak RSS of the proxy process (``VmHWM``, reset through ``/proc/PID/clear_refs`` right before) while
  32 requests inline 60 MB video URLs at once (32 distinct URLs, 32 downloads), and while one client sends its
  own 60 MB video as an 80 MB data URL.
- event loop: the proxy's own lag histogram (``router_proxy_event_loop_lag_seconds``, sampled every ms) over
  one 60 MB URL inline, after a warm-up inline: the worst stall bucket that saw an observation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
sys.path.insert(0, str(BENCH))
import media  # noqa: E402  (bench/ is not a package)

MB = 10**6


def _log(message: str) -> None:
    sys.stderr.write(f"[bench proxy {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


class Child:
    """A child process that prints its address on its first line (``READY port`` or router's start line)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "ROUTER_"))}
        environ.update(env or {})
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env=environ
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.startswith("READY "):
            self.origin = f"http://127.0.0.1:{int(line.split()[1])}"
        elif line.startswith("router proxy on "):
            self.origin = line.split(" on ", 1)[1].split(" -> ", 1)[0]
        else:
            self.close()
            raise RuntimeError(f"{argv[:4]} did not start: {line!r}")

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def child(argv: list[str], env: dict[str, str] | None = None) -> Iterator[Child]:
    started = Child(argv, env)
    try:
        yield started
    finally:
        started.close()


def proxy(upstream: str, *args: str, env: dict[str, str] | None = None) -> Child:
    argv = [PY, "-m", "router", "serve", "--port", "0", "--base-url", f"{upstream}/api/v1", "--allow-private-urls"]
    proxied = Child([*argv, *args], {"ROUTER_LOOP_MONITOR_INTERVAL": "0.001", **(env or {})})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # workers load their table after the socket is bound
        try:
            if httpx.get(f"{proxied.origin}/readyz", timeout=5).status_code == 200:
                return proxied
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proxied.close()
    raise RuntimeError("the proxy did not become ready")


def load(url: str, concurrency: int, seconds: float, sse: bool = False) -> dict[str, Any]:
    argv = [PY, str(BENCH / "load.py"), url, "--concurrency", str(concurrency), "--seconds", str(seconds)]
    done = subprocess.run([*argv, *(["--sse"] if sse else [])], capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"load.py failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(line.split()[1] for line in fh if line.startswith(field + ":")))


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS to its current RSS; returns the current RSS in bytes."""
    with open(f"/proc/{pid}/clear_refs", "w") as fh:
        fh.write("5")
    return _status_kb(pid, "VmRSS") * 1024


def peak(pid: int) -> int:
    return _status_kb(pid, "VmHWM") * 1024


def lag_buckets(origin: str) -> dict[float, float]:
    """The loop-lag histogram's cumulative bucket counts, by upper bound in seconds."""
    text = httpx.get(f"{origin}/metrics", timeout=30).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "router_proxy_event_loop_lag_seconds_bucket":
                buckets[float(s.labels["le"])] = s.value
    return buckets


def worst_lag(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper bound of the highest bucket that gained observations (inf when beyond the last bound)."""
    bounds = sorted(after)
    worst = 0.0
    for low, high in zip([0.0, *bounds], bounds, strict=False):
        gained = (after[high] - before.get(high, 0)) - (after.get(low, 0) - before.get(low, 0) if low else 0)
        if gained > 0:
            worst = high
    return worst


def _inline_request(url: str) -> dict[str, Any]:
    return {
        "model": "google/gemini-2.5-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What happens in this video?"},
                    {"type": "video_url", "video_url": {"url": url}},
                ],
            }
        ],
        "provider": {"only": ["google-ai-studio"]},  # takes no plain URLs: a URL must be inlined
    }


async def _post_all(url: str, bodies: list[bytes]) -> list[int]:
    async with httpx.AsyncClient(timeout=600) as client:
        headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
        answers = await asyncio.gather(*(client.post(url, content=b, headers=headers) for b in bodies))
    return [a.status_code for a in answers]


def text_throughput(chat: str, levels: list[int], seconds: float) -> dict[str, Any]:
    direct_url = f"{chat}/api/v1/chat/completions"
    results: dict[str, Any] = {}
    for workers in (1, 2):
        with proxy(chat, "--workers", str(workers)) as proxied:
            through = f"{proxied.origin}/api/v1/chat/completions"
            load(through, 32, 1)  # warm-up: connections, lazy imports
            for c in levels:
                d = load(direct_url, c, seconds)
                p = load(through, c, seconds)
                results[f"w{workers}_c{c}"] = {"direct": d, "proxy": p, "ratio": p["rps"] / d["rps"]}
                _log(
                    f"text c={c} workers={workers}: direct {d['rps']:.0f}/s ({d['errors']} errors), proxy "
                    f"{p['rps']:.0f}/s ({p['errors']} errors), ratio {p['rps'] / d['rps']:.2f}, "
                    f"p99 {d['p99_ms']:.1f} -> {p['p99_ms']:.1f} ms"
                )
    return results


def ceiling(seconds: float) -> dict[str, Any]:
    """uvicorn, as the proxy runs it, around an ASGI app that does nothing: what any proxy on it could reach."""
    with child([PY, str(BENCH / "servers.py"), "hello"]) as hello:
        url = f"{hello.origin}/api/v1/chat/completions"
        load(url, 32, 1)
        results = {f"c{c}": load(url, c, seconds) for c in (32, 256)}
    _log(f"ceiling (uvicorn, do-nothing app): c=32 {results['c32']['rps']:.0f}/s, c=256 {results['c256']['rps']:.0f}/s")
    return results


def sse(chat: str, seconds: float) -> dict[str, Any]:
    with proxy(chat) as proxied:
        d = load(f"{chat}/api/v1/chat/completions", 256, seconds, sse=True)
        p = load(f"{proxied.origin}/api/v1/chat/completions", 256, seconds, sse=True)
        # Event by event, away from saturation: the first event against the whole 50 ms stream.
        light = load(f"{proxied.origin}/api/v1/chat/completions", 4, seconds, sse=True)
    _log(
        f"sse c=256: direct {d['rps']:.0f}/s first event {d['first_event_p50_ms']:.1f} ms; proxy {p['rps']:.0f}/s "
        f"({p['errors']} errors) first event {p['first_event_p50_ms']:.1f} ms"
    )
    return {"direct": d, "proxy": p, "ratio": p["rps"] / d["rps"], "proxy_c4": light}


def memory(sink: str, media_origin: str, clip: Path, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {"clip_bytes": clip.stat().st_size, "count": count}
    with proxy(sink) as proxied:
        url = f"{proxied.origin}/api/v1/chat/completions"
        pid = proxied.proc.pid
        warm = json.dumps(_inline_request(f"{media_origin}/{media.tiny_clip().name}?warm")).encode()
        assert asyncio.run(_post_all(url, [warm])) == [200]
        bodies = [json.dumps(_inline_request(f"{media_origin}/{clip.name}?i={i}")).encode() for i in range(count)]
        before = reset_peak(pid)
        start = time.perf_counter()
        statuses = asyncio.run(_post_all(url, bodies))
        out["url_inlines"] = {
            "statuses": sorted(set(statuses)),
            "ok": statuses.count(200),
            "seconds": time.perf_counter() - start,
            "rss_before": before,
            "peak_rss": peak(pid),
        }
        _log(f"{count} x {clip.stat().st_size / MB:.0f} MB URL inlines: peak RSS {peak(pid) / 2**20:.0f} MiB")
        # One inline, after the warm-up: the worst event-loop stall it caused.
        lag_before = lag_buckets(proxied.origin)
        one = json.dumps(_inline_request(f"{media_origin}/{clip.name}?lag")).encode()
        assert asyncio.run(_post_all(url, [one])) == [200]
        out["inline_worst_lag_s"] = worst_lag(lag_before, lag_buckets(proxied.origin))
        _log(f"one 60 MB URL inline: worst loop lag bucket {out['inline_worst_lag_s'] * 1e3:g} ms")
    # A client that inlines its own video: an 80 MB body through a fresh proxy.
    data_url = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    body = json.dumps(_inline_request(data_url)).encode()
    del data_url
    with proxy(sink) as proxied:
        url = f"{proxied.origin}/api/v1/chat/completions"
        pid = proxied.proc.pid
        assert asyncio.run(_post_all(url, [json.dumps({"model": "x", "messages": []}).encode()])) == [200]
        lag_before = lag_buckets(proxied.origin)
        before = reset_peak(pid)
        start = time.perf_counter()
        statuses = asyncio.run(_post_all(url, [body]))
        out["client_inlined"] = {
            "body_bytes": len(body),
            "statuses": statuses,
            "seconds": time.perf_counter() - start,
            "rss_before": before,
            "peak_rss": peak(pid),
            "worst_lag_s": worst_lag(lag_before, lag_buckets(proxied.origin)),
        }
        c = out["client_inlined"]
        _log(
            f"client-inlined {len(body) / MB:.0f} MB body: status {statuses}, growth "
            f"{(c['peak_rss'] - before) / 2**20:.0f} MiB, {c['seconds']:.2f} s"
        )
    return out


def _settle(limit: float) -> dict[str, float]:
    import run  # bench/run.py: the same quiet-machine wait as every other benchmark

    return run.settle(limit)


def bench_proxy(quick: bool = False, settle: float = 60) -> dict[str, Any]:
    seconds = 2.0 if quick else 5.0
    clip = media.make_clip(60)
    media.tiny_clip()
    with (
        child([PY, str(BENCH / "servers.py"), "chat"]) as chat,
        child([PY, str(BENCH / "servers.py"), "sink"]) as sink,
        child([PY, str(BENCH / "servers.py"), "media", str(media.CACHE)]) as media_server,
    ):
        results: dict[str, Any] = {"seconds_per_point": seconds, "quiet": {}}
        results["quiet"]["text"] = _settle(settle)
        results["text"] = text_throughput(chat.origin, [1, 32, 256, 1000], seconds)
        results["ceiling"] = ceiling(seconds)
        results["quiet"]["sse"] = _settle(settle)
        results["sse"] = sse(chat.origin, seconds)
        results["quiet"]["memory"] = _settle(settle)
        results["memory"] = memory(sink.origin, media_server.origin, clip, 8 if quick else 32)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per point and 8 inlines instead of 32")
    parser.add_argument("--out", help="write the JSON here too")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for a quiet machine (default 60)")
    args = parser.parse_args()
    results = bench_proxy(args.quick, args.settle)
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
