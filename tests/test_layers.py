"""The parts of ``router`` import only downwards: the order is data (``[tool.importlinter]`` in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "router"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layers() -> list[str]:
    (layers,) = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    assert isinstance(layers, list)
    return layers


def test_the_contracts_hold() -> None:
    """import-linter finds no import from a part into a part above it or into a sibling, calls inside functions
    included, and no part importing the public modules."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_every_part_is_in_the_order_and_says_what_it_owns() -> None:
    """Every sub-package is a layer of the contract (a new part cannot slip in unordered) and opens with a docstring
    saying what it owns and what it may import."""
    named = {part.strip() for layer in _layers() for part in layer.split("|")}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == named
    for name in packages:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc, name
        assert "import" in doc, name


def test_the_top_level_holds_only_the_public_modules() -> None:
    """``ls router/`` shows the parts and the public surface: every top-level module is a documented public one."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == {"__init__", "__main__", "cli", "fit", "litellm", "serve", "transport"}


def _imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every relative import in a module of the package, wherever it sits."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("_*/**/*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_part_imports_the_package_root(path: Path) -> None:
    """``router/__init__.py`` imports the command line lazily; a part that imported the root would import upwards
    (import-linter cannot forbid the root of its own package, so this test does)."""
    assert [(line, m) for line, m in _imports_of(path) if m == "router"] == []


MAX_LINES = 420  # "one module, one job": a module longer than this holds more than one


def test_no_module_is_over_the_bar() -> None:
    """No module under ``router/`` is over ``MAX_LINES`` lines."""
    lines = {p.relative_to(PACKAGE).as_posix(): len(p.read_bytes().splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {name: n for name, n in sorted(lines.items()) if n > MAX_LINES}
    assert not over, f"over {MAX_LINES} lines, to split along a seam: {over}"
