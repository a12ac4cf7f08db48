"""Honest factor research: significance under overlap (statsmodels HAC as the oracle),
effective sample size, quantiles that cannot be formed, and price levels that are not
signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import random_bars

import quantlab as ql
from quantlab.errors import DataError
from quantlab.factors import research as fr


def _overlapping(n: int, h: int, seed: int, beta: float = 0.0):
    """A persistent factor and ``h``-bar overlapping sums of iid noise (plus ``beta * x``)."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=n)) * 0.05 + rng.normal(size=n) * 0.1
    e = rng.normal(size=n + h - 1)
    y = np.convolve(e, np.ones(h), "valid") + beta * x
    return x, y


@pytest.mark.parametrize("lags", [0, 1, 4, 12, 24])
@pytest.mark.parametrize("seed", [0, 1])
def test_newey_west_t_equals_statsmodels_hac(lags, seed):
    x, y = _overlapping(700, 12, seed, beta=0.5)
    slope, t, p = fr.newey_west_t(x, y, lags)
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    assert slope == pytest.approx(fit.params[1], rel=1e-10)
    assert t == pytest.approx(fit.tvalues[1], rel=1e-10)
    assert p == pytest.approx(fit.pvalues[1], rel=1e-8, abs=1e-300)


def test_effective_sample_size_of_overlapping_returns_is_about_n_over_h():
    n = 20_000
    for h in (4, 12, 24):
        rng = np.random.default_rng(h)
        x = np.cumsum(rng.normal(size=n))  # persistent: rho_x(k) ~ 1
        y = np.convolve(rng.normal(size=n + h - 1), np.ones(h), "valid")
        n_eff = fr.effective_sample_size(x, y, h - 1)
        assert n / h * 0.8 < n_eff < n / h * 1.25, (h, n_eff)
    iid = np.random.default_rng(5).normal(size=(2, n))
    assert fr.effective_sample_size(iid[0], iid[1], 10) == pytest.approx(n, rel=0.02)
    assert fr.effective_sample_size(iid[0], iid[1], 0) == n


def test_overlap_no_longer_makes_noise_significant():
    """Noise against overlapping returns: the naive t is often 'significant', HAC is not."""
    naive_hits = hac_hits = 0
    for seed in range(40):
        x, y = _overlapping(1000, 24, seed)
        rho = np.corrcoef(x, y)[0, 1]
        naive = rho * np.sqrt((1000 - 2) / (1 - rho**2))
        _, t_hac, _ = fr.newey_west_t(x, y, 24)
        naive_hits += abs(naive) > 2
        hac_hits += abs(t_hac) > 2
    assert naive_hits > 20  # most seeds look 'significant' when the overlap is ignored
    assert hac_hits < naive_hits / 2


def test_ic_summary_and_ranking_carry_hac_significance():
    bars = random_bars(1500, seed=8)
    fwd = fr.forward_returns(bars, [1, 12])
    rng = np.random.default_rng(9)
    X = pd.DataFrame(
        {
            "planted": fwd["fwd_1"].to_numpy() + rng.normal(0, 0.01, len(bars)),
            "noise": rng.normal(size=len(bars)),
        },
        index=bars.index,
    )
    summary = fr.ic_summary(X, fwd)
    row = summary[(summary.factor == "planted") & (summary.horizon == 12)].iloc[0]
    x, y = X["planted"].to_numpy()[:-12], fwd["fwd_12"].to_numpy()[:-12]
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    zx, zy = (rx - rx.mean()) / rx.std(), (ry - ry.mean()) / ry.std()
    fit = sm.OLS(zy, sm.add_constant(zx)).fit(cov_type="HAC", cov_kwds={"maxlags": 12})
    assert row.t_hac == pytest.approx(fit.tvalues[1], rel=1e-9)
    assert row.rank_ic == pytest.approx(fit.params[1], rel=1e-9)
    assert row.n_eff < row.n
    ranking = fr.ic_ranking(summary)
    assert list(ranking.index) == ["planted", "noise"]
    assert ranking.loc["planted", "horizon"] == 1  # its most significant horizon


def test_a_constant_factor_shows_no_quantile_spread():
    bars = random_bars(600, seed=3)
    fwd = fr.forward_returns(bars, [1, 24])
    constant = pd.Series(1.0, index=bars.index, name="flat")
    with pytest.raises(DataError, match=r"'flat' is constant.*cannot be formed"):
        fr.quantile_returns(constant, fwd, 5)
    two_values = pd.Series(np.where(np.arange(600) < 300, 0.0, 1.0), index=bars.index, name="step")
    with pytest.raises(DataError, match="2 distinct values"):
        fr.factor_quantiles(two_values, 5)
    q = fr.factor_quantiles(two_values, 2)  # ties are never split by their order in time
    assert (q.iloc[:300] == 1).all() and (q.iloc[300:] == 2).all()


def test_ties_stay_in_one_quantile():
    idx = pd.RangeIndex(100)
    f = pd.Series(np.r_[np.zeros(60), np.arange(1.0, 41.0)], index=idx, name="tied")
    q = fr.factor_quantiles(f, 5)
    assert q.iloc[:60].nunique() == 1  # 60 equal values, one bucket
    fwd = pd.DataFrame({"fwd_1": np.arange(100.0)}, index=idx)
    with pytest.warns(UserWarning, match="hold no bar"):
        qr = fr.quantile_returns(f, fwd, 5)
    assert qr[1].isna().sum() >= 1


def test_price_levels_are_compared_as_distances_from_price():
    df = ql.data.load("synthetic", seed=7, start="2024-01-01", end="2024-03-01")
    names = ["ema", "sma", "kama", "atr", "obv", "rsi"]
    X = ql.factors.compute_many(df, names)
    S, how = fr.as_signals(X, df)
    assert list(S.columns) == ["ema_dist", "sma_dist", "kama_dist", "atr_rel", "rsi"]
    assert how.loc["obv", "column"] == "" and how.loc["ema", "units"] == "price"
    np.testing.assert_allclose(S["ema_dist"], np.log(df["close"] / X["ema"]), rtol=1e-12)
    np.testing.assert_allclose(S["rsi"], X["rsi"], rtol=0)
    # a level tracks the price: its rank IC is the price's; the distance is a signal
    for name in names:
        if ql.factors.spec(name).units == "price":
            assert X[name].corr(df["close"], method="spearman") > 0.9
            assert abs(S[f"{name}_dist"].corr(df["close"], method="spearman")) < 0.5
    registered = {n: ql.factors.spec(n).units for n in ql.factors.names()}
    assert set(registered.values()) <= set(fr.UNITS)
    assert {n for n, u in registered.items() if u == "price"} >= {"ema", "sma", "kama"}
