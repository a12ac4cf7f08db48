"""Parameter sweeps: every combination of a grid through the fused numba kernel.

::

    grid = {"fast": range(5, 55, 5), "slow": range(20, 210, 10), "stop_loss": [0.01, 0.02]}
    table = ql.backtest.sweep(df, "ma_cross", grid, costs=0.0005)
    table.attrs["n_trials"]                  # valid combinations run (for the DSR)
    SweepResult.of(table).invalid_by_rule    # {"fast < slow": 1900}
    best_params(table, "sharpe")             # {"fast": 15, "slow": 120, "stop_loss": 0.02}
    ql.backtest.sweep(df, "ma_cross", big_grid, top=100, metric="sortino",
                      output="sweep.parquet", confirm=True)   # 10 M rows streamed to disk

One row per valid combination: its parameters, then every statistic of
:data:`~quantlab.backtest.STAT_NAMES` and ``ambiguous_bars``, equal (to 1e-9) to
``ql.backtest.run(df, combination, costs).stats``. Combinations a cross-field rule refuses
(``fast >= slow``) are skipped and counted per rule; a value its field refuses is an error.

Grid keys are strategy fields (``fast``), dotted nested fields (``"sizing.fraction"``),
stop shortcuts (``stop_loss`` for ``stops.stop_loss``) or cost fields (``taker_fee`` or
``"costs.taker_fee"``). The rows follow the Cartesian product of the strategy keys (in grid
order), the cost keys varying fastest (:mod:`quantlab.backtest.grid`).

The work is :mod:`quantlab.backtest.batch`: each axis validated once, the parameter matrix
built by numpy in chunks, the kernel streaming each chunk, the table built column-wise.
A sweep estimates its combinations, time and memory first and refuses past
:data:`LIMITS` unless ``confirm=True``. The default costs are the venue's; every table
states the costs it used (``attrs["costs"]``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import Fill, Gaps, Keep
from quantlab.backtest.batch import (
    SWEEP_COLUMNS,
    estimate_grid,
    grid_supported,
    rank_scores,
    run_configs,
    run_grid,
    signal_kind,
    stats_frame,
)
from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import PreparedBars, prepare_bars
from quantlab.backtest.grid import grid_values, parse_grid, plan_grid
from quantlab.backtest.options import RunOptions, describe_costs, resolve_options
from quantlab.backtest.stats import METRIC_DIRECTIONS
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.errors import ConfigError
from quantlab.kernels import sweep as _sw

__all__ = [
    "LIMITS",
    "SWEEP_COLUMNS",
    "SweepResult",
    "apply_params",
    "best_params",
    "expand_sweep",
    "parse_grid",
    "rank_table",
    "run_sweep_cli",
    "sweep",
    "sweep_candidates",
]

#: A sweep past any of these refuses to start unless ``confirm=True`` (``--yes``).
LIMITS = {"combinations": 100_000, "seconds": 120.0, "bytes": 2 * 1024**3}


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ran: what :func:`sweep` attaches to its table (``SweepResult.of(table)``).

    Attributes
    ----------
    n_trials : int
        Valid combinations run (the trial count of the Deflated Sharpe Ratio).
    n_invalid : int
        Combinations a cross-field rule refused, in total; ``invalid_by_rule`` per rule.
    n_combinations : int
        All combinations of the grid.
    n_rows : int
        Rows kept in the table (``top`` or all).
    n_bars : int
    strategy, grid : dict
        The base configuration and the grid (plain values).
    costs : dict
        The costs every row was charged; ``costs_text`` in words.
    fill : str
    init_cash : float
    metric_kind : str
        ``"fused"`` (indicator rows in the kernel) or ``"targets"``.
    top, metric : int, str, optional
        The rows kept: the ``top`` best by ``metric`` (best first), or all in grid order.
    output : str, optional
        The Parquet file every row was streamed to.
    elapsed_s, kernel_s : float
        Wall time, and the part of it inside the kernel.
    """

    n_trials: int
    n_invalid: int
    n_combinations: int
    n_rows: int
    n_bars: int
    strategy: dict[str, Any]
    grid: dict[str, list[Any]]
    costs: dict[str, Any]
    costs_text: str
    fill: str
    init_cash: float
    metric_kind: str
    invalid_by_rule: dict[str, int] = field(default_factory=dict)
    top: int | None = None
    metric: str | None = None
    output: str | None = None
    elapsed_s: float = 0.0
    kernel_s: float = 0.0
    n_parts: int | None = None

    @property
    def kernel_share(self) -> float:
        """Share of the wall time spent inside the kernel."""
        return self.kernel_s / self.elapsed_s if self.elapsed_s > 0 else math.nan

    def attrs(self) -> dict[str, Any]:
        """Return the plain-dict form kept in ``table.attrs`` (older callers read it)."""
        out = asdict(self)
        out["elapsed_s"] = round(float(self.elapsed_s), 4)
        if self.n_parts is None:
            out.pop("n_parts")
        return out

    @classmethod
    def of(cls, table: pd.DataFrame) -> SweepResult:
        """Return the result a sweep table carries."""
        attrs = dict(table.attrs)
        names = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in attrs.items() if k in names})
        except TypeError:
            raise ConfigError("SweepResult.of: this table does not come from a sweep") from None


