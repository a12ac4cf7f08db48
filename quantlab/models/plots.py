"""Figures of model outputs: Kalman states, regime probabilities, volatility, intervals, weights.

Every builder returns a :class:`matplotlib.figure.Figure` made without pyplot (no global
state; safe in dashboards and batch runs); a notebook shows one by leaving it as a cell's
last value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlab.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "plot_conformal",
    "plot_kalman_states",
    "plot_regimes",
    "plot_volatility",
    "plot_weights",
]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _series(x: Any, what: str) -> pd.Series:
    if not isinstance(x, pd.Series):
        raise DataError(f"{what}: expected a pandas Series, got {type(x).__name__}")
    return x


def plot_kalman_states(close: pd.Series, states: pd.DataFrame, title: str = "") -> Figure:
    """Plot the close (log scale) above one panel per filtered state (e.g. velocity).

    Parameters
    ----------
    close : pandas.Series
        Close prices.
    states : pandas.DataFrame
        One column per state series on the same index.
    title : str
        Figure title.
    """
    close = _series(close, "close")
    fig = _figure(11, 2.2 * (1 + states.shape[1]))
    axes = fig.subplots(1 + states.shape[1], 1, sharex=True)
    axes[0].plot(close.index, close.to_numpy(), lw=0.8, color="black")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("close")
    for ax, col in zip(axes[1:], states.columns, strict=True):
        v = states[col]
        ax.plot(v.index, v.to_numpy(), lw=0.8)
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_ylabel(str(col))
    if title:
        fig.suptitle(title)
    return fig


def plot_regimes(
    close: pd.Series,
    mu: pd.DataFrame,
    truth: pd.Series | None = None,
    title: str = "",
) -> Figure:
    """Plot the close above the filtered regime probabilities (stacked) and the true regime.

    Parameters
    ----------
    close : pandas.Series
        Close prices.
    mu : pandas.DataFrame
        Regime probabilities, one column per regime (rows sum to 1).
    truth : pandas.Series, optional
        True regime codes (column positions of ``mu``), drawn as a strip under the
        probabilities when given.
    title : str
        Figure title.
    """
    close = _series(close, "close")
    rows = 3 if truth is not None else 2
    fig = _figure(11, 2.4 * rows)
    axes = fig.subplots(rows, 1, sharex=True, height_ratios=[2, 2, 0.6][:rows])
    axes[0].plot(close.index, close.to_numpy(), lw=0.8, color="black")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("close")
    colors = [f"C{i}" for i in range(mu.shape[1])]
    axes[1].stackplot(
        mu.index, mu.to_numpy().T, labels=[str(c) for c in mu.columns], colors=colors, lw=0
    )
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("P(regime)")
    axes[1].legend(loc="upper left", fontsize="small", ncol=mu.shape[1])
    if truth is not None:
        codes = np.asarray(truth, dtype=np.int64)
        from matplotlib.colors import ListedColormap

        axes[2].pcolormesh(
            mu.index,
            [0, 1],
            codes[None, :-1] if len(codes) > 1 else codes[None, :],
            cmap=ListedColormap(colors),
            vmin=-0.5,
            vmax=len(colors) - 0.5,
            shading="flat",
        )
        axes[2].set_yticks([])
        axes[2].set_ylabel("truth")
    if title:
        fig.suptitle(title)
    return fig


def plot_volatility(
    vols: pd.DataFrame, realised: pd.Series | None = None, title: str = ""
) -> Figure:
    """Plot volatility series (forecasts) and, faintly, the absolute return they forecast.

    Parameters
    ----------
    vols : pandas.DataFrame
        One column per volatility series (per bar).
    realised : pandas.Series, optional
        Absolute one-bar returns, drawn as grey dots.
    title : str
        Figure title.
    """
    fig = _figure(11, 3.5)
    ax = fig.subplots()
    if realised is not None:
        ax.plot(realised.index, realised.to_numpy(), ".", ms=1.5, color="grey", alpha=0.5)
    for col in vols.columns:
        ax.plot(vols.index, vols[col].to_numpy(), lw=1.0, label=str(col))
    ax.set_ylabel("per-bar volatility")
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def plot_conformal(
    interval: pd.DataFrame, coverage: pd.Series, target: float, title: str = ""
) -> Figure:
    """Plot returns inside their conformal band, and the rolling coverage against its target.

    Parameters
    ----------
    interval : pandas.DataFrame
        Columns ``return``, ``lower``, ``upper`` (see ``quantlab.models.factors.return_interval``).
    coverage : pandas.Series
        Rolling coverage.
    target : float
        Target coverage ``1 - alpha``.
    title : str
        Figure title.
    """
    fig = _figure(11, 5.5)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    lo = interval["lower"].where(np.isfinite(interval["lower"]))
    hi = interval["upper"].where(np.isfinite(interval["upper"]))
    ax1.fill_between(interval.index, lo.to_numpy(), hi.to_numpy(), alpha=0.3, lw=0)
    y = interval["return"]
    miss = (y < interval["lower"]) | (y > interval["upper"])
    ax1.plot(y.index, y.to_numpy(), ".", ms=1.5, color="black")
    ax1.plot(y.index[miss], y[miss].to_numpy(), ".", ms=3, color="red", label="outside")
    ax1.set_ylabel("one-bar log return")
    ax1.legend(loc="upper left", fontsize="small")
    ax2.plot(coverage.index, coverage.to_numpy(), lw=1.0)
    ax2.axhline(target, color="red", lw=0.8, ls="--", label=f"target {target:.0%}")
    ax2.set_ylabel("rolling coverage")
    ax2.legend(loc="lower left", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_weights(weights: pd.DataFrame, title: str = "") -> Figure:
    """Plot composition weights over time, stacked (rows sum to 1 or 0)."""
    fig = _figure(11, 3.0)
    ax = fig.subplots()
    ax.stackplot(
        weights.index,
        weights.fillna(0.0).to_numpy().T,
        labels=[str(c) for c in weights.columns],
        lw=0,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("weight")
    ax.legend(loc="upper left", fontsize="small", ncol=weights.shape[1])
    if title:
        ax.set_title(title)
    return fig
