"""Flow and liquidity factors: volume z-score, flow imbalance, Amihud, Kyle's lambda, VWAP.

Signed volume comes from the bar itself (direction and range, see
:func:`quantlab.kernels.flow.signed_volume_nb`), as bars carry no trade-side data. Units are
per bar. Every value at bar ``t`` uses bars ``<= t`` only.
"""

from __future__ import annotations

from quantlab._typing import FloatArray
from quantlab.factors.registry import FactorSpec, Role, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.flow import (
    amihud_illiquidity_nb,
    flow_imbalance_nb,
    kyle_lambda_nb,
    volume_z_nb,
    vwap_deviation_nb,
)


@register
class VolumeZ(FactorSpec):
    """Z-score of log volume against its trailing window.

    Notes
    -----
    .. math:: z_t = \\frac{v_t - \\bar v_t}{s_t}, \\quad v = \\log(1 + V)

    with :math:`\\bar v_t, s_t` the mean and sample standard deviation (ddof=1) of the last
    ``window`` values including ``t``. The log tames volume's heavy tail; ``log1p`` keeps
    zero-volume bars finite. A flat window gives 0. Warm-up: ``window - 1`` bars.
    """

    name = "volume_z"
    inputs = ("volume",)
    role = Role.CONFIRMATION
    description = "Z-score of log(1 + volume) over the last `window` bars."

    window: int = _window(24, ge=2)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, volume: FloatArray) -> FloatArray:
        return volume_z_nb(volume, self.window)


@register
class FlowImbalance(FactorSpec):
    """Share of signed volume in total volume over the window, in ``[-1, 1]``.

    Notes
    -----
    .. math:: sv_i = V_i\\,\\frac{C_i - O_i}{H_i - L_i}, \\qquad
              I_t = \\frac{\\sum_{i=t-w+1}^{t} sv_i}{\\sum_{i=t-w+1}^{t} V_i}

    (:math:`sv_i = 0` for a bar with no range; :math:`I_t = 0` when the window traded
    nothing). +1: every bar closed at its high from its low (all buying). Warm-up:
    ``window - 1`` bars.
    """

    name = "flow_imbalance"
    inputs = ("open", "high", "low", "close", "volume")
    role = Role.CONFIRMATION
    description = "Signed volume (bar direction over range) share of volume, `window` bars."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window - 1

    def compute(
        self,
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> FloatArray:
        return flow_imbalance_nb(open_, high, low, close, volume, self.window)


@register
class AmihudIlliquidity(FactorSpec):
    """Amihud (2002) illiquidity: absolute return per unit of dollar volume.

    Notes
    -----
    .. math:: ILLIQ_t = \\frac{1}{|K_t|}\\sum_{i \\in K_t} \\frac{|r_i|}{C_i V_i}

    with :math:`r_i = \\log(C_i/C_{i-1})` and :math:`K_t` the bars of the last ``window``
    with positive dollar volume :math:`C_i V_i` (quote currency). Units: log return per
    unit of quote currency traded (tiny numbers: ``1e-9`` per dollar is ``1e-3`` per
    million). A window that traded nothing gives 0 (no trade, no measured impact).
    Warm-up: ``window`` bars.
    """

    name = "amihud_illiquidity"
    inputs = ("close", "volume")
    role = Role.FILTER
    description = "Mean |log return| / (close * volume) over the last `window` bars."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray, volume: FloatArray) -> FloatArray:
        return amihud_illiquidity_nb(close, volume, self.window)


@register
class KyleLambda(FactorSpec):
    """Kyle's lambda: price impact per unit of signed volume, by rolling OLS.

    Notes
    -----
    .. math:: r_i = \\alpha + \\lambda_t\\, sv_i + \\varepsilon_i, \\quad i = t-w+1..t

    fitted by least squares, with :math:`r_i = \\log(C_i/C_{i-1})` and :math:`sv_i` the
    bar's signed volume (see :class:`FlowImbalance`). Units: log return per unit of base
    volume. A window with no signed-volume dispersion gives 0. Warm-up: ``window`` bars.
    """

    name = "kyle_lambda"
    inputs = ("open", "high", "low", "close", "volume")
    role = Role.OBSERVER
    description = "Rolling OLS slope of log return on signed volume over `window` bars."

    window: int = _window(48, ge=3)

    def warmup(self) -> int:
        return self.window

    def compute(
        self,
        open_: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> FloatArray:
        return kyle_lambda_nb(open_, high, low, close, volume, self.window)


@register
class VwapDeviation(FactorSpec):
    """Log distance of the close from the rolling volume-weighted average price.

    Notes
    -----
    .. math:: d_t = \\log\\frac{C_t}{VWAP_t}, \\quad
              VWAP_t = \\frac{\\sum_{i=t-w+1}^{t} P_i V_i}{\\sum_{i=t-w+1}^{t} V_i},
              \\quad P_i = \\frac{H_i + L_i + C_i}{3}

    0 when the window traded nothing. Warm-up: ``window - 1`` bars.
    """

    name = "vwap_deviation"
    inputs = ("high", "low", "close", "volume")
    role = Role.OBSERVER
    description = "log(close / VWAP of the typical price over the last `window` bars)."

    window: int = _window(24)

    def warmup(self) -> int:
        return self.window - 1

    def compute(
        self, high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
    ) -> FloatArray:
        return vwap_deviation_nb(high, low, close, volume, self.window)
