"""Per-factor P&L attribution from a composition's contributions.

A composed signal is the sum of its Primary factors' contributions
(``ql.factors.compose(df, spec).contributions``). Each factor owns its share of the
position held after a close and therefore that share of the next bar's P&L; the shares
sum to the position, so the factors' P&L sums to the strategy's gross P&L::

    res = ql.factors.compose(df, spec)
    att = attribute_pnl(res.contributions, res.signal, df["close"])   # signal as position
    att.pnl.sum(axis=1) == att.gross_pnl                              # the identity
    att.summary

    bt = ql.backtest.run(df, strategy, costs)
    att = attribute_backtest(bt, res.contributions)   # adds execution, fees, funding
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantlab.backtest.result import BacktestResult
from quantlab.errors import DataError

__all__ = ["UNATTRIBUTED", "Attribution", "attribute_backtest", "attribute_pnl"]

UNATTRIBUTED = "unattributed"


@dataclass(frozen=True, repr=False, eq=False)
class Attribution:
    """P&L split by factor.

    Attributes
    ----------
    pnl : pd.DataFrame
        Per bar, one column per factor plus ``"unattributed"``: the P&L earned over the
        bar (from the previous close to this close) by each factor's share of the position
        held from the previous close. Rows sum to :attr:`gross_pnl`.
    gross_pnl : pd.Series
        Position at the previous close times this bar's return (or price change): the
        P&L before any cost.
    shares : pd.DataFrame
        Each factor's share of the position at each close (rows sum to the position).
    position : pd.Series
    costs : pd.DataFrame
        Only from :func:`attribute_backtest`: per bar ``execution`` (fills away from the
        close, slippage included), ``fees`` and ``funding`` (both paid, > 0 a cost), with
        ``gross_pnl + execution - fees - funding`` = the change of equity.
    """

    pnl: pd.DataFrame
    gross_pnl: pd.Series
    shares: pd.DataFrame
    position: pd.Series
    costs: pd.DataFrame | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """Return per factor: total P&L, its fraction of the gross total, bars held, hit rate.

        ``hit_rate`` is the share of bars with a nonzero P&L where that P&L was positive.
        """
        total = self.pnl.sum()
        gross = float(self.gross_pnl.sum())
        active = self.pnl != 0.0
        n_active = active.sum()
        wins = (self.pnl > 0.0).sum()
        out = pd.DataFrame(
            {
                "pnl": total,
                "fraction": total / gross if gross != 0.0 else np.nan,
                "bars": n_active,
                "hit_rate": (wins / n_active.where(n_active > 0)).astype(float),
            }
        )
        out.loc["total"] = [gross, 1.0 if gross != 0.0 else np.nan, np.nan, np.nan]
        return out

    def __repr__(self) -> str:
        return f"Attribution({len(self.pnl)} bars, factors={list(self.pnl.columns[:-1])})"


def _series(x: pd.Series | np.ndarray, index: pd.Index, name: str) -> np.ndarray:
    if isinstance(x, pd.Series):
        if not x.index.equals(index):
            raise DataError(f"{name}: index differs from the contributions' index")
        arr = x.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(x, dtype=np.float64)
        if arr.shape != (len(index),):
            raise DataError(f"{name}: expected {len(index)} values, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}: value at {index[i]} is {arr[i]!r}; must be finite")
    return arr


def _check_contributions(contributions: pd.DataFrame) -> np.ndarray:
    if not isinstance(contributions, pd.DataFrame) or contributions.shape[1] == 0:
        raise DataError("contributions: expected a DataFrame with one column per factor")
    if UNATTRIBUTED in contributions.columns:
        raise DataError(f"contributions: column name {UNATTRIBUTED!r} is reserved")
    k = contributions.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(k)
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise DataError(
            f"contributions: column {contributions.columns[j]!r} at {contributions.index[i]} "
            f"is {k[i, j]!r}; must be finite (a shut gate contributes 0)"
        )
    return k


def attribute_pnl(
    contributions: pd.DataFrame,
    position: pd.Series | np.ndarray,
    close: pd.Series | np.ndarray,
    *,
    kind: Literal["return", "price"] = "return",
) -> Attribution:
    """Split the gross P&L of a position among the factors that set it.

    Parameters
    ----------
    contributions : pd.DataFrame
        Per bar (at each close), one column per factor: its signed contribution to the
        composite signal (``ComposeResult.contributions``).
    position : pd.Series or ndarray
        Position held after each close: a fraction of equity (e.g. the composite signal)
        for ``kind="return"``, units for ``kind="price"``.
    close : pd.Series or ndarray
        Close prices.
    kind : {"return", "price"}
        Next-bar simple return :math:`c_{t+1}/c_t - 1` or price change
        :math:`c_{t+1} - c_t`.

    Returns
    -------
    Attribution

    Notes
    -----
    With contributions :math:`k_i(t)`, their sum :math:`S_t = \\sum_i k_i(t)`, position
    :math:`p_t` and next-bar return :math:`r_{t+1}`:

    .. math::
        s_i(t) = \\frac{k_i(t)}{S_t} p_t, \\qquad
        \\mathrm{PnL}_i(t+1) = s_i(t)\\, r_{t+1}, \\qquad
        \\sum_i \\mathrm{PnL}_i(t+1) = p_t r_{t+1}

    A factor pulling against the direction has a negative share (its P&L has the other
    sign). Where :math:`S_t = 0` but :math:`p_t \\ne 0` (a position held while the
    signal is flat, e.g. by hysteresis) the whole position is ``unattributed``. The first
    bar has no previous position: its P&L is 0. All of it is causal: row :math:`t` uses
    positions and contributions up to :math:`t - 1` and the close at :math:`t`.
    """
    if kind not in ("return", "price"):
        raise DataError(f"kind: must be 'return' or 'price', got {kind!r}")
    k = _check_contributions(contributions)
    index = contributions.index
    p = _series(position, index, "position")
    c = _series(close, index, "close")
    if (c <= 0).any():
        i = int(np.flatnonzero(c <= 0)[0])
        raise DataError(f"close: value at {index[i]} is {c[i]!r}; prices must be > 0")
    total = k.sum(axis=1)
    has = total != 0.0
    shares = np.zeros_like(k)
    np.divide(k * p[:, None], total[:, None], out=shares, where=has[:, None])
    rest = np.where(has, 0.0, p)
    step = np.zeros_like(c)
    if kind == "return":
        step[1:] = c[1:] / c[:-1] - 1.0
    else:
        step[1:] = c[1:] - c[:-1]
    prev_shares = np.vstack([np.zeros((1, k.shape[1])), shares[:-1]])
    prev_rest = np.concatenate([[0.0], rest[:-1]])
    prev_p = np.concatenate([[0.0], p[:-1]])
    cols = [*map(str, contributions.columns), UNATTRIBUTED]
    pnl = np.column_stack([prev_shares * step[:, None], prev_rest * step])
    share_frame = pd.DataFrame(np.column_stack([shares, rest]), index=index, columns=cols)
    return Attribution(
        pnl=pd.DataFrame(pnl, index=index, columns=cols),
        gross_pnl=pd.Series(prev_p * step, index=index, name="gross_pnl"),
        shares=share_frame,
        position=pd.Series(p, index=index, name="position"),
    )


def attribute_backtest(result: BacktestResult, contributions: pd.DataFrame) -> Attribution:
    """Attribute a backtest's mark-to-market P&L to factors, and the rest to trading costs.

    Parameters
    ----------
    result : BacktestResult
        From :func:`quantlab.backtest.run`.
    contributions : pd.DataFrame
        The composition's contributions on the same bars.

    Returns
    -------
    Attribution
        ``pnl`` splits the holding P&L :math:`q_{t-1}(c_t - c_{t-1})` (units held after
        the previous close times the price change) by factor; ``costs`` holds
        ``execution``, ``fees`` and ``funding`` per bar.

    Notes
    -----
    The engine's equity obeys, bar by bar,
    :math:`E_t - E_{t-1} = q_{t-1}(c_t - c_{t-1}) + X_t - F_t - f_t` where :math:`F_t`
    are fees, :math:`f_t` funding paid and :math:`X_t` the execution P&L: units traded in
    the bar times (close - fill price), which holds the slippage and the move between the
    fill and the close. :math:`X_t` is computed as that residual.
    """
    if not isinstance(result, BacktestResult):
        raise DataError(f"result: expected a BacktestResult, got {type(result).__name__}")
    if not contributions.index.equals(result.equity.index):
        raise DataError("contributions: index differs from the backtest's bars")
    att = attribute_pnl(contributions, result.positions, result.close, kind="price")
    equity = result.equity.to_numpy()
    d_equity = np.diff(equity, prepend=result.init_cash)
    fees = result.fees.to_numpy()
    funding = result.funding.to_numpy()
    execution = d_equity - att.gross_pnl.to_numpy() + fees + funding
    costs = pd.DataFrame(
        {"execution": execution, "fees": fees, "funding": funding}, index=result.equity.index
    )
    return Attribution(
        pnl=att.pnl,
        gross_pnl=att.gross_pnl,
        shares=att.shares,
        position=att.position,
        costs=costs,
    )
