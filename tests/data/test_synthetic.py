"""Tests of the synthetic market: schema, determinism, causality, and the statistics its
parameters promise (regime chain, drift signs, volatility scaling, Hawkes flow,
cross-symbol correlation, Hyperliquid funding)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from quantlab.data.intervals import interval_seconds
from quantlab.data.synthetic import (
    REGIME_NAMES,
    MarketParams,
    SyntheticMarket,
    simulate,
    synthetic_bars,
)
from quantlab.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["open", "high", "low", "close", "volume", "funding_rate", "trades"]


def log_returns(df: pd.DataFrame) -> pd.Series:
    return np.log(df["close"]).diff().iloc[1:]


def check_bar_rules(df: pd.DataFrame, interval: str) -> None:
    """The bar schema of DESIGN.md, checked directly."""
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert df.index.name == "time"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    step = np.diff(df.index.as_unit("ns").asi8)
    assert (step == interval_seconds(interval) * 1_000_000_000).all()
    assert list(df.columns) == COLUMNS
    assert all(df[c].dtype == np.float64 for c in COLUMNS)
    values = df.to_numpy()
    assert np.isfinite(values).all()
    assert (df[["open", "high", "low", "close"]] > 0).all().all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["volume"] >= 0).all() and (df["trades"] >= 0).all()
    assert (df["trades"] == np.round(df["trades"])).all()


# ---------------------------------------------------------------------- schema, API


@pytest.mark.parametrize("interval", ["1m", "15m", "1h", "4h", "1d"])
def test_bars_follow_the_schema_at_any_interval(interval):
    market = simulate(("BTC", "ETH"), interval=interval, n_bars=300, seed=1, correlation=0.4)
    from quantlab.data.schema import validate

    for symbol, df in market.bars.items():
        check_bar_rules(df, interval)
        validate(df, interval)
        reg = market.regimes[symbol]
        assert reg.dtype == np.int8 and reg.name == "regime"
        assert reg.index.equals(df.index)
        assert set(np.unique(reg)) <= set(range(len(REGIME_NAMES)))
        flow = market.order_flow[symbol]
        assert list(flow.columns) == ["buys", "sells", "signed_flow", "premium"]
        assert flow.index.equals(df.index)
        np.testing.assert_array_equal(flow["buys"] + flow["sells"], df["trades"])
        np.testing.assert_array_equal(flow["signed_flow"], flow["buys"] - flow["sells"])


def test_default_span_start_alignment_and_end():
    market = simulate()
    df = market.bars["BTC"]
    assert isinstance(market, SyntheticMarket) and market.symbols == ("BTC",)
    assert len(df) == 90 * 24
    assert df.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    # naive start means UTC; a start inside a bar rounds up to the next bar open
    df = simulate(interval="4h", start="2024-03-01 01:30", end="2024-03-02").bars["BTC"]
    assert df.index[0] == pd.Timestamp("2024-03-01 04:00", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-03-01 20:00", tz="UTC")
    # [start, end): a bar opening at end is excluded, one opening just before is kept
    df = simulate(start="2024-01-01", end="2024-01-02 00:00:01").bars["BTC"]
    assert df.index[-1] == pd.Timestamp("2024-01-02", tz="UTC") and len(df) == 25
    aware = simulate(start=pd.Timestamp("2024-01-01 02:00", tz="Europe/Paris"), n_bars=2)
    assert aware.bars["BTC"].index[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")


def test_base_prices_are_per_symbol_and_deterministic():
    market = simulate(("BTC", "ETH", "SOL", "DOGE"), n_bars=2)
    first = {s: df["open"].iloc[0] for s, df in market.bars.items()}
    expected = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0, "DOGE": 100.0}
    assert first == pytest.approx(expected, rel=1e-14)  # exp(log(p)) round trip
    custom = simulate(n_bars=2, params=MarketParams(initial_price=42.0))
    assert custom.bars["BTC"]["open"].iloc[0] == pytest.approx(42.0, rel=1e-14)


def test_regime_labels_are_named_categories():
    market = simulate(n_bars=500, seed=2)
    labels = market.regime_labels("BTC")
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert list(labels.cat.categories) == list(REGIME_NAMES) == list(market.REGIME_NAMES)
    codes = market.regimes["BTC"].to_numpy()
    np.testing.assert_array_equal(labels.to_numpy().astype(str), np.array(REGIME_NAMES)[codes])
    with pytest.raises(ConfigError, match="ETH"):
        market.regime_labels("ETH")


def test_synthetic_bars_is_simulate_for_one_symbol():
    df = synthetic_bars("ETH", interval="15m", seed=4, n_bars=200)
    ref = simulate(("ETH",), interval="15m", seed=4, n_bars=200).bars["ETH"]
    pd.testing.assert_frame_equal(df, ref)
    # parameter overrides reach the market; a mapping overrides only the regimes it names
    calm = synthetic_bars(
        "BTC", n_bars=2000, volatility={"turbulent": 0.004}, activity=(1, 1, 1, 1)
    )
    wild = synthetic_bars("BTC", n_bars=2000)
    assert log_returns(calm).std() < 0.6 * log_returns(wild).std()
    # without start, end gives the bars just before it
    tail = synthetic_bars("BTC", end="2024-05-01 00:30", n_bars=10)
    assert tail.index[-1] == pd.Timestamp("2024-05-01", tz="UTC") and len(tail) == 10
    with pytest.raises(ConfigError, match=r"unknown keyword.*'volatilty'.*hawkes_branching"):
        synthetic_bars("BTC", volatilty=0.01)


# ---------------------------------------------------------------------- determinism


def test_same_seed_same_frames_different_seed_different():
    a = simulate(("BTC", "ETH"), n_bars=400, seed=7, correlation=0.5)
    b = simulate(("BTC", "ETH"), n_bars=400, seed=7, correlation=0.5)
    c = simulate(("BTC", "ETH"), n_bars=400, seed=8, correlation=0.5)
    for s in ("BTC", "ETH"):
        pd.testing.assert_frame_equal(a.bars[s], b.bars[s])
        pd.testing.assert_series_equal(a.regimes[s], b.regimes[s])
        pd.testing.assert_frame_equal(a.order_flow[s], b.order_flow[s])
        assert not np.allclose(a.bars[s]["close"], c.bars[s]["close"])
    # symbols get distinct streams
    assert not np.allclose(log_returns(a.bars["BTC"]), log_returns(a.bars["ETH"]))


def test_uncorrelated_symbol_does_not_depend_on_its_company():
    alone = simulate(("BTC",), n_bars=300, seed=3).bars["BTC"]
    together = simulate(("ETH", "BTC", "SOL"), n_bars=300, seed=3).bars["BTC"]
    pd.testing.assert_frame_equal(alone, together)


@pytest.mark.parametrize("interval", ["1h", "1m"])
def test_prefix_property(interval):
    short = simulate(("BTC", "ETH"), interval=interval, n_bars=97, seed=5, correlation=0.3)
    # long enough that the long run is generated in several chunks
    n_long = 300 if interval == "1h" else 270_000
    long = simulate(("BTC", "ETH"), interval=interval, n_bars=n_long, seed=5, correlation=0.3)
    for s in ("BTC", "ETH"):
        pd.testing.assert_frame_equal(short.bars[s], long.bars[s].iloc[:97])
        pd.testing.assert_series_equal(short.regimes[s], long.regimes[s].iloc[:97])
        pd.testing.assert_frame_equal(short.order_flow[s], long.order_flow[s].iloc[:97])
    by_end = simulate(
        ("BTC", "ETH"),
        interval=interval,
        end=short.bars["BTC"].index[-1] + pd.Timedelta(interval),
        seed=5,
        correlation=0.3,
    )
    pd.testing.assert_frame_equal(by_end.bars["BTC"], short.bars["BTC"])


_SUBPROCESS = """
import sys
from quantlab.data.synthetic import simulate
m = simulate(("BTC", "SOL"), interval="1h", n_bars=30, seed=11, correlation=-0.4)
m.bars["BTC"].to_pickle(sys.argv[1] + "_btc.pkl")
m.order_flow["SOL"].to_pickle(sys.argv[1] + "_sol.pkl")
m.regimes["SOL"].to_pickle(sys.argv[1] + "_reg.pkl")
"""


@pytest.mark.parametrize("disable_jit", ["0", "1"])
def test_identical_in_a_fresh_process_jitted_or_not(tmp_path, disable_jit):
    prefix = str(tmp_path / "m")
    env = {**os.environ, "NUMBA_DISABLE_JIT": disable_jit}
    proc = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, prefix],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    here = simulate(("BTC", "SOL"), interval="1h", n_bars=30, seed=11, correlation=-0.4)
    pairs = [
        (pd.read_pickle(prefix + "_btc.pkl"), here.bars["BTC"]),
        (pd.read_pickle(prefix + "_sol.pkl"), here.order_flow["SOL"]),
    ]
    pd.testing.assert_series_equal(pd.read_pickle(prefix + "_reg.pkl"), here.regimes["SOL"])
    for there, mine in pairs:
        if disable_jit == "0":  # the jitted kernel in another process: bit for bit
            pd.testing.assert_frame_equal(there, mine, check_exact=True)
        else:  # plain Python math may differ from LLVM's by an ulp
            pd.testing.assert_frame_equal(there, mine, check_exact=False, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------- intervals


def test_coarse_bars_are_resampled_minute_bars():
    # one minute grid underlies every interval: 1h bars are the 1m bars resampled
    start = "2024-02-01"
    fine = simulate(("BTC",), interval="1m", start=start, n_bars=4 * 1440, seed=9)
    df = fine.bars["BTC"]
    flow = fine.order_flow["BTC"]
    for interval, rule in (("15m", "15min"), ("1h", "1h"), ("4h", "4h"), ("1d", "1D")):
        n = 4 * 1440 * 60 // interval_seconds(interval)
        coarse = simulate(("BTC",), interval=interval, start=start, n_bars=n, seed=9)
        agg = df.resample(rule).agg(
            {
                "open": "first",
                "high": "max",
                "low": "min",
                "close": "last",
                "volume": "sum",
                "funding_rate": "mean",
                "trades": "sum",
            }
        )
        pd.testing.assert_frame_equal(
            coarse.bars["BTC"], agg, check_exact=False, rtol=1e-12, check_freq=False
        )
        pd.testing.assert_frame_equal(
            coarse.order_flow["BTC"],
            flow.resample(rule).agg(
                {"buys": "sum", "sells": "sum", "signed_flow": "sum", "premium": "mean"}
            ),
            check_exact=False,
            rtol=1e-12,
            check_freq=False,
        )
    # regimes switch on hour boundaries only, so an hourly label is every minute's label
    hourly = simulate(("BTC",), interval="1h", start=start, n_bars=96, seed=9).regimes["BTC"]
    minute = fine.regimes["BTC"]
    assert (minute.groupby(minute.index.floor("1h")).nunique() == 1).all()
    np.testing.assert_array_equal(minute.resample("1h").first().to_numpy(), hourly.to_numpy())


def _variance_ratio(r: np.ndarray, q: int) -> tuple[float, float]:
    """Lo-MacKinlay variance ratio with its heteroskedasticity-robust standard error."""
    r = r - r.mean()
    n = r.size
    s2 = np.sum(r**2)
    vq = np.mean(np.convolve(r, np.ones(q), "valid") ** 2) / q
    ratio = vq / (s2 / n)
    theta = sum(
        (2.0 * (q - j) / q) ** 2 * n * np.sum(r[j:] ** 2 * r[:-j] ** 2) / s2**2 for j in range(1, q)
    )
    return ratio, math.sqrt(theta / n)


def test_hourly_equivalent_volatility_is_consistent_across_intervals():
    # Returns are martingale differences (only unexpected flow moves the price), so the
    # variance of k-bar returns is k times that of one bar: the Lo-MacKinlay variance
    # ratio is 1 up to its heteroskedasticity-robust standard error (regimes make returns
    # strongly heteroskedastic). We test each step of the ladder 1m -> 15m -> 1h -> 4h,
    # 1h -> 1d at 3.5 SE. Coarser bars are exactly resampled finer ones (previous test),
    # so this is the hourly-equivalent volatility of every interval agreeing.
    df = simulate(("BTC",), interval="1m", n_bars=180 * 1440, seed=2).bars["BTC"]
    close = df["close"]
    ladders = [("1min", "15min", 15), ("1min", "1h", 60), ("15min", "1h", 4), ("1h", "4h", 4)]
    ladders.append(("1h", "1D", 24))
    vols = {}
    for fine, coarse, q in ladders:
        r = np.diff(np.log(close.resample(fine).last().to_numpy()))
        ratio, se = _variance_ratio(r, q)
        assert abs(ratio - 1.0) < 3.5 * se, (fine, coarse, ratio, se)
        assert se < 0.2
        hours = pd.Timedelta(fine).total_seconds() / 3600
        vols[fine] = math.sqrt(np.mean(r**2) / hours)
    # and the level is the one the parameters promise (stationary mixture of regimes)
    params = MarketParams()
    pi = params.stationary_distribution()
    theory = math.sqrt(np.sum(pi * params.hourly_volatility() ** 2))
    for v in vols.values():
        assert 0.6 * theory < v < 1.4 * theory  # regime mix of 180 days is itself random


# ---------------------------------------------------------------------- regimes


@pytest.fixture(scope="module")
def long_hourly() -> SyntheticMarket:
    return simulate(("BTC",), interval="1h", n_bars=2 * 365 * 24, seed=5)


def test_regime_transitions_match_the_matrix(long_hourly):
    codes = long_hourly.regimes["BTC"].to_numpy().astype(np.int64)
    p = np.asarray(long_hourly.params.regime_transition)
    counts = np.zeros((4, 4))
    np.add.at(counts, (codes[:-1], codes[1:]), 1.0)
    for i in range(4):
        expected = counts[i].sum() * p[i]
        assert expected.min() > 5, "chi-square needs >= 5 expected per cell"
        res = stats.chisquare(counts[i], expected)
        assert res.pvalue > 1e-3, (REGIME_NAMES[i], counts[i], expected)
    # expected regime durations at 1h are tens to hundreds of bars
    durations = long_hourly.params.expected_durations()
    assert ((durations >= 10) & (durations <= 500)).all()


def test_regime_returns_have_the_designed_drift_and_volatility(long_hourly):
    r = log_returns(long_hourly.bars["BTC"])
    reg = long_hourly.regimes["BTC"].iloc[1:]
    g = r.groupby(reg)
    mean, std, count = g.mean(), g.std(), g.count()
    up, down, mr, turb = range(4)
    params = long_hourly.params
    drift, vol = params.hourly_drift(), params.hourly_volatility()
    assert drift[up] > 0 > drift[down]
    for i in range(4):
        se = std[i] / math.sqrt(count[i])
        assert abs(mean[i] - drift[i]) < 4 * se, REGIME_NAMES[i]
    assert mean[up] > 2 * std[up] / math.sqrt(count[up])  # significantly positive
    assert mean[down] < -2 * std[down] / math.sqrt(count[down])
    assert std[turb] == std.max() and std[turb] > 3 * std.drop(turb).max()
    # magnitudes: ~0.5-1 % per hour when calm, several % turbulent
    assert ((std.drop(turb) > 0.005) & (std.drop(turb) < 0.01)).all()
    assert 0.02 < std[turb] < 0.06
    for i in (up, down, turb):  # no mean reversion: exact theory up to sampling error
        assert abs(std[i] / vol[i] - 1.0) < 4 / math.sqrt(2 * count[i]) + 0.02, REGIME_NAMES[i]
    assert std[mr] < vol[mr]  # the pull to the anchor removes variance


def test_hawkes_flow_rate_and_overdispersion(long_hourly):
    flow = long_hourly.order_flow["BTC"]
    reg = long_hourly.regimes["BTC"]
    params = long_hourly.params
    rate = params.trade_rate()  # 2 mu a_r / (1 - n) trades per hour
    trades = flow["buys"] + flow["sells"]
    for i in range(4):
        got = trades[reg == i]
        # Var of an hour's count ~ rate / (1 - n)^2 (long-window Hawkes overdispersion)
        se = math.sqrt(rate[i] / (1 - params.hawkes_branching) ** 2 / got.size)
        assert abs(got.mean() - rate[i]) < 4 * se + 0.005 * rate[i], REGIME_NAMES[i]
    # overdispersion inside a calm regime recovers the branching ratio
    calm = flow[(reg == 2).to_numpy()]
    counts = calm["buys"].to_numpy()
    n_hat = 1 - math.sqrt(counts.mean() / counts.var(ddof=1))
    # an hour is ~(1-n) beta = 10 kernel memories long: the finite-window Hawkes variance
    # lam T / (1-n)^2 - 2 A (1 - e^{-gT}) / g^2 shrinks the ratio a little
    beta, n = params.hawkes_decay, params.hawkes_branching
    lam = params.hawkes_baseline * params.activity[2] / (1 - n)
    g = beta * (1 - n)
    a = lam * n * beta * (2 - n) / (2 * (1 - n))
    var_theory = lam / (1 - n) ** 2 - 2 * a * (1 - math.exp(-g)) / g**2
    n_theory = 1 - math.sqrt(lam / var_theory)
    assert abs(n_hat - n_theory) < 0.05
    # imbalance: buys outnumber sells in trending_up and the reverse in trending_down
    signed = flow["signed_flow"]
    assert signed[reg == 0].mean() > 0 > signed[reg == 1].mean()


# ---------------------------------------------------------------------- correlation


def _standardised(market: SyntheticMarket, symbol: str) -> pd.Series:
    r = log_returns(market.bars[symbol])
    g = r.groupby(market.regimes[symbol].iloc[1:])
    return (r - g.transform("mean")) / g.transform("std")


@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.3, 0.8])
def test_return_shocks_are_correlated_as_set(rho):
    market = simulate(("BTC", "ETH"), n_bars=365 * 24, seed=3, correlation=rho)
    z1, z2 = _standardised(market, "BTC"), _standardised(market, "ETH")
    r1 = market.regimes["BTC"].iloc[1:].to_numpy()
    r2 = market.regimes["ETH"].iloc[1:].to_numpy()
    # Each symbol has its own regime chain, and a regime's return mixes diffusion and flow
    # in its own proportions; where both symbols are in the same regime the standardised
    # return shocks carry exactly the shock correlation.
    same = r1 == r2
    got = np.corrcoef(z1[same], z2[same])[0, 1]
    se = (1 - rho**2) / math.sqrt(same.sum())
    assert abs(got - rho) < 4 * se + 0.01, (got, rho)  # + discreteness of trade counts
    allbars = np.corrcoef(z1, z2)[0, 1]
    assert abs(allbars) <= abs(rho) + 4 / math.sqrt(z1.size)
    if rho != 0:
        assert np.sign(allbars) == np.sign(rho) and abs(allbars) > 0.75 * abs(rho)


def test_equicorrelation_of_three_symbols():
    market = simulate(("A", "B", "C"), n_bars=240 * 24, seed=1, correlation=-0.3)
    z = [_standardised(market, s) for s in "ABC"]
    regs = [market.regimes[s].iloc[1:].to_numpy() for s in "ABC"]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        same = regs[i] == regs[j]
        got = np.corrcoef(z[i][same], z[j][same])[0, 1]
        assert abs(got + 0.3) < 4 * (1 - 0.09) / math.sqrt(same.sum()) + 0.01


# ---------------------------------------------------------------------- funding


def test_funding_follows_hyperliquid_premium_formula():
    market = simulate(("BTC",), interval="1m", n_bars=20 * 1440, seed=6)
    df, flow = market.bars["BTC"], market.order_flow["BTC"]
    p = market.params
    prem = flow["premium"].to_numpy()
    # one sub-step per 1m bar: funding = (P + clamp(r - P, +-0.0005)) / 8 per hour
    expected = (prem + np.clip(p.interest_rate - prem, -p.funding_clamp, p.funding_clamp)) / 8
    np.testing.assert_allclose(df["funding_rate"].to_numpy(), expected, rtol=0, atol=1e-18)
    inside = np.abs(p.interest_rate - prem) < p.funding_clamp
    assert 0.5 < inside.mean() < 1.0  # mostly the 0.01 %/8h baseline, sometimes beyond
    np.testing.assert_allclose(df["funding_rate"][inside], 0.0001 / 8, rtol=1e-12)
    # the premium is an AR(1) pushed by signed flow: regress dP on (P_prev - mean, flow)
    y = np.diff(prem)
    x = np.column_stack([prem[:-1] - p.premium_mean, flow["signed_flow"].to_numpy()[1:]])
    fit = sm.OLS(y, x).fit()
    h = 1 / 60
    for coef, true, se in zip(
        fit.params, (p.premium_persistence**h - 1, p.premium_flow), fit.bse, strict=True
    ):
        assert abs(coef - true) < 4 * se
    # hourly bars carry the hour's average per-hour funding
    hourly = simulate(("BTC",), interval="1h", n_bars=20 * 24, seed=6).bars["BTC"]
    np.testing.assert_allclose(
        hourly["funding_rate"], df["funding_rate"].resample("1h").mean(), rtol=1e-12
    )


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"volatility": (0.01, 0.01, -0.01, 0.03)}, r"volatility\[mean_reverting\]"),
        ({"volatility": {"turbulent": 0.0}}, r"volatility\[turbulent\]"),
        ({"hawkes_branching": 1.0}, "hawkes_branching"),
        ({"hawkes_branching": -0.1}, "hawkes_branching"),
        ({"hawkes_decay": 0.0}, "hawkes_decay"),
        ({"hawkes_baseline": float("nan")}, "hawkes_baseline"),
        ({"imbalance": (1.0, 0, 0, 0)}, r"imbalance\[trending_up\]"),
        ({"mean_reversion": (0, 0, -1, 0)}, "mean_reversion"),
        ({"activity": (1, 1, 1)}, "activity"),
        ({"drift": {"sideways": 0.1}}, "drift"),
        ({"impact": -1e-4}, "impact"),
        ({"trade_notional": 0}, "trade_notional"),
        ({"premium_persistence": 1.5}, "premium_persistence"),
        ({"funding_cap": 0}, "funding_cap"),
        ({"initial_price": -5.0}, "initial_price"),
        ({"initial_regime": 7}, "initial_regime"),
        ({"impact": "big"}, "impact"),
        ({"regime_transition": np.eye(3)}, "regime_transition"),
        (
            {"regime_transition": [[0.9, 0.1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.5, 0, 0, 0.6]]},
            r"regime_transition\[turbulent\]: row must sum to 1",
        ),
        (
            {"regime_transition": [[1.2, -0.2, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]},
            r"regime_transition\[trending_up\]\[trending_up\]",
        ),
        ({"regime_transition": np.eye(4).tolist()}, "reducible"),
    ],
)
def test_bad_params_raise_config_error_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        MarketParams(**overrides)


def test_param_helpers_and_replace():
    p = MarketParams()
    assert p.replace(hawkes_branching=0.3).hawkes_branching == 0.3
    assert p.replace(volatility={"turbulent": 0.05}).volatility == (0.004, 0.004, 0.004, 0.05)
    assert MarketParams(initial_regime="turbulent").initial_regime == 3
    assert MarketParams(regime_transition=np.eye(4), initial_regime=0).initial_regime == 0
    with pytest.raises(ConfigError, match=r"unknown parameter.*'branching'.*hawkes_branching"):
        p.replace(branching=0.3)
    pi = p.stationary_distribution()
    np.testing.assert_allclose(pi @ np.asarray(p.regime_transition), pi, atol=1e-14)
    assert pi.sum() == pytest.approx(1.0)
    # a reducible chain is fine once the first regime is fixed
    m = simulate(n_bars=50, params={"regime_transition": np.eye(4), "initial_regime": 1})
    assert (m.regimes["BTC"] == 1).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"correlation": 1.0}, "correlation"),
        ({"correlation": -1.0}, "correlation"),
        ({"correlation": float("nan")}, "correlation"),
        ({"symbols": ("A", "B", "C"), "correlation": -0.6}, r"correlation.*-1/\(n-1\)"),
        ({"symbols": ("BTC", "BTC")}, "symbols"),
        ({"symbols": ()}, "symbols"),
        ({"symbols": ("BTC", "")}, "symbols"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"n_bars": 0}, "n_bars"),
        ({"n_bars": 10, "end": "2024-02-01"}, "end, n_bars"),
        ({"end": "2023-12-31"}, "end"),
        ({"interval": "1M"}, "interval"),
        ({"interval": "fast"}, "interval"),
        ({"start": "not a date"}, "start"),
        ({"params": 3}, "params"),
        ({"params": {"volatlity": 1}}, "unknown parameter"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        simulate(**kwargs)


def test_string_symbol_is_one_symbol():
    assert simulate("ETH", n_bars=3).symbols == ("ETH",)
