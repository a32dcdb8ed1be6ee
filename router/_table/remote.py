"""The catalogue read over HTTP from a base URL (default ``https://openrouter.ai/api/v1``, no API key needed).

``GET /models?output_modalities=all``, then ``GET /models/{author}/{slug}/endpoints`` for every model that takes
media (video, audio, images, files; a few at a time), and ``GET /providers``. Every call has a timeout; 408, 429
and 5xx answers and dropped connections are retried with capped exponential backoff (a ``Retry-After`` of up to
30 s is honoured, a longer one ends the read). Any failure is one :class:`RefreshError` (:class:`RefreshRefused`
when the answer looks wrong); storing what was read is ``refresh``'s job.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from .._base.errors import RouterError
from .._base.rules import shorten
from .._base.version import __version__
from .catalogue import DEFAULT_BASE_URL, MEDIA, Catalogue, normalise_base_url
from .listing import details_path, from_api, input_modalities
from .refresh_check import models_of, not_a_listing

__all__ = ["Progress", "RefreshError", "RefreshRefused", "afetch", "fetch"]

CONCURRENCY = 8
TIMEOUT = 30.0
ATTEMPTS = 5
MAX_RETRY_AFTER = 30.0

Progress = Callable[[int, int], None]


class RefreshError(RouterError):
    """The catalogue could not be refreshed; the message is one line saying why. Nothing was written."""


class RefreshRefused(RefreshError):
    """The answer does not look like OpenRouter's catalogue, so it was not taken. ``forceable``: ``force=True``
    (``--force``) would take it; False when there is nothing to take (no model list at all)."""

    def __init__(self, message: str, *, forceable: bool = True) -> None:
        super().__init__(message)
        self.forceable = forceable


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
        media = [m for m in models if MEDIA & set(input_modalities(m) or ())]
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
