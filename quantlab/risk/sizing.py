"""Position sizing rules: Kelly, fixed fraction, volatility targeting, regime scaling.

Each rule returns the *fraction of equity* a new position may commit (its notional over
equity). The functions call the numba kernels in :mod:`quantlab.kernels.risk` that the
backtest engine uses, so the live runner sizes exactly as the backtest did.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from quantlab.config import FrozenConfig, check_range
from quantlab.kernels import risk as _k

__all__ = [
    "Edge",
    "Sizing",
    "fixed_fraction",
    "kelly_fraction",
    "position_size",
    "regime_scale",
    "vol_target_fraction",
]


class Edge(FrozenConfig):
    """The trading edge the risk rules assume: prior win rate and payoff ratio.

    After ``min_trades`` closed trades the engine replaces the priors by the values
    measured on its own closed trades (win rate = share of trades with positive P&L,
    payoff = mean win / mean loss). A rule that needs a missing value is skipped.
    """

    win_rate: float | None = Field(None, ge=0.0, le=1.0)
    payoff: float | None = Field(None, gt=0.0)
    min_trades: int = Field(20, ge=1)


class Sizing(FrozenConfig):
    """How large a new position is, as a fraction of equity.

    Attributes
    ----------
    kind : {"fixed", "kelly", "vol_target"}
        ``fixed``: ``fraction``; ``kelly``: fractional Kelly from the :class:`Edge`,
        ``kelly_scale`` times full Kelly clipped to ``[min_fraction, max_fraction]`` and 0
        without an edge; ``vol_target``: ``target_vol / realised vol`` (annualised, over
        ``vol_window`` bars) up to ``fraction``.
    regime_floor : float
        With a regime probability from the strategy, the fraction is scaled by
        ``floor + (1 - floor) * prob``.
    """

    kind: Literal["fixed", "kelly", "vol_target"] = "fixed"
    fraction: float = Field(1.0, gt=0.0, le=100.0)
    kelly_scale: float = Field(0.5, gt=0.0, le=1.0)
    min_fraction: float = Field(0.01, ge=0.0, le=1.0)
    max_fraction: float = Field(0.05, gt=0.0, le=1.0)
    target_vol: float = Field(0.5, gt=0.0)
    vol_window: int = Field(30, ge=2)
    regime_floor: float = Field(0.0, ge=0.0, le=1.0)


def kelly_fraction(
    win_rate: float,
    payoff: float,
    *,
    scale: float = 0.5,
    min_fraction: float = 0.01,
    max_fraction: float = 0.05,
) -> float:
    """Return the fractional-Kelly fraction of equity, capped, or 0 without an edge.

    Parameters
    ----------
    win_rate : float
        Probability ``p`` of a winning trade.
    payoff : float
        Mean win over mean loss, ``b``.
    scale : float
        Kelly multiplier (0.5 = half Kelly).
    min_fraction, max_fraction : float
        Bounds of a positive fraction (1 % and 5 % of equity by default).

    Notes
    -----
    :math:`f^* = p - (1 - p) / b`; the result is 0 when :math:`f^* \\le 0`, else
    :math:`\\mathrm{clip}(\\lambda f^*, f_{min}, f_{max})`.
    """
    p = check_range("win_rate", win_rate, 0.0, 1.0)
    b = check_range("payoff", payoff, 0.0, math.inf, low_open=True)
    lam = check_range("scale", scale, 0.0, 1.0, low_open=True)
    lo = check_range("min_fraction", min_fraction, 0.0, 1.0)
    hi = check_range("max_fraction", max_fraction, lo, 1.0)
    return float(_k.kelly_fraction_nb(p, b, lam, lo, hi))


def fixed_fraction(fraction: float) -> float:
    """Return a fixed fraction of equity after checking it is positive and finite."""
    return float(_k.fixed_fraction_nb(check_range("fraction", fraction, 0.0, 100.0)))


def vol_target_fraction(
    target_vol: float, realized_vol: float, *, max_fraction: float = 1.0
) -> float:
    """Return ``min(target_vol / realized_vol, max_fraction)``; 0 if the estimate is missing.

    Both volatilities are annualised and on the same footing (e.g. std of log returns).
    """
    t = check_range("target_vol", target_vol, 0.0, math.inf, low_open=True)
    m = check_range("max_fraction", max_fraction, 0.0, 100.0)
    return float(_k.vol_target_fraction_nb(t, float(realized_vol), m))


def regime_scale(fraction: float, regime_prob: float, *, floor: float = 0.0) -> float:
    """Scale a fraction by the favourable-regime probability: ``f (floor + (1-floor) p)``.

    A NaN probability (regime not known yet) gives ``floor * f``.
    """
    f = check_range("fraction", fraction, 0.0, 100.0)
    fl = check_range("floor", floor, 0.0, 1.0)
    return float(_k.regime_scale_nb(f, float(regime_prob), fl))


def position_size(equity: float, price: float, fraction: float, *, fee: float = 0.0) -> float:
    """Return the units to buy so that notional plus entry fee equal ``fraction * equity``.

    Notes
    -----
    :math:`q = f E / (P (1 + \\text{fee}))`, the engine's entry rule (for ``f = 1`` it is
    vectorbt's all-cash buy).
    """
    e = check_range("equity", equity, 0.0)
    p = check_range("price", price, 0.0, math.inf, low_open=True)
    f = check_range("fraction", fraction, 0.0, 100.0)
    fe = check_range("fee", fee, 0.0, 0.1)
    return f * e / (p * (1.0 + fe))
