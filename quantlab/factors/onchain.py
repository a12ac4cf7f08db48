"""On-chain flow factors: smart-money flow, herds, Hawkes buys, AMM state, swap momentum.

They read the flow columns that :func:`quantlab.data.solana.flow_bars` adds to bars built
from swaps (``buy_flow sell_flow sm_buy_flow sm_sell_flow sm_buys herd_buyers
reserve_sol reserve_token``), so they run, and are checked, like every bar factor: the
value at bar ``t`` uses bars ``<= t`` only. Flows are in SOL per bar.
"""

from __future__ import annotations

import math

import numpy as np

from quantlab._typing import FloatArray
from quantlab.factors.registry import FactorSpec, Role, param, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.onchain import (
    cpmm_depth_nb,
    cpmm_impact_nb,
    excitation_nb,
    excitation_step_nb,
    flow_share_nb,
    liquidity_change_nb,
    net_flow_nb,
    swap_momentum_nb,
)
from quantlab.kernels.rolling import ewm_mean_nb, ewm_mean_step_nb


@register
class SmartMoneyNetFlow(FactorSpec):
    """Net SOL the smart-money wallets put into the token over the window.

    Notes
    -----
    .. math:: F_t = \\sum_{i=t-w+1}^{t} (B^{sm}_i - S^{sm}_i)

    with :math:`B^{sm}, S^{sm}` the SOL smart-money wallets spent buying and received
    selling in each bar. Units: SOL. Warm-up: ``window - 1`` bars.
    """

    name = "sm_net_flow"
    inputs = ("sm_buy_flow", "sm_sell_flow")
    role = Role.PRIMARY
    description = "Smart-money SOL bought minus sold over the last `window` bars."

    window: int = _window(12)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, buy: FloatArray, sell: FloatArray) -> FloatArray:
        return net_flow_nb(buy, sell, self.window)


@register
class SwapFlowImbalance(FactorSpec):
    """Share of buying in all swap flow over the window, in ``[-1, 1]``.

    Notes
    -----
    .. math:: I_t = \\frac{\\sum B_i - \\sum S_i}{\\sum B_i + \\sum S_i}

    over the last ``window`` bars (SOL legs of every wallet's swaps); 0 when nothing
    traded. Unlike ``flow_imbalance`` it reads the swaps' real side, not the bar's shape.
    Warm-up: ``window - 1`` bars.
    """

    name = "swap_flow_imbalance"
    inputs = ("buy_flow", "sell_flow")
    role = Role.CONFIRMATION
    description = "Buy minus sell SOL flow over their sum, last `window` bars of swaps."

    window: int = _window(12)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, buy: FloatArray, sell: FloatArray) -> FloatArray:
        return flow_share_nb(buy, sell, self.window)


@register
class ClusterHerd(FactorSpec):
    """Cluster herd intensity: smoothed count of one cluster's wallets buying together.

    Notes
    -----
    ``herd_buyers`` is, per bar, the most distinct wallets of one cluster that bought the
    token within the trailing herd window; this factor is its exponential mean,
    :math:`h_t = h_{t-1} + \\alpha (x_t - h_{t-1})`, :math:`\\alpha = 2 / (span + 1)`,
    seeded with the first value. Equals
    ``pd.Series(x).ewm(span=span, adjust=False).mean()``. Warm-up: none.
    """

    name = "cluster_herd"
    inputs = ("herd_buyers",)
    role = Role.CONFIRMATION
    description = "EMA of the most wallets of one cluster buying within the herd window."

    span: int = _window(6)

    def compute(self, herd: FloatArray) -> FloatArray:
        return ewm_mean_nb(herd, 2.0 / (self.span + 1.0))

    def compute_stepwise(self, herd: FloatArray) -> FloatArray:
        alpha = 2.0 / (self.span + 1.0)
        out = np.empty(herd.shape[0])
        state = np.nan
        for t in range(herd.shape[0]):
            state, out[t] = ewm_mean_step_nb(state, herd[t], alpha)
        return out


