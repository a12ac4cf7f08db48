"""Tests of the synthetic-market kernels against independent oracles.

Oracles: scipy's Poisson quantile function and Rayleigh law, a fine-grid Monte Carlo
Brownian bridge (with the Broadie-Glasserman-Kou continuity correction), the published
moments of the Poisson INGARCH(1,1) model (the exact discrete form of our Hawkes flow)
and of the continuous Hawkes process, Hyperliquid's funding formula, a chi-square test of
the regime chain, pandas aggregation for bars, and the plain-Python kernel
(``NUMBA_DISABLE_JIT=1``).
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
from scipy import stats

from quantlab.kernels import market as mk

REPO = Path(__file__).resolve().parents[2]


def make_arrays(
    mu_per_hour: float = 300.0,
    branching: float = 0.5,
    decay: float = 20.0,
    h: float = 1.0 / 60.0,
    regime_steps: int = 60,
    transition: np.ndarray | None = None,
    init: np.ndarray | None = None,
    vol: float = 0.003,
    drift: float = 0.0,
    impact: float = 1e-4,
):
    """Build kernel parameter arrays by hand (four identical regimes unless overridden)."""
    rp = np.zeros((4, mk.N_REGIME_PARAMS))
    rp[:, mk.RP_DRIFT] = drift * h
    rp[:, mk.RP_VOL] = vol * math.sqrt(h)
    rp[:, mk.RP_MR_DECAY] = 1.0
    rp[:, mk.RP_BASE_BUY] = mu_per_hour * h
    rp[:, mk.RP_BASE_SELL] = mu_per_hour * h
    p = np.full((4, 4), 0.25) if transition is None else transition
    trans_cum = np.cumsum(p, axis=1)
    trans_cum[:, -1] = 1.0
    init_cum = np.cumsum(np.full(4, 0.25) if init is None else init)
    init_cum[-1] = 1.0
    sc = np.zeros(mk.N_SCALARS)
    d = math.exp(-decay * h)
    sc[mk.SC_HAWKES_DECAY] = d
    sc[mk.SC_HAWKES_JUMP] = branching * (1.0 - d)
    sc[mk.SC_BRANCHING] = branching
    sc[mk.SC_IMPACT] = impact
    sc[mk.SC_TRADE_NOTIONAL] = 1000.0
    sc[mk.SC_PREMIUM_DECAY] = 0.9 ** (h)
    sc[mk.SC_PREMIUM_FLOW] = 2e-6
    sc[mk.SC_PREMIUM_NOISE] = 1e-5
    sc[mk.SC_INTEREST] = 1e-4
    sc[mk.SC_CLAMP] = 5e-4
    sc[mk.SC_CAP] = 0.04
    sc[mk.SC_PERIOD_HOURS] = 8.0
    sc[mk.SC_REGIME_STEPS] = float(regime_steps)
    return rp, trans_cum, init_cum, sc


def fresh_state(step: int = 0, price: float = 100.0) -> np.ndarray:
    st = np.zeros(mk.N_STATE)
    st[mk.ST_STEP] = step
    st[mk.ST_REGIME] = -1
    st[mk.ST_LOG_PRICE] = st[mk.ST_ANCHOR] = math.log(price)
    return st


def shocks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, mk.N_NORMALS)), rng.random((n, mk.N_UNIFORMS))


def run(n_bars: int, k: int, seed: int = 0, state=None, **kw):
    z, u = shocks(n_bars * k, seed)
    arrays = make_arrays(**kw)
    return mk.simulate_market_nb(z, u, k, fresh_state() if state is None else state, *arrays)


# ---------------------------------------------------------------------- primitives


@pytest.mark.parametrize("mean", [0.01, 0.7, 3.0, 17.3, 120.0, 480.0])
def test_poisson_inversion_equals_scipy_ppf(mean):
    z = np.linspace(-5.0, 5.0, 201)
    u = stats.norm.cdf(z)
    expected = stats.poisson.ppf(u, mean)
    got = np.array([mk.poisson_from_normal_nb(float(v), mean) for v in z])
    # exclude points where u sits within rounding of a CDF step (the ppf is discontinuous)
    near = np.abs(stats.poisson.cdf(expected, mean) - u) < 1e-10
    near |= np.abs(stats.poisson.cdf(expected - 1, mean) - u) < 1e-10
    assert (~near).sum() > 150
    np.testing.assert_array_equal(got[~near], expected[~near])


def test_poisson_normal_regime_and_edges():
    assert mk.poisson_from_normal_nb(0.3, 0.0) == 0
    assert mk.poisson_from_normal_nb(-40.0, 5.0) == 0
    # far upper tail: the CDF saturates below u; the guard still returns a finite count
    k = mk.poisson_from_normal_nb(9.0, 5.0)
    assert 20 <= k <= 5 + 40 * math.sqrt(5) + 41
    # above the threshold the normal approximation keeps mean and variance
    mean = 2000.0
    z = np.random.default_rng(3).standard_normal(20000)
    draws = np.array([mk.poisson_from_normal_nb(float(v), mean) for v in z])
    se_mean = math.sqrt(mean / z.size)
    assert abs(draws.mean() - mean) < 4 * se_mean + 0.5
    assert abs(draws.var() / mean - 1.0) < 4 * math.sqrt(2.0 / z.size)


def test_categorical_inversion_equals_searchsorted():
    cum = np.cumsum([0.1, 0.0, 0.6, 0.3])
    cum[-1] = 1.0
    u = np.random.default_rng(1).random(2000)
    got = np.array([mk.categorical_from_uniform_nb(float(v), cum) for v in u])
    expected = np.minimum(np.searchsorted(cum, u, side="right"), 3)
    np.testing.assert_array_equal(got, expected)
    assert not (got == 1).any()  # zero-probability category never drawn


def test_bridge_extreme_is_rayleigh_for_a_pinned_bridge():
    # max of a standard Brownian bridge 0 -> 0 is Rayleigh(scale 1/2): P(M > m) = exp(-2 m^2)
    u = np.random.default_rng(2).random(5000)
    hi = np.array([mk.bridge_extreme_nb(0.0, 0.0, 1.0, float(v), True) for v in u])
    lo = np.array([mk.bridge_extreme_nb(0.0, 0.0, 1.0, float(v), False) for v in u])
    assert stats.kstest(hi, stats.rayleigh(scale=0.5).cdf).pvalue > 1e-3
    np.testing.assert_allclose(lo, -hi)
    assert (hi >= 0).all()


def test_bridge_extreme_mean_matches_fine_monte_carlo():
    # a -> b bridge with variance v; MC on a fine grid, corrected for discrete monitoring
    # by Broadie-Glasserman-Kou: E max_continuous ~ E max_discrete + 0.5826 sd_step
    a, b, v = 0.0, 0.8, 0.5
    rng = np.random.default_rng(4)
    n_paths, n_steps = 4000, 1000
    w = np.cumsum(rng.standard_normal((n_paths, n_steps)) * math.sqrt(v / n_steps), axis=1)
    t = np.arange(1, n_steps + 1) / n_steps
    bridge = a + w - t * (w[:, -1:] - (b - a))
    mc = np.maximum(bridge.max(axis=1), a) + 0.5826 * math.sqrt(v / n_steps)
    u = rng.random(20000)
    kern = np.array([mk.bridge_extreme_nb(a, b, v, float(x), True) for x in u])
    se = math.sqrt(mc.var() / n_paths + kern.var() / u.size)
    assert abs(kern.mean() - mc.mean()) < 4 * se + 2e-3
    assert kern.min() >= b


def test_funding_rate_is_hyperliquid_formula():
    interest, clamp, cap, hours = 1e-4, 5e-4, 0.04, 8.0
    # published rule: F = P + clamp(r - P, -0.0005, 0.0005) per 8h, paid hourly at F / 8
    cases = {0.0: 1e-4 / 8, 3e-4: 1e-4 / 8, 1e-3: 5e-4 / 8, -2e-3: -1.5e-3 / 8, 1.0: 0.04}
    for p, expected in cases.items():
        assert mk.funding_rate_nb(p, interest, clamp, cap, hours) == pytest.approx(
            expected, rel=1e-12
        )
    premiums = np.linspace(-0.01, 0.01, 1001)
    got = np.array([mk.funding_rate_nb(float(p), interest, clamp, cap, hours) for p in premiums])
    ref = np.clip((premiums + np.clip(interest - premiums, -clamp, clamp)) / hours, -cap, cap)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-18)


# ---------------------------------------------------------------------- Hawkes flow


@pytest.mark.parametrize("branching", [0.0, 0.5, 0.8])
def test_hawkes_counts_match_ingarch_and_hawkes_moments(branching):
    mu, beta, h, window = 300.0, 20.0, 1.0 / 60.0, 240
    n_windows = 2000
    out = run(n_windows, window, seed=11, mu_per_hour=mu, branching=branching, decay=beta)
    buys, sells = out[7], out[8]
    # exact moments of the discrete model: Poisson INGARCH(1,1), lambda' = w(1-d) + d lambda + c N
    d = math.exp(-beta * h)
    c = branching * (1.0 - d)
    phi = c + d
    lam = mu * h / (1.0 - branching)
    var1 = lam * (1 - phi**2 + c**2) / (1 - phi**2)
    rho1 = c * (1 - d * phi) / (1 - phi**2 + c**2)
    j = np.arange(1, window)
    var_window = var1 * (window + 2.0 * np.sum((window - j) * rho1 * phi ** (j - 1)))
    mean_window = lam * window
    # continuous Hawkes: E N_T = mu T / (1 - n); Var N_T -> mu T / (1 - n)^3 plus a
    # finite-window term; the discrete model must agree with it closely
    T = window * h
    lam_c = mu / (1.0 - branching)
    g = beta * (1.0 - branching)
    a = lam_c * branching * beta * (2.0 - branching) / (2.0 * (1.0 - branching))
    var_cont = lam_c * T + 2.0 * a * (T / g - (1.0 - math.exp(-g * T)) / g**2)
    assert var_window == pytest.approx(var_cont, rel=0.03)
    for counts in (buys, sells):
        se_mean = math.sqrt(var_window / n_windows)
        assert abs(counts.mean() - mean_window) < 4 * se_mean
        se_var = var_window * math.sqrt(2.0 / (n_windows - 1))
        assert abs(counts.var(ddof=1) - var_window) < 4 * se_var
        # branching ratio recovered from the long-window overdispersion 1 / (1 - n)^2
        n_hat = 1.0 - math.sqrt(counts.mean() / counts.var(ddof=1))
        assert abs(n_hat - branching) < 0.035
    assert abs(np.corrcoef(buys, sells)[0, 1]) < 4 / math.sqrt(n_windows)


def test_self_excitation_clusters_counts():
    # with n > 0 counts in consecutive sub-steps are positively autocorrelated (INGARCH rho1)
    out = run(60000, 1, seed=5, branching=0.6)
    buys = out[7]
    d = math.exp(-20.0 / 60.0)
    c, phi = 0.6 * (1 - d), 0.6 * (1 - d) + d
    rho1 = c * (1 - d * phi) / (1 - phi**2 + c**2)
    got = np.corrcoef(buys[1:], buys[:-1])[0, 1]
    assert abs(got - rho1) < 4 / math.sqrt(buys.size)
    none = run(60000, 1, seed=5, branching=0.0)[7]
    assert abs(np.corrcoef(none[1:], none[:-1])[0, 1]) < 4 / math.sqrt(none.size)


# ---------------------------------------------------------------------- regimes


def test_regime_chain_matches_transition_matrix():
    p = np.array(
        [
            [0.90, 0.05, 0.03, 0.02],
            [0.04, 0.90, 0.04, 0.02],
            [0.05, 0.05, 0.85, 0.05],
            [0.10, 0.10, 0.10, 0.70],
        ]
    )
    out = run(40000, 1, seed=7, transition=p, regime_steps=1, mu_per_hour=0.0)
    reg = out[10].astype(np.int64)
    counts = np.zeros((4, 4))
    np.add.at(counts, (reg[:-1], reg[1:]), 1.0)
    for i in range(4):
        res = stats.chisquare(counts[i], counts[i].sum() * p[i])
        assert res.pvalue > 1e-3, (i, counts[i], res)
    # and a wrong matrix is rejected by the same test
    q = np.roll(p, 1, axis=1)
    assert min(stats.chisquare(counts[i], counts[i].sum() * q[i]).pvalue for i in range(4)) < 1e-6


def test_regime_switches_only_on_regime_step_boundaries():
    p = np.full((4, 4), 0.25)
    offset = 17  # the path starts 17 sub-steps into a 60-sub-step hour
    out = run(600, 1, seed=8, transition=p, regime_steps=60, state=fresh_state(offset))
    reg = out[10]
    changes = np.flatnonzero(np.diff(reg) != 0) + 1  # index of the first bar of a new regime
    assert changes.size > 3
    assert ((changes + offset) % 60 == 0).all()


def test_initial_regime_follows_init_distribution():
    init = np.array([0.0, 0.0, 1.0, 0.0])
    out = run(3, 1, seed=1, init=init, transition=np.eye(4))
    assert (out[10] == 2).all()


# ---------------------------------------------------------------------- bars


def test_bars_are_pandas_aggregates_of_substeps():
    k, n = 7, 300
    fine = run(n * k, 1, seed=3)
    coarse = run(n, k, seed=3)
    names = ["open", "high", "low", "close", "volume", "trades", "funding", "buys", "sells"]
    df = pd.DataFrame(dict(zip(names, fine[:9], strict=True)))
    df["premium"] = fine[9]
    g = df.groupby(np.arange(n * k) // k)
    agg = g.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        trades=("trades", "sum"),
        funding=("funding", "mean"),
        buys=("buys", "sum"),
        sells=("sells", "sum"),
        premium=("premium", "mean"),
    )
    for i, name in enumerate([*names, "premium"]):
        np.testing.assert_allclose(coarse[i], agg[name].to_numpy(), rtol=1e-12, err_msg=name)
    # the bar regime is the most frequent sub-step regime
    modes = pd.Series(fine[10]).groupby(np.arange(n * k) // k).agg(lambda s: s.mode().iloc[-1])
    ties = (
        pd.Series(fine[10])
        .groupby(np.arange(n * k) // k)
        .agg(lambda s: (s.value_counts() == s.value_counts().max()).sum() > 1)
    )
    np.testing.assert_array_equal(coarse[10][~ties.to_numpy()], modes.to_numpy()[~ties.to_numpy()])
    np.testing.assert_array_equal(coarse[-1], fine[-1])


def test_ohlc_consistent_and_positive():
    o, h, lo, c, vol, trades = run(2000, 5, seed=9, vol=0.02)[:6]
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert (lo > 0).all() and np.isfinite(h).all()
    assert (vol >= 0).all() and (trades >= 0).all()
    np.testing.assert_array_equal(o[1:], c[:-1])  # continuous path: open = previous close
    assert (h > np.maximum(o, c)).mean() > 0.9  # the bridge adds intrabar excursions


def test_chunked_run_with_carried_state_equals_one_run():
    k = 4
    z, u = shocks(100 * k, 21)
    arrays = make_arrays()
    whole = mk.simulate_market_nb(z, u, k, fresh_state(5), *arrays)
    first = mk.simulate_market_nb(z[: 37 * k], u[: 37 * k], k, fresh_state(5), *arrays)
    second = mk.simulate_market_nb(z[37 * k :], u[37 * k :], k, first[-1], *arrays)
    for i in range(11):
        np.testing.assert_array_equal(whole[i], np.concatenate([first[i], second[i]]))
    np.testing.assert_array_equal(whole[-1], second[-1])


def test_step_kernel_drives_the_batch_kernel():
    z, u = shocks(50, 4)
    rp, tc, ic, sc = make_arrays()
    batch = mk.simulate_market_nb(z, u, 1, fresh_state(), rp, tc, ic, sc)
    state = (0, -1, math.log(100.0), math.log(100.0), 0.0, 0.0, 0.0)
    closes = []
    for i in range(50):
        state, out = mk.market_step_nb(state, *z[i], *u[i], rp, tc, ic, sc)
        closes.append(math.exp(out[4]))
    np.testing.assert_array_equal(batch[3], np.array(closes))


_NOJIT_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from kernels.test_market import run
out = run(40, 6, seed=13, branching=0.6, vol=0.01)
print(json.dumps([np.asarray(a, dtype=float).tolist() for a in out]))
"""


def test_jitted_kernel_equals_plain_python():
    jit = run(40, 6, seed=13, branching=0.6, vol=0.01)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    script = _NOJIT_SCRIPT.format(tests=str(REPO / "tests"))
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    plain = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(plain) == len(jit)
    for a, b in zip(jit, plain, strict=True):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b), rtol=1e-12, atol=0)
