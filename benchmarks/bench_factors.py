"""Time the classic factors against TA-Lib, and compute_many of every factor, on 1e6 bars.

Run: ``.venv/bin/python benchmarks/bench_factors.py``. Writes its table into
benchmarks/RESULTS.md between ``<!-- bench_factors:start -->`` and ``:end -->``.

Per factor: median of ``REPEATS`` alternating runs after a JIT warm-up, of the kernel as the factor
calls it (``spec.compute(*arrays)``) and of the same TA-Lib function on the same arrays
(for ``bb_z``: TA-Lib's BBANDS, whose bands need the same mean and deviation). Compile
time is measured in a fresh interpreter with an empty numba cache directory (cold,
``cache=True``) and with the cache just written (warm).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import talib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quantlab as ql
from quantlab.factors.conformance import synthetic_bars

HERE = Path(__file__).resolve().parent
N = 1_000_000
REPEATS = 15

TALIB = {
    "sma": lambda h, l, c, v: talib.SMA(c, 20),
    "ema": lambda h, l, c, v: talib.EMA(c, 20),
    "kama": lambda h, l, c, v: talib.KAMA(c, 10),
    "stddev": lambda h, l, c, v: talib.STDDEV(c, 20, 1.0),
    "bb_z": lambda h, l, c, v: talib.BBANDS(c, 20, 1.0, 1.0, 0),
    "rsi": lambda h, l, c, v: talib.RSI(c, 14),
    "macd_hist": lambda h, l, c, v: talib.MACD(c, 12, 26, 9),
    "cci": lambda h, l, c, v: talib.CCI(h, l, c, 14),
    "mfi": lambda h, l, c, v: talib.MFI(h, l, c, v, 14),
    "atr": lambda h, l, c, v: talib.ATR(h, l, c, 14),
    "natr": lambda h, l, c, v: talib.NATR(h, l, c, 14),
    "adx": lambda h, l, c, v: talib.ADX(h, l, c, 14),
    "obv": lambda h, l, c, v: talib.OBV(c, v),
}


def _median_time(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up (JIT compile / cache load, page faults)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _paired_times(a, b, repeats: int = REPEATS) -> tuple[float, float]:
    """Median times of ``a`` and ``b`` run alternately (the 2 shared cores are noisy)."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return float(np.median(ta)), float(np.median(tb))


_COMPILE = """
import time, numpy as np
t0 = time.perf_counter()
import quantlab as ql
from quantlab.factors.conformance import synthetic_bars
df = synthetic_bars(300)
t1 = time.perf_counter()
for n in %r:
    ql.factors.compute(n, df)
print(t1 - t0, time.perf_counter() - t1)
"""


def _compile_times(names: list[str]) -> tuple[float, float, float]:
    """Return (import s, first compute of all classic factors cold, same warm cache)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(HERE.parent))
        runs = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _COMPILE % names],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout.split()
            runs.append((float(out[0]), float(out[1])))
    return runs[0][0], runs[0][1], runs[1][1]


def main() -> None:
    df = synthetic_bars(N, seed=1)
    h, l, c, v = (
        np.ascontiguousarray(df[k].to_numpy()) for k in ("high", "low", "close", "volume")
    )
    cols = {"high": h, "low": l, "close": c, "volume": v}
    rows = []
    for name, ref in TALIB.items():
        s = ql.factors.spec(name)
        arrays = [cols[k] for k in s.inputs]
        ours, theirs = _paired_times(
            lambda s=s, arrays=arrays: s.compute(*arrays), lambda ref=ref: ref(h, l, c, v)
        )
        rows.append((name, ours, theirs))
        print(f"{name:10s} quantlab {ours * 1e3:7.2f} ms  talib {theirs * 1e3:7.2f} ms")

    names = ql.factors.names()
    ql.factors.compute_many(df.iloc[:1000])  # compile everything first
    many = _median_time(lambda: ql.factors.compute_many(df), repeats=3)
    classic = _median_time(lambda: ql.factors.compute_many(df, list(TALIB)), repeats=3)
    print(f"compute_many all {len(names)} factors: {many:.3f} s; classic 13: {classic:.3f} s")
    imp, cold, warm = _compile_times(list(TALIB))
    print(f"compile: cold {cold:.2f} s, warm cache {warm:.2f} s (import {imp:.2f} s)")

    lines = [
        f"Each classic factor on {N:,} bars (seeded random walk), median of {REPEATS} runs "
        "after a JIT warm-up, run alternately with the same TA-Lib function on the same arrays "
        "(`bb_z` against BBANDS). Ratio < 1: quantlab is faster. The 2 cores are shared "
        "with other jobs, so single numbers jitter by 10-30 %.",
        "",
        "| factor | quantlab ms | TA-Lib ms | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name, ours, theirs in rows:
        lines.append(f"| `{name}` | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {ours / theirs:.2f} |")
    lines += [
        "",
        f"`compute_many` of every registered factor ({len(names)}) on {N:,} bars: "
        f"**{many:.3f} s** (target < 2 s); of the 13 classic factors: {classic:.3f} s.",
        "",
        f"Compile time of the 13 classic kernels (fresh interpreter, first `compute` of each "
        f"on 300 bars): cold cache **{cold:.2f} s**, warm `cache=True` cache {warm:.2f} s "
        f"(`import quantlab` + frame: {imp:.2f} s).",
    ]
    sys.path.insert(0, str(HERE))
    from _results import write_section

    write_section(HERE / "RESULTS.md", "bench_factors", "Factors vs TA-Lib", "\n".join(lines))


if __name__ == "__main__":
    main()
