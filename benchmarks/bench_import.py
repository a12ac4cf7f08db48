"""Time ``import quantlab`` (cold, in fresh interpreters) and record it in RESULTS.md.

The target is under 1 s: heavy modules (vectorbt, numba kernels, papermill) load lazily.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import write_section

REPEATS = 7


def time_import(statement: str) -> float:
    """Return the median wall time of running ``statement`` in a fresh interpreter."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = time_import("pass")
    rows = [
        ("python -c pass (interpreter start)", baseline),
        ("import quantlab", time_import("import quantlab")),
        ("import quantlab.data", time_import("import quantlab.data")),
        ("import pandas", time_import("import pandas")),
    ]
    lines = [
        f"Median of {REPEATS} fresh interpreters, seconds (target: `import quantlab` < 1 s).",
        "",
        "| statement | wall s | minus interpreter start |",
        "|---|---:|---:|",
    ]
    for name, seconds in rows:
        lines.append(f"| `{name}` | {seconds:.3f} | {seconds - baseline:.3f} |")
    text = "\n".join(lines)
    print(text)
    write_section(Path(__file__).with_name("RESULTS.md"), "bench_import", "Import time", text)


if __name__ == "__main__":
    main()
