"""GARCH wrapper: arch's published S&P 500 values, units, and the causal rolling volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.data import sp500

from quantlab.errors import ConfigError, DataError
from quantlab.models.garch import Garch, garch_volatility


@pytest.fixture(scope="module")
def pct() -> pd.Series:
    """S&P 500 percent returns bundled with arch (as in arch's documentation)."""
    return 100 * sp500.load()["Adj Close"].pct_change().dropna()


@pytest.fixture(scope="module")
def fitted(pct) -> Garch:
    return Garch(scale=1.0).fit(pct)


def test_reproduces_published_sp500_values(fitted):
    np.testing.assert_allclose(
        fitted.params_.to_numpy(), [0.056353, 0.017507, 0.102150, 0.885206], atol=1e-6
    )
    assert list(fitted.params_.index) == ["mu", "omega", "alpha[1]", "beta[1]"]
    assert fitted.loglik_ == pytest.approx(-6936.718477, abs=1e-6)
    assert fitted.converged_


def test_conditional_volatility_and_forecast_are_arch_s(pct, fitted):
    res = arch_model(pct).fit(disp="off")
    np.testing.assert_allclose(fitted.conditional_volatility_, res.conditional_volatility)
    fc = res.forecast(horizon=5, reindex=False)
    got = fitted.forecast(5)
    np.testing.assert_allclose(got["variance"], fc.variance.iloc[-1])
    np.testing.assert_allclose(got["mean"], fc.mean.iloc[-1])
    np.testing.assert_allclose(got["volatility"], np.sqrt(fc.variance.iloc[-1]))
    assert list(got.index) == [1, 2, 3, 4, 5]


def test_scale_changes_units_not_the_model(pct, fitted):
    dec = Garch(scale=100.0).fit(pct / 100)
    np.testing.assert_allclose(dec.params_, fitted.params_, rtol=1e-6)
    np.testing.assert_allclose(
        dec.conditional_volatility_ * 100, fitted.conditional_volatility_, rtol=1e-6
    )
    np.testing.assert_allclose(
        dec.forecast(2)["volatility"] * 100, fitted.forecast(2)["volatility"], rtol=1e-6
    )


def test_filter_equals_arch_fixed_forecast(pct, fitted):
    r = pct.iloc[:600]
    got = fitted.filter(r)
    want = arch_model(r).fix(fitted.params_).forecast(horizon=1, start=0, reindex=False)
    np.testing.assert_allclose(got, np.sqrt(want.variance.iloc[:, 0]), rtol=1e-12)
    # the one-line GARCH(1,1) recursion, seeded with arch's backcast (EWMA of the first 75
    # squared residuals at the estimated mean)
    mu, omega, a1, b1 = fitted.params_.to_numpy()
    eps = r.to_numpy() - mu
    w = 0.94 ** np.arange(75)
    backcast = np.sum(eps[:75] ** 2 * w / w.sum())
    s2 = omega + (a1 + b1) * backcast
    want_var = np.empty(len(r))
    for t in range(len(r)):
        s2 = omega + a1 * eps[t] ** 2 + b1 * s2
        want_var[t] = s2
    np.testing.assert_allclose(got**2, want_var, rtol=1e-12)
    # note: arch's in-sample conditional_volatility seeds its backcast with residuals at the
    # *sample mean* (its starting values), which looks at the whole sample; the forecast path
    # above uses the estimated mu only, which is why filter/garch_volatility build on it.


def test_rolling_volatility_is_causal(pct):
    r = pct.iloc[:700] / 100
    kw = dict(refit_every=60, window=300, min_obs=250)
    full = garch_volatility(r, **kw)
    assert full.iloc[:249].isna().all() and full.iloc[249:].notna().all()
    for cut in (260, 309, 310, 455):
        part = garch_volatility(r.iloc[:cut], **kw)
        np.testing.assert_allclose(part, full.iloc[:cut], rtol=1e-12)


def test_rolling_volatility_matches_an_independent_arch_computation(pct):
    r = pct.iloc[:700] / 100
    full = garch_volatility(r, refit_every=60, window=300, min_obs=250)
    # t = 400 lies in the segment refitted at s = 249 + 2 * 60 = 369 on rows 70..369
    s, t, a = 369, 400, 70
    params = arch_model(r.iloc[a : s + 1] * 100).fit(disp="off").params
    fc = arch_model(r.iloc[a : t + 1] * 100).fix(params).forecast(horizon=1, reindex=False)
    assert full.iloc[t] == pytest.approx(np.sqrt(fc.variance.iloc[-1, 0]) / 100, rel=1e-10)
    # expanding window
    exp_full = garch_volatility(r, refit_every=100, min_obs=250)
    s, t = 349, 380
    params = arch_model(r.iloc[: s + 1] * 100).fit(disp="off").params
    fc = arch_model(r.iloc[: t + 1] * 100).fix(params).forecast(horizon=1, reindex=False)
    assert exp_full.iloc[t] == pytest.approx(np.sqrt(fc.variance.iloc[-1, 0]) / 100, rel=1e-10)


def test_bad_input_raises_quantlab_errors(pct):
    r = pct.iloc[:300].copy()
    r.iloc[17] = np.nan
    with pytest.raises(DataError, match="row 17"):
        Garch().fit(r)
    with pytest.raises(DataError, match="at least"):
        Garch().fit(pct.iloc[:50])
    with pytest.raises(ConfigError, match="mean"):
        Garch(mean="ar").fit(pct.iloc[:300])
    with pytest.raises(ConfigError, match="dist"):
        Garch(dist="cauchy").fit(pct.iloc[:300])
    with pytest.raises(ConfigError, match="fit"):
        Garch().forecast(1)
    with pytest.raises(ConfigError, match="window"):
        garch_volatility(pct.iloc[:300], window=20)


def test_update_continues_filter(pct, fitted):
    r = pct.iloc[:800]
    full = fitted.filter(r).to_numpy()
    fitted.filter(r.iloc[:500])
    for t in range(500, 800):
        assert fitted.update(r.iloc[t]) == pytest.approx(full[t], rel=1e-10)
    st = fitted.state()
    assert set(st) == {"resid2_lags", "variance_lags"}
    with pytest.raises(DataError, match="finite"):
        fitted.update(np.nan)


def test_update_from_the_prior_is_the_unconditional_variance(fitted):
    c = fitted.params_
    v = c["omega"] / (1 - c["alpha[1]"] - c["beta[1]"])
    fitted.reset()
    np.testing.assert_allclose(fitted.state()["variance_lags"], [v])
    first = fitted.update(c["mu"])  # a zero residual
    assert first == pytest.approx(np.sqrt(c["omega"] + c["beta[1]"] * v), rel=1e-12)
    with pytest.raises(ConfigError, match="call fit"):
        Garch().update(0.01)
