"""Every notebook runs on a user's plain OHLCV CSV: 4-hour bars, no funding or trades
columns, one missing bar, passed as ``-p source file.csv -p gaps allow``."""

from __future__ import annotations

from pathlib import Path

import pytest

import quantlab as ql
from quantlab.reports import declared_parameters, run_reports

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[123]_*.ipynb"))

#: A handful of factors of every kind of units keeps 02 quick (levels, spreads, signals).
FACTORS = ["ema", "kama", "atr", "obv", "rsi", "momentum_z", "bb_z", "log_return"]


def _plain_4h_csv(path: Path) -> Path:
    df = ql.data.load("synthetic", interval="4h", start="2024-01-01", end="2024-03-01", seed=11)
    df = df[list(ql.data.BAR_COLUMNS)].drop(df.index[100])  # one missing bar
    out = df.reset_index()
    out["time"] = out["time"].dt.strftime("%Y-%m-%d %H:%M")
    out.to_csv(path, index=False, float_format="%.6f")
    return path


@pytest.mark.notebook
def test_every_notebook_runs_on_a_plain_4h_csv_with_a_gap(tmp_path):
    csv = _plain_4h_csv(tmp_path / "my_bars.csv")
    params = {
        "source": str(csv),
        "gaps": "allow",
        "start": None,
        "end": None,
        "factors": FACTORS,
    }
    params = {
        k: v for k, v in params.items() if any(k in declared_parameters(p) for p in NOTEBOOKS)
    }
    run = run_reports(NOTEBOOKS, params, output_root=tmp_path / "reports", raise_on_failure=False)
    failures = {Path(nb.notebook).name: nb.error for nb in run.failed}
    assert not failures, failures
    for nb in run.notebooks:
        (card,) = nb.data
        assert card["interval"] == "4h", (nb.notebook, card)  # inferred, not the 1h default
        assert card["source"] == str(csv) and card["rows"] == 359
        assert "funding_rate" not in card["columns"]
    html = (run.run_dir / run.notebooks[0].output_html).read_text(encoding="utf-8")
    assert "1 missing bar(s) of 4h" in html  # the quality table counts it at the data's interval
