"""GARCH volatility models: a scikit-learn shaped wrapper around ``arch``.

Estimation, batch filtering and forecasting are done by ``arch`` (``arch_model(...).fit``
and the fixed-parameter ``fix``); this module adds input validation, unit handling
(``scale``), a live one-step ``update`` and a causal rolling one-step-ahead volatility
whose variance recursion between refits runs in the numba kernel
:mod:`quantlab.kernels.garch` (equal to ``arch``'s to round-off).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.kernels.garch import (
    garch_backcast_nb,
    garch_refit_path_nb,
    garch_step_nb,
    garch_variance_nb,
)
from quantlab.models.base import BaseModel, check_choice, check_float, check_int

__all__ = ["Garch", "garch_volatility", "refit_rows"]

_MEANS = {"constant": "Constant", "zero": "Zero"}
_DISTS = {"normal": "normal", "t": "t", "skewt": "skewt", "ged": "ged"}
_MIN_OBS = 100


def _returns(returns: Any, name: str = "returns") -> pd.Series:
    """Return ``returns`` as a float64 Series, raising DataError on NaN/inf."""
    if isinstance(returns, pd.DataFrame):
        raise DataError(f"{name}: expected one series of returns, got a DataFrame")
    s = returns if isinstance(returns, pd.Series) else pd.Series(np.asarray(returns))
    try:
        s = s.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: returns must be numeric ({exc})") from None
    bad = ~np.isfinite(s.to_numpy())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: value at {s.index[i]!r} (row {i}) is {s.iloc[i]!r}; returns must be "
            "finite (drop the first NaN of pct_change())"
        )
    return s


def _check_spec(p: int, q: int, mean: str, dist: str, scale: float) -> None:
    check_int("p", p, 1)
    check_int("q", q, 0)
    check_choice("mean", mean, list(_MEANS))
    check_choice("dist", dist, list(_DISTS))
    check_float("scale", scale, gt=0.0)


def _recursion_params(params: pd.Series, p: int, q: int) -> FloatArray:
    """Return ``(mu, omega, alpha_1..p, beta_1..q)`` from ``arch``'s named parameters."""
    out = np.empty(2 + p + q)
    out[0] = float(params.get("mu", 0.0))
    out[1] = float(params["omega"])
    out[2 : 2 + p] = [float(params[f"alpha[{i + 1}]"]) for i in range(p)]
    out[2 + p :] = [float(params[f"beta[{j + 1}]"]) for j in range(q)]
    return out


def _arch_model(y: pd.Series, p: int, q: int, mean: str, dist: str) -> Any:
    from arch import arch_model

    return arch_model(
        y, mean=_MEANS[mean], vol="GARCH", p=int(p), q=int(q), dist=_DISTS[dist], rescale=False
    )


