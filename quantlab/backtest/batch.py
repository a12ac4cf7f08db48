"""The one batch path of the research wing: many configurations over bars prepared once.

Every job that wants the statistics of many configurations runs here: sweeps (local, on
processes or on a Dask cluster), search trials, the dashboard's sweep. Jobs that need each
run's equity and trades (walk-forward folds and candidates, cost stress, the selection's
re-run) call :func:`quantlab.backtest.run` on the same :class:`PreparedBars`, validated
once (:func:`~quantlab.backtest.engine.prepare_bars`).

- :func:`run_configs` runs explicit ``(strategy, costs)`` configurations (one validated
  object each: search trials, explicit candidates);
- :func:`run_grid` / :func:`stream_grid` run a :class:`~quantlab.backtest.grid.GridPlan`
  chunk by chunk with no Python object per combination: parameter rows, signal rows and
  auxiliary series indices are built by numpy from axis indices, the fused kernel streams
  each chunk, and the statistics table is built column-wise (all rows, the top ``N`` by a
  metric, and/or streamed to Parquet as chunks finish);
- :func:`stats_columns` turns the kernel's streamed sums into statistics through
  :func:`quantlab.backtest.stats.stats_from_metrics`, the one definition that
  :func:`~quantlab.backtest.stats.compute_stats` uses too.

``run_grid`` takes an ``executor`` (:func:`quantlab.parallel.map_jobs`: None for this
process and its numba threads, ``"processes"``, a Dask address / Client / cluster).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab.backtest.costs import Costs
from quantlab.backtest.engine import (
    AUX_FIELDS,
    PARAM_FIELDS,
    PreparedBars,
    aux_inputs,
    build_params,
    check_target,
    frozen,
)
from quantlab.backtest.grid import GridPlan
from quantlab.backtest.options import RunOptions
from quantlab.backtest.stats import METRIC_DIRECTIONS, STAT_NAMES, stats_from_metrics
from quantlab.backtest.strategy import EMATrend, MACross, StrategyBase
from quantlab.errors import ConfigError
from quantlab.kernels import sweep as _sw
from quantlab.kernels.backtest import N_PARAMS
from quantlab.parallel import map_jobs, progress_bar

__all__ = [
    "SWEEP_COLUMNS",
    "GridRun",
    "estimate_grid",
    "run_configs",
    "run_grid",
    "signal_kind",
    "stats_columns",
    "stats_frame",
    "stream_grid",
]

#: Statistic columns of a sweep table, after the parameter columns.
SWEEP_COLUMNS = (*STAT_NAMES, "ambiguous_bars")

FUSED_CHUNK = 4096
TARGET_CHUNK = 64
AUTO_PROGRESS_COMBOS = 2048
#: Calibrated kernel cost per bar and combination on one thread (ns), for estimates.
NS_PER_STEP = 14.0

_AUX = ("funding_rate", "atr", "realized_vol", "regime", "bar_vol", "volume_ref")


# ------------------------------------------------------------------- statistics


def stats_columns(m: np.ndarray, init_cash: float, bar_seconds: float) -> dict[str, np.ndarray]:
    """Turn the kernel's streamed metrics (``M_*`` rows) into the statistics columns
    (:func:`~quantlab.backtest.stats.stats_from_metrics`, the one definition)."""
    return stats_from_metrics(m, init_cash, bar_seconds)


def stats_frame(m: np.ndarray, init_cash: float, bar_seconds: float) -> pd.DataFrame:
    """Return :func:`stats_columns` as a frame (one row per metrics row)."""
    return pd.DataFrame(stats_columns(m, init_cash, bar_seconds))


def rank_scores(values: np.ndarray, metric: str) -> np.ndarray:
    """Return scores where larger is better for ``metric`` (NaN -> -inf, ranked last)."""
    sign = METRIC_DIRECTIONS.get(metric)
    if sign is None:
        raise ConfigError(
            f"metric: {metric!r} is not a statistic; use one of {sorted(METRIC_DIRECTIONS)}"
        )
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(v), -np.inf, sign * v)


# ------------------------------------------------------------------- signal kinds


def signal_kind(strategies: Sequence[StrategyBase] | StrategyBase) -> int:
    """Return the kernel's signal kind for strategies of one class (fused when it can)."""
    items = [strategies] if isinstance(strategies, StrategyBase) else list(strategies)
    types = {type(s) for s in items}
    if len(types) != 1:
        return _sw.KIND_TARGETS
    cls = types.pop()
    if issubclass(cls, MACross) and cls._target is MACross._target:
        return _sw.KIND_CROSS
    if (
        issubclass(cls, EMATrend)
        and cls._target is EMATrend._target
        and cls.warmup is EMATrend.warmup
    ):
        return _sw.KIND_EMA_TREND
    return _sw.KIND_TARGETS


