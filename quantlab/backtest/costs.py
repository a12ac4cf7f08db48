"""Trading costs: maker/taker fees, the slippage model and perp funding.

``Costs`` is a frozen pydantic model; ``ql.backtest.run(df, strategy, costs=0.001)``
accepts a bare number as the same fee for maker and taker fills.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from quantlab._typing import FloatArray
from quantlab.config import FrozenConfig
from quantlab.errors import ConfigError


class Costs(FrozenConfig):
    """Fees, slippage and funding of a backtest.

    Attributes
    ----------
    maker_fee, taker_fee : float
        Fee rates on a fill's notional. Market orders (entries, signal exits, stops,
        liquidations) pay ``taker_fee``; a take-profit is a resting limit order and pays
        ``maker_fee``.
    slippage_bps : float
        Fixed slippage of a market order, in basis points of price.
    vol_slippage : float
        Extra slippage as a multiple of the per-bar volatility (std of log returns over
        ``vol_window`` bars, known before the fill).
    impact : float
        Square-root impact coefficient: ``impact * sqrt(order size / previous bar volume)``.
    max_slippage_bps : float
        Cap on the total slippage.
    vol_window : int
        Window of the per-bar volatility estimate.
    funding : bool
        Charge perp funding from the ``funding_rate`` column when present.

    Notes
    -----
    Slippage of a market order, as a fraction of price:
    :math:`s = s_0 + k_\\sigma \\hat\\sigma_{t-1} + k_I \\sqrt{q / V_{t-1}}`, capped; buys
    fill at :math:`P (1 + s)`, sells at :math:`P (1 - s)`.
    """

    maker_fee: float = Field(0.0, ge=0.0, lt=0.1)
    taker_fee: float = Field(0.0, ge=0.0, lt=0.1)
    slippage_bps: float = Field(0.0, ge=0.0, lt=1000.0)
    vol_slippage: float = Field(0.0, ge=0.0)
    impact: float = Field(0.0, ge=0.0)
    max_slippage_bps: float = Field(500.0, gt=0.0, le=5000.0)
    vol_window: int = Field(20, ge=2)
    funding: bool = True

    @classmethod
    def flat(cls, fee: float) -> Costs:
        """Return costs with one fee rate for every fill and nothing else."""
        return make_costs({"maker_fee": fee, "taker_fee": fee})

    @classmethod
    def hyperliquid(cls) -> Costs:
        """Return Hyperliquid's base-tier perp fees (0.015 % maker, 0.045 % taker), 1 bp slip."""
        return cls(maker_fee=0.00015, taker_fee=0.00045, slippage_bps=1.0)

    def bar_volatility(self, close: FloatArray) -> FloatArray:
        """Return the per-bar volatility known before each bar (NaN when unused/unknown)."""
        n = close.shape[0]
        if self.vol_slippage == 0.0 or n < 2:
            return np.full(n, np.nan)
        r = pd.Series(np.log(close)).diff()
        sigma = r.rolling(self.vol_window).std(ddof=1).shift(1)
        return sigma.to_numpy(dtype=np.float64, na_value=np.nan)

    def volume_reference(self, volume: FloatArray) -> FloatArray:
        """Return the previous bar's volume (NaN when impact is off or unknown)."""
        n = volume.shape[0]
        out = np.full(n, np.nan)
        if self.impact > 0.0 and n > 1:
            out[1:] = volume[:-1]
        return out


def make_costs(costs: Costs | float | dict | str | None) -> Costs:
    """Return a :class:`Costs` from a model, a single fee rate, a mapping or None.

    None is the venue's costs (:meth:`Costs.hyperliquid`): costs are never silently zero;
    ``0`` (or ``Costs()``) asks for zero costs.
    """
    if costs is None:
        return Costs.hyperliquid()
    if isinstance(costs, Costs):
        return costs
    if isinstance(costs, int | float) and not isinstance(costs, bool):
        return Costs(maker_fee=float(costs), taker_fee=float(costs))
    if isinstance(costs, dict):
        return Costs.from_dict(costs)
    if isinstance(costs, str):
        text = costs.strip().lower()
        if text == "hyperliquid":
            return Costs.hyperliquid()
        if text in ("zero", "none"):
            return Costs()
        try:
            fee = float(text)
        except ValueError:
            raise ConfigError(
                f"costs: {costs!r} is not a fee rate, 'hyperliquid' or 'zero'"
            ) from None
        return make_costs(fee)
    raise ConfigError(
        f"costs: expected a Costs, a fee rate or a mapping, got {type(costs).__name__}"
    )
