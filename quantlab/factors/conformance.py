"""The factor contract, checked on synthetic bars (like scikit-learn's estimator checks).

:func:`check` runs every check on one registered factor (or spec instance) and raises
:class:`ConformanceError` naming the factor, the check and what went wrong. The test suite
runs it over every registered factor; a notebook runs it on its own factor with
``ql.factors.check("my_factor")``.

Checks
------
``metadata``      name, one-line description, inputs, role, warm-up >= 0.
``alignment``     float64 Series on ``df.index``, named by the factor, input not mutated.
``warmup``        exactly the first ``warmup()`` values are NaN, every later value finite.
``determinism``   two runs (and a run on a copy) give identical values.
``prefix``        no look-ahead: ``compute(df[:t])`` equals ``compute(df)[:t]``.
``short``         frames shorter than the warm-up (and empty) give all-NaN of their length.
``gaps``          values depend on bar positions only: a gapped index changes nothing.
``nan_policy``    ``"raise"``: a NaN or inf input raises DataError naming column and row.
``stepwise``      recursive factors: looping the step kernel equals the batch kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import DataError, QuantlabError
from quantlab.factors.registry import NAN_POLICIES, FactorSpec, Role, spec

__all__ = ["CHECKS", "ConformanceError", "check", "synthetic_bars"]

# Values must agree to this relative precision (plus the same times the series' scale):
# the same sequential arithmetic on a prefix is expected to be bit-identical, the slack
# only admits libm/FMA differences between code paths.
RTOL = 1e-12


class ConformanceError(QuantlabError, AssertionError):
    """A factor breaks the factor contract."""


def synthetic_bars(
    n: int = 600,
    seed: int = 0,
    start: str = "2024-01-01",
    freq: str = "1h",
    wick: float = 0.004,
) -> pd.DataFrame:
    """Return seeded random-walk bars with every standard and optional column.

    The on-chain flow columns (``buy_flow sell_flow sm_buy_flow sm_sell_flow sm_buys
    herd_buyers reserve_sol reserve_token``) are included, so the flow factors run
    through the same checks as every other factor.

    Parameters
    ----------
    n
        Number of bars.
    seed
        Seed of the generator.
    start
        Open time of the first bar (UTC).
    freq
        Bar interval as a pandas frequency (default hourly).
    wick
        Scale of the wicks beyond open/close, as a fraction of the close.
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0.0, wick, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="time")
    df = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.gamma(2.0, 50.0, n),
            "funding_rate": rng.normal(1e-5, 2e-5, n),
            "trades": rng.poisson(200, n).astype(np.float64),
        },
        index=index,
    )
    return _add_onchain_columns(df, seed)


