"""IMM: parity with filterpy, reductions (one KF, Bayesian model averaging, Hamilton filter)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from filter_checks import (
    assert_prefix,
    assert_streaming_matches_batch,
    assert_update_continues_filter,
)
from filterpy.kalman import IMMEstimator
from filterpy.kalman import KalmanFilter as FilterpyKF
from hypothesis import given, settings
from hypothesis import strategies as st

from quantlab.errors import ConfigError, DataError
from quantlab.models.imm import IMM, regime_accuracy
from quantlab.models.kalman import KalmanFilter

TOL = 1e-8

# Hamilton (1989) real GNP growth, as shipped in statsmodels' test-suite
# (statsmodels/tsa/regime_switching/tests/test_markov_autoregression.py).
RGNP = np.array(
    [
        2.59316421, 2.20217133, 0.45827562, 0.9687438, -0.24130757, 0.89647478, 2.05393219,
        1.73353648, 0.93871289, -0.46477833, -0.80983406, -1.39763689, -0.39886093, 1.1918416,
        1.45620048, 2.11808228, 1.08957863, 1.32390273, 0.87296367, -0.19773273, 0.45420215,
        0.07221876, 1.1030364, 0.82097489, -0.05795795, 0.58447772, -1.56192672, -2.05041027,
        0.53637183, 2.33676839, 2.34014559, 1.2339263, 1.8869648, -0.45920792, 0.84940469,
        1.70139849, -0.28756312, 0.09594627, -0.86080289, 1.03447127, 1.23685944, 1.42004502,
        2.22410631, 1.30210173, 1.03517699, 0.9253425, -0.16559951, 1.3444382, 1.37500131,
        1.73222184, 0.71605635, 2.21032143, 0.85333031, 1.00238776, 0.42725441, 2.14368343,
        1.43789184, 1.57959926, 2.27469826, 1.95962656, 0.25992399, 1.01946914, 0.49016398,
        0.5636338, 0.5959546, 1.43082857, 0.56230122, 1.15388393, 1.68722844, 0.77438205,
        -0.09647045, 1.39600146, 0.13646798, 0.55223715, -0.39944872, -0.61671102, -0.08722561,
        1.2101835, -0.90729755, 2.64916158, -0.0080694, 0.51111895, -0.00401437, 2.16821432,
        1.92586732, 1.03504717, 1.85897219, 2.32004929, 0.25570789, -0.09855274, 0.89073682,
        -0.55896485, 0.28350255, -1.31155407, -0.88278776, -1.97454941, 1.01275265, 1.68264723,
        1.38271284, 1.86073637, 0.4447377, 0.41449001, 0.99202275, 1.36283576, 1.59970522,
        1.98845816, -0.25684232, 0.87786949, 3.1095655, 0.85324478, 1.23337317, 0.00314302,
        -0.09433369, 0.89883322, -0.19036628, 0.99772376, -2.39120054, 0.06649673, 1.26136017,
        1.91637838, -0.3348029, 0.44207108, -1.40664911, -1.52129889, 0.29919869, -0.80197448,
        0.15204792, 0.98585027, 2.13034606, 1.34397924, 1.61550522, 2.70930099, 1.24461412,
        0.50835466, 0.14802167,
    ]
)  # fmt: skip


def random_filters(rng, n_models, dim_x, dim_z):
    out = []
    for _ in range(n_models):
        A = rng.normal(size=(dim_x, dim_x))
        B = rng.normal(size=(dim_x, dim_x))
        C = rng.normal(size=(dim_z, dim_z))
        out.append(
            {
                "F": 0.9 * A / np.max(np.abs(np.linalg.eigvals(A))),
                "H": rng.normal(size=(dim_z, dim_x)),
                "Q": 0.1 * B @ B.T + 0.01 * np.eye(dim_x),
                "R": C @ C.T + 0.1 * np.eye(dim_z),
                "x0": rng.normal(size=dim_x),
                "P0": np.eye(dim_x),
            }
        )
    return out


def build(systems):
    return [KalmanFilter(**s) for s in systems]


def filterpy_imm(systems, transition, mu0, z):
    fkfs = []
    for s in systems:
        dim_z, dim_x = s["H"].shape
        f = FilterpyKF(dim_x=dim_x, dim_z=dim_z)
        f.F, f.H, f.Q, f.R = s["F"], s["H"], s["Q"], s["R"]
        f.x = s["x0"].reshape(-1, 1).copy()
        f.P = s["P0"].copy()
        fkfs.append(f)
    imm = IMMEstimator(fkfs, mu0.copy(), transition)
    xs, Ps, mus, xm = [], [], [], []
    for zt in z:
        imm.predict()
        imm.update(zt)
        xs.append(imm.x.ravel().copy())
        Ps.append(imm.P.copy())
        mus.append(imm.mu.copy())
        xm.append([f.x.ravel().copy() for f in fkfs])
    return np.array(xs), np.array(Ps), np.array(mus), np.array(xm)


@pytest.mark.parametrize(
    ("n_models", "dim_x", "dim_z"), [(2, 1, 1), (2, 2, 1), (3, 3, 2), (3, 4, 2), (4, 2, 2)]
)
def test_equals_filterpy_imm(n_models: int, dim_x: int, dim_z: int) -> None:
    rng = np.random.default_rng(10 * n_models + dim_x)
    systems = random_filters(rng, n_models, dim_x, dim_z)
    transition = rng.dirichlet(np.full(n_models, 2.0), size=n_models)
    mu0 = rng.dirichlet(np.ones(n_models))
    z = rng.normal(size=(60, dim_z)) * 2.0
    res = IMM(build(systems), transition, mu0).filter(z)
    ex, eP, emu, exm = filterpy_imm(systems, transition, mu0, z)
    np.testing.assert_allclose(res.mu, emu, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.x, ex, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.P, eP, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(res.x_models, exm, rtol=TOL, atol=TOL)
    assert res.mu.shape == (60, n_models)
    assert res.P_models.shape == (60, n_models, dim_x, dim_x)


def test_identical_models_equal_one_kalman_filter() -> None:
    rng = np.random.default_rng(2)
    (s,) = random_filters(rng, 1, 3, 2)
    z = rng.normal(size=(80, 2))
    z[[4, 40]] = np.nan
    kf = KalmanFilter(**s).filter(z)
    transition = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
    res = IMM([KalmanFilter(**s) for _ in range(3)], transition, [0.2, 0.5, 0.3]).filter(z)
    np.testing.assert_allclose(res.x, kf.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.P, kf.P, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.loglik_t, kf.loglik_t, rtol=1e-12, atol=1e-12)


def test_identity_transition_is_bayesian_model_averaging() -> None:
    rng = np.random.default_rng(4)
    systems = random_filters(rng, 3, 2, 1)
    z = rng.normal(size=(50, 1))
    mu0 = np.array([0.5, 0.3, 0.2])
    res = IMM(build(systems), np.eye(3), mu0).filter(z)
    singles = [KalmanFilter(**s).filter(z) for s in systems]
    log_post = np.log(mu0) + np.cumsum(np.stack([r.loglik_t for r in singles], axis=1), axis=0)
    log_evidence = np.logaddexp.reduce(log_post, axis=1)
    mu = np.exp(log_post - log_evidence[:, None])
    np.testing.assert_allclose(res.mu, mu, rtol=1e-10, atol=1e-12)
    x = np.einsum("tj,jtd->td", mu, np.stack([r.x for r in singles]))
    np.testing.assert_allclose(res.x, x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.cumsum(res.loglik_t), log_evidence, rtol=1e-10)
    for j, r in enumerate(singles):
        np.testing.assert_allclose(res.x_models[:, j], r.x, rtol=1e-12, atol=1e-12)


def test_equals_statsmodels_markov_regression() -> None:
    """Static state (Q = 0, P0 = 0, x = 1) with H = regime mean: Hamilton's filter."""
    rng = np.random.default_rng(3)
    n = 300
    s = np.zeros(n, dtype=int)
    for t in range(1, n):
        s[t] = s[t - 1] if rng.random() < 0.95 else 1 - s[t - 1]
    y = np.where(s == 0, 0.5 + 0.5 * rng.normal(size=n), -1.0 + 2.0 * rng.normal(size=n))
    mod = sm.tsa.MarkovRegression(y, k_regimes=2, switching_variance=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mod.fit(disp=False)
    p = fit.params  # p[0->0], p[1->0], const[0], const[1], sigma2[0], sigma2[1]
    # statsmodels: P[i, j] = P(s_t = i | s_t-1 = j); ours is its transpose
    transition = mod.regime_transition_matrix(p)[:, :, 0].T
    mu0 = mod.initial_probabilities(p)
    models = [
        KalmanFilter([[1.0]], [[p[2 + j]]], [[0.0]], [[p[4 + j]]], [1.0], [[0.0]]) for j in range(2)
    ]
    res = IMM(models, transition, mu0).filter(y)
    np.testing.assert_allclose(res.mu, fit.filtered_marginal_probabilities, rtol=0, atol=TOL)
    assert res.loglik == pytest.approx(fit.llf, rel=1e-10)
    assert regime_accuracy(s, res.mu) > 0.9


def test_hamilton_gnp_ar4_switching_mean() -> None:
    """Hamilton (1989) as an IMM over the 32 regime histories (s_t, ..., s_t-4).

    ``y_t - mu_{s_t} = sum_k phi_k (y_{t-k} - mu_{s_{t-k}}) + e_t``. With the known series
    moved to the left, ``z_t = y_t - sum_k phi_k y_{t-k} = h(s_t..s_t-4) + e_t`` where
    ``h = mu_{s_t} - sum_k phi_k mu_{s_{t-k}}``: a static state (x = 1) seen through a
    regime-dependent H, which is Hamilton's filter exactly.
    """
    params = np.r_[
        0.754673, 0.095915, -0.358811, 1.163516, np.exp(-0.262658) ** 2,
        0.013486, -0.057521, -0.246983, -0.212923,
    ]  # fmt: skip
    p00, p10, mu, sigma2, phi = params[0], params[1], params[2:4], params[4], params[5:]
    P = np.array([[p00, 1 - p00], [p10, 1 - p10]])  # P[i, j] = P(i -> j)
    pi = np.array([p10, 1 - p00]) / (p10 + 1 - p00)  # ergodic probabilities
    histories = list(itertools.product(range(2), repeat=5))  # (s_t, s_t-1, ..., s_t-4)
    k = len(histories)
    transition = np.zeros((k, k))
    for a, ha in enumerate(histories):
        for b, hb in enumerate(histories):
            if hb[1:] == ha[:4]:
                transition[a, b] = P[ha[0], hb[0]]
    mu0 = np.array([pi[h[4]] * np.prod([P[h[i + 1], h[i]] for i in range(4)]) for h in histories])
    models = [
        KalmanFilter(
            [[1.0]],
            [[mu[h[0]] - sum(phi[i] * mu[h[i + 1]] for i in range(4))]],
            [[0.0]],
            [[sigma2]],
            [1.0],
            [[0.0]],
        )
        for h in histories
    ]
    n = RGNP.size
    z = RGNP[4:] - sum(phi[i] * RGNP[3 - i : n - 1 - i] for i in range(4))
    res = IMM(models, transition, mu0).filter(z)
    assert res.loglik == pytest.approx(-181.26339, abs=5e-6)  # published (E-views, 5 d.p.)
    mod = sm.tsa.MarkovAutoregression(RGNP, k_regimes=2, order=4, switching_ar=False)
    ref = mod.filter(params)
    assert res.loglik == pytest.approx(ref.llf, rel=1e-12)
    recession = res.mu[:, [i for i, h in enumerate(histories) if h[0] == 1]].sum(axis=1)
    np.testing.assert_allclose(recession, ref.filtered_marginal_probabilities[:, 1], atol=TOL)


def test_missing_observation_moves_regimes_by_the_chain() -> None:
    rng = np.random.default_rng(8)
    systems = random_filters(rng, 2, 2, 1)
    transition = np.array([[0.9, 0.1], [0.3, 0.7]])
    z = rng.normal(size=(20, 1))
    z[[7, 8]] = np.nan
    res = IMM(build(systems), transition, [0.5, 0.5]).filter(z)
    np.testing.assert_allclose(res.mu[7], res.mu[6] @ transition, rtol=1e-12)
    np.testing.assert_allclose(res.mu[8], res.mu[7] @ transition, rtol=1e-12)
    assert res.loglik_t[7] == 0.0 and res.loglik_t[8] == 0.0


def test_batch_and_streaming_agree_exactly() -> None:
    rng = np.random.default_rng(9)
    systems = random_filters(rng, 3, 2, 2)
    transition = rng.dirichlet(np.ones(3), size=3)
    z = rng.normal(size=(40, 2))
    z[5] = np.nan
    imm = IMM(build(systems), transition)
    res = imm.filter(z)
    assert_streaming_matches_batch(IMM(build(systems), transition), res, z)
    assert_update_continues_filter(imm, res, z, 25)
    np.testing.assert_array_equal(imm.mu_, res.mu[-1])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), cut=st.integers(0, 30))