def _overrides(strategy: StrategyBase, name: str) -> bool:
    return getattr(type(strategy), name) is not getattr(StrategyBase, name)


def _aux_key(s: StrategyBase, c: Costs, a: int, has_funding: bool) -> Any:
    """Key of auxiliary series ``a`` (``A_*``): equal keys mean equal series."""
    st, sz = s.stops, s.sizing
    if a == _sw.A_FUNDING:
        return bool(c.funding and has_funding)
    if a == _sw.A_ATR:
        if _overrides(s, "atr"):
            return ("custom", s.model_dump_json())
        return None if st.atr_mult is None else st.atr_window
    if a == _sw.A_REALIZED_VOL:
        return sz.vol_window if sz.kind == "vol_target" else None
    if a == _sw.A_REGIME:
        return ("custom", s.model_dump_json()) if _overrides(s, "regime") else None
    if a == _sw.A_BAR_VOL:
        return c.vol_window if c.vol_slippage != 0.0 else None
    return c.impact > 0.0


class _AuxTable:
    """Auxiliary series rows, one per distinct key, shared by every combination."""

    def __init__(self, bars: PreparedBars) -> None:
        self.bars = bars
        self.has_funding = bars.funding_rate is not None
        self.rows: list[np.ndarray] = []
        self.index: dict[tuple[int, Any], int] = {}

    def indices(self, s: StrategyBase, c: Costs) -> np.ndarray:
        out = np.empty(_sw.N_AUX, dtype=np.int64)
        series: dict[str, np.ndarray] | None = None
        for a in range(_sw.N_AUX):
            key = (a, _aux_key(s, c, a, self.has_funding))
            row = self.index.get(key)
            if row is None:
                if series is None:
                    series = aux_inputs(self.bars, s, c)
                row = len(self.rows)
                self.rows.append(series[_AUX[a]])
                self.index[key] = row
            out[a] = row
        return out

    def array(self) -> np.ndarray:
        return frozen(np.ascontiguousarray(np.vstack(self.rows)))


# ----------------------------------------------------------- explicit configurations


