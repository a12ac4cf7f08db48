"""environment.yml (conda-forge) lists the same packages as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: conda-forge names of PyPI packages whose names differ.
CONDA_NAMES = {"arch": "arch-py", "duckdb": "python-duckdb"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return {CONDA_NAMES.get(_name(r), _name(r)) for r in reqs}


def _environment() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep.get("pip", []) if not p.startswith("-")}
        elif not dep.startswith(("python=", "pip")) or dep.startswith("pip:"):
            names.add(_name(dep))
    return names


def test_environment_matches_pyproject():
    pyproject, environment = _pyproject(), _environment()
    assert pyproject - environment == set(), "in pyproject.toml, missing from environment.yml"
    assert environment - pyproject == set(), "in environment.yml, missing from pyproject.toml"


def test_user_chosen_packages_are_declared():
    chosen = {
        "jupyterlab", "papermill", "vectorbt", "pandas", "statsmodels", "filterpy", "arch-py",
        "numba", "panel", "hyperliquid-python-sdk", "solana", "pyarrow", "python-duckdb",
        "pydantic", "pyyaml", "tqdm", "pytest", "hypothesis", "ruff", "ta-lib",
    }  # fmt: skip
    assert chosen <= _pyproject()
