"""Committed notebooks are clean, parameterised, logic-free, and run through papermill."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from quantlab.reports import declared_parameters, run_reports

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Small parameters so that every notebook runs in seconds in the test suite.
SMALL = {"start": "2024-01-01", "end": "2024-01-22"}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_literals(path):
    tagged = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters'"
    tree = ast.parse("".join(tagged[0]["source"]))
    for node in tree.body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), (
            f"line {node.lineno}: not an assignment"
        )
        ast.literal_eval(node.value)  # raises on anything but a literal


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_functions_or_classes(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(
            "\n".join(line for line in source.splitlines() if not line.startswith(("%", "!")))
        )
        for node in ast.walk(tree):
            assert not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ), f"cell {i} defines {type(node).__name__} (logic belongs in the quantlab package)"


@pytest.mark.notebook
def test_every_notebook_executes(tmp_path):
    params = {k: v for k, v in SMALL.items() if any(k in declared_parameters(p) for p in NOTEBOOKS)}
    run = run_reports(NOTEBOOKS, params, output_root=tmp_path / "reports", raise_on_failure=False)
    failures = {Path(nb.notebook).name: nb.error for nb in run.failed}
    assert not failures, failures
    assert (tmp_path / "reports" / "index.html").is_file()
    for nb in run.notebooks:
        assert nb.output_html and (run.run_dir / nb.output_html).is_file()
