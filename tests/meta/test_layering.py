"""The import layering of DESIGN.md: a module imports only from layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "quantlab"

#: Layers in import order; a module may import from its own layer or an earlier one.
LAYERS: list[tuple[str, ...]] = [
    (
        "quantlab._typing",
        "quantlab._lazy",
        "quantlab._plain",
        "quantlab._process",
        "quantlab.errors",
        "quantlab.config",
        "quantlab.registry",
        "quantlab.parallel",
        "quantlab.provenance",
    ),
    ("quantlab.kernels",),
    ("quantlab.data",),
    ("quantlab.wallets",),
    ("quantlab.factors",),
    ("quantlab.models",),
    ("quantlab.risk",),
    ("quantlab.backtest",),
    ("quantlab.execution",),
    ("quantlab.live",),
    ("quantlab.lifecycle",),
    ("quantlab.reports",),
    ("quantlab.dashboards",),
    ("quantlab.cli",),
]

#: What a kernel may import: pure numba, numpy in, numpy out.
KERNEL_ALLOWED = {"numpy", "numba", "math", "__future__", "typing", "collections", "quantlab"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int | None:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    package = (
        _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer():
    missing = [_module_name(p) for p in MODULES if _layer(_module_name(p)) is None]
    assert not missing, f"modules outside the layers of DESIGN.md: {missing}"


def _violations(module: str, imports: list[tuple[int, str]]) -> list[str]:
    own = _layer(module)
    bad = []
    for line, name in imports:
        if not name.startswith("quantlab"):
            continue
        target = _layer(name)
        if name == "quantlab":
            bad.append(f"line {line}: 'import quantlab' inside the package (import the module)")
        elif target is not None and own is not None and target > own:
            bad.append(f"line {line}: {module} (layer {own}) imports {name} (layer {target})")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_respect_layers(path):
    bad = _violations(_module_name(path), _imports(path))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "path",
    sorted((PACKAGE / "kernels").glob("*.py")),
    ids=lambda p: p.stem,
)
def test_kernels_are_pure(path):
    bad = [
        f"line {line}: {name}"
        for line, name in _imports(path)
        if name.split(".")[0] not in KERNEL_ALLOWED
        or (
            name.startswith("quantlab")
            and not name.startswith(("quantlab.kernels", "quantlab._typing"))
        )
    ]
    assert not bad, f"kernel {path.name} imports beyond numpy/numba: {bad}"


def test_layering_check_catches_a_violation():
    # the check itself must be able to fail
    assert _violations("quantlab.kernels.x", [(3, "quantlab.backtest.engine")])
    assert _violations("quantlab.data.schema", [(1, "quantlab.factors")])
    assert _violations("quantlab.factors.x", [(1, "quantlab")])
    assert not _violations("quantlab.backtest.engine", [(1, "quantlab.kernels.ta")])
