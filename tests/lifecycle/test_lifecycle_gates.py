"""Gates and auto-pause rules, against hand-computed and pandas values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantlab.errors import ConfigError
from quantlab.lifecycle import (
    LifecycleConfig,
    RampConfig,
    TrackRecord,
    auto_pause,
    max_drawdown,
    paper_gates,
    profit_factor,
    ramp_gates,
)
from quantlab.lifecycle.track import round_trips

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def record(pnl, equity=None, days=10.0, kills=0, slip=(1.0, 1.0), diff=0.0):
    eq = pd.Series(equity if equity is not None else 10_000 + np.cumsum([0.0, *pnl]))
    eq.index = pd.date_range(T0, periods=len(eq), freq="1h", tz="UTC")
    return TrackRecord(
        "a" * 64,
        "paper",
        T0,
        T0 + pd.Timedelta(days=days),
        np.asarray(pnl, dtype=float),
        eq,
        kill_trips=kills,
        slippage_bps=slip[0],
        slippage_estimate_bps=slip[1],
        replay_diff=diff,
    )


def _gate(gates, name):
    return next(g for g in gates if g["name"] == name)


def test_profit_factor_by_hand():
    assert profit_factor([10, -5, 5, -2.5]) == pytest.approx(15 / 7.5)
    assert profit_factor([1, 2]) == math.inf
    assert profit_factor([0.0, 0.0]) == 0.0
    assert math.isnan(profit_factor([]))


def test_max_drawdown_equals_pandas():
    rng = np.random.default_rng(3)
    eq = pd.Series(10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 500))))
    expected = (1 - eq / eq.cummax()).max()
    assert max_drawdown(eq) == pytest.approx(expected, rel=1e-12)
    assert max_drawdown(pd.Series([1.0, 2.0, 3.0])) == 0.0


def test_default_paper_gates_pass_a_good_record():
    gates = paper_gates(record([10, -5] * 12 + [10]))  # PF = 130/60
    assert all(g["passed"] for g in gates), gates
    assert [g["name"] for g in gates] == [
        "track_record_length",
        "profit_factor",
        "max_drawdown",
        "no_kill",
        "slippage",
        "replay_diff",
    ]


def test_length_gate_is_trades_or_days():
    few_short = record([10, -1], days=3.0)
    assert not _gate(paper_gates(few_short), "track_record_length")["passed"]
    assert _gate(paper_gates(record([10, -1], days=7.0)), "track_record_length")["passed"]
    assert _gate(paper_gates(record([10, -1] * 10, days=1.0)), "track_record_length")["passed"]


def test_profit_factor_gate_boundary():
    at = record([12, -10] * 11)  # exactly 1.2 passes (>=)
    below = record([11.9, -10] * 11)
    assert _gate(paper_gates(at), "profit_factor")["passed"]
    assert not _gate(paper_gates(below), "profit_factor")["passed"]
    assert not _gate(paper_gates(record([])), "profit_factor")["passed"]  # no trades


def test_drawdown_gate_is_strict():
    eq = [100.0, 89.99, 95.0]  # 10.01 %: refused (needs < 10 %)
    assert not _gate(paper_gates(record([1, 1], equity=eq)), "max_drawdown")["passed"]
    eq = [100.0, 90.01, 95.0]
    assert _gate(paper_gates(record([1, 1], equity=eq)), "max_drawdown")["passed"]


def test_kill_slippage_and_replay_gates():
    good = [10, -5] * 12
    assert not _gate(paper_gates(record(good, kills=1)), "no_kill")["passed"]
    assert not _gate(paper_gates(record(good, slip=(2.0, 1.0))), "slippage")["passed"]
    assert _gate(paper_gates(record(good, slip=(0.5, 1.0))), "slippage")["passed"]
    unknown = _gate(paper_gates(record(good, slip=(None, 1.0))), "slippage")
    assert not unknown["passed"] and "unknown" in unknown["note"]
    assert not _gate(paper_gates(record(good, diff=0.002)), "replay_diff")["passed"]
    assert not _gate(paper_gates(record(good, diff=None)), "replay_diff")["passed"]


def test_gates_are_configurable_and_switch_off():
    cfg = {"min_profit_factor": 2.5, "max_slippage_ratio": None, "max_replay_diff": None}
    gates = paper_gates(record([10, -5] * 12, slip=(None, None), diff=None), cfg)
    assert not _gate(gates, "profit_factor")["passed"]
    assert {g["name"] for g in gates} == {
        "track_record_length",
        "profit_factor",
        "max_drawdown",
        "no_kill",
    }
    with pytest.raises(ConfigError, match="min_profit_factor"):
        paper_gates(record([1]), {"min_profit_factor": -1})
    with pytest.raises(ConfigError, match="unknown_gate"):
        LifecycleConfig.from_dict({"paper": {"unknown_gate": 1}})


def test_auto_pause_on_the_last_30_trades():
    good_then_bad = [10.0] * 40 + [1.0, -1.1] * 15  # last 30: PF = 15/16.5 < 1
    fire, why = auto_pause(record(good_then_bad, equity=[100, 100]))
    assert fire and "last 30 trades" in why[0]
    fire, _ = auto_pause(record([1.0, -1.1] * 14, equity=[100, 100]))  # 28 trades: too few
    assert not fire
    fire, _ = auto_pause(record([1.0, -0.9] * 15, equity=[100, 100]))
    assert not fire


def test_auto_pause_on_drawdown_past_15_percent():
    fire, why = auto_pause(record([1], equity=[100.0, 84.9]))
    assert fire and "drawdown 15.10% passes 15%" in why[0]
    assert not auto_pause(record([1], equity=[100.0, 85.01]))[0]


def test_ramp_config_and_gates():
    assert RampConfig().steps == (0.25, 0.5, 1.0)
    for bad in [(0.5,), (0.5, 0.25, 1.0), (0.25, 0.5), (0.0, 1.0)]:
        with pytest.raises(ConfigError, match="steps"):
            RampConfig(steps=bad)
    ok = ramp_gates(record([1.0]), days_at_step=3.0)
    assert all(g["passed"] for g in ok)
    early = ramp_gates(record([1.0]), days_at_step=2.9)
    assert not _gate(early, "time_at_step")["passed"]
    dd = ramp_gates(record([1.0], equity=[100, 80]), days_at_step=5)
    assert not _gate(dd, "auto_pause_rules")["passed"]


def test_round_trips_by_hand_with_a_flip():
    fills = pd.DataFrame(
        {
            "side": ["B", "B", "A", "A", "B"],
            "size": [1.0, 1.0, 2.0, 1.0, 1.0],
            "price": [100.0, 102.0, 105.0, 110.0, 100.0],
            "fee": [0.1, 0.1, 0.2, 0.3, 0.1],
            "time_ms": [1, 2, 3, 4, 5],
        }
    )
    t = round_trips(fills)
    assert len(t) == 2
    # long 2 at 101 avg, sold at 105: 8 - fees 0.4
    assert t["pnl"].iloc[0] == pytest.approx(8.0 - 0.4)
    assert t["direction"].tolist() == [1.0, -1.0] and t["size"].tolist() == [2.0, 1.0]
    # short 1 at 110, covered at 100: 10 - fees 0.4
    assert t["pnl"].iloc[1] == pytest.approx(10.0 - 0.4)
    flip = pd.DataFrame(
        {
            "side": ["B", "A", "B"],
            "size": [1.0, 2.0, 1.0],
            "price": [100.0, 110.0, 105.0],
            "fee": [0.0, 0.2, 0.0],
            "time_ms": [1, 2, 3],
        }
    )
    t = round_trips(flip)
    assert t["pnl"].tolist() == pytest.approx([10.0 - 0.1, 5.0 - 0.1])
