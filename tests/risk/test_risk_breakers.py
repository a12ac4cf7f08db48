"""Binomial circuit breaker on hand-computed cases."""

from __future__ import annotations

import pytest

import quantlab as ql
from quantlab.errors import ConfigError


def test_streak_probability():
    assert ql.risk.losing_streak_probability(0.6, 5) == pytest.approx(0.4**5)
    assert ql.risk.losing_streak_probability(0.6, 5) == pytest.approx(0.01024)
    assert ql.risk.losing_streak_probability(0.5, 0) == 1.0
    assert ql.risk.losing_streak_probability(1.0, 3) == 0.0


def test_breaker_threshold():
    # p = 0.6, threshold 2 %: 0.4**4 = 0.0256 passes, 0.4**5 = 0.01024 trips
    assert not ql.risk.breaker_tripped(0.6, 4, threshold=0.02)
    assert ql.risk.breaker_tripped(0.6, 5, threshold=0.02)
    # a weak strategy (p = 0.3) needs a long streak: 0.7**12 = 0.0138 > 0.01, 0.7**13 < 0.01
    assert not ql.risk.breaker_tripped(0.3, 12, threshold=0.01)
    assert ql.risk.breaker_tripped(0.3, 13, threshold=0.01)
    assert not ql.risk.breaker_tripped(0.6, 0, threshold=0.5)


def test_breaker_refuses_bad_input():
    with pytest.raises(ConfigError, match="threshold"):
        ql.risk.breaker_tripped(0.5, 3, threshold=0.0)
    with pytest.raises(ConfigError, match="unknown key"):
        ql.risk.Breaker(treshold=0.01)
