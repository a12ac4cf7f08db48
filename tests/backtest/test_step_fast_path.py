"""The engine step's shortcuts change nothing: the idle fast path and the borrowed loops.

Oracle: :func:`~quantlab.kernels.backtest.backtest_step_full_nb`, the same step through every
rule without the idle shortcut. Two accounts are stepped side by side over bars whose target
has long flat stretches, and their whole state (every ``S_*`` field), equity and trade
records must agree bit for bit after every bar, on scenarios built to cross flat stretches
with each rule live: daily-loss halts over UTC day boundaries, cooldowns, breaker pauses,
the kill switch, re-arming, funding (0 while flat), stops, take-profits and trailing stops,
for both fill conventions.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.kernels import backtest as kbt

STEP_ARGS = (
    "open_",
    "high",
    "low",
    "close",
    "funding_rate",
    "day",
    "target",
    "atr",
    "realized_vol",
    "regime",
    "bar_vol",
    "volume_ref",
)


def blocky_target(n: int, seed: int, p_flat: float = 0.6) -> np.ndarray:
    """Return a target of blocks (1-40 bars) of 0, +1 or -1, mostly 0."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    t = 0
    while t < n:
        k = int(rng.integers(1, 41))
        v = 0.0 if rng.random() < p_flat else float(rng.choice([-1.0, 1.0]))
        out[t : t + k] = v
        t += k
    return out


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


def step_side_by_side(df, strategy, costs, fill, target, seed=0):
    """Step the fast and the full path over the bars; return what the fast path went through."""
    inputs = ql.backtest.build_inputs(df, strategy, costs, 3600.0)
    inputs["target"] = target
    params = ql.backtest.build_params(strategy, costs, fill=fill, bar_seconds=3600.0)
    n = len(df)
    fast, full = kbt.init_state_nb(params), kbt.init_state_nb(params)
    trades_fast = np.zeros((2 * n + 2, kbt.N_TRADE_FIELDS))
    trades_full = np.zeros((2 * n + 2, kbt.N_TRADE_FIELDS))
    seen = {
        "idle": 0,
        "idle_new_day": 0,
        "idle_halted": 0,
        "idle_cooldown": 0,
        "idle_paused": 0,
        "idle_killed": 0,
        "idle_rearm_reset": 0,
        "idle_funding_rate": 0,
    }
    cooldown = int(params[kbt.P_COOLDOWN])
    for i in range(n):
        args = [inputs[k][i] for k in STEP_ARGS]
        idle = kbt.is_idle_nb(fast, target[i])
        if idle:
            seen["idle"] += 1
            seen["idle_new_day"] += args[5] != fast[kbt.S_DAY]
            seen["idle_halted"] += fast[kbt.S_DAY_HALT] > 0
            last = fast[kbt.S_LAST_STOP]
            seen["idle_cooldown"] += cooldown > 0 and last >= 0 and i - last <= cooldown
            seen["idle_paused"] += i < fast[kbt.S_PAUSE_UNTIL]
            seen["idle_killed"] += fast[kbt.S_KILLED] > 0
            seen["idle_rearm_reset"] += fast[kbt.S_REARM_DIR] != 0
            seen["idle_funding_rate"] += args[4] != 0
        funding0 = fast[kbt.S_FUNDING]
        fast, eq_fast = kbt.backtest_step_nb(fast, params, i, *args, trades_fast)
        full, eq_full = kbt.backtest_step_full_nb(full, params, i, *args, trades_full)
        assert same_bits(fast, full), (
            f"bar {i} (idle={idle}): fields "
            f"{np.flatnonzero(fast.view(np.int64) != full.view(np.int64)).tolist()} differ"
        )
        assert same_bits(eq_fast, eq_full), f"bar {i}: equity {eq_fast!r} != {eq_full!r}"
        if idle:
            assert fast[kbt.S_FUNDING] == funding0, f"bar {i}: funding charged while flat"
    k = int(fast[kbt.S_N_RECORDS])
    assert same_bits(trades_fast[:k], trades_full[:k])
    reasons = {kbt.EXIT_REASONS[int(r)] for r in trades_fast[:k, kbt.T_REASON]}
    return seen, reasons, fast


