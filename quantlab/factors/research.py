"""Factor research: information coefficients, decay, turnover, quantile returns, figures.

This is *evaluation* code: it looks into the future on purpose. :func:`forward_returns`
lives here and only here; no factor ever sees a forward return. Everything below works on
one symbol's time series (time-series IC: the correlation over time between the factor at
``t`` and the return from ``t`` to ``t + h``).

Timing convention: a factor value at bar ``t`` is known at the close of bar ``t`` (it uses
bars ``<= t``), so it is scored against the return from ``close[t]`` to ``close[t + h]``.

::

    from quantlab.factors import research as fr
    fwd = fr.forward_returns(df["close"], horizons=[1, 4, 12, 24])
    X = ql.factors.compute_many(df)
    fr.information_coefficient(X, fwd, method="spearman")   # factors x horizons
    fr.plot_ic_by_horizon(fr.information_coefficient(X, fwd, method="spearman"))

Figure builders return a :class:`matplotlib.figure.Figure` built without pyplot (no global
state; safe in dashboards); a notebook shows one by leaving it as a cell's last value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from quantlab.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "UNITS",
    "applicable_factors",
    "as_signals",
    "cumulative_ic",
    "effective_sample_size",
    "factor_correlation",
    "factor_quantiles",
    "forward_returns",
    "ic_decay",
    "ic_ranking",
    "ic_summary",
    "information_coefficient",
    "newey_west_t",
    "plot_correlation_heatmap",
    "plot_cumulative_ic",
    "plot_ic_by_horizon",
    "plot_ic_decay",
    "plot_quantile_returns",
    "quantile_returns",
    "quantile_turnover",
    "rank_autocorrelation",
    "rank_ic",
    "rolling_ic",
]

METHODS = ("pearson", "spearman")
DEFAULT_HORIZONS = (1, 4, 12, 24)


# ---------------------------------------------------------------------------------------
# inputs


def _horizons(horizons: Iterable[int] | int) -> list[int]:
    if isinstance(horizons, int | np.integer) and not isinstance(horizons, bool):
        horizons = [int(horizons)]
    out = []
    for h in horizons:
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
            raise ConfigError(f"horizons: each horizon must be an int >= 1 bar, got {h!r}")
        out.append(int(h))
    if not out:
        raise ConfigError("horizons: give at least one horizon")
    if len(set(out)) != len(out):
        raise ConfigError(f"horizons: {out} lists a horizon twice")
    return out


def _method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"method {method!r} is unknown; expected one of {list(METHODS)}")
    return method


def _close_series(close: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(close, pd.DataFrame):
        if "close" not in close.columns:
            raise ConfigError(
                f"forward_returns needs a 'close' column, the frame has {list(close.columns)}"
            )
        close = close["close"]
    if not isinstance(close, pd.Series):
        raise ConfigError(f"close must be a pandas Series or bar frame, got {type(close).__name__}")
    values = close.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"close must be finite and > 0; row {i} ({close.index[i]}) holds {values[i]!r}"
        )
    return pd.Series(values, index=close.index, name=close.name)


def _as_frame(x: pd.Series | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(x, pd.Series):
        return x.to_frame(name=x.name if x.name is not None else what)
    if isinstance(x, pd.DataFrame):
        return x
    raise ConfigError(f"{what} must be a pandas Series or DataFrame, got {type(x).__name__}")


def _aligned(a: pd.Series | pd.DataFrame, b: pd.Series | pd.DataFrame, what: str) -> None:
    if not a.index.equals(b.index):
        raise DataError(
            f"{what}: the factor and return indexes differ (lengths {len(a)} and {len(b)}); "
            "compute both on the same bars"
        )


# ---------------------------------------------------------------------------------------
# forward returns and correlations


def applicable_factors(
    df: pd.DataFrame, names: Iterable[str] | None = None
) -> tuple[list[str], list[str]]:
    """Split factor names into those ``df`` has the inputs for and those it has not.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    names : iterable of str, optional
        Factor names; default every registered factor.

    Returns
    -------
    (usable, skipped) : tuple of lists
        ``usable`` in the given order; ``skipped`` sorted (e.g. ``funding_z`` on bars
        without ``funding_rate``).
    """
    from quantlab.factors.registry import names as registered
    from quantlab.factors.registry import spec

    wanted = registered() if names is None else list(names)
    usable = [n for n in wanted if set(spec(n).inputs) <= set(df.columns)]
    return usable, sorted(set(wanted) - set(usable))


#: How research treats each ``FactorSpec.units``: a price level is compared as its log
#: distance from the close, a price-unit spread relative to the close, a running sum not
#: at all (its level says nothing about the future; its changes might, as another factor).
UNITS = {
    "signal": "as is",
    "price": "log(close / value): the distance of the price from the level",
    "price_scale": "value / close: the spread relative to the price",
    "cumulative": "left out: an unbounded running sum is not a signal",
}


def as_signals(
    factors: pd.DataFrame, close: pd.Series | pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn factor values into quantities whose IC means something.

    A price level (``sma``, ``ema``, ``kama``: ``units="price"``) correlates with future
    returns only through the price itself (a rank IC of ~0.2 for any trending sample): it
    is compared as ``log(close / level)`` instead, renamed ``<name>_dist``. A spread in
    price units (``atr``, ``stddev``) becomes ``<name>_rel`` = value / close; a running sum
    (``obv``) is left out. Other factors pass unchanged. Columns that are not registered
    factors are taken as signals.

    Parameters
    ----------
    factors : pd.DataFrame
        One column per factor (``ql.factors.compute_many``), on the bars of ``close``.
    close : pd.Series or pd.DataFrame
        Close prices, or the bars.

    Returns
    -------
    (signals, treatment) : tuple of DataFrame
        ``signals``: the transformed columns; ``treatment``: one row per input column
        (``units``, ``column`` in ``signals`` or empty when left out, ``treatment``).
    """
    from quantlab.factors.registry import names as registered
    from quantlab.factors.registry import spec

    f = _as_frame(factors, "factors")
    c = _close_series(close)
    _aligned(f, c, "as_signals")
    known = set(registered())
    out: dict[str, pd.Series] = {}
    rows = []
    for name in f.columns:
        units = getattr(spec(name), "units", "signal") if name in known else "signal"
        if units not in UNITS:
            raise ConfigError(
                f"factor {name!r}: units {units!r} is unknown; expected one of {list(UNITS)}"
            )
        values = f[name].astype(np.float64)
        column = str(name)
        if units == "price":
            column = f"{name}_dist"
            with np.errstate(divide="ignore", invalid="ignore"):
                values = pd.Series(np.log(c.to_numpy() / values.to_numpy()), index=f.index)
        elif units == "price_scale":
            column = f"{name}_rel"
            values = values / c
        elif units == "cumulative":
            column = ""
        if column:
            out[column] = values.rename(column)
        rows.append({"factor": name, "units": units, "column": column, "treatment": UNITS[units]})
    signals = pd.DataFrame(out, index=f.index)
    treatment = pd.DataFrame(rows, columns=["factor", "units", "column", "treatment"])
    return signals, treatment.set_index("factor")


