"""Factor research statistics against scipy.stats and pandas; figure builders."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars
from scipy import stats

from quantlab.errors import ConfigError, DataError
from quantlab.factors import research as fr


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(800, seed=31)


@pytest.fixture(scope="module")
def fwd(bars) -> pd.DataFrame:
    return fr.forward_returns(bars, [1, 4, 12])


@pytest.fixture(scope="module")
def factors(bars, fwd) -> pd.DataFrame:
    rng = np.random.default_rng(32)
    n = len(bars)
    informative = fwd["fwd_4"].to_numpy() + rng.normal(0, 0.02, n)  # peeks, on purpose
    noisy = rng.normal(size=n)
    noisy[:50] = np.nan  # a warm-up
    tied = np.round(rng.normal(size=n), 1)  # many ties, for rank IC
    return pd.DataFrame({"informative": informative, "noise": noisy, "tied": tied}, bars.index)


def _pairs(x: pd.Series, y: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    m = x.notna() & y.notna()
    return x[m].to_numpy(), y[m].to_numpy()


def test_forward_returns(bars) -> None:
    out = fr.forward_returns(bars["close"], [1, 5])
    assert list(out.columns) == ["fwd_1", "fwd_5"] and out.index.equals(bars.index)
    c = bars["close"]
    np.testing.assert_allclose(out["fwd_5"], np.log(c.shift(-5) / c), rtol=1e-12)
    assert out["fwd_5"].iloc[-5:].isna().all() and out["fwd_5"].iloc[:-5].notna().all()
    simple = fr.forward_returns(bars, 3, log=False)["fwd_3"]
    np.testing.assert_allclose(simple, c.shift(-3) / c - 1.0, rtol=1e-12)
    assert fr.forward_returns(bars.iloc[:3], [5])["fwd_5"].isna().all()


@pytest.mark.parametrize(
    ("horizons", "match"),
    [([0], "horizon"), ([1, 1], "twice"), ([], "at least one"), (["1"], "must be an int")],
)
def test_forward_returns_bad_horizons(bars, horizons, match) -> None:
    with pytest.raises(ConfigError, match=match):
        fr.forward_returns(bars, horizons)


def test_forward_returns_bad_close(bars) -> None:
    c = bars["close"].copy()
    c.iloc[7] = -1.0
    with pytest.raises(DataError, match="row 7"):
        fr.forward_returns(c)
    with pytest.raises(ConfigError, match="close"):
        fr.forward_returns(bars.drop(columns="close"))


def test_ic_matches_scipy(factors, fwd) -> None:
    ic = fr.information_coefficient(factors, fwd, method="pearson")
    ric = fr.rank_ic(factors, fwd)
    assert list(ic.index) == list(factors.columns) and list(ic.columns) == [1, 4, 12]
    for f in factors.columns:
        for h in (1, 4, 12):
            x, y = _pairs(factors[f], fwd[f"fwd_{h}"])
            assert ic.loc[f, h] == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
            assert ric.loc[f, h] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert ic.loc["informative", 4] > 0.5  # the planted signal is found
    single = fr.rank_ic(factors["tied"], fwd)
    assert isinstance(single, pd.Series) and single.name == "tied"
    pd.testing.assert_series_equal(single, ric.loc["tied"], check_names=False)


def test_ic_known_cases(fwd) -> None:
    r = fwd["fwd_1"]
    assert fr.information_coefficient(r, fwd)[1] == pytest.approx(1.0)
    assert fr.information_coefficient(-r, fwd)[1] == pytest.approx(-1.0)
    monotone = np.exp(50.0 * r)  # rank-preserving, not linear
    assert fr.rank_ic(monotone, fwd)[1] == pytest.approx(1.0)
    assert fr.information_coefficient(monotone, fwd)[1] < 0.999
    constant = pd.Series(1.0, index=r.index)
    assert np.isnan(fr.information_coefficient(constant, fwd)[1])
    with pytest.raises(ConfigError, match="method"):
        fr.information_coefficient(r, fwd, method="kendall")
    with pytest.raises(DataError, match="indexes differ"):
        fr.information_coefficient(r.iloc[1:], fwd)


def test_ic_summary(factors, fwd) -> None:
    s = fr.ic_summary(factors, fwd)
    assert len(s) == 9 and list(s.columns) == [
        "factor", "horizon", "ic", "rank_ic", "n", "t_stat", "n_eff", "t_hac", "p_hac",
    ]  # fmt: skip
    row = s[(s.factor == "noise") & (s.horizon == 12)].iloc[0]
    x, y = _pairs(factors["noise"], fwd["fwd_12"])
    assert row.n == len(x)
    rho = stats.spearmanr(x, y).statistic
    m = len(x) / 12
    assert row.t_stat == pytest.approx(rho * np.sqrt((m - 2) / (1 - rho**2)), rel=1e-10)


def test_ic_decay(bars, factors) -> None:
    decay = fr.ic_decay(factors, bars, horizons=range(1, 7))
    assert list(decay.index) == [1, 2, 3, 4, 5, 6] and list(decay.columns) == list(factors)
    direct = fr.rank_ic(factors, fr.forward_returns(bars, range(1, 7)))
    np.testing.assert_array_equal(decay.to_numpy(), direct.T.to_numpy())
    # the planted 4-bar signal peaks at horizon 4
    assert decay["informative"].idxmax() == 4
    assert isinstance(fr.ic_decay(factors["noise"], bars["close"], [1, 2]), pd.Series)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_cumulative_ic_ends_at_the_ic(factors, fwd, method) -> None:
    cum = fr.cumulative_ic(factors, fwd["fwd_4"], method=method)
    ic = fr.information_coefficient(factors, fwd[["fwd_4"]], method=method)[4]
    np.testing.assert_allclose(cum.iloc[-1], ic, rtol=1e-10)
    # flat where a value is missing (noise warm-up, the last 4 bars without a return)
    assert (cum["noise"].iloc[:50] == 0.0).all()
    assert cum["informative"].iloc[-4:].nunique() == 1


def test_rolling_ic_matches_scipy_per_window(factors, fwd) -> None:
    f, r = factors["informative"], fwd["fwd_1"]
    out = fr.rolling_ic(f, r, 60)
    assert out.iloc[:59].isna().all()
    for t in (59, 200, 700):
        x, y = f.iloc[t - 59 : t + 1].to_numpy(), r.iloc[t - 59 : t + 1].to_numpy()
        assert out.iloc[t] == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    with pytest.raises(ConfigError, match="window"):
        fr.rolling_ic(f, r, 2)


def test_quantiles_and_quantile_returns(factors, fwd) -> None:
    f = factors["noise"]
    q = fr.factor_quantiles(f, 5)
    assert q.dtype == "Int64" and q.iloc[:50].isna().all()
    counts = q.value_counts().sort_index()
    assert list(counts.index) == [1, 2, 3, 4, 5] and counts.max() - counts.min() <= 1
    means = f.groupby(q).mean()
    assert means.is_monotonic_increasing
    qr = fr.quantile_returns(f, fwd, 5)
    buckets = pd.qcut(f.dropna().rank(method="first"), 5, labels=False) + 1
    want = fwd.loc[buckets.index].groupby(buckets.to_numpy()).mean()
    np.testing.assert_allclose(qr.to_numpy(), want.to_numpy(), rtol=1e-12)
    assert list(qr.columns) == [1, 4, 12] and qr.index.name == "quantile"
    planted = fr.quantile_returns(factors["informative"], fwd, 4)[4]
    assert planted.is_monotonic_increasing
    with pytest.raises(ConfigError, match="quantiles"):
        fr.factor_quantiles(f, 1)
    with pytest.raises(DataError, match="fewer than"):
        fr.factor_quantiles(f.iloc[:53], 5)


def test_quantile_turnover_known_cases() -> None:
    idx = pd.RangeIndex(100)
    rising = pd.Series(np.arange(100.0), index=idx)
    t = fr.quantile_turnover(rising, 4)
    assert t["all"] == pytest.approx(3 / 99)  # three bucket changes in 99 pairs
    assert t[1] == pytest.approx(1 / 25) and t[4] == 0.0
    alternating = pd.Series(np.where(np.arange(100) % 2 == 0, -1.0, 1.0), index=idx)
    alternating += np.arange(100) * 1e-6  # break ties, keep the two halves apart
    t2 = fr.quantile_turnover(alternating, 2)
    assert t2[1] == 1.0 and t2[2] == 1.0 and t2["all"] == 1.0


def test_rank_autocorrelation_matches_scipy(factors) -> None:
    ac = fr.rank_autocorrelation(factors, lags=[1, 3])
    x = factors["noise"].to_numpy()
    a, b = x[3:], x[:-3]
    m = np.isfinite(a) & np.isfinite(b)
    assert ac.loc[3, "noise"] == pytest.approx(stats.spearmanr(a[m], b[m]).statistic, abs=1e-12)
    smooth = pd.Series(np.sin(np.arange(500) / 50.0))
    assert fr.rank_autocorrelation(smooth, 1)[1] > 0.99


def test_factor_correlation(factors) -> None:
    corr = fr.factor_correlation(factors)
    # pairwise complete rows, as the IC
    a, b = _pairs(factors["informative"], factors["noise"])
    assert corr.loc["informative", "noise"] == pytest.approx(
        stats.spearmanr(a, b).statistic, abs=1e-12
    )
    x = factors.dropna()
    want = stats.spearmanr(x.to_numpy()).statistic
    np.testing.assert_allclose(fr.factor_correlation(x).to_numpy(), want, atol=1e-12)
    pd.testing.assert_frame_equal(fr.factor_correlation(factors, "pearson"), factors.corr())


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def test_figures(bars, factors, fwd) -> None:
    from matplotlib.figure import Figure

    ric = fr.rank_ic(factors, fwd)
    fig = fr.plot_ic_by_horizon(ric)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].patches) == ric.size  # one bar per (factor, horizon)
    fig = fr.plot_ic_decay(fr.ic_decay(factors, bars, range(1, 9)))
    assert len(fig.axes[0].lines) == 3 + 1  # a line per factor, plus the zero line
    qr = fr.quantile_returns(factors["informative"], fwd, 5)
    fig = fr.plot_quantile_returns(qr)
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    np.testing.assert_allclose(heights, np.sort(qr.to_numpy().ravel() * 1e4))
    fig = fr.plot_correlation_heatmap(fr.factor_correlation(factors))
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    assert len(fig.axes[0].texts) == 9
    fig = fr.plot_cumulative_ic(fr.cumulative_ic(factors, fwd["fwd_4"]))
    for f in (fig, fr.plot_ic_by_horizon(ric.loc["noise"])):
        assert _png(f).startswith(b"\x89PNG")


def test_applicable_factors_skips_missing_inputs():
    from conftest import random_bars

    from quantlab.factors.conformance import synthetic_bars
    from quantlab.factors.research import applicable_factors

    df = random_bars(50).drop(columns="funding_rate")
    usable, skipped = applicable_factors(df, ["rsi", "funding_z", "atr", "funding_carry"])
    assert usable == ["rsi", "atr"]
    assert skipped == ["funding_carry", "funding_z"]
    every, none_skipped = applicable_factors(synthetic_bars(50))  # every column, flows too
    assert none_skipped == [] and "rsi" in every
