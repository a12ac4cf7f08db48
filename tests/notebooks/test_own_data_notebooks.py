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


@pytest.mark.notebook
def test_the_readme_store_command_runs(tmp_path, monkeypatch, capsys):
    """`quantlab report notebooks/01_data_quality.ipynb -p source store -p symbol ETH`."""
    from quantlab.cli import main

    monkeypatch.chdir(tmp_path)
    bars = ql.data.load("synthetic", symbol="ETH", interval="1h", n_bars=200, seed=5)
    ql.data.store.Store("data").write(bars, "hyperliquid", "ETH", "1h")
    notebook = str(ROOT / "notebooks" / "01_data_quality.ipynb")
    argv = ["report", notebook, "-p", "source", "store", "-p", "symbol", "ETH"]
    assert main([*argv, "--run-id", "eth"]) == 0
    out = capsys.readouterr().out
    assert "ok  " in out and "eth" in out
    (run,) = ql.reports.list_runs("reports")
    (card,) = run["notebooks"][0]["data"]
    assert (card["source"], card["symbol"], card["interval"], card["rows"]) == (
        "store", "ETH", "1h", 200,
    )  # fmt: skip
