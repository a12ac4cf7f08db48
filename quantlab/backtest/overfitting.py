"""Overfitting statistics: PSR, Deflated Sharpe Ratio, expected maximum Sharpe, PBO by CSCV.

Pure statistics on numbers and return matrices (no engine)::

    from quantlab.backtest import overfitting as of
    of.probabilistic_sharpe_ratio(sr=0.1, n_obs=500, skew=-0.5, kurtosis=5.0)
    of.deflated_sharpe(returns, trial_sharpes=sweep["sharpe"], n_trials=len(sweep),
                       periods_per_year=8760)
    of.pbo(returns_matrix, n_partitions=16).pbo

Every Sharpe ratio in these functions is **per observation** (not annualised) unless a
``periods_per_year`` argument says otherwise. Kurtosis is the plain (non-excess) fourth
standardised moment: 3 for a normal distribution.

References
----------
Bailey, D. H. and López de Prado, M. (2012). The Sharpe ratio efficient frontier.
*Journal of Risk* 15(2).
Bailey, D. H. and López de Prado, M. (2014). The deflated Sharpe ratio: correcting for
selection bias, backtest overfitting and non-normality. *Journal of Portfolio Management*
40(5).
Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2017). The probability of
backtest overfitting. *Journal of Computational Finance* 20(4) (working paper 2015).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, special, stats

from quantlab._typing import FloatArray
from quantlab.config import check_int
from quantlab.errors import ConfigError, DataError

__all__ = [
    "DeflatedSharpe",
    "PBOResult",
    "deflated_sharpe",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "pbo",
    "probabilistic_sharpe_ratio",
    "sharpe_moments",
]

EULER_GAMMA = float(np.euler_gamma)


def _finite(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name}: must be finite, got {value!r}")
    return v


def probabilistic_sharpe_ratio(
    sr: float,
    n_obs: int,
    *,
    sr_benchmark: float = 0.0,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Return the probability that the true Sharpe ratio exceeds a benchmark (PSR).

    Parameters
    ----------
    sr : float
        Observed Sharpe ratio per observation (mean / std of the per-bar returns).
    n_obs : int
        Number of return observations behind ``sr`` (at least 2).
    sr_benchmark : float
        Benchmark Sharpe ratio per observation, :math:`SR^*`.
    skew, kurtosis : float
        Skewness and (non-excess) kurtosis of the returns; 0 and 3 for normal returns.

    Returns
    -------
    float
        :math:`\\widehat{PSR}(SR^*)` in [0, 1].

    Notes
    -----
    Bailey & López de Prado (2012), eq. (10):

    .. math::
        \\widehat{PSR}(SR^*) = \\Phi\\left(\\frac{(\\widehat{SR} - SR^*)\\sqrt{n - 1}}
        {\\sqrt{1 - \\hat\\gamma_3 \\widehat{SR} + \\frac{\\hat\\gamma_4 - 1}{4}
        \\widehat{SR}^2}}\\right)

    The denominator is the standard error of :math:`\\widehat{SR}` under non-normal iid
    returns (Mertens 2002). A non-positive variance term (possible only for extreme
    skewness) raises :class:`ConfigError`.
    """
    sr = _finite("sr", sr)
    n = check_int("n_obs", n_obs, 2)
    sr_b = _finite("sr_benchmark", sr_benchmark)
    g3 = _finite("skew", skew)
    g4 = _finite("kurtosis", kurtosis)
    if g4 < 1.0:
        raise ConfigError(f"kurtosis: the non-excess kurtosis is >= 1, got {kurtosis!r}")
    var = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr * sr
    if not var > 0.0:
        raise ConfigError(
            f"sr={sr!r}, skew={skew!r}, kurtosis={kurtosis!r}: the Sharpe ratio's variance "
            f"term 1 - skew*sr + (kurtosis-1)/4*sr^2 = {var!r} must be positive"
        )
    z = (sr - sr_b) * math.sqrt(n - 1.0) / math.sqrt(var)
    return float(special.ndtr(z))


def _expected_max_std_normal_exact(n: int) -> float:
    """Return E[max of n iid N(0, 1)] by numerical integration."""
    if n == 1:
        return 0.0

    def integrand(x: float) -> float:
        # n * x * phi(x) * Phi(x)^(n-1), in log space for the CDF power
        log_cdf = special.log_ndtr(x)
        return n * x * math.exp(-0.5 * x * x + (n - 1) * log_cdf) / math.sqrt(2.0 * math.pi)

    val, _ = integrate.quad(integrand, -12.0, 12.0, limit=200, epsabs=1e-12, epsrel=1e-10)
    return float(val)


