"""The documentation tells the truth: the README's first screen, every Python example, every link, every rule,
and the examples marked ``<!-- run -->``, run for real against the bundled examples.

Markers (an HTML comment on the last non-blank line before a fenced block):

- ``<!-- fragment -->``: a deliberately partial ```python block; it is not parsed.
- ``<!-- run -->`` on a ```console block: each ``$ router ...`` line is run through ``router.cli.main`` in a
  folder holding ``examples/`` and the page's blocks that have a ``title="name"``; stdout then stderr must
  match the lines that follow (a line ``...`` stands for any number of lines).
- ``<!-- run -->`` on a ```python block: it is executed there; a ```text block right after it is its stdout.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from docblocks import DOCS, REPO, Block, blocks

import router
from router.cli import main

README = REPO / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]

# The first screen of the README: these two commands, byte for byte, and nothing else to run.
TRY_IT = (
    "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/router check --offline examples/; "
    ".venv/bin/router rewrite --dry-run examples/vertex-https-url.json"
)
TEST_SUITE = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest -n 2"

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _lines_between(page: Path, start: int, stop: int) -> list[str]:
    return page.read_text(encoding="utf-8").split("\n")[start:stop]


def expected_output(block: Block, page_blocks: list[Block]) -> str | None:
    """The ```text block right after a ```python block (only blank lines between), if there is one."""
    after = next((b for b in page_blocks if b.line > block.line), None)
    if after is None or after.lang != "text" or after.marker is not None:
        return None
    if any(line.strip() for line in _lines_between(block.page, block.end, after.line - 1)):
        return None
    return after.text


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line, trailing spaces ignored; an expected line ``...`` stands for any number of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and actual[0].rstrip() == head.rstrip() and matches(rest, actual[1:])


def workspace(tmp_path: Path, page: Path) -> Path:
    """A folder holding a copy of examples/ and every titled block of the page, as a reader would save them."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    for b in blocks(page):
        if b.title:
            (tmp_path / b.title).write_text(b.text, encoding="utf-8")
    return tmp_path


