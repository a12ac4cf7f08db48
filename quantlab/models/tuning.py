"""Maximum-likelihood tuning of filter parameters by Nelder-Mead over their logarithms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError

__all__ = ["MLEResult", "fit_mle"]


@dataclass(frozen=True)
class MLEResult:
    """Outcome of :func:`fit_mle`.

    Attributes
    ----------
    params : ndarray
        Estimated (positive) parameters, in the units ``model_factory`` takes.
    loglik : float
        Maximised log-likelihood (``sum(loglik_t[n_burn:])``).
    model : object
        ``model_factory(params)``.
    n_iter, n_eval : int
        Nelder-Mead iterations and likelihood evaluations.
    success : bool
        Whether the optimiser reported convergence.
    message : str
        The optimiser's message.
    """

    params: FloatArray
    loglik: float
    model: Any
    n_iter: int
    n_eval: int
    success: bool
    message: str


def fit_mle(
    model_factory: Callable[[FloatArray], Any],
    z: Any,
    x0_params: Any,
    *,
    n_burn: int = 0,
    maxiter: int | None = None,
    xatol: float = 1e-7,
    fatol: float = 1e-9,
) -> MLEResult:
    """Maximise a filter's likelihood over positive parameters with Nelder-Mead.

    Parameters
    ----------
    model_factory : callable
        ``model_factory(params) -> model``, where ``params`` is a 1-D array of positive
        values (typically variances) and ``model.filter(z)`` returns a result with a
        ``loglik_t`` array (any of ``KalmanFilter``, ``IMM``, ``RBPF``; a seeded RBPF gives
        a deterministic but noisy likelihood surface).
    z : array_like
        Observations passed to ``model.filter``.
    x0_params : array_like
        Starting values of the positive parameters.
    n_burn : int, default 0
        Number of leading observations whose likelihood is excluded (use the number of
        diffuse states when the prior covariance is large).
    maxiter : int, optional
        Iteration cap (default ``400 * len(x0_params)``).
    xatol, fatol : float
        Nelder-Mead tolerances on the log-parameters and on the negative log-likelihood.

    Returns
    -------
    MLEResult

    Raises
    ------
    ConfigError
        ``x0_params`` empty, non-finite or not positive; ``n_burn`` negative; or the
        likelihood is not finite at the starting values.
    DataError
        No observation is left after the first ``n_burn`` rows (all missing): the
        likelihood is then constant (0) and says nothing about the parameters, so there is
        no estimate to return (statsmodels' state-space models refuse such a sample too).

    Notes
    -----
    The search runs over :math:`\\theta = \\log p`, so every trial parameter is positive and
    the simplex moves on a scale-free axis. The objective is
    :math:`-\\sum_{t \\geq n_{burn}} \\ell_t(e^{\\theta})`; a trial that raises a quantlab
    ``ConfigError``/``DataError`` or gives a non-finite value scores ``+inf``.
    """
    p0 = np.asarray(x0_params, dtype=np.float64).reshape(-1)
    if p0.size == 0 or not np.all(np.isfinite(p0)) or np.any(p0 <= 0):
        raise ConfigError(f"x0_params: must be finite and > 0 (searched in logs), got {p0}")
    if n_burn < 0:
        raise ConfigError(f"n_burn: must be >= 0, got {n_burn}")
    _check_observed(z, n_burn)

    def negloglik(theta: FloatArray) -> float:
        try:
            res = model_factory(np.exp(theta)).filter(z)
        except (ConfigError, DataError):
            return np.inf
        value = -float(np.sum(res.loglik_t[n_burn:]))
        return value if np.isfinite(value) else np.inf

    theta0 = np.log(p0)
    f0 = negloglik(theta0)
    if not np.isfinite(f0):
        raise ConfigError(f"x0_params: the likelihood is not finite at the start values {p0}")
    opt = minimize(
        negloglik,
        theta0,
        method="Nelder-Mead",
        options={
            "maxiter": maxiter if maxiter is not None else 400 * p0.size,
            "xatol": xatol,
            "fatol": fatol,
        },
    )
    params = np.exp(opt.x)
    return MLEResult(
        params=params,
        loglik=-float(opt.fun),
        model=model_factory(params),
        n_iter=int(opt.nit),
        n_eval=int(opt.nfev),
        success=bool(opt.success),
        message=str(opt.message),
    )


def _check_observed(z: Any, n_burn: int) -> None:
    """Raise DataError when no row of ``z`` after the first ``n_burn`` is observed."""
    try:
        a = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError):
        return  # the model's own filter() reports non-numeric input
    if a.ndim == 0 or a.shape[0] == 0:
        raise DataError("z: no observations; maximum likelihood needs at least one")
    rows = a.reshape(a.shape[0], -1)
    observed = ~np.isnan(rows).any(axis=1)
    n_obs = int(observed[n_burn:].sum())
    if n_obs == 0:
        total = int(observed.sum())
        where = (
            f"all {a.shape[0]} rows are missing (NaN)"
            if total == 0
            else f"the {total} observed rows all fall in the first n_burn={n_burn}"
        )
        raise DataError(
            f"z: {where}, so the likelihood after n_burn={n_burn} is constant (0) and "
            "carries no information about the parameters; nothing to estimate"
        )