@register
class SmartMoneyHawkes(FactorSpec):
    """Hawkes-style excitation of smart-money buys (buys per bar, exponentially decayed).

    Notes
    -----
    .. math:: \\lambda_t = (1 - e^{-\\beta}) \\sum_{s \\le t} e^{-\\beta (t - s)} n_s

    the exponential-kernel self-excitation term of a discrete-time Hawkes process of the
    smart-money buy counts :math:`n_s`, scaled so a constant count ``c`` gives ``c`` in
    the long run. ``decay`` :math:`\\beta` is per bar. Warm-up: none.
    """

    name = "sm_hawkes"
    inputs = ("sm_buys",)
    role = Role.CONFIRMATION
    description = "Exponentially decayed smart-money buy count (Hawkes excitation)."

    decay: float = param(0.5, gt=0.0, doc="decay of the excitation per bar")

    def compute(self, n: FloatArray) -> FloatArray:
        return (1.0 - math.exp(-self.decay)) * excitation_nb(n, self.decay)

    def compute_stepwise(self, n: FloatArray) -> FloatArray:
        out = np.empty(n.shape[0])
        s = 0.0
        for t in range(n.shape[0]):
            s, out[t] = excitation_step_nb(s, n[t], self.decay)
        return (1.0 - math.exp(-self.decay)) * out


@register
class AmmPriceImpact(FactorSpec):
    """Price impact of buying ``size`` SOL of the token on its constant-product pool.

    Notes
    -----
    .. math:: \\iota = \\frac{R + (1 - f)\\,\\Delta}{(1 - f) R} - 1

    the average execution price over the pool price, minus one, for a buy of
    :math:`\\Delta` SOL against the SOL reserve :math:`R` with fee :math:`f` (from
    :math:`x y = k`). Rises as liquidity drains. Warm-up: none.
    """

    name = "amm_price_impact"
    inputs = ("reserve_sol",)
    role = Role.FILTER
    description = "Constant-product price impact of a buy of `size` SOL, fee included."

    size: float = param(1.0, gt=0.0, doc="buy size in SOL")
    fee: float = param(0.0025, ge=0.0, le=0.5, doc="pool fee")

    def compute(self, reserve_sol: FloatArray) -> FloatArray:
        return cpmm_impact_nb(reserve_sol, self.size, self.fee)


@register
class AmmDepth(FactorSpec):
    """SOL it takes to move the pool price up by ``move`` (market depth).

    Notes
    -----
    :math:`D = R (\\sqrt{1 + m} - 1)` on a constant-product pool with SOL reserve
    :math:`R`, fee ignored. Units: SOL. Warm-up: none.
    """

    name = "amm_depth"
    inputs = ("reserve_sol",)
    role = Role.OBSERVER
    description = "SOL needed to lift the constant-product pool price by `move`."

    move: float = param(0.02, gt=0.0, le=10.0, doc="relative price move")

    def compute(self, reserve_sol: FloatArray) -> FloatArray:
        return cpmm_depth_nb(reserve_sol, self.move)


@register
class AmmLiquidityChange(FactorSpec):
    """Log change of the pool's liquidity ``sqrt(R_sol * R_token)`` over the window.

    Notes
    -----
    Swaps keep :math:`k = R_{sol} R_{token}` (fees aside); liquidity adds and removes
    change it. :math:`\\frac12 \\log(k_t / k_{t-w})`. Warm-up: ``window`` bars.
    """

    name = "amm_liquidity_change"
    inputs = ("reserve_sol", "reserve_token")
    role = Role.OBSERVER
    description = "Log change of the pool's sqrt(k) liquidity over `window` bars."

    window: int = _window(12)

    def warmup(self) -> int:
        return self.window

    def compute(self, reserve_sol: FloatArray, reserve_token: FloatArray) -> FloatArray:
        return liquidity_change_nb(reserve_sol, reserve_token, self.window)


@register
class SwapMomentum(FactorSpec):
    """Acceleration of net swap flow: recent net flow against its slower average.

    Notes
    -----
    .. math:: M_t = \\frac{\\overline{(B - S)}_{fast} - \\overline{(B - S)}_{slow}}
              {\\overline{(B + S)}_{slow}}

    (means over the last ``fast`` and ``slow`` bars; 0 when the slow window traded
    nothing). Warm-up: ``slow - 1`` bars.
    """

    name = "swap_momentum"
    inputs = ("buy_flow", "sell_flow")
    role = Role.PRIMARY
    description = "Fast minus slow mean net swap flow, over the slow mean gross flow."

    fast: int = _window(6)
    slow: int = _window(48, ge=2)

    def validate(self) -> None:
        from quantlab.errors import ConfigError

        if self.fast >= self.slow:
            raise ConfigError(
                f"factor 'swap_momentum': fast ({self.fast}) must be below slow ({self.slow})"
            )

    def warmup(self) -> int:
        return self.slow - 1

    def compute(self, buy: FloatArray, sell: FloatArray) -> FloatArray:
        return swap_momentum_nb(buy, sell, self.fast, self.slow)
