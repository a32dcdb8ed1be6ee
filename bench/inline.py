"""One inline measurement in a fresh process: send a request whose media URL must be inlined, report memory and time.

    python bench/inline.py router|naive|requests|seed MEDIA_URL SINK_URL [--kind video|audio] [--capabilities YAML]
                           [--verify SHA256] [--file PATH]

Prints one JSON object. Memory is the peak resident set (``VmHWM``) reset just before the request
(``/proc/self/clear_refs`` 5), minus the resident set at that moment: imports, ``Router()`` and the clients
are already made, so only what the request itself costs is counted. The media server and the sink run in
processes of their own.

``router``: ``httpx.Client(transport=RouterTransport(router))`` posts the request with the URL; the router
downloads the media to a spooled file and streams the body as base64 with its exact ``Content-Length``.

``naive``: what a team writes today without it: download the media, base64 it, put it in the request (a
video as a data URL, audio as ``input_audio``'s bare base64 and ``format``) and ``client.post(url,
json=request)`` (``json.dumps`` and ``.encode()`` inside httpx).

``requests``: a ``requests.Session`` with ``router.RequestsAdapter(router)`` mounted posts the request with the URL
(``bench/requests_inline.py`` runs it against ``seed``).

``seed``: the recipe the project started from: read the local file (``--file``, the one the media server serves),
base64 it in memory, ``requests.post(url, headers=..., json=payload)``.

``--kind audio``: the URL is an ``input_audio`` part's ``data`` (a WAV): OpenRouter takes no audio URLs, so the
router downloads it and sends bare base64 with the format read from the bytes.
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import sys
import time
from typing import Any

import httpx

import router
from router.transport import RouterTransport

MODEL = "google/gemini-2.5-flash"
PROVIDER = "google-ai-studio"  # takes no plain video URLs: an https/http URL must be inlined


def request_for(value: str, kind: str = "video") -> dict[str, Any]:
    """The request with one media part: ``value`` is a video URL (or data URL), or an audio URL (or bare base64)."""
    if kind == "audio":
        text = "What is said in this recording? Answer in one sentence."
        part: dict[str, Any] = {"type": "input_audio", "input_audio": {"data": value, "format": "wav"}}
    else:
        text = "What happens in this video? Answer in one sentence."
        part = {"type": "video_url", "video_url": {"url": value}}
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}, part]}],
        "provider": {"only": [PROVIDER]},
    }


def naive(client: httpx.Client, url: str, sink: str, headers: dict[str, str], kind: str) -> httpx.Response:
    encoded = base64.b64encode(client.get(url).raise_for_status().content).decode("ascii")
    request = request_for(encoded if kind == "audio" else "data:video/mp4;base64," + encoded, kind)
    return client.post(sink, json=request, headers=headers)


def seed(path: str, sink: str, headers: dict[str, str]) -> Any:
    import requests

    with open(path, "rb") as fh:
        video = fh.read()
    data_url = "data:video/mp4;base64," + base64.b64encode(video).decode("ascii")
    return requests.post(sink, headers=headers, json=request_for(data_url), timeout=120)


def status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak() -> bool:
    """Make VmHWM (and ru_maxrss) start again from the current resident set (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["router", "naive", "requests", "seed"])
    parser.add_argument("url")
    parser.add_argument("sink")
    parser.add_argument("--kind", choices=["video", "audio"], default="video")
    parser.add_argument("--capabilities", action="append", default=[])
    parser.add_argument("--verify", metavar="SHA256")
    parser.add_argument("--file", help="seed: the video file to read (the one MEDIA_URL serves)")
    args = parser.parse_args()
    if args.mode == "seed" and not args.file:
        parser.error("seed needs --file")

    r = router.Router(args.capabilities or None, allow_private_urls=True)
    timeout = httpx.Timeout(120)
    if args.mode == "router":
        client = httpx.Client(transport=RouterTransport(r), timeout=timeout)
    else:
        client = httpx.Client(timeout=timeout)
    if args.mode in ("requests", "seed"):
        import requests  # only these modes pay for it, before the measurement starts

        session = requests.Session()
        if args.mode == "requests":
            session.mount(args.sink.split("/api/", 1)[0] + "/", router.RequestsAdapter(r))
    headers = {"Authorization": "Bearer bench"}
    if args.verify:
        headers["X-Bench-Verify"] = args.verify

    reset = reset_peak()
    rss_setup = status_kb("VmRSS")
    start = time.perf_counter()
    response: Any
    if args.mode == "router":
        response = client.post(args.sink, json=request_for(args.url, args.kind), headers=headers)
    elif args.mode == "requests":
        response = session.post(args.sink, json=request_for(args.url, args.kind), headers=headers, timeout=120)
    elif args.mode == "seed":
        response = seed(args.file, args.sink, headers)
    else:
        response = naive(client, args.url, args.sink, headers, args.kind)
    seconds = time.perf_counter() - start
    peak = status_kb("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        content = json.loads(response.json()["choices"][0]["message"]["content"])
    except (ValueError, KeyError):
        content = {"error": response.text[:500]}
    out = {
        "mode": args.mode,
        "kind": args.kind,
        "status": response.status_code,
        "seconds": seconds,
        "rss_setup_kb": rss_setup,
        "peak_kb": peak,
        "growth_bytes": (peak - rss_setup) * 1024,
        "ru_maxrss_kb": maxrss,
        "peak_reset": reset,
        "sent_bytes": content.get("received"),
        "verified": content.get("verified"),
        "upstream": content,
    }
    client.close()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