def test_prefix_property(seed: int, n: int, cut: int) -> None:
    rng = np.random.default_rng(seed)
    systems = random_filters(rng, 2, 2, 1)
    transition = rng.dirichlet(np.ones(2), size=2)
    z = rng.normal(size=(n, 1))
    imm = IMM(build(systems), transition)
    full = imm.filter(z)
    t = min(cut, n)
    assert_prefix(imm.filter(z[:t]), full, t)


def test_recovers_volatility_regimes() -> None:
    """A calm/turbulent random walk: the IMM labels the generator's regimes."""
    rng = np.random.default_rng(21)
    n = 600
    transition = np.array([[0.98, 0.02], [0.04, 0.96]])
    s = np.zeros(n, dtype=int)
    for t in range(1, n):
        s[t] = rng.choice(2, p=transition[s[t - 1]])
    sd = np.array([0.2, 2.0])
    level = np.cumsum(sd[s] * rng.normal(size=n))
    z = level + 0.1 * rng.normal(size=n)
    models = [KalmanFilter.local_level(sd[j] ** 2, 0.01, x0=0.0, P0=1.0) for j in range(2)]
    res = IMM(models, transition, [0.5, 0.5]).filter(z)
    assert regime_accuracy(s, res.mu, permute=False) > 0.85


