"""Account limits: daily loss limit, drawdown kill switch, exposure caps, cooldown."""

from __future__ import annotations

from pydantic import Field

from quantlab.config import FrozenConfig, check_range
from quantlab.kernels import risk as _k

__all__ = ["Limits", "cap_exposure", "daily_loss_breached", "drawdown_kill", "in_cooldown"]


class Limits(FrozenConfig):
    """Account-level limits of a strategy (the loss limits are off by default).

    Attributes
    ----------
    max_leverage : float
        Exposure cap: position notional at most ``max_leverage`` times equity.
    maintenance_margin : float
        Maintenance margin rate: a position is liquidated when equity falls to
        ``maintenance_margin * notional``.
    daily_loss_limit : float, optional
        Close out and stop entering for the rest of the UTC day once equity has lost this
        fraction of the day's starting equity (0.05 = 5 %).
    max_drawdown : float, optional
        Kill switch: close out and stop trading for good once equity is this fraction
        below its peak.
    cooldown_bars : int
        Bars without new entries after a stop, trailing-stop or liquidation exit.
    rearm_after_exit : bool
        After any exit that the signal did not ask for (stop, target, limits), re-enter in
        the same direction only once the target has left that direction (vectorbt's
        behaviour with entry signals).
    """

    max_leverage: float = Field(1.0, gt=0.0, le=100.0)
    maintenance_margin: float = Field(0.005, ge=0.0, lt=1.0)
    daily_loss_limit: float | None = Field(None, gt=0.0, lt=1.0)
    max_drawdown: float | None = Field(None, gt=0.0, lt=1.0)
    cooldown_bars: int = Field(0, ge=0)
    rearm_after_exit: bool = True


def daily_loss_breached(equity: float, day_start_equity: float, limit: float = 0.05) -> bool:
    """Tell whether ``equity <= day_start_equity * (1 - limit)``."""
    lim = check_range("limit", limit, 0.0, 1.0, low_open=True)
    start = check_range("day_start_equity", day_start_equity, 0.0)
    return bool(_k.daily_loss_breached_nb(float(equity), start, lim))


def drawdown_kill(equity: float, peak_equity: float, max_drawdown: float = 0.2) -> bool:
    """Tell whether the peak-to-trough drawdown reached ``max_drawdown``."""
    dd = check_range("max_drawdown", max_drawdown, 0.0, 1.0, low_open=True)
    peak = check_range("peak_equity", peak_equity, 0.0)
    return bool(_k.drawdown_kill_nb(float(equity), peak, dd))


def cap_exposure(fraction: float, max_leverage: float = 1.0) -> float:
    """Clip a fraction of equity to ``[0, max_leverage]``."""
    lev = check_range("max_leverage", max_leverage, 0.0, 100.0, low_open=True)
    return float(_k.cap_exposure_nb(float(fraction), lev))


def in_cooldown(bar: int, last_stop_bar: int, cooldown_bars: int) -> bool:
    """Tell whether ``bar`` is at most ``cooldown_bars`` bars after a stop at ``last_stop_bar``.

    ``last_stop_bar < 0`` means no stop yet.
    """
    n = int(check_range("cooldown_bars", cooldown_bars, 0.0))
    return bool(_k.in_cooldown_nb(int(bar), int(last_stop_bar), n))
