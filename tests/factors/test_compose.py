"""Composition by role: semantics against an explicit per-bar reference, config, causality."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.errors import ConfigError
from quantlab.factors.compose import (
    ComposeResult,
    ComposeSpec,
    Condition,
    FactorEntry,
    Normalizer,
    compose,
)
from quantlab.factors.registry import Role

SPEC = {
    "factors": [
        {
            "name": "momentum_z",
            "role": "primary",
            "params": {"window": 12, "vol_window": 48},
            "weight": 0.7,
            "normalize": {"method": "tanh", "scale": 2.0},
        },
        {
            "name": "ema_spread",
            "role": "primary",
            "params": {"fast_window": 5, "window": 20, "atr_window": 10},
            "weight": 0.5,
            "normalize": {"method": "zscore", "window": 48, "scale": 1.5},
        },
        {
            "name": "flow_imbalance",
            "role": "confirmation",
            "params": {"window": 12},
            "normalize": {"method": "clip", "scale": 0.2},
            "threshold": 0.05,
        },
        {"name": "vol_ratio", "role": "filter", "params": {"short_window": 12, "window": 48},
         "condition": "< 1.2"},
        {"name": "hurst", "role": "observer", "params": {"window": 64, "max_lag": 8}},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return random_bars(600, seed=21)


def _reference(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bar loop over the documented rules, from raw factors and pandas normalisers."""
    mz = ql.factors.compute("momentum_z", df, window=12, vol_window=48)
    es = ql.factors.compute("ema_spread", df, fast_window=5, window=20, atr_window=10)
    fi = ql.factors.compute("flow_imbalance", df, window=12)
    vr = ql.factors.compute("vol_ratio", df, short_window=12, window=48)
    n_mz = np.tanh(mz / 2.0).to_numpy()
    z = (es - es.rolling(48).mean()) / es.rolling(48).std(ddof=1)
    n_es = np.clip(z / 1.5, -1, 1).to_numpy()
    n_fi = np.clip(fi / 0.2, -1, 1).to_numpy()
    vr = vr.to_numpy()
    n = len(df)
    signal, raw, contrib = np.zeros(n), np.zeros(n), np.zeros((n, 2))
    for t in range(n):
        values = (n_mz[t], n_es[t], n_fi[t], vr[t])
        if not all(np.isfinite(v) for v in values):
            continue
        s = 0.7 * n_mz[t] + 0.5 * n_es[t]
        d = np.sign(s)
        if d == 0 or not n_fi[t] * d > 0.05 or not vr[t] < 1.2:
            continue
        contrib[t] = (0.7 * n_mz[t], 0.5 * n_es[t])
        raw[t] = contrib[t].sum()
        signal[t] = min(1.0, max(-1.0, raw[t]))
    return signal, raw, contrib


def test_compose_matches_explicit_reference(df) -> None:
    res = compose(df, SPEC)
    assert isinstance(res, ComposeResult)
    signal, raw, contrib = _reference(df)
    np.testing.assert_allclose(res.signal.to_numpy(), signal, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.raw_signal.to_numpy(), raw, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.contributions.to_numpy(), contrib, rtol=1e-9, atol=1e-12)
    # the case is not degenerate: the gate opens and shuts, both signs occur
    assert 0.05 < res.gate.mean() < 0.95
    assert (res.signal > 0.05).any() and (res.signal < -0.05).any()
    assert (res.gates["flow_imbalance"] | ~res.ready).mean() < 1.0
    assert (~res.gates["vol_ratio"] & res.ready).any()


