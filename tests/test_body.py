"""router._model.body.Body: a request body in memory while small, in an anonymous temporary file past the threshold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from router._base.errors import BodyTooLarge
from router._model.body import Body


def test_small_body_stays_in_memory() -> None:
    """Bytes under the memory limit are kept in memory and read back by offset."""
    with Body(memory_limit=100) as body:
        body.write(b"hello ")
        body.write(b"world")
        assert body.in_memory
        assert body.size == 11
        assert body.read(6, 5) == b"world"
        assert body.read(8, 100) == b"rld"
        assert body.getvalue() == b"hello world"


def test_big_body_moves_to_an_anonymous_file(tmp_path: Path) -> None:
    """Past the limit the body moves to a file nobody can see in the directory, and reads still work."""
    data = os.urandom(3000)
    with Body(memory_limit=1000, directory=str(tmp_path)) as body:
        for i in range(0, 3000, 700):
            body.write(data[i : i + 700])
        body.finish()
        assert not body.in_memory
        assert body.read(2500, 10) == data[2500:2510]
        assert b"".join(body.iter_bytes(100, 2900, chunk=333)) == data[100:2900]
        assert os.listdir(tmp_path) == []


def test_max_bytes_is_enforced_while_writing() -> None:
    """The write that would pass the maximum raises BodyTooLarge and keeps nothing of it."""
    body = Body(max_bytes=10)
    body.write(b"0123456789")
    with pytest.raises(BodyTooLarge) as caught:
        body.write(b"x")
    assert caught.value.limit == 10
    assert body.size == 10


def test_of_wraps_bytes_without_a_copy() -> None:
    """Body.of keeps the caller's bytes object and refuses further writes."""
    data = b"{}" * 10
    body = Body.of(data)
    assert body.getvalue() is data
    with pytest.raises(AssertionError):
        body.write(b"more")
