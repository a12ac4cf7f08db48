"""KalmanFilter: parity with filterpy, missing data, streaming, causality, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from filter_checks import (
    assert_prefix,
    assert_streaming_matches_batch,
    assert_update_continues_filter,
)
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter as FilterpyKF
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlab.errors import ConfigError, DataError
from quantlab.kernels.kalman import kalman_filter_nb
from quantlab.models.kalman import KalmanFilter, white_noise_cov

TOL = 1e-8


def random_system(rng: np.random.Generator, dim_x: int, dim_z: int) -> dict:
    """A random stable system: spectral radius of F is 0.9, Q and R positive definite."""
    A = rng.normal(size=(dim_x, dim_x))
    F = 0.9 * A / np.max(np.abs(np.linalg.eigvals(A)))
    B = rng.normal(size=(dim_x, dim_x))
    C = rng.normal(size=(dim_z, dim_z))
    return {
        "F": F,
        "H": rng.normal(size=(dim_z, dim_x)),
        "Q": 0.1 * B @ B.T + 0.01 * np.eye(dim_x),
        "R": C @ C.T + 0.1 * np.eye(dim_z),
        "x0": rng.normal(size=dim_x),
        "P0": np.eye(dim_x) * rng.uniform(0.5, 5.0),
    }


def simulate(sys: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    x = sys["x0"].copy()
    dim_z = sys["H"].shape[0]
    lq = np.linalg.cholesky(sys["Q"])
    lr = np.linalg.cholesky(sys["R"])
    out = np.empty((n, dim_z))
    for t in range(n):
        x = sys["F"] @ x + lq @ rng.normal(size=x.size)
        out[t] = sys["H"] @ x + lr @ rng.normal(size=dim_z)
    return out


def filterpy_run(sys: dict, z: np.ndarray):
    dim_x, dim_z = sys["H"].shape[1], sys["H"].shape[0]
    f = FilterpyKF(dim_x=dim_x, dim_z=dim_z)
    f.F, f.H, f.Q, f.R = sys["F"], sys["H"], sys["Q"], sys["R"]
    f.x = sys["x0"].reshape(-1, 1).copy()
    f.P = sys["P0"].copy()
    xs, Ps, lls = [], [], []
    for zt in z:
        f.predict()
        if np.isnan(zt).any():
            f.update(None)
            lls.append(0.0)
        else:
            f.update(zt)
            lls.append(f.log_likelihood)
        xs.append(f.x.ravel().copy())
        Ps.append(f.P.copy())
    return np.array(xs), np.array(Ps), np.array(lls)


@pytest.mark.parametrize("dim_z", [1, 2, 3])
@pytest.mark.parametrize("dim_x", [1, 2, 3, 4, 5, 6])
def test_equals_filterpy_on_random_stable_systems(dim_x: int, dim_z: int) -> None:
    rng = np.random.default_rng(100 * dim_x + dim_z)
    sys = random_system(rng, dim_x, dim_z)
    z = simulate(sys, 80, rng)
    res = KalmanFilter(**sys).filter(z)
    ex, eP, ell = filterpy_run(sys, z)
    np.testing.assert_allclose(res.x, ex, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.P, eP, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.loglik_t, ell, rtol=TOL, atol=TOL)
    assert res.loglik == pytest.approx(ell.sum(), rel=1e-10)


def test_missing_observations_predict_only() -> None:
    rng = np.random.default_rng(7)
    sys = random_system(rng, 3, 2)
    z = simulate(sys, 60, rng)
    z[[0, 5, 6, 30]] = np.nan
    z[12, 1] = np.nan  # one NaN component marks the whole row missing
    res = KalmanFilter(**sys).filter(z)
    ex, eP, ell = filterpy_run(sys, z)
    missing = np.isnan(z).any(axis=1)
    assert np.all(res.loglik_t[missing] == 0.0)
    np.testing.assert_allclose(res.x, ex, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.P, eP, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.loglik_t, ell, rtol=TOL, atol=TOL)
    # predict only: the posterior at a missing step is F x_{t-1}, F P F' + Q
    F, Q = sys["F"], sys["Q"]
    np.testing.assert_allclose(res.x[6], F @ res.x[5], rtol=1e-12)
    np.testing.assert_allclose(res.P[6], F @ res.P[5] @ F.T + Q, rtol=1e-12)


def test_batch_and_streaming_agree_exactly() -> None:
    rng = np.random.default_rng(11)
    sys = random_system(rng, 2, 1)
    z = simulate(sys, 50, rng)
    z[10] = np.nan
    kf = KalmanFilter(**sys)
    res = kf.filter(z)
    assert_streaming_matches_batch(KalmanFilter(**sys), res, z)
    # filter leaves the live state at the end of the series; update continues from there
    assert_update_continues_filter(kf, res, z, 30)
    kf.reset()
    np.testing.assert_array_equal(kf.x_, sys["x0"])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 40),
    cut=st.integers(0, 40),
    missing=st.lists(st.integers(0, 39), max_size=5),
)
def test_prefix_property(seed: int, n: int, cut: int, missing: list[int]) -> None:
    rng = np.random.default_rng(seed)
    sys = random_system(rng, 2, 2)
    z = simulate(sys, n, rng)
    z[[m for m in missing if m < n]] = np.nan
    t = min(cut, n)
    kf = KalmanFilter(**sys)
    full = kf.filter(z)
    assert_prefix(kf.filter(z[:t]), full, t)


def test_kernel_is_the_model() -> None:
    rng = np.random.default_rng(3)
    sys = random_system(rng, 4, 2)
    z = simulate(sys, 30, rng)
    kf = KalmanFilter(**sys)
    xs, Ps, ll = kalman_filter_nb(z, *kf.matrices())
    res = kf.filter(z)
    np.testing.assert_array_equal(xs, res.x)
    np.testing.assert_array_equal(Ps, res.P)
    np.testing.assert_array_equal(ll, res.loglik_t)


# ---------------------------------------------------------------- physical models


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_white_noise_cov_equals_filterpy(dt: float) -> None:
    for dim in (2, 3):
        np.testing.assert_allclose(
            white_noise_cov(dim, dt, 0.7), Q_discrete_white_noise(dim, dt=dt, var=0.7), rtol=1e-14
        )
    assert white_noise_cov(1, dt, 0.7).tolist() == [[0.7]]


def test_local_level_structure() -> None:
    kf = KalmanFilter.local_level(2.0, 3.0, x0=1.0, P0=5.0)
    F, H, Q, R, x0, P0 = kf.matrices()
    assert (F, H, Q, R, x0, P0) == ([[1.0]], [[1.0]], [[2.0]], [[3.0]], [1.0], [[5.0]])
    assert kf.state_names == ("level",)


def test_constant_velocity_recovers_capital_flow_rate() -> None:
    rng = np.random.default_rng(5)
    n, velocity = 400, 0.3
    level = 100.0 + velocity * np.arange(n)
    z = level + rng.normal(0.0, 1.0, n)
    kf = KalmanFilter.constant_velocity(q=1e-6, r=1.0, x0=(z[0], 0.0))
    res = kf.filter(z)
    assert res.x[-1, 1] == pytest.approx(velocity, abs=0.01)
    assert res.x[-1, 0] == pytest.approx(level[-1], abs=0.5)
    frame = res.to_frame()
    assert list(frame.columns) == ["level", "velocity", "level_std", "velocity_std", "loglik"]


def test_constant_acceleration_decay_is_follower_exhaustion() -> None:
    kf = KalmanFilter.constant_acceleration(q=0.1, r=1.0, dt=2.0, decay=0.8)
    F, H, Q, *_ = kf.matrices()
    np.testing.assert_array_equal(F, [[1.0, 2.0, 2.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.8]])
    np.testing.assert_array_equal(H, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(Q, Q_discrete_white_noise(3, dt=2.0, var=0.1), rtol=1e-14)
    assert kf.state_names == ("level", "velocity", "acceleration")
    # with no new observations, herd intensification decays geometrically
    kf2 = KalmanFilter.constant_acceleration(q=0.0, r=1.0, decay=0.5, x0=(0, 0, 8.0), P0=1.0)
    res = kf2.filter(np.full(3, np.nan))
    np.testing.assert_allclose(res.x[:, 2], [4.0, 2.0, 1.0])
    with pytest.raises(ConfigError, match="decay"):
        KalmanFilter.constant_acceleration(q=0.1, r=1.0, decay=1.5)


def test_to_frame_keeps_pandas_index() -> None:
    idx = pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC", name="time")
    z = pd.Series([1.0, 2.0, 3.0, np.nan, 5.0], index=idx)
    res = KalmanFilter.local_level(1.0, 1.0).filter(z)
    frame = res.to_frame()
    assert frame.index.equals(idx)
    assert frame["loglik"].iloc[3] == 0.0


# ---------------------------------------------------------------- bad input


def base_sys() -> dict:
    return {
        "F": np.eye(2),
        "H": np.array([[1.0, 0.0]]),
        "Q": np.eye(2),
        "R": np.eye(1),
        "x0": np.zeros(2),
        "P0": np.eye(2),
    }


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("F", np.ones((2, 3)), "F: .*square"),
        ("H", np.ones((1, 3)), "H: shape"),
        ("Q", np.array([[1.0, 0.5], [0.0, 1.0]]), "Q: covariance must be symmetric"),
        ("Q", np.array([[1.0, 2.0], [2.0, 1.0]]), "Q: covariance must be positive semi-definite"),
        ("R", -np.eye(1), "R: covariance must be positive semi-definite"),
        ("R", np.eye(2), "R: shape"),
        ("P0", np.full((2, 2), np.nan), "P0: must be finite"),
        ("x0", np.zeros(3), "x0: must be a vector of length 2"),
    ],
)
def test_bad_configuration_names_the_argument(field: str, value, pattern: str) -> None:
    sys = base_sys()
    sys[field] = value
    with pytest.raises(ConfigError, match=pattern):
        KalmanFilter(**sys).filter(np.zeros(3))


def test_bad_observations() -> None:
    kf = KalmanFilter(**base_sys())
    with pytest.raises(DataError, match=r"shape \(n, 1\)"):
        kf.filter(np.zeros((3, 2)))
    with pytest.raises(DataError, match="row 2 is infinite"):
        kf.filter(np.array([1.0, 2.0, np.inf]))


def test_singular_innovation_covariance_is_reported() -> None:
    kf = KalmanFilter(F=[[1.0]], H=[[1.0]], Q=[[0.0]], R=[[0.0]], x0=[0.0], P0=[[0.0]])
    with pytest.raises(DataError, match=r"row 0 .*not positive definite"):
        kf.filter(np.array([1.0, 2.0]))


def test_fit_refuses_all_missing_observations():
    # #15: an all-NaN sample has a constant likelihood (0): no estimate, not loglik 0.0.
    # statsmodels refuses such a sample too (its local-level model cannot even be built).
    kf = KalmanFilter.local_level(1.0, 1.0)
    with pytest.raises(DataError, match=r"all 50 rows are missing \(NaN\)"):
        kf.fit(np.full(50, np.nan))
    assert not hasattr(kf, "loglik_")
    z = np.full(30, np.nan)
    z[0] = 1.0  # the only observation sits in the burn-in (n_burn = dim_x = 1)
    with pytest.raises(DataError, match="observed rows all fall in the first n_burn=1"):
        kf.fit(z)
    cv = KalmanFilter.constant_velocity(q=1.0, r=1.0)
    with pytest.raises(DataError, match="missing"):
        cv.fit(np.full((40, 1), np.nan))
    with pytest.raises(DataError, match="no observations"):
        kf.fit(np.empty(0))
    # one observed row after the burn-in is enough to run the search
    z[5] = 2.0
    assert np.isfinite(kf.fit(z).loglik_)
