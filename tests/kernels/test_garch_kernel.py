"""The GARCH variance recursion in numba equals arch's (fixed parameters), to round-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.data import sp500

from quantlab.kernels.garch import (
    garch_backcast_nb,
    garch_refit_path_nb,
    garch_step_nb,
    garch_variance_nb,
)
from quantlab.models.garch import _recursion_params, garch_volatility, refit_rows


@pytest.fixture(scope="module")
def pct() -> pd.Series:
    return 100 * sp500.load()["Adj Close"].pct_change().dropna()


SPECS = [
    {"p": 1, "q": 1, "mean": "Constant"},
    {"p": 2, "q": 1, "mean": "Constant"},
    {"p": 1, "q": 2, "mean": "Zero"},
    {"p": 1, "q": 0, "mean": "Constant"},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['mean']}-{s['p']}-{s['q']}")
def test_recursion_equals_arch_fixed_parameters(pct, spec):
    y = pct.iloc[:2000]
    res = arch_model(y, vol="GARCH", rescale=False, **spec).fit(disp="off")
    p, q = spec["p"], spec["q"]
    c = _recursion_params(res.params, p, q)
    resid = y.to_numpy() - c[0]
    alpha, beta = c[2 : 2 + p], c[2 + p :]
    fixed = arch_model(y, vol="GARCH", rescale=False, **spec).fix(res.params)
    # fix()'s in-sample volatility starts from arch's backcast of the starting-value
    # residuals (y minus its sample mean): the recursion itself, from that backcast
    start_resid = y.to_numpy() - (y.mean() if spec["mean"] == "Constant" else 0.0)
    bc = garch_backcast_nb(start_resid)
    sigma2 = np.empty(resid.size + 1)
    garch_variance_nb(resid, c[1], alpha, beta, bc, sigma2)
    np.testing.assert_allclose(
        np.sqrt(sigma2[:-1]), fixed.conditional_volatility, rtol=1e-10, atol=0
    )
    # forecast() starts from the backcast of the fitted residuals (causal: rows < 75)
    garch_variance_nb(resid, c[1], alpha, beta, garch_backcast_nb(resid), sigma2)
    fc = fixed.forecast(horizon=1, start=0, reindex=False).variance.to_numpy()[:, 0]
    np.testing.assert_allclose(sigma2[1:], fc, rtol=1e-10, atol=0)


def test_step_continues_the_recursion(pct):
    y = pct.to_numpy()[:500]
    omega, alpha, beta = 0.02, np.array([0.05, 0.03]), np.array([0.9])
    bc = garch_backcast_nb(y)
    full = np.empty(501)
    garch_variance_nb(y, omega, alpha, beta, bc, full)
    part = np.empty(301)
    garch_variance_nb(y[:300], omega, alpha, beta, bc, part)
    e2 = np.array([y[299] ** 2, y[298] ** 2])
    s2 = np.array([part[300]])
    for t in range(300, 500):
        s = garch_step_nb(e2, s2, y[t], omega, alpha, beta)
        assert s == pytest.approx(full[t + 1], rel=1e-13)


def _arch_refit_path(r, p, q, mean, starts, window):
    """The former garch_volatility: arch's fix + forecast per refit segment (the oracle)."""
    n, y = len(r), r * 100.0
    out = np.full(n, np.nan)
    ends = np.append(starts[1:], n)
    m = {"constant": "Constant", "zero": "Zero"}[mean]
    for s, e in zip(starts, ends, strict=True):
        a = 0 if window is None else max(0, s - window + 1)
        kw = {"mean": m, "vol": "GARCH", "p": p, "q": q, "rescale": False}
        fit = arch_model(y.iloc[a : s + 1], **kw).fit(disp="off")
        fc = (
            arch_model(y.iloc[a:e], **kw)
            .fix(fit.params)
            .forecast(horizon=1, start=s - a, reindex=False)
        )
        out[s:e] = np.sqrt(fc.variance.to_numpy()[:, 0]) / 100.0
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {"refit_every": 300, "window": 1000},
        {"refit_every": 400, "window": None, "p": 2},
        {"refit_every": 150, "window": 500, "mean": "zero", "refit_growth": 0.3},
    ],
)
def test_garch_volatility_equals_arch_between_refits(pct, kw):
    r = pct.iloc[:2500] / 100.0
    p, q, mean = kw.get("p", 1), 1, kw.get("mean", "constant")
    got = garch_volatility(r, min_obs=250, **kw).to_numpy()
    starts = refit_rows(
        len(r), refit_every=kw["refit_every"], min_obs=250, refit_growth=kw.get("refit_growth", 0)
    )
    want = _arch_refit_path(r, p, q, mean, starts, kw["window"])
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-10, atol=0)


def test_refit_rows_are_positional_and_grow():
    rows = refit_rows(1_000_000, refit_every=100, min_obs=250, refit_growth=0.05)
    assert rows[0] == 249 and rows[1] == 349
    gaps = np.diff(rows)
    assert (gaps >= 100).all() and (np.diff(gaps) >= 0).all()
    assert 100 < rows.size < 200  # log growth instead of 10,000 refits
    short = refit_rows(50_000, refit_every=100, min_obs=250, refit_growth=0.05)
    np.testing.assert_array_equal(short, rows[rows < 50_000])  # a prefix refits alike
    np.testing.assert_array_equal(
        refit_rows(1000, refit_every=100, min_obs=250), np.arange(249, 1000, 100)
    )


def test_refit_path_kernel_segments(pct):
    y = pct.to_numpy()[:1000].copy()
    starts = np.array([199, 500], dtype=np.int64)
    ends = np.array([500, 1000], dtype=np.int64)
    anchors = np.array([0, 301], dtype=np.int64)
    params = np.array([[0.05, 0.02, 0.1, 0.85], [0.04, 0.03, 0.08, 0.9]])
    out = np.full(1000, np.nan)
    garch_refit_path_nb(y, starts, ends, anchors, params, 1, 1, False, out)
    assert np.isnan(out[:199]).all() and np.isfinite(out[199:]).all()
    resid = y[301:1000] - 0.04
    s2 = np.empty(resid.size + 1)
    garch_variance_nb(resid, 0.03, params[1, 2:3], params[1, 3:], garch_backcast_nb(resid), s2)
    np.testing.assert_array_equal(out[500:], np.sqrt(s2[500 - 301 + 1 :]))
