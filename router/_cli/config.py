"""``[tool.router]`` in ``pyproject.toml``: found by walking up from the current directory, strictly validated.

A typo in configuration must fail loudly (exit 2), never silently check less than the team thinks it does.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._base.rules import RULES

__all__ = ["KEYS", "Config", "ConfigError", "find_config", "load_config", "parse_rules", "rule_set"]

KEYS = ("capabilities", "exclude", "ignore", "model", "offline", "provider", "select", "strict")


class ConfigError(ValueError):
    """Configuration or a rule name on the command line is wrong (exit 2); the message says where."""


@dataclass(frozen=True, slots=True)
class Config:
    """What ``[tool.router]`` says; ``None`` means "not set" so the command line and defaults can fill in."""

    path: Path | None = None
    provider: tuple[str, ...] = ()
    model: str | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    strict: bool | None = None
    capabilities: tuple[str, ...] = ()  # paths resolved against the pyproject.toml's directory
    exclude: tuple[str, ...] = ()  # gitignore-style patterns relative to the pyproject.toml's directory
    offline: bool | None = None

    @property
    def root(self) -> Path:
        """The directory configuration paths and patterns are relative to."""
        return self.path.parent if self.path else Path.cwd()


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_rules(values: Sequence[str], where: str) -> tuple[str, ...]:
    """Split comma-separated rule lists and reject unknown names (``where`` prefixes the error)."""
    names = tuple(n.strip() for v in values for n in v.split(",") if n.strip())
    for name in names:
        if name not in RULES:
            raise ConfigError(f"{where}: unknown rule {name!r}{_hint(name, RULES)}; see `router rules`")
    return names


def rule_set(config: Config, select: Sequence[str] | None = None, ignore: Sequence[str] = ()) -> frozenset[str]:
    """The rules to report: the command line's ``--select`` replaces the configuration's ``select``, and
    ignores accumulate, except that a rule named in ``--select`` is not dropped by the configuration's ignore."""
    chosen = set(select if select is not None else config.select if config.select is not None else RULES)
    config_ignore = set(config.ignore) - set(select or ())
    return frozenset(chosen - config_ignore - set(ignore))


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` that has a ``[tool.router]`` table."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and "router" in _read(candidate).get("tool", {}):
            return candidate
    return None


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_display(path)}: invalid TOML: {exc}") from None


def _strings(value: object, where: str, *, single_ok: bool = True) -> tuple[str, ...]:
    if single_ok and isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = "a string or a list of strings" if single_ok else "a list of strings"
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")


def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def load_config(path: Path | None) -> Config:
    """Read and validate ``[tool.router]`` of ``path`` (``None``: no configuration)."""
    if path is None:
        return Config()
    table = _read(path).get("tool", {}).get("router", {})
    head = f"{_display(path)}: [tool.router]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{head}: expected a table")
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{head}: unknown key {key!r}{_hint(key, KEYS)}; known keys: {', '.join(KEYS)}")
    model = table.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"{head} model: expected a string, got {model!r}")
    select = table.get("select")
    root = path.parent
    return Config(
        path=path,
        provider=_strings(table.get("provider", []), f"{head} provider"),
        model=model,
        select=None if select is None else parse_rules(_strings(select, f"{head} select"), f"{head} select"),
        ignore=parse_rules(_strings(table.get("ignore", []), f"{head} ignore"), f"{head} ignore"),
        strict=None if "strict" not in table else _bool(table["strict"], f"{head} strict"),
        capabilities=tuple(str(root / p) for p in _strings(table.get("capabilities", []), f"{head} capabilities")),
        exclude=_strings(table.get("exclude", []), f"{head} exclude"),
        offline=None if "offline" not in table else _bool(table["offline"], f"{head} offline"),
    )
