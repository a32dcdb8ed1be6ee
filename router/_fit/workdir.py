"""The temporary outputs of one fit job: files made in the caller's ``workdir``, removed on any way out but success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


class Workdir:
    """Temporary outputs in ``workdir``: each ``new()`` file is removed by ``discard()`` unless it was kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[Path] = []

    def new(self, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(prefix="fit-", suffix=f".{suffix}", dir=self.root)
        os.close(fd)
        path = Path(name)
        self.made.append(path)
        return path

    def discard(self, paths: Sequence[Path] | None = None) -> None:
        for path in list(self.made if paths is None else paths):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if path in self.made:
                self.made.remove(path)
