"""Bayesian parameter search with optuna's TPE sampler, on the sweep's objective.

::

    space = {"fast": (5, 50), "slow": (20, 200, 10), "stop_loss": (0.005, 0.05)}
    found = search(df, ql.backtest.ma_cross(), space, n_trials=60, metric="sharpe", seed=7)
    found.best_params; found.trials; found.n_trials     # n_trials: for the Deflated Sharpe

Each trial is one configuration run through the fused sweep kernel (so its statistics equal
``ql.backtest.run(...).stats``). The search is deterministic for a given ``seed``.

A space maps a grid key (as in :func:`quantlab.backtest.sweeps.sweep`: strategy fields,
dotted nested fields, stop shortcuts, cost fields) to

- ``(low, high)`` or ``(low, high, step)``: integers when all are ints, else floats
  (inclusive bounds);
- ``{"low": ..., "high": ..., "step": ..., "log": bool}``: the same, with a log scale;
- a list: categorical choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import Fill, Gaps
from quantlab.backtest.batch import SWEEP_COLUMNS, run_configs, stats_frame
from quantlab.backtest.costs import Costs
from quantlab.backtest.engine import prepare_bars
from quantlab.backtest.grid import plan_grid, resolve_key
from quantlab.backtest.options import RunOptions, resolve_options
from quantlab.backtest.stats import METRIC_DIRECTIONS
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.errors import ConfigError

__all__ = ["SearchResult", "search"]


@dataclass(frozen=True, repr=False, eq=False)
class SearchResult:
    """What :func:`search` returns.

    Attributes
    ----------
    best_params : dict
        The best configuration's parameters (space keys).
    best_value : float
        Its metric.
    best_stats : pd.Series
        Its statistics (:data:`~quantlab.backtest.sweeps.SWEEP_COLUMNS`).
    trials : pd.DataFrame
        One row per trial, in order: ``number``, the parameters, ``value``, ``state``
        (``"complete"`` or ``"invalid"`` for a configuration the strategy refused) and the
        statistics of complete trials.
    n_trials : int
        Configurations actually evaluated (complete trials): the trial count for the
        Deflated Sharpe Ratio.
    n_invalid : int
        Trials whose parameters the strategy refused (not evaluated).
    metric : str
    study : optuna.study.Study
        The optuna study, for its plots.
    costs : Costs
        The costs every trial was charged.
    """

    best_params: dict[str, Any]
    best_value: float
    best_stats: pd.Series
    trials: pd.DataFrame
    n_trials: int
    n_invalid: int
    metric: str
    study: Any = field(default=None)
    costs: Costs | None = None

    def __repr__(self) -> str:
        return (
            f"SearchResult({self.n_trials} trials, {self.n_invalid} invalid, "
            f"best {self.metric}={self.best_value:.4f} at {self.best_params})"
        )


def _suggest(trial: Any, name: str, spec: Any) -> Any:
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"low", "high", "step", "log"}
        if unknown or "low" not in spec or "high" not in spec:
            raise ConfigError(
                f"space[{name!r}]: a mapping needs 'low' and 'high' (optional 'step', 'log'); "
                f"got keys {sorted(spec)}"
            )
        low, high, step, log = spec["low"], spec["high"], spec.get("step"), bool(spec.get("log"))
    elif isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high = spec[0], spec[1]
        step = spec[2] if len(spec) == 3 else None
        log = False
    elif isinstance(spec, list) and spec:
        return trial.suggest_categorical(name, spec)
    else:
        raise ConfigError(
            f"space[{name!r}]: expected (low, high[, step]), a mapping with low/high or a "
            f"non-empty list of choices; got {spec!r}"
        )
    nums = [low, high] + ([step] if step is not None else [])
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in nums):
        raise ConfigError(f"space[{name!r}]: bounds must be numbers, got {spec!r}")
    if not high >= low:
        raise ConfigError(f"space[{name!r}]: high ({high}) must be >= low ({low})")
    if step is not None and not step > 0:
        raise ConfigError(f"space[{name!r}]: step must be positive, got {step}")
    if all(isinstance(x, int) for x in nums):
        return trial.suggest_int(name, low, high, step=step or 1, log=log)
    return trial.suggest_float(name, float(low), float(high), step=step, log=log)


def search(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    space: Mapping[str, Any],
    n_trials: int = 50,
    metric: str = "sharpe",
    seed: int | None = None,
    costs: Costs | float | dict | str | RunOptions | None = None,
    *,
    maximize: bool | None = None,
    n_startup_trials: int = 10,
    batch_size: int = 1,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
) -> SearchResult:
    """Search a parameter space with optuna's TPE sampler; return the best and every trial.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    strategy : StrategyBase, mapping or YAML path
        The base configuration.
    space : mapping
        Parameter key to its range or choices (see the module docstring).
    n_trials : int
        Trials to run (invalid configurations included).
    metric : str
        A statistic of :data:`~quantlab.backtest.sweeps.SWEEP_COLUMNS`; a NaN value (e.g. no
        trade) ranks last.
    seed : int, optional
        Seed of the TPE sampler: the same seed gives the same trials.
    costs : Costs, float, mapping, str or RunOptions, optional
        As in :func:`quantlab.backtest.run` (default: the venue's).
    maximize : bool, optional
        Maximise or minimise ``metric``; default its better direction
        (:data:`~quantlab.backtest.stats.METRIC_DIRECTIONS`: ``max_drawdown`` is minimised).
    n_startup_trials : int
        Random trials before TPE takes over.
    batch_size : int
        Trials asked at once and evaluated together in parallel (TPE with the constant
        liar); 1 is the classic sequential search.
    fill, init_cash, interval, gaps, options
        As in :func:`quantlab.backtest.run`.

    Returns
    -------
    SearchResult

    Notes
    -----
    TPE (Bergstra et al. 2011) models the densities of good and bad parameters, ``l(x)``
    and ``g(x)``, from the trials so far and proposes the ``x`` maximising ``l(x) / g(x)``.
    """
    import optuna

    base = load_strategy(strategy)
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    base_costs = opts.costs
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(
            f"space: expected a non-empty mapping of parameter -> range, got {space!r}"
        )
    for key in space:  # unknown keys fail here, not mid-search
        resolve_key(base, key)
    if maximize is None:
        maximize = METRIC_DIRECTIONS.get(metric, 1) > 0
    if metric not in SWEEP_COLUMNS:
        raise ConfigError(
            f"metric: {metric!r} is not a statistic; use one of {list(SWEEP_COLUMNS)}"
        )
    for name, v, low in (("n_trials", n_trials, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{name}: must be an integer >= {low}, got {v!r}")
    bars = prepare_bars(df, opts.interval, opts.gaps)
    direction = "maximize" if maximize else "minimize"
    worst = -math.inf if maximize else math.inf
    sampler = optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=n_startup_trials, constant_liar=batch_size > 1
    )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict[str, Any]] = []
    try:
        study = optuna.create_study(direction=direction, sampler=sampler)
        done = 0
        while done < n_trials:
            batch = [study.ask() for _ in range(min(batch_size, n_trials - done))]
            done += len(batch)
            params_list = [{k: _suggest(t, k, space[k]) for k in space} for t in batch]
            pairs_list = []
            for params in params_list:
                try:
                    pairs, _ = plan_grid(
                        base, {k: [v] for k, v in params.items()}, base_costs
                    ).pairs()
                except ConfigError:
                    pairs = []
                pairs_list.append(pairs[0] if pairs else None)
            valid = [p for p in pairs_list if p is not None]
            stats = None
            if valid:
                metrics = run_configs(bars, valid, opts, progress=False)
                stats = stats_frame(metrics, opts.init_cash, bars.bar_seconds)
            k = 0
            for trial, params, pair in zip(batch, params_list, pairs_list, strict=True):
                row: dict[str, Any] = {"number": trial.number, **params}
                if pair is None:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    row.update(value=np.nan, state="invalid")
                else:
                    s = stats.iloc[k]
                    k += 1
                    value = float(s[metric])
                    study.tell(trial, value if math.isfinite(value) else worst)
                    row.update(value=value, state="complete", **s.to_dict())
                rows.append(row)
    finally:
        optuna.logging.set_verbosity(verbosity)
    trials = pd.DataFrame(rows)
    complete = trials[trials["state"] == "complete"]
    if complete.empty:
        raise ConfigError(
            f"search: none of the {n_trials} trials was a valid {type(base).__name__}; "
            "check the space bounds"
        )
    score = complete["value"].to_numpy(dtype=np.float64)
    score = np.where(np.isfinite(score), score if maximize else -score, -np.inf)
    best = complete.iloc[int(np.argmax(score))]
    return SearchResult(
        best_params={k: _plain(best[k]) for k in space},
        best_value=float(best["value"]),
        best_stats=best[list(SWEEP_COLUMNS)].astype(np.float64).rename("stats"),
        trials=trials,
        n_trials=len(complete),
        n_invalid=len(trials) - len(complete),
        metric=metric,
        study=study,
        costs=base_costs,
    )


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