def expected_max_sharpe(
    n_trials: int,
    sr_variance: float = 1.0,
    *,
    sr_mean: float = 0.0,
    method: str = "gumbel",
) -> float:
    """Return the expected maximum Sharpe ratio of ``n_trials`` independent trials.

    Parameters
    ----------
    n_trials : int
        Number of independent trials :math:`N`.
    sr_variance : float
        Variance of the trials' Sharpe ratios :math:`V[\\{\\widehat{SR}_n\\}]` (same units
        as the result: per observation, or annualised if the trials are).
    sr_mean : float
        Mean of the trials' Sharpe ratios (0 under the null of no skill).
    method : {"gumbel", "exact"}
        ``gumbel``: the extreme-value approximation of Bailey & López de Prado (2014), used
        by the Deflated Sharpe Ratio; ``exact``: the expectation of the maximum of
        :math:`N` iid normals by numerical integration.

    Returns
    -------
    float

    Notes
    -----
    With :math:`\\gamma` the Euler-Mascheroni constant and :math:`Z^{-1}` the standard
    normal quantile (False Strategy theorem, Bailey & López de Prado 2014, eq. (2))

    .. math::
        E[\\max_n \\widehat{SR}_n] \\approx \\mu + \\sqrt{V}\\left((1 - \\gamma)
        Z^{-1}\\left[1 - \\frac{1}{N}\\right] + \\gamma Z^{-1}\\left[1 - \\frac{1}{N e}
        \\right]\\right)

    The exact value is :math:`\\mu + \\sqrt{V}\\int x\\,N\\phi(x)\\Phi(x)^{N-1}dx`. The
    approximation is above the exact value by 2.3 % at :math:`N = 10`, 0.9 % at 100 and
    0.4 % at 1000.
    For :math:`N = 1` both give :math:`\\mu`.
    """
    n = check_int("n_trials", n_trials, 1)
    v = _finite("sr_variance", sr_variance)
    if v < 0.0:
        raise ConfigError(f"sr_variance: must be >= 0, got {sr_variance!r}")
    mu = _finite("sr_mean", sr_mean)
    if method == "gumbel":
        if n == 1:
            z = 0.0
        else:
            z = (1.0 - EULER_GAMMA) * special.ndtri(1.0 - 1.0 / n) + EULER_GAMMA * special.ndtri(
                1.0 - 1.0 / (n * math.e)
            )
    elif method == "exact":
        z = _expected_max_std_normal_exact(n)
    else:
        raise ConfigError(f"method: must be 'gumbel' or 'exact', got {method!r}")
    return float(mu + math.sqrt(v) * z)


