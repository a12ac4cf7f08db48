"""Univariate Hawkes process with an exponential kernel, fitted by maximum likelihood."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.hawkes import (
    hawkes_compensator_nb,
    hawkes_event_step_nb,
    hawkes_filter_nb,
    hawkes_intensity_nb,
    hawkes_loglik_grad_nb,
    hawkes_loglik_nb,
    hawkes_simulate_nb,
)
from quantlab.models.base import BaseModel

__all__ = ["Hawkes"]


def _event_times(times: Any, name: str = "times") -> FloatArray:
    """Return event times as a float64 array, converting a DatetimeIndex to seconds."""
    if getattr(times, "dtype", None) is not None and getattr(times.dtype, "kind", "") == "M":
        raise DataError(
            f"{name}: datetime event times are not accepted; pass float seconds "
            "(e.g. (idx - idx[0]).total_seconds()) so that the time unit is explicit"
        )
    try:
        arr = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: event times must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{name}: must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}[{i}] = {arr[i]!r}: event times must be finite")
    if arr.size and arr[0] < 0:
        raise DataError(f"{name}[0] = {arr[0]!r}: event times must be >= 0 (process starts at 0)")
    dec = np.diff(arr) < 0
    if dec.any():
        i = int(np.flatnonzero(dec)[0]) + 1
        raise DataError(
            f"{name}[{i}] = {arr[i]!r} < {name}[{i - 1}] = {arr[i - 1]!r}: "
            "event times must be non-decreasing"
        )
    return np.ascontiguousarray(arr)


def _horizon(times: FloatArray, T: float | None) -> float:
    if T is None:
        if times.size == 0:
            raise ConfigError("T: required when there are no events")
        return float(times[-1])
    T = float(T)
    if not np.isfinite(T) or T <= 0:
        raise ConfigError(f"T = {T!r}: the observation horizon must be finite and > 0")
    if times.size and times[-1] > T:
        raise DataError(f"times[-1] = {times[-1]!r} > T = {T!r}: events must lie in [0, T]")
    return T


def _check_params(mu: float, alpha: float, theta: float) -> tuple[float, float, float]:
    for name, value in (("mu", mu), ("alpha", alpha), ("theta", theta)):
        if value is None or not np.isfinite(value):
            raise ConfigError(f"{name} = {value!r}: must be a finite number (fit first?)")
    if mu <= 0:
        raise ConfigError(f"mu = {mu!r}: the baseline intensity must be > 0")
    if alpha < 0:
        raise ConfigError(f"alpha = {alpha!r}: the branching ratio must be >= 0")
    if theta <= 0:
        raise ConfigError(f"theta = {theta!r}: the decay rate must be > 0")
    return float(mu), float(alpha), float(theta)


class Hawkes(BaseModel):
    """Exponential-kernel Hawkes process in branching-ratio form.

    Parameters
    ----------
    mu, alpha, theta : float, optional
        Baseline intensity (> 0), branching ratio (>= 0; stationary below 1) and decay rate
        (> 0). Given parameters are used by :meth:`loglik`, :meth:`intensity` and
        :meth:`simulate` until :meth:`fit` estimates new ones.

    Attributes
    ----------
    mu_, alpha_, theta_ : float
        Maximum-likelihood estimates after :meth:`fit`.
    stderr_ : pandas.Series
        Standard errors of ``mu, alpha, theta`` from the observed information (the inverse of
        the numerical Hessian of the log-likelihood at the optimum).
    loglik_ : float
        Maximised log-likelihood.
    n_events_, T_ : int, float
        Sample used by the fit.
    converged_ : bool
        Whether L-BFGS-B converged (or stopped with a gradient below 1e-6 per event).
    hessian_ : numpy.ndarray
        Numerical Hessian of the log-likelihood at the estimate (central differences of the
        analytic gradient).

    The live state (:meth:`state`) is the time of the last event and the decayed event
    count ``S`` just after it; :meth:`filter` and :meth:`update` advance it.

    Notes
    -----
    ``lambda(t) = mu + alpha theta sum_{t_i < t} exp(-theta (t - t_i))``; the log-likelihood
    on ``[0, T]`` is ``sum_i log lambda(t_i) - mu T - alpha sum_i (1 - exp(-theta (T -
    t_i)))``, computed in O(n). The fit maximises it with L-BFGS-B in the unconstrained
    coordinates ``(log mu, logit alpha, log theta)`` with the analytic gradient, so the
    estimate satisfies ``0 < alpha < 1``.
    """

    def __init__(
        self, mu: float | None = None, alpha: float | None = None, theta: float | None = None
    ) -> None:
        self.mu = mu
        self.alpha = alpha
        self.theta = theta
        self._live: tuple[float, float] | None = None

    _live_fields: ClassVar[dict[str, int]] = {"t_last": 0, "excitation": 1}

    # -- parameters ------------------------------------------------------------------
    def _validate(self) -> tuple[float, float, float] | None:
        given = (self.mu, self.alpha, self.theta)
        if any(v is None for v in given):
            return None  # estimated by fit(); _params() refuses to run without them
        return _check_params(*given)  # type: ignore[arg-type]

    def _params(self) -> tuple[float, float, float]:
        mu = getattr(self, "mu_", self.mu)
        alpha = getattr(self, "alpha_", self.alpha)
        theta = getattr(self, "theta_", self.theta)
        return _check_params(mu, alpha, theta)  # type: ignore[arg-type]

    # -- likelihood ------------------------------------------------------------------
    def loglik(self, times: Any, T: float | None = None) -> float:
        """Return the log-likelihood of ``times`` on ``[0, T]`` (``T`` defaults to the last event).

        Uses the fitted parameters when present, else those given to the constructor.
        """
        t = _event_times(times)
        horizon = _horizon(t, T)
        mu, alpha, theta = self._params()
        return float(hawkes_loglik_nb(t, horizon, mu, alpha, theta))

    def fit(self, times: Any, T: float | None = None) -> Hawkes:
        """Estimate ``mu, alpha, theta`` by maximum likelihood and return ``self``."""
        self._validate()
        self._live = None
        t = _event_times(times)
        horizon = _horizon(t, T)
        n = t.size
        if n < 3:
            raise DataError(f"times: {n} events; at least 3 are needed to fit a Hawkes process")

        def objective(z: FloatArray) -> tuple[float, FloatArray]:
            mu, alpha, theta = np.exp(z[0]), 1.0 / (1.0 + np.exp(-z[1])), np.exp(z[2])
            ll, g = hawkes_loglik_grad_nb(t, horizon, mu, alpha, theta)
            if not np.isfinite(ll):
                return 1e300, np.zeros(3)
            jac = np.array([mu, alpha * (1.0 - alpha), theta])
            return -ll / n, -(g * jac) / n

        rate = n / horizon
        gaps = np.diff(t)
        mean_gap = float(np.mean(gaps[gaps > 0])) if np.any(gaps > 0) else horizon / n
        best = None
        for a0 in (0.3, 0.7):
            for theta0 in (1.0 / mean_gap, 0.1 / mean_gap):
                z0 = np.array([np.log(rate * (1.0 - a0)), np.log(a0 / (1.0 - a0)), np.log(theta0)])
                res = minimize(
                    objective,
                    z0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(-50.0, 50.0), (-30.0, 30.0), (-50.0, 50.0)],
                    options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
                )
                if best is None or res.fun < best.fun:
                    best = res
        assert best is not None
        z = best.x
        self.mu_ = float(np.exp(z[0]))
        self.alpha_ = float(1.0 / (1.0 + np.exp(-z[1])))
        self.theta_ = float(np.exp(z[2]))
        self.loglik_ = float(hawkes_loglik_nb(t, horizon, self.mu_, self.alpha_, self.theta_))
        self.n_events_ = int(n)
        self.T_ = horizon
        self.converged_ = bool(best.success or np.max(np.abs(best.jac)) < 1e-6)
        self.hessian_ = self._hessian(t, horizon)
        with np.errstate(invalid="ignore"):
            try:
                cov = np.linalg.inv(-self.hessian_)
                se = np.sqrt(np.diag(cov))
            except np.linalg.LinAlgError:
                se = np.full(3, np.nan)
        self.stderr_ = pd.Series(se, index=["mu", "alpha", "theta"], name="stderr")
        return self

    def _hessian(self, t: FloatArray, T: float) -> FloatArray:
        """Return the Hessian of the log-likelihood at the fit by central differences."""
        p = np.array([self.mu_, self.alpha_, self.theta_])
        hess = np.empty((3, 3))
        for j in range(3):
            h = 1e-5 * p[j]
            up = p.copy()
            dn = p.copy()
            up[j] += h
            dn[j] -= h
            g_up = hawkes_loglik_grad_nb(t, T, up[0], up[1], up[2])[1]
            g_dn = hawkes_loglik_grad_nb(t, T, dn[0], dn[1], dn[2])[1]
            hess[:, j] = (g_up - g_dn) / (2.0 * h)
        return 0.5 * (hess + hess.T)

    # -- filtering ---------------------------------------------------------------------
    def filter(self, times: Any) -> pd.DataFrame:
        """Return, per event, the intensity before it, the compensator and the log-likelihood.

        Parameters
        ----------
        times : array-like
            Sorted event times from 0 (the process starts at time 0).

        Returns
        -------
        pandas.DataFrame
            One row per event: ``intensity`` ``lambda(t_i-)`` (from events before ``t_i``),
            ``compensator`` ``Lambda(t_{i-1}, t_i]`` (i.i.d. Exp(1) under the true
            parameters) and ``loglik`` ``log lambda(t_i-) - Lambda(t_{i-1}, t_i]`` (their sum
            is :meth:`loglik` with ``T`` at the last event). The live state is left after the
            last event, so :meth:`update` continues.
        """
        t = _event_times(times)
        mu, alpha, theta = self._params()
        lam = np.empty(t.size)
        comp = np.empty(t.size)
        t_last, s_last = hawkes_filter_nb(t, mu, alpha, theta, 0.0, 0.0, lam, comp)
        self._live = (float(t_last), float(s_last))
        return pd.DataFrame(
            {"intensity": lam, "compensator": comp, "loglik": np.log(lam) - comp},
            index=pd.RangeIndex(t.size, name="event"),
        )

    def reset(self) -> Hawkes:
        """Restart the live process at time 0 with no past events; return self."""
        self._validate()
        self._live = (0.0, 0.0)
        return self

    def update(self, t: float) -> tuple[float, float, float]:
        """Absorb one event at time ``t``; return ``(intensity, compensator, loglik)`` for it.

        ``t`` must be finite and not before the last event seen by :meth:`filter` or
        :meth:`update` (0 after :meth:`reset`).
        """
        mu, alpha, theta = self._params()
        if self._live is None:
            self.reset()
        assert self._live is not None
        t_prev, s_prev = self._live
        try:
            x = float(t)
        except (TypeError, ValueError):
            raise DataError(f"t = {t!r}: an event time must be a number") from None
        if not np.isfinite(x) or x < t_prev:
            raise DataError(
                f"t = {t!r}: event times must be finite and not before the last event ({t_prev!r})"
            )
        s, lam, comp = hawkes_event_step_nb(t_prev, s_prev, x, mu, alpha, theta)
        self._live = (x, float(s))
        return float(lam), float(comp), float(np.log(lam) - comp)

    def intensity(self, times: Any, at: Any) -> FloatArray:
        """Return the intensity at times ``at`` from events strictly before each of them.

        Parameters
        ----------
        times : array-like
            Sorted event times.
        at : array-like
            Query times (any order).

        Returns
        -------
        numpy.ndarray
            ``lambda(at[k]-)``, aligned with ``at``.
        """
        t = _event_times(times)
        q = np.asarray(at, dtype=np.float64)
        if q.ndim != 1:
            raise DataError(f"at: must be one-dimensional, got shape {q.shape}")
        if not np.all(np.isfinite(q)):
            i = int(np.flatnonzero(~np.isfinite(q))[0])
            raise DataError(f"at[{i}] = {q[i]!r}: query times must be finite")
        mu, alpha, theta = self._params()
        order = np.argsort(q, kind="stable")
        out = np.empty_like(q)
        out[order] = hawkes_intensity_nb(t, np.ascontiguousarray(q[order]), mu, alpha, theta)
        return out

    def compensator(self, times: Any) -> FloatArray:
        """Return ``Lambda(t_{i-1}, t_i]``; i.i.d. Exp(1) under the true parameters."""
        t = _event_times(times)
        mu, alpha, theta = self._params()
        return hawkes_compensator_nb(t, mu, alpha, theta)

    # -- simulation ----------------------------------------------------------------------
    def simulate(self, T: float, seed: int | None = None) -> FloatArray:
        """Simulate event times on ``[0, T]`` by Ogata thinning.

        Uniforms come from ``numpy.random.default_rng(seed)`` in blocks, so a seed gives the
        same path with or without numba.
        """
        mu, alpha, theta = self._params()
        if alpha >= 1.0:
            raise ConfigError(f"alpha = {alpha!r}: simulation needs a stationary process (< 1)")
        T = float(T)
        if not np.isfinite(T) or T <= 0:
            raise ConfigError(f"T = {T!r}: the horizon must be finite and > 0")
        rng = np.random.default_rng(seed)
        expected = mu * T / (1.0 - alpha)
        block = int(min(max(2.0 * expected + 64.0, 64.0), 1e6))
        state = (0.0, 0.0)
        chunks: list[FloatArray] = []
        while True:
            uniforms = 1.0 - rng.random((block, 2))
            out = np.empty(block)
            state, n_events, _, done = hawkes_simulate_nb(state, uniforms, T, mu, alpha, theta, out)
            chunks.append(out[:n_events].copy())
            if done:
                break
        return np.concatenate(chunks) if chunks else np.empty(0)
