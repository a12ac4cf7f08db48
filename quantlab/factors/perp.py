"""Perpetual-futures factors on the ``funding_rate`` column: funding z-score and carry.

``funding_rate`` is per hour (the bar schema's convention), so these factors are per hour
too, whatever the bar interval: a bar of ``h`` hours pays ``h`` times the rate. A frame
without the column raises :class:`~quantlab.errors.ConfigError` naming it. Every value at
bar ``t`` uses bars ``<= t`` only.
"""

from __future__ import annotations

from quantlab._typing import FloatArray
from quantlab.factors.registry import FactorSpec, Role, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.rolling import rolling_mean_nb, rolling_zscore_nb


@register
class FundingZ(FactorSpec):
    """Z-score of the funding rate against its trailing window.

    Notes
    -----
    :math:`z_t = (f_t - \\bar f_t) / s_t` with :math:`\\bar f_t, s_t` the mean and sample
    standard deviation (ddof=1) of the last ``window`` funding rates including ``t``.
    Extreme positive values flag crowded longs. A flat window gives 0. Warm-up:
    ``window - 1`` bars.
    """

    name = "funding_z"
    inputs = ("funding_rate",)
    role = Role.CONFIRMATION
    description = "Z-score of the per-hour funding rate over the last `window` bars."

    window: int = _window(168, ge=2)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, funding_rate: FloatArray) -> FloatArray:
        return rolling_zscore_nb(funding_rate, self.window, 1)


@register
class FundingCarry(FactorSpec):
    """Funding carry earned by a long position, per hour, averaged over the window.

    Notes
    -----
    .. math:: c_t = -\\frac{1}{w}\\sum_{i=t-w+1}^{t} f_i

    Longs pay shorts when the funding rate :math:`f` is positive, so a positive carry means
    holding long *earns* funding (and holding short pays it). Per hour, as the
    ``funding_rate`` column. Warm-up: ``window - 1`` bars.
    """

    name = "funding_carry"
    inputs = ("funding_rate",)
    role = Role.PRIMARY
    description = "Minus the mean per-hour funding rate over `window` bars (long's carry)."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, funding_rate: FloatArray) -> FloatArray:
        return -rolling_mean_nb(funding_rate, self.window)
