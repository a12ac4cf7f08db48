"""Scoring models against known truth: regimes of the synthetic market, volatility forecasts.

This is *evaluation* code (like :mod:`quantlab.factors.research`): it may compare a causal
model output with what happened later or with the simulator's hidden state; no factor or
model ever sees those.

::

    from quantlab.models import evaluation as ev
    imm = ev.synthetic_regime_imm(interval="1h")          # the generator's own regimes
    res = imm.filter(ev.regime_observations(df))
    truth = ev.synthetic_truth(df, "synthetic", symbol="BTC", interval="1h", seed=7)
    ev.regime_report(truth, ev.regime_frame(res.mu, df.index, ev.REGIME_NAMES))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import fractional_matrix_power

from quantlab._typing import FloatArray
from quantlab.data.intervals import interval_hours
from quantlab.data.synthetic import REGIME_NAMES, MarketParams, simulate
from quantlab.errors import ConfigError, DataError
from quantlab.models.imm import IMM
from quantlab.models.kalman import DIFFUSE_P0, KalmanFilter
from quantlab.models.tuning import MLEResult, fit_mle

__all__ = [
    "REGIME_NAMES",
    "TURBULENT",
    "TwoRegimeFit",
    "calm_turbulent_imm",
    "calm_turbulent_truth",
    "fit_calm_turbulent",
    "large_move_times",
    "regime_frame",
    "regime_names",
    "regime_observations",
    "regime_report",
    "synthetic_regime_imm",
    "synthetic_truth",
    "transition_per_bar",
    "volatility_forecast_scores",
]

#: Code of the turbulent regime in ``REGIME_NAMES``.
TURBULENT = REGIME_NAMES.index("turbulent")


# ---------------------------------------------------------------------------------------
# the generator's own regime structure as an IMM


def transition_per_bar(hourly: Any, hours: float) -> FloatArray:
    """Return the regime transition matrix over one bar of ``hours`` hours.

    Parameters
    ----------
    hourly : array_like, shape (k, k)
        ``P[i, j]``: probability that regime ``i`` is followed by ``j`` one hour later.
    hours : float
        Bar length in hours.

    Returns
    -------
    numpy.ndarray
        :math:`P^{h}` (a matrix power; the principal fractional power for bars that are not
        a whole number of hours, with rounding negatives set to 0 and rows renormalised).
    """
    p = np.asarray(hourly, dtype=np.float64)
    h = float(hours)
    if not h > 0:
        raise ConfigError(f"hours = {hours!r}: a bar must last > 0 hours")
    if abs(h - round(h)) < 1e-12:
        return np.linalg.matrix_power(p, round(h))
    out = np.real(fractional_matrix_power(p, h))
    out = np.clip(out, 0.0, None)
    return out / out.sum(axis=1, keepdims=True)


def synthetic_regime_imm(
    params: MarketParams | Mapping[str, Any] | None = None,
    interval: str = "1h",
    use_trades: bool = True,
) -> IMM:
    """Return the IMM whose models are the synthetic market's regimes, in ``REGIME_NAMES`` order.

    Parameters
    ----------
    params : MarketParams or mapping, optional
        The market's parameters (defaults: the synthetic source's defaults).
    interval : str
        Bar interval; every hourly rate is scaled to it.
    use_trades : bool
        Also observe the bar's trade count (see Notes); otherwise the log price only.

    Returns
    -------
    IMM
        Observations as :func:`regime_observations` builds them.

    Notes
    -----
    State ``(level, anchor, 1)`` with ``h`` the bar length in hours. In a regime without
    mean reversion the log price moves by the regime's drift ``mu_k h``
    (:meth:`MarketParams.hourly_drift`) plus noise of variance ``sigma_k^2 h``
    (:meth:`MarketParams.hourly_volatility`), and the anchor follows the level (equal
    noise), so that it holds the price at which a mean-reverting spell begins. In a
    mean-reverting regime the level is pulled to the anchor,
    ``level' = anchor + phi (level - anchor)`` with ``phi = exp(-kappa h)``, and the
    anchor stays. The log price is observed exactly (``R = 0``). With ``use_trades`` the
    trade count is observed too, with mean ``rate_k h`` (:meth:`MarketParams.trade_rate`,
    through the constant state) and the Hawkes long-window variance
    ``rate_k h / (1 - n)^2``. Regimes switch by the hourly chain raised to the bar length
    (:func:`transition_per_bar`).
    """
    p = MarketParams.coerce(params)
    h = interval_hours(interval)
    drift = p.hourly_drift() * h
    var = p.hourly_volatility() ** 2 * h
    kappa = np.asarray(p.mean_reversion, dtype=np.float64)
    rate = p.trade_rate() * h
    dispersion = 1.0 / (1.0 - p.hawkes_branching) ** 2
    filters = []
    for k in range(len(REGIME_NAMES)):
        if kappa[k] > 0:
            phi = float(np.exp(-kappa[k] * h))
            F = [[phi, 1.0 - phi, drift[k]], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
            Q = np.diag([var[k], 0.0, 0.0])
        else:
            F = [[1.0, 0.0, drift[k]], [1.0, 0.0, drift[k]], [0.0, 0.0, 1.0]]
            Q = var[k] * np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        if use_trades:
            H = [[1.0, 0.0, 0.0], [0.0, 0.0, rate[k]]]
            R = np.diag([0.0, rate[k] * dispersion])
        else:
            H, R = [[1.0, 0.0, 0.0]], [[0.0]]
        filters.append(
            KalmanFilter(
                F,
                H,
                Q,
                R,
                x0=[0.0, 0.0, 1.0],
                P0=np.diag([DIFFUSE_P0, DIFFUSE_P0, 0.0]),
                state_names=("level", "anchor", "one"),
            )
        )
    return IMM(filters, transition_per_bar(p.regime_transition, h))


def regime_observations(df: pd.DataFrame, use_trades: bool = True) -> pd.DataFrame:
    """Return the observations of :func:`synthetic_regime_imm`: log price (and trades).

    Returns
    -------
    pandas.DataFrame
        On ``df.index``: ``log_price`` (``log(close / close[0])``) and, with ``use_trades``,
        ``trades``.
    """
    cols = ["close", "trades"] if use_trades else ["close"]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"df: column {missing[0]!r} is missing (use_trades=False observes the price only)"
        )
    logc = np.log(df["close"].to_numpy(dtype=np.float64))
    out = pd.DataFrame({"log_price": logc - logc[0]}, index=df.index)
    if use_trades:
        out["trades"] = df["trades"].to_numpy(dtype=np.float64)
    return out


def regime_frame(mu: Any, index: pd.Index, names: Sequence[str]) -> pd.DataFrame:
    """Return regime probabilities ``mu`` (n, k) as a DataFrame with one column per name."""
    arr = np.asarray(mu, dtype=np.float64)
    if arr.ndim != 2 or arr.shape != (len(index), len(names)):
        raise DataError(
            f"mu: shape {arr.shape} does not match {len(index)} bars x {len(names)} regimes"
        )
    return pd.DataFrame(arr, index=index, columns=list(names))


# ---------------------------------------------------------------------------------------
# an honest model: calm / turbulent, fitted by maximum likelihood


def calm_turbulent_imm(var_calm: float, var_turbulent: float, leave: Sequence[float]) -> IMM:
    """Return a 2-regime IMM on the log price: calm and turbulent random walks.

    Parameters
    ----------
    var_calm, var_turbulent : float
        Variance of a one-bar log return in each regime.
    leave : (float, float)
        Probability of leaving the calm and the turbulent regime at each bar.

    Notes
    -----
    State: the level, observed exactly (``R = 0``) from a known start (``P0 = 0``), so the
    IMM is Hamilton's filter for returns ``r_t ~ N(0, var_k)``. Run it on
    ``log(close / close[0])`` from bar 1 (see :func:`fit_calm_turbulent`).
    """
    filters = [
        KalmanFilter([[1.0]], [[1.0]], [[v]], [[0.0]], [0.0], [[0.0]], state_names=("level",))
        for v in (var_calm, var_turbulent)
    ]
    a, b = float(leave[0]), float(leave[1])
    return IMM(filters, [[1.0 - a, a], [b, 1.0 - b]])


@dataclass(frozen=True)
class TwoRegimeFit:
    """Outcome of :func:`fit_calm_turbulent`.

    Attributes
    ----------
    var : numpy.ndarray
        One-bar return variance of the calm and the turbulent regime (calm < turbulent).
    leave : numpy.ndarray
        Probability of leaving each regime per bar.
    imm : IMM
        The fitted model (observations: ``log(close / close[0])`` from bar 1).
    mu : pandas.DataFrame
        Filtered probabilities ``calm``, ``turbulent`` on the bars' index (row 0: the chain's
        prior, no return yet).
    mle : MLEResult
        The Nelder-Mead search.
    """

    var: FloatArray
    leave: FloatArray
    imm: IMM
    mu: pd.DataFrame
    mle: MLEResult


def _odds_to_prob(x: float) -> float:
    return x / (1.0 + x)


def fit_calm_turbulent(
    df: pd.DataFrame, start: Sequence[float] = (0.5, 5.0, 0.02, 0.05), maxiter: int | None = None
) -> TwoRegimeFit:
    """Fit the calm/turbulent IMM to the bars by maximum likelihood (:func:`fit_mle`).

    Parameters
    ----------
    df : pandas.DataFrame
        Bars with ``close``.
    start : (float, float, float, float)
        Start of the search: calm and turbulent variance as multiples of the sample variance
        of one-bar log returns, then the odds ``p / (1 - p)`` of leaving each regime.
    maxiter : int, optional
        Nelder-Mead iteration cap.

    Returns
    -------
    TwoRegimeFit
        Regimes ordered so that ``calm`` has the smaller variance.

    Notes
    -----
    The four positive parameters ``(var_calm, var_turbulent, odds_calm, odds_turbulent)``
    are searched in logs (leave probability ``odds / (1 + odds)``). Nothing of the
    simulator is used: this is what one can do on real data.
    """
    if "close" not in df.columns or len(df) < 10:
        raise DataError("df: need at least 10 bars with a 'close' column")
    logc = np.log(df["close"].to_numpy(dtype=np.float64))
    z = logc[1:] - logc[0]
    v0 = float(np.var(np.diff(logc)))
    if not v0 > 0:
        raise DataError("close: constant prices, no variance to split into regimes")
    scale = np.array([v0, v0, 1.0, 1.0])

    def factory(theta: FloatArray) -> IMM:
        return calm_turbulent_imm(
            theta[0], theta[1], (_odds_to_prob(theta[2]), _odds_to_prob(theta[3]))
        )

    mle = fit_mle(factory, z, np.asarray(start, dtype=np.float64) * scale, maxiter=maxiter)
    var = mle.params[:2].copy()
    leave = np.array([_odds_to_prob(mle.params[2]), _odds_to_prob(mle.params[3])])
    order = np.argsort(var)
    var, leave = var[order], leave[order]
    imm = calm_turbulent_imm(var[0], var[1], leave)
    mu = np.vstack([np.full(2, 0.5), imm.filter(z).mu])  # row 0: the uniform prior mu0
    return TwoRegimeFit(
        var=var,
        leave=leave,
        imm=imm,
        mu=regime_frame(mu, df.index, ("calm", "turbulent")),
        mle=mle,
    )


# ---------------------------------------------------------------------------------------
# truth and scores


def synthetic_truth(
    df: pd.DataFrame,
    source: Any,
    symbol: str = "BTC",
    interval: str = "1h",
    **options: Any,
) -> pd.Series | None:
    """Return the synthetic market's true regime codes of the bars, or None for other sources.

    Parameters
    ----------
    df : pandas.DataFrame
        Bars as ``ql.data.load(source, symbol=symbol, interval=interval, ..., **options)``
        returned them.
    source, symbol, interval, **options
        The arguments ``df`` was loaded with (``options``: ``seed`` and market parameters).

    Returns
    -------
    pandas.Series or None
        Regime codes (``REGIME_NAMES`` order) on ``df.index``; None when ``source`` is not
        ``"synthetic"`` (no truth is known).

    Raises
    ------
    DataError
        The bars are not the synthetic market of these arguments.
    """
    if source != "synthetic" or len(df) == 0:
        return None
    opts = dict(options)
    seed = opts.pop("seed", 0)
    opts.pop("n_bars", None)
    market = simulate(
        (symbol,),
        interval=interval,
        start=df.index[0],
        n_bars=len(df),
        seed=seed,
        params=MarketParams().replace(**opts) if opts else None,
    )
    sim = market.bars[symbol]
    if not sim.index.equals(df.index) or not np.array_equal(
        sim["close"].to_numpy(), df["close"].to_numpy(dtype=np.float64)
    ):
        raise DataError(
            f"df: the bars are not the synthetic market of symbol={symbol!r}, "
            f"interval={interval!r}, options={options!r} (close or index differ)"
        )
    return market.regimes[symbol].rename("regime")


def regime_names(truth: pd.Series | None, index: pd.Index) -> pd.Series:
    """Return the true regime names on ``index`` (for grouping), ``"unknown"`` without truth."""
    if truth is None:
        return pd.Series("unknown", index=index, name="regime")
    codes = np.asarray(truth, dtype=np.int64)
    cat = pd.Categorical.from_codes(codes, categories=list(REGIME_NAMES))
    return pd.Series(cat, index=index, name="regime")


def calm_turbulent_truth(truth: pd.Series | None) -> pd.Series | None:
    """Return 1 where the true regime is turbulent and 0 elsewhere (None stays None)."""
    if truth is None:
        return None
    return (truth == TURBULENT).astype(np.int64).rename("turbulent")


def regime_report(truth: pd.Series | None, mu: pd.DataFrame) -> pd.DataFrame:
    """Return how well filtered regime probabilities recover the true regimes.

    Parameters
    ----------
    truth : pandas.Series or None
        True regime codes on ``mu.index`` (columns of ``mu`` in code order); None gives an
        empty table (no truth known, e.g. real data).
    mu : pandas.DataFrame
        Filtered probabilities, one column per regime.

    Returns
    -------
    pandas.DataFrame
        One row per regime: ``share`` (of bars truly in it), ``recall`` (its bars whose most
        probable regime is it), ``precision``, ``mean_prob`` (mean filtered probability on its
        bars); plus a row ``all`` with ``recall`` = accuracy (``regime_accuracy`` without
        relabelling) and ``share`` = base rate (the majority regime's share).
    """
    cols = ["share", "recall", "precision", "mean_prob"]
    if truth is None:
        return pd.DataFrame(columns=cols, dtype=np.float64)
    from quantlab.models.imm import regime_accuracy

    labels = np.asarray(truth, dtype=np.int64)
    probs = mu.to_numpy(dtype=np.float64)
    pred = np.argmax(probs, axis=1)
    rows = {}
    for k, name in enumerate(mu.columns):
        is_k = labels == k
        said_k = pred == k
        rows[str(name)] = {
            "share": float(is_k.mean()),
            "recall": float(said_k[is_k].mean()) if is_k.any() else np.nan,
            "precision": float(is_k[said_k].mean()) if said_k.any() else np.nan,
            "mean_prob": float(probs[is_k, k].mean()) if is_k.any() else np.nan,
        }
    base = float(np.bincount(labels, minlength=probs.shape[1]).max() / max(len(labels), 1))
    rows["all"] = {
        "share": base,
        "recall": regime_accuracy(labels, probs, permute=False),
        "precision": np.nan,
        "mean_prob": float(probs[np.arange(len(labels)), labels].mean()),
    }
    return pd.DataFrame.from_dict(rows, orient="index")[cols]


def volatility_forecast_scores(forecasts: pd.DataFrame, close: pd.Series) -> pd.DataFrame:
    """Score one-step volatility forecasts against the next bar's squared log return.

    Parameters
    ----------
    forecasts : pandas.DataFrame
        One column per forecaster; the value at ``t`` forecasts the volatility of
        ``r_{t+1} = log(C_{t+1} / C_t)`` (as ``garch_vol`` does; a trailing realised
        volatility is the naive forecaster).
    close : pandas.Series
        Close prices on the same index.

    Returns
    -------
    pandas.DataFrame
        Per forecaster: ``n`` (scored bars, those where every forecaster has a value),
        ``rmse_var`` (root mean squared error of :math:`\\sigma^2` against :math:`r^2`),
        ``qlike`` (:math:`\\log\\sigma^2 + r^2/\\sigma^2`, lower is better; robust to the
        noise in :math:`r^2`, Patton 2011), ``corr_abs`` (correlation of :math:`\\sigma`
        with :math:`|r|`).
    """
    if not forecasts.index.equals(close.index):
        raise DataError("forecasts: index differs from the close prices' index")
    nxt = np.log(close.astype(np.float64)).diff().shift(-1).to_numpy()
    f = forecasts.to_numpy(dtype=np.float64)
    ok = np.isfinite(nxt) & np.all(np.isfinite(f) & (f > 0), axis=1)
    r2 = nxt[ok] ** 2
    out = {}
    for j, col in enumerate(forecasts.columns):
        s2 = f[ok, j] ** 2
        out[col] = {
            "n": int(ok.sum()),
            "rmse_var": float(np.sqrt(np.mean((s2 - r2) ** 2))),
            "qlike": float(np.mean(np.log(s2) + r2 / s2)),
            "corr_abs": float(np.corrcoef(np.sqrt(s2), np.sqrt(r2))[0, 1]),
        }
    return pd.DataFrame.from_dict(out, orient="index")


def large_move_times(df: pd.DataFrame, quantile: float = 0.95) -> tuple[FloatArray, float]:
    """Return the times of large moves (hours from the first bar's open) and the horizon.

    A large move is a bar whose absolute one-bar log return exceeds the ``quantile`` of
    all of them (an in-sample threshold: this feeds an in-sample Hawkes fit). Its event
    time is the bar's close, ``(open - first open) + bar length``.

    Returns
    -------
    times : numpy.ndarray
        Sorted event times in hours.
    T : float
        Observation horizon in hours (the last bar's close).
    """
    if not 0.0 < quantile < 1.0:
        raise ConfigError(f"quantile = {quantile!r}: must be in (0, 1)")
    if len(df) < 3:
        raise DataError("df: need at least 3 bars")
    absr = np.abs(np.log(df["close"].astype(np.float64)).diff())
    thr = float(np.nanquantile(absr.to_numpy(), quantile))
    step = (df.index[1:] - df.index[:-1]).min()
    open_h = (df.index - df.index[0]) / pd.Timedelta(hours=1)
    close_h = np.asarray(open_h, dtype=np.float64) + step / pd.Timedelta(hours=1)
    times = close_h[(absr > thr).to_numpy()]
    return np.ascontiguousarray(times), float(close_h[-1])
