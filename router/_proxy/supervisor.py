"""``router serve --workers N``: N processes sharing one listening socket (bound once, backlog as asked), each a
``DrainingServer``; the supervisor forwards the stop signal, restarts a worker that dies, and owns the Prometheus
multiprocess directory.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from types import FrameType

from .app import create_app
from .server import ServerOptions, configure_logging, run
from .settings import ProxySettings

__all__ = ["supervise"]

log = logging.getLogger("router")
STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start: never restarted


def _worker(settings: ProxySettings, options: ServerOptions, sock: socket.socket, verbose: bool) -> None:
    """One ``--workers`` process: the supervisor's SIGTERM drains it; Ctrl-C reaches the supervisor only."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(sys.stderr, verbose)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is ignored; belt and braces
        run(create_app(settings), sock, options, (signal.SIGTERM,))


def supervise(
    settings: ProxySettings,
    options: ServerOptions,
    sock: socket.socket,
    verbose: bool = True,
    early: list[int] | None = None,
) -> int:
    """Run ``options.workers`` worker processes on ``sock`` until SIGTERM/SIGINT, then drain them all."""
    metrics_dir = tempfile.mkdtemp(prefix="router-metrics-")
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # inherited by the spawned workers
    context = multiprocessing.get_context("spawn")
    stops: list[int] = list(early or [])
    wake = threading.Event()
    if stops:
        wake.set()

    def on_signal(sig: int, frame: FrameType | None) -> None:
        stops.append(sig)
        wake.set()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(settings, options, sock, verbose), name="router-worker")
        process.start()
        return process

    from prometheus_client.multiprocess import mark_process_dead

    original = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        workers = [start() for _ in range(options.workers)]
        while not wake.wait(0.5):
            for number, process in enumerate(workers):
                if process.is_alive():
                    continue
                mark_process_dead(process.pid, metrics_dir)  # type: ignore[no-untyped-call]
                if process.exitcode == STARTUP_FAILURE:
                    log.error("router proxy: a worker could not start; stopping")
                    status = 1
                    wake.set()
                    break
                log.warning("router proxy: worker %s exited (%s); starting another", process.pid, process.exitcode)
                workers[number] = start()
        forwarded = 0
        deadline = time.monotonic() + options.drain_delay + options.grace_period + 10
        while any(p.is_alive() for p in workers) and time.monotonic() < deadline:
            if forwarded < min(len(stops), 2):  # the first signal drains; a second one stops at once
                for process in workers:
                    if process.is_alive() and process.pid is not None:
                        os.kill(process.pid, signal.SIGTERM)
                forwarded += 1
            wake.clear()
            wake.wait(0.1)
        for process in workers:
            if process.is_alive():
                process.kill()
            process.join(5)
    finally:
        for sig, handler in original.items():
            signal.signal(sig, handler)
        if previous is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status
