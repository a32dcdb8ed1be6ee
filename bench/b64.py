"""Base64 throughput against a plain memory copy of the same bytes, in a fresh process.

    python bench/b64.py [FILE] [--mb 64] [--repeat 5]

Prints one JSON object: GB/s of input (10**9 bytes per second, median of ``repeat``) for

- ``copy``: ``bytes(bytearray)``, one allocating memory copy of the whole buffer (the floor for any pass);
- ``pybase64`` and ``stdlib`` (``base64.b64encode``): the whole buffer in one call, as the naive recipe does;
- ``*_chunked``: 768 KiB at a time, the router's loop (``CHUNK`` of
  ``router._rewrite.pieces``), with ``copy_chunked`` as its floor;
- ``router_file``: ``router._rewrite.pieces.encode_file`` over FILE (read from the page cache and encode), when given.

``router_encoder`` names the encoder ``router._rewrite.pieces`` picked (``pybase64`` with the ``fast`` extra).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pybase64

from router._rewrite import pieces as rewrite
from router._rewrite.pieces import encode_file


def rate(work: Callable[[], object], size: int, repeat: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return size / statistics.median(times) / 1e9


def chunked(encode: Callable[[memoryview], object], view: memoryview, chunk: int) -> Callable[[], None]:
    def run() -> None:
        for at in range(0, len(view), chunk):
            encode(view[at : at + chunk])

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?")
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    size = args.mb * 2**20 // 3 * 3
    data = bytearray(os.urandom(size))
    frozen = bytes(data)
    view = memoryview(frozen)
    chunk = rewrite.CHUNK
    out = {
        "buffer_bytes": size,
        "chunk_bytes": chunk,
        "router_encoder": f"{rewrite._b64encode.__module__}.{rewrite._b64encode.__name__}",
        "pybase64": pybase64.get_version(),  # e.g. "1.5.1 (C extension active - AVX2)"
        "gbps": {
            "copy": rate(lambda: bytes(data), size, args.repeat),
            "pybase64": rate(lambda: pybase64.b64encode(frozen), size, args.repeat),
            "stdlib": rate(lambda: base64.b64encode(frozen), size, args.repeat),
            "copy_chunked": rate(chunked(bytes, view, chunk), size, args.repeat),
            "pybase64_chunked": rate(chunked(pybase64.b64encode, view, chunk), size, args.repeat),
            "stdlib_chunked": rate(chunked(base64.b64encode, view, chunk), size, args.repeat),
        },
    }
    if args.file:
        path = Path(args.file)

        def from_file() -> None:
            with path.open("rb") as fh:
                for _ in encode_file(fh):
                    pass

        out["gbps"]["router_file"] = rate(from_file, path.stat().st_size, args.repeat)
        out["file_bytes"] = path.stat().st_size
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
