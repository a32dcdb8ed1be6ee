"""``router serve`` as a subprocess for end-to-end tests, in front of the fake upstream (``tests/upstream.py``).

    proxy = Proxy(upstream, "--allow-private-urls", env={"OPENROUTER_API_KEY": "..."})
    proxy.url                      # http://127.0.0.1:PORT, as the proxy printed it
    proxy.wait_for("status=200")   # the first stderr line (access log) holding the text
    proxy.stop()                   # SIGTERM, then the exit status; close() kills it

OPENROUTER_* and ROUTER_* variables of the test run are not passed on: a proxy gets only what the test gives it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from upstream import FakeOpenRouter

__all__ = ["Proxy"]


class Proxy:
    """``router serve`` in a subprocess: ``url``, its stderr lines as they come, signals, exit status."""

    def __init__(self, upstream: FakeOpenRouter, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "ROUTER_"))}
        environ.update(env or {})
        argv = [sys.executable, "-m", "router", "serve", "--port", "0", "--base-url", upstream.base_url, *args]
        self.proc = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stderr,), daemon=True).start()
        first = self.proc.stdout.readline()
        assert first.startswith("router proxy on "), first + self.stderr_now()
        self.url = first.split(" on ", 1)[1].split(" -> ", 1)[0]
        self.port = int(self.url.rsplit(":", 1)[1])

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def stderr_now(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "\n".join(self.seen)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first stderr line (from now on, or already seen) that contains ``text``."""
        for line in self.seen:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no stderr line with {text!r} in {timeout} s:\n{self.stderr_now()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