FULL_RISK = {
    "direction": "both",
    "stops": {
        "stop_loss": 0.012,
        "take_profit": 0.012,
        "trail_activation": 0.004,
        "trail_distance": 0.015,
    },
    "sizing": {"fraction": 3.0},
    "limits": {
        "max_leverage": 3.0,
        "daily_loss_limit": 0.02,
        "cooldown_bars": 6,
        "rearm_after_exit": True,
    },
    "breaker": {"threshold": 0.3, "pause_bars": 15},
    "edge": {"win_rate": 0.5, "min_trades": 50},
}

SCENARIOS = {
    "all_rules": FULL_RISK,
    "no_rearm": {**FULL_RISK, "limits": {**FULL_RISK["limits"], "rearm_after_exit": False}},
    "kill_switch": {
        "direction": "both",
        "stops": {"stop_loss": 0.02},
        "sizing": {"fraction": 2.0},
        "limits": {"max_leverage": 2.0, "max_drawdown": 0.06, "rearm_after_exit": False},
    },
    "atr_kelly": {
        "direction": "long",
        "stops": {"atr_mult": 1.5, "atr_window": 10},
        "sizing": {"kind": "kelly", "max_fraction": 0.5},
        "edge": {"win_rate": 0.55, "payoff": 1.5, "min_trades": 5},
        "limits": {"daily_loss_limit": 0.01, "cooldown_bars": 3},
    },
    "liquidation": {
        "direction": "both",
        "sizing": {"fraction": 10.0},
        "limits": {"max_leverage": 10.0, "rearm_after_exit": False},
    },
}


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_idle_fast_path_equals_full_step_across_every_rule(fill):
    df = random_bars(1500, seed=21)
    df["funding_rate"] = df["funding_rate"] * 20.0  # make funding visible
    costs = ql.backtest.Costs(
        taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0, vol_slippage=0.1, impact=0.01
    )
    total: dict[str, int] = {}
    reasons: set[str] = set()
    for j, (name, risk) in enumerate(SCENARIOS.items()):
        strategy = ql.backtest.ma_cross(fast=5, slow=20, **risk)
        target = blocky_target(len(df), seed=100 + j)
        seen, why, state = step_side_by_side(df, strategy, costs, fill, target)
        assert seen["idle"] > len(df) // 4, f"{name}: too few idle bars ({seen['idle']})"
        if name == "kill_switch":
            assert state[kbt.S_KILLED] == 1.0 and seen["idle_killed"] > 0
        for key, v in seen.items():
            total[key] = total.get(key, 0) + v
        reasons |= why
    # every rule was live on idle bars somewhere, so the comparison covered it
    for key, v in total.items():
        assert v > 0, f"no idle bar with {key}: the scenarios do not exercise it"
    assert {"stop", "take_profit", "trailing", "daily_loss", "signal"} <= reasons
    assert "liquidation" in reasons


