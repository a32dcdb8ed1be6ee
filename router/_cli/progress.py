"""Progress bars in the CLI, drawn by ``rich`` on a terminal: long downloads and uploads (``ProgressDisplay``),
and the requests of a catalogue refresh (``CountBar``).

``rich`` is the optional ``progress`` extra and is imported only when a bar will be drawn: piped output,
CI logs and library callers see nothing and pay nothing. Download callbacks take ``(bytes done, total or
None)``, the shape the fetcher reports downloads in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any

__all__ = ["Callback", "CountBar", "ProgressDisplay", "counting"]

Callback = Callable[[int, int | None], None]


def _noop(done: int, total: int | None) -> None:
    """Stands in when nothing is drawn, so callers never branch on the display being there."""


class ProgressDisplay:
    """One ``rich`` progress area on ``stream`` (stderr by default); inert when it cannot or should not draw.

    ``enabled=None`` draws only when ``stream`` is a terminal and ``rich`` is installed; ``True`` forces a
    bar (tests, or a terminal that does not say it is one), ``False`` never draws.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        forced = enabled is True
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self._progress: Any = None
        self._live = False
        if enabled:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )
            except ImportError:  # the `progress` extra is not installed: run without a bar
                return
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream, force_terminal=forced or None),
                transient=True,
                redirect_stdout=False,  # the answer goes to the caller's stdout untouched
                redirect_stderr=False,
            )

    @property
    def enabled(self) -> bool:
        return self._progress is not None

    def __enter__(self) -> ProgressDisplay:
        if self._progress is not None:
            self._progress.start()
            self._live = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the bars off the screen (idempotent): call it before printing an answer."""
        if self._live:
            self._live = False
            self._progress.stop()

    def note(self, text: str) -> None:
        """A line for people, printed above the bars so they do not tear it."""
        if self._live:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def share(self, description: str) -> Callable[[float], None]:
        """A callback for work measured as a share done (0..1), such as fitting a video, drawn as a bar."""
        draw = self.task(description)
        return lambda done: draw(round(done * 1000), 1000)

    def task(self, description: str) -> Callback:
        """A callback that draws one bar per transfer; a count that goes backwards starts the next bar.

        The fetcher downloads a request's videos one after another through the same callback, so a fresh
        count of bytes means a fresh file.
        """
        progress = self._progress
        if progress is None:
            return _noop
        state: dict[str, Any] = {"id": None, "done": -1, "n": 0}

        def update(done: int, total: int | None) -> None:
            if state["id"] is None or done < state["done"]:
                if state["id"] is not None:
                    progress.update(state["id"], visible=False)
                state["n"] += 1
                label = description if state["n"] == 1 else f"{description} ({state['n']})"
                state["id"] = progress.add_task(label, total=total)
            state["done"] = done
            progress.update(state["id"], completed=done, total=total)

        return update


def counting(chunks: Iterable[bytes], total: int | None, callback: Callback) -> Iterator[bytes]:
    """Pass ``chunks`` through, reporting bytes sent so far: an upload's progress without a second buffer."""
    done = 0
    callback(0, total)
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        callback(done, total)


class CountBar:
    """``endpoints 12/60`` as a ``rich`` bar on a terminal (the ``progress`` extra); nothing otherwise.

    ``update(done, total)`` is the progress callback ``refresh`` takes (requests done, requests in all).
    """

    def __init__(self, stream: IO[str], label: str, *, enabled: bool | None = None) -> None:
        self._progress: Any = None
        self._task: Any = None
        self._label = label
        isatty = getattr(stream, "isatty", None)
        if not (enabled if enabled is not None else bool(isatty and isatty())):
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:  # the `progress` extra is not installed: no bar
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream, force_terminal=enabled or None),
            transient=True,
        )

    def __enter__(self) -> CountBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            return
        if self._task is None:
            self._task = self._progress.add_task(self._label, total=total)
        self._progress.update(self._task, completed=done, total=total)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
