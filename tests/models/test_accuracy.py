"""Accuracy metrics, PIT calibration and the causal AccuracyTracker weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quantlab.errors import ConfigError, DataError
from quantlab.models.accuracy import (
    AccuracyTracker,
    directional_accuracy,
    gaussian_pit,
    interval_coverage,
    mean_absolute_error,
    pit_histogram,
)
from quantlab.models.hedge import Hedge


def make_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC", name="time")
    ret = pd.Series(rng.normal(0, 0.01, n), index=idx)
    ret.iloc[0] = np.nan  # as pct_change() gives
    nxt = ret.shift(-1).fillna(0.0)
    sig = pd.DataFrame(
        {
            "good": nxt + rng.normal(0, 0.006, n),
            "noise": rng.normal(size=n),
            "contrarian": -nxt + rng.normal(0, 0.02, n),
            "late": np.r_[np.full(50, np.nan), rng.normal(size=n - 50)],
        },
        index=idx,
    )
    return sig, ret


def test_directional_accuracy_and_mae():
    pred = np.array([1.0, -1.0, 2.0, 0.0, np.nan, 1.0])
    out = np.array([0.5, 0.5, 1.0, 1.0, 1.0, -2.0])
    # rows 0, 2 agree; rows 1, 5 disagree; row 3 (no call) and row 4 (NaN) are left out
    assert directional_accuracy(pred, out) == 0.5
    assert mean_absolute_error(pred, out) == pytest.approx(np.nanmean(np.abs(pred - out)))
    assert np.isnan(directional_accuracy([0.0], [1.0]))


def test_pit_is_uniform_when_calibrated_and_u_shaped_when_overconfident():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=20_000)
    y = mean + rng.normal(size=20_000)
    pit = gaussian_pit(y, mean, np.ones_like(y))
    np.testing.assert_allclose(pit, stats.norm.cdf(y - mean))
    hist = pit_histogram(pit, bins=10)
    assert hist["count"].sum() == 20_000
    assert stats.chisquare(hist["count"]).pvalue > 1e-3
    narrow = pit_histogram(gaussian_pit(y, mean, np.full_like(y, 0.5)), bins=10)
    assert narrow["share"].iloc[0] > 2 * narrow["expected"].iloc[0]
    assert narrow["share"].iloc[-1] > 2 * narrow["expected"].iloc[-1]
    assert narrow["share"].iloc[5] < narrow["expected"].iloc[5]
    assert interval_coverage(y, mean - 1.645, mean + 1.645) == pytest.approx(0.9, abs=0.01)


def test_hits_are_scored_when_the_outcome_is_known():
    sig, ret = make_data()
    for h in (1, 3):
        tr = AccuracyTracker(horizon=h)
        tr.filter(sig, ret)
        realised = np.expm1(np.log1p(ret).rolling(h).sum())
        lagged = sig.shift(h)
        want = np.sign(lagged["noise"]) * np.sign(realised)
        want = (want > 0).astype(float).where(want.abs() > 0)
        pd.testing.assert_series_equal(tr.hits_["noise"], want, check_names=False)
        assert tr.hits_.iloc[:h].isna().all().all()  # first return is NaN
        assert tr.hits_.iloc[h, :3].notna().all()
    # a perfect one-bar-ahead forecast is right every time it is scored
    perfect = pd.DataFrame({"p": ret.shift(-1).fillna(0.0)}, index=ret.index)
    s = AccuracyTracker()
    s.filter(perfect, ret)
    assert s.summary().loc["p", "directional_accuracy"] == 1.0


def test_hedge_weights_equal_hedge_on_the_resolved_losses():
    sig, ret = make_data()
    tr = AccuracyTracker(method="hedge", eta=0.1)
    w = tr.filter(sig, ret)
    hits = tr.hits_.to_numpy()
    loss = np.where(np.isnan(hits), 0.5, 1 - hits)
    loss[ret.isna().to_numpy() | (ret.to_numpy() == 0)] = np.nan
    loss[0] = np.nan
    h = Hedge(0.1)
    before = h.filter(loss)
    np.testing.assert_allclose(w.to_numpy()[:-1], before[1:], rtol=1e-12)
    np.testing.assert_allclose(w.to_numpy()[-1], h.weights_, rtol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w.iloc[-1].idxmax() == "good"
    assert w.iloc[-1]["contrarian"] < 0.01
    summary = tr.summary()
    assert summary.loc["good", "directional_accuracy"] > 0.7
    assert summary.loc["contrarian", "directional_accuracy"] < 0.4
    assert summary.loc["late", "n_scored"] == len(ret) - 51


def test_accuracy_weights_from_rolling_accuracy():
    sig, ret = make_data()
    tr = AccuracyTracker(method="accuracy", window=50, min_obs=10)
    w = tr.filter(sig, ret)
    acc = tr.hits_.rolling(50, min_periods=10).mean()
    pd.testing.assert_frame_equal(tr.accuracy_, acc)
    edge = (acc - 0.5).clip(lower=0).fillna(0.0)
    total = edge.sum(axis=1)
    want = edge.div(total.where(total > 0), axis=0).fillna(0.0)
    pd.testing.assert_frame_equal(w, want, check_freq=False)
    assert (w.iloc[:10] == 0).all().all()  # rows 1..9: fewer than 10 scored
    assert w["good"].iloc[-1] > 0.8


@pytest.mark.parametrize("method", ["hedge", "accuracy"])
@pytest.mark.parametrize("horizon", [1, 4])
def test_batch_equals_streaming_and_prefix(method, horizon):
    sig, ret = make_data(n=250, seed=3)
    kw = dict(horizon=horizon, method=method, window=40, min_obs=5, eta=0.2)
    full = AccuracyTracker(**kw).filter(sig, ret)
    tr = AccuracyTracker(**kw)
    stream = np.array([tr.update(sig.iloc[t], ret.iloc[t]) for t in range(len(ret))])
    np.testing.assert_allclose(stream, full.to_numpy(), rtol=1e-9, atol=1e-12)
    for cut in (30, 137):
        part = AccuracyTracker(**kw).filter(sig.iloc[:cut], ret.iloc[:cut])
        pd.testing.assert_frame_equal(part, full.iloc[:cut], check_freq=False)
    # run then update continues
    tr2 = AccuracyTracker(**kw)
    tr2.filter(sig.iloc[:200], ret.iloc[:200])
    np.testing.assert_allclose(
        tr2.update(sig.iloc[200], ret.iloc[200]), full.iloc[200], rtol=1e-9, atol=1e-12
    )


def test_future_returns_do_not_change_past_weights():
    sig, ret = make_data(n=200, seed=4)
    base = AccuracyTracker().filter(sig, ret)
    shocked = ret.copy()
    shocked.iloc[150:] = -shocked.iloc[150:]
    other = AccuracyTracker().filter(sig, shocked)
    pd.testing.assert_frame_equal(base.iloc[:150], other.iloc[:150])
    assert not base.iloc[150:].equals(other.iloc[150:])


def test_bad_input_raises():
    sig, ret = make_data(n=50)
    with pytest.raises(ConfigError, match="method"):
        AccuracyTracker(method="vote").filter(sig, ret)
    with pytest.raises(ConfigError, match="horizon"):
        AccuracyTracker(horizon=0).filter(sig, ret)
    with pytest.raises(DataError, match="index"):
        AccuracyTracker().filter(sig, ret.iloc[1:])
    bad = ret.copy()
    bad.iloc[7] = -1.5
    with pytest.raises(DataError, match="> -1"):
        AccuracyTracker().filter(sig, bad)
    with pytest.raises(ConfigError, match="call filter"):
        AccuracyTracker().summary()
    with pytest.raises(DataError, match="std"):
        gaussian_pit([0.0], [0.0], [0.0])
