"""Stop rules on hand-computed cases."""

from __future__ import annotations

import math

import pytest

import quantlab as ql
from quantlab.errors import ConfigError


def test_hard_and_atr_stops():
    assert ql.risk.hard_stop_price(100.0, 1, 0.02) == pytest.approx(98.0)
    assert ql.risk.hard_stop_price(100.0, -1, 0.02) == pytest.approx(102.0)
    assert ql.risk.atr_stop_price(100.0, 1, 1.5, 2.0) == pytest.approx(97.0)
    assert ql.risk.atr_stop_price(100.0, -1, 1.5, 2.0) == pytest.approx(103.0)
    with pytest.raises(ConfigError, match="direction"):
        ql.risk.hard_stop_price(100.0, 0, 0.02)


def test_trailing_stop_activation_and_trail():
    # +0.5 % activation, 2 % trail, long from 100
    assert math.isnan(ql.risk.trailing_stop_price(100.0, 1, 100.4))
    assert ql.risk.trailing_stop_price(100.0, 1, 100.5) == pytest.approx(98.49)
    assert ql.risk.trailing_stop_price(100.0, 1, 110.0) == pytest.approx(107.8)
    # short from 100: best price 90 -> stop 91.8; 99.6 not yet activated
    assert ql.risk.trailing_stop_price(100.0, -1, 90.0) == pytest.approx(91.8)
    assert math.isnan(ql.risk.trailing_stop_price(100.0, -1, 99.6))


def test_take_profit():
    assert ql.risk.take_profit_price(100.0, 1, 0.03) == pytest.approx(103.0)
    assert ql.risk.take_profit_price(100.0, -1, 0.03) == pytest.approx(97.0)


def test_stop_fill_prices():
    # long stop at 98: touched inside the bar -> 98; bar opens below -> the open
    assert ql.risk.stop_fill_price(98.0, 1, 99.0, 97.0, 100.0) == 98.0
    assert ql.risk.stop_fill_price(98.0, 1, 97.5, 96.0, 99.0) == 97.5
    assert math.isnan(ql.risk.stop_fill_price(98.0, 1, 99.0, 98.5, 100.0))
    # short stop at 102: high reaches it -> 102; opens above -> open
    assert ql.risk.stop_fill_price(102.0, -1, 101.0, 100.0, 103.0) == 102.0
    assert ql.risk.stop_fill_price(102.0, -1, 104.0, 103.0, 105.0) == 104.0
    # long target at 103: high reaches it -> 103; opens above -> open (better price)
    assert ql.risk.target_fill_price(103.0, 1, 101.0, 100.0, 104.0) == 103.0
    assert ql.risk.target_fill_price(103.0, 1, 105.0, 104.0, 106.0) == 105.0
    assert math.isnan(ql.risk.target_fill_price(103.0, 1, 101.0, 100.0, 102.9))


def test_tp_sl_validation():
    # p TP - (1 - p) SL - c: 0.4*0.03 - 0.6*0.02 - 0.001 = -0.001 -> refuse
    assert not ql.risk.validate_tp_sl(0.4, 0.03, 0.02, 0.001)
    # 0.4*0.035 - 0.012 - 0.001 = 0.001 -> accept
    assert ql.risk.validate_tp_sl(0.4, 0.035, 0.02, 0.001)
    # break-even without costs is refused (strictly positive expectancy needed)
    assert not ql.risk.validate_tp_sl(0.5, 0.02, 0.02, 0.0)


def test_liquidation_price():
    # 2x long of 1 unit at 100 from equity 50: cash = -50; m = 0.5 %
    assert ql.risk.liquidation_price(-50.0, 1.0, 0.005) == pytest.approx(50.0 / 0.995)
    # unlevered long cannot be liquidated
    assert math.isnan(ql.risk.liquidation_price(0.0, 1.0))
    # 1x short of 1 unit at 100 from equity 100: cash = 200; liq at 200 / 1.005
    assert ql.risk.liquidation_price(200.0, -1.0, 0.005) == pytest.approx(200.0 / 1.005)
    # check: at that price equity equals the maintenance margin
    p = ql.risk.liquidation_price(200.0, -1.0, 0.005)
    assert 200.0 - p == pytest.approx(0.005 * p)


def test_stops_config():
    s = ql.risk.Stops(stop_loss=0.02, trail_activation=0.005, trail_distance=0.02)
    assert s.take_profit is None
    with pytest.raises(ConfigError, match="trail_distance"):
        ql.risk.Stops(trail_activation=0.005)
    with pytest.raises(ConfigError, match="stop_loss"):
        ql.risk.Stops(stop_loss=-0.1)
