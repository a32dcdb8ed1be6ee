"""Refresh the catalogue from OpenRouter: ``router models --refresh``, and the background refresh of servers.

:func:`refresh` reads the catalogue from the base URL (``remote``), checks that the table still loads with it and
that the answer looks like OpenRouter's catalogue (``refresh_check``), stores it in the user cache directory, in
the file of that base URL (atomically), and says in one line what changed against the data in use. Any failure
is one :class:`RefreshError` (:class:`RefreshRefused` when the answer looks wrong) and leaves the cache as it was.

:class:`LiveTable` is the building block for long-running processes (``router serve``, a ``Router`` kept
for days): it hands out the current table at memory speed and, once its TTL (a ``cachetools.TTLCache``,
24 h by default) has run out, refreshes in a background thread, swapping the new table in on success and
keeping the old one (retrying an hour later) on failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import cachetools

from .._base.errors import CapabilityError
from .capabilities import CapabilityTable
from .catalogue import Catalogue, cache_path, normalise_base_url, read_cached, warn, write_cached
from .load import load_table
from .refresh_check import dropped, label, summary
from .remote import RefreshError, RefreshRefused, fetch

__all__ = ["DEFAULT_TTL", "LiveTable", "RefreshResult", "refresh"]

DEFAULT_TTL = 24 * 3600.0
RETRY_FAILED_AFTER = 3600.0

log = logging.getLogger("router")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    catalogue: Catalogue
    table: CapabilityTable  # the table as it loads with the new catalogue
    path: Path | None  # where it was stored (None: not stored)
    summary: str  # one line: what was read and what changed against the data in use


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
