"""GARCH volatility models: a thin, scikit-learn shaped wrapper around ``arch``.

Estimation, filtering and forecasting are all done by ``arch`` (``arch_model(...).fit`` and
the fixed-parameter ``fix``); this module only adds input validation, unit handling
(``scale``) and a causal rolling one-step-ahead volatility.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import ConfigError, DataError

__all__ = ["Garch", "garch_volatility"]

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
    if int(p) != p or p < 1:
        raise ConfigError(f"p = {p!r}: the ARCH order must be an integer >= 1")
    if int(q) != q or q < 0:
        raise ConfigError(f"q = {q!r}: the GARCH order must be an integer >= 0")
    if mean not in _MEANS:
        raise ConfigError(f"mean = {mean!r}: must be one of {sorted(_MEANS)}")
    if dist not in _DISTS:
        raise ConfigError(f"dist = {dist!r}: must be one of {sorted(_DISTS)}")
    if not np.isfinite(scale) or scale <= 0:
        raise ConfigError(f"scale = {scale!r}: must be a finite number > 0")


def _arch_model(y: pd.Series, p: int, q: int, mean: str, dist: str) -> Any:
    from arch import arch_model

    return arch_model(
        y, mean=_MEANS[mean], vol="GARCH", p=int(p), q=int(q), dist=_DISTS[dist], rescale=False
    )


class Garch:
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

    def fit(self, returns: Any) -> Garch:
        """Estimate the model on ``returns`` (one series, no NaN) and return ``self``."""
        _check_spec(self.p, self.q, self.mean, self.dist, self.scale)
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
        return pd.Series(
            np.sqrt(var.to_numpy(dtype=np.float64)) / self.scale, index=r.index, name="volatility"
        )


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
) -> pd.Series:
    """Return a causal rolling one-step-ahead GARCH volatility.

    Parameters
    ----------
    returns : pandas.Series or array-like
        Per-bar returns (decimal), no NaN.
    p, q, mean, dist, scale
        As in :class:`Garch`.
    refit_every : int
        Re-estimate every ``refit_every`` bars. Refits happen at rows
        ``min_obs - 1 + k * refit_every`` (anchored at the start, so a prefix of the data
        refits at the same rows).
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
    at ``t`` is ``arch``'s fixed-parameter (``fix``) one-step forecast on ``returns[a:t+1]``:
    ``sigma^2_{t+1} = omega + sum alpha_i eps_{t+1-i}^2 + sum beta_j sigma^2_{t+1-j}``. The
    recursion's backcast uses rows ``a..a+74 <= s``, so nothing after ``t`` is used.
    (``arch``'s loose variance bounds, which use the whole fixed sample, never bind on
    ordinary data.)
    """
    _check_spec(p, q, mean, dist, scale)
    r = _returns(returns)
    for name, value, low in (("refit_every", refit_every, 1), ("min_obs", min_obs, _MIN_OBS)):
        if int(value) != value or value < low:
            raise ConfigError(f"{name} = {value!r}: must be an integer >= {low}")
    if window is not None and (int(window) != window or window < _MIN_OBS):
        raise ConfigError(f"window = {window!r}: must be None or an integer >= {_MIN_OBS}")
    n = len(r)
    out = np.full(n, np.nan)
    y = r * scale
    for s in range(int(min_obs) - 1, n, int(refit_every)):
        a = 0 if window is None else max(0, s - int(window) + 1)
        fit = _arch_model(y.iloc[a : s + 1], p, q, mean, dist).fit(disp="off")
        end = min(n, s + int(refit_every))
        fixed = _arch_model(y.iloc[a:end], p, q, mean, dist).fix(fit.params)
        fc = fixed.forecast(horizon=1, start=s - a, reindex=False).variance.iloc[:, 0]
        out[s:end] = np.sqrt(fc.to_numpy(dtype=np.float64)) / scale
    return pd.Series(out, index=r.index, name="garch_volatility")
