"""The architecture the folder list promises: no import cycle in engine/ or tui/.

The layers themselves are import-linter contracts in pyproject.toml (`make lint`);
a cycle inside one layer would slip past them, so this test looks for any.
"""

import grimp


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