class Garch(BaseModel):
    """GARCH(p, q) volatility model estimated by ``arch``.

    Parameters
    ----------
    p : int
        ARCH order (lags of squared residuals), ``arch``'s ``p``.
    q : int
        GARCH order (lags of the conditional variance), ``arch``'s ``q``.
    mean : {"constant", "zero"}
        Mean model.
    dist : {"normal", "t", "skewt", "ged"}
        Innovation distribution.
    scale : float
        Returns are multiplied by ``scale`` before estimation (100 turns decimal returns into
        percent, where ``arch``'s optimiser is best conditioned). Parameters are reported on
        that scale, as ``arch`` reports them; every volatility or mean output is divided
        back into the units of the input returns.

    Attributes
    ----------
    result_ : arch.univariate.base.ARCHModelResult
        The ``arch`` fit.
    params_ : pandas.Series
        Estimated parameters (``mu, omega, alpha[1], ..., beta[1], ...``) on the scaled data.
    stderr_ : pandas.Series
        Their standard errors (``arch``'s robust covariance).
    loglik_ : float
        Log-likelihood of the scaled data.
    conditional_volatility_ : pandas.Series
        In-sample conditional volatility ``sigma_t`` (uses returns before ``t``), input units.
    converged_ : bool
        Whether ``arch``'s optimiser reported convergence.

    The live state (after :meth:`filter` or :meth:`update`, see :meth:`state`) holds the
    last ``p`` squared residuals and ``q`` variances of the recursion.

    Notes
    -----
    ``r_t = mu + eps_t``, ``eps_t = sigma_t z_t``,
    ``sigma_t^2 = omega + sum_i alpha_i eps_{t-i}^2 + sum_j beta_j sigma_{t-j}^2``.
    """

    def __init__(
        self,
        p: int = 1,
        q: int = 1,
        mean: str = "constant",
        dist: str = "normal",
        scale: float = 100.0,
    ) -> None:
        self.p = p
        self.q = q
        self.mean = mean
        self.dist = dist
        self.scale = scale
        self._live: tuple[FloatArray, FloatArray, FloatArray] | None = None

    _live_fields: ClassVar[dict[str, int]] = {"resid2_lags": 0, "variance_lags": 1}

    def _validate(self) -> None:
        _check_spec(self.p, self.q, self.mean, self.dist, self.scale)

    def fit(self, returns: Any) -> Garch:
        """Estimate the model on ``returns`` (one series, no NaN) and return ``self``."""
        self._validate()
        r = _returns(returns)
        if len(r) < _MIN_OBS:
            raise DataError(
                f"returns: {len(r)} observations; a GARCH fit needs at least {_MIN_OBS}"
            )
        model = _arch_model(r * self.scale, self.p, self.q, self.mean, self.dist)
        res = model.fit(disp="off")
        self.result_ = res
        self.params_ = res.params.copy()
        self.stderr_ = res.std_err.copy()
        self.loglik_ = float(res.loglikelihood)
        self.converged_ = bool(res.convergence_flag == 0)
        vol = pd.Series(
            np.asarray(res.conditional_volatility, dtype=np.float64) / self.scale,
            index=r.index,
            name="volatility",
        )
        self.conditional_volatility_ = vol
        self.n_obs_ = len(r)
        self._live = None
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise ConfigError("Garch: call fit(returns) before forecast/filter")

    def forecast(self, horizon: int = 1) -> pd.DataFrame:
        """Return mean, variance and volatility forecasts from the end of the fit sample.

        Returns
        -------
        pandas.DataFrame
            Index ``1..horizon`` (steps ahead), columns ``mean``, ``variance``,
            ``volatility``, in the units of the input returns.
        """
        self._check_fitted()
        if int(horizon) != horizon or horizon < 1:
            raise ConfigError(f"horizon = {horizon!r}: must be an integer >= 1")
        fc = self.result_.forecast(horizon=int(horizon), reindex=False)
        var = fc.variance.iloc[-1].to_numpy(dtype=np.float64) / self.scale**2
        mean = fc.mean.iloc[-1].to_numpy(dtype=np.float64) / self.scale
        idx = pd.RangeIndex(1, int(horizon) + 1, name="horizon")
        return pd.DataFrame({"mean": mean, "variance": var, "volatility": np.sqrt(var)}, index=idx)

    def filter(self, returns: Any) -> pd.Series:
        """Return the one-step-ahead volatility ``sigma_{t+1|t}`` with the fitted parameters.

        The value at ``t`` uses returns up to and including ``t`` (``arch``'s fixed-parameter
        model, ``fix``, then ``forecast(horizon=1)`` from the first observation). The
        variance recursion starts from ``arch``'s backcast (an EWMA of the first 75 squared
        residuals), so the first 75 values also depend on returns up to row 74.
        """
        self._check_fitted()
        r = _returns(returns)
        model = _arch_model(r * self.scale, self.p, self.q, self.mean, self.dist)
        fixed = model.fix(self.params_)
        var = fixed.forecast(horizon=1, start=0, reindex=False).variance.iloc[:, 0]
        self._start_live(r.to_numpy(dtype=np.float64))
        return pd.Series(
            np.sqrt(var.to_numpy(dtype=np.float64)) / self.scale, index=r.index, name="volatility"
        )

    def _coefficients(self) -> FloatArray:
        return _recursion_params(self.params_, int(self.p), int(self.q))

    def _start_live(self, r: FloatArray) -> None:
        """Run the recursion over ``r`` (the kernel) and keep its last lags as live state."""
        c = self._coefficients()
        p, q = int(self.p), int(self.q)
        resid = r * self.scale - c[0]
        sigma2 = np.empty(resid.shape[0] + 1)
        backcast = float(garch_backcast_nb(np.ascontiguousarray(resid)))
        garch_variance_nb(resid, c[1], c[2 : 2 + p], c[2 + p :], backcast, sigma2)
        e2 = np.array([resid[-1 - i] ** 2 if i < resid.shape[0] else backcast for i in range(p)])
        s2 = np.array([sigma2[-1 - j] if j < sigma2.shape[0] else backcast for j in range(q)])
        self._live = (e2, s2, c)

    def reset(self) -> Garch:
        """Start the live recursion from the unconditional variance of the fitted model.

        Before any data the lags of ``e^2`` and ``sigma^2`` are set to
        ``omega / (1 - sum(alpha) - sum(beta))`` (the model's prior); after
        :meth:`filter` they come from the series instead.
        """
        self._check_fitted()
        c = self._coefficients()
        p = int(self.p)
        persistence = float(np.sum(c[2:]))
        if persistence >= 1.0:
            raise ConfigError(
                f"Garch: sum(alpha) + sum(beta) = {persistence:.6g} >= 1 has no unconditional "
                "variance to start from; call filter(returns) to start from data"
            )
        v = c[1] / (1.0 - persistence)
        self._live = (np.full(p, v), np.full(int(self.q), v), c)
        return self

    def update(self, ret: float) -> float:
        """Absorb one return; return the volatility forecast for the next bar.

        Continues the last :meth:`filter`/:meth:`update` (or starts from :meth:`reset`):
        ``update(r_t)`` after ``filter(r[:t])`` equals ``filter(r[:t+1]).iloc[-1]``.
        """
        self._check_fitted()
        try:
            x = float(ret)
        except (TypeError, ValueError):
            raise DataError(f"ret = {ret!r}: a return must be a number") from None
        if not np.isfinite(x):
            raise DataError(f"ret = {ret!r}: returns must be finite")
        if self._live is None:
            self.reset()
        assert self._live is not None
        e2, s2, c = self._live
        p = int(self.p)
        s = garch_step_nb(e2, s2, x * self.scale - c[0], c[1], c[2 : 2 + p], c[2 + p :])
        return float(np.sqrt(s) / self.scale)


