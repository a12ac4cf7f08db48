"""Model-backed factors: registration, the factor contract, and oracles for each value.

Oracles: filterpy ``KalmanFilter`` (velocity, acceleration, return forecast), a plain NumPy
Hamilton filter over pandas-standardised returns (IMM trend probability), ``arch``'s own
fit and fixed-parameter forecast (GARCH), and a plain-Python adaptive conformal loop with
the finite-sample order statistic (conformal width).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.errors import ConfigError
from quantlab.factors import conformance
from quantlab.kernels.rolling import log_return_nb
from quantlab.models import factors as mf
from quantlab.models import rolling_coverage

MODEL_FACTORS = (
    "kalman_velocity",
    "kalman_acceleration",
    "imm_trend_prob",
    "garch_vol",
    "conformal_width",
)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bars():
    return conformance.synthetic_bars(600, seed=3)


def test_the_facade_lists_them_in_a_fresh_process():
    code = "import json, quantlab as ql; print(json.dumps(ql.factors.names()))"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    names = json.loads(out.stdout)
    assert set(MODEL_FACTORS) <= set(names)


@pytest.mark.parametrize("name", MODEL_FACTORS)
def test_factor_contract(name):
    # every check of the conformance suite: metadata, alignment, warm-up, determinism,
    # prefix (no look-ahead), short frames, gaps, NaN policy, step kernel == batch
    ql.factors.check(name)


@pytest.mark.parametrize("name", MODEL_FACTORS)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_look_ahead_at_random_truncations(name, bars, data):
    s = ql.factors.spec(name)
    full = s(bars).to_numpy()
    t = data.draw(st.integers(min_value=1, max_value=len(bars)), label="t")
    conformance.check_prefix_at(s, bars, t, full)


@pytest.mark.parametrize("name", MODEL_FACTORS)
def test_stepwise_path_is_checked(name, bars):
    s = ql.factors.spec(name)
    if name == "garch_vol":
        assert s.compute_stepwise(bars["close"].to_numpy()) is None
        return
    stream = s.compute_stepwise(np.ascontiguousarray(bars["close"].to_numpy()))
    np.testing.assert_array_equal(stream, s(bars).to_numpy())


# ---------------------------------------------------------------------------------------
# oracles


def _filterpy_states(z, F, Q, R, P0):
    from filterpy.kalman import KalmanFilter as FKF

    dim = F.shape[0]
    kf = FKF(dim_x=dim, dim_z=1)
    kf.F, kf.Q, kf.R = F, Q, np.array([[R]])
    kf.H = np.zeros((1, dim))
    kf.H[0, 0] = 1.0
    kf.x, kf.P = np.zeros(dim), np.eye(dim) * P0
    out = []
    for v in z:
        kf.predict()
        kf.update(v)
        out.append(kf.x.copy())
    return np.array(out)


def test_kalman_velocity_equals_filterpy(bars):
    snr = 3e-3
    got = ql.factors.compute("kalman_velocity", bars, snr=snr).to_numpy()
    z = np.log(bars["close"].to_numpy() / bars["close"].iloc[0])
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    g = np.array([0.5, 1.0])
    want = _filterpy_states(z, F, snr * np.outer(g, g), 1.0, 1e7)[:, 1]
    assert np.isnan(got[0])
    np.testing.assert_allclose(got[1:], want[1:], rtol=1e-7, atol=1e-12)


def test_kalman_acceleration_equals_filterpy(bars):
    snr, decay = 1e-4, 0.9
    got = ql.factors.compute("kalman_acceleration", bars, snr=snr, decay=decay).to_numpy()
    z = np.log(bars["close"].to_numpy() / bars["close"].iloc[0])
    F = np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, decay]])
    g = np.array([0.5, 1.0, 1.0])
    want = _filterpy_states(z, F, snr * np.outer(g, g), 1.0, 1e7)[:, 2]
    assert np.isnan(got[:2]).all()
    np.testing.assert_allclose(got[2:], want[2:], rtol=1e-6, atol=1e-12)


def test_kalman_velocity_recovers_a_clean_drift():
    n, drift = 300, 0.002
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    close = 100.0 * np.exp(drift * np.arange(n))
    df = pd.DataFrame({"close": close}, index=idx)
    v = ql.factors.compute("kalman_velocity", df).to_numpy()
    np.testing.assert_allclose(v[1:], drift, rtol=1e-6)
    a = ql.factors.compute("kalman_acceleration", df).to_numpy()
    np.testing.assert_allclose(a[2:], 0.0, atol=1e-8)


def _hamilton_up_minus_down(u, drift, stay):
    """Plain Hamilton filter for u_t ~ N(d_k, 1), d = (drift, -drift, 0)."""
    means = np.array([drift, -drift, 0.0])
    off = (1.0 - stay) / 2.0
    T = np.full((3, 3), off) + np.eye(3) * (stay - off)
    p = np.full(3, 1.0 / 3.0)
    out = []
    for x in u:
        prior = p @ T
        like = np.exp(-0.5 * (x - means) ** 2)
        p = prior * like / np.sum(prior * like)
        out.append(p[0] - p[1])
    return np.array(out)


def test_imm_trend_prob_equals_hamilton_filter(bars):
    drift, stay, vw = 0.2, 0.95, 50
    got = ql.factors.compute(
        "imm_trend_prob", bars, drift=drift, stay=stay, vol_window=vw
    ).to_numpy()
    r = np.log(bars["close"]).diff()
    sigma_prev = r.rolling(vw).std(ddof=1).shift(1)
    u = (r / sigma_prev).to_numpy()[vw + 1 :]
    want = _hamilton_up_minus_down(u, drift, stay)
    assert np.isnan(got[: vw + 1]).all()
    np.testing.assert_allclose(got[vw + 1 :], want, atol=1e-9)
    assert np.all(np.abs(got[vw + 1 :]) <= 1.0)


def test_imm_trend_prob_sees_the_trend():
    rng = np.random.default_rng(0)
    n = 500
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    r = rng.normal(0.0, 0.01, n)
    r[300:] += 0.004  # a 0.4-sigma drift per bar from bar 300
    df = pd.DataFrame({"close": 100.0 * np.exp(np.cumsum(r))}, index=idx)
    p = ql.factors.compute("imm_trend_prob", df).to_numpy()
    assert np.nanmean(p[350:]) > 0.5
    assert abs(np.nanmean(p[200:300])) < 0.3
    down = ql.factors.compute("imm_trend_prob", df.assign(close=1e4 / df["close"])).to_numpy()
    assert np.nanmean(down[350:]) < -0.5


def _factor_returns(bars):
    # The factor's one-bar log returns bit for bit (numba's log may differ from numpy's in
    # the last ulp, and arch's optimiser, on returns without GARCH effects, can turn such a
    # difference into another optimum of its flat likelihood).
    return log_return_nb(np.ascontiguousarray(bars["close"].to_numpy()), 1)[1:]


def test_garch_vol_equals_arch_at_the_first_refit(bars):
    from arch import arch_model

    s = ql.factors.spec("garch_vol", min_obs=200, refit_every=1000, window=1000)
    got = s(bars).to_numpy()
    y = 100.0 * _factor_returns(bars)
    fit = arch_model(y[:200], mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
    fixed = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, rescale=False).fix(fit.params)
    var = fixed.forecast(horizon=1, start=199, reindex=False).variance.to_numpy()[:, 0]
    assert np.isnan(got[:200]).all()
    np.testing.assert_allclose(got[200:], np.sqrt(var) / 100.0, rtol=1e-10)


def test_garch_vol_delegates_to_garch_volatility(bars):
    got = ql.factors.compute("garch_vol", bars, refit_every=60, window=300).to_numpy()
    r = _factor_returns(bars)
    want = ql.models.garch_volatility(r, refit_every=60, window=300, min_obs=250, refit_growth=0.05)
    np.testing.assert_array_equal(got[1:], want.to_numpy())


def test_garch_vol_follows_a_volatility_jump():
    rng = np.random.default_rng(1)
    n = 900
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    r = rng.normal(0.0, 0.005, n)
    r[600:] *= 3.0
    df = pd.DataFrame({"close": 100.0 * np.exp(np.cumsum(r))}, index=idx)
    v = ql.factors.compute("garch_vol", df, refit_every=50).to_numpy()
    assert np.nanmedian(v[300:600]) == pytest.approx(0.005, rel=0.25)
    assert np.median(v[700:]) > 2.0 * np.nanmedian(v[300:600])


def _aci_widths(scores, alpha, gamma, window):
    """Plain ACI: threshold_{t+1} from the last `window` scores up to t at level alpha_{t+1}."""
    a, past, out = alpha, [], []
    for s in scores:
        if not np.isnan(s):
            calib = sorted(past[-window:])
            k = math.ceil((len(calib) + 1) * (1.0 - a) - 1e-9)
            thr = math.inf if a <= 0 or k > len(calib) else calib[k - 1]
            err = 0.0 if s <= thr else 1.0
            past.append(s)
            a = a + gamma * (alpha - err)
        calib = sorted(past[-window:])
        k = math.ceil((len(calib) + 1) * (1.0 - a) - 1e-9)
        out.append(math.inf if a <= 0 or k > len(calib) else 2.0 * calib[k - 1])
    return np.array(out)


def test_conformal_width_equals_plain_aci(bars):
    from filterpy.kalman import KalmanFilter as FKF

    alpha, gamma, window, snr = 0.2, 0.02, 120, 1e-2
    got = ql.factors.compute(
        "conformal_width", bars, alpha=alpha, gamma=gamma, window=window, snr=snr
    ).to_numpy()
    r = np.log(bars["close"]).diff().to_numpy()
    kf = FKF(dim_x=1, dim_z=1)
    kf.F, kf.H, kf.Q, kf.R = np.eye(1), np.eye(1), np.eye(1) * snr, np.eye(1)
    kf.x, kf.P = np.zeros(1), np.eye(1) * 1e7
    pred = np.full(len(r), np.nan)
    for t in range(1, len(r) - 1):
        kf.predict()
        kf.update(r[t])
        pred[t + 1] = kf.x[0]
    scores = np.abs(r - pred)
    want = _aci_widths(scores, alpha, gamma, window)
    w = ql.factors.spec("conformal_width").warmup()
    assert np.isnan(got[:w]).all()
    np.testing.assert_allclose(got[w:], want[w:], rtol=1e-7)


def test_return_interval_covers_at_the_target():
    rng = np.random.default_rng(2)
    n = 3000
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    df = pd.DataFrame({"close": 100.0 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.01))}, idx)
    ci = mf.return_interval(df, alpha=0.1, gamma=0.005)
    ok = ci["lower"].notna() & np.isfinite(ci["threshold"])
    y, lo, hi = ci["return"][ok], ci["lower"][ok], ci["upper"][ok]
    covered = float(((lo <= y) & (y <= hi)).mean())
    # ACI: |mean miss - alpha| <= (max(alpha, 1 - alpha) + gamma) / (gamma T)
    assert covered == pytest.approx(0.9, abs=(0.9 + 0.005) / (0.005 * ok.sum()) + 0.005)
    roll = rolling_coverage(y, lo, hi, window=500)
    assert roll.iloc[-1] == pytest.approx(0.9, abs=0.05)
    # the factor at t is the width of the interval for bar t + 1
    width = ql.factors.compute("conformal_width", df).to_numpy()
    np.testing.assert_allclose(width[60:-1], (ci["upper"] - ci["lower"]).to_numpy()[61:])


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("imm_trend_prob", {"stay": 0.3}, "stay"),
        ("imm_trend_prob", {"drift": 0.0}, "drift"),
        ("garch_vol", {"dist": "cauchy"}, "dist"),
        ("garch_vol", {"min_obs": 50}, "min_obs"),
        ("conformal_width", {"alpha": 0.7}, "alpha"),
        ("kalman_acceleration", {"decay": 1.5}, "decay"),
        ("kalman_velocity", {"snr": -1.0}, "snr"),
    ],
)
def test_bad_parameters_raise_config_error(name, params, field):
    with pytest.raises(ConfigError, match=field):
        ql.factors.spec(name, **params)


def test_nan_close_names_column_and_row(bars):
    dirty = bars.copy()
    dirty.iloc[77, dirty.columns.get_loc("close")] = np.nan
    for name in MODEL_FACTORS:
        with pytest.raises(ql.DataError, match=r"'close'.*row 77"):
            ql.factors.compute(name, dirty)
