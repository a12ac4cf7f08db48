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
from quantlab.models.base import BaseModel
from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter, white_noise_cov

__all__ = ["COLUMNS", "REGIMES", "CapitalFlowModel"]

REGIMES = ("quiet", "herd", "exhaustion")
#: The numeric columns of :meth:`CapitalFlowModel.filter` (``regime`` follows them).
COLUMNS = ("flow_rate", "intensification", "p_quiet", "p_herd", "p_exhaustion")


class CapitalFlowModel(BaseModel):
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

    Notes
    -----
    State ``x = (flow_rate, intensification)``, observed ``z_t = flow_rate_t + v_t``.

    .. math::

        \text{quiet: } F = \begin{pmatrix} \rho & 0 \\ 0 & 0 \end{pmatrix}, \qquad
        \text{herd: } F = \begin{pmatrix} 1 & 1 \\ 0 & \delta \end{pmatrix}

    The herd probability splits by the sign of the intensification: with
    :math:`a \sim N(\hat a, \sigma_a^2)` the (combined) posterior,
    ``p_herd = mu_herd * Phi(a / sigma_a)`` (the herd still building) and
    ``p_exhaustion = mu_herd * Phi(-a / sigma_a)`` (followers tiring). ``filter`` and
    ``update`` share the IMM step kernel, so streaming equals batch (the model
    conformance suite checks it).
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
        self._imm: IMM | None = None

    def _validate(self) -> None:
        for name in ("q_quiet", "q_herd", "r"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, int | float) and np.isfinite(v) and v > 0):
                raise ConfigError(f"{name} = {v!r}: must be a finite number > 0")
        for name in ("reversion", "decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ConfigError(f"{name} = {v!r}: must be in [0, 1]")
        if isinstance(self.stay, bool) or not (
            isinstance(self.stay, int | float) and 0.0 < self.stay < 1.0
        ):
            raise ConfigError(f"stay = {self.stay!r}: must be in (0, 1)")
        if self.scale is not None and not (
            isinstance(self.scale, int | float) and np.isfinite(self.scale) and self.scale > 0
        ):
            raise ConfigError(f"scale = {self.scale!r}: must be None or a finite number > 0")

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
            try:
                net = np.asarray(flow, dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(
                    f"CapitalFlowModel: net flow must be numbers, got {type(flow).__name__}"
                ) from None
            index = None
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
        """Set ``scale_`` from the flow (unless ``scale`` is given), build the IMM, filter.

        Parameters
        ----------
        flow : pd.DataFrame, pd.Series or array
            Bars with ``buy_flow``/``sell_flow``, or the net flow per bar. Fit on a
            training span only when the filter output feeds a backtest (the scale is a
            statistic of what ``fit`` sees).
        """
        self._validate()
        net, _ = self._net(flow)
        if self.scale is not None:
            scale = float(self.scale)
        else:
            active = np.abs(net[net != 0.0])
            scale = float(np.median(active)) if active.size else 1.0
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
        self._imm = IMM([quiet, herd], T, np.array([0.99, 0.01]))
        self._imm.filter(net)
        return self

    def _fitted_imm(self) -> IMM:
        if self._imm is None:
            raise ConfigError("CapitalFlowModel: call fit() before filter() or update()")
        return self._imm

    @staticmethod
    def _split(x: np.ndarray, P: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Return rows ``flow_rate intensification p_quiet p_herd p_exhaustion``."""
        x, P, mu = np.atleast_2d(x), P.reshape(-1, 2, 2), np.atleast_2d(mu)
        sd = np.sqrt(np.maximum(P[:, 1, 1], 1e-300))
        building = norm.cdf(x[:, 1] / sd)
        herd = mu[:, 1]
        return np.column_stack([x[:, 0], x[:, 1], mu[:, 0], herd * building, herd * (1 - building)])

    def filter(self, flow: Any) -> pd.DataFrame:
        """Return the states and regime probabilities at every bar (causal).

        Returns
        -------
        pd.DataFrame
            :data:`COLUMNS` and ``regime`` (the most probable of :data:`REGIMES`) on the
            flow's index.
        """
        imm = self._fitted_imm()
        net, index = self._net(flow)
        res = imm.filter(net)
        rows = self._split(res.x, res.P, res.mu)
        out = pd.DataFrame(rows, columns=list(COLUMNS), index=index)
        out["regime"] = np.asarray(REGIMES, dtype=object)[np.argmax(rows[:, 2:], axis=1)]
        return out

    def update(self, z: Any) -> pd.Series:
        """Advance by one bar's net flow; return that bar's row of :meth:`filter`."""
        imm = self._fitted_imm()
        try:
            value = float(z)
        except (TypeError, ValueError):
            raise DataError(f"CapitalFlowModel: net flow must be one number, got {z!r}") from None
        if not np.isfinite(value):
            raise DataError(f"CapitalFlowModel: net flow {value!r} must be finite")
        step = imm.update(value)
        row = self._split(step.x, step.P, step.mu)[0]
        out = pd.Series(row, index=list(COLUMNS), dtype=object)
        out["regime"] = REGIMES[int(np.argmax(row[2:]))]
        return out

    def reset(self) -> CapitalFlowModel:
        """Return to the prior (the next ``update`` starts the series again)."""
        self._validate()
        if self._imm is not None:
            self._imm.reset()
        return self

    def state(self) -> dict[str, Any]:
        """Return the IMM's live state (``x``, ``P``, ``mu``); ``{}`` before any step."""
        return {} if self._imm is None else self._imm.state()

    def fit_filter(self, flow: Any) -> pd.DataFrame:
        """Fit and filter in one call (the scale then comes from the same flow)."""
        return self.fit(flow).filter(flow)
