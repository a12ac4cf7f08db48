"""Every notebook runs on a user's plain OHLCV CSV: 4-hour bars, no funding or trades
columns, one missing bar, passed as ``-p source file.csv -p gaps allow``."""

from __future__ import annotations

from pathlib import Path

import pytest

import quantlab as ql
from quantlab.reports import declared_parameters, run_reports

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-4]_*.ipynb"))

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
        "search_trials": 5,
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


@pytest.mark.notebook
def test_the_readme_own_data_steps(tmp_path, monkeypatch, capsys):
    """README "Your own data": check the file, load it, store it, report on it by symbol."""
    from quantlab.cli import main

    monkeypatch.chdir(tmp_path)
    _plain_4h_csv(tmp_path / "my_bars.csv")
    assert main(["data", "check", "my_bars.csv"]) == 1  # the missing bar fails the check
    assert main(["data", "check", "my_bars.csv", "--gaps", "allow"]) == 0
    assert "interval 4h" in capsys.readouterr().out
    with pytest.warns(ql.data.DataQualityWarning, match="1 missing bar"):
        df = ql.data.load("my_bars.csv", gaps="allow")
    assert df.attrs["interval"] == "4h"
    ql.data.store.Store().write(df, "mine", "BTC", "4h")
    stored = ql.data.load("store", symbol="BTC", origin="mine", gaps="allow")
    assert stored.attrs["interval"] == "4h" and len(stored) == len(df)
    notebook = str(ROOT / "notebooks" / "01_data_quality.ipynb")
    argv = ["report", notebook, "-p", "source", "store", "-p", "symbol", "BTC"]
    assert main([*argv, "-p", "options", "{store: {origin: mine}}"]) == 0
    (run,) = ql.reports.list_runs("reports")
    (card,) = run["notebooks"][0]["data"]
    assert (card["source"], card["interval"], card["rows"], card["origin"]) == (
        "store", "4h", 359, "mine",
    )  # fmt: skip