@pytest.mark.parametrize("limit", ["daily_loss_limit", "max_drawdown"])
def test_idle_bar_applies_a_limit_crossed_by_the_exit_fee(limit):
    # fill at the close, 1 % fee: in at 100 on bar 1 (9.90099 units, cash 0); bar 2 closes
    # at 96.5 (equity 955.4, above the 5 % limit of 950) and exits there, paying 9.55 in fee:
    # 945.9. Only bar 3, idle, sees that equity below the limit: halt (or kill) from there.
    close = [100.0, 100.0, 96.5, 96.5, 96.5, 96.5]
    df = random_bars(6, seed=0, start="2024-01-01")
    for col in ("open", "high", "low", "close"):
        df[col] = close
    df["funding_rate"] = 0.0
    strategy = ql.backtest.ma_cross(
        limits={limit: 0.05, "rearm_after_exit": False}, sizing={"fraction": 1.0}
    )
    target = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    seen, _, state = step_side_by_side(df, strategy, ql.backtest.make_costs(0.01), "close", target)
    assert seen["idle"] == 2  # bars 0 and 3
    flag = kbt.S_DAY_HALT if limit == "daily_loss_limit" else kbt.S_KILLED
    assert state[flag] == 1.0
    assert state[kbt.S_QTY] == 0.0 and state[kbt.S_N_CLOSED] == 1  # no re-entry on bars 4-5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fill=st.sampled_from(["next_open", "close"]),
    stop=st.one_of(st.none(), st.floats(0.003, 0.03)),
    daily=st.one_of(st.none(), st.floats(0.005, 0.05)),
    cooldown=st.integers(0, 8),
    rearm=st.booleans(),
    fraction=st.floats(0.2, 4.0),
    p_flat=st.floats(0.2, 0.9),
)
def test_idle_fast_path_equals_full_step_on_random_runs(
    seed, fill, stop, daily, cooldown, rearm, fraction, p_flat
):
    df = random_bars(300, seed=seed)
    strategy = ql.backtest.ma_cross(
        fast=3,
        slow=8,
        direction="both",
        stop_loss=stop,
        sizing={"fraction": fraction},
        limits={
            "max_leverage": 4.0,
            "daily_loss_limit": daily,
            "cooldown_bars": cooldown,
            "rearm_after_exit": rearm,
        },
    )
    target = blocky_target(len(df), seed=seed + 1, p_flat=p_flat)
    step_side_by_side(df, strategy, ql.backtest.make_costs(0.0007), fill, target)


def test_idle_step_takes_nan_target_as_flat():
    p = ql.backtest.build_params(ql.backtest.ma_cross(), ql.backtest.make_costs(0.0))
    state = kbt.init_state_nb(p)
    assert kbt.is_idle_nb(state, np.nan) and kbt.is_idle_nb(state, 0.0)
    assert not kbt.is_idle_nb(state, 1.0) and not kbt.is_idle_nb(state, -1.0)
    state[kbt.S_PEND_ENTRY] = 1.0
    assert not kbt.is_idle_nb(state, 0.0)


def test_borrowed_loops_leak_nothing_and_match_the_python_loop():
    """backtest_nb and sweep_nb loop over borrowed views: allocations balance, results agree."""
    nrt = pytest.importorskip("numba.core.runtime._nrt_python")
    from numba.core.runtime import rtsys

    df = random_bars(400, seed=8)
    strategy = ql.backtest.ma_cross(fast=5, slow=20, **SCENARIOS["all_rules"])
    costs = ql.backtest.make_costs(0.001)
    inputs = ql.backtest.build_inputs(df, strategy, costs, 3600.0)
    params = ql.backtest.build_params(strategy, costs, bar_seconds=3600.0)
    table = ql.backtest.sweep(df, strategy, {"fast": [4, 5]}, costs)  # compile first
    kbt.backtest_nb(**inputs, params=params)
    nrt.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        for _ in range(3):
            out = kbt.backtest_nb(**inputs, params=params)
            ql.backtest.sweep(df, strategy, {"fast": [4, 5]}, costs)
        del out
        after = rtsys.get_allocation_stats()
    finally:
        nrt.memsys_disable_stats()
    assert after.alloc - before.alloc == after.free - before.free > 0
    assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free
    # the batch loop equals stepping the public step from Python, bar by bar
    equity, cash, qty, _, _, records, state = kbt.backtest_nb(**inputs, params=params)
    mine = kbt.init_state_nb(params)
    trades = np.zeros((2 * len(df) + 2, kbt.N_TRADE_FIELDS))
    for i in range(len(df)):
        mine, eq = kbt.backtest_step_nb(mine, params, i, *[inputs[k][i] for k in STEP_ARGS], trades)
        assert eq == equity[i] and mine[kbt.S_CASH] == cash[i] and mine[kbt.S_QTY] == qty[i]
    kbt.finalize_nb(mine, trades, len(df) - 1, inputs["close"][-1])
    assert same_bits(mine, state)
    np.testing.assert_array_equal(trades[: len(records)], records)
    assert table.attrs["metric_kind"] == "fused"
