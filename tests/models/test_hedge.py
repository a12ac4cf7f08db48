"""Hedge: closed form, regret bound (random and adversarial), long horizons, streaming."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from quantlab.errors import ConfigError, DataError
from quantlab.kernels.hedge import hedge_nb
from quantlab.models.hedge import Hedge, hedge_optimal_eta


def closed_form(losses, eta, prior=None):
    cum = np.vstack([np.zeros(losses.shape[1]), np.cumsum(losses, axis=0)[:-1]])
    logp = 0.0 if prior is None else np.log(np.asarray(prior) / np.sum(prior))
    return softmax(-eta * cum + logp, axis=1)


def regret(weights, losses):
    return np.sum(weights * losses) - losses.sum(axis=0).min()


def test_equals_closed_form():
    rng = np.random.default_rng(0)
    losses = rng.uniform(size=(300, 4))
    np.testing.assert_allclose(Hedge(0.3).filter(losses), closed_form(losses, 0.3), rtol=1e-10)
    prior = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_allclose(
        Hedge(0.3, prior=prior).filter(losses), closed_form(losses, 0.3, prior), rtol=1e-10
    )


def test_regret_bound_random_losses():
    rng = np.random.default_rng(1)
    T, N = 20_000, 8
    losses = rng.uniform(size=(T, N))
    losses[:, 3] *= 0.9  # one slightly better expert
    eta = hedge_optimal_eta(N, T)
    w = Hedge(eta).filter(losses)
    assert regret(w, losses) <= np.sqrt(T / 2 * np.log(N))
    assert w[-1].argmax() == 3


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(0, 1), min_size=n, max_size=n), min_size=1, max_size=120
        )
    )
)
def test_regret_bound_adversarial(rows):
    losses = np.array(rows)
    T, N = losses.shape
    eta = hedge_optimal_eta(N, T)
    assert regret(Hedge(eta).filter(losses), losses) <= np.sqrt(T / 2 * np.log(N)) + 1e-9


def test_adaptive_adversary_respects_bound():
    # the adversary gives loss 1 to the currently heaviest expert, 0 to the others
    T, N = 5000, 4
    h = Hedge(hedge_optimal_eta(N, T))
    w = np.full(N, 1.0 / N)
    total = 0.0
    cum = np.zeros(N)
    for _ in range(T):
        loss = np.zeros(N)
        loss[np.argmax(w)] = 1.0
        total += w @ loss
        cum += loss
        w = h.update(loss)
    assert total - cum.min() <= np.sqrt(T / 2 * np.log(N))


def test_weights_stay_finite_at_one_million_steps():
    T = 1_000_000
    losses = np.zeros((T, 3))
    losses[:, 1] = 1.0
    losses[:, 2] = 0.5
    w, log_w = hedge_nb(losses, 0.5, np.zeros(3))
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(log_w))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w[-1, 0] == 1.0
    assert log_w[1] == pytest.approx(-0.5 * (T - 0) * 1.0)  # exact difference, no overflow


def test_batch_equals_streaming_and_prefix():
    rng = np.random.default_rng(2)
    losses = rng.uniform(size=(200, 3))
    losses[5, 1] = np.nan
    batch = Hedge(0.2).filter(losses)
    h = Hedge(0.2)
    stream = [np.full(3, 1 / 3)] + [h.update(row) for row in losses[:-1]]
    np.testing.assert_allclose(np.array(stream), batch, rtol=1e-12)
    np.testing.assert_allclose(Hedge(0.2).filter(losses[:77]), batch[:77], rtol=0, atol=0)
    # run leaves the state where update continues
    h2 = Hedge(0.2)
    h2.filter(losses[:100])
    np.testing.assert_allclose(h2.update(losses[100]), batch[101], rtol=1e-12)


def test_nan_loss_means_no_information():
    losses = np.array([[np.nan, np.nan], [1.0, np.nan], [0.0, 0.0]])
    w = Hedge(1.0).filter(losses)
    np.testing.assert_allclose(w[1], [0.5, 0.5])
    np.testing.assert_allclose(w[2], softmax([-1.0, 0.0]))


def test_dataframe_in_dataframe_out():
    idx = pd.date_range("2024", periods=4, freq="h", tz="UTC", name="time")
    df = pd.DataFrame({"a": [0.0, 1, 0, 1], "b": [1.0, 0, 1, 0]}, index=idx)
    out = Hedge(0.5).filter(df)
    assert out.index.equals(idx) and list(out.columns) == ["a", "b"]


def test_bad_input_raises():
    with pytest.raises(ConfigError, match="eta"):
        Hedge(-1.0).filter(np.zeros((2, 2)))
    with pytest.raises(DataError, match="row 1, expert 0"):
        Hedge(1.0).filter(np.array([[0.0, 0.0], [np.inf, 0.0]]))
    with pytest.raises(DataError, match="matrix"):
        Hedge(1.0).filter(np.zeros(3))
    h = Hedge(1.0)
    h.update([0.0, 1.0])
    with pytest.raises(DataError, match="experts"):
        h.update([0.0, 1.0, 2.0])


SCRIPT = """
import json, numpy as np
from quantlab.kernels.hedge import hedge_nb
losses = np.random.default_rng(9).uniform(size=(50, 3))
w, lw = hedge_nb(losses, 0.7, np.zeros(3))
print(json.dumps({"w": w.tolist(), "lw": lw.tolist()}))
"""


def test_jitted_equals_pure_python():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    ref = json.loads(out.stdout)
    losses = np.random.default_rng(9).uniform(size=(50, 3))
    w, lw = hedge_nb(losses, 0.7, np.zeros(3))
    np.testing.assert_allclose(ref["w"], w, rtol=1e-14)
    np.testing.assert_allclose(ref["lw"], lw, rtol=1e-14)
