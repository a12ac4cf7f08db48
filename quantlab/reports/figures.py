"""Matplotlib figure builders for the data notebooks (static, so they embed in HTML)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from quantlab.errors import DataError


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() in {"", "agg"}:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_returns(df: pd.DataFrame) -> pd.Series:
    """Return close-to-close log returns (the first bar has none and is dropped)."""
    return np.log(df["close"]).diff().dropna().rename("log_return")


def return_stats(df: pd.DataFrame) -> pd.Series:
    """Return the distribution of close-to-close log returns against a normal.

    Returns
    -------
    pd.Series
        ``n, mean, std, skew, excess_kurtosis, jarque_bera, jb_pvalue, min, max``, and
        the share of returns beyond 3 and 4 standard deviations next to what a normal
        would give.
    """
    r = log_returns(df).to_numpy()
    if r.size < 3:
        raise DataError(f"return_stats: need at least 4 bars, got {len(df)}")
    mean, std = r.mean(), r.std(ddof=1)
    z = np.abs(r - mean) / std
    jb = stats.jarque_bera(r)
    return pd.Series(
        {
            "n": r.size,
            "mean": mean,
            "std": std,
            "skew": stats.skew(r),
            "excess_kurtosis": stats.kurtosis(r),
            "jarque_bera": jb.statistic,
            "jb_pvalue": jb.pvalue,
            "min": r.min(),
            "max": r.max(),
            "share_beyond_3sd": float((z > 3).mean()),
            "normal_beyond_3sd": float(2 * stats.norm.sf(3)),
            "share_beyond_4sd": float((z > 4).mean()),
            "normal_beyond_4sd": float(2 * stats.norm.sf(4)),
        },
        name="log_returns",
    )


def _x(df: pd.DataFrame) -> np.ndarray:
    """Return the bar times as naive UTC ``datetime64[ns]`` (what matplotlib plots)."""
    index = pd.DatetimeIndex(df.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").to_numpy()


def _y(df: pd.DataFrame, column: str) -> np.ndarray:
    """Return a column as float64 (nullable or integer columns included; NA -> NaN)."""
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def price_volume_figure(df: pd.DataFrame, title: str = ""):
    """Plot close (log scale) with the high-low range, and volume below it.

    Works on any frame of bars: only ``close`` is required; the high-low band and the
    volume panel are drawn when their columns exist (a note says when they do not).
    """
    plt = _plt()
    if "close" not in df.columns:
        raise DataError(f"price_volume_figure: the bars have no 'close' column: {list(df.columns)}")
    fig, (ax_p, ax_v) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    x = _x(df)
    if {"low", "high"} <= set(df.columns):
        ax_p.fill_between(
            x, _y(df, "low"), _y(df, "high"), color="tab:blue", alpha=0.2, lw=0, label="high-low"
        )
    ax_p.plot(x, _y(df, "close"), color="tab:blue", lw=0.8, label="close")
    ax_p.set_yscale("log")
    ax_p.set_ylabel("price")
    ax_p.legend(loc="upper left")
    ax_p.set_title(title or "Price and volume")
    if "volume" in df.columns:
        ax_v.bar(x, _y(df, "volume"), width=_bar_width(df), color="tab:gray")
    else:
        ax_v.text(
            0.5, 0.5, "no 'volume' column", ha="center", va="center", transform=ax_v.transAxes
        )
    ax_v.set_ylabel("volume")
    fig.tight_layout()
    return fig


def _bar_width(df: pd.DataFrame) -> float:
    if len(df) < 2:
        return 0.02
    step = (df.index[1:] - df.index[:-1]).median()
    return step / pd.Timedelta(days=1) * 0.9


def funding_figure(df: pd.DataFrame, title: str = ""):
    """Plot the per-hour funding rate and its cumulative sum (a note when there is none)."""
    plt = _plt()
    if "funding_rate" not in df.columns:
        fig, ax = plt.subplots(figsize=(11, 1.2))
        ax.text(
            0.5,
            0.5,
            "These bars have no 'funding_rate' column (a spot or plain OHLCV source): "
            "nothing to plot.",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title(title or "Funding rate")
        return fig
    hours = (df.index[1:] - df.index[:-1]).median() / pd.Timedelta(hours=1) if len(df) > 1 else 1
    rate = _y(df, "funding_rate")
    fig, (ax_r, ax_c) = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    x = _x(df)
    ax_r.plot(x, rate * 1e4, lw=0.7, color="tab:orange")
    ax_r.axhline(0, color="black", lw=0.5)
    ax_r.set_ylabel("funding (bp / hour)")
    ax_r.set_title(title or "Funding rate")
    ax_c.plot(x, np.nancumsum(rate * hours) * 100, color="tab:red")
    ax_c.set_ylabel("cumulative paid by longs (%)")
    fig.tight_layout()
    return fig


def return_distribution_figure(df: pd.DataFrame, title: str = ""):
    """Plot the histogram of log returns against a fitted normal, and a normal QQ plot."""
    plt = _plt()
    r = log_returns(df).to_numpy()
    mean, std = r.mean(), r.std(ddof=1)
    fig, (ax_h, ax_q) = plt.subplots(1, 2, figsize=(11, 4))
    ax_h.hist(r, bins=min(100, max(10, r.size // 20)), density=True, alpha=0.6, label="log returns")
    grid = np.linspace(r.min(), r.max(), 400)
    ax_h.plot(grid, stats.norm.pdf(grid, mean, std), color="black", lw=1, label="normal fit")
    ax_h.set_yscale("log")
    ax_h.set_ylim(bottom=max(1e-3, 0.5 / (r.size * (r.max() - r.min()) / 100 + 1e-300)))
    ax_h.legend()
    ax_h.set_title(title or "Return distribution (log density)")
    (osm, osr), (slope, intercept, _) = stats.probplot(r, dist="norm")
    ax_q.scatter(osm, osr, s=4)
    ax_q.plot(osm, slope * np.asarray(osm) + intercept, color="black", lw=1)
    ax_q.set_xlabel("normal quantiles")
    ax_q.set_ylabel("return quantiles")
    ax_q.set_title("Normal QQ plot")
    fig.tight_layout()
    return fig
