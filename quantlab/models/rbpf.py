"""Rao-Blackwellised particle filter over Markov regimes with a Kalman filter per particle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.rbpf import rbpf_filter_nb, rbpf_init_nb, rbpf_step_nb, rbpf_workspace_nb
from quantlab.models.base import RBPFResult, RegimeModel, Step, as_observation, as_observations
from quantlab.models.imm import regime_arrays
from quantlab.models.kalman import KalmanFilter, check_loglik

__all__ = ["RBPF"]


class RBPF(RegimeModel):
    """Rao-Blackwellised particle filter for regime-switching linear Gaussian models.

    Parameters
    ----------
    filters : sequence of KalmanFilter
        One model per regime (same ``dim_x``/``dim_z``), as for :class:`IMM`.
    transition : array_like, shape (n_models, n_models)
        ``transition[i, j] = P(regime i -> regime j)``; rows sum to 1.
    mu0 : array_like, optional
        Regime probabilities before the first observation (default uniform).
    n_particles : int, default 500
        Number of particles ``N``.
    seed : int, default 0
        Seed of the particle filter's random stream (same seed, same result).
    resample_threshold : float, default 0.5
        Resample (systematic) when the effective sample size falls below this fraction of
        ``N``; 1 resamples every step, 0 never.

    Attributes
    ----------
    x_, P_, mu_ : ndarray
        Live weighted state and regime probabilities after the last ``filter``/``update``.

    Notes
    -----
    The continuous state is integrated out exactly by a Kalman filter per particle, so only
    the regime path is sampled (Doucet, de Freitas, Murphy & Russell 2000). New regimes are
    drawn from the fully adapted proposal
    :math:`q(s_t = k) \\propto \\Pi_{s_{t-1} k}\\, p(z_t \\mid k, \\text{particle})`, and each
    particle's weight is multiplied by :math:`\\sum_k \\Pi_{s_{t-1} k}\\, p(z_t \\mid k, \\cdot)`
    (log space). The outputs are weighted averages before resampling; ``exp(loglik_t)`` is
    an unbiased estimate of the step likelihood. Unlike the IMM, which collapses the regime
    mixture every step, the RBPF converges to the exact filter (all regime paths) as ``N``
    grows, with Monte Carlo error of order :math:`1/\\sqrt N`. With one regime every particle
    is the same Kalman filter. A missing observation (NaN) moves the regimes by the chain
    alone and leaves the weights unchanged. The random stream is a splitmix64 generator
    seeded by ``seed`` and carried in the filter state, so ``filter`` and a sequence of
    ``update`` calls from the same seed draw identical numbers.
    """

    def __init__(
        self,
        filters: Sequence[KalmanFilter],
        transition: Any,
        mu0: Any = None,
        n_particles: int = 500,
        seed: int = 0,
        resample_threshold: float = 0.5,
    ) -> None:
        self.filters = filters
        self.transition = transition
        self.mu0 = mu0
        self.n_particles = n_particles
        self.seed = seed
        self.resample_threshold = resample_threshold
        self._live: tuple[Any, ...] | None = None

    _live_fields: ClassVar[dict[str, int]] = {"x": 1, "P": 2, "mu": 3}

    def _validate(self) -> tuple[Any, ...]:
        if isinstance(self.n_particles, bool) or not isinstance(self.n_particles, int | np.integer):
            raise ConfigError(f"n_particles: must be an integer, got {self.n_particles!r}")
        if self.n_particles < 1:
            raise ConfigError(f"n_particles: must be >= 1, got {self.n_particles}")
        if not 0.0 <= float(self.resample_threshold) <= 1.0:
            raise ConfigError(
                f"resample_threshold: must be in [0, 1], got {self.resample_threshold}"
            )
        if not isinstance(self.seed, int | np.integer) or not 0 <= self.seed < 2**64:
            raise ConfigError(f"seed: must be an integer in [0, 2**64), got {self.seed!r}")
        return regime_arrays(self.filters, self.transition, self.mu0)

    _arrays = _validate

    def _initial_state(self, arrays: tuple[Any, ...]) -> tuple[Any, ...]:
        _, _, _, _, x0s, P0s, _, log_mu0 = arrays
        rng = np.array([self.seed], dtype=np.uint64)
        regimes, xs, Ps, log_w = rbpf_init_nb(int(self.n_particles), x0s, P0s, log_mu0, rng)
        return regimes, xs, Ps, log_w, rng

    def filter(self, z: Any) -> RBPFResult:
        """Run the particle filter over a series of observations from the priors.

        Parameters
        ----------
        z : array_like, shape (n, dim_z) or (n,) when dim_z == 1
            Observations; a row with NaN is missing.

        Returns
        -------
        RBPFResult
            ``x``, ``P`` (weighted mixtures), ``mu`` (n, n_models), ``ess``, ``loglik_t`` and
            ``loglik``.
        """
        arrays = self._arrays()
        Fs, Hs, Qs, Rs, _, _, log_T, _ = arrays
        zz, index = as_observations(z, Hs.shape[1])
        regimes, xs, Ps, log_w, rng = self._initial_state(arrays)
        x, P, mu, ll, ess = rbpf_filter_nb(
            zz, Fs, Hs, Qs, Rs, log_T, regimes, xs, Ps, log_w, rng, float(self.resample_threshold)
        )
        check_loglik(ll, index, "RBPF")
        dim_x = Fs.shape[1]
        x_end = x[-1].copy() if zz.shape[0] else np.zeros(dim_x)
        P_end = P[-1].copy() if zz.shape[0] else np.zeros((dim_x, dim_x))
        mu_end = mu[-1].copy() if zz.shape[0] else np.exp(arrays[7])
        self._start_live(arrays, (regimes, xs, Ps, log_w, rng), x_end, P_end, mu_end)
        return RBPFResult(
            x=x,
            P=P,
            loglik_t=ll,
            index=index,
            state_names=tuple(self.filters[0].state_names or ()),
            mu=mu,
            ess=ess,
        )

    def _start_live(
        self,
        arrays: tuple[Any, ...],
        particles: tuple[Any, ...],
        x: FloatArray,
        P: FloatArray,
        mu: FloatArray,
    ) -> None:
        Fs, Hs = arrays[0], arrays[1]
        work = rbpf_workspace_nb(int(self.n_particles), Fs.shape[0], Fs.shape[1], Hs.shape[1])
        self._live = (particles, x, P, mu, work, arrays)

    def reset(self) -> RBPF:
        """Reset the live state to freshly seeded particles drawn from the priors."""
        arrays = self._arrays()
        dim_x = arrays[0].shape[1]
        self._start_live(
            arrays,
            self._initial_state(arrays),
            np.zeros(dim_x),
            np.zeros((dim_x, dim_x)),
            np.exp(arrays[7]),
        )
        return self

    def update(self, z: Any) -> Step:
        """Advance the live particle system by one step; return weighted ``x``, ``P``, ``mu``."""
        if self._live is None:
            self.reset()
        assert self._live is not None
        (regimes, xs, Ps, log_w, rng), x, P, mu, work, arrays = self._live
        Fs, Hs, Qs, Rs, _, _, log_T, _ = arrays
        z_t = as_observation(z, Hs.shape[1])
        *_, ll, _ = rbpf_step_nb(
            regimes,
            xs,
            Ps,
            log_w,
            rng,
            z_t,
            Fs,
            Hs,
            Qs,
            Rs,
            log_T,
            float(self.resample_threshold),
            x,
            P,
            mu,
            work,
        )
        if np.isnan(ll):
            raise DataError("z: an RBPF innovation covariance is not positive definite")
        return Step(x=x.copy(), P=P.copy(), loglik=float(ll), mu=mu.copy())