# ------------------------------------------------------------------------ grid


def expand_sweep(
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
) -> tuple[list[tuple[StrategyBase, Costs]], pd.DataFrame, int]:
    """Return the valid (strategy, costs) pairs of a grid, their parameters and the skips.

    One validated object per combination: for small grids, searches and tests. Sweeps do
    not call it (:func:`quantlab.backtest.grid.plan_grid` expands lazily).

    Returns
    -------
    (pairs, params, n_invalid)
        ``params`` has one row per pair and one column per grid key (the values as the
        configurations hold them); ``n_invalid`` counts combinations refused by the strategy.
    """
    plan = plan_grid(strategy, grid, costs)
    pairs, idx = plan.pairs()
    cols = plan.columns(idx)
    params = pd.DataFrame(
        {k: _pandas_values(v) for k, v in cols.items()}, index=pd.RangeIndex(len(pairs))
    )
    return pairs, params, plan.n_combinations - len(pairs)


def _pandas_values(v: np.ndarray) -> Any:
    return list(v) if v.dtype == object else v


# ---------------------------------------------------------------------- the sweep


def sweep_candidates(
    df: pd.DataFrame | PreparedBars,
    pairs: Sequence[tuple[StrategyBase, Costs] | StrategyBase],
    costs: Costs | float | dict | RunOptions | None = None,
    *,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Return the statistics of explicit configurations, one row each (no parameter columns).

    ``pairs`` holds strategies (run with ``costs``) or ``(strategy, costs)`` pairs. This is
    what searches, walk-forward candidates and cluster parts call.
    """
    if not pairs:
        raise ConfigError("sweep: no configurations to run")
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    norm = [
        (load_strategy(p[0]), make_costs(p[1]))
        if isinstance(p, tuple)
        else (load_strategy(p), opts.costs)
        for p in pairs
    ]
    _check_chunk(chunk_size)
    bars = prepare_bars(df, opts.interval, opts.gaps)
    metrics = run_configs(bars, norm, opts, chunk_size=chunk_size, progress=progress)
    return stats_frame(metrics, opts.init_cash, bars.bar_seconds)


def _check_chunk(chunk_size: Any) -> None:
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ConfigError(f"chunk_size: must be a positive integer, got {chunk_size!r}")


def _estimate_text(est: dict[str, Any], n_bars: int) -> str:
    return (
        f"{est['combinations']:,} combinations ({est['invalid']:,} refused by the grid's "
        f"rules) over {n_bars:,} bars: about {est['seconds']:,.0f} s on "
        f"{est['threads']} thread(s) and {est['bytes'] / 1024**3:.2f} GB"
    )


def sweep(
    df: pd.DataFrame | PreparedBars,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | str | RunOptions | None = None,
    *,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
    top: int | None = None,
    metric: str = "sharpe",
    keep: Keep | None = None,
    output: str | Path | None = None,
    confirm: bool = False,
    chunk_size: int | None = None,
    progress: bool | None = None,
    scheduler: Any = None,
    executor: Any = None,
) -> pd.DataFrame:
    """Backtest every combination of a parameter grid; return one row of statistics each.

    Parameters
    ----------
    df : pd.DataFrame or PreparedBars
        Bars (validated once, as :func:`quantlab.backtest.run` does).
    strategy : StrategyBase, mapping, YAML path or registered name
        The base configuration; the grid replaces some of its parameters.
    grid : mapping of parameter name to values, optional
        Strategy fields (``fast``), dotted nested fields (``"sizing.fraction"``), stop
        shortcuts (``stop_loss``) or cost fields (``taker_fee``, ``"costs.maker_fee"``).
        None or empty: the base configuration alone.
    costs : Costs, float, mapping, str or RunOptions, optional
        As in :func:`quantlab.backtest.run`: default the venue's, ``0`` for none.
    fill, init_cash, interval, gaps, options
        As in :func:`quantlab.backtest.run`.
    top : int, optional
        Keep only the ``top`` best rows by ``metric`` (best first, in the metric's better
        direction: the smallest ``max_drawdown`` first). Default: every row, grid order.
    metric : str
        The statistic ``top`` ranks by (default ``"sharpe"``).
    keep : {"all", "top"}, optional
        Say it outright: ``"all"`` rows (the default without ``top``) or the ``"top"``
        rows (the default with it).
    output : path, optional
        A ``.parquet`` file every row is streamed to as its chunk finishes (with ``top``,
        the sweep then never holds its whole table: 10 M combinations fit in memory).
    confirm : bool
        Run even past :data:`LIMITS` (the estimate is in the refusal's message).
    chunk_size : int, optional
        Combinations per kernel call (fused strategies) or distinct signals per chunk
        (others); bounds memory and paces the progress bar.
    progress : bool, optional
        A tqdm bar in combinations per second; default for sweeps of 2048+ combinations.
    scheduler, executor : optional
        Where the chunks run: a Dask address / Client / cluster (``scheduler``, kept for
        older callers), ``"processes"`` or any :mod:`quantlab.parallel` executor; same rows.

    Returns
    -------
    pd.DataFrame
        One row per valid combination: the grid keys, then :data:`SWEEP_COLUMNS` (the
        pessimistic ordering of ambiguous bars, as ``run(...).stats``). How it ran is
        :meth:`SweepResult.of(table) <SweepResult.of>` (also plain in ``table.attrs``:
        ``n_trials``, ``n_invalid``, ``costs``, ``metric_kind``, ...).

    Raises
    ------
    ConfigError
        A bad key or value (naming it and the rule), a grid no combination of which is
        valid, or a sweep past :data:`LIMITS` without ``confirm``.

    Notes
    -----
    Every combination runs the engine's :func:`~quantlab.kernels.backtest.backtest_step_nb`
    in :func:`~quantlab.kernels.sweep.sweep_nb`, in parallel over combinations, with its
    statistics accumulated as the bars stream; no (combinations x bars) matrix is held.
    """
    started = time.perf_counter()
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    _check_chunk(chunk_size)
    if metric not in METRIC_DIRECTIONS:
        raise ConfigError(
            f"metric: {metric!r} is not a statistic; use one of {sorted(METRIC_DIRECTIONS)}"
        )
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ConfigError(f"top: must be a positive integer, got {top!r}")
    if keep not in (None, "all", "top"):
        raise ConfigError(f"keep: must be 'all' or 'top', got {keep!r}")
    if keep == "top" and top is None:
        raise ConfigError("keep='top' needs top=N (the number of rows to keep)")
    if keep == "all" and top is not None:
        raise ConfigError(f"keep='all' keeps every row; drop top={top} or use keep='top'")
    if output is not None and Path(output).suffix != ".parquet":
        raise ConfigError(f"output: {str(output)!r} must end in .parquet")
    if scheduler is not None and executor is not None:
        raise ConfigError("sweep: pass scheduler= or executor=, not both")
    executor = executor if executor is not None else scheduler
    plan = plan_grid(strategy, grid, opts.costs)
    bars = prepare_bars(df, opts.interval, opts.gaps)
    est = estimate_grid(plan, len(bars), keep_rows=top)
    over = [
        name
        for name, value in (
            ("combinations", est["combinations"]),
            ("seconds", est["seconds"]),
            ("bytes", est["bytes"]),
        )
        if value > LIMITS[name]
    ]
    if over and not confirm:
        raise ConfigError(
            f"sweep: {_estimate_text(est, len(bars))}; past the limit of "
            + ", ".join(f"{LIMITS[k]:,.0f} {k}" for k in over)
            + ". Pass confirm=True (quantlab sweep --yes) to run it, narrow the grid, or "
            "keep the top rows only (top=N, output='sweep.parquet')"
        )
    if grid_supported(plan):
        run = run_grid(
            bars,
            plan,
            opts,
            chunk_size=chunk_size,
            progress=progress,
            top=top,
            metric=metric,
            output=output,
            executor=executor,
            desc=f"sweep (estimate {est['seconds']:,.1f} s)",
        )
        table, kind, kernel_s, n_run = run.table, run.kind, run.kernel_s, run.n_run
        n_parts = run.n_parts
    else:
        pairs, idx = plan.pairs()
        metrics = run_configs(bars, pairs, opts, chunk_size=chunk_size, progress=progress)
        stats = stats_frame(metrics, opts.init_cash, bars.bar_seconds)
        params = pd.DataFrame({k: _pandas_values(v) for k, v in plan.columns(idx).items()})
        table = pd.concat([params, stats], axis=1)
        kind, kernel_s, n_run, n_parts = signal_kind([s for s, _ in pairs]), 0.0, len(pairs), None
        if top is not None:
            order = np.lexsort((np.arange(len(table)), -rank_scores(table[metric], metric)))
            table = table.iloc[order[:top]].reset_index(drop=True)
        if output is not None:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            table.to_parquet(output, index=False)
    result = SweepResult(
        n_trials=int(n_run),
        n_invalid=int(plan.n_combinations - n_run),
        n_combinations=int(plan.n_combinations),
        n_rows=len(table),
        n_bars=len(bars),
        strategy=plan.strategy.model_dump(mode="json"),
        grid={k: list(grid_values(k, v)) for k, v in (grid or {}).items()},
        costs=opts.costs.model_dump(mode="json"),
        costs_text=describe_costs(opts.costs),
        fill=opts.fill,
        init_cash=opts.init_cash,
        metric_kind="targets" if kind == _sw.KIND_TARGETS else "fused",
        invalid_by_rule=dict(plan.invalid_by_rule),
        top=top,
        metric=metric if top is not None else None,
        output=None if output is None else str(output),
        elapsed_s=time.perf_counter() - started,
        kernel_s=kernel_s,
        n_parts=n_parts,
    )
    table.attrs.update(result.attrs())
    return table


def rank_table(table: pd.DataFrame, metric: str = "sharpe") -> pd.DataFrame:
    """Return the rows of a sweep table best first by ``metric``, in its better direction.

    The smallest ``max_drawdown`` (or volatility, fees...) first, the largest ``sharpe``
    first (:data:`~quantlab.backtest.stats.METRIC_DIRECTIONS`); NaN last; ties keep grid
    order. ``attrs`` are kept.
    """
    if metric not in table.columns:
        raise ConfigError(f"metric: {metric!r} is not a column of the sweep table")
    if metric not in METRIC_DIRECTIONS:
        raise ConfigError(
            f"metric: {metric!r} has no better direction; use one of {sorted(METRIC_DIRECTIONS)}"
        )
    order = np.lexsort((np.arange(len(table)), -rank_scores(table[metric], metric)))
    out = table.iloc[order]
    out.attrs.update(table.attrs)
    return out


def best_params(
    table: pd.DataFrame, metric: str = "sharpe", *, maximize: bool | None = None
) -> dict:
    """Return the grid parameters of the best row of a sweep table by ``metric``.

    "Best" follows the metric's better direction (:data:`METRIC_DIRECTIONS`: the smallest
    ``max_drawdown``); ``maximize`` overrides it. NaN scores rank last; ties go to the
    first row (grid order).
    """
    if metric not in table.columns:
        raise ConfigError(f"metric: {metric!r} is not a column of the sweep table")
    if len(table) == 0:
        raise ConfigError("best_params: the sweep table is empty")
    values = table[metric].to_numpy(dtype=np.float64)
    if maximize is None:
        score = rank_scores(values, metric) if metric in METRIC_DIRECTIONS else values
    else:
        score = np.where(np.isnan(values), -np.inf, values if maximize else -values)
    score = np.where(np.isnan(score), -np.inf, score)
    i = int(np.argmax(score))
    keys = [c for c in table.columns if c not in SWEEP_COLUMNS]
    return {k: _plain(table[k].iloc[i]) for k in keys}


def apply_params(
    strategy: StrategyBase | dict | str,
    params: Mapping[str, Any],
    costs: Costs | float | dict | None = None,
) -> tuple[StrategyBase, Costs]:
    """Return the strategy and costs with grid parameters applied (e.g. :func:`best_params`).

    Keys as in :func:`sweep`; a combination the strategy refuses raises
    :class:`~quantlab.errors.ConfigError`.
    """
    pairs, _, _ = expand_sweep(strategy, {k: [v] for k, v in params.items()}, costs)
    return pairs[0]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


# --------------------------------------------------------------------------- CLI glue


def run_sweep_cli(
    strategy: str,
    grid: Sequence[str],
    *,
    source: str = "synthetic",
    symbol: str | None = "BTC",
    interval: str | None = None,
    start: Any = None,
    end: Any = None,
    seed: int | None = None,
    costs: Costs | float | dict | str | None = None,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    gaps: Gaps = "error",
    scheduler: str | None = None,
    output: str | Path | None = None,
    progress: bool = True,
    metric: str = "sharpe",
    top: int | None = None,
    confirm: bool = False,
) -> pd.DataFrame:
    """Run ``quantlab sweep``: load bars, sweep the grid, optionally write the table.

    Parameters
    ----------
    strategy : str
        A registered strategy name (``ma_cross``) or a YAML file path.
    grid : sequence of str
        Specs for :func:`parse_grid` (``fast=5:50:5 slow=20:200:10``).
    source, symbol, interval, start, end, seed
        Passed to :func:`quantlab.data.load` (``seed`` only for ``synthetic``).
    costs : float, str, Costs or mapping, optional
        A fee rate, ``"hyperliquid"`` (the default) or ``0`` / ``"zero"`` for none.
    gaps : {"error", "ffill", "allow"}
        Missing bars, as :func:`quantlab.data.validate`.
    scheduler : str, optional
        ``tcp://host:port`` of a dask scheduler.
    output : path, optional
        ``.parquet``: every row streamed as chunks finish; ``.csv``: the whole table.
    metric, top : str, int, optional
        Keep the ``top`` rows best by ``metric`` (best first); None keeps every row.
    confirm : bool
        Run past the size limits (``--yes``).

    Returns
    -------
    pd.DataFrame
        The sweep table (best first when ``top`` is given).
    """
    from quantlab.data import load

    if output is not None and Path(output).suffix not in (".parquet", ".csv"):
        raise ConfigError(f"output: {str(output)!r} must end in .parquet or .csv")
    options: dict[str, Any] = {}
    if seed is not None:
        if source != "synthetic":
            raise ConfigError(f"--seed: only the synthetic source takes a seed, not {source!r}")
        options["seed"] = seed
    df = load(source, symbol=symbol, interval=interval, start=start, end=end, gaps=gaps, **options)
    as_csv = output is not None and Path(output).suffix == ".csv"
    table = sweep(
        df,
        strategy,
        parse_grid(grid),
        costs if costs is not None else "hyperliquid",
        fill=fill,
        init_cash=init_cash,
        gaps=gaps,  # the interval: the loaded bars' own (a file's may differ from --interval)
        progress=progress,
        scheduler=scheduler,
        top=None if as_csv else top,
        metric=metric,
        output=None if as_csv else output,
        confirm=confirm,
    )
    if as_csv:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = table.copy()
        flat.attrs = {}
        flat.to_csv(path, index=False)
        if top is not None:
            attrs = dict(table.attrs)
            table = rank_table(table, metric).head(top).reset_index(drop=True)
            table.attrs.update(attrs)
    return table
