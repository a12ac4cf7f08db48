"""Dashboard views without a browser: they build, widgets change outputs, bad input shows a
message, and what a view shows is what the quantlab function it calls returns."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.dashboards import (
    PAGES,
    app,
    backtest_view,
    data_view,
    factors_view,
    models_view,
    reports_view,
    serve,
)
from quantlab.dashboards import backtest as bt_page
from quantlab.dashboards._common import DataControls, FrameSource, load_bars
from quantlab.dashboards.data import data_page
from quantlab.dashboards.factors import FactorChoice, factors_page, parse_horizons
from quantlab.dashboards.models import ModelChoice, models_page, regime_probabilities
from quantlab.dashboards.reports import reports_table_html
from quantlab.errors import ConfigError, DataError

SMALL = {"start": "2024-01-01", "end": "2024-01-22"}  # three weeks of hourly bars


def figures(view) -> dict:
    """Return the Bokeh figures in a view by name."""
    return {p.object.name: p.object for p in view.select(pn.pane.Bokeh)}


def alerts(view, kind: str | None = None) -> list[str]:
    """Return the texts of the alerts in a view (of one kind if given)."""
    return [a.object for a in view.select(pn.pane.Alert) if kind is None or a.alert_type == kind]


@pytest.fixture(scope="module")
def synth() -> pd.DataFrame:
    return ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7, **SMALL)


@pytest.fixture
def controls() -> DataControls:
    return DataControls(
        start=pd.Timestamp(SMALL["start"]).date(), end=pd.Timestamp(SMALL["end"]).date()
    )


# ----------------------------------------------------------------------------- data
def test_data_view_shows_the_bars_and_the_quality_table(synth):
    view = data_view(synth)
    figs = figures(view)
    assert {"price", "volume", "funding"} <= set(figs)
    close = figs["price"].select_one({"name": "price_source"}).data["close"]
    np.testing.assert_array_equal(close, synth["close"].to_numpy())
    # the same x range: zooming the price zooms volume and funding
    assert figs["volume"].x_range is figs["price"].x_range is figs["funding"].x_range
    tables = {p.name: p.object for p in view.select(pn.pane.DataFrame)}
    expected = ql.data.quality_report(synth, "1h")
    assert list(tables["quality"]["check"]) == list(expected["check"])
    assert (tables["quality"]["status"] == "ok").all()
    assert any("Every data-quality check passed" in a for a in alerts(view, "success"))


def test_data_controls_reload_on_every_picker_change(controls):
    page = data_page(controls)
    title = figures(page)["price"].title.text
    assert title.startswith("synthetic BTC 1h (seed 7)")
    controls.seed = 8
    new = figures(page)["price"]
    assert new.title.text.startswith("synthetic BTC 1h (seed 8)")
    expected = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=8, **SMALL)
    np.testing.assert_array_equal(
        new.select_one({"name": "price_source"}).data["close"], expected["close"].to_numpy()
    )
    controls.interval = "4h"
    assert len(controls.frame) == len(expected) // 4


def test_bad_picker_input_shows_a_message_and_the_app_recovers(controls, tmp_path, monkeypatch):
    page = data_page(controls)
    controls.symbol = "  "
    assert controls.frame is None
    assert any("symbol is empty" in a for a in alerts(page, "danger"))
    controls.symbol = "ETH"
    controls.param.update(start=pd.Timestamp("2024-02-01").date())  # after the end
    messages = alerts(page, "danger")
    assert messages and "ConfigError" in messages[0] and "end" in messages[0]
    monkeypatch.chdir(tmp_path)  # an empty local store: the source cannot serve
    controls.param.update(start=pd.Timestamp(SMALL["start"]).date(), source="store")
    assert any("Cannot load store ETH 1h" in a for a in alerts(page, "danger"))
    controls.source = "synthetic"
    assert figures(page)["price"].title.text.startswith("synthetic ETH 1h")


def test_an_offline_source_shows_a_source_error(controls, monkeypatch):
    def offline(*args, **kwargs):
        raise ql.SourceError("hyperliquid: network unreachable (offline)")

    monkeypatch.setattr("quantlab.data.hyperliquid.load_hyperliquid", offline)
    load_bars.clear()
    controls.source = "hyperliquid"
    page = data_page(controls)
    (message,) = alerts(page, "danger")
    assert "SourceError" in message and "offline" in message


def test_a_bad_frame_shows_which_rule_it_broke():
    df = random_bars(50)
    df.iloc[10, df.columns.get_loc("high")] = df["low"].iloc[10] - 1.0  # high < low
    view = data_view(df)
    (message,) = alerts(view, "danger")
    assert "DataError" in message and "high" in message
    quality = {p.name: p.object for p in view.select(pn.pane.DataFrame)}["quality"]
    assert (quality["status"] == "FAIL").any()
    assert "price" not in figures(view)


def test_frame_source_infers_the_interval():
    assert FrameSource.from_frame(random_bars(20, freq="4h")).bar_interval == "4h"
    assert FrameSource.from_frame(random_bars(20, freq="15min")).bar_interval == "15m"


# -------------------------------------------------------------------------- factors
def test_factors_view_factor_over_price_ic_and_correlation(synth):
    view = factors_view(synth)
    figs = figures(view)
    assert {"factor_price", "factor", "ic", "ic_decay", "correlation"} <= set(figs)
    assert figs["factor"].x_range is figs["factor_price"].x_range
    assert figs["factor"].title.text == "MomentumZ(window=24, vol_window=168)"
    plotted = figs["factor"].select_one({"name": "factor_source"}).data["momentum_z"]
    expected = ql.factors.compute("momentum_z", synth)
    np.testing.assert_array_equal(plotted, expected.to_numpy())
    from quantlab.factors import research

    ic = {p.name: p.object for p in view.select(pn.pane.DataFrame)}["ic_table"]
    fwd = research.forward_returns(synth["close"], [1, 4, 12, 24])
    np.testing.assert_allclose(
        ic["rank_ic"].to_numpy(),
        research.rank_ic(expected, fwd).to_numpy(),
    )


def test_factor_widgets_change_the_chart(synth):
    source = FrameSource.from_frame(synth)
    page = factors_page(source)
    fc = page.choice
    assert isinstance(fc, FactorChoice)
    window = fc._widgets["window"]
    window.value = 12
    assert figures(page)["factor"].title.text == "MomentumZ(window=12, vol_window=168)"
    fc.factor = "ema_spread"
    assert set(fc._widgets) == {"fast_window", "window", "atr_window"}
    assert figures(page)["factor"].title.text.startswith("EmaSpread(")
    fc.compare = ["ema_spread"]
    assert any("at least two factors" in a for a in alerts(page, "info"))
    fc.horizons = "4, zero"
    assert any("'zero' is not a whole number" in a for a in alerts(page, "danger"))
    window = fc._widgets["window"]
    window.value = 5  # fast_window 12 >= window 5: the factor refuses it
    assert any("ConfigError" in a for a in alerts(page, "danger"))


def test_parse_horizons():
    assert parse_horizons("24, 1,4 ;4") == [1, 4, 24]
    for bad in ("", "0", "1.5", "x"):
        with pytest.raises(ConfigError, match="horizons"):
            parse_horizons(bad)


# --------------------------------------------------------------------------- models
def test_models_view_regimes_recover_the_synthetic_turbulent_regime():
    from quantlab.data.synthetic import simulate

    market = simulate(("BTC",), interval="1h", start="2024-01-01", end="2024-02-15", seed=7)
    df, labels = market.bars["BTC"], market.regimes["BTC"]
    turbulent = labels.to_numpy() == market.REGIME_NAMES.index("turbulent")
    assert 0.02 < turbulent.mean() < 0.3
    mu = regime_probabilities(df, 0.4, 2.5, 0.98, 1.0)
    np.testing.assert_allclose(mu.sum(axis=1), 1.0, atol=1e-9)
    assert mu["turbulent"][turbulent].mean() > 0.8
    assert mu["turbulent"][~turbulent].mean() < 0.3
    # causal: the probabilities on a prefix equal the full run truncated
    head = regime_probabilities(df.iloc[:300], 0.4, 2.5, 0.98, 1.0)
    pd.testing.assert_frame_equal(head, mu.iloc[:300])

    view = models_view(df)
    figs = figures(view)
    assert {"regime_price", "regimes", "intervals", "coverage"} <= set(figs)
    assert figs["regimes"].x_range is figs["regime_price"].x_range


def test_model_inputs_change_the_charts_and_match_the_model_functions(synth):
    from quantlab.models import evaluation as ev
    from quantlab.models.factors import return_interval

    page = models_page(FrameSource.from_frame(synth, interval="1h"))
    choice = page.choice
    assert isinstance(choice, ModelChoice)
    figs = figures(page)
    assert "(fitted: calm" in figs["regimes"].title.text
    shown = figs["regimes"].select_one({"name": "regimes_source"}).data["turbulent"]
    fit = ev.fit_calm_turbulent(synth)
    np.testing.assert_allclose(shown, fit.mu["turbulent"].to_numpy())

    choice.regime_model = "manual"
    assert "P(stay) 0.98)" in figures(page)["regimes"].title.text
    choice.stay = 0.9
    assert "P(stay) 0.9)" in figures(page)["regimes"].title.text
    choice.param.update(alpha=0.2, gamma=0.0)
    figs = figures(page)
    assert figs["intervals"].title.text.startswith(
        "One-bar log return: 80% conformal interval (split)"
    )
    band = return_interval(synth, alpha=0.2, gamma=0.0, window=500)
    band = band[band["threshold"] < np.inf]
    assert len(band) > 0.9 * len(synth)
    data = figs["intervals"].select_one({"name": "intervals_source"}).data
    assert len(data["lower"]) == len(band)
    np.testing.assert_allclose(data["lower"], band["lower"].to_numpy())
    cov = figs["coverage"].select_one({"name": "coverage_source"}).data["rolling coverage"]
    expected = ql.models.rolling_coverage(band["return"], band["lower"], band["upper"], 100)
    np.testing.assert_allclose(cov, expected.to_numpy())
    with pytest.raises(ValueError):
        choice.window = 0


def test_models_page_scores_regimes_against_the_synthetic_truth(controls):
    page = models_page(controls)
    report = {p.name: p.object for p in page.select(pn.pane.DataFrame)}["regime_report"]
    assert list(report.index) == ["calm", "turbulent", "all"]
    assert report.loc["all", "recall"] > 0.8
    controls.source = "store"  # not synthetic, no truth: the table goes, an alert comes
    assert "regime_report" not in {p.name for p in page.select(pn.pane.DataFrame)}


# ------------------------------------------------------------------------- backtest
def test_backtest_view_shows_the_run_of_quantlab_backtest(synth):
    view = backtest_view(synth)
    figs = figures(view)
    assert {"bt_price", "equity", "drawdown"} <= set(figs)
    assert figs["equity"].x_range is figs["bt_price"].x_range
    res = ql.backtest.run(
        synth, ql.backtest.ma_cross(10, 30), costs=ql.backtest.Costs.hyperliquid(), gaps="allow"
    )
    equity = figs["equity"].select_one({"name": "equity_source"}).data["equity"]
    np.testing.assert_allclose(equity, res.equity.to_numpy())
    stats = {p.name: p.object for p in view.select(pn.pane.DataFrame)}["stats"]
    pd.testing.assert_series_equal(stats["value"], res.stats, check_names=False)
    entries = figs["bt_price"].select_one({"name": "trades_entries"}).data
    assert len(entries["time"]) == len(res.trades)


def test_backtest_widgets_and_bad_parameters(synth):
    page = backtest_view(synth)
    choice = page.choice
    assert isinstance(choice, bt_page.BacktestChoice)
    choice._widgets["fast"].value = 5
    assert "fast=5, slow=30" in figures(page)["bt_price"].title.text
    choice._widgets["slow"].value = 4
    (message,) = alerts(page, "danger")
    assert "fast (5) must be smaller than slow (4)" in message
    choice.strategy = "donchian_breakout"
    assert "donchian_breakout (direction=long, entry_window=20" in (
        figures(page)["bt_price"].title.text
    )


def test_sweep_on_demand_reports_progress_and_draws_the_heatmap(synth):
    page = backtest_view(synth)
    sweep = page.sweep
    sweep.x_values.value, sweep.y_values.value = "5, 10, 15, 20", "20, 30, 40"
    seen = []
    sweep.progress.param.watch(lambda e: seen.append(e.new), "value")
    asyncio.run(sweep.run_sweep())
    # 11 valid combinations (fast=20, slow=20 is refused), run in chunks of 2
    assert seen == [2, 4, 6, 8, 10, 11] and sweep.progress.max == 11
    assert len(sweep.table) == 11
    row = sweep.table.query("fast == 10 and slow == 40").iloc[0]
    res = ql.backtest.run(
        synth, ql.backtest.ma_cross(10, 40), costs=ql.backtest.Costs.hyperliquid(), gaps="allow"
    )
    assert row["sharpe"] == pytest.approx(res.stats["sharpe"])
    heat = figures(sweep.result)["sweep"]
    assert heat.title.text == "Sweep: sharpe by slow (rows) and fast (columns)"
    sweep.metric.value = "total_return"
    assert figures(sweep.result)["sweep"].title.text.startswith("Sweep: total_return")
    sweep.x_values.value = "5, ten"
    asyncio.run(sweep.run_sweep())
    assert any("'ten'" in a for a in alerts(sweep.result, "danger"))


def test_stored_sweep_loads_and_bad_tables_show_a_message(tmp_path, synth):
    table = pd.DataFrame(
        {"fast": [5, 5, 10, 10], "slow": [20, 30, 20, 30], "sharpe": [0.1, 0.2, 0.3, 0.4]}
    )
    path = tmp_path / "sweep.csv"
    table.to_csv(path, index=False)
    pd.testing.assert_frame_equal(bt_page.load_sweep(path), table)
    heat = bt_page.sweep_heatmap_table(table, "fast", "slow", "sharpe")
    assert heat.loc[30, 10] == 0.4
    with pytest.raises(DataError, match="no column 'calmar'"):
        bt_page.sweep_heatmap_table(table, "fast", "slow", "calmar")
    with pytest.raises(ConfigError, match="does not exist"):
        bt_page.load_sweep(tmp_path / "missing.parquet")
    page = backtest_view(synth)
    page.sweep.path.value = str(path)
    page.sweep._on_load()
    assert "sweep" in figures(page.sweep.result)
    page.sweep.path.value = str(tmp_path / "nope.csv")
    page.sweep._on_load()
    assert any("does not exist" in a for a in alerts(page.sweep.result, "danger"))


def test_stored_sweeps_are_found_under_the_reports_folder(tmp_path, synth):
    assert bt_page.stored_sweeps(tmp_path / "missing") == []
    run = tmp_path / "2024-05-01" / "run-1"
    run.mkdir(parents=True)
    table = pd.DataFrame({"fast": [5, 10], "slow": [20, 20], "sharpe": [0.5, -0.1]})
    table.to_parquet(run / "sweep.parquet")
    (run / "other.parquet").write_bytes(b"")
    assert bt_page.stored_sweeps(tmp_path) == [run / "sweep.parquet"]
    page = bt_page.backtest_page(FrameSource.from_frame(synth), reports_root=tmp_path)
    assert page.sweep.path.value == str(run / "sweep.parquet")
    page.sweep._on_load()
    heat = figures(page.sweep.result)["sweep"]
    assert heat.select_one({"name": "sweep_source"}).data["value"] == [0.5, -0.1]


def test_parse_values():
    assert bt_page.parse_values("5, 10, 10, 2.5", "fast") == [5, 10, 2.5]
    with pytest.raises(ConfigError, match="not a number"):
        bt_page.parse_values("5, x", "fast")


# -------------------------------------------------------------------------- reports
def _write_run(root: Path, run_id: str, status: str = "ok") -> None:
    run_dir = root / "2024-05-01" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "nb.html").write_text("<html></html>")
    meta = {
        "run_id": run_id,
        "started_at": f"2024-05-01T12:00:0{len(list(root.glob('*/*')))}",
        "status": status,
        "parameters": {"symbol": "SOL", "note": "<b>x</b>"},
        "git_commit": "abcdef0123456789",
        "notebooks": [
            {
                "notebook": "notebooks/nb.ipynb",
                "status": status,
                "output_html": "nb.html",
                "duration_s": 1.0,
            }
        ],
    }
    (run_dir / "run_metadata.json").write_text(json.dumps(meta))


def test_reports_view_lists_runs_with_links_and_refreshes(tmp_path):
    root = tmp_path / "reports"
    assert any("No reports folder" in a for a in alerts(reports_view(root)))
    _write_run(root, "run-a")
    view = reports_view(root, link_prefix="/reports")
    (table,) = [p.object for p in view.select(pn.pane.HTML)]
    assert "run-a" in table and "href='/reports/2024-05-01/run-a/nb.html'" in table
    assert "&lt;b&gt;x&lt;/b&gt;" in table  # parameters are escaped
    _write_run(root, "run-b", status="failed")
    button = next(b for b in view.select(pn.widgets.Button) if b.label == "Refresh")
    button.clicks += 1
    (table,) = [p.object for p in view.select(pn.pane.HTML)]
    assert table.index("run-b") < table.index("run-a")  # newest first
    html = reports_table_html(ql.reports.list_runs(root), root)
    assert (root / "2024-05-01" / "run-a" / "nb.html").resolve().as_uri() in html


# ------------------------------------------------------------------------------ app
def test_app_has_every_page_and_serve_binds_localhost():
    template = app()
    (tabs,) = [t for t in template.main if isinstance(t, pn.Tabs)]
    assert [name for name, _ in zip(tabs._names, tabs, strict=True)] == list(PAGES.values())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(port=port, start=False)
    try:
        assert server.port == port
        assert server.address == "127.0.0.1"
    finally:
        server.stop()


def test_the_bar_source_picker_offers_bar_sources_only():
    from quantlab.dashboards._common import SOURCES

    assert "solana" in ql.data.SOURCES and "solana" not in SOURCES
    assert list(SOURCES) == ql.data.source_names("bars")
    assert "solana" not in DataControls.param["source"].objects
