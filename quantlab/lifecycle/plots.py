"""Figures of a runner's session and of a replay diff (matplotlib ``Figure``, no pyplot).

Each function returns a new :class:`matplotlib.figure.Figure`; notebooks display it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["replay_figure", "session_figure"]


def session_figure(runner: Any, *, title: str | None = None) -> Any:
    """Return a figure of a runner's bars and fills, position, equity and drawdown.

    Parameters
    ----------
    runner : RunnerHandle
        :func:`quantlab.live.launch`'s handle (or anything with ``bars()``, ``fills()``
        and ``equity()``).
    """
    from matplotlib.figure import Figure

    bars, fills, equity = runner.bars(), runner.fills(), runner.equity()
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.8]})
    ax = axes[0]
    if len(bars):
        ax.plot(bars.index, bars["close"], color="0.3", lw=1, label="close")
    if len(fills):
        buys = fills[fills["side"].astype(str).str.lower().isin(["b", "buy"])]
        sells = fills.drop(buys.index)
        ax.scatter(buys["time"], buys["price"], marker="^", color="tab:green", s=50, label="buy")
        ax.scatter(sells["time"], sells["price"], marker="v", color="tab:red", s=50, label="sell")
    ax.set_title(title or "runner: bars and fills")
    ax.legend(loc="upper left", fontsize=8)
    if len(fills):
        signed = np.where(fills["side"].astype(str).str.lower().isin(["b", "buy"]), 1.0, -1.0)
        pos = pd.Series(np.cumsum(signed * fills["size"].to_numpy()), index=fills["time"])
        axes[1].step(pos.index, pos.to_numpy(), where="post", color="tab:blue")
    axes[1].set_ylabel("position")
    axes[1].axhline(0.0, color="0.6", lw=0.8)
    if len(equity):
        axes[2].plot(equity.index, equity.to_numpy(), color="tab:purple", label="equity")
        dd = 1.0 - equity / equity.cummax()
        twin = axes[2].twinx()
        twin.fill_between(dd.index, 0.0, -dd.to_numpy() * 100, color="tab:red", alpha=0.2)
        twin.set_ylabel("drawdown %")
    axes[2].set_ylabel("equity")
    return fig


def replay_figure(result: Any) -> Any:
    """Return a figure of a replay: equity live vs backtest, and the diff's parts per fill."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    bars = result.bars
    seen = bars["equity_live"].notna()
    axes[0].plot(bars.index, bars["equity_bt"], label="backtest", color="0.3")
    axes[0].plot(bars.index[seen], bars.loc[seen, "equity_live"], label="runner engine",
                 color="tab:blue", ls="--")  # fmt: skip
    axes[0].set_title("equity: the runner's against the backtest of its bars")
    axes[0].legend(fontsize=8)
    parts = result.fills[["latency", "slippage", "fees", "size", "unmatched"]]
    if len(parts):
        parts.plot.bar(stacked=True, ax=axes[1], width=0.8)
        axes[1].set_xlabel("fill")
    axes[1].axhline(0.0, color="0.5", lw=0.8)
    axes[1].set_title(f"P&L diff by fill (total {result.diff:.4g})")
    return fig
