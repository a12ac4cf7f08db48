"""Hawkes process: published values, the TrueFX fixture, MLE recovery, causality."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from quantlab.errors import ConfigError, DataError
from quantlab.kernels.hawkes import (
    hawkes_intensity_nb,
    hawkes_loglik_grad_nb,
    hawkes_loglik_nb,
    hawkes_loglik_step_nb,
)
from quantlab.models.hawkes import Hawkes

SIX = np.array([3.0, 4.0, 6.0, 8.2, 9.0, 12.0])


def direct_loglik(t, T, mu, alpha, theta):
    """O(n^2) textbook log-likelihood."""
    ll = 0.0
    for i, ti in enumerate(t):
        ll += np.log(mu + alpha * theta * np.sum(np.exp(-theta * (ti - t[:i]))))
    return ll - mu * T - alpha * np.sum(1.0 - np.exp(-theta * (T - t)))


def test_published_six_events():
    assert Hawkes(5, 0.2, 10).loglik(SIX, 15) == pytest.approx(-66.54322018860304, rel=1e-12)


def test_published_no_events():
    assert Hawkes(5, 0.2, 10).loglik([], 2) == pytest.approx(-10.0, rel=1e-14)


def test_kernel_equals_direct_sum():
    rng = np.random.default_rng(3)
    for _ in range(5):
        t = np.sort(rng.uniform(0, 50, rng.integers(1, 60)))
        mu, alpha, theta = rng.uniform(0.1, 2), rng.uniform(0, 0.95), rng.uniform(0.1, 5)
        got = hawkes_loglik_nb(t, 60.0, mu, alpha, theta)
        np.testing.assert_allclose(got, direct_loglik(t, 60.0, mu, alpha, theta), rtol=1e-12)


def test_step_kernel_streams_to_batch():
    state, total = (0.0, 0.0), 0.0
    for x in SIX:
        state, y = hawkes_loglik_step_nb(state, x, 5.0, 0.2, 10.0)
        total += y
    t_last, s_last = state
    total -= 5.0 * (15 - t_last) + 0.2 * s_last * (1 - np.exp(-10.0 * (15 - t_last)))
    assert total == pytest.approx(hawkes_loglik_nb(SIX, 15.0, 5.0, 0.2, 10.0), rel=1e-14)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 100, 80))
    p = np.array([0.4, 0.5, 1.3])
    ll, g = hawkes_loglik_grad_nb(t, 100.0, *p)
    assert ll == pytest.approx(hawkes_loglik_nb(t, 100.0, *p), rel=1e-13)
    for j in range(3):
        h = 1e-6 * p[j]
        up, dn = p.copy(), p.copy()
        up[j] += h
        dn[j] -= h
        fd = (hawkes_loglik_nb(t, 100.0, *up) - hawkes_loglik_nb(t, 100.0, *dn)) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-5, abs=1e-6)


@pytest.fixture(scope="module")
def tfx(fixtures_dir):
    return np.load(fixtures_dir / "hawkes" / "tfx_fixture.npy")


def test_fixture_loglik(tfx):
    got = Hawkes(5, 0.3, 10).loglik(tfx)  # T defaults to the last timestamp
    np.testing.assert_allclose(got, -3628302.7661192594, rtol=1e-10)


def test_fixture_mle(tfx):
    m = Hawkes().fit(tfx)
    assert m.converged_
    est = np.array([m.mu_, m.alpha_, m.theta_])
    published = np.array([0.006, 0.555, 0.161])  # rounded to 3 decimals
    # the estimate lies within two standard errors of the published (rounded) optimum ...
    assert np.all(np.abs(est - published) < 2 * m.stderr_.to_numpy()), (est, m.stderr_)
    np.testing.assert_allclose(est, published, rtol=0.05)
    # ... and is at least as likely as it
    assert m.loglik_ >= Hawkes(*published).loglik(tfx) - 1e-9


def test_simulate_then_fit_recovers_parameters():
    true = np.array([0.5, 0.6, 2.0])
    t = Hawkes(*true).simulate(4000.0, seed=11)
    assert t.size > 3000 and np.all(np.diff(t) > 0) and t[-1] <= 4000.0
    m = Hawkes().fit(t, 4000.0)
    est = np.array([m.mu_, m.alpha_, m.theta_])
    se = m.stderr_.to_numpy()
    assert np.all(np.isfinite(se)) and np.all(se > 0)
    assert np.all(np.abs(est - true) < 3 * se), (est, se)


def test_time_rescaling_gives_unit_exponentials():
    h = Hawkes(0.5, 0.6, 2.0)
    t = h.simulate(3000.0, seed=5)
    comp = h.compensator(t)
    assert stats.kstest(comp, "expon").pvalue > 0.01
    # under wrong parameters the increments are not Exp(1)
    assert stats.kstest(Hawkes(0.5, 0.0, 2.0).compensator(t), "expon").pvalue < 1e-6


def test_simulation_is_reproducible():
    a = Hawkes(0.5, 0.5, 1.0).simulate(200.0, seed=3)
    b = Hawkes(0.5, 0.5, 1.0).simulate(200.0, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Hawkes(0.5, 0.5, 1.0).simulate(200.0, seed=4))


def test_intensity_is_causal_and_matches_direct_sum():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 20, 30))
    at = np.concatenate([t, rng.uniform(-1, 25, 20)])
    h = Hawkes(0.7, 0.4, 1.5)
    got = h.intensity(t, at)
    want = [0.7 + 0.4 * 1.5 * np.sum(np.exp(-1.5 * (s - t[t < s]))) for s in at]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # at an event time the event itself is excluded
    assert got[0] == pytest.approx(0.7)
    # prefix property: only events before the query time matter
    cut = 10.0
    q = at[at <= cut]
    np.testing.assert_allclose(h.intensity(t[t < cut], q), h.intensity(t, q), rtol=1e-14)


def test_intensity_kernel_sorted_queries():
    t = np.array([1.0, 2.0])
    out = hawkes_intensity_nb(t, np.array([0.5, 1.0, 1.5, 3.0]), 1.0, 0.5, 2.0)
    assert out[0] == 1.0 and out[1] == 1.0
    assert out[2] == pytest.approx(1.0 + 0.5 * 2.0 * np.exp(-2.0 * 0.5))


def test_bad_input_raises_quantlab_errors():
    with pytest.raises(DataError, match=r"times\[2\]"):
        Hawkes(1, 0.5, 1).loglik([1.0, 3.0, 2.0], 5.0)
    with pytest.raises(DataError, match="T ="):
        Hawkes(1, 0.5, 1).loglik([1.0, 6.0], 5.0)
    with pytest.raises(DataError, match="finite"):
        Hawkes(1, 0.5, 1).loglik([1.0, np.nan], 5.0)
    with pytest.raises(ConfigError, match="mu"):
        Hawkes(-1, 0.5, 1).loglik([1.0], 5.0)
    with pytest.raises(ConfigError, match="fit first"):
        Hawkes(None, None, None).loglik([1.0], 5.0)
    with pytest.raises(ConfigError, match="stationary"):
        Hawkes(1, 1.2, 1).simulate(10.0)
    with pytest.raises(DataError, match="at least 3"):
        Hawkes().fit([1.0], 5.0)


SCRIPT = """
import json, numpy as np
from quantlab.kernels.hawkes import hawkes_loglik_nb, hawkes_loglik_grad_nb
from quantlab.models.hawkes import Hawkes
t = np.array([3, 4, 6, 8.2, 9, 12.0])
h = Hawkes(0.5, 0.5, 1.0)
sim = h.simulate(100.0, seed=2)
print(json.dumps({"ll": hawkes_loglik_nb(t, 15.0, 5.0, 0.2, 10.0),
                  "g": hawkes_loglik_grad_nb(t, 15.0, 5.0, 0.2, 10.0)[1].tolist(),
                  "sim": sim.tolist(), "inten": h.intensity(sim, sim + 0.1).tolist()}))
