"""Linear Gaussian Kalman filter with physically meaningful ready-made models.

``KalmanFilter(F, H, Q, R, x0, P0).filter(z)`` runs the numba kernel
:func:`quantlab.kernels.kalman.kalman_filter_nb`; ``update(z_t)`` advances a live state with
the same step kernel, so a live run reproduces the batch run exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.kalman import kalman_filter_nb, kalman_step_nb, kalman_workspace_nb
from quantlab.models.base import (
    FilterResult,
    StateSpaceModel,
    Step,
    as_covariance,
    as_matrix,
    as_observation,
    as_observations,
    as_vector,
)

__all__ = ["KalmanFilter", "check_loglik", "white_noise_cov"]

DIFFUSE_P0 = 1e7


def check_loglik(loglik_t: FloatArray, index: pd.Index | None, what: str) -> None:
    """Raise DataError naming the first step whose log-likelihood is NaN."""
    bad = np.isnan(loglik_t)
    if bad.any():
        row = int(np.argmax(bad))
        label = index[row] if index is not None else row
        raise DataError(
            f"z: at row {label!r} the {what} innovation covariance S = H P H' + R is not "
            "positive definite (make R positive definite)"
        )


def white_noise_cov(dim: int, dt: float, var: float) -> FloatArray:
    """Return the discrete white-noise process covariance of a ``dim``-th order kinematic model.

    Parameters
    ----------
    dim : {1, 2, 3}
        1: random walk; 2: velocity driven by white acceleration; 3: acceleration driven by
        white jerk.
    dt : float
        Time step.
    var : float
        Variance of the driving noise.

    Returns
    -------
    ndarray, shape (dim, dim)

    Notes
    -----
    ``Q = var * g g'`` with ``g = (dt^2/2, dt, 1)`` truncated to the last ``dim`` entries
    (dim 1: ``g = (1,)``). Equals filterpy ``Q_discrete_white_noise(dim, dt, var)`` for
    dim 2 and 3.
    """
    if dim == 1:
        g = np.array([1.0])
    elif dim == 2:
        g = np.array([0.5 * dt * dt, dt])
    elif dim == 3:
        g = np.array([0.5 * dt * dt, dt, 1.0])
    else:
        raise ConfigError(f"dim: white-noise covariance needs dim in (1, 2, 3), got {dim}")
    return var * np.outer(g, g)


class KalmanFilter(StateSpaceModel):
    """Linear Gaussian state-space model filtered by the Kalman recursions.

    Parameters
    ----------
    F : array_like, shape (dim_x, dim_x)
        State transition: ``x_t = F x_{t-1} + w_t``, ``w_t ~ N(0, Q)``.
    H : array_like, shape (dim_z, dim_x)
        Observation matrix: ``z_t = H x_t + v_t``, ``v_t ~ N(0, R)``.
    Q : array_like, shape (dim_x, dim_x)
        Process-noise covariance (symmetric PSD).
    R : array_like, shape (dim_z, dim_z)
        Observation-noise covariance (symmetric PSD; ``H P H' + R`` must be PD).
    x0 : array_like, shape (dim_x,)
        Prior mean of the state before the first observation.
    P0 : array_like, shape (dim_x, dim_x)
        Prior covariance (symmetric PSD); a large multiple of the identity is a practical
        diffuse prior.
    state_names : sequence of str, optional
        Names of the state components (used by ``FilterResult.to_frame``).

    Attributes
    ----------
    Q_, R_ : ndarray
        Covariances estimated by :meth:`fit`; when set, ``filter``/``update`` use them.
    q_scale_, r_scale_ : float
        Multipliers of ``Q`` and ``R`` estimated by :meth:`fit`.
    loglik_ : float
        Maximised log-likelihood (excluding the first ``n_burn`` observations).
    n_burn_ : int
        Observations excluded from the likelihood by :meth:`fit`.
    x_, P_ : ndarray
        The live state: posterior after the last ``filter``/``update`` call.

    Notes
    -----
    Each step predicts and then updates, as filterpy's ``predict(); update(z)``:

    .. math::

        \\hat x^- = F \\hat x, \\quad P^- = F P F' + Q, \\quad
        y = z - H \\hat x^-, \\quad S = H P^- H' + R, \\quad K = P^- H' S^{-1},

        \\hat x = \\hat x^- + K y, \\quad P = (I - K H) P^- (I - K H)' + K R K',

    and ``loglik_t = log N(y; 0, S)``. A row of ``z`` with a NaN is a missing observation:
    the step only predicts (``x, P`` are the prior) and contributes ``loglik_t = 0``.

    Examples
    --------
    >>> kf = KalmanFilter.local_level(sigma2_level=1.0, sigma2_obs=4.0)
    >>> res = kf.filter(np.array([1.0, 2.0, np.nan, 1.5]))
    >>> res.x.shape, res.loglik_t[2]
    ((4, 1), 0.0)
    """

    _live_fields: ClassVar[dict[str, int]] = {"x": 0, "P": 1}

    def __init__(
        self,
        F: Any,
        H: Any,
        Q: Any,
        R: Any,
        x0: Any,
        P0: Any,
        state_names: Sequence[str] | None = None,
    ) -> None:
        self.F = F
        self.H = H
        self.Q = Q
        self.R = R
        self.x0 = x0
        self.P0 = P0
        self.state_names = state_names
        self._live: tuple[FloatArray, FloatArray, tuple[Any, ...], tuple[FloatArray, ...]] | None
        self._live = None

    # ------------------------------------------------------------------ ready-made models

    @classmethod
    def local_level(
        cls,
        sigma2_level: float,
        sigma2_obs: float,
        x0: float = 0.0,
        P0: float = DIFFUSE_P0,
    ) -> KalmanFilter:
        """Build the local-level (random walk plus noise) model.

        The state is the unobserved ``level``: ``level_t = level_{t-1} + eta_t`` with
        ``Var(eta) = sigma2_level``, observed as ``z_t = level_t + eps_t`` with
        ``Var(eps) = sigma2_obs``. The default prior is diffuse-like (``P0 = 1e7``).
        """
        return cls(
            F=[[1.0]],
            H=[[1.0]],
            Q=[[sigma2_level]],
            R=[[sigma2_obs]],
            x0=[x0],
            P0=[[P0]],
            state_names=("level",),
        )

    @classmethod
    def constant_velocity(
        cls,
        q: float,
        r: float,
        dt: float = 1.0,
        x0: Sequence[float] = (0.0, 0.0),
        P0: float = DIFFUSE_P0,
    ) -> KalmanFilter:
        """Build the constant-velocity model: a level moved by a capital-flow rate.

        State ``(level, velocity)``: the velocity is the capital-flow rate, the net pace at
        which money pushes the price; it persists and is nudged by white acceleration noise
        of variance ``q``: ``F = [[1, dt], [0, 1]]``, ``Q = q g g'`` with
        ``g = (dt^2/2, dt)``. Only the level is observed, with noise variance ``r``.
        ``P0`` is the prior variance of each state (diffuse-like by default).
        """
        return cls(
            F=[[1.0, dt], [0.0, 1.0]],
            H=[[1.0, 0.0]],
            Q=white_noise_cov(2, dt, q),
            R=[[r]],
            x0=list(x0),
            P0=np.eye(2) * P0,
            state_names=("level", "velocity"),
        )

    @classmethod
    def constant_acceleration(
        cls,
        q: float,
        r: float,
        dt: float = 1.0,
        decay: float = 1.0,
        x0: Sequence[float] = (0.0, 0.0, 0.0),
        P0: float = DIFFUSE_P0,
    ) -> KalmanFilter:
        """Build the constant-acceleration model with decay: herd dynamics behind a price.

        State ``(level, velocity, acceleration)``. The velocity is the capital-flow rate;
        the acceleration is herd intensification, the rate at which more followers join the
        flow; ``decay`` in (0, 1] is follower exhaustion, the fraction of the herd
        intensification that survives one step (1: no exhaustion; smaller: the herd tires
        faster). ``F = [[1, dt, dt^2/2], [0, 1, dt], [0, 0, decay]]``,
        ``Q = q g g'`` with ``g = (dt^2/2, dt, 1)`` (white jerk of variance ``q``); only the
        level is observed, with noise variance ``r``.
        """
        if not 0.0 < decay <= 1.0:
            raise ConfigError(f"decay: follower exhaustion must be in (0, 1], got {decay}")
        return cls(
            F=[[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, decay]],
            H=[[1.0, 0.0, 0.0]],
            Q=white_noise_cov(3, dt, q),
            R=[[r]],
            x0=list(x0),
            P0=np.eye(3) * P0,
            state_names=("level", "velocity", "acceleration"),
        )

    # ------------------------------------------------------------------ validation

    @property
    def dim_x(self) -> int:
        """State dimension (rows of ``F``)."""
        return as_matrix("F", self.F, (None, None)).shape[0]

    @property
    def dim_z(self) -> int:
        """Observation dimension (rows of ``H``)."""
        return as_matrix("H", self.H, (None, None)).shape[0]

    def matrices(self) -> tuple[FloatArray, ...]:
        """Return validated ``(F, H, Q, R, x0, P0)``, using ``Q_``/``R_`` when fitted.

        Raises
        ------
        ConfigError
            ``F`` not square, ``H``/``x0``/covariances of incompatible shapes, covariances
            not symmetric or not positive semi-definite, non-finite entries.
        """
        F = as_matrix("F", self.F, (None, None))
        if F.shape[0] != F.shape[1]:
            raise ConfigError(f"F: transition matrix must be square, got shape {F.shape}")
        dim_x = F.shape[0]
        H = as_matrix("H", self.H, (None, dim_x))
        dim_z = H.shape[0]
        Q = as_covariance("Q", getattr(self, "Q_", self.Q), dim_x)
        R = as_covariance("R", getattr(self, "R_", self.R), dim_z)
        x0 = as_vector("x0", self.x0, dim_x)
        P0 = as_covariance("P0", self.P0, dim_x)
        return F, H, Q, R, x0, P0

    def _validate(self) -> tuple[FloatArray, ...]:
        return self.matrices()

    # ------------------------------------------------------------------ filtering

    def filter(self, z: Any) -> FilterResult:
        """Filter a series of observations from the prior ``(x0, P0)``.

        Parameters
        ----------
        z : array_like or pandas object, shape (n, dim_z) or (n,) when dim_z == 1
            Observations; a row containing NaN is missing (predict only, ``loglik_t = 0``).

        Returns
        -------
        FilterResult
            ``x`` (n, dim_x), ``P`` (n, dim_x, dim_x), ``loglik_t`` (n,), ``loglik``.

        Notes
        -----
        The live state (``x_``, ``P_``) is left at the end of the series, so ``update`` can
        continue from there.
        """
        F, H, Q, R, x0, P0 = mats = self.matrices()
        zz, index = as_observations(z, H.shape[0])
        xs, Ps, ll = kalman_filter_nb(zz, F, H, Q, R, x0, P0)
        check_loglik(ll, index, "Kalman")
        n = zz.shape[0]
        x_end = xs[-1].copy() if n else x0.copy()
        P_end = Ps[-1].copy() if n else P0.copy()
        self._live = (x_end, P_end, kalman_workspace_nb(F.shape[0], H.shape[0]), mats)
        return FilterResult(
            x=xs, P=Ps, loglik_t=ll, index=index, state_names=tuple(self.state_names or ())
        )

    def reset(self) -> KalmanFilter:
        """Reset the live state to the prior ``(x0, P0)``; return self."""
        mats = self.matrices()
        F, H, _, _, x0, P0 = mats
        self._live = (x0.copy(), P0.copy(), kalman_workspace_nb(F.shape[0], H.shape[0]), mats)
        return self

    def update(self, z: Any) -> Step:
        """Advance the live state by one predict + update step with observation ``z``.

        Starts from the prior on first use (or after :meth:`reset`), otherwise from the end
        of the last ``filter``/``update``. NaN in ``z`` means missing (predict only).

        Returns
        -------
        Step
            Posterior ``x``, ``P`` (copies) and the step's ``loglik``.
        """
        if self._live is None:
            self.reset()
        assert self._live is not None
        x, P, work, (F, H, Q, R, _, _) = self._live
        x, P, ll = kalman_step_nb(x, P, as_observation(z, H.shape[0]), F, H, Q, R, work)
        if np.isnan(ll):
            raise DataError(
                "z: innovation covariance S = H P H' + R is not positive definite at this "
                "update (make R positive definite)"
            )
        return Step(x=x.copy(), P=P.copy(), loglik=float(ll))

    # ------------------------------------------------------------------ estimation

    def fit(self, z: Any, n_burn: int | None = None, maxiter: int | None = None) -> KalmanFilter:
        """Estimate scale factors of ``Q`` and ``R`` by maximum likelihood; return self.

        Parameters
        ----------
        z : array_like
            Observations (NaN = missing).
        n_burn : int, optional
            Leading observations whose likelihood is excluded; default ``dim_x``, the
            number of (approximately) diffuse states (see Notes).
        maxiter : int, optional
            Nelder-Mead iteration cap.

        Notes
        -----
        The shapes of ``Q`` and ``R`` are kept and their scales estimated:
        ``Q_ = q Q``, ``R_ = r R``, with ``(log q, log r)`` searched by Nelder-Mead
        (:func:`quantlab.models.tuning.fit_mle`) from ``q = r = 1``. For the local-level
        model this is exactly the maximum-likelihood estimate of the two variances. With a
        large ``P0`` (approximately diffuse prior), excluding the first ``dim_x``
        observations reproduces the exact-diffuse likelihood that statsmodels'
        ``UnobservedComponents`` and Durbin & Koopman maximise (their
        ``loglikelihood_burn``): those early terms are dominated by the arbitrary prior
        variance and would otherwise pull the estimate.
        """
        from quantlab.models.tuning import fit_mle

        for attr in ("Q_", "R_"):
            if hasattr(self, attr):
                delattr(self, attr)
        F, H, Q, R, x0, P0 = self.matrices()
        zz, _ = as_observations(z, H.shape[0])
        names = self.state_names
        if n_burn is None:
            n_burn = F.shape[0]

        def factory(params: FloatArray) -> KalmanFilter:
            return KalmanFilter(F, H, params[0] * Q, params[1] * R, x0, P0, state_names=names)

        res = fit_mle(factory, zz, np.array([1.0, 1.0]), n_burn=n_burn, maxiter=maxiter)
        self.q_scale_ = float(res.params[0])
        self.r_scale_ = float(res.params[1])
        self.Q_ = self.q_scale_ * Q
        self.R_ = self.r_scale_ * R
        self.loglik_ = res.loglik
        self.n_burn_ = int(n_burn)
        self._live = None
        return self