def test_result_shapes_and_invariants(df) -> None:
    res = compose(df, SPEC)
    for obj in (res.signal, res.raw_signal, res.contributions, res.factors, res.gate):
        assert obj.index.equals(df.index)
    assert list(res.contributions.columns) == ["momentum_z", "ema_spread"]
    assert list(res.factors.columns) == [
        "momentum_z", "ema_spread", "flow_imbalance", "vol_ratio", "hurst"
    ]  # fmt: skip
    assert list(res.normalized.columns) == ["momentum_z", "ema_spread", "flow_imbalance"]
    assert list(res.gates.columns) == ["flow_imbalance", "vol_ratio"]
    assert res.signal.between(-1.0, 1.0).all() and res.signal.notna().all()
    np.testing.assert_array_equal(
        res.contributions.to_numpy().sum(axis=1), res.raw_signal.to_numpy()
    )
    np.testing.assert_array_equal(res.signal, np.clip(res.raw_signal, -1, 1))
    assert (res.signal[~res.gate] == 0.0).all()
    assert (res.contributions[~res.gate] == 0.0).all().all()
    np.testing.assert_array_equal(
        res.factors["hurst"], ql.factors.compute("hurst", df, window=64, max_lag=8)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.signal = res.raw_signal  # type: ignore[misc]


def test_compose_is_causal_prefix(df) -> None:
    full = compose(df, SPEC)
    for t in (1, 30, 130, 400):
        part = compose(df.iloc[:t], SPEC)
        np.testing.assert_array_equal(part.signal, full.signal.iloc[:t])
        np.testing.assert_array_equal(part.contributions, full.contributions.iloc[:t])
        np.testing.assert_array_equal(part.factors, full.factors.iloc[:t])


def test_observer_has_no_influence(df) -> None:
    without = {"factors": [e for e in SPEC["factors"] if e["role"] != "observer"]}
    a, b = compose(df, SPEC), compose(df, without)
    pd.testing.assert_series_equal(a.signal, b.signal)
    pd.testing.assert_frame_equal(a.contributions, b.contributions)
    assert "hurst" in a.factors and "hurst" not in b.factors


def test_confirmation_that_never_agrees_blocks_longs(df) -> None:
    primary = {"name": "momentum_z", "role": "primary", "normalize": "sign"}
    always_negative = {  # clip((x - 1e9) / 1) = -1: agrees with shorts only
        "name": "log_return", "role": "confirmation",
        "normalize": {"method": "clip", "center": 1e9},
    }  # fmt: skip
    res = compose(df, [primary, always_negative])
    assert (res.signal <= 0).all() and (res.signal < 0).any()
    plain = compose(df, [primary])
    np.testing.assert_array_equal(res.signal, plain.signal.clip(upper=0.0))


def test_filter_gates(df) -> None:
    primary = {"name": "momentum_z", "role": "primary", "normalize": "tanh"}
    shut = compose(df, [primary, {"name": "realized_vol", "role": "filter", "condition": "> 1"}])
    assert (shut.signal == 0).all() and not shut.gate.any()
    open_ = compose(df, [primary, {"name": "realized_vol", "role": "filter", "condition": "<= 1"}])
    plain = compose(df, [primary])
    # realized_vol(24) is ready before momentum_z(168), so the filter changes nothing
    pd.testing.assert_series_equal(open_.signal, plain.signal)


def test_clip_binds_and_contributions_still_sum(df) -> None:
    entries = [
        FactorEntry("momentum_z", Role.PRIMARY, normalize="sign", weight=1.0),
        FactorEntry("donchian_position", "primary", normalize="sign", weight=1.0),
    ]
    res = compose(df, ComposeSpec(tuple(entries)))
    assert (res.raw_signal.abs() == 2.0).any()
    assert set(np.unique(res.signal)) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(res.contributions.sum(axis=1), res.raw_signal)


def test_same_factor_twice_needs_labels(df) -> None:
    a = {"name": "momentum_z", "role": "primary"}
    with pytest.raises(ConfigError, match="label 'momentum_z' is used twice"):
        ComposeSpec.from_dict([a, a])
    b = {"name": "momentum_z", "role": "primary", "params": {"window": 48}, "label": "mz48"}
    res = compose(df, [a, b])
    assert list(res.contributions.columns) == ["momentum_z", "mz48"]


def test_default_role_comes_from_the_factor() -> None:
    e = FactorEntry("momentum_z")
    assert e.role is ql.factors.spec("momentum_z").role is Role.PRIMARY


def test_yaml_and_round_trip(df) -> None:
    text = """
factors:
  - name: momentum_z
    role: Primary
    weight: 0.8
    normalize: {method: tanh, scale: 2}
  - name: vol_ratio
    role: filter
    condition: "< 1.5"
"""
    spec = ComposeSpec.from_yaml(text)
    assert spec.entries[0].role is Role.PRIMARY and spec.entries[0].weight == 0.8
    assert spec.entries[1].condition == Condition("<", 1.5)
    again = ComposeSpec.from_dict(spec.to_dict())
    assert again == spec
    pd.testing.assert_series_equal(compose(df, text).signal, compose(df, again).signal)
    full = ComposeSpec.from_dict(SPEC)
    assert ComposeSpec.from_dict(full.to_dict()) == full


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"factors": [], "extra": 1}, "unknown key 'extra'"),
        ({"factor": []}, "unknown key 'factor'"),
        ([{"name": "momentum_z", "wieght": 1}], r"factors\[0\]: unknown key 'wieght'"),
        ([{"name": "momentum_z", "normalize": {"method": "tanh", "scal": 2}}], "'scal'"),
        ([{"name": "momentum_z", "normalize": "minmax"}], "minmax"),
        ([{"name": "momentum_z", "normalize": {"method": "zscore", "window": 1}}], "window"),
        ([{"name": "momentum_z", "normalize": {"method": "tanh", "scale": 0}}], "scale"),
        ([{"role": "primary"}], "missing required key 'name'"),
        ([{"name": "nope"}], "unknown factor 'nope'"),
        ([{"name": "momentum_z", "params": {"windw": 3}}], "no parameter 'windw'"),
        ([{"name": "momentum_z", "role": "leader"}], "role 'leader'"),
        ([{"name": "hurst", "role": "observer"}], "at least one primary"),
        ([{"name": "momentum_z"}, {"name": "vol_ratio", "role": "filter"}], "needs a condition"),
        ([{"name": "momentum_z", "condition": "> 1"}], "condition applies to filter"),
        ([{"name": "momentum_z"}, {"name": "vol_ratio", "condition": "~ 1"}], "must start with"),
        ([{"name": "momentum_z"}, {"name": "vol_ratio", "condition": "< x"}], "not a number"),
        ([{"name": "momentum_z"}, {"name": "hurst", "role": "observer", "weight": 2}], "weight"),
        ([{"name": "momentum_z", "weight": 0}], "nonzero weight"),
        ([{"name": "momentum_z", "weight": float("nan")}], "finite"),
        ([{"name": "momentum_z"}, {"name": "volume_z", "threshold": 1.5}], "threshold"),
        ([{"name": "momentum_z", "threshold": 0.1}], "threshold applies"),
        ([{"name": "momentum_z"}, {"name": "hurst", "role": "observer", "normalize": "tanh"}],
         "normalize applies"),
        ("factors: [", "invalid YAML"),
        (42, "list of entries"),
    ],
)  # fmt: skip
def test_bad_specs_raise_config_error(spec, match) -> None:
    with pytest.raises(ConfigError, match=match):
        ComposeSpec.from_dict(spec) if not isinstance(spec, str) else ComposeSpec.from_yaml(spec)


