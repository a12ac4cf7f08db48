"""Self-excitation and regime factors: Hawkes intensity of large moves, variance ratio, Hurst.

Units are per bar. Every value at bar ``t`` uses bars ``<= t`` only.
"""

from __future__ import annotations

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, param, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.regime import (
    hawkes_intensity_nb,
    hawkes_intensity_step_nb,
    hurst_nb,
    large_move_events_nb,
    variance_ratio_nb,
)


@register
class HawkesIntensity(FactorSpec):
    """Exponential-kernel (Hawkes) intensity of large moves, in events per bar.

    Notes
    -----
    Bar ``i`` is an event (:math:`e_i = 1`) when :math:`|r_i| > k\\,\\sigma_{i-1}`, with
    :math:`r_i = \\log(C_i/C_{i-1})` and :math:`\\sigma_{i-1}` the sample standard deviation
    of the ``window`` returns before ``i`` (``k = threshold``). The intensity

    .. math:: \\lambda_t = \\beta \\sum_{i \\le t} e_i\\, e^{-\\beta (t - i)}
              = e^{-\\beta}\\lambda_{t-1} + \\beta e_t

    is the self-exciting part of a Hawkes intensity with unit-mass kernel
    :math:`\\beta e^{-\\beta u}` (``beta = decay`` per bar; half-life
    :math:`\\ln 2 / \\beta` bars): clustered large moves push it up, calm lets it decay.
    Its long-run mean is about the event rate per bar. It is recursive: the batch path loops
    :func:`~quantlab.kernels.regime.hawkes_intensity_step_nb`, starting from 0 at the first
    bar that can be classified. Warm-up: ``window + 1`` bars.
    """

    name = "hawkes_intensity"
    inputs = ("close",)
    role = Role.FILTER
    description = "Exponentially decaying intensity of moves beyond `threshold` sigmas."

    window: int = _window(48, ge=2, doc="bars of returns in the move-size volatility")
    threshold: float = param(2.0, gt=0, doc="a large move exceeds threshold * sigma")
    decay: float = param(0.1, gt=0, doc="decay rate beta per bar")

    def warmup(self) -> int:
        return self.window + 1

    def compute(self, close: FloatArray) -> FloatArray:
        events = large_move_events_nb(close, self.window, self.threshold)
        return hawkes_intensity_nb(events, self.decay)

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        events = large_move_events_nb(close, self.window, self.threshold)
        out = np.empty(events.shape[0])
        state = 0.0
        for t in range(events.shape[0]):
            state, out[t] = hawkes_intensity_step_nb(state, events[t], self.decay)
        return out


@register
class VarianceRatio(FactorSpec):
    """Rolling Lo-MacKinlay variance ratio of log returns.

    Notes
    -----
    In the window of the last ``window`` one-bar log returns (mean :math:`\\mu`) and its
    :math:`M = w - q + 1` overlapping ``q``-bar returns :math:`R_j` (``q = lag``):

    .. math:: VR_t = \\frac{\\frac1M \\sum_j (R_j - q\\mu)^2}{q\\,\\frac1w\\sum_i (r_i - \\mu)^2}

    1 for a random walk, > 1 trending (positive autocorrelation), < 1 mean-reverting. Plain
    overlapping estimator without small-sample correction (it is biased slightly below 1 in
    short windows). A flat window gives 1. Warm-up: ``window`` bars.
    """

    name = "variance_ratio"
    inputs = ("close",)
    role = Role.FILTER
    description = "Variance of `lag`-bar returns over lag x one-bar variance, `window` bars."

    window: int = _window(168, ge=3)
    lag: int = _window(4, ge=2, doc="bars of the aggregated return q")

    def validate(self) -> None:
        if self.lag >= self.window:
            raise ConfigError(
                f"factor 'variance_ratio': lag ({self.lag}) must be smaller than window "
                f"({self.window})"
            )

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        return variance_ratio_nb(close, self.window, self.lag)


@register
class Hurst(FactorSpec):
    """Rolling Hurst exponent from the scaling of lagged log-price differences.

    Notes
    -----
    In the window of the last ``window`` log closes, :math:`s_\\tau` is the root mean
    square (not demeaned) of the differences :math:`p_i - p_{i-\\tau}`, for
    :math:`\\tau = 1..L` (``L = max_lag``); ``H`` is the least-squares slope of
    :math:`\\log s_\\tau` on :math:`\\log \\tau` (:math:`s_\\tau \\propto \\tau^H`). 0.5: random
    walk; above: persistent (trending); below: anti-persistent (mean-reverting). A window
    with a zero :math:`s_\\tau` gives 0.5. Warm-up: ``window - 1`` bars.
    """

    name = "hurst"
    inputs = ("close",)
    role = Role.FILTER
    description = "Hurst exponent: slope of log std of lag differences on log lag, `window`."

    window: int = _window(128, ge=4)
    max_lag: int = _window(16, ge=2, doc="largest lag L (lags 1..L)")

    def validate(self) -> None:
        if 2 * self.max_lag > self.window:
            raise ConfigError(
                f"factor 'hurst': max_lag ({self.max_lag}) must be at most window / 2 "
                f"({self.window // 2}) so every lag has enough differences"
            )

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, close: FloatArray) -> FloatArray:
        return hurst_nb(close, self.window, self.max_lag)
