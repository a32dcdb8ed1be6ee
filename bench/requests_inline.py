"""The requests adapter against the seed's recipe: peak memory and time to inline one big video, same run.

    python bench/requests_inline.py [--size 60] [--reps 3] [--settle 60]

``requests``: ``requests.Session`` with ``router.RequestsAdapter(Router())`` mounted posts the request with the
video's URL; the router downloads it to a spooled file and streams the body as base64 with an exact length.
``seed``: the recipe the project started from: read the file, base64 it in memory, and
``requests.post(url, headers=..., json=payload)``.

Each measurement is ``bench/inline.py`` in a fresh child process (peak RSS growth over the request alone),
interleaved (A B, then B A); the media server and the sink are child processes of their own (``bench/servers.py``).
Both bodies are first checked to decode to the served clip. Prints one JSON object and a line per recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import media
from run import BENCH, GEMINI_CAP, PY, _sha256, log, median, override_table, run_json, servers, settle


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=float, default=60, help="the video's size in MB (default 60)")
    parser.add_argument("--reps", type=int, default=3, help="measurements per recipe (default 3)")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for a quiet machine first")
    args = parser.parse_args(argv)

    path = media.make_clip(args.size)
    file_bytes = path.stat().st_size
    caps = ["--capabilities", str(override_table())] if -(-file_bytes // 3) * 4 > GEMINI_CAP else []
    base = [PY, str(BENCH / "inline.py")]
    runs: dict[str, list[dict[str, Any]]] = {"requests": [], "seed": []}
    with servers() as srv:
        url = f"{srv['media'].origin}/{path.name}"
        sink = f"{srv['sink'].origin}/api/v1/chat/completions"
        argv_of = {mode: [*base, mode, url, sink, "--file", str(path), *caps] for mode in runs}
        digest = _sha256(path)
        for mode, command in argv_of.items():  # correctness first: the sink decodes the data URL and hashes it
            got = run_json([*command, "--verify", digest])
            if got["status"] != 200 or got["verified"] is not True:
                raise RuntimeError(f"{mode} sent a wrong body: {got}")
        quiet = settle(args.settle)
        for rep in range(args.reps):
            for mode in ("requests", "seed") if rep % 2 == 0 else ("seed", "requests"):
                got = run_json(argv_of[mode])
                if got["status"] != 200 or got["sent_bytes"] is None:
                    raise RuntimeError(f"{mode}: {got}")
                runs[mode].append(got)
                log(f"{args.size:g} MB {mode}: {got['growth_bytes'] / 2**20:.1f} MiB, {got['seconds']:.2f} s")
    result = {
        "file_bytes": file_bytes,
        "body_bytes": runs["requests"][0]["sent_bytes"],
        **quiet,
        **{
            mode: {
                "growth_bytes": median([r["growth_bytes"] for r in rs]),
                "seconds": median([r["seconds"] for r in rs]),
                "samples": [{k: r[k] for k in ("growth_bytes", "seconds")} for r in rs],
            }
            for mode, rs in runs.items()
        },
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    for mode in runs:
        growth, seconds = result[mode]["growth_bytes"], result[mode]["seconds"]
        share = growth / file_bytes
        print(f"{mode:>8}: peak RSS growth {growth / 2**20:7.1f} MiB ({share:.2f}x the video), {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