def _add_onchain_columns(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Append the on-chain flow columns of ``quantlab.data.solana.flow_bars``.

    Drawn from a generator of their own, so the bar columns above stay as they were:
    zero-inflated SOL flows (most bars see no smart-money swap), counts, and pool
    reserves that follow the flows through the constant-product invariant.
    """
    n = len(df)
    rng = np.random.default_rng([seed, 12])
    traded = rng.random((2, n)) < 0.9
    flows = np.where(traded, rng.gamma(1.5, 2.0, (2, n)), 0.0)
    smart = flows * np.where(rng.random((2, n)) < 0.3, rng.random((2, n)), 0.0)
    df["buy_flow"], df["sell_flow"] = flows
    df["sm_buy_flow"], df["sm_sell_flow"] = smart
    df["sm_buys"] = np.where(smart[0] > 0, rng.poisson(1.5, n) + 1.0, 0.0)
    df["herd_buyers"] = rng.poisson(2.0, n).astype(np.float64)
    reserve_sol = 300.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    df["reserve_sol"] = reserve_sol
    df["reserve_token"] = 3e6 * 300.0 / reserve_sol
    return df


def _fail(s: FactorSpec, check_name: str, msg: str) -> ConformanceError:
    return ConformanceError(f"factor {s.name!r} fails check {check_name!r}: {msg}")


def assert_same(
    s: FactorSpec, check_name: str, got: np.ndarray, want: np.ndarray, what: str
) -> None:
    """Raise unless ``got`` equals ``want`` (NaN where NaN, values to ``RTOL``)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise _fail(s, check_name, f"{what}: shape {got.shape} != {want.shape}")
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if not np.array_equal(nan_g, nan_w):
        i = int(np.argmax(nan_g != nan_w))
        raise _fail(s, check_name, f"{what}: NaN mismatch at row {i} ({got[i]} vs {want[i]})")
    ok = ~nan_w
    if not ok.any():
        return
    g, w = got[ok], want[ok]
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    bad = np.abs(g - w) > RTOL * (np.abs(w) + scale)
    if bad.any():
        j = int(np.flatnonzero(ok)[int(np.argmax(bad))])
        raise _fail(s, check_name, f"{what}: row {j} gives {got[j]!r}, expected {want[j]!r}")


def _values(s: FactorSpec, df: pd.DataFrame) -> np.ndarray:
    return s(df).to_numpy()


def check_metadata(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check name, description, inputs, role, NaN policy and warm-up."""
    if not s.name or not s.name.isidentifier():
        raise _fail(s, "metadata", "name must be an identifier")
    if not s.description.strip() or "\n" in s.description.strip():
        raise _fail(s, "metadata", "description must be one non-empty line")
    if not isinstance(s.role, Role):
        raise _fail(s, "metadata", f"role {s.role!r} is not a Role")
    if s.nan_policy not in NAN_POLICIES:
        raise _fail(s, "metadata", f"nan_policy {s.nan_policy!r} not in {NAN_POLICIES}")
    w = s.warmup()
    if not isinstance(w, int | np.integer) or w < 0:
        raise _fail(s, "metadata", f"warmup() returned {w!r}, expected an int >= 0")
    missing = [c for c in s.inputs if c not in df.columns]
    if missing:
        raise _fail(s, "metadata", f"inputs {missing} are not bar columns of the test frame")


def check_alignment(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check the output is a float64 Series on ``df.index`` named by the factor."""
    before = df.copy(deep=True)
    out = s(df)
    if not isinstance(out, pd.Series):
        raise _fail(s, "alignment", f"returned {type(out).__name__}, expected a Series")
    if not out.index.equals(df.index):
        raise _fail(s, "alignment", "output index differs from df.index")
    if out.dtype != np.float64:
        raise _fail(s, "alignment", f"dtype {out.dtype}, expected float64")
    if out.name != s.name:
        raise _fail(s, "alignment", f"Series name {out.name!r}, expected {s.name!r}")
    if not df.equals(before):
        raise _fail(s, "alignment", "compute() modified the input frame")


def check_warmup(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check NaN exactly over the warm-up and finite values after it."""
    v = _values(s, df)
    w = s.warmup()
    if w >= len(v):
        raise _fail(s, "warmup", f"warm-up {w} is not shorter than the {len(v)}-bar test frame")
    lead = ~np.isnan(v[:w])
    if lead.any():
        raise _fail(s, "warmup", f"row {int(np.argmax(lead))} inside the warm-up ({w}) is not NaN")
    bad = ~np.isfinite(v[w:])
    if bad.any():
        i = w + int(np.argmax(bad))
        raise _fail(s, "warmup", f"row {i} after the warm-up ({w}) is {v[i]!r}")


def check_determinism(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check repeated runs, and a run on a copy, are bit-identical."""
    a = _values(s, df)
    b = _values(s, df)
    c = _values(s, df.copy(deep=True))
    for other, what in ((b, "second run"), (c, "run on a copy")):
        if not np.array_equal(a, other, equal_nan=True):
            raise _fail(s, "determinism", f"{what} differs from the first")


def prefix_points(n: int, warmup: int) -> list[int]:
    """Return truncation points covering the warm-up edge, the middle and the end."""
    pts = {1, 2, warmup, warmup + 1, warmup + 2, n // 3, n // 2, n - 1}
    return sorted(t for t in pts if 1 <= t < n)


def check_prefix_at(s: FactorSpec, df: pd.DataFrame, t: int, full: np.ndarray) -> None:
    """Check ``compute(df[:t])`` equals the full result truncated at ``t``."""
    part = _values(s, df.iloc[:t])
    assert_same(s, "prefix", part, full[:t], f"compute(df[:{t}]) vs compute(df)[:{t}]")


def check_prefix(s: FactorSpec, df: pd.DataFrame, points: Sequence[int] | None = None) -> None:
    """Check no look-ahead at several truncation points."""
    full = _values(s, df)
    for t in points if points is not None else prefix_points(len(df), s.warmup()):
        check_prefix_at(s, df, t, full)


def check_short(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check frames shorter than the warm-up (and empty ones) give all-NaN."""
    w = s.warmup()
    for n in sorted({0, min(1, w), w // 2, w}):
        if n > w:
            continue
        v = _values(s, df.iloc[:n])
        if len(v) != n or not np.isnan(v).all():
            raise _fail(s, "short", f"a {n}-bar frame (warm-up {w}) gave non-NaN values")


def check_gaps(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check values depend on bar positions only, not on gaps in the time index."""
    keep = np.ones(len(df), dtype=bool)
    keep[len(df) // 4 : len(df) // 4 + 7] = False
    keep[len(df) // 2 :: 50] = False
    gapped = df.iloc[keep]
    regular = gapped.copy()
    regular.index = pd.date_range(df.index[0], periods=len(gapped), freq="1h", name="time")
    assert_same(s, "gaps", _values(s, gapped), _values(s, regular), "gapped vs regular index")


def check_nan_policy(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check NaN/inf inputs raise DataError naming column and row (policy ``"raise"``)."""
    if s.nan_policy != "raise":
        return
    row = len(df) // 2
    col = s.inputs[-1]
    for bad in (np.nan, np.inf):
        dirty = df.copy()
        dirty.iloc[row, dirty.columns.get_loc(col)] = bad
        try:
            s(dirty)
        except DataError as exc:
            msg = str(exc)
            if col not in msg or str(df.index[row]) not in msg:
                raise _fail(
                    s, "nan_policy", f"DataError does not name column {col!r} and row: {msg}"
                ) from None
        else:
            raise _fail(s, "nan_policy", f"a {bad} in {col!r} at row {row} did not raise")


def check_stepwise(s: FactorSpec, df: pd.DataFrame) -> None:
    """Check the step-kernel loop equals the batch kernel (recursive factors)."""
    if s.takes_frame:
        return
    arrays = [np.ascontiguousarray(df[c].to_numpy(dtype=np.float64)) for c in s.inputs]
    stream = s.compute_stepwise(*arrays)
    if stream is None:
        return
    assert_same(s, "stepwise", stream, _values(s, df), "step-kernel loop vs batch")


CHECKS: dict[str, Callable[[FactorSpec, pd.DataFrame], None]] = {
    "metadata": check_metadata,
    "alignment": check_alignment,
    "warmup": check_warmup,
    "determinism": check_determinism,
    "prefix": check_prefix,
    "short": check_short,
    "gaps": check_gaps,
    "nan_policy": check_nan_policy,
    "stepwise": check_stepwise,
}


def check(
    name: str | FactorSpec,
    df: pd.DataFrame | None = None,
    *,
    checks: Sequence[str] | None = None,
    **params: Any,
) -> None:
    """Run the conformance checks on one factor; raise :class:`ConformanceError` on failure.

    Parameters
    ----------
    name
        Registered factor name or a spec instance.
    df
        Bars to check on (default: :func:`synthetic_bars`, long enough for the warm-up).
    checks
        Names of the checks to run (default: all of :data:`CHECKS`).
    **params
        Factor parameters.
    """
    s = spec(name, **params)
    if df is None:
        df = synthetic_bars(max(600, 3 * s.warmup() + 200))
    unknown = sorted(set(checks or ()) - set(CHECKS))
    if unknown:
        raise ConformanceError(f"unknown conformance check(s) {unknown}; known: {list(CHECKS)}")
    for key in checks or CHECKS:
        try:
            CHECKS[key](s, df)
        except ConformanceError:
            raise
        except Exception as exc:
            raise _fail(s, key, f"raised {type(exc).__name__}: {exc}") from exc