def test_regime_accuracy() -> None:
    mu = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert regime_accuracy([0, 1, 0, 0], mu, permute=False) == 0.75
    assert regime_accuracy([1, 0, 1, 1], mu, permute=False) == 0.25
    assert regime_accuracy([1, 0, 1, 1], mu) == 0.75
    with pytest.raises(DataError, match="true_labels"):
        regime_accuracy([0, 1, 2, 0], mu)
    with pytest.raises(DataError, match="shapes"):
        regime_accuracy([0, 1], mu)


def test_bad_configuration() -> None:
    rng = np.random.default_rng(0)
    systems = random_filters(rng, 2, 2, 1)
    z = np.zeros(3)
    with pytest.raises(ConfigError, match=r"transition: row 1 sums to"):
        IMM(build(systems), [[0.9, 0.1], [0.5, 0.6]]).filter(z)
    with pytest.raises(ConfigError, match=r"transition: entry \[0, 1\]"):
        IMM(build(systems), [[1.1, -0.1], [0.5, 0.5]]).filter(z)
    with pytest.raises(ConfigError, match="transition: shape"):
        IMM(build(systems), np.eye(3)).filter(z)
    with pytest.raises(ConfigError, match="mu0"):
        IMM(build(systems), np.eye(2), [0.7, 0.7]).filter(z)
    other = random_filters(rng, 1, 3, 1)
    with pytest.raises(ConfigError, match=r"filters\[1\]: dim_x=3"):
        IMM([KalmanFilter(**systems[0]), KalmanFilter(**other[0])], np.eye(2)).filter(z)
    bad = dict(systems[1], Q=-np.eye(2))
    with pytest.raises(ConfigError, match=r"filters\[1\]\.Q: covariance"):
        IMM([KalmanFilter(**systems[0]), KalmanFilter(**bad)], np.eye(2)).filter(z)
    with pytest.raises(ConfigError, match="filters"):
        IMM([], np.eye(2)).filter(z)