def garch_volatility(
    returns: Any,
    *,
    p: int = 1,
    q: int = 1,
    mean: str = "constant",
    dist: str = "normal",
    scale: float = 100.0,
    refit_every: int = 50,
    window: int | None = None,
    min_obs: int = 250,
    refit_growth: float = 0.0,
) -> pd.Series:
    """Return a causal rolling one-step-ahead GARCH volatility.

    Parameters
    ----------
    returns : pandas.Series or array-like
        Per-bar returns (decimal), no NaN.
    p, q, mean, dist, scale
        As in :class:`Garch`.
    refit_every : int
        Re-estimate every ``refit_every`` bars (the smallest gap between refits). With
        ``refit_growth = 0`` refits happen at rows ``min_obs - 1 + k * refit_every``.
    refit_growth : float
        Let the gap grow with the series: after a refit at row ``s`` the next is at
        ``s + max(refit_every, floor(refit_growth * (s + 1)))``, so ``n`` bars cost
        about ``log(n / min_obs) / log(1 + refit_growth)`` refits instead of
        ``n / refit_every``. Either way the rows depend on positions only (anchored at the
        start), so a prefix of the data refits at the same rows.
    window : int, optional
        Each refit uses the last ``window`` returns (rolling); None uses all returns so far
        (expanding). Must be at least 100.
    min_obs : int
        First value is at row ``min_obs - 1``; earlier rows are NaN. At least 100.

    Returns
    -------
    pandas.Series
        ``sigma_{t+1|t}`` on the index of ``returns``, in input units: the volatility
        expected for the next bar given returns up to and including ``t``.

    Notes
    -----
    At a refit row ``s`` the parameters are estimated by ``arch`` on ``returns[a:s+1]``
    (``a = max(0, s - window + 1)``, or 0). For ``s <= t`` before the next refit, the value
    at ``t`` is the fixed-parameter one-step forecast on ``returns[a:t+1]``:
    ``sigma^2_{t+1} = omega + sum alpha_i eps_{t+1-i}^2 + sum beta_j sigma^2_{t+1-j}``,
    computed by :func:`quantlab.kernels.garch.garch_refit_path_nb` from ``arch``'s
    backcast; it equals ``arch``'s ``fix(params).forecast(horizon=1)`` to round-off (tested
    to 1e-10). The backcast uses rows ``a..a+74 <= s``, so nothing after ``t`` is used.
    (``arch``'s loose variance bounds, which use the whole fixed sample, never bind on
    ordinary data and are not applied.)
    """
    _check_spec(p, q, mean, dist, scale)
    r = _returns(returns)
    refit_every = check_int("refit_every", refit_every, 1)
    min_obs = check_int("min_obs", min_obs, _MIN_OBS)
    refit_growth = check_float("refit_growth", refit_growth, ge=0.0)
    if window is not None and (int(window) != window or window < _MIN_OBS):
        raise ConfigError(f"window = {window!r}: must be None or an integer >= {_MIN_OBS}")
    n = len(r)
    out = np.full(n, np.nan)
    starts = refit_rows(n, refit_every=refit_every, min_obs=min_obs, refit_growth=refit_growth)
    if starts.size == 0:
        return pd.Series(out, index=r.index, name="garch_volatility")
    ends = np.append(starts[1:], n).astype(np.int64)
    anchors = np.zeros_like(starts) if window is None else np.maximum(0, starts - int(window) + 1)
    y = r * scale
    params = np.empty((starts.size, 2 + int(p) + int(q)))
    for k, (s, a) in enumerate(zip(starts, anchors, strict=True)):
        fit = _arch_model(y.iloc[a : s + 1], p, q, mean, dist).fit(disp="off")
        params[k] = _recursion_params(fit.params, int(p), int(q))
    yv = np.ascontiguousarray(y.to_numpy(dtype=np.float64))
    garch_refit_path_nb(yv, starts, ends, anchors, params, int(p), int(q), mean == "zero", out)
    out[starts[0] :] /= scale
    return pd.Series(out, index=r.index, name="garch_volatility")


def refit_rows(n: int, *, refit_every: int, min_obs: int, refit_growth: float = 0.0) -> Any:
    """Return the rows (int64 array) at which :func:`garch_volatility` re-estimates.

    The first is ``min_obs - 1``; after a refit at ``s`` the next is at
    ``s + max(refit_every, floor(refit_growth * (s + 1)))``. The rows depend on positions
    only, so those below ``m`` are the same for every series of length ``>= m``.
    """
    rows: list[int] = []
    s = int(min_obs) - 1
    while s < n:
        rows.append(s)
        s += max(int(refit_every), int(refit_growth * (s + 1)))
    return np.asarray(rows, dtype=np.int64)
