"""Every ``ql.`` name the README and the notebooks use works right after ``import quantlab``.

Each name is resolved in its own fresh interpreter, so that no earlier import can make a
submodule attribute appear by accident (``ql.data.store.Store`` used to raise
AttributeError until something else had imported ``quantlab.data.store``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bql\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def documented_names() -> list[str]:
    """Return every dotted ``ql.`` name in README.md and the notebooks' code cells."""
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return sorted({m.group(1) for text in texts for m in NAME.finditer(text)})


def _leaves(names: list[str]) -> list[str]:
    """Drop names that are a prefix of another (resolving ``a.b.c`` resolves ``a.b``)."""
    return [n for n in names if not any(other.startswith(n + ".") for other in names)]


def _resolve_in_fresh_process(name: str) -> str | None:
    code = (
        "import quantlab as ql\n"
        "obj = ql\n"
        f"for part in {name.split('.')!r}:\n"
        "    obj = getattr(obj, part)\n"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def test_the_walk_finds_the_documented_names():
    names = documented_names()
    assert {"data.store.Store", "data.synthetic.simulate", "data.load"} <= set(names)
    assert len(names) >= 20


def test_every_documented_name_resolves_in_a_fresh_process():
    names = _leaves(documented_names())
    with ThreadPoolExecutor(max_workers=4) as pool:
        errors = dict(zip(names, pool.map(_resolve_in_fresh_process, names), strict=True))
    broken = {f"ql.{name}": error for name, error in errors.items() if error}
    assert not broken, broken
