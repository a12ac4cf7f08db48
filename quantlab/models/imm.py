"""Interacting Multiple Model estimator: Kalman filters per regime, mixed by a Markov chain."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.imm import imm_filter_nb, imm_step_nb, imm_workspace_nb
from quantlab.models.base import (
    IMMResult,
    RegimeModel,
    Step,
    as_matrix,
    as_observation,
    as_observations,
)
from quantlab.models.kalman import KalmanFilter, check_loglik

__all__ = [
    "IMM",
    "regime_accuracy",
    "regime_arrays",
    "stack_filters",
    "validate_regime_chain",
]

_PROB_ATOL = 1e-9


def stack_filters(filters: Sequence[KalmanFilter]) -> tuple[FloatArray, ...]:
    """Validate a list of Kalman filters and stack their ``(F, H, Q, R, x0, P0)``.

    Raises ConfigError when the list is empty, an item is not a ``KalmanFilter`` or the
    filters' state/observation dimensions differ.
    """
    if not isinstance(filters, Sequence) or len(filters) == 0:
        raise ConfigError("filters: must be a non-empty sequence of KalmanFilter")
    mats = []
    for i, f in enumerate(filters):
        if not isinstance(f, KalmanFilter):
            raise ConfigError(f"filters[{i}]: must be a KalmanFilter, got {type(f).__name__}")
        try:
            mats.append(f.matrices())
        except ConfigError as exc:
            raise ConfigError(f"filters[{i}].{exc}") from exc
    dim_x, dim_z = mats[0][0].shape[0], mats[0][1].shape[0]
    for i, m in enumerate(mats):
        if m[0].shape[0] != dim_x or m[1].shape[0] != dim_z:
            raise ConfigError(
                f"filters[{i}]: dim_x={m[0].shape[0]}, dim_z={m[1].shape[0]} differ from "
                f"filters[0] (dim_x={dim_x}, dim_z={dim_z}); all models must share them"
            )
    return tuple(np.ascontiguousarray(np.stack([m[k] for m in mats])) for k in range(6))


def validate_regime_chain(
    transition: Any, mu0: Any, n_models: int
) -> tuple[FloatArray, FloatArray]:
    """Return ``(log_transition, log_mu0)`` after checking they are valid probabilities.

    ``transition[i, j] = P(regime i -> regime j)`` must be ``n_models`` square, non-negative,
    with rows summing to 1; ``mu0`` (None: uniform) non-negative, summing to 1.
    """
    T = as_matrix("transition", transition, (n_models, n_models))
    if np.any(T < 0):
        i, j = np.argwhere(T < 0)[0]
        raise ConfigError(f"transition: entry [{i}, {j}] = {T[i, j]} is negative")
    rows = T.sum(axis=1)
    bad = np.abs(rows - 1.0) > _PROB_ATOL
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(
            f"transition: row {i} sums to {rows[i]!r}, rows must sum to 1 "
            "(transition[i, j] = P(regime i -> regime j))"
        )
    if mu0 is None:
        mu = np.full(n_models, 1.0 / n_models)
    else:
        mu = np.asarray(mu0, dtype=np.float64).reshape(-1)
        if mu.shape[0] != n_models or not np.all(np.isfinite(mu)):
            raise ConfigError(f"mu0: must be {n_models} finite probabilities, got {mu}")
        if np.any(mu < 0) or abs(mu.sum() - 1.0) > _PROB_ATOL:
            raise ConfigError(f"mu0: must be non-negative and sum to 1, got sum {mu.sum()!r}")
    with np.errstate(divide="ignore"):
        return np.ascontiguousarray(np.log(T)), np.ascontiguousarray(np.log(mu))


def regime_arrays(
    filters: Sequence[KalmanFilter], transition: Any, mu0: Any
) -> tuple[FloatArray, ...]:
    """Return the validated ``(Fs, Hs, Qs, Rs, x0s, P0s, log_T, log_mu0)`` of a regime model.

    The per-regime matrices come from :func:`stack_filters`, the log transition matrix and
    log initial probabilities from :func:`validate_regime_chain`.
    """
    Fs, Hs, Qs, Rs, x0s, P0s = stack_filters(filters)
    log_T, log_mu0 = validate_regime_chain(transition, mu0, Fs.shape[0])
    return Fs, Hs, Qs, Rs, x0s, P0s, log_T, log_mu0


class IMM(RegimeModel):
    """Interacting Multiple Model estimator over Kalman filters switched by a Markov chain.

    Parameters
    ----------
    filters : sequence of KalmanFilter
        One model per regime, all with the same ``dim_x`` and ``dim_z``; each brings its own
        ``F, H, Q, R`` (fitted ``Q_``/``R_`` when present) and prior ``x0, P0``.
    transition : array_like, shape (n_models, n_models)
        ``transition[i, j] = P(regime i -> regime j)``; rows sum to 1.
    mu0 : array_like, shape (n_models,), optional
        Regime probabilities before the first observation (default uniform).

    Attributes
    ----------
    x_, P_, mu_ : ndarray
        Live combined state and regime probabilities after the last ``filter``/``update``.

    Notes
    -----
    Equals filterpy's ``IMMEstimator(filters, mu0, transition)`` driven by
    ``predict(); update(z)`` (filterpy reads ``M[i, j]`` as ``P(i -> j)`` too), computed in
    log space. Each step (see :func:`quantlab.kernels.imm.imm_step_nb`) mixes the
    model-conditioned posteriors with weights
    :math:`\\omega_{ij} = \\Pi_{ij}\\mu_i / \\bar c_j`, runs each Kalman filter and sets
    :math:`\\mu_j \\propto \\bar c_j L_j`. The step log-likelihood is
    :math:`\\log \\sum_j \\bar c_j L_j`. With identical models it reduces to one Kalman
    filter; with ``transition = I`` to Bayesian model averaging; with static states
    (``Q = 0``, ``P0 = 0``) to Hamilton's Markov-switching filter. A missing observation
    (NaN) moves the probabilities by the chain alone (``mu_t = mu_{t-1} @ transition``)
    and contributes 0 to the likelihood.
    """

    def __init__(
        self,
        filters: Sequence[KalmanFilter],
        transition: Any,
        mu0: Any = None,
    ) -> None:
        self.filters = filters
        self.transition = transition
        self.mu0 = mu0
        self._live: tuple[Any, ...] | None = None

    _live_fields: ClassVar[dict[str, int]] = {"x": 3, "P": 4, "mu": 5}

    def _validate(self) -> tuple[Any, ...]:
        return regime_arrays(self.filters, self.transition, self.mu0)

    _arrays = _validate

    @property
    def n_models(self) -> int:
        """Number of regimes."""
        return len(self.filters)

    def filter(self, z: Any) -> IMMResult:
        """Run the IMM over a series of observations from the priors.

        Parameters
        ----------
        z : array_like, shape (n, dim_z) or (n,) when dim_z == 1
            Observations; a row with NaN is missing.

        Returns
        -------
        IMMResult
            ``x``, ``P`` (combined), ``mu`` (n, n_models), ``x_models``, ``P_models``,
            ``loglik_t`` and ``loglik``.
        """
        arrays = self._arrays()
        Fs, Hs, Qs, Rs, x0s, P0s, log_T, log_mu0 = arrays
        zz, index = as_observations(z, Hs.shape[1])
        xs, Ps, log_mu = x0s.copy(), P0s.copy(), log_mu0.copy()
        x, P, mu, xm, Pm, ll = imm_filter_nb(zz, Fs, Hs, Qs, Rs, log_T, xs, Ps, log_mu)
        check_loglik(ll, index, "IMM")
        names = tuple(self.filters[0].state_names or ())
        if zz.shape[0]:
            state = (xs, Ps, log_mu, x[-1].copy(), P[-1].copy(), mu[-1].copy())
            self._start_live(arrays, state)
        else:
            self.reset()
        return IMMResult(
            x=x,
            P=P,
            loglik_t=ll,
            index=index,
            state_names=names,
            mu=mu,
            x_models=xm,
            P_models=Pm,
        )

    def _start_live(self, arrays: tuple[Any, ...], state: tuple[FloatArray, ...]) -> None:
        Fs, Hs = arrays[0], arrays[1]
        work = imm_workspace_nb(Fs.shape[0], Fs.shape[1], Hs.shape[1])
        self._live = (*state, work, arrays)

    def reset(self) -> IMM:
        """Reset the live state to the priors; return self."""
        arrays = self._arrays()
        _, _, _, _, x0s, P0s, _, log_mu0 = arrays
        x = np.zeros(x0s.shape[1])
        P = np.zeros((x0s.shape[1], x0s.shape[1]))
        state = (x0s.copy(), P0s.copy(), log_mu0.copy(), x, P, np.exp(log_mu0))
        self._start_live(arrays, state)
        return self

    def update(self, z: Any) -> Step:
        """Advance the live state by one IMM step; return combined ``x``, ``P``, ``mu``."""
        if self._live is None:
            self.reset()
        assert self._live is not None
        xs, Ps, log_mu, x, P, mu, work, arrays = self._live
        Fs, Hs, Qs, Rs, _, _, log_T, _ = arrays
        z_t = as_observation(z, Hs.shape[1])
        _, _, _, ll = imm_step_nb(xs, Ps, log_mu, z_t, Fs, Hs, Qs, Rs, log_T, x, P, mu, work)
        if np.isnan(ll):
            raise DataError("z: an IMM model's innovation covariance is not positive definite")
        return Step(x=x.copy(), P=P.copy(), loglik=float(ll), mu=mu.copy())


def regime_accuracy(true_labels: Any, mu: Any, permute: bool = True) -> float:
    """Return the fraction of steps whose most probable regime is the true one.

    Parameters
    ----------
    true_labels : array_like of int, shape (n,)
        Generator's regime at each step, in ``0..n_models-1``.
    mu : array_like, shape (n, n_models)
        Regime probabilities (e.g. ``IMMResult.mu``).
    permute : bool, default True
        Score the best relabelling of the models (regime labels are arbitrary when the
        models were not built in the generator's order).

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    labels = np.asarray(true_labels)
    probs = np.asarray(mu, dtype=np.float64)
    if probs.ndim != 2 or labels.ndim != 1 or labels.shape[0] != probs.shape[0]:
        raise DataError(
            f"true_labels/mu: need shapes (n,) and (n, n_models), got {labels.shape} and "
            f"{probs.shape}"
        )
    k = probs.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise DataError(f"true_labels: values must be in 0..{k - 1}")
    if labels.size == 0:
        return float("nan")
    pred = np.argmax(probs, axis=1)
    if not permute:
        return float(np.mean(pred == labels))
    if k > 8:
        raise ConfigError(f"permute: at most 8 regimes can be relabelled, got {k}")
    best = 0.0
    for perm in itertools.permutations(range(k)):
        best = max(best, float(np.mean(np.asarray(perm)[pred] == labels)))
    return best