def test_missing_input_column_names_it() -> None:
    bars = random_bars(200, seed=22).drop(columns="funding_rate")
    with pytest.raises(ConfigError, match="funding_rate"):
        compose(bars, [{"name": "funding_carry", "role": "primary"}])


def test_normalizer_and_condition_units() -> None:
    x = np.array([np.nan, -3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(Normalizer("tanh", scale=2.0).apply(x), np.tanh(x / 2.0))
    np.testing.assert_array_equal(Normalizer("clip").apply(x), np.clip(x, -1, 1))
    np.testing.assert_array_equal(Normalizer("sign", center=0.25).apply(x), np.sign(x - 0.25))
    np.testing.assert_array_equal(Normalizer("none").apply(x), np.clip(x, -1, 1))
    assert Normalizer("zscore").scale == 2.0 and Normalizer("tanh").scale == 1.0
    with pytest.raises(ConfigError, match="center"):
        Normalizer("zscore", center=1.0)
    np.testing.assert_array_equal(
        Condition.parse(">= 0").evaluate(x), [False, False, False, True, True, True]
    )
    assert Condition.parse({"op": "<", "value": 2}) == Condition("<", 2.0)
    assert str(Condition.parse("<=1.5")) == "<= 1.5"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    w1=st.floats(-3, 3).filter(lambda w: abs(w) > 1e-3),
    w2=st.floats(-3, 3).filter(lambda w: abs(w) > 1e-3),
    scale=st.floats(0.1, 5.0),
    threshold=st.floats(0.0, 0.9),
    method=st.sampled_from(["zscore", "tanh", "clip", "sign"]),
)
def test_invariants_hold_for_any_weights(df, w1, w2, scale, threshold, method) -> None:
    spec = [
        {"name": "momentum_z", "weight": w1, "normalize": {"method": method, "scale": scale}},
        {"name": "donchian_position", "role": "primary", "weight": w2, "normalize": "none"},
        {"name": "volume_z", "role": "confirmation", "threshold": threshold,
         "normalize": {"method": "tanh", "scale": scale}},
    ]  # fmt: skip
    res = compose(df.iloc[:300], spec)
    assert res.signal.between(-1.0, 1.0).all()
    np.testing.assert_array_equal(res.contributions.to_numpy().sum(axis=1), res.raw_signal)
    assert (res.contributions[~res.gate] == 0.0).all().all()
    agree = np.sign(res.raw_signal) * res.normalized["volume_z"] > threshold
    assert (agree | ~res.gate).all()
