"""The engine and the sweep give the same numbers jitted and as plain Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

_SCRIPT = """
import json
import quantlab as ql
df = ql.data.load("synthetic", symbol="ETH", start="2024-01-01", end="2024-01-15", seed=4)
s = ql.backtest.ma_cross(fast=5, slow=20, stop_loss=0.02)
r = ql.backtest.run(df, s, costs=ql.backtest.Costs.hyperliquid())
d = ql.backtest.donchian_breakout(entry_window=20, exit_window=10)
r2 = ql.backtest.run(df, d, costs=0.0005, fill="close")
t = ql.backtest.sweep(df, s, {"fast": [5, 8], "slow": [20, 30]}, costs=0.0005, progress=False)
print(json.dumps({
    "equity": r.equity.tolist(), "pnl": r.trades["pnl"].tolist(),
    "equity2": r2.equity.tolist(), "sweep": t["total_return"].tolist(),
}))
"""


def _run(disable_jit: bool) -> dict:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1" if disable_jit else "0"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_jitted_equals_plain_python():
    jitted, plain = _run(False), _run(True)
    assert len(jitted["pnl"]) > 0
    for key in ("equity", "pnl", "equity2", "sweep"):
        np.testing.assert_allclose(jitted[key], plain[key], rtol=1e-12, atol=0, err_msg=key)
