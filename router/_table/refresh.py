"""Refresh the catalogue from OpenRouter: ``router models --refresh``, and the background refresh of servers.

:func:`refresh` reads, from the base URL (default ``https://openrouter.ai/api/v1``, no API key needed),
``GET /models?output_modalities=all``, then ``GET /models/{author}/{slug}/endpoints`` for every model that
takes media (video, audio, images, files; a few at a time), and ``GET /providers``; checks that the table still
loads with it and that the answer looks like OpenRouter's catalogue (``router._table.refresh_check``); stores it
in the user cache directory, in the file of that base URL (atomically); and says in one line what changed against
the data in use. Every
call has a timeout; 408, 429 and 5xx answers and dropped connections are retried with capped exponential
backoff (a ``Retry-After`` of up to 30 s is honoured, a longer one ends the refresh). Any failure is one
:class:`RefreshError` (:class:`RefreshRefused` when the answer looks wrong) and leaves the cache as it was.

:class:`LiveTable` is the building block for long-running processes (``router serve``, a ``Router`` kept
for days): it hands out the current table at memory speed and, once its TTL (a ``cachetools.TTLCache``,
24 h by default) has run out, refreshes in a background thread, swapping the new table in on success and
keeping the old one (retrying an hour later) on failure.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import cachetools
import httpx

from .._base.errors import CapabilityError, RouterError
from .._base.kinds import KINDS
from .._base.rules import shorten
from .._base.version import __version__
from .capabilities import CapabilityTable
from .catalogue import (
    DEFAULT_BASE_URL,
    Catalogue,
    cache_path,
    details_path,
    from_api,
    input_modalities,
    normalise_base_url,
    read_cached,
    warn,
    write_cached,
)
from .load import load_table
from .refresh_check import changes, dropped, label, models_of, not_a_listing, summary

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TTL",
    "CountBar",
    "LiveTable",
    "RefreshError",
    "RefreshRefused",
    "RefreshResult",
    "afetch",
    "changes",
    "fetch",
    "refresh",
]

DEFAULT_TTL = 24 * 3600.0
CONCURRENCY = 8
TIMEOUT = 30.0
ATTEMPTS = 5
MAX_RETRY_AFTER = 30.0
RETRY_FAILED_AFTER = 3600.0

log = logging.getLogger("router")
Progress = Callable[[int, int], None]


class RefreshError(RouterError):
    """The catalogue could not be refreshed; the message is one line saying why. Nothing was written."""


class RefreshRefused(RefreshError):
    """The answer does not look like OpenRouter's catalogue, so it was not taken. ``forceable``: ``force=True``
    (``--force``) would take it; False when there is nothing to take (no model list at all)."""

    def __init__(self, message: str, *, forceable: bool = True) -> None:
        super().__init__(message)
        self.forceable = forceable


@dataclass(frozen=True, slots=True)
class RefreshResult:
    catalogue: Catalogue
    table: CapabilityTable  # the table as it loads with the new catalogue
    path: Path | None  # where it was stored (None: not stored)
    summary: str  # one line: what was read and what changed against the data in use


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when.tzinfo else None


async def _get(
    client: httpx.AsyncClient, url: str, gate: asyncio.Semaphore, *, attempts: int, missing_ok: bool = False
) -> Any:
    """GET ``url`` as JSON, retrying what is transient. ``missing_ok``: a 404, or a 200 that is not JSON, is None
    (unknown), not an error.

    A refused connection is tried twice only: nothing listens there, and waiting will rarely change that.
    """
    why = ""
    for attempt in range(attempts):
        wait = min(0.5 * 2**attempt, 8.0) + random.uniform(0, 0.25)
        try:
            async with gate:
                response = await client.get(url)
        except httpx.TimeoutException:
            why = "timed out"
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise RefreshError(f"{shorten(url)} is not a URL router can read ({exc})") from None
        except httpx.ConnectError as exc:
            why = f"cannot connect ({exc})"
            if attempt >= 1:
                raise RefreshError(f"{shorten(url)}: {why}") from None
        except httpx.TransportError as exc:
            why = f"connection failed ({exc})"
        else:
            status = response.status_code
            if status == 200:
                try:
                    return response.json()
                except ValueError:
                    if missing_ok:
                        return None
                    kind = response.headers.get("content-type", "no content type").split(";")[0]
                    raise RefreshRefused(
                        f"refused the answer of {shorten(url)}: it is not OpenRouter's catalogue ({kind}, not JSON)",
                        forceable=False,
                    ) from None
            if status == 404 and missing_ok:
                return None
            if status not in (408, 429) and status < 500:
                raise RefreshError(f"{shorten(url)} answered HTTP {status}")
            why = f"HTTP {status}" + (" (rate-limited)" if status == 429 else "")
            asked = _retry_after(response)
            if asked is not None:
                if asked > MAX_RETRY_AFTER:
                    raise RefreshError(f"{shorten(url)} answered {why} and asks to wait {asked:.0f} s; try later")
                wait = asked
        if attempt + 1 < attempts:
            await asyncio.sleep(wait)
    raise RefreshError(f"{shorten(url)}: {why} ({attempts} attempts)")


async def afetch(
    base_url: str = DEFAULT_BASE_URL,
    *,
    client: httpx.AsyncClient | None = None,
    concurrency: int = CONCURRENCY,
    timeout: float = TIMEOUT,
    attempts: int = ATTEMPTS,
    progress: Progress | None = None,
    force: bool = False,
) -> Catalogue:
    """Read the catalogue from ``base_url``; ``progress(done, total)`` follows the endpoint requests.

    A ``GET /models`` answer that is not OpenRouter's shape raises :class:`RefreshRefused`; with ``force``, the
    entries that are models are taken when there are any. A missing (404) or malformed endpoints or providers
    answer leaves those facts unknown.
    """
    base = normalise_base_url(base_url)
    own = client is None
    http = client or httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        limits=httpx.Limits(max_connections=concurrency),
        headers={"User-Agent": f"router/{__version__} (catalogue refresh)", "Accept": "application/json"},
        follow_redirects=True,
    )
    gate = asyncio.Semaphore(concurrency)
    try:
        listing = await _get(http, f"{base}/models?output_modalities=all", gate, attempts=attempts)
        models = models_of(listing)
        wrong = not_a_listing(listing)
        if wrong is not None and not (force and models):
            raise RefreshRefused(
                f"refused the answer of {shorten(base)}/models: it is not OpenRouter's catalogue ({wrong})",
                forceable=bool(models),
            )
        media = [m for m in models if set(KINDS) & set(input_modalities(m) or ())]
        paths = list(dict.fromkeys(p for m in media if (p := details_path(m))))
        done = 0
        if progress:
            progress(0, len(paths))
        endpoints: dict[str, Any] = {}

        async def one(path: str) -> None:
            nonlocal done
            endpoints[path] = await _get(
                http, f"{base}/models/{path}/endpoints", gate, attempts=attempts, missing_ok=True
            )
            done += 1
            if progress:
                progress(done, len(paths))

        try:
            async with asyncio.TaskGroup() as group:
                listed = group.create_task(_get(http, f"{base}/providers", gate, attempts=attempts, missing_ok=True))
                for path in paths:
                    group.create_task(one(path))
        except* RefreshError as failures:
            raise failures.exceptions[0] from None
        except* Exception as failures:  # a bug, not a bad answer: say what it was, in one line
            first = failures.exceptions[0]
            raise RefreshError(f"unexpected {type(first).__name__}: {first}") from first
        providers = listed.result().get("data") if isinstance(listed.result(), dict) else None
        if not isinstance(providers, list):  # no display names: provider slugs stand in for them
            providers = []
        return from_api(models, endpoints, [p for p in providers if isinstance(p, dict)], base_url=base)
    finally:
        if own:
            await http.aclose()


def fetch(base_url: str = DEFAULT_BASE_URL, **options: Any) -> Catalogue:
    """:func:`afetch` for synchronous callers (runs its own event loop: not from inside a running one)."""
    return asyncio.run(afetch(base_url, **options))


class CountBar:
    """``endpoints 12/60`` as a ``rich`` bar on a terminal (the ``progress`` extra); nothing otherwise.

    ``update(done, total)`` is the :data:`Progress` callback :func:`refresh` takes.
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


