"""Momentum and trend factors: log return, volatility-scaled momentum, EMA spread, Donchian.

Units are per bar: no annualisation inside a factor (scale in the notebook if needed).
Every value at bar ``t`` uses bars ``<= t`` only.
"""

from __future__ import annotations

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.rolling import (
    log_return_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_std_nb,
)
from quantlab.kernels.ta import atr_nb, ema_nb


@register
class LogReturn(FactorSpec):
    """Log return over ``window`` bars.

    Notes
    -----
    :math:`r_t = \\log(C_t / C_{t-w})`. Warm-up: the first ``window`` bars (no close
    ``window`` bars back).
    """

    name = "log_return"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Log return of the close over the last `window` bars."

    window: int = _window(1)

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        return log_return_nb(close, self.window)


@register
class MomentumZ(FactorSpec):
    """Volatility-scaled momentum: the ``window``-bar log return in units of its own noise.

    Notes
    -----
    .. math:: z_t = \\frac{\\log(C_t / C_{t-w})}{\\sigma_t \\sqrt{w}}

    with :math:`\\sigma_t` the sample standard deviation (ddof=1) of the last ``vol_window``
    one-bar log returns (ending at ``t``). Under a driftless random walk :math:`z_t` is
    about standard normal. A window of identical one-bar returns (zero volatility) gives 0.
    Warm-up: ``max(window, vol_window)`` bars.
    """

    name = "momentum_z"
    inputs = ("close",)
    role = Role.PRIMARY
    description = "Log return over `window` bars divided by sigma * sqrt(window) (z-score)."

    window: int = _window(24)
    vol_window: int = _window(168, ge=2, doc="bars of one-bar returns in the volatility")

    def warmup(self) -> int:
        return max(self.window, self.vol_window)

    def compute(self, close: FloatArray) -> FloatArray:
        mom = log_return_nb(close, self.window)
        sigma = rolling_std_nb(log_return_nb(close, 1), self.vol_window, 1)
        denom = sigma * np.sqrt(self.window)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(denom > 0.0, mom / denom, 0.0)
        out[: self.warmup()] = np.nan
        return out


@register
class EmaSpread(FactorSpec):
    """Fast minus slow EMA of the close, in units of the average true range.

    Notes
    -----
    .. math:: s_t = \\frac{EMA_f(C)_t - EMA_w(C)_t}{ATR_a(t)}

    EMAs use ``alpha = 2 / (n + 1)`` seeded by the simple mean of the first ``n`` closes;
    the ATR is Wilder's (``alpha = 1 / a``) seeded by the mean of the first ``a`` true
    ranges, both exactly as TA-Lib's ``EMA`` and ``ATR``. An ATR of 0 gives 0. Warm-up:
    ``max(window - 1, atr_window)`` bars. Being recursive, values depend (weakly, decaying
    like :math:`(1 - \\alpha)^t`) on where the series starts.
    """

    name = "ema_spread"
    inputs = ("high", "low", "close")
    role = Role.PRIMARY
    description = "(EMA(fast_window) - EMA(window)) of the close divided by ATR(atr_window)."

    fast_window: int = _window(12, doc="bars of the fast EMA")
    window: int = _window(26, ge=2, doc="bars of the slow EMA")
    atr_window: int = _window(14, doc="bars of Wilder's ATR")

    def validate(self) -> None:
        if self.fast_window >= self.window:
            raise ConfigError(
                f"factor 'ema_spread': fast_window ({self.fast_window}) must be smaller "
                f"than window ({self.window})"
            )

    def warmup(self) -> int:
        return max(self.window - 1, self.atr_window)

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        spread = ema_nb(close, self.fast_window) - ema_nb(close, self.window)
        atr = atr_nb(high, low, close, self.atr_window)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(atr > 0.0, spread / atr, 0.0)
        out[: self.warmup()] = np.nan
        return out


@register
class DonchianPosition(FactorSpec):
    """Position of the close inside the Donchian channel, mapped to ``[-1, 1]``.

    Notes
    -----
    .. math:: d_t = 2\\,\\frac{C_t - L^{(w)}_t}{H^{(w)}_t - L^{(w)}_t} - 1

    with :math:`H^{(w)}_t, L^{(w)}_t` the highest high and lowest low of the last ``window``
    bars including ``t``: +1 at the channel top (breakout up), -1 at the bottom. A channel
    of zero width gives 0. Warm-up: ``window - 1`` bars.
    """

    name = "donchian_position"
    inputs = ("high", "low", "close")
    role = Role.PRIMARY
    description = "Close position in the `window`-bar high-low channel, -1 (low) to +1 (high)."

    window: int = _window(20)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        hi = rolling_max_nb(high, self.window)
        lo = rolling_min_nb(low, self.window)
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(width > 0.0, 2.0 * (close - lo) / width - 1.0, 0.0)
        out[: self.warmup()] = np.nan
        return out
