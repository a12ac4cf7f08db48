"""Grid plans: each axis validated once, cross-field rules on arrays, lazy chunks in grid order.

Oracle: the per-combination expansion (one pydantic strategy per combination, through the
strategy's own validators) and ``itertools.product`` order.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import quantlab as ql
from quantlab.backtest.grid import parse_grid, parse_value, plan_grid
from quantlab.errors import ConfigError


def _oracle(base, grid):
    """Valid combinations in grid order, each built and validated by pydantic."""
    keys = list(grid)
    out = []
    for combo in itertools.product(*grid.values()):
        d = base.model_dump()
        for k, v in zip(keys, combo, strict=True):
            if k in ("stop_loss", "trail_activation", "trail_distance"):
                d["stops"][k] = v
            else:
                d[k] = v
        try:
            type(base)(**d)
        except ConfigError:
            continue
        out.append(combo)
    return out


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_chunks_are_the_valid_product_in_grid_order(size):
    base = ql.backtest.ma_cross()
    grid = {"fast": [5, 10, 30, 40], "slow": [8, 30, 35], "stop_loss": [None, 0.02]}
    plan = plan_grid(base, grid)
    rows = []
    for idx in plan.chunks(size):
        assert idx.shape[1] <= size
        cols = plan.columns(idx)
        rows.extend(zip(*(cols[k].tolist() for k in grid), strict=True))
    expected = _oracle(base, grid)
    norm = [tuple(None if isinstance(v, float) and np.isnan(v) else v for v in r) for r in rows]
    assert norm == expected
    assert plan.n_valid == len(expected)
    assert plan.n_combinations == 4 * 3 * 2
    assert plan.invalid_by_rule == {"fast < slow": plan.n_combinations - len(expected)}


def test_nested_cross_rule_matches_the_validator():
    base = ql.backtest.ma_cross()
    grid = {"trail_activation": [None, 0.005], "trail_distance": [None, 0.02], "fast": [5]}
    plan = plan_grid(base, grid)
    assert plan.fast
    assert plan.n_valid == len(_oracle(base, grid)) == 3
    assert plan.invalid_by_rule == {"stops.trail_activation needs trail_distance": 1}


def test_signal_axis_order_for_generic_strategies():
    base = ql.backtest.donchian_breakout()
    grid = {"stop_loss": [0.01, 0.02], "entry_window": [10, 20, 30], "taker_fee": [0.0, 0.001]}
    plan = plan_grid(base, grid)
    # signal-major order: entry_window (axis 1) slowest
    order = [1, 0, 2]
    idx = np.concatenate(list(plan.chunks(4, order)), axis=1)
    assert list(idx[1]) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert sorted(plan.position(idx).tolist()) == list(range(12))


def test_bad_values_are_all_named_with_their_rule():
    base = ql.backtest.ma_cross()
    with pytest.raises(ConfigError) as exc:
        plan_grid(base, {"fast": [5, "abc"], "stop_loss": [-0.1, 0.02]})
    text = str(exc.value)
    assert "fast='abc'" in text and "integer" in text
    assert "stop_loss=-0.1" in text and "greater than 0" in text
    with pytest.raises(ConfigError, match="fast < slow"):
        plan_grid(base, {"fast": [50], "slow": [10]})
    with pytest.raises(ConfigError, match="more than once"):
        plan_grid(base, {"fast": [5, 5]})
    with pytest.raises(ConfigError, match="name the same parameter"):
        plan_grid(base, {"stop_loss": [0.01], "stops.stop_loss": [0.02]})
    with pytest.raises(ConfigError, match="not a parameter"):
        plan_grid(base, {"nope": [1]})


def test_a_validator_without_a_grid_rule_falls_back_to_objects():
    from pydantic import model_validator

    class Odd(ql.backtest.MACross):
        @model_validator(mode="after")
        def _even_fast(self):
            if self.fast % 2:
                raise ValueError("fast must be even")
            return self

    plan = plan_grid(Odd(fast=4, slow=30), {"fast": [3, 4, 6], "slow": [30]})
    assert not plan.fast
    pairs, _ = plan.pairs()
    assert [s.fast for s, _ in pairs] == [4, 6]

    class StopBelowTarget(ql.backtest.MACross):  # a root validator reading a nested field
        @model_validator(mode="after")
        def _stop_below_target(self):
            if self.stops.stop_loss and self.stops.stop_loss > 0.05:
                raise ValueError("stop_loss must not exceed 0.05")
            return self

    plan = plan_grid(StopBelowTarget(), {"stop_loss": [0.02, 0.1]})
    assert not plan.fast and [s.stops.stop_loss for s, _ in plan.pairs()[0]] == [0.02]


def test_parse_value_and_grid_errors():
    assert [parse_value(t) for t in ("7", "0.5", "null", "false", "both")] == [
        7,
        0.5,
        None,
        False,
        "both",
    ]
    assert parse_grid("fast=2:6:2") == {"fast": [2, 4, 6]}
    with pytest.raises(ConfigError, match="'abc' is not a number"):
        parse_grid(["fast=1:abc"])
    with pytest.raises(ConfigError, match="STEP > 0"):
        parse_grid(["fast=5:1"])
    with pytest.raises(ConfigError, match="more than 1,000,000"):
        parse_grid(["fast=1:2000000"])
