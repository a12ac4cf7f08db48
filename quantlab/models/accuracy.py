"""Prediction accuracy per factor and per model, and causal accuracy weights.

A signal (factor value or model forecast) made at bar ``t`` predicts the return from ``t``
to ``t + horizon``; it is scored at bar ``t + horizon``, when that return is known. Every
output at bar ``t`` uses signals and returns up to ``t`` only.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.models.base import BaseModel, check_choice, check_int
from quantlab.models.conformal import coverage as interval_coverage
from quantlab.models.hedge import Hedge

__all__ = [
    "AccuracyTracker",
    "directional_accuracy",
    "gaussian_pit",
    "interval_coverage",
    "mean_absolute_error",
    "pit_histogram",
]


def _pair(pred: Any, outcome: Any) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(pred, dtype=np.float64)
    o = np.asarray(outcome, dtype=np.float64)
    if p.shape != o.shape or p.ndim != 1:
        raise DataError(f"pred/outcome: need two 1-D arrays of one length, got {p.shape}/{o.shape}")
    return p, o


def _hits(pred: FloatArray, outcome: FloatArray) -> FloatArray:
    """1.0 where the signs agree, 0.0 where they differ, NaN where either is 0 or NaN."""
    with np.errstate(invalid="ignore"):
        prod = np.sign(pred) * np.sign(outcome)
    hit = np.where(prod > 0, 1.0, 0.0)
    hit[~(np.abs(prod) > 0)] = np.nan
    return hit


def directional_accuracy(pred: Any, outcome: Any) -> float:
    """Return the share of rows where ``sign(pred) == sign(outcome)``.

    Rows where either is 0 or NaN (no call, or no move) are left out; NaN when none is left.
    """
    hit = _hits(*_pair(pred, outcome))
    return float(np.nanmean(hit)) if np.any(~np.isnan(hit)) else float("nan")


def mean_absolute_error(pred: Any, outcome: Any) -> float:
    """Return ``mean |pred - outcome|`` over rows where both are finite."""
    p, o = _pair(pred, outcome)
    err = np.abs(p - o)
    ok = np.isfinite(err)
    return float(err[ok].mean()) if ok.any() else float("nan")


def gaussian_pit(y: Any, mean: Any, std: Any) -> FloatArray:
    """Return the probability integral transform ``Phi((y - mean) / std)``.

    Uniform on (0, 1) when ``y ~ N(mean, std^2)``: the input of :func:`pit_histogram`.
    """
    yv = np.asarray(y, dtype=np.float64)
    sd = np.asarray(std, dtype=np.float64)
    if np.any(sd <= 0):
        raise DataError("std: predictive standard deviations must be > 0")
    return norm.cdf((yv - np.asarray(mean, dtype=np.float64)) / sd)


def pit_histogram(pit: Any, bins: int = 10) -> pd.DataFrame:
    """Return the PIT histogram: observed and expected share per equal-width bin of [0, 1].

    Returns
    -------
    pandas.DataFrame
        Index: bin left edge; columns ``count``, ``share`` (count / n) and ``expected``
        (``1 / bins``, the share under perfect calibration). A U shape means intervals too
        narrow (over-confident), a hump too wide.
    """
    if int(bins) != bins or bins < 1:
        raise ConfigError(f"bins = {bins!r}: must be an integer >= 1")
    u = np.asarray(pit, dtype=np.float64)
    u = u[~np.isnan(u)]
    if np.any((u < 0) | (u > 1)):
        raise DataError("pit: values must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    counts, _ = np.histogram(u, bins=edges)
    n = max(u.size, 1)
    return pd.DataFrame(
        {
            "count": counts.astype(np.int64),
            "share": counts / n,
            "expected": np.full(int(bins), 1.0 / bins),
        },
        index=pd.Index(edges[:-1], name="bin"),
    )


_METHODS = ("hedge", "accuracy")


class AccuracyTracker(BaseModel):
    """Track each signal's accuracy online and turn it into composition weights.

    Parameters
    ----------
    horizon : int
        Bars ahead each signal predicts; a signal at ``t`` is scored at ``t + horizon``.
    method : {"hedge", "accuracy"}
        ``hedge``: Hedge over directional 0/1 losses (abstaining, i.e. a NaN or 0 signal,
        counts 0.5); ``accuracy``: weight ``max(acc - 0.5, 0)`` from the trailing directional
        accuracy, normalised (a row of zeros when no signal beats a coin flip).
    eta : float
        Hedge learning rate (``method="hedge"``).
    window : int
        Bars in the trailing accuracy / MAE windows.
    min_obs : int
        Scored predictions a signal needs in the window before ``method="accuracy"`` weights
        it (its accuracy is NaN before).

    Attributes (after :meth:`filter`)
    ------------------------------
    weights_ : pandas.DataFrame
        Weight per signal on the bars' index; row ``t`` uses outcomes known by ``t``.
    hits_ : pandas.DataFrame
        1/0 directional hit of the signal made at ``t - horizon``, scored at ``t``.
    accuracy_ : pandas.DataFrame
        Trailing directional accuracy (``window`` bars, at least ``min_obs`` scored).
    abs_error_ : pandas.DataFrame
        ``|signal_{t-h} - R_t|`` scored at ``t``.
    mae_ : pandas.DataFrame
        Trailing mean absolute error between the signal and the realised return (only
        meaningful for signals that forecast returns).

    Notes
    -----
    The realised return scored at ``t`` is ``R_t = exp(sum_{k=t-h+1}^{t} log(1 + r_k)) - 1``
    for the per-bar returns ``r`` (``r_t = close_t / close_{t-1} - 1``, known at ``t``).
    """

    def __init__(
        self,
        horizon: int = 1,
        method: str = "hedge",
        eta: float = 0.05,
        window: int = 200,
        min_obs: int = 20,
    ) -> None:
        self.horizon = horizon
        self.method = method
        self.eta = eta
        self.window = window
        self.min_obs = min_obs

    def _validate(self) -> None:
        for name, value, low in (
            ("horizon", self.horizon, 1),
            ("window", self.window, 1),
            ("min_obs", self.min_obs, 1),
        ):
            check_int(name, value, low)
        check_choice("method", self.method, _METHODS)
        if self.method == "hedge":
            Hedge(self.eta).check_params()
        if self.min_obs > self.window:
            raise ConfigError(
                f"min_obs = {self.min_obs!r} > window = {self.window!r}: can never be met"
            )

    # -- batch --------------------------------------------------------------------------
    def filter(self, signals: pd.DataFrame, returns: pd.Series) -> pd.DataFrame:
        """Score every signal causally and return the weights per signal on its index.

        Parameters
        ----------
        signals : pandas.DataFrame
            One column per factor/model, on the bars' index.
        returns : pandas.Series
            Per-bar simple returns on the same index (NaN allowed, e.g. the first row).
        """
        self._validate()
        sig, ret = self._check_data(signals, returns)
        h = int(self.horizon)
        logr = np.log1p(ret)
        realised = np.expm1(pd.Series(logr).rolling(h, min_periods=h).sum().to_numpy())
        lagged = np.full_like(sig, np.nan)
        lagged[h:] = sig[:-h]
        hits = _hits(lagged, np.broadcast_to(realised[:, None], lagged.shape).copy())
        abs_err = np.abs(lagged - realised[:, None])
        index, columns = signals.index, signals.columns
        self.hits_ = pd.DataFrame(hits, index=index, columns=columns)
        w = int(self.window)
        self.accuracy_ = self.hits_.rolling(w, min_periods=int(self.min_obs)).mean()
        self.abs_error_ = pd.DataFrame(abs_err, index=index, columns=columns)
        self.mae_ = self.abs_error_.rolling(w, min_periods=1).mean()
        if self.method == "hedge":
            losses = self._hedge_losses(hits, realised)
            hedge = Hedge(self.eta)
            before = hedge.filter(losses)
            weights = np.vstack([before[1:], hedge.weights_[None, :]])
            self._hedge = hedge
        else:
            weights = self._accuracy_weights(self.accuracy_.to_numpy())
        self.weights_ = pd.DataFrame(weights, index=index, columns=columns)
        self._prime_stream(sig, logr, hits, abs_err)
        return self.weights_

    @staticmethod
    def _hedge_losses(hits: FloatArray, realised: FloatArray) -> FloatArray:
        loss = 1.0 - hits
        loss[np.isnan(loss)] = 0.5
        no_outcome = ~(np.abs(realised) > 0)
        loss[no_outcome, :] = np.nan
        return loss

    @staticmethod
    def _accuracy_weights(acc: FloatArray) -> FloatArray:
        edge = np.clip(np.nan_to_num(acc - 0.5, nan=0.0), 0.0, None)
        total = edge.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, edge / total, 0.0)

    def _check_data(self, signals: Any, returns: Any) -> tuple[FloatArray, FloatArray]:
        if not isinstance(signals, pd.DataFrame):
            raise DataError("signals: expected a DataFrame (one column per factor or model)")
        if not isinstance(returns, pd.Series):
            raise DataError("returns: expected a Series on the signals' index")
        if not returns.index.equals(signals.index):
            raise DataError("returns: index differs from the signals' index")
        try:
            sig = signals.to_numpy(dtype=np.float64)
            ret = returns.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"signals/returns: must be numeric ({exc})") from None
        if np.isinf(sig).any():
            t, i = map(int, np.argwhere(np.isinf(sig))[0])
            raise DataError(
                f"signals: column {signals.columns[i]!r} at {signals.index[t]!r} is infinite"
            )
        bad = np.isinf(ret) | (ret <= -1.0)
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"returns: value at {returns.index[t]!r} is {ret[t]!r}; simple returns must "
                "be finite and > -1"
            )
        return np.ascontiguousarray(sig), ret

    # -- streaming ------------------------------------------------------------------------
    def _prime_stream(
        self, sig: FloatArray, logr: FloatArray, hits: FloatArray, abs_err: FloatArray
    ) -> None:
        h, w = int(self.horizon), int(self.window)
        self._n = sig.shape[1]
        self._sig_buf: deque = deque((row.copy() for row in sig[-h:]), maxlen=h)
        self._ret_buf: deque = deque(logr[-h:].tolist(), maxlen=h)
        self._hit_buf: deque = deque((row.copy() for row in hits[-w:]), maxlen=w)
        self._err_buf: deque = deque((row.copy() for row in abs_err[-w:]), maxlen=w)

    def update(self, signal_row: Any, ret: float) -> FloatArray:
        """Absorb bar ``t`` (its signals and its return) and return the weights for bar ``t``.

        Continues a previous :meth:`filter`, or starts from scratch; batch and streaming
        agree.
        """
        self._validate()
        row = np.asarray(signal_row, dtype=np.float64).reshape(-1)
        if not hasattr(self, "_n"):
            self._n = row.shape[0]
            h, w = int(self.horizon), int(self.window)
            self._sig_buf = deque(maxlen=h)
            self._ret_buf = deque(maxlen=h)
            self._hit_buf = deque(maxlen=w)
            self._err_buf = deque(maxlen=w)
            self._hedge = Hedge(self.eta)
        if row.shape[0] != self._n:
            raise DataError(f"signal_row: {row.shape[0]} values for {self._n} signals")
        if np.isinf(row).any():
            raise DataError("signal_row: signals must be finite or NaN")
        r = float(ret)
        if np.isinf(r) or r <= -1.0:
            raise DataError(f"ret = {ret!r}: simple returns must be finite and > -1")
        h = int(self.horizon)
        self._ret_buf.append(np.log1p(r))
        realised = np.nan
        if len(self._ret_buf) == h:
            realised = float(np.expm1(np.sum(np.asarray(self._ret_buf))))
        lagged = self._sig_buf[0] if len(self._sig_buf) == h else np.full(self._n, np.nan)
        hit = _hits(lagged, np.full(self._n, realised))
        self._hit_buf.append(hit)
        self._err_buf.append(np.abs(lagged - realised))
        self._sig_buf.append(row)
        if self.method == "hedge":
            loss = self._hedge_losses(hit[None, :], np.array([realised]))[0]
            weights = self._hedge.update(loss)
        else:
            hits = np.asarray(self._hit_buf)
            count = np.sum(~np.isnan(hits), axis=0)
            total = np.nansum(hits, axis=0)
            acc = np.where(count >= int(self.min_obs), total / np.maximum(count, 1), np.nan)
            weights = self._accuracy_weights(acc[None, :])[0]
        return weights

    _STREAM = ("_n", "_sig_buf", "_ret_buf", "_hit_buf", "_err_buf", "_hedge")

    def reset(self) -> AccuracyTracker:
        """Forget the streaming state (the next :meth:`update` starts afresh); return self."""
        self._validate()
        for name in self._STREAM:
            self.__dict__.pop(name, None)
        return self

    def state(self) -> dict[str, Any]:
        """Return the streaming state: the buffered signals, log returns, hits and errors
        (and the Hedge state with ``method="hedge"``); ``{}`` before any filter/update."""
        if "_n" not in self.__dict__:
            return {}
        n = self._n
        out: dict[str, Any] = {
            "signals": np.array(list(self._sig_buf), dtype=np.float64).reshape(-1, n),
            "log_returns": np.array(list(self._ret_buf), dtype=np.float64),
            "hits": np.array(list(self._hit_buf), dtype=np.float64).reshape(-1, n),
            "abs_errors": np.array(list(self._err_buf), dtype=np.float64).reshape(-1, n),
        }
        if self.method == "hedge" and "_hedge" in self.__dict__:
            out["hedge"] = self._hedge.state()
        return out

    # -- summary --------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Return per signal: directional accuracy, MAE and scored count over the whole run."""
        if not hasattr(self, "hits_"):
            raise ConfigError("AccuracyTracker: call filter(signals, returns) first")
        hits = self.hits_.to_numpy()
        counts = np.sum(~np.isnan(hits), axis=0)
        with np.errstate(invalid="ignore"):
            acc = np.where(counts > 0, np.nansum(hits, axis=0) / np.maximum(counts, 1), np.nan)
        err = self.abs_error_.to_numpy()
        n_err = np.sum(~np.isnan(err), axis=0)
        mae = np.where(n_err > 0, np.nansum(err, axis=0) / np.maximum(n_err, 1), np.nan)
        return pd.DataFrame(
            {"directional_accuracy": acc, "mae": mae, "n_scored": counts},
            index=self.hits_.columns,
        )