def forward_returns(
    close: pd.Series | pd.DataFrame,
    horizons: Iterable[int] | int = DEFAULT_HORIZONS,
    *,
    log: bool = True,
) -> pd.DataFrame:
    """Return the forward returns from each bar's close, one column per horizon.

    Parameters
    ----------
    close : pd.Series or pd.DataFrame
        Close prices, or a bar frame with a ``close`` column.
    horizons : int or iterable of int
        Horizons in bars.
    log : bool
        Log returns (default) or simple returns.

    Returns
    -------
    pd.DataFrame
        Columns ``fwd_<h>``: :math:`\\log(C_{t+h} / C_t)` (or :math:`C_{t+h}/C_t - 1`); the
        last ``h`` rows are NaN. This looks ahead by construction: use it to *score*
        factors, never as an input to one.
    """
    c = _close_series(close)
    hs = _horizons(horizons)
    values = c.to_numpy()
    n = len(values)
    cols = {}
    for h in hs:
        out = np.full(n, np.nan)
        if h < n:
            ratio = values[h:] / values[:-h]
            out[: n - h] = np.log(ratio) if log else ratio - 1.0
        cols[f"fwd_{h}"] = out
    return pd.DataFrame(cols, index=c.index)


def _corr_1d(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, int]:
    mask = np.isfinite(x) & np.isfinite(y)
    n = int(mask.sum())
    if n < 3:
        return math.nan, n
    xs, ys = x[mask], y[mask]
    if method == "spearman":
        xs = pd.Series(xs).rank(method="average").to_numpy()
        ys = pd.Series(ys).rank(method="average").to_numpy()
    dx, dy = xs - xs.mean(), ys - ys.mean()
    den = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if den == 0.0:
        return math.nan, n
    return float(np.clip(np.dot(dx, dy) / den, -1.0, 1.0)), n


