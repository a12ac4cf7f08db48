"""Capital-flow models: the IMM of :mod:`quantlab.models` on a token's net swap flow.

The observed series is a token's net SOL flow per bar (buys minus sells). Its state has
physical meaning: ``flow_rate`` (capital-flow rate, SOL per bar, the velocity of the
capital that has flowed in) and ``intensification`` (its acceleration: herd
intensification, more buyers joining), with ``decay`` the follower exhaustion (the share
of the intensification that survives a bar). Two branches switch by a Markov chain, a
*quiet* one where flows fade and a *herd* one where they build; the IMM (equal to
filterpy's IMMEstimator, see :class:`quantlab.models.IMM`) reports the probability of
each branch at every bar from bars ``<= t`` only, and the herd branch is split into
*herd* (intensification > 0) and *exhaustion* (< 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from quantlab.errors import ConfigError, DataError
from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter, white_noise_cov

__all__ = ["REGIMES", "CapitalFlowModel"]

REGIMES = ("quiet", "herd", "exhaustion")


class CapitalFlowModel:
    r"""Two-branch IMM (quiet / herd) over net flow per bar, with physical states.

    Parameters
    ----------
    q_quiet, q_herd : float
        Process-noise variances of the branches, in units of ``scale**2``.
    r : float
        Observation-noise variance of the net flow per bar (one-off swaps, cluster
        spikes), in units of ``scale**2``.
    reversion : float
        Share of the flow rate that survives one bar in the quiet branch (flows fade).
    decay : float
        Follower exhaustion in the herd branch: the share of the herd intensification
        that survives one bar (1: the herd keeps accelerating).
    stay : float
        Probability that a branch lasts another bar.
    scale : float, optional
        SOL per bar the variances are expressed in; :meth:`fit` estimates it from the
        flow (median absolute net flow of the bars that traded).

    Attributes
    ----------
    scale_ : float
        The scale used after :meth:`fit`.
    imm_ : IMM
        The estimator (two :class:`~quantlab.models.KalmanFilter` branches).

    Notes
    -----
    State ``x = (flow_rate, intensification)``, observed ``z_t = flow_rate_t + v_t``.

    .. math::

        \text{quiet: } F = \begin{pmatrix} \rho & 0 \\ 0 & 0 \end{pmatrix}, \qquad
        \text{herd: } F = \begin{pmatrix} 1 & 1 \\ 0 & \delta \end{pmatrix}

    The herd branch splits by the sign of its intensification: with
    :math:`a \sim N(\hat a, \sigma_a^2)` its posterior,
    ``p_herd = mu_herd * Phi(a / sigma_a)`` (the herd still building) and
    ``p_exhaustion = mu_herd * Phi(-a / sigma_a)`` (followers tiring).
    """

    def __init__(
        self,
        q_quiet: float = 0.05,
        q_herd: float = 0.05,
        r: float = 4.0,
        reversion: float = 0.3,
        decay: float = 0.9,
        stay: float = 0.98,
        scale: float | None = None,
    ) -> None:
        self.q_quiet = q_quiet
        self.q_herd = q_herd
        self.r = r
        self.reversion = reversion
        self.decay = decay
        self.stay = stay
        self.scale = scale

    def _check(self) -> None:
        for name in ("q_quiet", "q_herd", "r"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and np.isfinite(v) and v > 0):
                raise ConfigError(
                    f"CapitalFlowModel: {name} must be a finite number > 0, got {v!r}"
                )
        for name in ("reversion", "decay"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ConfigError(f"CapitalFlowModel: {name} must be in [0, 1], got {v!r}")
        if not (isinstance(self.stay, int | float) and 0.0 < self.stay < 1.0):
            raise ConfigError(f"CapitalFlowModel: stay must be in (0, 1), got {self.stay!r}")

    @staticmethod
    def _net(flow: Any) -> tuple[np.ndarray, pd.Index | None]:
        if isinstance(flow, pd.DataFrame):
            if not {"buy_flow", "sell_flow"} <= set(flow.columns):
                raise DataError(
                    "CapitalFlowModel: a frame needs columns 'buy_flow' and 'sell_flow' "
                    "(see quantlab.data.solana.flow_bars)"
                )
            net = (flow["buy_flow"] - flow["sell_flow"]).to_numpy(dtype=np.float64)
            index = flow.index
        elif isinstance(flow, pd.Series):
            net, index = flow.to_numpy(dtype=np.float64), flow.index
        else:
            net, index = np.asarray(flow, dtype=np.float64), None
        if net.ndim != 1:
            raise DataError(f"CapitalFlowModel: expected a 1-D net flow, got shape {net.shape}")
        bad = ~np.isfinite(net)
        if bad.any():
            i = int(np.argmax(bad))
            where = index[i] if index is not None else i
            raise DataError(
                f"CapitalFlowModel: net flow at row {where} is {net[i]!r}; must be finite"
            )
        return net, index

    def fit(self, flow: Any) -> CapitalFlowModel:
        """Set ``scale_`` from the flow (unless ``scale`` is given) and build ``imm_``.

        Parameters
        ----------
        flow : pd.DataFrame, pd.Series or array
            Bars with ``buy_flow``/``sell_flow``, or the net flow per bar. Fit on a
            training span only when the filter output feeds a backtest (the scale is a
            statistic of what ``fit`` sees).
        """
        self._check()
        net, _ = self._net(flow)
        if self.scale is not None:
            scale = float(self.scale)
        else:
            active = np.abs(net[net != 0.0])
            scale = float(np.median(active)) if active.size else 1.0
        if not scale > 0:
            raise ConfigError(f"CapitalFlowModel: scale must be > 0, got {scale!r}")
        self.scale_ = scale
        s2 = scale * scale
        names = ("flow_rate", "intensification")
        quiet = KalmanFilter(
            F=[[self.reversion, 0.0], [0.0, 0.0]],
            H=[[1.0, 0.0]],
            Q=[[self.q_quiet * s2, 0.0], [0.0, 1e-9 * s2]],
            R=[[self.r * s2]],
            x0=[0.0, 0.0],
            P0=np.eye(2) * s2,
            state_names=names,
        )
        herd = KalmanFilter(
            F=[[1.0, 1.0], [0.0, self.decay]],
            H=[[1.0, 0.0]],
            Q=white_noise_cov(2, 1.0, self.q_herd * s2),
            R=[[self.r * s2]],
            x0=[0.0, 0.0],
            P0=np.eye(2) * s2,
            state_names=names,
        )
        T = np.array([[self.stay, 1.0 - self.stay], [1.0 - self.stay, self.stay]])
        self.imm_ = IMM([quiet, herd], T, np.array([0.99, 0.01]))
        return self

    def filter(self, flow: Any) -> pd.DataFrame:
        """Return the states and regime probabilities at every bar (causal).

        Returns
        -------
        pd.DataFrame
            ``flow_rate intensification p_quiet p_herd p_exhaustion regime`` on the
            flow's index; ``regime`` is the most probable of the three.
        """
        if not hasattr(self, "imm_"):
            raise ConfigError("CapitalFlowModel: call fit() before filter()")
        net, index = self._net(flow)
        res = self.imm_.filter(net)
        a = res.x_models[:, 1, 1]
        sd = np.sqrt(np.maximum(res.P_models[:, 1, 1, 1], 1e-300))
        building = norm.cdf(a / sd)
        mu_herd = res.mu[:, 1]
        out = pd.DataFrame(
            {
                "flow_rate": res.x[:, 0],
                "intensification": res.x[:, 1],
                "p_quiet": res.mu[:, 0],
                "p_herd": mu_herd * building,
                "p_exhaustion": mu_herd * (1.0 - building),
            },
            index=index,
        )
        probs = out[["p_quiet", "p_herd", "p_exhaustion"]].to_numpy()
        out["regime"] = np.asarray(REGIMES, dtype=object)[np.argmax(probs, axis=1)]
        return out

    def fit_filter(self, flow: Any) -> pd.DataFrame:
        """Fit and filter in one call."""
        return self.fit(flow).filter(flow)