def run_configs(
    bars: PreparedBars,
    pairs: Sequence[tuple[StrategyBase, Costs]],
    options: RunOptions,
    *,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """Return the ``(len(pairs), N_METRICS)`` streamed metrics of explicit configurations.

    Fused strategies (one class, stock moving-average cross or EMA trend) compute each
    distinct indicator window once; others compute the target of each distinct signal
    configuration once, in chunks, shared by the configurations differing only in risk
    rules or costs.
    """
    m = len(pairs)
    if m == 0:
        raise ConfigError("batch: no configurations to run")
    bs = bars.bar_seconds
    params = np.empty((m, N_PARAMS))
    for j, (s, c) in enumerate(pairs):
        params[j] = build_params(
            s, c, fill=options.fill, init_cash=options.init_cash, bar_seconds=bs
        )
    allow = np.array([[float(s.allow_long), float(s.allow_short)] for s, _ in pairs]).reshape(m, 2)
    table = _AuxTable(bars)
    aux_idx = np.stack([table.indices(s, c) for s, c in pairs])
    aux = table.array()
    kind = signal_kind([s for s, _ in pairs])
    warmup = np.zeros(m, dtype=np.int64)
    sig_idx = np.zeros((m, 3), dtype=np.int64)
    out = np.empty((m, _sw.N_METRICS))
    show = m >= AUTO_PROGRESS_COMBOS if progress is None else bool(progress)
    if kind != _sw.KIND_TARGETS:
        if kind == _sw.KIND_CROSS:
            windows = [(s.fast, s.slow) for s, _ in pairs]
        else:
            windows = [(s.fast, s.slow, s.gate) for s, _ in pairs]
            warmup[:] = [s.warmup() for s, _ in pairs]
        distinct = sorted({w for ws in windows for w in ws})
        row_of = {w: i for i, w in enumerate(distinct)}
        sig = _sw.indicator_rows_nb(bars.close, np.asarray(distinct, dtype=np.int64), kind)
        for j, ws in enumerate(windows):
            sig_idx[j, : len(ws)] = [row_of[w] for w in ws]
        step = chunk_size or FUSED_CHUNK
        with progress_bar(m, show, "sweep", "combo") as bar:
            for a in range(0, m, step):
                b = min(a + step, m)
                out[a:b] = _sw.sweep_nb(
                    *bars.bars, kind, sig, sig_idx[a:b], warmup[a:b], allow[a:b],
                    aux, aux_idx[a:b], params[a:b],
                )  # fmt: skip
                bar.update(b - a)
        return out
    groups: dict[str, list[int]] = {}
    for j, (s, _) in enumerate(pairs):
        groups.setdefault(_signal_key(s), []).append(j)
    keys = list(groups)
    step = chunk_size or TARGET_CHUNK
    with progress_bar(m, show, "sweep", "combo") as bar:
        for a in range(0, len(keys), step):
            chunk = keys[a : a + step]
            rows = [j for key in chunk for j in groups[key]]
            sig = np.empty((len(chunk), len(bars)))
            sub_idx = np.zeros((len(rows), 3), dtype=np.int64)
            r = 0
            for i, key in enumerate(chunk):
                s0 = pairs[groups[key][0]][0]
                sig[i] = check_target(s0, bars.df, s0.target(bars.df))
                for _ in groups[key]:
                    sub_idx[r, 0] = i
                    r += 1
            sel = np.asarray(rows, dtype=np.int64)
            out[sel] = _sw.sweep_nb(
                *bars.bars, _sw.KIND_TARGETS, sig, sub_idx, warmup[sel], allow[sel],
                aux, aux_idx[sel], params[sel],
            )  # fmt: skip
            bar.update(len(rows))
    return out


def _signal_key(s: StrategyBase) -> str:
    return s.model_copy(
        update={k: None for k in ("sizing", "stops", "limits", "breaker", "edge")}
    ).model_dump_json()


# ------------------------------------------------------------------- grid plans


@dataclass
class _GridKernel:
    """Everything a chunk of a grid needs besides its index rows (picklable)."""

    bars: PreparedBars
    plan: GridPlan
    options: RunOptions
    kind: int
    base_params: np.ndarray
    param_axes: list[tuple[int, int, np.ndarray]]  # (axis, P column, value per axis value)
    aux: np.ndarray
    aux_axes: tuple[int, ...]
    aux_table: np.ndarray  # (prod of aux axis sizes, N_AUX)
    base_allow: np.ndarray
    allow_axis: int | None
    allow_values: np.ndarray | None
    sig: np.ndarray | None = None  # fused: indicator rows
    window_rows: list[tuple[int | None, np.ndarray | int]] = field(default_factory=list)
    signal_axes: tuple[int, ...] = ()
    _targets: dict[int, np.ndarray] = field(default_factory=dict)

    def metrics(self, idx: np.ndarray) -> np.ndarray:
        """Return the streamed metrics of index rows ``idx`` (``(n_axes, k)``)."""
        k = idx.shape[1]
        params = np.repeat(self.base_params[None, :], k, axis=0)
        for axis, col, vals in self.param_axes:
            params[:, col] = vals[idx[axis]]
        allow = np.repeat(self.base_allow[None, :], k, axis=0)
        if self.allow_axis is not None:
            allow = self.allow_values[idx[self.allow_axis]]
        if self.aux_axes:
            shape = tuple(len(self.plan.axes[a].values) for a in self.aux_axes)
            sub = np.ravel_multi_index(tuple(idx[a] for a in self.aux_axes), shape)
            aux_idx = self.aux_table[sub]
        else:
            aux_idx = np.repeat(self.aux_table[:1], k, axis=0)
        sig_idx = np.zeros((k, 3), dtype=np.int64)
        warmup = np.zeros(k, dtype=np.int64)
        if self.kind != _sw.KIND_TARGETS:
            for j, (axis, rows) in enumerate(self.window_rows):
                sig_idx[:, j] = rows if axis is None else np.asarray(rows)[idx[axis]]
            if self.kind == _sw.KIND_EMA_TREND:
                slow = self._field_values(idx, "slow")
                gate = self._field_values(idx, "gate")
                warmup[:] = np.maximum(slow, gate) - 1
            sig = self.sig
        else:
            sig, sig_idx[:, 0] = self._target_rows(idx)
        return _sw.sweep_nb(
            *self.bars.bars, self.kind, sig, sig_idx, warmup, np.ascontiguousarray(allow),
            self.aux, np.ascontiguousarray(aux_idx), params,
        )  # fmt: skip

    def _field_values(self, idx: np.ndarray, name: str) -> np.ndarray:
        for i, a in enumerate(self.plan.axes):
            if a.path == name:
                return np.asarray(a.values, dtype=np.int64)[idx[i]]
        return np.full(idx.shape[1], int(getattr(self.plan.strategy, name)), dtype=np.int64)

    def _target_rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.signal_axes:
            ids = np.zeros(idx.shape[1], dtype=np.int64)
        else:
            shape = tuple(len(self.plan.axes[a].values) for a in self.signal_axes)
            ids = np.ravel_multi_index(tuple(idx[a] for a in self.signal_axes), shape)
        uniq, local = np.unique(ids, return_inverse=True)
        for old in [i for i in list(self._targets) if i < uniq[0]]:
            self._targets.pop(old, None)  # signal-major order: earlier signals are done
        rows = np.empty((uniq.size, len(self.bars)))
        for r, sid in enumerate(uniq):
            t = self._targets.get(int(sid))
            if t is None:
                j = np.flatnonzero(ids == sid)[0]
                values = {
                    self.plan.axes[a].path: self.plan.axes[a].values[int(idx[a, j])]
                    for a in self.signal_axes
                }
                s, _ = self.plan.configs(values)
                t = check_target(s, self.bars.df, s.target(self.bars.df))
                self._targets[int(sid)] = t
            rows[r] = t
        return rows, local.astype(np.int64)


def _grid_kernel(bars: PreparedBars, plan: GridPlan, options: RunOptions) -> _GridKernel:
    base_s, base_c = plan.strategy, plan.costs
    bs = bars.bar_seconds
    base_params = build_params(
        base_s, base_c, fill=options.fill, init_cash=options.init_cash, bar_seconds=bs
    )
    param_axes = []
    for i, a in enumerate(plan.axes):
        if a.path in PARAM_FIELDS:
            col, convert = PARAM_FIELDS[a.path]
            param_axes.append((i, col, np.asarray([convert(v) for v in a.values], dtype=float)))
    # auxiliary series: one entry per combination of the axes they read
    table = _AuxTable(bars)
    aux_axes = tuple(i for i, a in enumerate(plan.axes) if a.path in AUX_FIELDS)
    shape = tuple(len(plan.axes[i].values) for i in aux_axes)
    aux_table = np.empty((math.prod(shape), _sw.N_AUX), dtype=np.int64)
    for flat in range(aux_table.shape[0]):
        pos = np.unravel_index(flat, shape) if shape else ()
        values = {
            plan.axes[i].path: plan.axes[i].values[int(p)]
            for i, p in zip(aux_axes, pos, strict=True)
        }
        s, c = plan.configs(values)
        aux_table[flat] = table.indices(s, c)
    kind = signal_kind(base_s)
    allow_axis = next((i for i, a in enumerate(plan.axes) if a.path == "direction"), None)
    allow_values = None
    if allow_axis is not None:
        allow_values = np.array(
            [[float(d in ("long", "both")), float(d in ("short", "both"))]
             for d in plan.axes[allow_axis].values]
        )  # fmt: skip
    kernel = _GridKernel(
        bars=bars,
        plan=plan,
        options=options,
        kind=kind,
        base_params=base_params,
        param_axes=param_axes,
        aux=table.array(),
        aux_axes=aux_axes,
        aux_table=aux_table,
        base_allow=np.array([float(base_s.allow_long), float(base_s.allow_short)]),
        allow_axis=allow_axis,
        allow_values=allow_values,
    )
    if kind != _sw.KIND_TARGETS:
        names = ("fast", "slow") if kind == _sw.KIND_CROSS else ("fast", "slow", "gate")
        by_path = {a.path: i for i, a in enumerate(plan.axes)}
        wanted: set[int] = set()
        for name in names:
            i = by_path.get(name)
            wanted |= {int(getattr(base_s, name))} if i is None else set(plan.axes[i].values)
        distinct = sorted(wanted)
        row_of = {w: r for r, w in enumerate(distinct)}
        kernel.sig = _sw.indicator_rows_nb(bars.close, np.asarray(distinct, dtype=np.int64), kind)
        for name in names:
            i = by_path.get(name)
            if i is None:
                kernel.window_rows.append((None, row_of[int(getattr(base_s, name))]))
            else:
                rows = np.asarray([row_of[int(v)] for v in plan.axes[i].values], dtype=np.int64)
                kernel.window_rows.append((i, rows))
    else:
        kernel.signal_axes = tuple(i for i, a in enumerate(plan.axes) if a.is_signal)
    return kernel


def grid_supported(plan: GridPlan) -> bool:
    s = plan.strategy
    if not plan.fast:
        return False
    if (_overrides(s, "atr") or _overrides(s, "regime")) and any(not a.on_costs for a in plan.axes):
        plan.why_slow = f"{type(s).__name__} overrides atr() or regime()"
        return False
    for a in plan.axes:
        if a.is_signal:
            continue
        if a.path not in PARAM_FIELDS and a.path not in AUX_FIELDS:
            return False
    return True


def estimate_grid(plan: GridPlan, n_bars: int, *, keep_rows: int | None = None) -> dict[str, Any]:
    """Estimate a grid's work before it runs: combinations, seconds and bytes.

    ``seconds`` assumes :data:`NS_PER_STEP` per bar and combination on each numba thread;
    ``bytes`` counts the kept table, the indicator rows and one chunk's arrays.
    """
    import numba

    n = plan.n_valid
    threads = max(1, numba.get_num_threads())
    rows = n if keep_rows is None else min(n, keep_rows)
    n_cols = len(plan.axes) + len(SWEEP_COLUMNS)
    windows = sum(len(a.values) for a in plan.axes if a.path in ("fast", "slow", "gate")) + 3
    table_bytes = rows * n_cols * 8
    signal_bytes = windows * n_bars * 8
    chunk_bytes = FUSED_CHUNK * (N_PARAMS + _sw.N_METRICS + 16) * 8
    return {
        "combinations": n,
        "invalid": plan.n_invalid,
        "seconds": n * n_bars * NS_PER_STEP * 1e-9 / threads,
        "bytes": table_bytes * 2 + signal_bytes + chunk_bytes,
        "threads": threads,
    }


@dataclass
class GridRun:
    """What :func:`run_grid` returns: the kept rows and how the run went."""

    table: pd.DataFrame
    n_run: int
    kind: int
    elapsed_s: float
    kernel_s: float
    output: str | None = None
    n_parts: int | None = None


def _chunk_job(idx: np.ndarray, kernel: _GridKernel) -> np.ndarray:
    return kernel.metrics(idx)


class _Collector:
    """Builds the result column-wise: all rows, the top N, and/or Parquet row groups."""

    def __init__(
        self,
        plan: GridPlan,
        top: int | None,
        metric: str | None,
        output: Path | None,
        reorder: bool,
    ) -> None:
        self.plan = plan
        self.top = top
        self.metric = metric
        self.keep_all = top is None
        self.reorder = reorder
        self.parts: list[dict[str, np.ndarray]] = []
        self.writer: Any = None
        self.output = output
        self.best: dict[str, np.ndarray] | None = None

    def add(self, idx: np.ndarray, stats: dict[str, np.ndarray]) -> None:
        cols = {**self.plan.columns(idx), **stats}
        if self.output is not None:
            self._write(cols)
        pos = self.plan.position(idx)
        if self.keep_all:
            self.parts.append({**cols, "__pos": pos})
            return
        cols["__pos"] = pos
        if self.best is not None:
            cols = {k: np.concatenate([self.best[k], cols[k]]) for k in cols}
        score = rank_scores(cols[self.metric], self.metric)
        order = np.lexsort((cols["__pos"], -score))[: self.top]
        self.best = {k: v[order] for k, v in cols.items()}

    def _write(self, cols: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({k: _arrow_ready(v) for k, v in cols.items()})
        if self.writer is None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(str(self.output), table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def frame(self) -> pd.DataFrame:
        if self.keep_all:
            parts = self.parts
            if not parts:
                cols: dict[str, np.ndarray] = {}
            else:
                cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
                self.parts = []
            if self.reorder and cols:
                order = np.argsort(cols["__pos"], kind="stable")
                cols = {k: v[order] for k, v in cols.items()}
        else:
            cols = self.best or {}
        cols.pop("__pos", None)
        keys = [a.key for a in self.plan.axes] + list(SWEEP_COLUMNS)
        return pd.DataFrame({k: _pandas_ready(cols[k]) for k in keys if k in cols})


def _arrow_ready(v: np.ndarray) -> Any:
    if v.dtype == object:
        return list(v)
    return v


def _pandas_ready(v: np.ndarray) -> Any:
    if v.dtype == object:
        return pd.Series(list(v)).infer_objects().to_numpy()
    return v


def _grid_order(plan: GridPlan, kernel: _GridKernel, chunk_size: int | None):
    if kernel.kind == _sw.KIND_TARGETS:
        per_signal = math.prod(
            len(a.values) for i, a in enumerate(plan.axes) if i not in kernel.signal_axes
        )
        size = max(1, (chunk_size or TARGET_CHUNK) * per_signal)
        order = [*kernel.signal_axes] + [
            i for i in range(len(plan.axes)) if i not in kernel.signal_axes
        ]
    else:
        size = chunk_size or FUSED_CHUNK
        order = list(range(len(plan.axes)))
    return size, order


def stream_grid(
    bars: PreparedBars, plan: GridPlan, options: RunOptions, *, chunk_size: int | None = None
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Yield ``(index rows, statistics columns)`` chunk by chunk as a grid runs here.

    Fused strategies stream in grid order; others signal by signal (a dashboard or a
    caller that writes rows as they come uses this; :func:`run_grid` collects them).
    """
    if not grid_supported(plan):
        raise ConfigError(f"batch: this grid needs the per-configuration path ({plan.why_slow})")
    kernel = _grid_kernel(bars, plan, options)
    size, order = _grid_order(plan, kernel, chunk_size)
    for idx in plan.chunks(size, order):
        m = kernel.metrics(idx)
        yield idx, stats_columns(m, options.init_cash, bars.bar_seconds)


def run_grid(
    bars: PreparedBars,
    plan: GridPlan,
    options: RunOptions,
    *,
    chunk_size: int | None = None,
    progress: bool | None = None,
    top: int | None = None,
    metric: str | None = None,
    output: str | Path | None = None,
    executor: Any = None,
    desc: str = "sweep",
) -> GridRun:
    """Run every valid combination of a grid plan; return the kept rows (column-wise).

    Parameters
    ----------
    bars : PreparedBars
        From :func:`~quantlab.backtest.engine.prepare_bars`.
    plan : GridPlan
        From :func:`~quantlab.backtest.grid.plan_grid`.
    options : RunOptions
        Fill and starting cash (the costs are the plan's).
    chunk_size : int, optional
        Combinations per kernel call (fused strategies; default :data:`FUSED_CHUNK`) or
        distinct signals per chunk (others; default :data:`TARGET_CHUNK`).
    progress : bool, optional
        A tqdm bar in combinations per second; default for 2048+ combinations.
    top, metric : int, str, optional
        Keep only the ``top`` rows best by ``metric`` (in its better direction); else all.
    output : path, optional
        A ``.parquet`` file the rows are streamed to as chunks finish.
    executor : optional
        Where chunks run (:func:`quantlab.parallel.map_jobs`); None: here, numba threads.
    desc : str
        The progress bar's label.
    """
    started = time.perf_counter()
    if not grid_supported(plan):
        raise ConfigError(f"batch: this grid needs the per-configuration path ({plan.why_slow})")
    kernel = _grid_kernel(bars, plan, options)
    n = plan.n_valid
    kind = kernel.kind
    size, order = _grid_order(plan, kernel, chunk_size)
    reorder = order != sorted(order)
    collector = _Collector(plan, top, metric, None if output is None else Path(output), reorder)
    show = n >= AUTO_PROGRESS_COMBOS if progress is None else bool(progress)
    kernel_s = 0.0
    done = 0
    n_parts = None
    try:
        if executor is None:
            with progress_bar(n, show, desc, "combo") as bar:
                for idx in plan.chunks(size, order):
                    t0 = time.perf_counter()
                    m = kernel.metrics(idx)
                    kernel_s += time.perf_counter() - t0
                    collector.add(idx, stats_columns(m, options.init_cash, bars.bar_seconds))
                    done += idx.shape[1]
                    bar.update(idx.shape[1])
        else:
            chunks = list(plan.chunks(size, order))
            n_parts = len(chunks)
            results = map_jobs(
                _chunk_job, chunks, executor, progress=show, desc=desc, kernel=kernel
            )
            for idx, m in zip(chunks, results, strict=True):
                collector.add(idx, stats_columns(m, options.init_cash, bars.bar_seconds))
                done += idx.shape[1]
    finally:
        collector.close()
    table = collector.frame()
    return GridRun(
        table=table,
        n_run=done,
        kind=kind,
        elapsed_s=time.perf_counter() - started,
        kernel_s=kernel_s,
        output=None if output is None else str(output),
        n_parts=n_parts,
    )
