"""The `router` command: a thin front door onto ``Router``: its arguments in ``router/_cli/main.py``, its commands in
``router/_cli/`` (``check``, ``rewrite``, ``serve``, ``table``).

Exit status: 0 no errors, 1 errors found (or the upstream refused), 2 usage or I/O problem.
"""

from __future__ import annotations

from ._cli.main import (
    main,
)

__all__ = [
    "main",
]
