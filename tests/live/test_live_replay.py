"""Replay parity: zero for a paper runner; explained fill by fill otherwise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from journal_builder import backtest_fills, write_journal

import quantlab as ql
from quantlab.errors import ConfigError, DataError
from quantlab.live.journal import Journal
from quantlab.live.replay import replay, write_replay


@pytest.fixture(scope="module")
def bars():
    return ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7).iloc[:500]


@pytest.fixture
def strategy():
    return ql.backtest.ma_cross(fast=5, slow=20, stops={"stop_loss": 0.01})


@pytest.fixture
def costs():
    return ql.backtest.Costs(taker_fee=0.00045, maker_fee=0.00015, slippage_bps=1.0)


def test_paper_journal_replays_to_zero(tmp_path, bars, strategy, costs):
    res = write_journal(tmp_path / "j.sqlite", bars, strategy, costs)
    r = replay(tmp_path / "j.sqlite")
    assert r.is_zero() and r.summary["matched"] == len(backtest_fills(res, bars)) > 20
    assert r.summary["pnl_bt"] == pytest.approx(res.equity.iloc[-1] - 10_000, abs=1e-9)
    assert r.parts().abs().max() < 1e-6
    assert r.summary["slippage_bps"] == pytest.approx(r.summary["estimate_bps"], abs=1e-9)


def test_the_parts_are_what_the_venue_did_differently(tmp_path, bars, strategy, costs):
    res = write_journal(tmp_path / "p.sqlite", bars, strategy, costs)
    fills = backtest_fills(res, bars)
    bps, fee_add, late = 3e-4, 0.25, 90_000

    def venue(k, f):
        if k == 4:
            return None  # the venue never filled this one
        size = f["size"] * (0.999 if k == 7 else 1.0)
        return dict(
            f,
            price=f["price"] * (1 + bps * f["side"]),
            fee=f["fee"] + fee_add,
            size=size,
            latency_ms=late,
        )

    write_journal(tmp_path / "s.sqlite", bars, strategy, costs, mode="sim", perturb=venue)
    r = replay(tmp_path / "s.sqlite")
    last = bars["close"].iloc[-1]
    kept = [f for k, f in enumerate(fills) if k != 4]
    # price: every kept fill bps worse, on the backtest size
    expected_price = -sum(f["size"] * f["price"] * bps for f in kept)
    assert r.summary["price"] == pytest.approx(expected_price, rel=1e-9)
    assert r.summary["fees"] == pytest.approx(-fee_add * len(kept), rel=1e-9)
    f7 = fills[7]
    px7 = f7["price"] * (1 + bps * f7["side"])
    assert r.summary["size"] == pytest.approx(f7["side"] * (-0.001 * f7["size"]) * (last - px7))
    f4 = fills[4]
    assert r.summary["unmatched"] == pytest.approx(
        -(f4["side"] * f4["size"] * (last - f4["price"]) - f4["fee"])
    )
    assert (r.summary["missing"], r.summary["extra"]) == (1, 0)
    # the parts add up to the whole: live P&L from its own fills, marked to the last close
    assert abs(r.unexplained) < 1e-6
    market = r.fills[(r.fills["match"] == "matched") & r.fills["latency_ms"].notna()]
    assert len(market) > 5 and (market["latency_ms"] == late).all()
    stops = r.fills[(r.fills["match"] == "matched") & r.fills["latency_ms"].isna()]
    assert len(stops) > 0  # stops fill inside their bar: no reference time
    # latency: the market's move from the bar's open to the fill, inside the bar
    expected_latency = 0.0
    for k, f in enumerate(fills):
        if k == 4 or not f["market"]:
            continue
        o, c = bars["open"].iloc[f["idx"]], bars["close"].iloc[f["idx"]]
        expected_latency += -f["side"] * f["size"] * (c - o) * (late / 3_600_000)
    assert r.summary["latency"] == pytest.approx(expected_latency, rel=1e-9)
    assert r.summary["latency"] + r.summary["slippage"] == pytest.approx(r.summary["price"])
    assert r.parts().sum() == pytest.approx(r.diff, abs=1e-6)
    assert r.summary["slippage_bps"] > r.summary["estimate_bps"]
    assert not r.is_zero()


def test_funding_events_are_a_part(tmp_path, bars, strategy, costs):
    write_journal(tmp_path / "f.sqlite", bars, strategy, costs, mode="sim")
    with Journal(tmp_path / "f.sqlite") as j:
        j.event("funding", "funding paid", data={"amount": 1.5})
    r = replay(tmp_path / "f.sqlite")
    assert r.summary["funding"] == pytest.approx(-(1.5 - r.summary["funding_bt"]))
    assert abs(r.unexplained) < 1e-6


def test_warm_up_bars_are_not_traded(tmp_path, bars, strategy, costs):
    """A runner that preloads history decides from its first decision bar only."""
    n0 = 200
    res = ql.backtest.run(bars, strategy, costs)
    assert (res.trades["entry_idx"] < n0).any()  # the backtest would trade the warm-up
    write_journal(tmp_path / "w.sqlite", bars, strategy, costs)
    with Journal(tmp_path / "w.sqlite") as j:  # drop the decisions of the warm-up bars
        j._write("DELETE FROM decisions WHERE time_ms < ?", (int(bars.index[n0].value // 10**6),))
    r = replay(tmp_path / "w.sqlite")
    assert r.summary["warmup_bars"] == n0
    assert not (r.backtest.trades["entry_idx"] < n0).any()
    assert (r.backtest.equity.iloc[:n0] == 10_000).all()


def test_artefact_round_trip(tmp_path, bars, strategy, costs):
    write_journal(tmp_path / "j.sqlite", bars, strategy, costs)
    path = write_replay(replay(tmp_path / "j.sqlite"), tmp_path)
    doc = json.loads(path.read_text())
    assert path.name == "replay.json" and doc["journal"]["mode"] == "paper"
    assert len(doc["journal"]["sha256"]) == 64 and doc["summary"]["extra"] == 0
    assert doc["fills"][0]["time_bt"].startswith("2024-01")


def test_bad_journals_are_named(tmp_path, bars, strategy, costs):
    with pytest.raises(ConfigError, match="does not exist"):
        replay(tmp_path / "nope.sqlite")
    with Journal(tmp_path / "one.sqlite") as j:
        from quantlab.backtest.verdict import canonical_json, strategy_config, strategy_hash

        j.bind(
            strategy_hash=strategy_hash(strategy),
            strategy_json=canonical_json(strategy_config(strategy)),
            symbol="BTC",
            interval="1h",
            mode="paper",
            init_cash=10_000.0,
        )
        j.add_bar("BTC", int(bars.index[0].value // 10**6), bars.iloc[0].to_dict())
    with pytest.raises(DataError, match="1 bar\\(s\\) of BTC; replay needs at least 2"):
        replay(tmp_path / "one.sqlite")


@pytest.mark.slow
def test_a_paper_runner_process_replays_to_zero(tmp_path, strategy):
    """The real thing: ql.live.launch in paper mode, then replay its journal."""
    from quantlab.live.handle import launch

    h = launch(
        strategy,
        symbol="BTC",
        interval="1h",
        mode="paper",
        run_dir=tmp_path / "run",
        feed="synthetic",
        seed=7,
        costs="hyperliquid",
        extra_args=["--start", "2024-01-01", "--end", "2024-01-15"],
    )
    assert h.wait(180)
    r = replay(h.paths["journal"], costs=ql.backtest.Costs.hyperliquid())
    assert r.summary["n_bars"] > 300 and r.summary["matched"] > 5
    assert r.is_zero(), r.summary
    assert np.isclose(r.summary["pnl_live"], r.summary["pnl_bt"], atol=1e-6)
    live = h.equity()
    assert (live.index == pd.DatetimeIndex(r.bars.index[r.bars["equity_live"].notna()])).all()
