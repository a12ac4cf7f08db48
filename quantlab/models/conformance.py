"""The model contract, checked on seeded synthetic data (as :mod:`quantlab.factors.conformance`).

Every model class of :mod:`quantlab.models` has a :class:`ModelCase`: how to build it with
fixed parameters, seeded data for it, and how its batch output and its live steps line up.
:func:`check` runs the checks on one case and raises :class:`ConformanceError` naming the
model, the check and what went wrong; the test suite runs it over :data:`CASES`, which must
hold every :class:`~quantlab.models.base.BaseModel` subclass exported by ``quantlab.models``
(a test keeps that so). A notebook checks its own model with ``check(ModelCase(...))``.

Checks
------
``contract``     a :class:`BaseModel` with the verbs ``fit filter update state reset`` and
                 ``check_params``; ``get_params`` rebuilds an equal model; ``state()`` is
                 ``{}`` before any step and a dict after.
``streaming``    ``update`` step by step equals the batch ``filter`` (from ``reset()``, or
                 continuing ``filter(data[:start])`` for models whose start needs data).
``prefix``       no look-ahead: ``filter(data[:k])`` equals ``filter(data)[:k]``.
``refit``        determinism: two fresh models fitted on the same data (same seed) hold
                 identical fitted attributes, states and outputs.
``bad_input``    malformed data (wrong shape, inf, wrong type) raises a quantlab error
                 (``ConfigError``/``DataError``) from ``filter`` and ``update``, never a bare
                 numpy/numba/pandas exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import QuantlabError
from quantlab.models.accuracy import AccuracyTracker
from quantlab.models.base import BaseModel, Step
from quantlab.models.capital_flow import CapitalFlowModel
from quantlab.models.conformal import AdaptiveConformal, QuantileTracker
from quantlab.models.garch import Garch
from quantlab.models.hawkes import Hawkes
from quantlab.models.hedge import Hedge
from quantlab.models.imm import IMM
from quantlab.models.kalman import KalmanFilter
from quantlab.models.rbpf import RBPF

__all__ = ["CASES", "CHECKS", "ConformanceError", "ModelCase", "check"]

VERBS = ("fit", "filter", "update", "state", "reset", "check_params")


class ConformanceError(QuantlabError, AssertionError):
    """A model breaks the model contract."""


@dataclasses.dataclass(frozen=True)
class ModelCase:
    """How to run one model through the checks.

    Attributes
    ----------
    name
        Label used in messages.
    make
        Returns a fresh, unfitted model with fixed parameters.
    data
        Returns seeded data of ``n`` steps as a tuple of arguments of ``filter``/``fit``.
    n
        Number of steps of the data.
    rows
        Turns the output of ``filter`` into a 2-D float array, one row per step.
    step
        Turns the output of one ``update`` into a 1-D float array (a row).
    step_args
        Returns the arguments of ``update`` for step ``t`` of the data.
    fit_first
        Fit the model on the data before filtering (models that need parameters).
    stream_start
        Steps filtered in batch before streaming; 0 streams from ``reset()``.
    offset
        Output of ``update`` for step ``t`` equals row ``t + offset`` of ``filter``.
    rtol
        Relative tolerance of the streaming comparison (0: bit-identical).
    prefix_cuts
        Prefix lengths of the ``prefix`` check.
    bad_data
        Malformed ``filter`` arguments, each expected to raise a quantlab error.
    bad_steps
        Malformed ``update`` arguments, likewise.
    """

    name: str
    make: Callable[[], BaseModel]
    data: Callable[[int], tuple[Any, ...]]
    n: int = 300
    rows: Callable[[Any], np.ndarray] = lambda out: _as_rows(out)
    step: Callable[[Any], np.ndarray] = lambda out: _as_row(out)
    step_args: Callable[[tuple[Any, ...], int], tuple[Any, ...]] = lambda d, t: (_take(d[0], t),)
    fit_first: bool = False
    stream_start: int = 0
    offset: int = 0
    rtol: float = 0.0
    prefix_cuts: Sequence[int] = (1, 37, 150)
    bad_data: Sequence[tuple[Any, ...]] = ()
    bad_steps: Sequence[tuple[Any, ...]] = ()


# ---------------------------------------------------------------------------- adapters


def _take(x: Any, t: int) -> Any:
    if isinstance(x, pd.DataFrame | pd.Series):
        row = x.iloc[t]
        return row.to_numpy(dtype=np.float64) if isinstance(row, pd.Series) else row
    return x[t]


def _slice(x: Any, k: int) -> Any:
    return x.iloc[:k] if isinstance(x, pd.DataFrame | pd.Series) else x[:k]


def _as_rows(out: Any) -> np.ndarray:
    if hasattr(out, "loglik_t"):  # FilterResult and subclasses
        parts = [out.x, out.P.reshape(out.P.shape[0], -1), out.loglik_t[:, None]]
        if getattr(out, "mu", None) is not None and out.mu.size:
            parts.append(out.mu)
        return np.hstack(parts)
    arr = out.to_numpy(dtype=np.float64) if hasattr(out, "to_numpy") else np.asarray(out)
    arr = np.asarray(arr, dtype=np.float64)
    return arr.reshape(arr.shape[0], -1)


def _as_row(out: Any) -> np.ndarray:
    if isinstance(out, Step):
        parts = [out.x, out.P.ravel(), [out.loglik]]
        if out.mu is not None:
            parts.append(out.mu)
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    return np.atleast_1d(np.asarray(out, dtype=np.float64)).ravel()


# ---------------------------------------------------------------------------- the cases


def _walk(n: int, seed: int = 0) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(0.0, 1.0, n)) + rng.normal(0.0, 0.5, n)
    z[[5, 17]] = np.nan  # missing observations are part of the contract
    return (z,)


def _regime_walk(n: int, seed: int = 1) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    drift = np.where((np.arange(n) // 60) % 2 == 0, 0.3, -0.3)
    z = np.cumsum(drift + rng.normal(0.0, 0.5, n))
    z[9] = np.nan
    return (z,)


def _regime_filters() -> list[KalmanFilter]:
    return [
        KalmanFilter.constant_velocity(q=1e-3, r=0.25, x0=(0.0, 0.3), P0=10.0),
        KalmanFilter.constant_velocity(q=1e-3, r=0.25, x0=(0.0, -0.3), P0=10.0),
    ]


_TRANSITION = [[0.97, 0.03], [0.03, 0.97]]


def _losses(n: int, seed: int = 2) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0.0, 1.0, (n, 3))
    losses[4, 1] = np.nan  # no information for one expert at one step
    return (losses,)


def _scores(n: int, seed: int = 3) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    s = np.abs(rng.standard_t(4, n))
    s[7] = np.nan
    return (s,)


def _signals(n: int, seed: int = 4) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    ret = pd.Series(rng.normal(0.0, 0.01, n), index=idx)
    ret.iloc[0] = np.nan
    sig = pd.DataFrame(
        {"good": ret.shift(-1).fillna(0.0) + rng.normal(0, 0.01, n), "noise": rng.normal(0, 1, n)},
        index=idx,
    )
    return sig, ret


def _returns(n: int, seed: int = 5) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    e = np.empty(n)
    s2 = 1e-4
    for t in range(n):  # a GARCH(1,1) path
        e[t] = np.sqrt(s2) * rng.standard_normal()
        s2 = 2e-6 + 0.08 * e[t] ** 2 + 0.9 * s2
    return (pd.Series(e + 2e-4, index=pd.RangeIndex(n)),)


def _events(n: int, seed: int = 6) -> tuple[Any, ...]:
    times = Hawkes(0.5, 0.6, 1.5).simulate(1000.0, seed=seed)
    return (times[:n],)


def _net_flow(n: int, seed: int = 3) -> tuple[Any, ...]:
    """Net SOL flow per bar: zero-inflated noise with two herd bumps."""
    rng = np.random.default_rng(seed)
    flow = np.where(rng.random(n) < 0.4, rng.normal(0.0, 2.0, n), 0.0)
    t = np.arange(n)
    for start in (n // 4, 2 * n // 3):
        age = np.clip(t - start, 0, None)
        flow += np.where(t >= start, 3.0 * (age / 12.0) * np.exp(1.0 - age / 12.0), 0.0)
    return (flow,)


_FLOW_COLUMNS = ["flow_rate", "intensification", "p_quiet", "p_herd", "p_exhaustion"]


CASES: dict[str, ModelCase] = {
    "CapitalFlowModel": ModelCase(
        "CapitalFlowModel",
        make=lambda: CapitalFlowModel(),
        data=_net_flow,
        rows=lambda out: out[_FLOW_COLUMNS].to_numpy(dtype=np.float64),
        step=lambda out: out[_FLOW_COLUMNS].to_numpy(dtype=np.float64),
        fit_first=True,
        bad_data=((np.ones((10, 3)),), (np.array([0.0, np.inf]),), ("flow",)),
        bad_steps=((np.array([1.0, 2.0]),), (np.inf,), ("x",)),
    ),
    "KalmanFilter": ModelCase(
        "KalmanFilter",
        make=lambda: KalmanFilter.constant_velocity(q=0.05, r=0.5),
        data=_walk,
        bad_data=((np.ones((10, 2)),), (np.array([1.0, np.inf, 2.0]),), (["a", "b"],)),
        bad_steps=((np.array([1.0, 2.0]),), (np.inf,)),
    ),
    "IMM": ModelCase(
        "IMM",
        make=lambda: IMM(_regime_filters(), _TRANSITION),
        data=_regime_walk,
        bad_data=((np.ones((10, 3)),), (np.array([0.0, -np.inf]),)),
        bad_steps=((np.array([1.0, 2.0]),), (np.inf,)),
    ),
    "RBPF": ModelCase(
        "RBPF",
        make=lambda: RBPF(_regime_filters(), _TRANSITION, n_particles=64, seed=11),
        data=_regime_walk,
        n=200,
        bad_data=((np.ones((10, 3)),), (np.array([0.0, np.inf]),)),
        bad_steps=((np.array([1.0, 2.0]),), (-np.inf,)),
    ),
    "Hedge": ModelCase(
        "Hedge",
        make=lambda: Hedge(0.3),
        data=_losses,
        offset=1,  # filter row t is the weights before loss t; update returns those after
        prefix_cuts=(1, 50, 150),
        bad_data=((np.ones(5),), (np.array([[0.0, np.inf]]),), (np.ones((2, 2, 2)),)),
        bad_steps=((np.ones((2, 3)),), (np.array([0.0, np.inf, 0.0]),), (np.ones(4),)),
    ),
    "AdaptiveConformal": ModelCase(
        "AdaptiveConformal",
        make=lambda: AdaptiveConformal(alpha=0.1, gamma=0.01, window=50),
        data=_scores,
        bad_data=((np.ones((4, 2)),), (np.array([1.0, np.inf]),)),
        bad_steps=((np.inf,),),
    ),
    "QuantileTracker": ModelCase(
        "QuantileTracker",
        make=lambda: QuantileTracker(alpha=0.1, eta=0.05, ki=0.2, csat=5.0),
        data=_scores,
        bad_data=((np.ones((4, 2)),), (np.array([1.0, -np.inf]),)),
        bad_steps=((np.inf,),),
    ),
    "AccuracyTracker": ModelCase(
        "AccuracyTracker",
        make=lambda: AccuracyTracker(horizon=2, method="hedge", eta=0.2, window=40, min_obs=5),
        data=_signals,
        step_args=lambda d, t: (d[0].iloc[t].to_numpy(), d[1].iloc[t]),
        rtol=1e-12,  # the batch path sums returns by a rolling window, the stream by a deque
        bad_data=(
            (np.ones((5, 2)), pd.Series(np.zeros(5))),
            (pd.DataFrame({"a": [1.0, np.inf]}), pd.Series([0.0, 0.0])),
        ),
        bad_steps=((np.array([np.inf, 0.0]), 0.01), (np.array([0.0, 0.0]), -2.0)),
    ),
    "Garch": ModelCase(
        "Garch",
        make=lambda: Garch(),
        data=_returns,
        n=400,
        fit_first=True,
        stream_start=120,  # arch's backcast needs the first 75 returns
        rtol=1e-10,  # arch's recursion (batch) against the numba step (stream)
        prefix_cuts=(100, 250),
        bad_data=((pd.DataFrame({"a": [0.0] * 200}),), (np.r_[np.zeros(150), np.nan],)),
        bad_steps=((np.nan,), ("x",)),
    ),
    "Hawkes": ModelCase(
        "Hawkes",
        make=lambda: Hawkes(),
        data=_events,
        n=200,
        fit_first=True,
        bad_data=((np.array([2.0, 1.0]),), (np.ones((3, 2)),), (np.array([1.0, np.inf]),)),
        bad_steps=((-1.0,), (np.nan,)),
    ),
}


# ---------------------------------------------------------------------------- the checks


def _fail(case: ModelCase, check_name: str, what: str) -> ConformanceError:
    return ConformanceError(f"model {case.name!r} fails check {check_name!r}: {what}")


def _prepared(case: ModelCase, data: tuple[Any, ...]) -> BaseModel:
    model = case.make()
    if case.fit_first:
        model.fit(*data)
    return model


def _same(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    if a.shape != b.shape:
        return False
    if rtol == 0.0:
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True))


def _check_contract(case: ModelCase) -> None:
    model = case.make()
    if not isinstance(model, BaseModel):
        raise _fail(case, "contract", f"{type(model).__name__} does not derive from BaseModel")
    missing = [v for v in VERBS if not callable(getattr(model, v, None))]
    if missing:
        raise _fail(case, "contract", f"missing verbs {missing}")
    model.check_params()
    clone = type(model)(**model.get_params())
    if clone.get_params().keys() != model.get_params().keys():
        raise _fail(case, "contract", "get_params() does not rebuild the model")
    if model.state() != {}:
        raise _fail(case, "contract", f"state() before any step is {model.state()!r}, not {{}}")
    data = case.data(case.n)
    model = _prepared(case, data)
    model.filter(*data)
    st = model.state()
    if not isinstance(st, dict) or not st:
        raise _fail(case, "contract", f"state() after filter is {st!r}, expected a non-empty dict")


def _check_streaming(case: ModelCase) -> None:
    data = case.data(case.n)
    model = _prepared(case, data)
    batch = case.rows(model.filter(*data))
    if batch.shape[0] != case.n:
        raise _fail(case, "streaming", f"filter gave {batch.shape[0]} rows for {case.n} steps")
    live = _prepared(case, data)
    start = case.stream_start
    if start:
        live.filter(*(_slice(x, start) for x in data))
    else:
        live.reset()
    last = case.n - case.offset
    for t in range(start, last):
        got = case.step(live.update(*case.step_args(data, t)))
        want = batch[t + case.offset]
        if not _same(got, want, case.rtol):
            raise _fail(
                case,
                "streaming",
                f"update at step {t} gave {got!r}, the batch filter {want!r} (rtol {case.rtol})",
            )


def _check_prefix(case: ModelCase) -> None:
    data = case.data(case.n)
    model = _prepared(case, data)
    full = case.rows(model.filter(*data))
    for k in case.prefix_cuts:
        part = case.rows(model.filter(*(_slice(x, k) for x in data)))
        if not _same(part, full[:k], 0.0):
            bad = int(np.argmax(~np.all(np.isclose(part, full[:k], equal_nan=True), axis=1)))
            raise _fail(
                case, "prefix", f"filter(data[:{k}]) differs from filter(data)[:{k}] at row {bad}"
            )


def _fitted_attrs(model: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, pd.Series | pd.DataFrame):
        return a.equals(b)
    if isinstance(a, np.ndarray | float | int | np.floating):
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "params") and hasattr(a, "loglikelihood"):  # an arch result object
        return _equal(a.params, b.params) and a.loglikelihood == b.loglikelihood
    return a == b


def _check_refit(case: ModelCase) -> None:
    data = case.data(case.n)
    a = case.make().fit(*data)
    b = case.make().fit(*data)
    fa, fb = _fitted_attrs(a), _fitted_attrs(b)
    if fa.keys() != fb.keys():
        raise _fail(case, "refit", f"fitted attributes differ: {sorted(fa)} vs {sorted(fb)}")
    for name in fa:
        if not _equal(fa[name], fb[name]):
            raise _fail(case, "refit", f"two fits on the same data give different {name}")
    if not _equal(a.state(), b.state()):
        raise _fail(case, "refit", "two fits on the same data leave different states")
    if not _same(case.rows(a.filter(*data)), case.rows(b.filter(*data)), 0.0):
        raise _fail(case, "refit", "two fits on the same data filter differently")


def _check_bad_input(case: ModelCase) -> None:
    data = case.data(case.n)
    for bad in case.bad_data:
        model = _prepared(case, data)
        try:
            model.filter(*bad)
        except QuantlabError:
            pass
        except Exception as exc:
            raise _fail(
                case,
                "bad_input",
                f"filter{_short(bad)} raised {type(exc).__name__}: {exc} (not a quantlab error)",
            ) from exc
        else:
            raise _fail(case, "bad_input", f"filter{_short(bad)} raised nothing")
    for bad in case.bad_steps:
        model = _prepared(case, data)
        model.filter(*(_slice(x, max(case.stream_start, 1)) for x in data))
        try:
            model.update(*bad)
        except QuantlabError:
            pass
        except Exception as exc:
            raise _fail(
                case,
                "bad_input",
                f"update{_short(bad)} raised {type(exc).__name__}: {exc} (not a quantlab error)",
            ) from exc
        else:
            raise _fail(case, "bad_input", f"update{_short(bad)} raised nothing")


def _short(args: tuple[Any, ...]) -> str:
    text = ", ".join(
        f"{type(a).__name__}{getattr(a, 'shape', '')}" if hasattr(a, "shape") else repr(a)
        for a in args
    )
    return f"({text})"


CHECKS: dict[str, Callable[[ModelCase], None]] = {
    "contract": _check_contract,
    "streaming": _check_streaming,
    "prefix": _check_prefix,
    "refit": _check_refit,
    "bad_input": _check_bad_input,
}


def check(case: ModelCase | str, checks: Sequence[str] | None = None) -> None:
    """Run the model checks on one case (or the name of one in :data:`CASES`).

    Raises
    ------
    ConformanceError
        The first check the model fails, naming the model and the check.
    """
    if isinstance(case, str):
        if case not in CASES:
            raise ConformanceError(f"no conformance case {case!r}; known: {', '.join(CASES)}")
        case = CASES[case]
    names = list(CHECKS) if checks is None else list(checks)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise ConformanceError(f"unknown checks {unknown}; known: {list(CHECKS)}")
    for name in names:
        CHECKS[name](case)
