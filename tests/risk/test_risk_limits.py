"""Account limits on hand-computed cases."""

from __future__ import annotations

import pytest

import quantlab as ql
from quantlab.errors import ConfigError


def test_daily_loss_limit():
    assert ql.risk.daily_loss_breached(9_500.0, 10_000.0, 0.05)
    assert not ql.risk.daily_loss_breached(9_501.0, 10_000.0, 0.05)
    assert ql.risk.daily_loss_breached(9_000.0, 10_000.0)  # 5 % by default


def test_drawdown_kill_switch():
    assert ql.risk.drawdown_kill(9_600.0, 12_000.0, 0.2)
    assert not ql.risk.drawdown_kill(9_601.0, 12_000.0, 0.2)


def test_exposure_cap():
    assert ql.risk.cap_exposure(2.5, 2.0) == 2.0
    assert ql.risk.cap_exposure(0.5, 2.0) == 0.5
    assert ql.risk.cap_exposure(-1.0, 2.0) == 0.0


def test_cooldown():
    # stop at bar 10, cooldown 3: 11-13 blocked, 14 free
    assert [ql.risk.in_cooldown(b, 10, 3) for b in (10, 11, 13, 14)] == [True, True, True, False]
    assert not ql.risk.in_cooldown(5, -1, 3)
    assert not ql.risk.in_cooldown(11, 10, 0)


def test_limits_config():
    lim = ql.risk.Limits(daily_loss_limit=0.05, max_drawdown=0.25)
    assert lim.max_leverage == 1.0
    with pytest.raises(ConfigError, match="daily_loss_limit"):
        ql.risk.Limits(daily_loss_limit=1.5)
    with pytest.raises(ConfigError):
        ql.risk.daily_loss_breached(1.0, 1.0, limit=0.0)
