"""Volatility factors: realized, Parkinson and Garman-Klass estimators, short/long ratio.

All volatilities are per bar (the standard deviation of a one-bar log return), never
annualised inside the factor: multiply by ``sqrt(bars per year)`` in the notebook if needed.
Every value at bar ``t`` uses bars ``<= t`` only.
"""

from __future__ import annotations

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.rolling import log_return_nb, rolling_mean_nb

_LN2 = float(np.log(2.0))


def _squared_returns(close: FloatArray) -> FloatArray:
    r = log_return_nb(close, 1)
    return r * r


def _realized_vol(r2: FloatArray, w: int) -> FloatArray:
    return np.sqrt(rolling_mean_nb(r2, w))


@register
class RealizedVol(FactorSpec):
    """Realized volatility: root mean square of one-bar log returns.

    Notes
    -----
    .. math:: \\sigma_t = \\sqrt{\\frac{1}{w}\\sum_{i=t-w+1}^{t} r_i^2},
              \\quad r_i = \\log(C_i / C_{i-1})

    (no demeaning: the usual realized-variance convention; per bar). Warm-up: ``window``
    bars.
    """

    name = "realized_vol"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Per-bar realized volatility: RMS of one-bar log returns over `window` bars."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        return _realized_vol(_squared_returns(close), self.window)


@register
class ParkinsonVol(FactorSpec):
    """Parkinson (1980) high-low range volatility estimator.

    Notes
    -----
    .. math:: \\sigma_t = \\sqrt{\\frac{1}{4\\ln 2\\,w}\\sum_{i=t-w+1}^{t}
              \\left(\\log\\frac{H_i}{L_i}\\right)^2}

    Per bar; about five times as efficient as close-to-close for a driftless diffusion, but
    blind to overnight/inter-bar jumps. Warm-up: ``window - 1`` bars.
    """

    name = "parkinson_vol"
    inputs = ("high", "low")
    role = Role.OBSERVER
    description = "Per-bar Parkinson volatility from log(high/low) over `window` bars."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, high: FloatArray, low: FloatArray) -> FloatArray:
        hl = np.log(high / low)
        return np.sqrt(rolling_mean_nb(hl * hl, self.window) / (4.0 * _LN2))


@register
class GarmanKlassVol(FactorSpec):
    """Garman-Klass (1980) OHLC volatility estimator.

    Notes
    -----
    .. math:: \\sigma_t = \\sqrt{\\max\\left(0, \\frac{1}{w}\\sum_{i=t-w+1}^{t}
              \\left[\\tfrac12 \\left(\\log\\frac{H_i}{L_i}\\right)^2
              - (2\\ln 2 - 1)\\left(\\log\\frac{C_i}{O_i}\\right)^2\\right]\\right)}

    Per bar. For a valid bar :math:`|\\log(C/O)| \\le \\log(H/L)`, so the bracket is at
    least :math:`(1.5 - 2\\ln 2)(\\log H/L)^2 \\ge 0`; the max only guards against
    rounding. Warm-up: ``window - 1`` bars.
    """

    name = "garman_klass_vol"
    inputs = ("open", "high", "low", "close")
    role = Role.OBSERVER
    description = "Per-bar Garman-Klass volatility from OHLC over `window` bars."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window - 1

    def compute(
        self, open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray
    ) -> FloatArray:
        hl = np.log(high / low)
        co = np.log(close / open_)
        term = 0.5 * hl * hl - (2.0 * _LN2 - 1.0) * co * co
        var = rolling_mean_nb(term, self.window)
        return np.sqrt(np.maximum(var, 0.0))


@register
class VolRatio(FactorSpec):
    """Short-window over long-window realized volatility.

    Notes
    -----
    :math:`\\rho_t = \\sigma^{(s)}_t / \\sigma^{(w)}_t` with the realized volatilities of
    :class:`RealizedVol` over ``short_window`` and ``window`` bars. Above 1: volatility is
    expanding; below 1: contracting. When the long window is flat (so is the short one,
    which it contains) the ratio is 1. Warm-up: ``window`` bars.
    """

    name = "vol_ratio"
    inputs = ("close",)
    role = Role.FILTER
    description = "Realized volatility over `short_window` divided by that over `window`."

    short_window: int = _window(24, doc="bars of the short volatility")
    window: int = _window(168, doc="bars of the long volatility")

    def validate(self) -> None:
        if self.short_window >= self.window:
            raise ConfigError(
                f"factor 'vol_ratio': short_window ({self.short_window}) must be smaller "
                f"than window ({self.window})"
            )

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        r2 = _squared_returns(close)  # once for both windows
        short = _realized_vol(r2, self.short_window)
        long = _realized_vol(r2, self.window)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(long > 0.0, short / long, 1.0)
        out[: self.warmup()] = np.nan
        return out
