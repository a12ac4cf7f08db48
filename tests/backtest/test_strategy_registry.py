"""Strategies by name: the registry, load_strategy, run/sweep with a registered name."""

from __future__ import annotations

import importlib.metadata
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.backtest import strategy as strategy_mod
from quantlab.backtest.strategy import (
    STRATEGIES,
    STRATEGY_REGISTRY,
    MACross,
    StrategyBase,
    load_strategy,
    register_strategy,
)
from quantlab.errors import ConfigError

BUILTINS = ["donchian_breakout", "ema_trend", "factor_composite", "ma_cross", "mean_reversion"]


class _AlwaysLong(StrategyBase):
    kind: Literal["test_always_long"] = "test_always_long"
    description: ClassVar[str] = "long from the first bar"

    def warmup(self) -> int:
        return 0

    def _target(self, df):
        return np.ones(len(df))


@pytest.fixture
def cleanup():
    yield
    if "test_always_long" in STRATEGY_REGISTRY:
        STRATEGY_REGISTRY.unregister("test_always_long")


def test_builtins_are_registered():
    assert set(BUILTINS) <= set(STRATEGY_REGISTRY.names())
    assert STRATEGY_REGISTRY.get("ma_cross") is MACross


def test_strategies_is_a_read_only_view():
    assert STRATEGIES["ma_cross"] is MACross
    assert "ema_trend" in STRATEGIES
    assert dict(STRATEGIES.items()) == dict(STRATEGY_REGISTRY.items())
    with pytest.raises(TypeError):
        STRATEGIES["x"] = MACross  # type: ignore[index]


@pytest.mark.parametrize("name", BUILTINS)
def test_load_strategy_by_registered_name(name):
    s = load_strategy(name)
    assert isinstance(s, STRATEGY_REGISTRY.get(name)) and s.kind == name
    assert s == STRATEGY_REGISTRY.get(name)()  # its defaults


def test_unknown_string_lists_the_registered_names(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_strategy("ma_crosss")
    msg = str(info.value)
    assert "'ma_crosss' is neither a registered strategy" in msg
    assert "known: donchian_breakout, ema_trend, factor_composite, ma_cross" in msg
    assert "nor an existing file" in msg
    with pytest.raises(ConfigError, match="neither a registered strategy"):
        load_strategy(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="unknown kind 'martingale'; known: donchian_breakout"):
        load_strategy({"kind": "martingale"})


def test_yaml_path_still_loads(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("kind: ma_cross\nfast: 5\nslow: 20\n")
    assert load_strategy(str(path)) == ql.backtest.ma_cross(fast=5, slow=20)
    assert load_strategy(path) == ql.backtest.ma_cross(fast=5, slow=20)


def test_run_and_sweep_accept_a_registered_name():
    df = random_bars(400, seed=11)
    by_name = ql.backtest.run(df, "ma_cross")
    by_model = ql.backtest.run(df, ql.backtest.ma_cross())
    pd.testing.assert_series_equal(by_name.equity, by_model.equity)
    pd.testing.assert_series_equal(by_name.stats, by_model.stats)
    grid = {"fast": [5, 10], "slow": [20, 30]}
    # the sweep's table (a frame, or the typed result's table)
    a = ql.backtest.sweep(df, "ma_cross", grid)
    b = ql.backtest.sweep(df, ql.backtest.ma_cross(), grid)
    a, b = getattr(a, "table", a), getattr(b, "table", b)
    assert len(a) == len(b) == 4
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ConfigError, match="known: donchian_breakout"):
        ql.backtest.run(df, "no_such_strategy")


def test_register_strategy_decorator_duplicates_and_bad_input(cleanup):
    cls = register_strategy(_AlwaysLong)
    assert cls is _AlwaysLong and load_strategy("test_always_long").kind == "test_always_long"
    register_strategy(_AlwaysLong)  # the same class again: harmless

    class Other(_AlwaysLong):
        pass

    with pytest.raises(ConfigError, match="strategy name 'test_always_long' is already registered"):
        register_strategy(Other)
    assert register_strategy(replace=True)(Other) is Other
    assert STRATEGY_REGISTRY.get("test_always_long") is Other
    with pytest.raises(ConfigError, match="needs a subclass of StrategyBase"):
        register_strategy(int)  # type: ignore[arg-type]


def test_strategy_plugins_by_entry_point(monkeypatch, cleanup):
    class EP:
        name, value = "always_long", "my_pkg.strategies:AlwaysLong"

        def load(self):
            return _AlwaysLong

    wanted = STRATEGY_REGISTRY.entry_point_group
    assert wanted == "quantlab.strategies"
    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda *, group=None: [EP()] if group == wanted else []
    )
    monkeypatch.setattr(strategy_mod.STRATEGY_REGISTRY, "_plugins_loaded", False)
    assert "test_always_long" in STRATEGY_REGISTRY.names()  # under its own kind
    assert "always_long" not in STRATEGY_REGISTRY
    assert load_strategy("test_always_long").kind == "test_always_long"
