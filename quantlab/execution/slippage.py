"""SlippageEstimator: the backtest's cost model, applied to one order.

The estimate is :func:`quantlab.kernels.backtest.slippage_frac_nb`, the very function the
backtest engine charges, fed with the same causal inputs (the per-bar volatility known
before the bar, :meth:`quantlab.backtest.costs.Costs.bar_volatility`, and the previous bar's
volume), so a paper or live order is costed exactly as the backtest costed it. The impact
term's participation ``q / V`` is the engine's ``participation_nb`` of the quantity the engine
measures it on: an exit's position, an entry's size *before* costs (``fraction * equity /
reference price``, which an entry intent carries as ``impact_size``), not the size traded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from quantlab.backtest.costs import Costs, make_costs
from quantlab.kernels import backtest as _bt

__all__ = ["SlippageEstimate", "SlippageEstimator", "slippage_params"]


def slippage_params(costs: Costs) -> np.ndarray:
    """Return an engine parameter row holding the costs' fee and slippage fields.

    The same ``P_*`` fields :func:`quantlab.backtest.engine.build_params` fills (a test
    checks they agree), so :func:`~quantlab.kernels.backtest.slippage_frac_nb` reads them.
    """
    p = np.zeros(_bt.N_PARAMS)
    p[_bt.P_MAKER_FEE] = costs.maker_fee
    p[_bt.P_TAKER_FEE] = costs.taker_fee
    p[_bt.P_SLIP_FIXED] = costs.slippage_bps * 1e-4
    p[_bt.P_SLIP_VOL] = costs.vol_slippage
    p[_bt.P_SLIP_IMPACT] = costs.impact
    p[_bt.P_SLIP_MAX] = costs.max_slippage_bps * 1e-4
    return p


@dataclass(frozen=True, slots=True)
class SlippageEstimate:
    """Expected cost of one taker order: slippage fraction, prices and fee (USD)."""

    slippage_frac: float
    ref_price: float
    fill_price: float
    fee: float
    fee_rate: float

    @property
    def cost_frac(self) -> float:
        """Return slippage plus fee as a fraction of the notional at ``ref_price``."""
        return self.slippage_frac + self.fee_rate * self.fill_price / self.ref_price


class SlippageEstimator:
    """Track the causal inputs of the cost model per symbol and estimate an order's cost.

    Feed every closed bar with :meth:`update` (``close``, ``volume``); :meth:`estimate`
    then returns the slippage of an order *in the next bar*, with the inputs the backtest
    would use at that bar: the volatility of the log returns of the last ``vol_window``
    closes and the volume of the last bar.

    Parameters
    ----------
    costs : Costs, float, mapping or None
        The backtest's cost model (``make_costs`` accepts the same forms).
    """

    def __init__(self, costs: Costs | float | dict | None = None) -> None:
        self.costs = make_costs(costs)
        self.params = slippage_params(self.costs)
        self._closes: dict[str, deque[float]] = {}
        self._volume: dict[str, float] = {}

    def update(self, symbol: str, close: float, volume: float = float("nan")) -> None:
        """Record a closed bar of ``symbol``."""
        closes = self._closes.setdefault(symbol, deque(maxlen=self.costs.vol_window + 1))
        closes.append(float(close))
        self._volume[symbol] = float(volume)

    def inputs(self, symbol: str) -> tuple[float, float]:
        """Return ``(bar_vol, volume_ref)`` for an order in the bar after the last update."""
        closes = self._closes.get(symbol)
        bar_vol = float("nan")
        if closes is not None and self.costs.vol_slippage != 0.0:
            # the same function the backtest uses, on the closes it would look at
            series = np.fromiter(closes, dtype=np.float64, count=len(closes))
            bar_vol = float(self.costs.bar_volatility(np.append(series, np.nan))[-1])
        volume_ref = self._volume.get(symbol, float("nan")) if self.costs.impact > 0 else np.nan
        return bar_vol, float(volume_ref)

    def slippage_frac(self, size: float, bar_vol: float, volume_ref: float) -> float:
        """Return the slippage fraction of a taker order whose impact is measured on ``size``.

        ``size`` is the quantity the engine measures participation on: the position for
        an exit, the size before costs (``fraction * equity / reference price``) for an
        entry (:attr:`~quantlab.execution.model.OrderIntent.impact_size`). The engine's own
        functions compute it: ``participation_nb`` (``q / V``, NaN without a volume, inf
        against zero volume) and :func:`~quantlab.kernels.backtest.slippage_frac_nb`.
        """
        participation = _bt.participation_nb(abs(float(size)), float(volume_ref))
        return float(_bt.slippage_frac_nb(self.params, participation, bar_vol))

    def estimate(
        self,
        symbol: str,
        side_sign: int,
        size: float,
        ref_price: float,
        *,
        impact_size: float | None = None,
    ) -> SlippageEstimate:
        """Return the expected fill of a taker order of ``size`` coins at ``ref_price``.

        ``impact_size`` (default ``size``): the coins the impact term is measured on.
        """
        bar_vol, volume_ref = self.inputs(symbol)
        s = self.slippage_frac(size if impact_size is None else impact_size, bar_vol, volume_ref)
        price = ref_price * (1.0 + side_sign * s)
        fee = abs(size) * price * self.costs.taker_fee
        return SlippageEstimate(s, ref_price, price, fee, self.costs.taker_fee)
