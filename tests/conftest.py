"""Shared fixtures. Media: real clips encoded once per session, and a real media server on loopback.

Every test runs with ``XDG_CACHE_HOME`` pointing at an empty directory: a catalogue the developer refreshed
(``router models --refresh``) must not change what the suite sees. Tests that want one write it there.

The helpers beside this file (``clips``, ``servers``, ``upstream``, ``payloads``, ``fake_catalogue``) are imported by
their bare names, one way everywhere: ``pythonpath = ["tests"]`` in pyproject.toml puts this directory on the path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clips import FORMATS, make_clip
from servers import MediaServer, serving_tls


@pytest.fixture(scope="session", autouse=True)
def _empty_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No cached OpenRouter catalogue unless a test writes one: every test starts from the bundled data."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real clip per container in clips.FORMATS (mp4, mov, webm, mpeg, mkv), keyed by suffix."""
    folder = tmp_path_factory.mktemp("clips")
    return {suffix: make_clip(folder / f"clip.{suffix}") for suffix in FORMATS}


@pytest.fixture(scope="session")
def media_server(clips: dict[str, Path]) -> Iterator[MediaServer]:
    """The loopback media server (tests/servers.py): ``.url(path)``, ``.hits(path)``, ``.hosts(path)``."""
    server = MediaServer(clips).start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_media_server(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """The media server over HTTPS with a self-signed certificate for ``media.test``; ``.cafile`` trusts it."""
    with serving_tls(clips, tmp_path_factory.mktemp("tls"), "media.test") as server:
        yield server
