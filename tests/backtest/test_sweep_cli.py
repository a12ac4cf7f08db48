"""``quantlab sweep``: limits, named grid errors, metric direction, stated costs, gaps.

Oracle: the Python API (``ql.backtest.sweep``) on the same bars, and the rules themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlab.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["sweep", "--strategy", "ma_cross", "--quiet", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_huge_grid_refuses_at_once_with_its_estimate(capsys):
    code, _, err = _run(capsys, "--grid", "fast=1:1000", "slow=2:1001")
    assert code == 1
    line = err.strip()
    assert "\n" not in line
    assert "500,500 combinations" in line and " s on " in line and "GB" in line
    assert "--yes" in line


@pytest.mark.parametrize(
    ("grid", "named"),
    [
        (["fast=5", "slow=abc"], "slow='abc': must be a valid integer"),
        (["fast=5,10", "slow=30", "stop_loss=-0.1,0.02"], "stop_loss=-0.1: must be greater than 0"),
        (["fast=50", "slow=10"], "fast < slow"),
    ],
)
def test_grid_errors_name_the_value_and_the_rule(capsys, grid, named):
    code, _, err = _run(capsys, "--grid", *grid)
    assert code == 1 and named in err and len(err.strip().splitlines()) == 1


def _table(out: str) -> pd.DataFrame:
    lines = out.strip().splitlines()
    header, rows = lines[0].split(), [ln.split() for ln in lines[1:-1]]
    return pd.DataFrame(rows, columns=header).astype(float)


def test_metric_ranks_in_its_better_direction_and_costs_are_stated(capsys):
    grid = ["--grid", "fast=5:20:5", "slow=30:60:10", "--start", "2024-01-01", "--end",
            "2024-02-15"]  # fmt: skip
    code, out, _ = _run(capsys, *grid, "--metric", "max_drawdown", "--top", "5")
    assert code == 0
    dd = _table(out)["max_drawdown"].to_numpy()
    assert len(dd) == 5 and (np.diff(dd) >= 0).all()  # smallest drawdown first
    assert "smaller is better" in out and "costs: maker 0.015%, taker 0.045%" in out
    code, out, _ = _run(capsys, *grid, "--metric", "sharpe", "--top", "3", "--costs", "0")
    sharpe = _table(out)["sharpe"].to_numpy()
    assert code == 0 and (np.diff(sharpe) <= 0).all()
    assert "costs: ZERO costs" in out and (_table(out)["fees_paid"] == 0).all()


def test_gaps_flag_reaches_the_bars(capsys, tmp_path):
    idx = pd.date_range("2024-01-01", periods=400, freq="1h", tz="UTC", name="time")
    c = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 400)))
    df = pd.DataFrame(
        {"open": c, "high": c * 1.01, "low": c * 0.99, "close": c, "volume": 1.0}, index=idx
    ).drop(idx[200])
    path = tmp_path / "gap.csv"
    df.to_csv(path)
    base = ["--source", str(path), "--grid", "fast=5,10", "slow=30,50"]
    code, _, err = _run(capsys, *base)
    assert code == 1 and "--gaps allow" in err
    code, out, _ = _run(capsys, *base, "--gaps", "allow")
    assert code == 0 and "4 trials" in out
