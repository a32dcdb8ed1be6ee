"""How records show themselves: every URL through ``shorten``, keys masked, requests summarised.

A record keeps a URL, a data URL or a key as it was given, for the code that needs it; ``redacted`` gives its
class a ``__repr__`` (and so a ``str``) that shows such fields through a redactor, so ``print(record)``,
``log.debug("%s", record)`` and an exception's locals never carry a credential, a signature or a payload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .rules import scrub, shorten

__all__ = ["Redactor", "masked", "redacted", "scrubbed", "short_url", "sized"]

Redactor = Callable[[Any], str]  # a field's value -> how a repr shows it
T = TypeVar("T")


def short_url(value: Any) -> str:
    """A URL or data URL, shortened; a text held in a request body is never read for a repr, only measured."""
    if value is None or isinstance(value, str):
        return repr(value if value is None else shorten(value))
    if hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return f"<{len(value):,} chars>"
    return repr(shorten(str(value)))  # httpx.URL and the like


def masked(value: Any) -> str:
    """A key or token: whether it is set, never what it is."""
    return "None" if value is None else "'***'"


def scrubbed(value: Any) -> str:
    """Free text (a message, a note): every URL in it shortened."""
    return repr(scrub(value)) if isinstance(value, str) else repr(value)


def sized(value: Any) -> str:
    """A whole request, its JSON text or a capability table: its size, never its content (a 100 MB data URL,
    whatever secret the caller put in it)."""
    if value is None:
        return "None"
    if isinstance(value, str | bytes):
        return f"<{len(value):,} chars>"
    if isinstance(value, Mapping):
        return f"<{type(value).__name__} of {len(value)} keys>"
    return f"<{type(value).__name__}>"


def redacted(**redactors: Redactor) -> Callable[[type[T]], type[T]]:
    """A dataclass's ``__repr__`` in the usual form, each field in ``redactors`` shown through its redactor.

    Goes above ``@dataclass`` (frozen and slots classes included)::

        @redacted(url=short_url)
        @dataclass(frozen=True, slots=True)
        class Inlined: ...
    """

    def apply(cls: type[T]) -> type[T]:
        fields = [f for f in dataclasses.fields(cls) if f.repr]  # type: ignore[arg-type]
        unknown = set(redactors) - {f.name for f in fields}
        assert not unknown, f"{cls.__name__} shows no field {unknown}"
        shown = [(f.name, redactors.get(f.name, repr)) for f in fields]

        def __repr__(self: T) -> str:
            inside = ", ".join(f"{name}={show(getattr(self, name))}" for name, show in shown)
            return f"{type(self).__qualname__}({inside})"

        cls.__repr__ = __repr__  # type: ignore[assignment,method-assign]
        return cls

    return apply
