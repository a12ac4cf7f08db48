"""The result of a backtest: equity, positions, trades, statistics, and a vectorbt view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TRADE_COLUMNS", "BacktestResult"]

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entry_idx",
    "exit_idx",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "entry_fee",
    "exit_fee",
    "fees",
    "funding",
    "slippage",
    "pnl",
    "return",
    "exit_reason",
    "is_open",
)


@dataclass(frozen=True, repr=False, eq=False)
class BacktestResult:
    """What :func:`quantlab.backtest.run` returns.

    Attributes
    ----------
    equity, cash, positions : pd.Series
        At each bar's close: equity (``cash + positions * close``), cash and the signed
        position in units.
    fees, funding : pd.Series
        Fees and funding paid in each bar (funding > 0 is paid, < 0 received).
    trades : pd.DataFrame
        One row per trade (:data:`TRADE_COLUMNS`); ``pnl`` is net of both fees and
        funding; a position still open at the end is marked to the last close, with
        ``exit_reason = "end"`` and ``is_open = True``.
    stats : pd.Series
        :func:`quantlab.backtest.stats.compute_stats` of this run.
    target : pd.Series
        The strategy's target direction at each close.
    ambiguous_bars : int
        Bars where the stop and the target both lay inside the bar's range.
    ordering : str
        ``"pessimistic"`` (stop first in ambiguous bars, the default) or ``"optimistic"``.
    strategy, costs
        The configuration that ran and the costs it was charged (never implicit).
    """

    equity: pd.Series
    cash: pd.Series
    positions: pd.Series
    fees: pd.Series
    funding: pd.Series
    trades: pd.DataFrame
    stats: pd.Series
    target: pd.Series
    close: pd.Series
    init_cash: float
    bar_seconds: float
    fill: str
    ambiguous_bars: int = 0
    ordering: str = "pessimistic"
    strategy: Any = None
    costs: Any = None
    _other: BacktestResult | None = field(default=None)

    @property
    def optimistic(self) -> BacktestResult:
        """The run with the optimistic ordering of ambiguous bars (self if none)."""
        if self.ordering == "optimistic" or self._other is None:
            return self
        return self._other

    @property
    def pessimistic(self) -> BacktestResult:
        """The run with the pessimistic ordering of ambiguous bars (self if none)."""
        if self.ordering == "pessimistic" or self._other is None:
            return self
        return self._other

    @property
    def returns(self) -> pd.Series:
        """Per-bar simple returns of equity (the first against the initial cash)."""
        prev = self.equity.shift(1)
        prev.iloc[:1] = self.init_cash
        return (self.equity / prev - 1.0).rename("returns")

    @property
    def drawdown(self) -> pd.Series:
        """Drawdown from the running peak (including the initial cash), as a fraction <= 0."""
        peak = np.maximum(self.equity.cummax(), self.init_cash)
        return (self.equity / peak - 1.0).rename("drawdown")

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"BacktestResult({len(self.equity)} bars, {int(s['n_trades'])} trades, "
            f"total_return={s['total_return']:.4%}, sharpe={s['sharpe']:.3f}, "
            f"max_drawdown={s['max_drawdown']:.4%}, ambiguous_bars={self.ambiguous_bars}, "
            f"fill={self.fill!r}, ordering={self.ordering!r}, costs={self._costs_text()})"
        )

    def _costs_text(self) -> str:
        if self.costs is None:
            return "?"
        from quantlab.backtest.options import describe_costs

        return repr(describe_costs(self.costs))

    def orders(self) -> pd.DataFrame:
        """Return every fill: bar index, signed size, price and fee (from the trades)."""
        rows = []
        for t in self.trades.itertuples(index=False):
            rows.append((t.entry_idx, t.size, t.entry_price, t.entry_fee))
            if not t.is_open:
                rows.append((t.exit_idx, -t.size, t.exit_price, t.exit_fee))
        orders = pd.DataFrame(rows, columns=["idx", "size", "price", "fee"])
        return orders.sort_values("idx", kind="stable").reset_index(drop=True)

    def to_vectorbt(self) -> Any:
        """Return a ``vectorbt.Portfolio`` replaying this run's fills, for vectorbt's plots.

        The portfolio holds the same orders (sizes, prices, fees). vectorbt has no funding
        cash flows, so its value differs from :attr:`equity` by the cumulative funding.
        """
        import vectorbt as vbt
        from vectorbt.portfolio.enums import log_dt, order_dt

        orders = self.orders()
        rec = np.zeros(len(orders), dtype=order_dt)
        rec["id"] = np.arange(len(orders))
        rec["col"] = 0
        rec["idx"] = orders["idx"].to_numpy(dtype=np.int64)
        rec["size"] = np.abs(orders["size"].to_numpy())
        rec["price"] = orders["price"].to_numpy()
        rec["fees"] = orders["fee"].to_numpy()
        rec["side"] = np.where(orders["size"].to_numpy() > 0, 0, 1)
        close = self.close.copy()
        close.index = close.index.tz_localize(None) if close.index.tz is not None else close.index
        wrapper = vbt.base.array_wrapper.ArrayWrapper.from_obj(
            close, freq=pd.Timedelta(seconds=self.bar_seconds)
        )
        return vbt.Portfolio(
            wrapper,
            close,
            rec,
            np.zeros(0, dtype=log_dt),
            init_cash=np.asarray([self.init_cash]),
            cash_sharing=False,
        )
