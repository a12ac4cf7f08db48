"""Typed YAML config with a defaults <- global <- per-symbol merge chain."""

from __future__ import annotations

import pytest

import quantlab as ql
from quantlab.config import FrozenConfig, build, deep_merge


class Costs(FrozenConfig):
    fee: float = 0.00045
    slippage_bps: float = 1.0


class Settings(FrozenConfig):
    interval: str = "1h"
    leverage: float = 1.0
    costs: Costs = Costs()


def test_merge_chain_overrides_in_order(tmp_path):
    global_file = tmp_path / "global.yaml"
    global_file.write_text("leverage: 2\ncosts:\n  fee: 0.0005\n")
    per_symbol = {"costs": {"slippage_bps": 3}}
    cfg = build(Settings, {}, global_file, per_symbol)
    assert cfg == Settings(leverage=2.0, costs=Costs(fee=0.0005, slippage_bps=3.0))


def test_unknown_key_is_an_error_with_its_path(tmp_path):
    path = tmp_path / "symbol.yaml"
    path.write_text("costs:\n  feee: 0.1\n")
    with pytest.raises(ql.ConfigError, match=r"symbol.yaml.costs.feee: unknown key"):
        build(Settings, {}, path)


def test_bad_value_names_field():
    with pytest.raises(ql.ConfigError, match=r"leverage: .*number.*'lots'"):
        build(Settings, {"leverage": "lots"})


def test_configs_are_frozen():
    cfg = build(Settings)
    with pytest.raises(Exception, match="frozen"):
        cfg.leverage = 3.0


def test_yaml_errors(tmp_path):
    with pytest.raises(ql.ConfigError, match="no such config file"):
        build(Settings, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ql.ConfigError, match="top level must be a mapping"):
        build(Settings, bad)


def test_deep_merge_keeps_untouched_keys():
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"c": 5}}) == {
        "a": {"b": 1, "c": 5},
        "d": 3,
    }
