"""The kinds of media a request can carry, as OpenRouter's catalogue names them in ``input_modalities``."""

from __future__ import annotations

from typing import Literal

__all__ = ["KINDS", "Kind"]

Kind = Literal["video", "audio", "image", "file"]
KINDS: tuple[Kind, ...] = ("video", "audio", "image", "file")
