"""The architecture the folder list promises: no import cycle in engine/ or tui/, and an
ARCHITECTURE.md that gives every module of both its own line.

The layers themselves are import-linter contracts in pyproject.toml (`make lint`);
a cycle inside one layer would slip past them, so this test looks for any.
"""

import re
from pathlib import Path

import grimp
import pytest

# The repository's root, wherever this file is moved under tests/.
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
PACKAGES = ("engine", "tui")
# A module's own line in ARCHITECTURE.md: "- `engine/core/descent.py`: one sentence."
MODULE_LINE = re.compile(r"^- `((?:engine|tui)/[^`]*)`: \S", re.MULTILINE)
# Any module or package the text names (engine/core/descent.py, engine/core/), but not
# inside a longer path: tests/engine/test_data.py names a test, not a module.
NAMED_PATH = re.compile(r"(?<![\w/.])(?:engine|tui)/(?:\w+/)*(?:\w+\.(?:py|tcss)|(?<=/)\w+/)")
# A test file or folder the text names: tests/engine/test_descent.py, tests/students/.
TEST_PATH = re.compile(r"(?<![\w/.])tests/(?:\w+/)*(?:\w+\.py|\w+/)")


def _cycles(graph: grimp.ImportGraph, packages: tuple[str, ...]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in packages)
    edges = {
        m: [x for x in graph.find_modules_directly_imported_by(m) if x.split(".")[0] in packages]
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_in_the_engine_or_the_terminal_front_ends():
    graph = grimp.build_graph("engine", "tui")
    assert _cycles(graph, ("engine", "tui")) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("engine.a", "engine.b", "engine.c"):
        graph.add_module(module)
    graph.add_import(importer="engine.a", imported="engine.b")
    graph.add_import(importer="engine.b", imported="engine.a")
    graph.add_import(importer="engine.b", imported="engine.c")
    assert _cycles(graph, ("engine",)) == [["engine.a", "engine.b"]]


def code_paths(root: Path) -> set[str]:
    """Every module of engine/ and tui/ as a path from the root, and every sub-package as
    ``engine/core/``: a sub-package's ``__init__.py`` is said by the package's own line."""
    paths = set()
    for package in PACKAGES:
        for file in (root / package).rglob("*.py"):
            relative = file.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            if file.name == "__init__.py" and len(relative.parts) > 2:
                paths.add("/".join(relative.parts[:-1]) + "/")
            else:
                paths.add(relative.as_posix())
    return paths


def unlined_and_stale(root: Path, text: str) -> tuple[list[str], list[str]]:
    """The modules without a line of their own in ``text``, and the paths it names that
    do not exist (a module renamed or removed since)."""
    lined = set(MODULE_LINE.findall(text))
    named = set(NAMED_PATH.findall(text)) | lined
    unlined = sorted(code_paths(root) - lined)
    stale = sorted(path for path in named if not (root / path).exists())
    return unlined, stale


def missing_tests(root: Path, text: str) -> list[str]:
    """The test files and folders ``text`` names that do not exist."""
    return sorted(path for path in set(TEST_PATH.findall(text)) if not (root / path).exists())


def test_architecture_md_gives_every_module_a_line_and_names_none_that_is_gone():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    unlined, stale = unlined_and_stale(ROOT, text)
    assert unlined == [], f"ARCHITECTURE.md has no line for {unlined}: one sentence each"
    assert stale == [], f"ARCHITECTURE.md names {stale}, which no longer exist"


def test_a_module_without_its_line_or_a_path_gone_is_found(tmp_path):
    for path in (
        "engine/__init__.py",
        "engine/core/__init__.py",
        "engine/core/descent.py",
        "tui/__init__.py",
        "tui/app.py",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    text = (
        "- `engine/__init__.py`: names.\n- `engine/core/`: the lesson.\n"
        "- `tui/__init__.py`: the package.\n- `tui/app.py`: the App; see `engine/old.py`.\n"
        "Named in passing is not enough: `engine/core/descent.py`.\n"
        "Its tests: `tests/tui/test_app.py`.\n"
    )
    assert unlined_and_stale(tmp_path, text) == (["engine/core/descent.py"], ["engine/old.py"])
    text += "- `engine/core/descent.py`: the loop.\n"
    assert unlined_and_stale(tmp_path, text) == ([], ["engine/old.py"])
    assert missing_tests(tmp_path, text) == ["tests/tui/test_app.py"]
    (tmp_path / "tests" / "tui").mkdir(parents=True)
    (tmp_path / "tests" / "tui" / "test_app.py").write_text("")
    assert missing_tests(tmp_path, text) == []


def test_the_tests_architecture_md_names_exist():
    if not (ROOT / "tests" / "engine").is_dir():
        pytest.skip("the tests are not yet arranged by component (tests/engine/, tests/tui/...)")
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = missing_tests(ROOT, text)
    assert missing == [], f"ARCHITECTURE.md names {missing}, which do not exist"
