"""Figures of a runner's session and of a replay diff (matplotlib ``Figure``, no pyplot).

Each function returns a new :class:`matplotlib.figure.Figure`; notebooks display it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["replay_figure", "session_figure"]


def _dates(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def session_figure(runner: Any, *, title: str | None = None, context_bars: int = 48) -> Any:
    """Return a figure of a runner's bars and fills, position, equity and drawdown.

    Parameters
    ----------
    runner : RunnerHandle
        :func:`quantlab.live.launch`'s handle.
    title : str, optional
    context_bars : int
        Warm-up bars shown before the first decision.
    """
    from matplotlib.figure import Figure

    from quantlab.live.journal import Journal

    bars, fills = runner.bars(), runner.fills()
    with Journal(runner.paths["journal"], readonly=True) as j:
        eq = j.frame("equity")
    index = pd.DatetimeIndex(pd.to_datetime(eq["time_ms"], unit="ms", utc=True), name="time")
    equity = pd.Series(eq["equity"].to_numpy(dtype=np.float64), index=index)
    position = pd.Series(eq["position"].to_numpy(dtype=np.float64), index=index)
    if len(equity) and len(bars):
        k = max(int(bars.index.searchsorted(equity.index[0])) - context_bars, 0)
        bars = bars.iloc[k:]
    fig = Figure(figsize=(11, 8), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.8]})
    ax = axes[0]
    if len(bars):
        ax.plot(bars.index, bars["close"], color="0.3", lw=1, label="close")
    if len(equity):
        ax.axvline(equity.index[0], color="tab:orange", lw=0.8, ls=":", label="first decision")
    if len(fills):
        buys = fills[fills["side"].astype(str).str.lower().isin(["b", "buy"])]
        sells = fills.drop(buys.index)
        ax.scatter(buys["time"], buys["price"], marker="^", color="tab:green", s=60, label="buy")
        ax.scatter(sells["time"], sells["price"], marker="v", color="tab:red", s=60, label="sell")
    ax.set_title(title or "runner: bars and fills")
    ax.legend(loc="upper left", fontsize=8)
    axes[1].step(position.index, position.to_numpy(), where="post", color="tab:blue")
    axes[1].axhline(0.0, color="0.6", lw=0.8)
    axes[1].set_ylabel("position (engine)")
    if len(equity):
        axes[2].plot(equity.index, equity.to_numpy(), color="tab:purple")
        dd = 1.0 - equity / equity.cummax()
        twin = axes[2].twinx()
        twin.fill_between(dd.index, 0.0, -dd.to_numpy() * 100, color="tab:red", alpha=0.2)
        twin.set_ylabel("drawdown %")
    axes[2].set_ylabel("equity")
    _dates(axes[2])
    return fig


def replay_figure(result: Any) -> Any:
    """Return a figure of a replay: equity live vs backtest, and the diff's parts per fill."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    bars = result.bars
    seen = bars["equity_live"].notna()
    shown = bars[seen] if seen.any() else bars
    axes[0].plot(shown.index, shown["equity_bt"], label="backtest", color="0.3")
    axes[0].plot(shown.index, shown["equity_live"], label="runner engine", color="tab:blue",
                 ls="--")  # fmt: skip
    axes[0].set_title("equity: the runner's against the backtest of its bars")
    axes[0].legend(fontsize=8)
    _dates(axes[0])
    parts = result.fills[["latency", "slippage", "fees", "size", "unmatched"]]
    if len(parts):
        parts.plot.bar(stacked=True, ax=axes[1], width=0.8)
        axes[1].set_xlabel("fill")
        axes[1].legend(fontsize=8, loc="best")
    axes[1].axhline(0.0, color="0.5", lw=0.8)
    axes[1].set_title(f"P&L diff by fill (total {result.diff:.4g})")
    return fig
