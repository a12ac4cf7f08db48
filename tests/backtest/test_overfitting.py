"""PSR, DSR, expected maximum Sharpe and PBO against their papers and by simulation.

Oracles: the formulas of Bailey & López de Prado (2012, 2014) evaluated by hand (with
``scipy.stats.norm`` as the normal CDF); the worked example of "The Deflated Sharpe Ratio"
(2014): annualised SR 2.5, T = 1250 daily observations (250 a year), N = 100 trials,
annualised variance of the trials' SRs 0.5, skew -3, kurtosis 10 -> SR0 = 1.7894
annualised and DSR = 0.9004 (reproduced here to 1e-4); Tippett's (1925) table of the
expected maximum of N standard normals; Monte Carlo; and Bailey, Borwein, López de Prado &
Zhu (2015) for PBO (about 1/2 on noise, about 0 when one strategy dominates).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from quantlab.backtest import overfitting as of
from quantlab.errors import ConfigError, DataError

# ------------------------------------------------------------------------------ PSR


def test_psr_hand_computed():
    # SR 0.1 per obs, n = 500, skew -0.5, kurtosis 5:
    # var term = 1 + 0.5*0.1 + (5-1)/4*0.01 = 1.06; z = 0.1*sqrt(499)/sqrt(1.06)
    z = 0.1 * math.sqrt(499.0) / math.sqrt(1.06)
    assert z == pytest.approx(2.169688, abs=1e-6)
    got = of.probabilistic_sharpe_ratio(0.1, 500, skew=-0.5, kurtosis=5.0)
    assert got == pytest.approx(norm.cdf(z), rel=1e-12)
    assert got == pytest.approx(0.98498, abs=1e-5)


def test_psr_benchmark_and_normal_case():
    # normal returns: the variance term is 1 + SR^2 / 2 (Lo 2002)
    sr, n, b = 0.08, 1000, 0.03
    expected = norm.cdf((sr - b) * math.sqrt(n - 1) / math.sqrt(1 + sr**2 / 2))
    assert of.probabilistic_sharpe_ratio(sr, n, sr_benchmark=b) == pytest.approx(expected)
    # at the benchmark the probability is exactly one half
    assert of.probabilistic_sharpe_ratio(0.05, 100, sr_benchmark=0.05) == 0.5


def test_psr_is_calibrated_under_the_null():
    # true SR = 0, normal returns: P(PSR > 0.95) is the test's size, 5 %
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, (4000, 250))
    sr = x.mean(1) / x.std(1, ddof=1)
    p = np.array([of.probabilistic_sharpe_ratio(s, 250) for s in sr])
    se = math.sqrt(0.05 * 0.95 / 4000)
    assert abs((p > 0.95).mean() - 0.05) < 4 * se


def test_psr_rejects_bad_input():
    with pytest.raises(ConfigError, match="n_obs"):
        of.probabilistic_sharpe_ratio(0.1, 1)
    with pytest.raises(ConfigError, match="kurtosis"):
        of.probabilistic_sharpe_ratio(0.1, 100, kurtosis=0.5)
    with pytest.raises(ConfigError, match="must be positive"):
        of.probabilistic_sharpe_ratio(1.0, 100, skew=5.0, kurtosis=3.0)
    with pytest.raises(ConfigError, match="sr"):
        of.probabilistic_sharpe_ratio(float("nan"), 100)


# ------------------------------------------------------------------ expected max SR


@pytest.mark.parametrize(
    ("n", "tippett"),
    [(2, 1 / math.sqrt(math.pi)), (10, 1.538753), (100, 2.507594), (1000, 3.241436)],
)
def test_expected_max_exact_matches_tippett_table(n, tippett):
    assert of.expected_max_sharpe(n, method="exact") == pytest.approx(tippett, abs=2e-6)


@pytest.mark.parametrize("n", [5, 50, 400])
def test_expected_max_against_monte_carlo(n):
    rng = np.random.default_rng(n)
    v, mu = 0.04, 0.01
    reps = 4000
    mx = (mu + math.sqrt(v) * rng.standard_normal((reps, n))).max(axis=1)
    se = mx.std(ddof=1) / math.sqrt(reps)
    exact = of.expected_max_sharpe(n, v, sr_mean=mu, method="exact")
    assert abs(mx.mean() - exact) < 4 * se
    # the paper's Gumbel approximation is above the truth: by 2.5 % at N = 5, 1.2 % at
    # N = 50, 0.6 % at N = 400 (it is asymptotic in N)
    gumbel = of.expected_max_sharpe(n, v, sr_mean=mu)
    rel = (gumbel - exact) / (exact - mu)
    assert 0 < rel < {5: 0.026, 50: 0.0125, 400: 0.0057}[n]


def test_expected_max_single_trial_and_errors():
    assert of.expected_max_sharpe(1, 2.0, sr_mean=0.3) == 0.3
    assert of.expected_max_sharpe(1, 2.0, method="exact") == 0.0
    with pytest.raises(ConfigError, match="method"):
        of.expected_max_sharpe(10, method="bogus")
    with pytest.raises(ConfigError, match="sr_variance"):
        of.expected_max_sharpe(10, -1.0)
    with pytest.raises(ConfigError, match="n_trials"):
        of.expected_max_sharpe(0)


# ------------------------------------------------------------------------------ DSR


def test_dsr_paper_worked_example():
    ppy = 250.0
    sr0_ann = math.sqrt(ppy) * of.expected_max_sharpe(100, 0.5 / ppy)
    assert sr0_ann == pytest.approx(1.7894, abs=1e-4)
    dsr = of.deflated_sharpe_ratio(
        2.5 / math.sqrt(ppy), 1250, n_trials=100, sr_variance=0.5 / ppy, skew=-3.0, kurtosis=10.0
    )
    assert dsr == pytest.approx(0.9004, abs=1e-4)
    # by hand from eq. (9): z = (SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)
    sr, sr0 = 2.5 / math.sqrt(ppy), sr0_ann / math.sqrt(ppy)
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert dsr == pytest.approx(norm.cdf(z), rel=1e-12)


def test_dsr_with_one_trial_is_the_psr():
    assert of.deflated_sharpe_ratio(
        0.1, 300, n_trials=1, sr_variance=0.3, skew=-1, kurtosis=6
    ) == pytest.approx(of.probabilistic_sharpe_ratio(0.1, 300, skew=-1, kurtosis=6))


def test_deflated_sharpe_from_returns_matches_the_formula():
    rng = np.random.default_rng(3)
    trials = rng.standard_t(5, (2000, 30)) * 0.01 + 0.0004
    best = trials[:, np.argmax(trials.mean(0) / trials.std(0, ddof=1))]
    sr, g3, g4 = of.sharpe_moments(best)
    assert g3 == pytest.approx(pd.Series(best).skew(), abs=5e-3)  # pandas: unbiased
    assert g4 == pytest.approx(pd.Series(best).kurt() + 3.0, abs=5e-2)
    ppy = 8760.0
    trial_sr_ann = trials.mean(0) / trials.std(0, ddof=1) * math.sqrt(ppy)
    res = of.deflated_sharpe(pd.Series(best), trial_sr_ann, n_trials=250, periods_per_year=ppy)
    var = np.var(trial_sr_ann, ddof=1) / ppy
    expected = of.deflated_sharpe_ratio(
        sr, 2000, n_trials=250, sr_variance=var, skew=g3, kurtosis=g4
    )
    assert res.dsr == pytest.approx(expected, rel=1e-12)
    assert res.sharpe_annualized == pytest.approx(sr * math.sqrt(ppy))
    assert res.n_trials == 250 and res.n_obs == 2000
    # the same inputs in per-bar units give the same DSR
    per_bar = of.deflated_sharpe(best, trial_sr_ann / math.sqrt(ppy), n_trials=250)
    assert per_bar.dsr == pytest.approx(res.dsr, rel=1e-10)
    # more trials -> a higher bar -> a lower DSR
    more = of.deflated_sharpe(best, trial_sr_ann, n_trials=5000, periods_per_year=ppy)
    assert more.dsr < res.dsr
    assert set(res.to_dict()) >= {"dsr", "psr", "sr0", "n_trials"}


def test_dsr_deflates_the_best_of_noise():
    # pick the best of 50 pure-noise strategies: the naive PSR calls it significant most
    # of the time, the DSR almost never
    rng = np.random.default_rng(5)
    naive, dsr = [], []
    for _ in range(200):
        y = rng.normal(0.0, 1.0, (250, 50))
        s = y.mean(0) / y.std(0, ddof=1)
        r = of.deflated_sharpe(y[:, np.argmax(s)], s)
        naive.append(r.psr)
        dsr.append(r.dsr)
    assert np.mean(np.array(naive) > 0.95) > 0.8
    assert np.mean(np.array(dsr) > 0.95) <= 0.05


def test_deflated_sharpe_errors():
    r = np.random.default_rng(0).normal(size=100)
    with pytest.raises(ConfigError, match="smaller than the number"):
        of.deflated_sharpe(r, [0.1, 0.2, 0.3], n_trials=2)
    with pytest.raises(ConfigError, match="either"):
        of.deflated_sharpe(r, [0.1, 0.2], sr_variance=0.1)
    with pytest.raises(ConfigError, match="n_trials and sr_variance"):
        of.deflated_sharpe(r)
    with pytest.raises(DataError, match="constant"):
        of.deflated_sharpe(np.zeros(10), [0.1, 0.2])
    bad = pd.Series([0.1, np.nan, 0.2], index=pd.date_range("2024", periods=3, freq="h"))
    with pytest.raises(DataError, match="2024-01-01 01:00"):
        of.deflated_sharpe(bad, [0.1, 0.2])


# ------------------------------------------------------------------------------ PBO


def _pbo_by_hand(m: np.ndarray, s: int) -> float:
    """Literal transcription of the CSCV algorithm, one split at a time."""
    t, n = m.shape
    m = m[t - (t // s) * s :]
    blocks = np.split(m, s)
    below = 0
    combos = list(itertools.combinations(range(s), s // 2))
    for c in combos:
        j = np.vstack([blocks[i] for i in c])
        jbar = np.vstack([blocks[i] for i in range(s) if i not in c])
        r = j.mean(0) / j.std(0, ddof=1)
        rbar = jbar.mean(0) / jbar.std(0, ddof=1)
        best = int(np.argmax(r))
        rank = 1 + (rbar < rbar[best]).sum() + 0.5 * ((rbar == rbar[best]).sum() - 1)
        w = rank / (n + 1)
        below += math.log(w / (1 - w)) <= 0
    return below / len(combos)


def test_pbo_equals_the_literal_algorithm():
    rng = np.random.default_rng(2)
    m = rng.normal(0, 1, (203, 7)) + np.linspace(-0.05, 0.05, 7)
    res = of.pbo(m, 6)
    assert res.pbo == pytest.approx(_pbo_by_hand(m, 6), abs=1e-15)
    assert res.n_splits == math.comb(6, 3) and res.n_obs == 198 and res.n_strategies == 7
    # a custom metric that is the same Sharpe ratio gives the same splits
    custom = of.pbo(m, 6, metric=lambda x: x.mean(0) / x.std(0, ddof=1))
    np.testing.assert_allclose(custom.logits, res.logits, rtol=1e-12)
    np.testing.assert_allclose(custom.is_performance, res.is_performance, rtol=1e-9)


def test_pbo_two_blocks_by_hand():
    # S = 2, T = 4: block 0 = rows 0-1, block 1 = rows 2-3; three strategies (columns)
    m = np.array(
        [
            [3.0, 1.0, 2.0],
            [5.0, 0.5, 3.0],
            [1.0, 3.0, -1.0],
            [1.0, 5.0, 0.0],
        ]
    )
    # Sharpe in block 0: 4/1.414 = 2.828, 0.75/0.354 = 2.121, 2.5/0.707 = 3.536
    # Sharpe in block 1: 1/0 -> -inf, 4/1.414 = 2.828, -0.5/0.707 = -0.707
    # split ({0} in): best col 2; out of sample it ranks 2 of 3 -> omega 2/4, logit 0
    # split ({1} in): best col 1; out of sample it ranks 1 of 3 -> omega 1/4, logit ln(1/3)
    res = of.pbo(m, 2)
    np.testing.assert_array_equal(res.best, [2, 1])
    np.testing.assert_allclose(res.logits, [0.0, math.log(1 / 3)], atol=1e-15)
    assert res.pbo == 1.0  # both logits <= 0
    np.testing.assert_allclose(res.is_performance, [2.5 / math.sqrt(0.5), 4 / math.sqrt(2)])
    np.testing.assert_allclose(
        res.oos_performance, [-0.5 / math.sqrt(0.5), 0.75 / math.sqrt(0.125)]
    )
    assert res.prob_oos_loss == 0.5


def test_pbo_is_one_half_on_noise():
    vals = [of.pbo(np.random.default_rng(s).normal(0, 1, (400, 10)), 8).pbo for s in range(300)]
    se = np.std(vals) / math.sqrt(len(vals))
    assert abs(np.mean(vals) - 0.5) < 3.5 * se
    assert se < 0.02


def test_pbo_is_zero_when_one_strategy_dominates():
    rng = np.random.default_rng(1)
    m = rng.normal(0, 1, (1600, 20))
    m[:, 7] += 0.3
    res = of.pbo(pd.DataFrame(m), 16)
    assert res.pbo == 0.0
    assert (res.best == 7).all()
    assert res.prob_oos_loss == 0.0


def test_pbo_overfit_selection_degrades():
    # strategies whose edge flips sign half way: the in-sample winner loses out of sample
    rng = np.random.default_rng(4)
    m = rng.normal(0, 1, (800, 12))
    m[:400, :6] += 0.25
    m[400:, :6] -= 0.25
    res = of.pbo(m, 2)
    assert res.pbo == 1.0


def test_pbo_input_errors():
    with pytest.raises(ConfigError, match="even"):
        of.pbo(np.zeros((100, 3)), 5)
    with pytest.raises(DataError, match="2-D"):
        of.pbo(np.zeros(100), 4)
    with pytest.raises(DataError, match="at least 2 strategies"):
        of.pbo(np.zeros((100, 1)), 4)
    with pytest.raises(DataError, match="partitions"):
        of.pbo(np.zeros((10, 3)), 8)
    m = pd.DataFrame(np.ones((40, 2)), columns=["a", "b"])
    m.iloc[5, 1] = np.inf
    with pytest.raises(DataError, match="row 5, column 'b'"):
        of.pbo(m, 4)
