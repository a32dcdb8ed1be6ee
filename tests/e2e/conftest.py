"""Fixtures for real traffic on loopback: the fake OpenRouter (``upstream``), routers and SDK clients.

The media server and the clips come from ``tests/conftest.py``; session-scoped servers count hits per target, so
every test asks for its own URL (``case_url``) and counts only its own downloads.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docblocks import DOCS_KEY, DocsExample
from servers import MediaServer, serving_tls
from upstream import FakeOpenRouter

from router import Router
from router._fetch.fetcher import Fetcher
from router._table.capabilities import CapabilityTable


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeOpenRouter]:
    """The fake OpenRouter on loopback: ``.base_url``, ``.requests``, ``.reset()``."""
    with FakeOpenRouter() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_upstream(upstream: FakeOpenRouter) -> Iterator[None]:
    upstream.reset()
    yield
    upstream.reset()


@pytest.fixture(scope="session")
def table() -> CapabilityTable:
    """The bundled capability table, loaded once."""
    return Router().table


@pytest.fixture
def local_router(table: CapabilityTable) -> Iterator[Router]:
    """A router allowed to fetch from loopback (the media server), with a fresh download cache."""
    with Fetcher(allow_private_urls=True) as fetcher:
        yield Router(table, allow_private_urls=True, fetcher=fetcher)


@pytest.fixture
def strict_router(table: CapabilityTable) -> Iterator[Router]:
    """A router with the default, safe settings: loopback URLs are blocked."""
    with Fetcher() as fetcher:
        yield Router(table, fetcher=fetcher)


@pytest.fixture
def case_url(media_server: MediaServer) -> Callable[[str], tuple[str, str]]:
    """``case_url("/clip.mp4")`` -> (URL, target): a URL no other test uses, and the target to count hits."""
    tag = uuid.uuid4().hex[:10]

    def make(path: str) -> tuple[str, str]:
        target = f"{path}{'&' if '?' in path else '?'}case={tag}"
        return media_server.url(target), target

    return make


@pytest.fixture(scope="session")
def https_media(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """The media server over HTTPS, its certificate issued for 127.0.0.1 by a throwaway CA (``.cafile``)."""
    with serving_tls(clips, tmp_path_factory.mktemp("https-media"), "127.0.0.1") as server:
        yield server


@pytest.fixture(scope="session")
def clip_sha(clips: dict[str, Path]) -> dict[str, str]:
    """sha256 of each clip's bytes, keyed by suffix."""
    return {suffix: hashlib.sha256(path.read_bytes()).hexdigest() for suffix, path in clips.items()}


@pytest.fixture
def docs_example(
    upstream: FakeOpenRouter,
    case_url: Callable[[str], tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> DocsExample:
    """Examples run with ``DOCS_KEY`` as the environment's key and a clip URL no other test uses."""
    url, _ = case_url("/clip.mp4")
    monkeypatch.setenv("OPENROUTER_API_KEY", DOCS_KEY)
    swaps = {
        "https://openrouter.ai": upstream.origin,
        "https://example.com/clip.mp4": url,
        "router.Router()": "router.Router(allow_private_urls=True)",  # the clip is on loopback
    }
    return DocsExample(url, swaps, capsys)
