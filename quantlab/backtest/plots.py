"""Figures of backtests, sweeps and walk-forward runs (matplotlib ``Figure``, no pyplot).

Each function returns a new :class:`matplotlib.figure.Figure`; notebooks display it, a
report saves it. Nothing here touches pyplot's global state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import ConfigError

__all__ = [
    "equity_figure",
    "oos_equity_figure",
    "search_history_figure",
    "sweep_heatmap",
    "trades_figure",
]


def _figure(height: float = 4.0, width: float = 10.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def equity_figure(result: Any, title: str = "") -> Any:
    """Return equity (top) and drawdown from the running peak (bottom) of a backtest.

    ``result`` is a :class:`~quantlab.backtest.BacktestResult`; the buy-and-hold value of
    the same initial cash is drawn for reference.
    """
    fig = _figure(5.5)
    ax, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    equity = result.equity
    hold = result.init_cash * result.close / result.close.iloc[0]
    ax.plot(equity.index, equity.to_numpy(), lw=1.2, label="strategy")
    ax.plot(hold.index, hold.to_numpy(), lw=0.8, color="0.6", label="buy and hold")
    ax.set_ylabel("equity")
    ax.legend(loc="upper left")
    ax.set_title(title or "Equity")
    dd = result.drawdown
    ax_dd.fill_between(dd.index, dd.to_numpy() * 100.0, 0.0, color="tab:red", alpha=0.4, lw=0)
    ax_dd.set_ylabel("drawdown %")
    return fig


def trades_figure(result: Any, title: str = "", max_trades: int = 500) -> Any:
    """Return the close with each trade's entry (triangles) and exit (crosses).

    Long entries point up (green), short entries down (red); exits are coloured by the
    trade's P&L sign. At most the last ``max_trades`` trades are drawn.
    """
    fig = _figure(4.5)
    ax = fig.subplots()
    close = result.close
    ax.plot(close.index, close.to_numpy(), lw=0.8, color="0.3")
    trades = result.trades.tail(max_trades)
    if len(trades):
        long = trades["direction"] == "long"
        for mask, marker, color, label in (
            (long, "^", "tab:green", "long entry"),
            (~long, "v", "tab:red", "short entry"),
        ):
            sel = trades[mask]
            if len(sel):
                ax.scatter(sel["entry_time"], sel["entry_price"], marker=marker, s=30,
                           color=color, label=label, zorder=3)  # fmt: skip
        closed = trades[~trades["is_open"]]
        win = closed["pnl"] > 0
        ax.scatter(closed.loc[win, "exit_time"], closed.loc[win, "exit_price"], marker="x",
                   s=25, color="tab:blue", label="exit, win", zorder=3)  # fmt: skip
        ax.scatter(closed.loc[~win, "exit_time"], closed.loc[~win, "exit_price"], marker="x",
                   s=25, color="tab:orange", label="exit, loss", zorder=3)  # fmt: skip
        ax.legend(loc="upper left", fontsize="small")
    ax.set_ylabel("price")
    ax.set_title(title or f"Trades on price ({len(result.trades)} trades)")
    return fig


def sweep_heatmap(
    table: pd.DataFrame, x: str, y: str, metric: str = "sharpe", agg: str = "max"
) -> Any:
    """Return a heatmap of a sweep metric over two parameters.

    Other parameters of the grid are reduced by ``agg`` (``"max"``, ``"mean"``,
    ``"median"`` or ``"min"``) for each ``(x, y)`` cell; missing cells (invalid
    combinations) stay blank.
    """
    for col in (x, y, metric):
        if col not in table.columns:
            raise ConfigError(f"sweep_heatmap: {col!r} is not a column of the sweep table")
    if agg not in ("max", "mean", "median", "min"):
        raise ConfigError(f"agg: must be max, mean, median or min, got {agg!r}")
    values = table[[x, y, metric]].replace([np.inf, -np.inf], np.nan)
    grid = values.groupby([y, x])[metric].agg(agg).unstack(x).sort_index()
    fig = _figure(5.0, 8.0)
    ax = fig.subplots()
    data = grid.to_numpy(dtype=np.float64)
    finite = data[np.isfinite(data)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    im = ax.imshow(np.ma.masked_invalid(data), origin="lower", aspect="auto", cmap="RdYlGn",
                   vmin=-vmax, vmax=vmax)  # fmt: skip
    ax.set_xticks(range(grid.shape[1]), [str(v) for v in grid.columns], rotation=90)
    ax.set_yticks(range(grid.shape[0]), [str(v) for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    others = [c for c in table.attrs.get("grid", {}) if c not in (x, y)]
    suffix = f" ({agg} over {', '.join(others)})" if others else ""
    ax.set_title(f"{metric} by {x} and {y}{suffix}")
    fig.colorbar(im, ax=ax, label=metric)
    if grid.size <= 400:
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(data[i, j]):
                    ax.text(j, i, f"{data[i, j]:.2f}", ha="center", va="center", fontsize=7)
    return fig


def oos_equity_figure(wf: Any, title: str = "") -> Any:
    """Return the stitched out-of-sample equity of a walk-forward, test windows shaded."""
    fig = _figure(4.5)
    ax = fig.subplots()
    ax.plot(wf.equity.index, wf.equity.to_numpy(), lw=1.2)
    for k, row in wf.folds.iterrows():
        if int(k) % 2 == 0:
            ax.axvspan(row["test_start"], row["test_end"], color="0.92", lw=0)
        ax.text(row["test_start"], ax.get_ylim()[1], str(row["chosen"]), fontsize=6,
                va="top", rotation=90)  # fmt: skip
    ax.set_ylabel("out-of-sample equity")
    ax.set_title(title or f"Walk-forward out of sample ({len(wf.folds)} folds)")
    return fig


def search_history_figure(found: Any, title: str = "") -> Any:
    """Return each search trial's value and the best so far, in trial order."""
    fig = _figure(3.5)
    ax = fig.subplots()
    t = found.trials
    ok = t[t["state"] == "complete"]
    ax.scatter(ok["number"], ok["value"], s=12, color="tab:blue", label="trial")
    best = ok["value"].replace([np.inf, -np.inf], np.nan)
    best = best.cummax() if found.study.direction.name == "MAXIMIZE" else best.cummin()
    ax.step(ok["number"], best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(found.metric)
    ax.legend(loc="lower right")
    ax.set_title(title or f"TPE search: {found.n_trials} trials")
    return fig