def run_router(argv: list[str]) -> str:
    """``router ARGV`` in this process: what it writes to stdout, then what it writes to stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(argv)
    text = out.getvalue()
    if text and not text.endswith("\n"):
        text += "\n"
    return text + err.getvalue()


def console_commands(block: Block) -> list[tuple[list[str], list[str]]]:
    """The ``$ router ...`` lines of a console block, each with the lines it is shown to print."""
    commands: list[tuple[list[str], list[str]]] = []
    for line in block.text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            commands.append((shlex.split(line[2:]), []))
        else:
            assert commands, f"{block.id}: output before the first `$ ` command"
            commands[-1][1].append(line)
    return commands


ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.marker == "run"]


def test_readme_first_screen_has_exactly_the_two_commands() -> None:
    """Before its first section, the README shows the try-it command and the test-suite command, and no other."""
    first_screen = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    shown = [b.text.rstrip("\n") for b in blocks(README) if f"```{b.lang}\n{b.text}" in first_screen]
    assert shown == [TRY_IT, TEST_SUITE]


def test_readme_stays_a_front_page() -> None:
    """The README is what a newcomer reads first: at most about 250 lines; the rest lives in docs/."""
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


_EXTERNAL_LINK = re.compile(r"\[[^\]]*\]\(https?://[^)]*\)")
_TRACKER_NUMBER = re.compile(r"\b(?:issue|task|ticket)s?\s*#?\d+|(?<![\w&])#\d+\b", re.IGNORECASE)


@pytest.mark.parametrize(
    "path",
    [*PAGES, REPO / "CHANGELOG.md", *sorted((REPO / "bench").glob("*.md")), *sorted((REPO / "bench").glob("*.py"))],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_users_read_of_features_not_of_our_tracker(path: Path) -> None:
    """Pages, the changelog and benchmark output speak of features and figures, not of internal issue numbers
    (a link to another project's issue is a source, and stays)."""
    text = _EXTERNAL_LINK.sub("", path.read_text(encoding="utf-8"))
    assert [m.group(0) for m in _TRACKER_NUMBER.finditer(text)] == []


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.lang == "python"], ids=lambda b: b.id)
def test_python_examples_parse(block: Block) -> None:
    """Every ```python block in the README and the docs is valid Python (top-level await allowed), unless it is
    marked as a fragment."""
    if block.marker == "fragment":
        pytest.skip("marked <!-- fragment -->")
    compile(block.text, block.id, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    """Every relative link and image in the README and the docs names a file of the repository (on GitHub too)."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # links inside code blocks are code
    broken = []
    for m in _LINK.finditer(text):
        target = (m[1] or m[2]).split("#", 1)[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        if not (page.parent / target).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: links to missing files: {broken}"


def test_every_page_is_in_the_site_navigation() -> None:
    """Each page under docs/ is reachable from mkdocs.yml's navigation (MkDocs only warns about orphans)."""
    nav = set(re.findall(r"^\s*- (?:[^\n]*: )?([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.MULTILINE))
    assert {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} == nav


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda b: b.id)
def test_examples_marked_run_print_what_the_page_shows(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``<!-- run -->`` example, run in a folder holding the bundled examples and the page's files, prints
    what the page says it prints."""
    monkeypatch.chdir(workspace(tmp_path, block.page))
    if block.lang == "console":
        for argv, shown in console_commands(block):
            assert argv[0] == "router", f"{block.id}: only `router` commands run"
            printed = run_router(argv[1:])
            assert matches(shown, printed.rstrip("\n").split("\n")), f"$ {shlex.join(argv)}\n{printed}"
    elif block.lang == "python":
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.text, block.id, "exec"), {"__name__": "__docs__"})  # noqa: S102  (our own docs)
        shown = expected_output(block, blocks(block.page))
        if shown is not None:
            assert matches(shown.rstrip("\n").split("\n"), out.getvalue().rstrip("\n").split("\n")), out.getvalue()
    else:
        pytest.fail(f"{block.id}: <!-- run --> on a ```{block.lang} block")


# -- the rules page ----------------------------------------------------------------------------------------------


def rule_sections() -> dict[str, str]:
    """docs/rules.md's sections whose heading is a rule name in backticks, by name."""
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"^## `([^`]+)`\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)}


def test_every_rule_has_a_section_and_every_section_is_a_rule() -> None:
    """docs/rules.md has one section per rule in router.RULES, and no section for a rule that does not exist."""
    assert sorted(rule_sections()) == sorted(router.RULES)


@pytest.mark.parametrize("name", sorted(router.RULES))
def test_rule_section_shows_the_rule_failing_then_fixed(name: str) -> None:
    """Each rule's section has the failing payload, a run `router check` on it that reports the rule, and the
    fixed payload."""
    section = rule_sections()[name]
    assert f'```json title="{name}.json"' in section
    assert f'```json title="{name}-fixed.json"' in section
    run = [b for b in RUN_BLOCKS if b.page.name == "rules.md" and f"{name}.json" in b.text.split("\n", 1)[0]]
    assert run, f"no <!-- run --> console block checks {name}.json"
    assert re.search(rf"^{re.escape(name)}\.json:\d+:\d+: (error|warning) {re.escape(name)}\b", run[0].text, re.M)


@pytest.mark.parametrize("name", sorted(router.RULES))
def test_fixed_payload_no_longer_breaks_the_rule(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixed payload of each rule's section checks (offline) with no error and no finding of that rule; for
    a rule `router check --fix` repairs, it is exactly what --fix makes of the failing one."""
    monkeypatch.chdir(workspace(tmp_path, DOCS / "rules.md"))
    report = json.loads(run_router(["check", "--offline", "--format", "json", f"{name}-fixed.json"]))
    assert report["summary"]["errors"] == 0, report
    assert all(d["rule"] != name for d in report["diagnostics"]), report
    if "fix" in router.RULES[name].fixed_by:
        run_router(["check", "--offline", "--fix", f"{name}.json"])
        assert Path(f"{name}.json").read_bytes() == Path(f"{name}-fixed.json").read_bytes()


# -- the API reference and the performance figures ---------------------------------------------------------------


def test_api_reference_documents_every_public_name() -> None:
    """docs/reference/index.md renders every name of router.__all__, by its public name."""
    reference = (DOCS / "reference" / "index.md").read_text(encoding="utf-8")
    rendered = set(re.findall(r"^::: router\.(\w+)$", reference, re.MULTILINE))
    assert rendered == set(router.__all__)


def test_plots_draw_every_figure_the_performance_page_embeds(tmp_path: Path) -> None:
    """bench/plots.py draws, from the published results, the SVG figures that docs/performance.md embeds and that
    are committed under docs/img."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import plots
    finally:
        sys.path.remove(str(REPO / "bench"))
    written = plots.draw(REPO / "bench", tmp_path)
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in written) == sorted(name for _, name, _ in plots.FIGURES)
    for path in written:
        svg = path.read_text(encoding="utf-8")
        assert "<svg" in svg
        assert svg.rstrip().endswith("</svg>")
        assert f"](img/{path.name})" in page
        assert (DOCS / "img" / path.name).is_file()
