"""Time quantlab's Kalman filter, IMM and RBPF against filterpy's Python loops.

Run ``python benchmarks/bench_models.py [--n 100000]``; the table goes into
``benchmarks/RESULTS.md`` between the ``bench_models`` markers. Each quantlab timing is the
best of three runs after a warm-up call (numba compilation excluded); filterpy runs once
over the same observations, and the outputs are checked to agree.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import IMMEstimator
from filterpy.kalman import KalmanFilter as FilterpyKF

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section

from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter
from quantlab.models.rbpf import RBPF

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def best_of(fn, repeat: int = 3) -> float:
    fn()  # warm-up (JIT compile / cache load)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def once(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def filterpy_kf(kf: KalmanFilter) -> FilterpyKF:
    F, H, Q, R, x0, P0 = kf.matrices()
    f = FilterpyKF(dim_x=F.shape[0], dim_z=H.shape[0])
    f.F, f.H, f.Q, f.R = F, H, Q, R
    f.x = x0.reshape(-1, 1).copy()
    f.P = P0.copy()
    return f


def run_filterpy_kf(kf: KalmanFilter, z: np.ndarray) -> np.ndarray:
    f = filterpy_kf(kf)
    out = np.empty((z.shape[0], f.dim_x))
    for t, zt in enumerate(z):
        f.predict()
        f.update(zt)
        out[t] = f.x[:, 0]
    return out


def run_filterpy_imm(models: list[KalmanFilter], M: np.ndarray, z: np.ndarray) -> np.ndarray:
    imm = IMMEstimator([filterpy_kf(m) for m in models], np.full(len(models), 1 / 3), M)
    out = np.empty((z.shape[0], len(models)))
    for t, zt in enumerate(z):
        imm.predict()
        imm.update(zt)
        out[t] = imm.mu
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="steps (default 100000)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    z = np.cumsum(0.1 + rng.normal(size=n)) + rng.normal(size=n)
    rows = []

    # constant-velocity Kalman filter
    cv = KalmanFilter.constant_velocity(q=0.01, r=1.0, x0=(0.0, 0.0), P0=10.0)
    np.testing.assert_allclose(
        cv.matrices()[2], Q_discrete_white_noise(2, dt=1.0, var=0.01), rtol=1e-14
    )
    t_ql = best_of(lambda: cv.filter(z))
    t_fp, x_fp = once(lambda: run_filterpy_kf(cv, z))
    err = float(np.max(np.abs(cv.filter(z).x - x_fp)))
    rows.append(("Kalman, constant velocity (dim_x=2, dim_z=1)", t_ql, t_fp, err, "x"))

    # 3-model IMM: calm trend, turbulent trend, mean-reverting flow
    models = [
        KalmanFilter.constant_velocity(q=0.001, r=1.0, P0=10.0),
        KalmanFilter.constant_velocity(q=0.5, r=1.0, P0=10.0),
        KalmanFilter(
            F=[[1.0, 1.0], [0.0, 0.5]],
            H=[[1.0, 0.0]],
            Q=Q_discrete_white_noise(2, dt=1.0, var=0.1),
            R=[[1.0]],
            x0=[0.0, 0.0],
            P0=np.eye(2) * 10.0,
        ),
    ]
    M = np.array([[0.97, 0.02, 0.01], [0.03, 0.95, 0.02], [0.02, 0.03, 0.95]])
    imm = IMM(models, M, np.full(3, 1 / 3))
    t_ql = best_of(lambda: imm.filter(z))
    t_fp, mu_fp = once(lambda: run_filterpy_imm(models, M, z))
    err = float(np.max(np.abs(imm.filter(z).mu - mu_fp)))
    rows.append(("IMM, 3 constant-velocity-type models", t_ql, t_fp, err, "mu"))

    # RBPF (no filterpy counterpart): same 3 regimes, 200 particles, on a 1/10 slice
    n_rb = max(n // 10, 1)
    pf = RBPF(models, M, np.full(3, 1 / 3), n_particles=200, seed=0)
    t_rb = best_of(lambda: pf.filter(z[:n_rb]), repeat=1)

    lines = [
        f"{n:,} steps; filterpy driven by `predict(); update(z)` in a Python loop.",
        "",
        "| filter | quantlab (s) | filterpy (s) | speed-up | per step quantlab | max abs diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, tq, tf, e, what in rows:
        lines.append(
            f"| {name} | {tq:.4f} | {tf:.2f} | {tf / tq:,.0f}x | {1e9 * tq / n:,.0f} ns "
            f"| {e:.1e} ({what}) |"
        )
    lines += [
        "",
        f"RBPF, same 3 regimes, 200 particles, fully adapted proposal: {t_rb:.3f} s for "
        f"{n_rb:,} steps ({1e6 * t_rb / n_rb:,.1f} us per step, "
        f"{1e9 * t_rb / n_rb / 200:,.0f} ns per particle-step).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(RESULTS, "bench_models", "State-space models vs filterpy", body)


if __name__ == "__main__":
    main()
