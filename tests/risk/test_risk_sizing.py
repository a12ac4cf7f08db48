"""Sizing rules on hand-computed cases; the kernels and the Python API agree."""

from __future__ import annotations

import math

import pytest

import quantlab as ql
from quantlab.errors import ConfigError
from quantlab.kernels import risk as k


def test_kelly_hand_cases():
    # f* = 0.55 - 0.45 / 1.5 = 0.25; half Kelly 0.125, capped at 5 %
    assert ql.risk.kelly_fraction(0.55, 1.5) == pytest.approx(0.05)
    # uncapped: scale 0.1 -> 0.025 lies inside [1 %, 5 %]
    assert ql.risk.kelly_fraction(0.55, 1.5, scale=0.1) == pytest.approx(0.025)
    # small edge: f* = 0.51 - 0.49 = 0.02, half = 0.01 -> floor at 1 %; a quarter -> 1 %
    assert ql.risk.kelly_fraction(0.51, 1.0, scale=0.25) == pytest.approx(0.01)
    # a wider cap lets the half-Kelly value through
    assert ql.risk.kelly_fraction(0.55, 1.5, max_fraction=0.5) == pytest.approx(0.125)


@pytest.mark.parametrize(("p", "b"), [(0.5, 1.0), (0.4, 1.0), (0.3, 2.0), (0.0, 5.0)])
def test_kelly_zero_without_edge(p, b):
    # p - (1-p)/b <= 0 in every case: 0, -0.2, -0.05, -0.2
    assert ql.risk.kelly_fraction(p, b) == 0.0


def test_kelly_refuses_bad_input():
    with pytest.raises(ConfigError, match="win_rate"):
        ql.risk.kelly_fraction(1.2, 1.0)
    with pytest.raises(ConfigError, match="payoff"):
        ql.risk.kelly_fraction(0.5, 0.0)
    with pytest.raises(ConfigError, match="max_fraction"):
        ql.risk.kelly_fraction(0.6, 2.0, min_fraction=0.05, max_fraction=0.01)


def test_fixed_fraction_and_position_size():
    assert ql.risk.fixed_fraction(0.25) == 0.25
    # all equity in with a 0.1 % fee: q = 10000 / (50 * 1.001)
    q = ql.risk.position_size(10_000.0, 50.0, 1.0, fee=0.001)
    assert q == pytest.approx(199.8001998001998, rel=1e-12)
    assert q * 50.0 * 1.001 == pytest.approx(10_000.0, rel=1e-12)
    with pytest.raises(ConfigError, match="price"):
        ql.risk.position_size(1.0, 0.0, 1.0)


def test_vol_target():
    assert ql.risk.vol_target_fraction(0.2, 0.8) == pytest.approx(0.25)
    assert ql.risk.vol_target_fraction(0.5, 0.25, max_fraction=1.5) == pytest.approx(1.5)
    assert ql.risk.vol_target_fraction(0.5, math.nan) == 0.0
    assert ql.risk.vol_target_fraction(0.5, 0.0) == 0.0


def test_regime_scale():
    assert ql.risk.regime_scale(0.5, 0.6, floor=0.2) == pytest.approx(0.34)
    assert ql.risk.regime_scale(0.5, 1.0) == pytest.approx(0.5)
    assert ql.risk.regime_scale(0.5, 0.0, floor=0.2) == pytest.approx(0.1)
    assert ql.risk.regime_scale(0.5, math.nan, floor=0.2) == pytest.approx(0.1)
    assert ql.risk.regime_scale(0.5, 1.7) == pytest.approx(0.5)  # clipped


def test_kernel_and_api_agree():
    # the engine calls the kernel, the live runner the wrapper: same numbers
    assert k.kelly_fraction_nb(0.6, 2.0, 0.5, 0.01, 0.05) == ql.risk.kelly_fraction(0.6, 2.0)
    assert k.kelly_fraction_nb.py_func(0.6, 2.0, 0.5, 0.01, 0.05) == ql.risk.kelly_fraction(
        0.6, 2.0
    )
    assert k.regime_scale_nb.py_func(0.5, 0.6, 0.2) == ql.risk.regime_scale(0.5, 0.6, floor=0.2)


def test_sizing_config_is_frozen_and_strict():
    s = ql.risk.Sizing(kind="kelly")
    assert (s.min_fraction, s.max_fraction) == (0.01, 0.05)
    with pytest.raises(ConfigError, match="unknown key"):
        ql.risk.Sizing(kind="fixed", fractoin=0.5)
    with pytest.raises(ConfigError, match="kind"):
        ql.risk.Sizing(kind="martingale")
    with pytest.raises(Exception, match="frozen"):
        s.fraction = 2.0
