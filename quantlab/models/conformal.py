"""Conformal prediction intervals: split, adaptive (ACI) and PID quantile tracking.

Scores are non-conformity scores known after each step, typically ``|y_t - y_pred_t|``.
Every time-indexed output at ``t`` uses scores strictly before ``t``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.conformal import (
    aci_levels_nb,
    aci_nb,
    aci_step_nb,
    conformal_threshold_sorted_nb,
    pid_nb,
    pid_step_nb,
)
from quantlab.models.base import BaseModel

__all__ = [
    "AdaptiveConformal",
    "QuantileTracker",
    "aci_levels",
    "conformal_interval",
    "coverage",
    "interval_width",
    "rolling_coverage",
    "rolling_width",
    "split_conformal_threshold",
]


# -- validation helpers ---------------------------------------------------------------
def _check_alpha(alpha: float, name: str = "alpha") -> float:
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise ConfigError(f"{name} = {alpha!r}: the target miscoverage must be in (0, 1)")
    return a


def _check_nonneg(value: float, name: str) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ConfigError(f"{name} = {value!r}: must be finite and >= 0")
    return v


def _check_window(window: int | None) -> int:
    if window is None:
        return 0
    if int(window) != window or window < 1:
        raise ConfigError(f"window = {window!r}: must be None or an integer >= 1")
    return int(window)


def _series_values(x: Any, name: str, allow_nan: bool) -> tuple[FloatArray, Any]:
    """Return ``x`` as a contiguous 1-D float64 array and its index (or None)."""
    index = x.index if isinstance(x, pd.Series) else None
    if isinstance(x, pd.DataFrame):
        raise DataError(f"{name}: expected one series, got a DataFrame")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: values must be numeric ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{name}: must be one-dimensional, got shape {arr.shape}")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"{index[i]!r} (row {i})" if index is not None else f"row {i}"
        rule = "finite or NaN (not yet observed)" if allow_nan else "finite"
        raise DataError(f"{name}: value at {where} is {arr[i]!r}; it must be {rule}")
    return np.ascontiguousarray(arr), index


def _frame(columns: dict[str, FloatArray], index: Any) -> pd.DataFrame:
    return pd.DataFrame(columns, index=index if index is not None else None)


# -- split conformal --------------------------------------------------------------------
def split_conformal_threshold(scores: Any, alpha: float) -> float:
    """Return the split-conformal threshold of calibration ``scores``.

    Parameters
    ----------
    scores : array-like
        Calibration non-conformity scores (finite).
    alpha : float
        Target miscoverage in (0, 1).

    Returns
    -------
    float
        The ``ceil((n + 1)(1 - alpha))``-th smallest score, ``+inf`` when that rank exceeds
        ``n`` (too few scores for the level).

    Notes
    -----
    For exchangeable scores, ``P(s_{n+1} <= threshold) >= 1 - alpha`` (Vovk et al. 2005;
    Lei et al. 2018).
    """
    a = _check_alpha(alpha)
    arr, _ = _series_values(scores, "scores", allow_nan=False)
    srt = np.sort(arr)
    return float(conformal_threshold_sorted_nb(srt, srt.shape[0], a))


# -- adaptive conformal inference -------------------------------------------------------
def aci_levels(covered: Any, alpha: float, gamma: float, alpha_1: float | None = None) -> Any:
    """Return the ACI levels ``alpha_t`` driven by observed coverage of external intervals.

    ``out[t]`` uses ``covered[:t]``; a NaN entry (not observed) leaves the level unchanged.
    Use it when the intervals come from elsewhere, e.g. a model refitted at every step.
    """
    a = _check_alpha(alpha)
    g = _check_nonneg(gamma, "gamma")
    a1 = a if alpha_1 is None else float(alpha_1)
    cov, index = _series_values(covered, "covered", allow_nan=True)
    ok = np.isnan(cov) | (cov == 0.0) | (cov == 1.0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise DataError(f"covered: row {i} is {cov[i]!r}; expected 0, 1 (or NaN)")
    out = aci_levels_nb(1.0 - cov, a, g, a1)
    return pd.Series(out, index=index, name="alpha_t") if index is not None else out


class AdaptiveConformal(BaseModel):
    """Adaptive conformal inference (Gibbs & Candes 2021).

    Parameters
    ----------
    alpha : float
        Target miscoverage in (0, 1).
    gamma : float
        Step size (>= 0); ``gamma = 0`` is sequential split conformal on past scores.
    window : int, optional
        Use only the last ``window`` scores as the calibration set (None = all past).
    alpha_1 : float, optional
        Initial level (default ``alpha``).

    Attributes
    ----------
    threshold_ : float
        Threshold for the next score (from all scores seen so far).
    alpha_t_ : float
        Level for the next score.

    Notes
    -----
    ``threshold_t`` is the ``ceil((n_t + 1)(1 - alpha_t))``-th smallest of the ``n_t`` past
    scores (``+inf`` when ``alpha_t <= 0`` or the rank exceeds ``n_t``; ``-inf``, the empty
    set, when ``alpha_t >= 1``); ``err_t = 1{s_t > threshold_t}``;
    ``alpha_{t+1} = alpha_t + gamma (alpha - err_t)``, never clipped, so for every sequence
    ``|mean(err) - alpha| <= (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T)``.
    """

    def __init__(
        self,
        alpha: float = 0.1,
        gamma: float = 0.005,
        window: int | None = None,
        alpha_1: float | None = None,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.window = window
        self.alpha_1 = alpha_1

    _state_attrs = ("_kernel_state", "alpha_t_", "threshold_", "n_scores_")

    def _validate(self) -> tuple[float, float, int, float]:
        a = _check_alpha(self.alpha)
        g = _check_nonneg(self.gamma, "gamma")
        w = _check_window(self.window)
        a1 = a if self.alpha_1 is None else float(self.alpha_1)
        if not np.isfinite(a1):
            raise ConfigError(f"alpha_1 = {self.alpha_1!r}: must be finite")
        return a, g, w, a1

    def filter(self, scores: Any) -> pd.DataFrame:
        """Return per step the threshold, whether the score was covered and ``alpha_t``.

        Parameters
        ----------
        scores : array-like or pandas.Series
            Scores in time order; NaN = not observed (no update).

        Returns
        -------
        pandas.DataFrame
            Columns ``threshold`` (from past scores only), ``covered`` (1.0/0.0, NaN where
            the score is NaN) and ``alpha_t``, on the index of ``scores``. The state is kept,
            so :meth:`update` continues the sequence.
        """
        a, g, w, a1 = self._validate()
        arr, index = _series_values(scores, "scores", allow_nan=True)
        thr, cov, lev, state = aci_nb(arr, a, g, a1, w)
        self._set_state(state)
        return _frame({"threshold": thr, "covered": cov, "alpha_t": lev}, index)

    def state(self) -> dict[str, Any]:
        """Return the live state: ``alpha_t``, ``threshold``, ``n_scores`` and the
        calibration scores (sorted) that the next threshold is computed from."""
        if "_kernel_state" not in self.__dict__:
            return {}
        _, srt, _, count, _ = self._kernel_state
        return {
            "alpha_t": self.alpha_t_,
            "threshold": self.threshold_,
            "n_scores": self.n_scores_,
            "scores": np.array(srt[:count], dtype=np.float64),
        }

    def _set_state(self, state: tuple) -> None:
        self._kernel_state = state
        alpha_t, srt, _, count, _ = state
        self.alpha_t_ = float(alpha_t)
        self.threshold_ = float(conformal_threshold_sorted_nb(srt, count, alpha_t))
        self.n_scores_ = int(count)

    def update(self, score: float) -> tuple[float, float, float]:
        """Absorb one score; return ``(threshold, covered, alpha_t)`` used for it."""
        a, g, w, a1 = self._validate()
        s = float(score)
        if np.isinf(s):
            raise DataError(f"score = {score!r}: scores must be finite (or NaN)")
        if not hasattr(self, "_kernel_state"):
            cap = 1024 if w == 0 else w + 1
            self._kernel_state = (a1, np.empty(cap), np.empty(max(w, 1)), 0, 0)
        alpha_t, srt, ring, count, head = self._kernel_state
        if w == 0 and count + 1 >= srt.shape[0]:
            grown = np.empty(2 * srt.shape[0])
            grown[:count] = srt[:count]
            srt = grown
        state, y = aci_step_nb((alpha_t, srt, ring, count, head), s, a, g, w)
        self._set_state(state)
        return float(y[0]), float(y[1]), float(y[2])


# -- PID quantile tracking -------------------------------------------------------------
class QuantileTracker(BaseModel):
    """Conformal PID control (Angelopoulos, Candes & Tibshirani 2023).

    Parameters
    ----------
    alpha : float
        Target miscoverage in (0, 1).
    eta : float
        Step size of the quantile tracker, in score units (e.g. 0.1 x a typical score).
    ki : float
        Integrator gain (0 = plain quantile tracker, the P part only).
    csat : float, optional
        Saturation constant of the integrator (required when ``ki > 0``).
    q0 : float
        Initial threshold.

    Notes
    -----
    ``q_t = p_t + K_I tan(S_{t-1} log(t) / (C_sat t))``, ``S_{t-1} = sum_{s<t} (err_s -
    alpha)``, ``p_{t+1} = p_t + eta (err_t - alpha)``. With ``ki = 0``, scores in ``[0, B]``
    and ``q0`` in ``[0, B]``, ``|mean(err) - alpha| <= (B + eta) / (eta T)``.
    """

    def __init__(
        self,
        alpha: float = 0.1,
        eta: float = 0.01,
        ki: float = 0.0,
        csat: float | None = None,
        q0: float = 0.0,
    ) -> None:
        self.alpha = alpha
        self.eta = eta
        self.ki = ki
        self.csat = csat
        self.q0 = q0

    _state_attrs = ("_kernel_state", "threshold_")

    def state(self) -> dict[str, Any]:
        """Return the live state: the next ``threshold``, the proportional part ``p``, the
        integral ``sum (err_s - alpha)`` and the number of observed steps."""
        if "_kernel_state" not in self.__dict__:
            return {}
        p, integral, steps = self._kernel_state
        return {
            "threshold": self.threshold_,
            "p": float(p),
            "integral": float(integral),
            "steps": float(steps),
        }

    def _validate(self) -> tuple[float, float, float, float, float]:
        a = _check_alpha(self.alpha)
        eta = _check_nonneg(self.eta, "eta")
        ki = _check_nonneg(self.ki, "ki")
        csat = 1.0 if self.csat is None else float(self.csat)
        if ki > 0 and (self.csat is None or not np.isfinite(csat) or csat <= 0):
            raise ConfigError(f"csat = {self.csat!r}: must be > 0 when ki > 0")
        q0 = float(self.q0)
        if not np.isfinite(q0):
            raise ConfigError(f"q0 = {self.q0!r}: must be finite")
        return a, eta, ki, csat, q0

    def filter(self, scores: Any) -> pd.DataFrame:
        """Return per step ``threshold`` (from past scores), ``covered`` and the P part ``q``."""
        a, eta, ki, csat, q0 = self._validate()
        arr, index = _series_values(scores, "scores", allow_nan=True)
        thr, cov, lev, state = pid_nb(arr, a, eta, ki, csat, q0)
        self._kernel_state = state
        self.threshold_ = self._next_threshold(state, a, eta, ki, csat)
        return _frame({"threshold": thr, "covered": cov, "q": lev}, index)

    @staticmethod
    def _next_threshold(state: tuple, a: float, eta: float, ki: float, csat: float) -> float:
        _, y = pid_step_nb(state, np.nan, a, eta, ki, csat)
        return float(y[0])

    def update(self, score: float) -> tuple[float, float, float]:
        """Absorb one score; return ``(threshold, covered, q)`` used for it."""
        a, eta, ki, csat, q0 = self._validate()
        s = float(score)
        if np.isinf(s):
            raise DataError(f"score = {score!r}: scores must be finite (or NaN)")
        state = getattr(self, "_kernel_state", (q0, 0.0, 0.0))
        state, y = pid_step_nb(state, s, a, eta, ki, csat)
        self._kernel_state = state
        self.threshold_ = self._next_threshold(state, a, eta, ki, csat)
        return float(y[0]), float(y[1]), float(y[2])


# -- interval wrapper -------------------------------------------------------------------
def conformal_interval(
    y_pred: Any,
    residual_scores: Any,
    alpha: float = 0.1,
    method: str = "split",
    *,
    gamma: float = 0.005,
    window: int | None = None,
    eta: float | None = None,
    ki: float = 0.0,
    csat: float | None = None,
) -> pd.DataFrame:
    """Return conformal intervals ``y_pred -+ threshold_t`` around any point forecast.

    Parameters
    ----------
    y_pred : array-like or pandas.Series
        Point forecast for each step (made before the outcome).
    residual_scores : array-like or pandas.Series
        ``|y_t - y_pred_t|`` per step, known once ``y_t`` is; NaN where not yet observed.
    alpha : float
        Target miscoverage.
    method : {"split", "aci", "pid"}
        ``split``: the finite-sample order statistic of past scores at level ``alpha``
        (sequential split conformal; ``window`` limits the calibration set); ``aci``:
        :class:`AdaptiveConformal` with ``gamma``; ``pid``: :class:`QuantileTracker` with
        ``eta`` (required), ``ki``, ``csat``.

    Returns
    -------
    pandas.DataFrame
        Columns ``lower``, ``upper``, ``threshold`` on the index of ``y_pred``. The interval
        at ``t`` uses scores before ``t`` only. An infinite threshold gives the whole line;
        ``-inf`` (ACI with ``alpha_t >= 1``) gives the empty set, encoded as
        ``lower = +inf, upper = -inf`` (width 0, never covers).
    """
    pred, index = _series_values(y_pred, "y_pred", allow_nan=True)
    scores, _ = _series_values(residual_scores, "residual_scores", allow_nan=True)
    if scores.shape != pred.shape:
        raise DataError(
            f"residual_scores: length {scores.shape[0]} differs from y_pred ({pred.shape[0]})"
        )
    if np.any(scores < 0):
        i = int(np.flatnonzero(scores < 0)[0])
        raise DataError(f"residual_scores: row {i} is {scores[i]!r}; absolute residuals are >= 0")
    if method == "split":
        res = AdaptiveConformal(alpha, 0.0, window=window).filter(scores)
    elif method == "aci":
        res = AdaptiveConformal(alpha, gamma, window=window).filter(scores)
    elif method == "pid":
        if eta is None:
            raise ConfigError("eta: required for method='pid' (score units, e.g. 0.1 x a score)")
        res = QuantileTracker(alpha, eta, ki=ki, csat=csat).filter(scores)
    else:
        raise ConfigError(f"method = {method!r}: must be 'split', 'aci' or 'pid'")
    thr = res["threshold"].to_numpy()
    with np.errstate(invalid="ignore"):
        lower = pred - thr
        upper = pred + thr
    return _frame({"lower": lower, "upper": upper, "threshold": thr}, index)


# -- metrics -----------------------------------------------------------------------------
def _bounds(y: Any, lower: Any, upper: Any) -> tuple[FloatArray, FloatArray, FloatArray, Any]:
    yv, index = _series_values(y, "y", allow_nan=True)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != yv.shape or hi.shape != yv.shape:
        raise DataError(f"lower/upper: shapes {lo.shape}/{hi.shape} differ from y {yv.shape}")
    return yv, lo, hi, index


def _covered(yv: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    cov = ((lo <= yv) & (yv <= hi)).astype(np.float64)
    cov[np.isnan(yv) | np.isnan(lo) | np.isnan(hi)] = np.nan
    return cov


def coverage(y: Any, lower: Any, upper: Any) -> float:
    """Return the fraction of observed ``y`` with ``lower <= y <= upper`` (NaN rows skipped)."""
    cov = _covered(*_bounds(y, lower, upper)[:3])
    return float(np.nanmean(cov)) if np.any(~np.isnan(cov)) else float("nan")


def interval_width(lower: Any, upper: Any) -> Any:
    """Return ``max(upper - lower, 0)`` (the empty set has width 0), keeping a Series index."""
    index = lower.index if isinstance(lower, pd.Series) else None
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        w = np.where(hi >= lo, hi - lo, 0.0)
    w[np.isnan(lo) | np.isnan(hi)] = np.nan
    return pd.Series(w, index=index, name="width") if index is not None else w


def rolling_coverage(y: Any, lower: Any, upper: Any, window: int) -> pd.Series:
    """Return the trailing coverage over the last ``window`` observed steps (causal)."""
    w = _check_window(window)
    if w == 0:
        raise ConfigError("window: required (an integer >= 1)")
    yv, lo, hi, index = _bounds(y, lower, upper)
    cov = pd.Series(_covered(yv, lo, hi), index=index)
    return cov.rolling(w, min_periods=1).mean().rename("coverage")


def rolling_width(lower: Any, upper: Any, window: int) -> pd.Series:
    """Return the trailing mean interval width over the last ``window`` steps (causal)."""
    w = _check_window(window)
    if w == 0:
        raise ConfigError("window: required (an integer >= 1)")
    width = interval_width(lower, upper)
    s = width if isinstance(width, pd.Series) else pd.Series(width)
    return s.rolling(w, min_periods=1).mean().rename("width")