def refresh(
    base_url: str | None = None,
    *,
    paths: Sequence[str | os.PathLike[str]] = (),
    path: Path | None = None,
    store: bool = True,
    before: CapabilityTable | None = None,
    force: bool = False,
    **options: Any,
) -> RefreshResult:
    """Fetch the catalogue from ``base_url`` (default OpenRouter's), check that the table loads with it (over
    ``paths``) and that it looks right, store it (``path``: the base URL's file in the user cache directory by
    default), and describe the change against ``before`` (default: the data in use for that base URL).

    Raises :class:`RefreshError` (one line; nothing stored) when the catalogue cannot be read, the table does
    not load with it, or the cache cannot be written; :class:`RefreshRefused` when the answer is not
    OpenRouter's shape or drops more than half of the video models the data in use knows (``force`` takes it).
    """
    url = normalise_base_url(base_url)
    target = path or cache_path(url)
    current = before if before is not None else load_table(*paths, catalogue=read_cached(target, url))
    catalogue = fetch(url, force=force, **options)
    try:
        table = load_table(*paths, catalogue=catalogue)
    except CapabilityError as exc:
        raise RefreshError(f"the capability table does not load with the new catalogue: {exc}") from None
    suspicious = None if force else dropped(current, table)
    if suspicious is not None:
        raise RefreshRefused(f"refused the catalogue from {url}: {suspicious}")
    saved = None
    if store:
        try:
            saved = write_cached(catalogue, target)
        except OSError as exc:
            raise RefreshError(f"cannot write {target}: {exc.strerror or exc}") from None
        if table.snapshot is not None and table.snapshot.fetched_at is not None:
            table = table.model_copy(update={"snapshot": table.snapshot.model_copy(update={"path": str(saved)})})
    return RefreshResult(catalogue, table, saved, summary(catalogue, current, table, saved))