def _horizon_of(col: str) -> Any:
    if isinstance(col, str) and col.startswith("fwd_") and col[4:].isdigit():
        return int(col[4:])
    return col


def information_coefficient(
    factor: pd.Series | pd.DataFrame, fwd: pd.DataFrame | pd.Series, method: str = "pearson"
) -> pd.Series | pd.DataFrame:
    """Return the time-series information coefficient of factors against forward returns.

    Parameters
    ----------
    factor : pd.Series or pd.DataFrame
        One factor, or one column per factor.
    fwd : pd.DataFrame or pd.Series
        Forward returns (:func:`forward_returns`), on the same index.
    method : {"pearson", "spearman"}
        Pearson IC, or rank IC (Spearman, average ranks for ties).

    Returns
    -------
    pd.Series or pd.DataFrame
        For a Series factor: IC by horizon (index: horizon in bars). For a frame: factors
        by horizons.

    Notes
    -----
    Each pair uses the rows where both values are finite (pairwise complete). Equals
    ``scipy.stats.pearsonr`` / ``spearmanr`` on those rows; NaN with fewer than 3 rows or a
    constant input.
    """
    method = _method(method)
    f = _as_frame(factor, "factor")
    r = _as_frame(fwd, "fwd")
    _aligned(f, r, "information_coefficient")
    horizons = [_horizon_of(c) for c in r.columns]
    table = pd.DataFrame(index=pd.Index(f.columns, name="factor"), columns=horizons, dtype=float)
    table.columns.name = "horizon"
    for fc in f.columns:
        x = f[fc].to_numpy(dtype=np.float64, na_value=np.nan)
        for rc, h in zip(r.columns, horizons, strict=True):
            table.loc[fc, h] = _corr_1d(
                x, r[rc].to_numpy(dtype=np.float64, na_value=np.nan), method
            )[0]
    if isinstance(factor, pd.Series):
        out = table.iloc[0].copy()
        out.name = factor.name
        return out
    return table


def rank_ic(
    factor: pd.Series | pd.DataFrame, fwd: pd.DataFrame | pd.Series
) -> pd.Series | pd.DataFrame:
    """Return the rank (Spearman) information coefficient; see :func:`information_coefficient`."""
    return information_coefficient(factor, fwd, method="spearman")