"""


def test_jitted_equals_pure_python():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    ref = json.loads(out.stdout)
    h = Hawkes(0.5, 0.5, 1.0)
    sim = h.simulate(100.0, seed=2)
    np.testing.assert_allclose(ref["ll"], hawkes_loglik_nb(SIX, 15.0, 5.0, 0.2, 10.0), rtol=1e-14)
    np.testing.assert_allclose(ref["g"], hawkes_loglik_grad_nb(SIX, 15.0, 5.0, 0.2, 10.0)[1])
    np.testing.assert_allclose(ref["sim"], sim, rtol=1e-13)
    np.testing.assert_allclose(ref["inten"], h.intensity(sim, sim + 0.1), rtol=1e-13)


def test_filter_and_update_follow_the_likelihood_recursion():
    h = Hawkes(0.8, 0.5, 2.0)
    times = h.simulate(200.0, seed=4)
    out = h.filter(times)
    assert list(out.columns) == ["intensity", "compensator", "loglik"]
    # the per-event terms add up to the likelihood with T at the last event
    assert out["loglik"].sum() == pytest.approx(h.loglik(times), rel=1e-12)
    np.testing.assert_allclose(out["compensator"], h.compensator(times), rtol=1e-12)
    np.testing.assert_allclose(out["intensity"], h.intensity(times, times), rtol=1e-12)
    # streaming: reset then update event by event reproduces the batch run exactly
    h.reset()
    rows = np.array([h.update(t) for t in times])
    np.testing.assert_array_equal(rows, out.to_numpy())
    assert h.state()["t_last"] == times[-1]
    with pytest.raises(DataError, match="not before the last event"):
        h.update(times[-1] - 1.0)
    with pytest.raises(ConfigError, match="fit first"):
        Hawkes().filter(times)
