"""Online aggregation of experts (factors or models) with Hedge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.hedge import hedge_nb, hedge_step_nb
from quantlab.models.base import BaseModel, check_float

__all__ = ["Hedge", "hedge_optimal_eta"]


def hedge_optimal_eta(n_experts: int, horizon: int) -> float:
    """Return ``sqrt(8 ln N / T)``, the rate that minimises the worst-case regret bound.

    Notes
    -----
    With losses in [0, 1], Hedge's regret after T steps is at most
    ``ln N / eta + eta T / 8``; at ``eta = sqrt(8 ln N / T)`` that is ``sqrt((T / 2) ln N)``.
    """
    if n_experts < 1 or horizon < 1:
        raise ConfigError(f"n_experts = {n_experts!r}, horizon = {horizon!r}: both must be >= 1")
    return float(np.sqrt(8.0 * np.log(n_experts) / horizon))


def _loss_matrix(losses: Any) -> tuple[FloatArray, Any, Any]:
    if isinstance(losses, pd.DataFrame):
        index, columns = losses.index, losses.columns
        try:
            arr = losses.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"losses: every column must be numeric ({exc})") from None
    else:
        index = columns = None
        arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"losses: expected a (T, N) matrix, got shape {arr.shape}")
    bad = np.isinf(arr)
    if bad.any():
        t, i = map(int, np.argwhere(bad)[0])
        where = f"row {index[t]!r}" if index is not None else f"row {t}"
        raise DataError(f"losses: {where}, expert {i} is {arr[t, i]!r}; losses must be finite")
    return np.ascontiguousarray(arr), index, columns


class Hedge(BaseModel):
    """Exponentially weighted average forecaster (Hedge) over N experts.

    Parameters
    ----------
    eta : float
        Learning rate (>= 0); see :func:`hedge_optimal_eta`.
    prior : array-like, optional
        Initial weights (positive, normalised internally); uniform when None.

    Attributes
    ----------
    weights_ : numpy.ndarray
        Weights to use for the next step (after :meth:`filter` or :meth:`update`).
    log_weights_ : numpy.ndarray
        The state: log-weights shifted so their maximum is 0.
    n_updates_ : int
        Loss vectors seen.

    Notes
    -----
    ``w_{t,i} ∝ prior_i exp(-eta sum_{s<t} l_{s,i})``, kept in log space. A NaN loss means
    "no information for that expert at that step" and leaves its log-weight unchanged.
    """

    _state_attrs = ("weights_", "log_weights_", "n_updates_")

    def __init__(self, eta: float, prior: Any = None) -> None:
        self.eta = eta
        self.prior = prior

    def _validate(self) -> tuple[float, FloatArray | None]:
        try:
            eta = check_float("eta", self.eta, ge=0.0)
        except ConfigError:
            raise ConfigError(
                f"eta = {self.eta!r}: the learning rate must be finite and >= 0"
            ) from None
        if self.prior is None:
            return eta, None
        prior = np.asarray(self.prior, dtype=np.float64)
        if prior.ndim != 1 or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
            raise ConfigError("prior: weights must be a vector, finite and > 0")
        return eta, prior

    def _init_state(self, n: int) -> FloatArray:
        _, prior = self._validate()
        if prior is None:
            return np.zeros(n)
        if prior.shape != (n,):
            raise ConfigError(f"prior: shape {prior.shape} does not match {n} experts")
        log_p = np.log(prior / prior.sum())
        return log_p - log_p.max()

    def filter(self, losses: Any) -> Any:
        """Return the weights over time for a ``(T, N)`` loss matrix, starting from the prior.

        Row ``t`` uses ``losses[:t]`` only (row 0 is the prior). Afterwards ``weights_`` holds
        the weights for step ``T``, so :meth:`update` continues the same sequence.

        Returns
        -------
        numpy.ndarray or pandas.DataFrame
            Same shape, index and columns as ``losses``.
        """
        self._validate()
        arr, index, columns = _loss_matrix(losses)
        log_w0 = self._init_state(arr.shape[1])
        weights, log_w = hedge_nb(arr, float(self.eta), log_w0)
        self._set_state(log_w, arr.shape[0])
        if index is not None:
            return pd.DataFrame(weights, index=index, columns=columns)
        return weights

    def _set_state(self, log_w: FloatArray, n_updates: int) -> None:
        self.log_weights_ = log_w
        # the step kernel's own normalisation (a NaN loss leaves log_w as it is), so the
        # live weights are bit-identical to the batch run's next row
        w = np.empty_like(log_w)
        hedge_step_nb(log_w.copy(), np.full(log_w.shape[0], np.nan), float(self.eta), w)
        self.weights_ = w
        self.n_updates_ = n_updates

    def update(self, loss_vector: Any) -> FloatArray:
        """Absorb one loss vector and return the weights for the next step."""
        self._validate()
        try:
            loss = np.asarray(loss_vector, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"loss_vector: losses must be numeric ({exc})") from None
        if loss.ndim != 1:
            raise DataError(f"loss_vector: expected shape (N,), got {loss.shape}")
        if not hasattr(self, "log_weights_"):
            self._set_state(self._init_state(loss.shape[0]), 0)
        if loss.shape[0] != self.log_weights_.shape[0]:
            raise DataError(
                f"loss_vector: {loss.shape[0]} losses for {self.log_weights_.shape[0]} experts"
            )
        if np.isinf(loss).any():
            i = int(np.flatnonzero(np.isinf(loss))[0])
            raise DataError(f"loss_vector[{i}] = {loss[i]!r}: losses must be finite")
        log_w = self.log_weights_.copy()
        log_w, _ = hedge_step_nb(log_w, loss, float(self.eta), np.empty_like(log_w))
        self._set_state(log_w, self.n_updates_ + 1)
        return self.weights_.copy()