# --- background refresh ------------------------------------------------------------------------------


class LiveTable:
    """A capability table that stays current in a long-running process.

    ``live.table`` is the table to use now (a dictionary lookup and a clock read); once ``ttl`` seconds have
    passed since it was loaded or refreshed, the first read starts a refresh in a background thread and
    returns the current table at once. On success the new catalogue is stored in the cache and the new table
    swapped in; on failure, or when the answer looks wrong (:class:`RefreshRefused`), the old table stays, a
    warning is logged on the ``router`` logger, and the next attempt waits ``retry`` seconds.
    ``refresh_now()`` / ``await arefresh()`` refresh in the foreground.

    ``base_url`` (default OpenRouter's) is where the catalogue is read from, and which cache file is used.
    ``stale_first=True`` (for servers) refreshes right away when the data in use is already older than
    ``ttl``. ``paths`` are the user's tables, layered over every reload as :func:`load_table` does.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        base_url: str | None = None,
        ttl: float = DEFAULT_TTL,
        retry: float = RETRY_FAILED_AFTER,
        stale_first: bool = False,
        cache: Path | None = None,
        timer: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        self.paths = tuple(paths)
        self.base_url = normalise_base_url(base_url)
        self._cache = cache
        self._options = options
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fresh: cachetools.TTLCache[str, bool] = cachetools.TTLCache(maxsize=1, ttl=ttl, timer=timer)
        self._backoff: cachetools.TTLCache[str, bool] = cachetools.TTLCache(maxsize=1, ttl=retry, timer=timer)
        source: Catalogue | Literal["cache"] | None = "cache" if cache is None else read_cached(cache, self.base_url)
        self._table = load_table(*self.paths, catalogue=source, base_url=self.base_url)
        self.last_error: RefreshError | None = None
        if not (stale_first and self._age() > ttl):
            self._fresh["table"] = True

    def _age(self) -> float:
        snap = self._table.snapshot
        if snap is None:
            return float("inf")
        when = snap.fetched_at or datetime.combine(snap.date, datetime.min.time(), UTC)
        return (datetime.now(UTC) - when).total_seconds()

    @property
    def table(self) -> CapabilityTable:
        self.maybe_refresh()
        return self._table

    def maybe_refresh(self) -> bool:
        """Start a background refresh if the TTL has run out and none is running; True if one was started."""
        if "table" in self._fresh or "wait" in self._backoff:
            return False
        with self._lock:
            if "table" in self._fresh or "wait" in self._backoff or (self._thread and self._thread.is_alive()):
                return False
            self._fresh["table"] = True  # one refresh per TTL, however many readers race here
            self._thread = threading.Thread(target=self._background, name="router-catalogue-refresh", daemon=True)
            self._thread.start()
            return True

    def _background(self) -> None:
        try:
            self.refresh_now()
        except RefreshError:
            pass  # logged by refresh_now; the old table stays
        except Exception as exc:  # a background thread must never die with a traceback on stderr
            log.warning("warning: catalogue refresh failed unexpectedly (%s: %s)", type(exc).__name__, exc)

    def refresh_now(self) -> RefreshResult:
        """Refresh in the foreground and swap the new table in; on failure keep the old one and re-raise."""
        try:
            result = refresh(self.base_url, paths=self.paths, path=self._cache, before=self._table, **self._options)
        except RefreshError as exc:
            self.last_error = exc
            self._fresh.pop("table", None)
            self._backoff["wait"] = True
            warn(f"catalogue refresh failed, keeping {label(self._table)}: {exc}", once=False)
            raise
        self._table = result.table
        self.last_error = None
        self._fresh["table"] = True
        _collect_frozen()
        log.info("%s", result.summary)
        return result

    async def arefresh(self) -> RefreshResult:
        """:meth:`refresh_now` without blocking the event loop (it runs in a worker thread)."""
        return await asyncio.to_thread(self.refresh_now)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background refresh to finish (tests, orderly shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def _collect_frozen() -> None:
    """A server that froze its start-up objects (``gc.freeze``, the proxy does) would never free the table a
    refresh replaced: thaw, collect, and freeze again (a full collection, once per refresh)."""
    import gc

    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
        gc.freeze()
