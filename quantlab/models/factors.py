"""Model outputs as registered factors: Kalman velocity/acceleration, IMM trend, GARCH, ACI.

Each factor is a :class:`~quantlab.factors.FactorSpec` whose ``compute`` delegates to a
model of :mod:`quantlab.models`; nothing here adds maths beyond building the model's
input. This module is the one place they register: ``quantlab/models/__init__.py`` imports
it, so they register whenever :mod:`quantlab.models` is imported, and the factor registry
imports :mod:`quantlab.models` on its first lookup (it is listed in
``quantlab.factors.registry.CONTRIBUTING_PACKAGES``), so ``ql.factors.names()`` lists them
next to the factor library whatever the user imported first::

    import quantlab as ql
    ql.factors.compute("kalman_velocity", df)             # log-price drift per bar
    ql.factors.compute("imm_trend_prob", df, drift=0.15)  # P(up) - P(down)
    ql.factors.compute("garch_vol", df)                   # sigma_{t+1|t}
    ql.factors.compute("conformal_width", df, alpha=0.1)  # width of the next interval

Every value at bar ``t`` uses bars ``<= t`` only (the conformance suite checks it on every
factor). The Kalman and IMM filters are causal recursions; ``garch_vol`` refits on a
schedule anchored at the first bar, so a prefix of the data refits at the same rows; the
conformal width at ``t`` is calibrated on scores known at ``t``.

:func:`return_interval` is the conformal interval behind ``conformal_width``, for notebooks
that want the bounds, the forecast and the realised return side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, param, register
from quantlab.factors.registry import window as _window
from quantlab.kernels.rolling import log_return_nb, rolling_std_nb
from quantlab.models.conformal import AdaptiveConformal, conformal_interval, interval_width
from quantlab.models.garch import garch_volatility
from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter

__all__ = [
    "ConformalWidth",
    "GarchVol",
    "ImmTrendProb",
    "KalmanAcceleration",
    "KalmanVelocity",
    "kalman_return_forecast",
    "return_interval",
    "trend_imm",
]

# Observation-noise variance of the kinematic filters: only Q / R moves the filtered mean,
# so R is 1 and the process noise is the signal-to-noise ratio.
_UNIT_R = 1.0


# ---------------------------------------------------------------------------------------
# shared model builders


def _log_price(close: FloatArray) -> FloatArray:
    """Return ``log(close / close[0])``: the log price relative to the first bar.

    The shift keeps the filter's numbers near zero (a diffuse prior around 0 instead of
    ``log(60000)``); it moves the level only, not the velocity or acceleration, and uses
    bar 0 only, which every prefix contains.
    """
    logc = np.log(close)
    return logc - logc[0]


def _velocity_filter(snr: float) -> KalmanFilter:
    return KalmanFilter.constant_velocity(q=snr, r=_UNIT_R)


def _acceleration_filter(snr: float, decay: float) -> KalmanFilter:
    return KalmanFilter.constant_acceleration(q=snr, r=_UNIT_R, decay=decay)


def _stepwise_states(kf: KalmanFilter, z: FloatArray) -> FloatArray:
    kf.reset()
    return np.array([kf.update(v).x for v in z]).reshape(len(z), -1)


def kalman_return_forecast(close: Any, snr: float = 1e-3) -> FloatArray:
    """Return the one-step forecast of the next one-bar log return from a local-level filter.

    Parameters
    ----------
    close : array-like
        Close prices (finite, > 0).
    snr : float
        ``sigma2_level / sigma2_obs`` of :meth:`KalmanFilter.local_level` run on one-bar log
        returns: small values give a slow mean of past returns.

    Returns
    -------
    numpy.ndarray
        ``out[t]``: forecast of ``r_{t+1} = log(C_{t+1} / C_t)`` made at the close of ``t``
        (the filtered level after ``r_t``); NaN at ``t = 0`` (no return yet).
    """
    c = np.asarray(close, dtype=np.float64)
    r = log_return_nb(np.ascontiguousarray(c), 1)
    out = np.full(c.shape[0], np.nan)
    if c.shape[0] > 1:
        kf = KalmanFilter.local_level(sigma2_level=snr, sigma2_obs=_UNIT_R)
        out[1:] = kf.filter(r[1:]).x[:, 0]
    return out


def trend_imm(drift: float, stay: float) -> IMM:
    """Return the 3-regime trend IMM (up, down, flat) on a volatility-adjusted log price.

    Parameters
    ----------
    drift : float
        Drift per bar of the up (``+drift``) and down (``-drift``) regimes, in units of the
        one-bar volatility.
    stay : float
        Probability of staying in a regime for one more bar; the rest is split evenly.

    Notes
    -----
    The state is ``(level, 1)``; regime ``k`` moves the level by its drift ``d_k`` in
    ``F_k = [[1, d_k], [0, 1]]`` plus unit-variance noise, and the level is observed
    exactly (``R = 0``). The drift lives in ``F`` rather than in the state, so mixing the
    regimes' states (which all know the level) cannot blur the drifts: the IMM is then
    exactly Hamilton's filter for returns ``u_t ~ N(d_k, 1)`` under a Markov chain. The
    prior is the known level 0 (``P0 = 0``).
    """
    filters = [
        KalmanFilter(
            F=[[1.0, d], [0.0, 1.0]],
            H=[[1.0, 0.0]],
            Q=[[1.0, 0.0], [0.0, 0.0]],
            R=[[0.0]],
            x0=[0.0, 1.0],
            P0=np.zeros((2, 2)),
            state_names=("level", "one"),
        )
        for d in (drift, -drift, 0.0)
    ]
    off = (1.0 - stay) / 2.0
    transition = np.full((3, 3), off) + np.eye(3) * (stay - off)
    return IMM(filters, transition)


def _standardised_path(close: FloatArray, vol_window: int) -> FloatArray:
    """Return ``z_t = sum_{s <= t} r_s / sigma_{s-1}`` from bar ``vol_window + 1`` on.

    ``sigma_{s-1}`` is the sample standard deviation (ddof=1) of the ``vol_window`` one-bar
    log returns up to ``s - 1`` (known before ``r_s``); a zero volatility gives ``u = 0``.
    """
    r = log_return_nb(close, 1)
    sigma = rolling_std_nb(r, vol_window, 1)
    start = vol_window + 1
    prev = sigma[start - 1 : -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(prev > 0.0, r[start:] / prev, 0.0)
    return np.cumsum(u)


# ---------------------------------------------------------------------------------------
# factors


@register
class KalmanVelocity(FactorSpec):
    """Filtered velocity (capital-flow rate) of the log price, per bar.

    Notes
    -----
    :meth:`KalmanFilter.constant_velocity` on :math:`z_t = \\log(C_t / C_0)`: state
    (level, velocity), ``F = [[1, 1], [0, 1]]``, white acceleration noise of variance
    ``snr`` against an observation noise of variance 1 (only the ratio moves the
    filtered mean). The value at ``t`` is the filtered velocity
    :math:`\\hat v_{t|t}`, the drift of the log price per bar. The prior is diffuse
    (``P0 = 1e7``), so the first bar only places the level: warm-up 1 bar.
    """

    name = "kalman_velocity"
    inputs = ("close",)
    role = Role.PRIMARY
    description = "Kalman constant-velocity filter on log price: filtered drift per bar."

    snr: float = param(1e-3, gt=0.0, doc="acceleration-noise variance / observation variance")

    def warmup(self) -> int:
        return 1

    def compute(self, close: FloatArray) -> FloatArray:
        out = _velocity_filter(self.snr).filter(_log_price(close)).x[:, 1].copy()
        out[: self.warmup()] = np.nan
        return out

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        out = _stepwise_states(_velocity_filter(self.snr), _log_price(close))[:, 1].copy()
        out[: self.warmup()] = np.nan
        return out


@register
class KalmanAcceleration(FactorSpec):
    """Filtered acceleration (herd intensification) of the log price, per bar squared.

    Notes
    -----
    :meth:`KalmanFilter.constant_acceleration` on :math:`z_t = \\log(C_t / C_0)`: state
    (level, velocity, acceleration), white jerk of variance ``snr`` against an
    observation noise of variance 1, acceleration kept by ``decay`` per bar (follower
    exhaustion; 1 = none). The value at ``t`` is :math:`\\hat a_{t|t}`. Diffuse prior:
    three bars place level, velocity and acceleration, warm-up 2 bars.
    """

    name = "kalman_acceleration"
    inputs = ("close",)
    role = Role.CONFIRMATION
    description = "Kalman constant-acceleration filter on log price: filtered acceleration."

    snr: float = param(1e-4, gt=0.0, doc="jerk-noise variance / observation variance")
    decay: float = param(1.0, gt=0.0, le=1.0, doc="share of the acceleration kept per bar")

    def warmup(self) -> int:
        return 2

    def compute(self, close: FloatArray) -> FloatArray:
        kf = _acceleration_filter(self.snr, self.decay)
        out = kf.filter(_log_price(close)).x[:, 2].copy()
        out[: self.warmup()] = np.nan
        return out

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        kf = _acceleration_filter(self.snr, self.decay)
        out = _stepwise_states(kf, _log_price(close))[:, 2].copy()
        out[: self.warmup()] = np.nan
        return out


@register
class ImmTrendProb(FactorSpec):
    """IMM trend probability: P(up-trend) minus P(down-trend), in [-1, 1].

    Notes
    -----
    One-bar log returns are divided by the volatility known before them,
    :math:`u_t = r_t / \\hat\\sigma_{t-1}` (sample standard deviation of the last
    ``vol_window`` returns), and summed into a volatility-adjusted log price
    :math:`z_t`. The 3-regime IMM of :func:`trend_imm` (drifts ``+drift``, ``-drift``
    and 0 per bar in volatility units, staying in a regime with probability ``stay``)
    filters :math:`z`; the value is :math:`P(\\text{up}|z_{\\le t}) -
    P(\\text{down}|z_{\\le t})`. Equals Hamilton's filter for :math:`u_t \\sim N(d_k, 1)`
    (the test compares with a plain NumPy one). Warm-up: ``vol_window + 1`` bars.
    """

    name = "imm_trend_prob"
    inputs = ("close",)
    role = Role.PRIMARY
    description = "3-regime IMM (up/down/flat drift) on vol-adjusted log price: P(up) - P(down)."

    drift: float = param(0.1, gt=0.0, doc="trend drift per bar, in units of the bar volatility")
    stay: float = param(0.98, gt=0.0, le=0.9999, doc="probability of staying in a regime")
    vol_window: int = _window(168, ge=2, doc="bars of one-bar returns in the volatility")

    def validate(self) -> None:
        if self.stay <= 1.0 / 3.0:
            raise ConfigError(
                f"factor 'imm_trend_prob' parameter 'stay' must be > 1/3 (a regime must be "
                f"stickier than a uniform switch), got {self.stay!r}"
            )

    def warmup(self) -> int:
        return self.vol_window + 1

    def _path(self, close: FloatArray) -> FloatArray | None:
        if close.shape[0] <= self.warmup():
            return None
        return _standardised_path(close, self.vol_window)

    def compute(self, close: FloatArray) -> FloatArray:
        out = np.full(close.shape[0], np.nan)
        z = self._path(close)
        if z is not None:
            mu = trend_imm(self.drift, self.stay).filter(z).mu
            out[self.warmup() :] = mu[:, 0] - mu[:, 1]
        return out

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        out = np.full(close.shape[0], np.nan)
        z = self._path(close)
        if z is not None:
            imm = trend_imm(self.drift, self.stay).reset()
            mu = np.array([imm.update(v).mu for v in z])
            out[self.warmup() :] = mu[:, 0] - mu[:, 1]
        return out


_GARCH_MEANS = ("constant", "zero")
_GARCH_DISTS = ("normal", "t", "skewt", "ged")


@register
class GarchVol(FactorSpec):
    """GARCH(p, q) one-step-ahead volatility of one-bar log returns, refitted on a schedule.

    Notes
    -----
    :func:`quantlab.models.garch.garch_volatility` on :math:`r_t = \\log(C_t/C_{t-1})`
    (bars 1..): ``arch`` re-estimates the model on the last ``window`` returns at refit
    rows anchored at the first return, the gap between refits being
    ``max(refit_every, refit_growth * bars seen)`` (so a prefix refits at the same rows, no
    estimate sees a later bar, and a million bars cost about 150 refits instead of
    10,000); between refits a numba kernel runs the variance recursion with the last
    estimate. The value at ``t`` is the fixed-parameter forecast
    :math:`\\sigma_{t+1|t}`: the volatility expected for the next bar given returns up to
    ``t`` (equal to ``arch``'s ``fix(...).forecast`` to round-off). Per bar, not
    annualised. Warm-up: ``min_obs`` bars (the first fit needs ``min_obs`` returns).
    """

    name = "garch_vol"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "GARCH one-step-ahead volatility of log returns (arch, periodic causal refit)."

    p: int = param(1, ge=1, doc="ARCH order")
    q: int = param(1, ge=0, doc="GARCH order")
    mean: str = "constant"
    dist: str = "normal"
    refit_every: int = param(100, ge=1, doc="fewest bars between re-estimations")
    window: int = _window(1000, ge=100, doc="returns used by each re-estimation (rolling)")
    min_obs: int = param(250, ge=100, doc="returns before the first estimate")
    refit_growth: float = param(
        0.05, ge=0.0, le=10.0, doc="gap between refits as a fraction of the bars seen"
    )

    def validate(self) -> None:
        for field, allowed in (("mean", _GARCH_MEANS), ("dist", _GARCH_DISTS)):
            value = getattr(self, field)
            if value not in allowed:
                raise ConfigError(
                    f"factor 'garch_vol' parameter {field!r} must be one of {allowed}, "
                    f"got {value!r}"
                )

    def warmup(self) -> int:
        return self.min_obs

    def compute(self, close: FloatArray) -> FloatArray:
        out = np.full(close.shape[0], np.nan)
        if close.shape[0] <= self.warmup():
            return out
        r = log_return_nb(close, 1)[1:]
        vol = garch_volatility(
            r,
            p=self.p,
            q=self.q,
            mean=self.mean,
            dist=self.dist,
            refit_every=self.refit_every,
            window=self.window,
            min_obs=self.min_obs,
            refit_growth=self.refit_growth,
        )
        out[1:] = vol.to_numpy(dtype=np.float64)
        return out


@register
class ConformalWidth(FactorSpec):
    """Width of the adaptive conformal interval for the next one-bar log return.

    Notes
    -----
    The point forecast of :math:`r_{t+1}` is :func:`kalman_return_forecast` (a
    local-level Kalman filter of past returns); its score is
    :math:`s_t = |r_t - \\hat r_{t|t-1}|`. Adaptive conformal inference
    (:class:`~quantlab.models.conformal.AdaptiveConformal`, Gibbs & Candes 2021) on the
    last ``window`` scores, with target miscoverage ``alpha`` and step ``gamma``, gives
    the threshold :math:`q_{t+1}` from the scores up to ``t``; the value at ``t`` is the
    width :math:`2 q_{t+1}` of the interval :math:`\\hat r_{t+1|t} \\pm q_{t+1}`. An
    ACI level at or below 0 asks for the whole line (``+inf``), at or above 1 for the
    empty set (width 0). Warm-up: ``min_scores + 1`` bars (scores start at bar 2).
    """

    name = "conformal_width"
    inputs = ("close",)
    role = Role.FILTER
    description = "Width of the adaptive conformal interval (ACI) for the next log return."

    alpha: float = param(0.1, gt=0.0, le=0.5, doc="target miscoverage of the interval")
    gamma: float = param(0.005, ge=0.0, le=0.5, doc="ACI step size")
    window: int = _window(500, doc="past scores in the calibration set")
    min_scores: int = param(50, ge=10, doc="scores needed before the first width")
    snr: float = param(1e-3, gt=0.0, doc="signal-to-noise ratio of the return forecast")

    def warmup(self) -> int:
        return self.min_scores + 1

    def _scores(self, close: FloatArray) -> FloatArray:
        r = log_return_nb(close, 1)
        pred = np.full(close.shape[0], np.nan)
        pred[1:] = kalman_return_forecast(close, self.snr)[:-1]
        return np.abs(r - pred)

    def compute(self, close: FloatArray) -> FloatArray:
        scores = self._scores(close)
        aci = AdaptiveConformal(self.alpha, self.gamma, window=self.window)
        # thresholds from scores before t; one NaN score appended gives, at t + 1, the
        # threshold after absorbing the score of bar t: the next bar's interval
        thr = aci.filter(np.append(scores, np.nan))["threshold"].to_numpy()[1:]
        out = np.asarray(interval_width(-thr, thr), dtype=np.float64)
        out[: self.warmup()] = np.nan
        return out

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        scores = self._scores(close)
        aci = AdaptiveConformal(self.alpha, self.gamma, window=self.window)
        thr = np.full(close.shape[0], np.nan)
        for t in range(2, close.shape[0]):
            aci.update(scores[t])
            thr[t] = aci.threshold_
        out = np.asarray(interval_width(-thr, thr), dtype=np.float64)
        out[: self.warmup()] = np.nan
        return out


def return_interval(
    df: pd.DataFrame,
    alpha: float = 0.1,
    gamma: float = 0.005,
    window: int = 500,
    snr: float = 1e-3,
) -> pd.DataFrame:
    """Return the adaptive conformal interval of each bar's one-bar log return.

    Parameters
    ----------
    df : pandas.DataFrame
        Bars with a ``close`` column.
    alpha, gamma, window, snr
        As in the ``conformal_width`` factor.

    Returns
    -------
    pandas.DataFrame
        On ``df.index``: ``return`` (:math:`r_t`, realised at ``t``), ``forecast``
        (:math:`\\hat r_{t|t-1}`, made at ``t - 1``), ``lower``, ``upper`` and ``threshold``
        (from scores before ``t``, i.e. known at ``t - 1``). The ``conformal_width`` factor
        at ``t`` is ``upper - lower`` of row ``t + 1``.
    """
    if not isinstance(df, pd.DataFrame) or "close" not in df.columns:
        raise ConfigError("df: need a DataFrame of bars with a 'close' column")
    close = np.ascontiguousarray(df["close"].to_numpy(dtype=np.float64))
    spec = ConformalWidth(alpha=alpha, gamma=gamma, window=window, snr=snr)
    r = log_return_nb(close, 1)
    pred = np.full(close.shape[0], np.nan)
    pred[1:] = kalman_return_forecast(close, snr)[:-1]
    ci = conformal_interval(
        pd.Series(pred, index=df.index),
        spec._scores(close),
        alpha=alpha,
        method="aci",
        gamma=gamma,
        window=window,
    )
    ci.insert(0, "forecast", pred)
    ci.insert(0, "return", r)
    return ci
