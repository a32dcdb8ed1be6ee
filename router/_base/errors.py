"""Exceptions raised by router.

Callers catch one thing (``RouterError``) or the precise thing::

    RouterError
    ├── CapabilityError          the capability table is broken (file, line, field)
    ├── RequestRejected          a request cannot be sent; carries the diagnostics
    ├── BodyTooLarge             a request body grew past the configured maximum while it was read
    ├── RefreshError             the model catalogue could not be refreshed (defined in ``_table.remote``)
    │   └── RefreshRefused       it was read but does not look like OpenRouter's catalogue (``--force``)
    └── FetchError               a media download failed (carries a diagnostic)
        ├── BlockedURL           private/loopback/metadata address, or a scheme we never fetch
        ├── MediaTooLarge        over the byte cap while streaming
        ├── NotTheMedia          the bytes are not media of the part's kind (HTML, garbage), or are cut short
        │   └── NotAVideo        ... for a video part
        └── UnreachableURL       DNS, connect, timeout, HTTP status
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rules import scrub

if TYPE_CHECKING:
    from .rules import Diagnostic

__all__ = [
    "BlockedURL",
    "BodyTooLarge",
    "CapabilityError",
    "FetchError",
    "MediaTooLarge",
    "NotAVideo",
    "NotTheMedia",
    "RequestRejected",
    "RouterError",
    "UnreachableURL",
]


class RouterError(Exception):
    """Base class of every error router raises on purpose. Its words show URLs as ``shorten`` does (no
    credentials, signatures or payloads), in ``str``, ``repr`` and ``args`` alike, whoever wrote them."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class CapabilityError(RouterError):
    """The capability table cannot be loaded; the message reads ``FILE:LINE: what is wrong``."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(f"{where}{message}")


class RequestRejected(RouterError):
    """The request cannot work with any provider; ``diagnostics`` says why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"] or diagnostics
        lines = "; ".join(f"{d.rule}: {d.message}" for d in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"request rejected: {lines}{more}")


class BodyTooLarge(RouterError):
    """A request body passed ``limit`` bytes while it was being read (the proxy answers 413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is over the {limit:,}-byte limit")


class FetchError(RouterError):
    """A download failed. ``rule`` is the diagnostic rule it maps to; ``transient`` says retrying may help.
    ``url`` is the URL as given, for code: show it through ``shorten``."""

    rule = "unreachable-url"

    def __init__(self, message: str, *, url: str = "", status: int | None = None, transient: bool = False) -> None:
        self.url = url
        self.status = status
        self.transient = transient
        super().__init__(message)


class BlockedURL(FetchError):
    rule = "blocked-url"


class MediaTooLarge(FetchError):
    rule = "too-large"


class UnreachableURL(FetchError):
    rule = "unreachable-url"


class NotTheMedia(FetchError):
    """The bytes are not media of the part's kind (an HTML page for an image, a PDF for audio), or say they are
    cut short."""

    rule = "format-mismatch"


class NotAVideo(NotTheMedia):
    """The bytes are not a supported video (HTML, an image, garbage), or the video is cut short."""
