"""The non-classic factors against plain pandas/numpy reference implementations.

Each reference below is written from the formula in the factor's docstring, independently
of the kernels (pandas rolling/ewm, explicit loops, np.polyfit). Values must agree to 1e-9
relative after the warm-up; the warm-up itself must be NaN. Frames: seeded random bars and
real candles from the shared fixtures (jesse-ai, with flat minute bars that exercise the
zero-range / zero-dispersion rules).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import fixtures_path, random_bars

import quantlab as ql
from quantlab.errors import ConfigError

LN2 = np.log(2.0)
RTOL = 1e-9


# --------------------------------------------------------------------------------------
# reference implementations (pandas / numpy only)


def _safe_div(num: pd.Series, den: pd.Series, fill: float) -> pd.Series:
    out = num / den.where(den > 0)
    return out.where(den.isna() | (den > 0), fill)


def _logret(c: pd.Series, lag: int = 1) -> pd.Series:
    # log of the ratio, not a difference of logs: the latter loses ~1e-15 absolute to
    # cancellation, which is 1e-7 relative on the 1e-9 returns of flat minute bars
    return np.log(c / c.shift(lag))


def ref_log_return(df, window=1):
    return _logret(df["close"], window)


def ref_momentum_z(df, window=24, vol_window=168):
    sigma = _logret(df["close"]).rolling(vol_window).std(ddof=1)
    return _safe_div(_logret(df["close"], window), sigma * np.sqrt(window), 0.0)


def _ref_ema(x: pd.Series, n: int) -> pd.Series:
    seeded = x.iloc[n - 1 :].copy()
    seeded.iloc[0] = x.iloc[:n].mean()
    ema = seeded.ewm(alpha=2.0 / (n + 1), adjust=False).mean()
    return ema.reindex(x.index)


def _ref_atr(df: pd.DataFrame, n: int) -> pd.Series:
    prev = df["close"].shift(1)
    tr = np.maximum(df["high"], prev) - np.minimum(df["low"], prev)
    seeded = tr.iloc[n:].copy()
    seeded.iloc[0] = tr.iloc[1 : n + 1].mean()
    return seeded.ewm(alpha=1.0 / n, adjust=False).mean().reindex(df.index)


def ref_ema_spread(df, fast_window=12, window=26, atr_window=14):
    spread = _ref_ema(df["close"], fast_window) - _ref_ema(df["close"], window)
    return _safe_div(spread, _ref_atr(df, atr_window), 0.0)


def ref_donchian_position(df, window=20):
    hi = df["high"].rolling(window).max()
    lo = df["low"].rolling(window).min()
    return _safe_div(2.0 * (df["close"] - lo), hi - lo, 1.0) - 1.0


def ref_realized_vol(df, window=24):
    r = _logret(df["close"])
    return np.sqrt((r**2).rolling(window).mean())


def ref_parkinson_vol(df, window=24):
    hl = np.log(df["high"] / df["low"])
    return np.sqrt((hl**2).rolling(window).mean() / (4.0 * LN2))


def ref_garman_klass_vol(df, window=24):
    hl = np.log(df["high"] / df["low"])
    co = np.log(df["close"] / df["open"])
    return np.sqrt((0.5 * hl**2 - (2.0 * LN2 - 1.0) * co**2).rolling(window).mean())


def ref_vol_ratio(df, short_window=24, window=168):
    return _safe_div(ref_realized_vol(df, short_window), ref_realized_vol(df, window), 1.0)


def ref_volume_z(df, window=24):
    lv = np.log1p(df["volume"])
    return _safe_div(lv - lv.rolling(window).mean(), lv.rolling(window).std(ddof=1), 0.0)


def _ref_signed_volume(df):
    rng = df["high"] - df["low"]
    return _safe_div(df["volume"] * (df["close"] - df["open"]), rng, 0.0)


def ref_flow_imbalance(df, window=24):
    sv = _ref_signed_volume(df)
    return _safe_div(sv.rolling(window).sum(), df["volume"].rolling(window).sum(), 0.0)


def ref_amihud_illiquidity(df, window=24):
    c, v = df["close"].to_numpy(), df["volume"].to_numpy()
    out = np.full(len(df), np.nan)
    for t in range(window, len(df)):
        terms = [
            abs(np.log(c[i] / c[i - 1])) / (c[i] * v[i])
            for i in range(t - window + 1, t + 1)
            if c[i] * v[i] > 0
        ]
        out[t] = np.mean(terms) if terms else 0.0
    return out


def ref_kyle_lambda(df, window=48):
    r = _logret(df["close"]).to_numpy()
    sv = _ref_signed_volume(df).to_numpy()
    out = np.full(len(df), np.nan)
    for t in range(window, len(df)):
        x, y = sv[t - window + 1 : t + 1], r[t - window + 1 : t + 1]
        out[t] = np.polyfit(x, y, 1)[0] if np.ptp(x) > 0 else 0.0
    return out


def ref_vwap_deviation(df, window=24):
    tp = (df["high"] + df["low"] + df["close"]) / 3.0
    vwap = (tp * df["volume"]).rolling(window).sum() / df["volume"].rolling(window).sum()
    return np.log(df["close"] / vwap)


def ref_hawkes_intensity(df, window=48, threshold=2.0, decay=0.1):
    r = _logret(df["close"])
    sigma_before = r.rolling(window).std(ddof=1).shift(1).to_numpy()
    r = r.to_numpy()
    n = len(df)
    events = np.zeros(n)
    for t in range(window + 1, n):
        events[t] = float(abs(r[t]) > threshold * sigma_before[t])
    out = np.full(n, np.nan)
    for t in range(window + 1, n):
        i = np.arange(window + 1, t + 1)
        out[t] = decay * np.sum(events[i] * np.exp(-decay * (t - i)))
    return out


def ref_variance_ratio(df, window=168, lag=4):
    r_all = _logret(df["close"]).to_numpy()
    out = np.full(len(df), np.nan)
    for t in range(window, len(df)):
        r = r_all[t - window + 1 : t + 1]  # the last `window` one-bar returns
        mu = r.mean()
        q_sums = np.array([r[j - lag + 1 : j + 1].sum() for j in range(lag - 1, window)])
        v1 = np.mean((r - mu) ** 2)
        out[t] = np.mean((q_sums - lag * mu) ** 2) / (lag * v1) if v1 > 0 else 1.0
    return out


def ref_hurst(df, window=128, max_lag=16):
    c = df["close"].to_numpy()
    lags = np.arange(1, max_lag + 1)
    out = np.full(len(df), np.nan)
    for t in range(window - 1, len(df)):
        p = c[t - window + 1 : t + 1]
        s = np.array([np.sqrt(np.mean(np.log(p[k:] / p[:-k]) ** 2)) for k in lags])
        out[t] = np.polyfit(np.log(lags), np.log(s), 1)[0] if (s > 0).all() else 0.5
    return out


def ref_funding_z(df, window=168):
    f = df["funding_rate"]
    return _safe_div(f - f.rolling(window).mean(), f.rolling(window).std(ddof=1), 0.0)


def ref_funding_carry(df, window=24):
    return -df["funding_rate"].rolling(window).mean()


# (name, reference, small params used on short frames)
CASES: list[tuple[str, Callable, dict]] = [
    ("log_return", ref_log_return, {"window": 3}),
    ("momentum_z", ref_momentum_z, {"window": 12, "vol_window": 48}),
    ("ema_spread", ref_ema_spread, {"fast_window": 5, "window": 20, "atr_window": 10}),
    ("donchian_position", ref_donchian_position, {"window": 15}),
    ("realized_vol", ref_realized_vol, {"window": 20}),
    ("parkinson_vol", ref_parkinson_vol, {"window": 20}),
    ("garman_klass_vol", ref_garman_klass_vol, {"window": 20}),
    ("vol_ratio", ref_vol_ratio, {"short_window": 10, "window": 50}),
    ("volume_z", ref_volume_z, {"window": 20}),
    ("flow_imbalance", ref_flow_imbalance, {"window": 20}),
    ("amihud_illiquidity", ref_amihud_illiquidity, {"window": 20}),
    ("kyle_lambda", ref_kyle_lambda, {"window": 30}),
    ("vwap_deviation", ref_vwap_deviation, {"window": 20}),
    ("hawkes_intensity", ref_hawkes_intensity, {"window": 30, "threshold": 1.5, "decay": 0.2}),
    ("variance_ratio", ref_variance_ratio, {"window": 60, "lag": 3}),
    ("hurst", ref_hurst, {"window": 64, "max_lag": 8}),
    ("funding_z", ref_funding_z, {"window": 48}),
    ("funding_carry", ref_funding_carry, {"window": 24}),
]
FACTOR_NAMES = [c[0] for c in CASES]


def _jesse_frame(name: str) -> pd.DataFrame:
    path = Path(fixtures_path()) / "indicator_oracle" / name
    if not path.is_file():
        pytest.skip(f"shared fixture {path} not found (set QUANTLAB_FIXTURES)")
    raw = pd.read_csv(path)
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp_ms"], unit="ms", utc=True), name="time")
    df = raw[["open", "high", "low", "close", "volume"]].astype("float64").set_index(index)
    # real candles carry no funding; a deterministic series keeps the perp factors covered
    df["funding_rate"] = 1e-5 * np.sin(np.arange(len(df)) / 7.0)
    return df


@pytest.fixture(scope="module", params=["random", "jesse_btc_1m", "jesse_4h"])
def frame(request) -> pd.DataFrame:
    if request.param == "random":
        return random_bars(700, seed=11)
    if request.param == "jesse_btc_1m":
        return _jesse_frame("test_candles_0.csv")  # flat, zero-range minute bars
    return _jesse_frame("test_candles_10.csv")


def _assert_matches(name: str, got: pd.Series, want, warmup: int) -> None:
    want = np.asarray(want, dtype=np.float64)
    got_a = got.to_numpy()
    assert np.isnan(got_a[:warmup]).all(), f"{name}: warm-up must be NaN"
    assert np.isfinite(got_a[warmup:]).all(), f"{name}: NaN/inf after warm-up"
    assert np.isfinite(want[warmup:]).all(), f"{name}: reference not finite after warm-up"
    # relative agreement, with an absolute floor 1e-12 times the series' own scale for
    # values that cross zero (a relative test is meaningless at an exact zero crossing)
    scale = np.median(np.abs(want[warmup:])) if len(want) > warmup else 0.0
    np.testing.assert_allclose(
        got_a[warmup:], want[warmup:], rtol=RTOL, atol=1e-12 * scale, err_msg=name
    )


@pytest.mark.parametrize(("name", "ref", "params"), CASES, ids=FACTOR_NAMES)
def test_factor_matches_reference(frame, name, ref, params) -> None:
    s = ql.factors.spec(name, **params)
    got = ql.factors.compute(name, frame, **params)
    assert got.name == name and got.index.equals(frame.index) and got.dtype == np.float64
    _assert_matches(name, got, ref(frame, **params), s.warmup())


@pytest.mark.parametrize(("name", "ref"), [(c[0], c[1]) for c in CASES], ids=FACTOR_NAMES)
def test_factor_defaults_match_reference(name, ref) -> None:
    df = random_bars(420, seed=12)
    s = ql.factors.spec(name)
    assert set(s.params()) == set(ref.__code__.co_varnames[1 : ref.__code__.co_argcount])
    _assert_matches(name, ql.factors.compute(name, df), ref(df, **s.params()), s.warmup())


def test_ema_spread_parts_match_talib() -> None:
    talib = pytest.importorskip("talib")
    df = random_bars(300, seed=13)
    h, lo, c = (df[k].to_numpy() for k in ("high", "low", "close"))
    want = (talib.EMA(c, 5) - talib.EMA(c, 20)) / talib.ATR(h, lo, c, 10)
    got = ql.factors.compute("ema_spread", df, fast_window=5, window=20, atr_window=10)
    np.testing.assert_allclose(got.to_numpy()[19:], want[19:], rtol=RTOL)


def test_all_are_causal_prefix() -> None:
    df = random_bars(320, seed=14)
    for name, _, params in CASES:
        full = ql.factors.compute(name, df, **params).to_numpy()
        for t in (1, 5, 60, 150, 319):
            part = ql.factors.compute(name, df.iloc[:t], **params).to_numpy()
            np.testing.assert_array_equal(part, full[:t], err_msg=f"{name} at t={t}")


def test_future_bars_do_not_change_the_past() -> None:
    """Perturbing bar t+1.. leaves every value at <= t unchanged."""
    df = random_bars(300, seed=15)
    t = 200
    shocked = df.copy()
    shocked.iloc[t + 1 :, :4] *= 1.5
    shocked.iloc[t + 1 :, 4] *= 10.0
    shocked.iloc[t + 1 :, 5] += 1e-3
    for name, _, params in CASES:
        a = ql.factors.compute(name, df, **params).to_numpy()[: t + 1]
        b = ql.factors.compute(name, shocked, **params).to_numpy()[: t + 1]
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_hawkes_stepwise_equals_batch() -> None:
    df = random_bars(300, seed=16)
    s = ql.factors.spec("hawkes_intensity", window=20, threshold=1.5, decay=0.3)
    c = df["close"].to_numpy()
    np.testing.assert_array_equal(s.compute_stepwise(c), s.compute(c))


def test_hawkes_intensity_rises_on_clustered_moves() -> None:
    df = random_bars(400, seed=17)
    shocked = df.copy()
    for t, factor in ((300, 1.08), (302, 0.92), (304, 1.08)):  # three 8% jumps, close together
        shocked.iloc[t:, :4] *= factor  # all of OHLC from bar t on: the bars stay valid
    beta = 0.1
    lam = ql.factors.compute("hawkes_intensity", shocked, window=48, decay=beta).to_numpy()
    # each jump is an event; the intensity is at least the decayed old level plus their kicks
    kicks = beta * (np.exp(-4 * beta) + np.exp(-2 * beta) + 1.0)
    assert lam[304] >= np.exp(-5 * beta) * lam[299] + kicks - 1e-12
    assert lam[305] < lam[304]  # and decays when no event follows


def test_perp_factors_need_funding_rate() -> None:
    df = random_bars(100, seed=18).drop(columns="funding_rate")
    for name in ("funding_z", "funding_carry"):
        with pytest.raises(ConfigError, match="funding_rate"):
            ql.factors.compute(name, df)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("ema_spread", {"fast_window": 30, "window": 26}, "fast_window"),
        ("vol_ratio", {"short_window": 200}, "short_window"),
        ("variance_ratio", {"lag": 200}, "lag"),
        ("hurst", {"window": 20, "max_lag": 16}, "max_lag"),
        ("momentum_z", {"vol_window": 1}, "vol_window"),
        ("hawkes_intensity", {"decay": 0.0}, "decay"),
        ("realized_vol", {"window": 0}, "window"),
        ("kyle_lambda", {"span": 3}, "span"),
    ],
)
def test_bad_parameters_raise_config_error(name, params, match) -> None:
    with pytest.raises(ConfigError, match=match):
        ql.factors.spec(name, **params)


def test_units_are_per_bar() -> None:
    """Volatilities estimate the per-bar sigma of the simulated walk (no annualisation)."""
    rng = np.random.default_rng(19)
    n, sigma = 4000, 0.01
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    df = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0},
        index=pd.date_range("2024", periods=n, freq="1h", tz="UTC", name="time"),
    )
    rv = ql.factors.compute("realized_vol", df, window=2000).iloc[-1]
    assert rv == pytest.approx(sigma, rel=0.05)


def test_flat_market_gives_documented_neutral_values() -> None:
    """Constant prices, volume and funding: every zero-dispersion rule in the docstrings."""
    n = 300
    df = pd.DataFrame(
        {"open": 50.0, "high": 50.0, "low": 50.0, "close": 50.0, "volume": 3.0},
        index=pd.date_range("2024", periods=n, freq="1h", tz="UTC", name="time"),
    )
    df["funding_rate"] = 2e-5
    neutral = {
        "log_return": 0.0,
        "momentum_z": 0.0,
        "ema_spread": 0.0,
        "donchian_position": 0.0,
        "realized_vol": 0.0,
        "parkinson_vol": 0.0,
        "garman_klass_vol": 0.0,
        "vol_ratio": 1.0,
        "volume_z": 0.0,
        "flow_imbalance": 0.0,
        "amihud_illiquidity": 0.0,
        "kyle_lambda": 0.0,
        "vwap_deviation": 0.0,
        "hawkes_intensity": 0.0,
        "variance_ratio": 1.0,
        "hurst": 0.5,
        "funding_z": 0.0,
        "funding_carry": -2e-5,
    }
    assert set(neutral) == set(FACTOR_NAMES)
    for name, _, params in CASES:
        got = ql.factors.compute(name, df, **params).to_numpy()
        w = ql.factors.spec(name, **params).warmup()
        np.testing.assert_allclose(got[w:], neutral[name], rtol=1e-12, atol=1e-15, err_msg=name)
