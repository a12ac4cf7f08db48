"""The package's import graph: no circle between modules, no private name across modules.

Every ``import`` and ``from ... import`` in the package counts, at module level or inside a
function (a lazy import still ties two modules together). Nodes are modules (files); an
import of a package's ``__init__`` is not an edge (re-exports are the package's face).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "quantlab"


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {_name(p): p for p in PACKAGE.rglob("*.py")}
PACKAGES = {_name(p) for p in PACKAGE.rglob("__init__.py")}
MODULES = {m for m in FILES if m not in PACKAGES}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if module not in PACKAGES:
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _edges(module: str) -> list[tuple[int, str, str | None]]:
    """Return ``(line, imported module, imported name or None)`` for every import."""
    tree = ast.parse(FILES[module].read_text(encoding="utf-8"))
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, None) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in FILES:
                    out.append((node.lineno, sub, None))  # a submodule, not a name
                else:
                    out.append((node.lineno, target, a.name))
    return [e for e in out if e[1] == "quantlab" or e[1].startswith("quantlab.")]


GRAPH = {m: sorted({t for _, t, _ in _edges(m) if t in MODULES and t != m}) for m in MODULES}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_circle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_no_import_cycle():
    cycles = _cycles(GRAPH)
    assert not cycles, "import circles between modules: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_private_name_imported_across_modules():
    bad = []
    for module in sorted(FILES):
        for line, target, name in _edges(module):
            if name is None or not name.startswith("_") or name.startswith("__"):
                continue
            if target != module:
                bad.append(f"{FILES[module].relative_to(PACKAGE.parent)}:{line} {target}.{name}")
    assert not bad, "private names imported from another module: " + ", ".join(bad)