def deflated_sharpe_ratio(
    sr: float,
    n_obs: int,
    *,
    n_trials: int,
    sr_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Return the Deflated Sharpe Ratio: the PSR against the expected maximum of the trials.

    Parameters
    ----------
    sr : float
        Sharpe ratio per observation of the selected strategy.
    n_obs : int
        Number of return observations :math:`T`.
    n_trials : int
        Number of independent trials tried, :math:`N` (the sweep's real trial count).
    sr_variance : float
        Variance across the trials of their Sharpe ratios, per observation units.
    skew, kurtosis : float
        Of the selected strategy's returns (kurtosis non-excess).

    Returns
    -------
    float
        DSR in [0, 1]: the probability that the true Sharpe ratio is positive after
        accounting for selection among :math:`N` trials and for non-normal returns.

    Notes
    -----
    Bailey & López de Prado (2014), eq. (9):
    :math:`DSR = \\widehat{PSR}(\\widehat{SR}_0)` with
    :math:`\\widehat{SR}_0 = \\sqrt{V[\\{\\widehat{SR}_n\\}]}\\left((1-\\gamma)Z^{-1}[1 -
    \\frac1N] + \\gamma Z^{-1}[1 - \\frac{1}{Ne}]\\right)` (:func:`expected_max_sharpe`).
    Their worked example (annualised SR 2.5, :math:`T = 1250` daily observations, 250 per
    year, :math:`N = 100`, annualised variance 0.5, skew -3, kurtosis 10) gives 0.9004.
    """
    sr0 = expected_max_sharpe(n_trials, sr_variance)
    return probabilistic_sharpe_ratio(sr, n_obs, sr_benchmark=sr0, skew=skew, kurtosis=kurtosis)


def _clean_returns(returns: FloatArray | pd.Series | Sequence[float], name: str) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64).ravel()
    if r.size < 2:
        raise DataError(f"{name}: need at least 2 observations, got {r.size}")
    bad = ~np.isfinite(r)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = returns.index[i] if isinstance(returns, pd.Series) else i
        raise DataError(f"{name}: value at {where} is {r[i]!r}; returns must be finite")
    return r


def sharpe_moments(returns: FloatArray | pd.Series | Sequence[float]) -> tuple[float, float, float]:
    """Return (Sharpe per observation, skewness, non-excess kurtosis) of a return series.

    Notes
    -----
    Sharpe :math:`\\bar r / s` with the sample standard deviation (ddof 1), as in
    :func:`quantlab.backtest.compute_stats`; skewness and kurtosis are the plain moment
    estimators :math:`m_3 / m_2^{3/2}` and :math:`m_4 / m_2^2` (``scipy.stats.skew`` and
    ``scipy.stats.kurtosis(fisher=False)`` with ``bias=True``).
    """
    r = _clean_returns(returns, "returns")
    sd = float(np.std(r, ddof=1))
    if not sd > 0.0:
        raise DataError("returns: constant series; the Sharpe ratio is undefined")
    return (
        float(np.mean(r) / sd),
        float(stats.skew(r, bias=True)),
        float(stats.kurtosis(r, fisher=False, bias=True)),
    )


@dataclass(frozen=True)
class DeflatedSharpe:
    """The Deflated Sharpe Ratio of a selected strategy and its inputs.

    Attributes
    ----------
    dsr : float
        Deflated Sharpe Ratio.
    psr : float
        PSR against a zero benchmark (no selection correction).
    sharpe : float
        Sharpe ratio per observation of the selected returns.
    sharpe_annualized : float
        ``sharpe * sqrt(periods_per_year)``.
    sr0 : float
        Expected maximum Sharpe ratio of the trials, per observation.
    n_obs, n_trials : int
    sr_variance : float
        Variance of the trials' Sharpe ratios, per observation units.
    skew, kurtosis : float
    """

    dsr: float
    psr: float
    sharpe: float
    sharpe_annualized: float
    sr0: float
    n_obs: int
    n_trials: int
    sr_variance: float
    skew: float
    kurtosis: float

    def to_dict(self) -> dict[str, float | int]:
        """Return the fields as a plain dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def deflated_sharpe(
    returns: FloatArray | pd.Series | Sequence[float],
    trial_sharpes: FloatArray | pd.Series | Sequence[float] | None = None,
    *,
    n_trials: int | None = None,
    sr_variance: float | None = None,
    periods_per_year: float = 1.0,
) -> DeflatedSharpe:
    """Return the Deflated Sharpe Ratio of a selected strategy from its returns.

    Parameters
    ----------
    returns : array-like
        Per-bar returns of the selected strategy (in-sample or stitched out-of-sample).
    trial_sharpes : array-like, optional
        Sharpe ratios of every trial of the search (e.g. a sweep's ``sharpe`` column),
        annualised with ``periods_per_year`` like ``compute_stats`` does. NaN entries (a
        trial that never traded) are dropped from the variance.
    n_trials : int, optional
        The real number of trials; default ``len(trial_sharpes)``. Pass the full count
        when only some trials' Sharpe ratios are at hand.
    sr_variance : float, optional
        Variance of the trials' Sharpe ratios in the same (annualised) units, instead of
        ``trial_sharpes``.
    periods_per_year : float
        Annualisation factor of ``trial_sharpes``/``sr_variance`` (1 if they are per bar).

    Returns
    -------
    DeflatedSharpe

    Notes
    -----
    Annualised Sharpe ratios are brought back to per-bar units by dividing by
    :math:`\\sqrt{A}` (variances by :math:`A`) before :func:`deflated_sharpe_ratio`.
    """
    ppy = _finite("periods_per_year", periods_per_year)
    if ppy <= 0:
        raise ConfigError(f"periods_per_year: must be > 0, got {periods_per_year!r}")
    sr, skew, kurt = sharpe_moments(returns)
    n_obs = int(np.asarray(returns).size)
    if trial_sharpes is not None:
        if sr_variance is not None:
            raise ConfigError("pass either trial_sharpes or sr_variance, not both")
        t = np.asarray(trial_sharpes, dtype=np.float64).ravel()
        t = t[np.isfinite(t)]
        if t.size < 2:
            raise DataError(
                f"trial_sharpes: need at least 2 finite trial Sharpe ratios, got {t.size}"
            )
        var_ann = float(np.var(t, ddof=1))
        n = t.size if n_trials is None else n_trials
    else:
        if sr_variance is None or n_trials is None:
            raise ConfigError("pass trial_sharpes, or both n_trials and sr_variance")
        var_ann = _finite("sr_variance", sr_variance)
        n = n_trials
    n = check_int("n_trials", n, 1)
    if trial_sharpes is not None and n < np.isfinite(np.asarray(trial_sharpes, float)).sum():
        raise ConfigError(
            f"n_trials: {n} is smaller than the number of trial Sharpe ratios given; "
            "the real trial count can only be larger"
        )
    var = var_ann / ppy
    sr0 = expected_max_sharpe(n, var)
    dsr = probabilistic_sharpe_ratio(sr, n_obs, sr_benchmark=sr0, skew=skew, kurtosis=kurt)
    psr = probabilistic_sharpe_ratio(sr, n_obs, skew=skew, kurtosis=kurt)
    return DeflatedSharpe(
        dsr=dsr,
        psr=psr,
        sharpe=sr,
        sharpe_annualized=sr * math.sqrt(ppy),
        sr0=sr0,
        n_obs=n_obs,
        n_trials=n,
        sr_variance=var,
        skew=skew,
        kurtosis=kurt,
    )


# --------------------------------------------------------------------------- PBO / CSCV


@dataclass(frozen=True)
class PBOResult:
    """The outcome of combinatorially symmetric cross-validation (CSCV).

    Attributes
    ----------
    pbo : float
        Probability of backtest overfitting: the share of splits whose in-sample best
        strategy ranks at or below the out-of-sample median (logit <= 0).
    logits : ndarray
        :math:`\\lambda_c` for each split :math:`c`.
    is_performance, oos_performance : ndarray
        Performance of the in-sample best strategy in and out of sample, per split.
    best : ndarray
        Column index of the in-sample best strategy, per split.
    degradation_slope : float
        Slope of the least-squares line of out-of-sample on in-sample performance of the
        selected strategies (negative: selection degrades out of sample).
    prob_oos_loss : float
        Share of splits where the selected strategy's out-of-sample performance is < 0.
    n_partitions, n_splits, n_strategies, n_obs : int
        :math:`S`, :math:`\\binom{S}{S/2}`, :math:`N`, and the rows used (a multiple of S).
    """

    pbo: float
    logits: FloatArray
    is_performance: FloatArray
    oos_performance: FloatArray
    best: np.ndarray
    degradation_slope: float
    prob_oos_loss: float
    n_partitions: int
    n_splits: int
    n_strategies: int
    n_obs: int


def pbo(
    returns: FloatArray | pd.DataFrame,
    n_partitions: int = 16,
    *,
    metric: Callable[[FloatArray], FloatArray] | None = None,
) -> PBOResult:
    """Return the Probability of Backtest Overfitting by CSCV.

    Parameters
    ----------
    returns : (T, N) array or DataFrame
        Per-bar returns (or P&L) of ``N`` strategy configurations over the same ``T`` bars,
        one column per configuration (e.g. every combination of a sweep).
    n_partitions : int
        :math:`S`, even, >= 2: the number of contiguous blocks the rows are cut into. The
        first ``T mod S`` rows are dropped so the blocks have equal size.
    metric : callable, optional
        Maps a ``(rows, N)`` return matrix to ``N`` performance values (higher is better).
        Default: the Sharpe ratio per column (ddof 1), computed from block sums.

    Returns
    -------
    PBOResult

    Notes
    -----
    Bailey, Borwein, López de Prado & Zhu (2015), section 2. Cut :math:`M` into
    :math:`S` blocks; for each of the :math:`\\binom{S}{S/2}` sets :math:`J` of half the
    blocks (in-sample; the rest :math:`\\bar J` is out-of-sample, row order kept), find
    :math:`n^* = \\arg\\max_n R_n(J)`, its relative rank
    :math:`\\bar\\omega_c = \\mathrm{rank}(\\bar R_{n^*}) / (N + 1)` among
    :math:`\\bar R(\\bar J)` (ranks 1..N, ties averaged) and the logit
    :math:`\\lambda_c = \\ln(\\bar\\omega_c / (1 - \\bar\\omega_c))`. Then
    :math:`PBO = \\#\\{c: \\lambda_c \\le 0\\} / \\binom{S}{S/2}`.

    On pure noise :math:`\\bar\\omega` is uniform and PBO is about 1/2 (exactly
    :math:`1/2` in expectation for even :math:`N`); when one configuration truly dominates
    the rest, PBO is about 0. A strategy with zero variance in a half has Sharpe
    :math:`-\\infty` there (it never wins the in-sample selection).
    """
    cols = None
    if isinstance(returns, pd.DataFrame):
        cols = list(returns.columns)
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2:
        raise DataError(f"returns: expected a 2-D (bars x strategies) matrix, got {m.ndim}-D")
    s = check_int("n_partitions", n_partitions, 2)
    if s % 2:
        raise ConfigError(f"n_partitions: must be even, got {n_partitions!r}")
    t, n = m.shape
    if n < 2:
        raise DataError(f"returns: need at least 2 strategies (columns), got {n}")
    bad = ~np.isfinite(m)
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        col = cols[j] if cols is not None else j
        raise DataError(f"returns: row {i}, column {col!r} is {m[i, j]!r}; must be finite")
    block = t // s
    if block < 2:
        raise DataError(
            f"returns: {t} rows cannot make {s} partitions of at least 2 rows; "
            "use fewer partitions or more bars"
        )
    m = m[t - block * s :]
    blocks = m.reshape(s, block, n)
    combos = np.array(list(itertools.combinations(range(s), s // 2)), dtype=np.int64)
    n_splits = combos.shape[0]
    in_mask = np.zeros((n_splits, s), dtype=bool)
    in_mask[np.arange(n_splits)[:, None], combos] = True
    half = block * (s // 2)

    if metric is None:
        centered = blocks - m.mean(axis=0)  # improves the precision of the sums
        s1 = centered.sum(axis=1)  # (S, N)
        s2 = (centered * centered).sum(axis=1)
        mu_all = m.mean(axis=0)

        def perf(mask: np.ndarray) -> np.ndarray:
            w = mask.astype(np.float64)
            a = w @ s1
            b = w @ s2
            mean_c = a / half
            var = (b - half * mean_c * mean_c) / (half - 1)
            var = np.maximum(var, 0.0)
            sd = np.sqrt(var)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = (mean_c + mu_all) / sd
            scale = np.maximum(np.abs(mu_all), 1e-300)
            out[~(sd > 1e-12 * scale)] = -np.inf
            return out

        r_is = perf(in_mask)
        r_oos = perf(~in_mask)
    else:
        r_is = np.empty((n_splits, n))
        r_oos = np.empty((n_splits, n))
        for c in range(n_splits):
            r_is[c] = np.asarray(metric(blocks[in_mask[c]].reshape(half, n)), dtype=np.float64)
            r_oos[c] = np.asarray(metric(blocks[~in_mask[c]].reshape(half, n)), dtype=np.float64)

    best = np.argmax(np.where(np.isnan(r_is), -np.inf, r_is), axis=1)
    rows = np.arange(n_splits)
    oos_clean = np.where(np.isnan(r_oos), -np.inf, r_oos)
    ranks = stats.rankdata(oos_clean, method="average", axis=1)
    omega = ranks[rows, best] / (n + 1.0)
    logits = np.log(omega / (1.0 - omega))
    is_best = r_is[rows, best]
    oos_best = r_oos[rows, best]
    finite = np.isfinite(is_best) & np.isfinite(oos_best)
    slope = np.nan
    if finite.sum() >= 2 and np.ptp(is_best[finite]) > 0:
        slope = float(np.polyfit(is_best[finite], oos_best[finite], 1)[0])
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        is_performance=is_best,
        oos_performance=oos_best,
        best=best,
        degradation_slope=slope,
        prob_oos_loss=float(np.mean(oos_best < 0.0)),
        n_partitions=s,
        n_splits=n_splits,
        n_strategies=n,
        n_obs=block * s,
    )
