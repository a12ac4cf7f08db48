"""Every ``ql.`` name the README and the notebooks use works right after ``import quantlab``.

Each name is resolved in its own fresh process, so that no earlier import can make a
submodule attribute appear by accident (``ql.data.store.Store`` used to raise
AttributeError until something else had imported ``quantlab.data.store``). One interpreter
imports ``quantlab`` and the third-party libraries (never a quantlab submodule), then forks
a child per name: each child starts exactly where a fresh ``import quantlab`` leaves it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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


#: Run in one fresh interpreter: import quantlab, then heavy third-party libraries (which
#: load no quantlab module), then fork one child per name; print {name: error} as JSON.
_FORKING_RESOLVER = r"""
import json, os, sys
import quantlab as ql
own = {m for m in sys.modules if m.startswith("quantlab")}
import matplotlib
matplotlib.use("Agg")
import numpy, pandas, scipy.stats, numba, pydantic, yaml, pyarrow  # noqa: F401
extra = {m for m in sys.modules if m.startswith("quantlab")} - own
assert not extra, f"a third-party import loaded {sorted(extra)}"
names = json.loads(sys.argv[1])
out = {}
for name in names:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            obj = ql
            for part in name.split("."):
                obj = getattr(obj, part)
            msg = ""
        except BaseException as exc:
            msg = f"{type(exc).__name__}: {exc}" or "error"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        msg = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    out[name] = msg or (None if status == 0 else f"child exit status {status}")
print(json.dumps(out))
"""


def _resolve_in_fresh_processes(names: list[str]) -> dict[str, str | None]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", _FORKING_RESOLVER, json.dumps(names)],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_walk_finds_the_documented_names():
    names = documented_names()
    assert {"data.store.Store", "data.synthetic.simulate", "data.load"} <= set(names)
    assert len(names) >= 20


def test_every_documented_name_resolves_in_a_fresh_process():
    names = _leaves(documented_names())
    errors = _resolve_in_fresh_processes(names)
    assert set(errors) == set(names)
    broken = {f"ql.{name}": error for name, error in errors.items() if error}
    assert not broken, broken


def test_the_resolver_sees_a_missing_name():
    errors = _resolve_in_fresh_processes(["data.load", "data.no_such_name"])
    assert errors["data.load"] is None
    assert "no_such_name" in errors["data.no_such_name"]