def _standardise(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.full_like(v, np.nan)


def _autocorr(v: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelations at lags 1..lags (full-sample mean and variance)."""
    d = v - v.mean()
    den = float(np.dot(d, d))
    if den == 0.0:
        return np.full(lags, np.nan)
    return np.array([float(np.dot(d[k:], d[:-k])) / den for k in range(1, lags + 1)])


def effective_sample_size(x: ArrayLike, y: ArrayLike, lags: int) -> float:
    """Return the effective number of independent pairs behind a correlation of ``x``, ``y``.

    Parameters
    ----------
    x, y : array-like
        Two equally long series without missing values (e.g. a factor's ranks and the
        ranks of overlapping ``h``-bar forward returns).
    lags : int
        Autocorrelation lags to count (``h - 1`` for ``h``-bar overlapping returns).

    Returns
    -------
    float
        :math:`n_{eff} = n / (1 + 2 \\sum_{k=1}^{L} \\rho_x(k) \\rho_y(k))`, clipped to
        ``[2, n]``.

    Notes
    -----
    Bartlett's (1935) variance of a sample correlation between two autocorrelated series:
    :math:`\\mathrm{Var}(r) \\approx (1 + 2\\sum_k \\rho_x(k)\\rho_y(k)) / n`. For a
    persistent factor and ``h``-bar overlapping returns (:math:`\\rho_y(k) = 1 - k/h`),
    :math:`n_{eff} \\approx n / h`.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = xs.size
    if isinstance(lags, bool) or not isinstance(lags, int | np.integer) or lags < 0:
        raise ConfigError(f"lags: must be an int >= 0, got {lags!r}")
    if ys.size != n or n < 3:
        raise DataError(f"effective_sample_size: need two series of equal length >= 3, got {n}")
    lags = min(int(lags), n - 2)
    if lags == 0:
        return float(n)
    inflation = 1.0 + 2.0 * float(np.nansum(_autocorr(xs, lags) * _autocorr(ys, lags)))
    return float(np.clip(n / max(inflation, 1e-12), 2.0, n))


def newey_west_t(x: ArrayLike, y: ArrayLike, lags: int) -> tuple[float, float, float]:
    """Return the slope of ``y ~ a + b x`` and its Newey-West (HAC) t-statistic and p-value.

    On standardised inputs the slope is the correlation, so this is a test of the IC that
    holds when the pairs overlap (``h``-bar forward returns one bar apart).

    Parameters
    ----------
    x, y : array-like
        Equally long series without missing values.
    lags : int
        Bartlett-kernel lags (``h`` for ``h``-bar overlapping returns).

    Returns
    -------
    (slope, t, p) : tuple of float
        ``p`` is two-sided under the normal approximation. NaN for a constant input.

    Notes
    -----
    Equals ``statsmodels`` ``OLS(y, add_constant(x)).fit(cov_type="HAC",
    cov_kwds={"maxlags": lags})`` (t-statistic and normal p-value): the sandwich
    :math:`(X'X)^{-1} S (X'X)^{-1}` with Bartlett weights :math:`1 - l/(L + 1)` in
    :math:`S = \\sum_{|l| \\le L} w_l \\sum_t u_t u_{t-l}'`.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = xs.size
    if ys.size != n or n < 4:
        raise DataError(f"newey_west_t: need two series of equal length >= 4, got {n}")
    if isinstance(lags, bool) or not isinstance(lags, int | np.integer) or lags < 0:
        raise ConfigError(f"lags: must be an int >= 0, got {lags!r}")
    dx = xs - xs.mean()
    sxx = float(np.dot(dx, dx))
    if sxx == 0.0 or ys.std() == 0.0:
        return math.nan, math.nan, math.nan
    X = np.column_stack([np.ones(n), xs])
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ (X.T @ ys)
    u = X * (ys - X @ beta)[:, None]  # scores x_t e_t
    s = u.T @ u
    for lag in range(1, min(int(lags), n - 1) + 1):
        gamma = u[lag:].T @ u[:-lag]
        s += (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    cov = xtx_inv @ s @ xtx_inv
    se = math.sqrt(cov[1, 1])
    t = float(beta[1] / se) if se > 0 else math.nan
    p = math.erfc(abs(t) / math.sqrt(2.0)) if math.isfinite(t) else math.nan
    return float(beta[1]), t, p


def ic_summary(factors: pd.Series | pd.DataFrame, fwd: pd.DataFrame) -> pd.DataFrame:
    """Return one row per (factor, horizon): IC, rank IC and its significance under overlap.

    Columns: ``factor, horizon, ic, rank_ic, n, t_stat, n_eff, t_hac, p_hac``.

    Notes
    -----
    Overlapping ``h``-bar forward returns are strongly autocorrelated, so the naive ``n``
    overstates significance about ``h``-fold. Three measures, from rough to proper:

    - ``t_stat``: :math:`\\rho\\sqrt{(m-2)/(1-\\rho^2)}` with :math:`m = n / h`
      non-overlapping periods (a rough guide);
    - ``n_eff``: the effective sample size of the rank correlation
      (:func:`effective_sample_size`, lags ``h - 1``);
    - ``t_hac``, ``p_hac``: the Newey-West t-statistic of the rank IC
      (:func:`newey_west_t` on standardised ranks, ``h`` lags), the number to rank by.
    """
    f = _as_frame(factors, "factor")
    r = _as_frame(fwd, "fwd")
    _aligned(f, r, "ic_summary")
    rows = []
    for fc in f.columns:
        x = f[fc].to_numpy(dtype=np.float64, na_value=np.nan)
        for rc in r.columns:
            y = r[rc].to_numpy(dtype=np.float64, na_value=np.nan)
            h = _horizon_of(rc)
            ic, n = _corr_1d(x, y, "pearson")
            ric, _ = _corr_1d(x, y, "spearman")
            m = n / h if isinstance(h, int) else float(n)
            t = (
                ric * math.sqrt((m - 2.0) / (1.0 - ric * ric))
                if m > 2 and math.isfinite(ric) and abs(ric) < 1
                else math.nan
            )
            n_eff = t_hac = p_hac = math.nan
            lags = h if isinstance(h, int) else 1
            mask = np.isfinite(x) & np.isfinite(y)
            if n >= 4 and math.isfinite(ric):
                rx = _standardise(pd.Series(x[mask]).rank(method="average").to_numpy())
                ry = _standardise(pd.Series(y[mask]).rank(method="average").to_numpy())
                n_eff = effective_sample_size(rx, ry, lags - 1)
                _, t_hac, p_hac = newey_west_t(rx, ry, lags)
            rows.append(
                {
                    "factor": fc,
                    "horizon": h,
                    "ic": ic,
                    "rank_ic": ric,
                    "n": n,
                    "t_stat": t,
                    "n_eff": n_eff,
                    "t_hac": t_hac,
                    "p_hac": p_hac,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["factor", "horizon", "ic", "rank_ic", "n", "t_stat", "n_eff", "t_hac", "p_hac"],
    )


def ic_ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """Return one row per factor, at its most significant horizon, most significant first.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`ic_summary`'s table.

    Returns
    -------
    pd.DataFrame
        Index ``factor``; columns ``horizon, rank_ic, t_hac, p_hac, n_eff, n``, sorted by
        ``|t_hac|`` (the HAC t-statistic: significance under overlap, not the raw IC).
        Factors without a finite ``t_hac`` (constant, too short) come last.
    """
    need = {"factor", "horizon", "rank_ic", "t_hac", "p_hac", "n_eff", "n"}
    missing = need - set(summary.columns)
    if missing:
        raise ConfigError(f"ic_ranking: the table lacks {sorted(missing)}; pass ic_summary()")
    table = summary.assign(_abs_t=summary["t_hac"].abs().fillna(-1.0))
    best = (
        table.sort_values(["factor", "_abs_t"], ascending=[True, False])
        .groupby("factor", sort=False)
        .head(1)
    )
    best = best.sort_values("_abs_t", ascending=False, kind="stable")
    return best.set_index("factor")[["horizon", "rank_ic", "t_hac", "p_hac", "n_eff", "n"]]


def ic_decay(
    factor: pd.Series | pd.DataFrame,
    close: pd.Series | pd.DataFrame,
    horizons: Iterable[int] | int = range(1, 49),
    method: str = "spearman",
) -> pd.Series | pd.DataFrame:
    """Return the IC of a factor against forward returns at many horizons.

    How fast the IC falls with the horizon tells how long a factor's information lasts
    (and so how often it is worth rebalancing on it).

    Parameters
    ----------
    factor : pd.Series or pd.DataFrame
        Factor values on the bars of ``close``.
    close : pd.Series or pd.DataFrame
        Close prices (or bars).
    horizons : iterable of int
        Horizons in bars (default 1..48).
    method : {"pearson", "spearman"}

    Returns
    -------
    pd.Series or pd.DataFrame
        IC indexed by horizon (one column per factor for a frame).
    """
    fwd = forward_returns(close, horizons)
    table = information_coefficient(factor, fwd, method=method)
    return table if isinstance(table, pd.Series) else table.T


def _ic_terms(x: pd.Series, y: pd.Series, method: str) -> pd.Series:
    mask = x.notna() & y.notna() & np.isfinite(x) & np.isfinite(y)
    xs, ys = x[mask], y[mask]
    if method == "spearman":
        xs, ys = xs.rank(method="average"), ys.rank(method="average")
    dx, dy = xs - xs.mean(), ys - ys.mean()
    den = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    terms = pd.Series(np.nan, index=x.index)
    if den > 0.0:
        terms[mask] = (dx * dy / den).to_numpy()
    return terms


def cumulative_ic(
    factor: pd.Series | pd.DataFrame, fwd_ret: pd.Series, method: str = "spearman"
) -> pd.Series | pd.DataFrame:
    """Return the running sum of each bar's share of the full-sample IC.

    Parameters
    ----------
    factor : pd.Series or pd.DataFrame
        Factor(s).
    fwd_ret : pd.Series
        One horizon's forward returns (a column of :func:`forward_returns`).
    method : {"pearson", "spearman"}

    Returns
    -------
    pd.Series or pd.DataFrame
        On the factor's index; the last value is the IC itself.

    Notes
    -----
    The correlation is a sum over bars:
    :math:`\\rho = \\sum_t \\frac{(x_t - \\bar x)(y_t - \\bar y)}{\\sqrt{\\sum (x-\\bar x)^2
    \\sum (y - \\bar y)^2}}` (on ranks for Spearman). Its running sum shows *when* the factor
    earned its IC: a steady slope is a persistent edge, a step is one episode. Bars
    without both values add nothing (the curve is flat there).
    """
    method = _method(method)
    if isinstance(fwd_ret, pd.DataFrame):
        if fwd_ret.shape[1] != 1:
            raise ConfigError("cumulative_ic takes one horizon: pass a single fwd_<h> column")
        fwd_ret = fwd_ret.iloc[:, 0]
    _aligned(factor, fwd_ret, "cumulative_ic")
    if isinstance(factor, pd.Series):
        return _ic_terms(factor, fwd_ret, method).fillna(0.0).cumsum().rename(factor.name)
    return pd.DataFrame(
        {c: _ic_terms(factor[c], fwd_ret, method).fillna(0.0).cumsum() for c in factor.columns},
        index=factor.index,
    )


def rolling_ic(
    factor: pd.Series, fwd_ret: pd.Series, window: int, method: str = "spearman"
) -> pd.Series:
    """Return the IC over a rolling window of ``window`` bars (NaN until it has 3 pairs).

    The window at ``t`` pairs factor values at ``t-window+1..t`` with their forward returns,
    which end up to ``h`` bars after ``t``: plot it, do not trade on it.
    """
    method = _method(method)
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 3:
        raise ConfigError(f"rolling_ic: window must be an int >= 3, got {window!r}")
    _aligned(factor, fwd_ret, "rolling_ic")
    x = factor.to_numpy(dtype=np.float64, na_value=np.nan)
    y = fwd_ret.to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        out[t] = _corr_1d(x[t - window + 1 : t + 1], y[t - window + 1 : t + 1], method)[0]
    return pd.Series(out, index=factor.index, name=factor.name)


# ---------------------------------------------------------------------------------------
# quantiles and turnover


def factor_quantiles(factor: pd.Series, quantiles: int = 5) -> pd.Series:
    """Return each bar's factor quantile, 1 (lowest) to ``quantiles`` (Int64, NA if NaN).

    Quantile edges come from the whole sample (evaluation, not trading). Equal values
    always share a quantile: buckets are equal-count for distinct values (``pd.qcut`` on
    ``rank(method="first")``), and a group of ties goes whole to the bucket of its average
    rank, so that ties are never split by their order in time (which would turn a flat
    stretch of the factor into a spurious spread of returns).

    Raises
    ------
    DataError
        Fewer finite values than quantiles, or fewer distinct values: quantiles cannot be
        formed (a constant factor has no spread to sort on).
    """
    if isinstance(quantiles, bool) or not isinstance(quantiles, int | np.integer) or quantiles < 2:
        raise ConfigError(f"quantiles must be an int >= 2, got {quantiles!r}")
    if not isinstance(factor, pd.Series):
        raise ConfigError(f"factor must be a pandas Series, got {type(factor).__name__}")
    valid = factor.notna() & np.isfinite(factor.astype(float))
    n = int(valid.sum())
    if n < quantiles:
        raise DataError(
            f"factor {factor.name!r} has {n} finite values, fewer than {quantiles} quantiles"
        )
    values = factor[valid].astype(float)
    distinct = int(values.nunique())
    if distinct < quantiles:
        what = "is constant" if distinct == 1 else f"takes only {distinct} distinct values"
        raise DataError(
            f"factor {factor.name!r} {what} over its {n} finite values: {quantiles} quantiles "
            "cannot be formed (no spread to sort returns on); use fewer quantiles or another "
            "factor"
        )
    if distinct == n:
        ranks = values.rank(method="first")
        buckets = (pd.qcut(ranks, quantiles, labels=False) + 1).astype("int64")
    else:
        inner = np.quantile(np.arange(1.0, n + 1.0), np.linspace(0, 1, quantiles + 1))[1:-1]
        avg = values.rank(method="average").to_numpy()
        buckets = pd.Series(np.searchsorted(inner, avg, side="left") + 1, index=values.index)
    out = pd.Series(pd.NA, index=factor.index, dtype="Int64", name=factor.name)
    out[valid] = buckets.to_numpy()
    return out


def quantile_returns(
    factor: pd.Series, fwd: pd.DataFrame | pd.Series, quantiles: int = 5
) -> pd.DataFrame:
    """Return the mean forward return of each factor quantile, by horizon.

    Returns
    -------
    pd.DataFrame
        Index: quantile 1..q (name ``quantile``); columns: horizons. A monotone column is
        what a useful factor looks like; top minus bottom is the long-short spread. A
        quantile that ties leave empty is NaN (with a warning).

    Raises
    ------
    DataError
        The factor has fewer distinct values than quantiles (e.g. it is constant): no
        spread can be shown.
    """
    r = _as_frame(fwd, "fwd")
    _aligned(factor, r, "quantile_returns")
    q = factor_quantiles(factor, quantiles)
    out = pd.DataFrame(index=pd.Index(range(1, quantiles + 1), name="quantile"), dtype=float)
    for rc in r.columns:
        out[_horizon_of(rc)] = r[rc].groupby(q).mean().reindex(out.index)
    out.columns.name = "horizon"
    empty = [int(k) for k in out.index if not (q == k).any()]
    if empty:
        warnings.warn(
            f"quantile_returns: factor {factor.name!r}: quantile(s) {empty} hold no bar "
            "(ties fill other quantiles); their rows are NaN",
            stacklevel=2,
        )
    return out


def quantile_turnover(factor: pd.Series, quantiles: int = 5) -> pd.Series:
    """Return, per quantile, the share of bars in it at ``t - 1`` that are not in it at ``t``.

    Notes
    -----
    Over consecutive pairs of bars that both have a quantile:
    :math:`T_q = \\#\\{t: q_{t-1} = q, q_t \\ne q\\} / \\#\\{t: q_{t-1} = q\\}`. Also returned
    as ``"all"``: the share of pairs whose quantile changes. High turnover means trading
    the factor's extremes costs a lot of fees.
    """
    q = factor_quantiles(factor, quantiles)
    prev, cur = q.shift(1), q
    pair = prev.notna() & cur.notna()
    prev_v = prev[pair].astype("int64").to_numpy()
    cur_v = cur[pair].astype("int64").to_numpy()
    out = {}
    for k in range(1, quantiles + 1):
        was = prev_v == k
        out[k] = float((cur_v[was] != k).mean()) if was.any() else math.nan
    out["all"] = float((cur_v != prev_v).mean()) if len(cur_v) else math.nan
    return pd.Series(out, name="turnover")


def rank_autocorrelation(
    factor: pd.Series | pd.DataFrame, lags: Iterable[int] | int = (1, 4, 12, 24)
) -> pd.Series | pd.DataFrame:
    """Return the Spearman correlation of the factor with itself ``lag`` bars earlier.

    Close to 1: a slow factor (low turnover); ``1 - autocorrelation`` is a common turnover
    proxy.
    """
    lags_ = _horizons(lags)
    f = _as_frame(factor, "factor")
    table = pd.DataFrame(index=pd.Index(lags_, name="lag"), columns=f.columns, dtype=float)
    for c in f.columns:
        x = f[c].to_numpy(dtype=np.float64, na_value=np.nan)
        for lag in lags_:
            table.loc[lag, c] = (
                _corr_1d(x[lag:], x[:-lag], "spearman")[0] if lag < len(x) else math.nan
            )
    return table[f.columns[0]].rename(factor.name) if isinstance(factor, pd.Series) else table


def factor_correlation(factors: pd.DataFrame, method: str = "spearman") -> pd.DataFrame:
    """Return the factor-by-factor correlation matrix (pairwise complete rows).

    Highly correlated factors carry the same information: keep one, or give them one
    combined weight when composing.
    """
    method = _method(method)
    if not isinstance(factors, pd.DataFrame):
        raise ConfigError(f"factors must be a DataFrame, got {type(factors).__name__}")
    return factors.astype(float).corr(method=method)


# ---------------------------------------------------------------------------------------
# figures (matplotlib, object-oriented; no pyplot state)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _ic_table(ic: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(ic, pd.Series):
        return ic.to_frame().T if ic.name is not None else ic.to_frame("factor").T
    return ic


def _grouped_bars(ax: Any, table: pd.DataFrame, scale: float = 1.0) -> None:
    """Bars: one group per row, one bar per column."""
    rows, cols = list(table.index), list(table.columns)
    width = 0.8 / max(len(cols), 1)
    x = np.arange(len(rows))
    for j, c in enumerate(cols):
        ax.bar(
            x + (j - (len(cols) - 1) / 2) * width,
            table[c].to_numpy(dtype=float) * scale,
            width,
            label=str(c),
        )
    ax.set_xticks(x, [str(r) for r in rows])
    ax.axhline(0.0, color="black", linewidth=0.8)


def plot_ic_by_horizon(ic: pd.Series | pd.DataFrame, title: str = "IC by horizon") -> Figure:
    """Return a grouped bar chart of IC: one group per factor, one bar per horizon.

    ``ic`` is the output of :func:`information_coefficient` / :func:`rank_ic`.
    """
    table = _ic_table(ic)
    n_bars = len(table.index) * max(1, len(table.columns))
    fig = _figure(min(14.0, max(6.0, 0.12 * n_bars + 2.0)), 4.5)
    ax = fig.add_subplot()
    _grouped_bars(ax, table)
    ax.set_ylabel("IC")
    ax.set_title(title)
    ax.legend(title="horizon (bars)", fontsize="small")
    if len(table.index) > 6:
        ax.tick_params(axis="x", labelrotation=90)
    return fig


def plot_ic_decay(decay: pd.Series | pd.DataFrame, title: str = "IC decay") -> Figure:
    """Return a line chart of IC against horizon (output of :func:`ic_decay`)."""
    table = decay.to_frame() if isinstance(decay, pd.Series) else decay
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    for c in table.columns:
        ax.plot(table.index, table[c].to_numpy(dtype=float), marker=".", label=str(c))
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("horizon (bars)")
    ax.set_ylabel("IC")
    ax.set_title(title)
    if len(table.columns) > 1 or table.columns[0] is not None:
        ax.legend(fontsize="small")
    return fig


def plot_quantile_returns(
    qr: pd.DataFrame, title: str = "Mean forward return by factor quantile"
) -> Figure:
    """Return grouped bars of mean forward return (basis points) per quantile and horizon.

    ``qr`` is the output of :func:`quantile_returns`.
    """
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    _grouped_bars(ax, qr, scale=1e4)
    ax.set_xlabel("factor quantile (1 = lowest)")
    ax.set_ylabel("mean forward return (bp)")
    ax.set_title(title)
    ax.legend(title="horizon (bars)", fontsize="small")
    return fig


def plot_correlation_heatmap(
    corr: pd.DataFrame, title: str = "Factor correlation", annotate: bool | None = None
) -> Figure:
    """Return a heatmap of a correlation matrix (output of :func:`factor_correlation`).

    Values are annotated when the matrix is small (at most 12 factors) unless told.
    """
    k = len(corr.columns)
    size = max(4.0, 0.45 * k + 2.0)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    im = ax.imshow(corr.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    labels: Sequence[str] = [str(c) for c in corr.columns]
    ax.set_xticks(range(k), labels, rotation=90)
    ax.set_yticks(range(len(corr.index)), [str(i) for i in corr.index])
    if annotate if annotate is not None else k <= 12:
        values = corr.to_numpy(dtype=float)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if math.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return fig


def plot_cumulative_ic(cum: pd.Series | pd.DataFrame, title: str = "Cumulative IC") -> Figure:
    """Return a line chart over time of :func:`cumulative_ic` (one line per factor)."""
    table = cum.to_frame() if isinstance(cum, pd.Series) else cum
    fig = _figure(9.0, 4.0)
    ax = fig.add_subplot()
    for c in table.columns:
        ax.plot(table.index, table[c].to_numpy(dtype=float), label=str(c), linewidth=1.0)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_ylabel("cumulative IC")
    ax.set_title(title)
    if len(table.columns) > 1:
        ax.legend(fontsize="small", ncols=2)
    return fig
