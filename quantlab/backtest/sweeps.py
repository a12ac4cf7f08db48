"""Parameter sweeps through the fused numba kernel (:mod:`quantlab.kernels.sweep`).

::

    grid = {"fast": range(5, 55, 5), "slow": range(20, 210, 10), "stop_loss": [0.01, 0.02]}
    table = ql.backtest.sweep(df, ql.backtest.ma_cross(), grid, costs=0.0005)
    table.attrs["n_trials"]                  # valid combinations run (for the DSR)
    best_params(table, "sharpe")             # {"fast": 15, "slow": 120, "stop_loss": 0.02}

One row per valid combination: its parameters, then every statistic of
:data:`~quantlab.backtest.STAT_NAMES` and ``ambiguous_bars``, equal (to 1e-9) to
``ql.backtest.run(df, combination, costs).stats``. Combinations a strategy refuses
(``fast >= slow``) are skipped and counted in ``attrs["n_invalid"]``.

Grid keys are strategy fields (``fast``), dotted nested fields (``"sizing.fraction"``),
stop shortcuts (``stop_loss`` for ``stops.stop_loss``) or cost fields (``taker_fee`` or
``"costs.taker_fee"``). The rows follow the Cartesian product of the strategy keys (in grid
order), the cost keys varying fastest.

Moving-average cross and EMA trend strategies are fused: each distinct indicator window is
computed once and every account builds its target bar by bar. Other strategies compute the
target of each distinct signal configuration once, in chunks, and share it between the
combinations that differ only in stops, sizing, limits or costs.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import build_inputs, build_params, frozen
from quantlab.backtest.stats import STAT_NAMES, periods_per_year
from quantlab.backtest.strategy import EMATrend, MACross, StrategyBase, load_strategy
from quantlab.backtest.validation import expand_grid
from quantlab.data.intervals import interval_seconds
from quantlab.data.schema import infer_interval, validate
from quantlab.errors import ConfigError, DataError
from quantlab.kernels import sweep as _sw
from quantlab.kernels.backtest import N_PARAMS
from quantlab.risk import Stops

__all__ = [
    "SWEEP_COLUMNS",
    "apply_params",
    "best_params",
    "expand_sweep",
    "parse_grid",
    "run_sweep_cli",
    "sweep",
    "sweep_candidates",
]

Fill = Literal["next_open", "close"]
Gaps = Literal["error", "ffill", "allow"]

#: Statistic columns of a sweep table, after the parameter columns.
SWEEP_COLUMNS = (*STAT_NAMES, "ambiguous_bars")

_RISK_BLOCKS = ("sizing", "stops", "limits", "breaker", "edge")
_FUSED_CHUNK = 512
_TARGET_CHUNK = 64
_AUTO_PROGRESS_COMBOS = 2048


# ------------------------------------------------------------------------ grid


def _values(key: str, v: Any) -> list[Any]:
    if isinstance(v, str | Mapping):
        raise ConfigError(f"grid[{key!r}]: expected a non-empty list of values, got {v!r}")
    if isinstance(v, Iterable):
        out = [x.item() if isinstance(x, np.generic) else x for x in v]
    else:
        out = [v.item() if isinstance(v, np.generic) else v]
    if not out:
        raise ConfigError(f"grid[{key!r}]: expected a non-empty list of values, got {v!r}")
    return out


def _split_grid(
    strategy: StrategyBase, grid: Mapping[str, Any] | None
) -> tuple[dict[str, tuple[str, list[Any]]], dict[str, tuple[str, list[Any]]]]:
    """Return ``{user key: (strategy dotted key, values)}`` and the same for cost keys."""
    strat: dict[str, tuple[str, list[Any]]] = {}
    cost: dict[str, tuple[str, list[Any]]] = {}
    if grid is None:
        return strat, cost
    if not isinstance(grid, Mapping):
        raise ConfigError(f"grid: expected a mapping of parameter -> values, got {grid!r}")
    fields = type(strategy).model_fields
    for key, v in grid.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"grid: parameter names must be strings, got {key!r}")
        values = _values(key, v)
        if key.startswith("costs."):
            name = key[len("costs.") :]
            if name not in Costs.model_fields:
                raise ConfigError(
                    f"grid key {key!r}: unknown cost field {name!r}; known: "
                    f"{sorted(Costs.model_fields)}"
                )
            cost[key] = (name, values)
        elif "." in key or key in fields:
            strat[key] = (key, values)
        elif key in Stops.model_fields:
            strat[key] = (f"stops.{key}", values)
        elif key in Costs.model_fields:
            cost[key] = (key, values)
        else:
            raise ConfigError(
                f"grid key {key!r}: not a parameter of {type(strategy).__name__} "
                f"({sorted(k for k in fields if k != 'kind')}), a stop "
                f"({sorted(Stops.model_fields)}) or a cost ({sorted(Costs.model_fields)})"
            )
    return strat, cost


def _get_dotted(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def expand_sweep(
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
) -> tuple[list[tuple[StrategyBase, Costs]], pd.DataFrame, int]:
    """Return the valid (strategy, costs) pairs of a grid, their parameters and the skips.

    Parameters
    ----------
    strategy : StrategyBase, mapping or YAML path
        The base configuration.
    grid : mapping of parameter name to values, optional
        See the module docstring for the accepted keys.
    costs : Costs, float or mapping, optional
        The base costs; cost keys of the grid replace its fields.

    Returns
    -------
    (pairs, params, n_invalid)
        ``params`` has one row per pair and one column per grid key (the values as the
        configurations hold them); ``n_invalid`` counts combinations refused by the strategy.
    """
    base = load_strategy(strategy)
    base_costs = make_costs(costs)
    strat_keys, cost_keys = _split_grid(base, grid)
    candidates, _, n_invalid = expand_grid(
        base, {dotted: vals for dotted, vals in strat_keys.values()} or None
    )
    cost_list = [base_costs]
    if cost_keys:
        dump = base_costs.model_dump()
        names = [name for name, _ in cost_keys.values()]
        cost_list = [
            Costs.from_dict({**dump, **dict(zip(names, combo, strict=True))})
            for combo in itertools.product(*(vals for _, vals in cost_keys.values()))
        ]
    pairs = [(s, c) for s in candidates for c in cost_list]
    cols: dict[str, list[Any]] = {}
    for key in grid or {}:
        if key in strat_keys:
            cols[key] = [_get_dotted(s, strat_keys[key][0]) for s, _ in pairs]
        else:
            cols[key] = [getattr(c, cost_keys[key][0]) for _, c in pairs]
    params = pd.DataFrame(cols, index=pd.RangeIndex(len(pairs)))
    return pairs, params, n_invalid * len(cost_list)


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """Parse command-line grid specs into a sweep grid.

    ``"fast=5:50:5"`` is the inclusive range 5, 10, ..., 50; ``"stop_loss=0.01,0.02"`` a
    list; ``"fast=10"`` a single value. Values are ints, floats, ``none``/``null`` or
    strings (``direction=long,both``).

    Examples
    --------
    >>> parse_grid(["fast=5:15:5", "stop_loss=0.01,0.02", "direction=long"])
    {'fast': [5, 10, 15], 'stop_loss': [0.01, 0.02], 'direction': ['long']}
    """
    if isinstance(specs, str):
        specs = [specs]
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, text = str(spec).partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ConfigError(
                f"grid spec {spec!r}: expected NAME=START:STOP:STEP or NAME=V1,V2,..."
            )
        if name in grid:
            raise ConfigError(f"grid spec {spec!r}: {name!r} is given twice")
        if ":" in text:
            grid[name] = _parse_range(spec, text)
        else:
            grid[name] = [_parse_scalar(v.strip()) for v in text.split(",") if v.strip()]
        if not grid[name]:
            raise ConfigError(f"grid spec {spec!r}: no values")
    return grid


def _parse_scalar(text: str) -> Any:
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_range(spec: str, text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"grid spec {spec!r}: a range is START:STOP or START:STOP:STEP")
    nums = [_parse_scalar(p.strip()) for p in parts]
    if len(nums) == 2:
        nums.append(1)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in nums):
        raise ConfigError(f"grid spec {spec!r}: range bounds and step must be numbers")
    start, stop, step = nums
    if not step > 0 or stop < start:
        raise ConfigError(f"grid spec {spec!r}: need STEP > 0 and STOP >= START")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > 1_000_000:
        raise ConfigError(f"grid spec {spec!r}: {count} values is too many")
    if all(isinstance(x, int) for x in nums):
        return [start + i * step for i in range(count)]
    return [round(start + i * step, 12) for i in range(count)]


# ---------------------------------------------------------------------- preparation


def _prepare(df: pd.DataFrame, interval: str | None, gaps: Gaps) -> tuple[pd.DataFrame, float]:
    df = validate(df, interval=interval, gaps=gaps)
    if len(df) < 2:
        raise DataError(f"bars: need at least 2 rows to backtest, got {len(df)}")
    if interval is not None:
        return df, float(interval_seconds(interval))
    step = infer_interval(df.index)
    if step is None:
        raise DataError("index: cannot infer the bar interval; pass interval='1h' etc.")
    return df, step.total_seconds()


def _key(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _overrides(strategy: StrategyBase, name: str) -> bool:
    return getattr(type(strategy), name) is not getattr(StrategyBase, name)


def _aux_keys(s: StrategyBase, c: Costs, has_funding: bool) -> tuple[str, ...]:
    """Keys of the six auxiliary series (``A_*`` order); equal keys mean equal series."""
    st, sz = s.stops, s.sizing
    regime = _key(s.model_dump()) if _overrides(s, "regime") else "none"
    atr = _key(s.model_dump()) if _overrides(s, "atr") else (st.atr_mult is None, st.atr_window)
    return (
        _key(bool(c.funding and has_funding)),
        _key(atr),
        _key((sz.kind == "vol_target", sz.vol_window if sz.kind == "vol_target" else 0)),
        regime,
        _key((c.vol_slippage != 0.0, c.vol_window if c.vol_slippage != 0.0 else 0)),
        _key(c.impact > 0.0),
    )


_AUX_FIELDS = ("funding_rate", "atr", "realized_vol", "regime", "bar_vol", "volume_ref")


def _signal_mode(pairs: Sequence[tuple[StrategyBase, Costs]]) -> int:
    types = {type(s) for s, _ in pairs}
    if len(types) != 1:
        return _sw.KIND_TARGETS
    s = pairs[0][0]
    if isinstance(s, MACross) and type(s)._target is MACross._target:
        return _sw.KIND_CROSS
    if (
        isinstance(s, EMATrend)
        and type(s)._target is EMATrend._target
        and type(s).warmup is EMATrend.warmup
    ):
        return _sw.KIND_EMA_TREND
    return _sw.KIND_TARGETS


def _signal_key(s: StrategyBase) -> str:
    d = s.model_dump()
    for k in _RISK_BLOCKS:
        d.pop(k, None)
    return _key(d)


def _check_target(s: StrategyBase, df: pd.DataFrame, target: Any) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(target, dtype=np.float64))
    if arr.shape != (len(df),):
        raise DataError(f"strategy {s.kind!r}: target has {arr.shape} rows, bars {len(df)}")
    bad = ~np.isfinite(arr) | (np.abs(arr) > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"strategy {s.kind!r}: target at {df.index[i]} is {arr[i]!r}; must be -1, 0 or +1"
        )
    return arr


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="combo", leave=False)


# ------------------------------------------------------------------------ the sweep


def _stats_frame(m: np.ndarray, init_cash: float, bar_seconds: float) -> pd.DataFrame:
    """Turn the kernel's streamed metrics into :func:`compute_stats`' statistics."""
    ann = periods_per_year(bar_seconds)
    n = m[:, _sw.M_N_BARS]
    end = m[:, _sw.M_END_VALUE]
    out: dict[str, np.ndarray] = {}
    k = m.shape[0]
    nan = np.full(k, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = end / init_cash
        mean = m[:, _sw.M_SUM_R] / n
        var = (m[:, _sw.M_SUM_R2] - m[:, _sw.M_SUM_R] * mean) / (n - 1.0)
        std = np.sqrt(np.maximum(var, 0.0))
        downside = np.sqrt(m[:, _sw.M_SUM_DOWN2] / n) * np.sqrt(ann)
        cagr = np.where(growth > 0, np.abs(growth) ** (ann / n) - 1.0, -1.0)
        mdd = m[:, _sw.M_MAX_DD]
        trades = m[:, _sw.M_N_TRADES]
        wins = m[:, _sw.M_N_WINS]
        losses = trades - wins
        sum_win = m[:, _sw.M_SUM_WIN]
        sum_loss = m[:, _sw.M_SUM_LOSS]
        mean_eq = m[:, _sw.M_SUM_EQUITY] / n
        has = trades > 0
        out["start_value"] = np.full(k, float(init_cash))
        out["end_value"] = end
        out["total_return"] = growth - 1.0
        out["cagr"] = cagr
        out["sharpe"] = np.where((n >= 2) & (std > 0), mean / std * np.sqrt(ann), nan)
        out["sortino"] = np.where((n >= 2) & (downside > 0), mean * ann / downside, nan)
        out["calmar"] = np.where(mdd > 0, cagr / mdd, nan)
        out["max_drawdown"] = mdd
        out["volatility"] = np.where(n >= 2, std * np.sqrt(ann), nan)
        out["n_trades"] = trades
        out["win_rate"] = np.where(has, wins / trades, nan)
        out["profit_factor"] = np.where(
            has, np.where(sum_loss > 0, sum_win / sum_loss, np.inf), nan
        )
        out["expectancy"] = np.where(has, (sum_win - sum_loss) / trades, nan)
        out["avg_win"] = np.where(wins > 0, sum_win / wins, nan)
        out["avg_loss"] = np.where(losses > 0, -sum_loss / losses, nan)
        out["exposure"] = m[:, _sw.M_BARS_IN_MKT] / n
        out["turnover"] = np.where(mean_eq > 0, m[:, _sw.M_TURNOVER] / mean_eq, nan)
        out["fees_paid"] = m[:, _sw.M_FEES]
        out["funding_paid"] = m[:, _sw.M_FUNDING]
        out["slippage_paid"] = m[:, _sw.M_SLIPPAGE]
        out["ambiguous_bars"] = m[:, _sw.M_AMBIGUOUS]
    return pd.DataFrame({c: out[c] for c in SWEEP_COLUMNS})


def _run_pairs(
    df: pd.DataFrame,
    pairs: Sequence[tuple[StrategyBase, Costs]],
    *,
    bar_seconds: float,
    fill: Fill,
    init_cash: float,
    chunk_size: int | None,
    progress: bool | None,
) -> np.ndarray:
    """Return the ``(len(pairs), N_METRICS)`` metrics of validated bars."""
    m = len(pairs)
    n = len(df)
    has_funding = "funding_rate" in df.columns
    params = np.empty((m, N_PARAMS))
    for j, (s, c) in enumerate(pairs):
        params[j] = build_params(s, c, fill=fill, init_cash=init_cash, bar_seconds=bar_seconds)
    allow = np.array([[float(s.allow_long), float(s.allow_short)] for s, _ in pairs]).reshape(m, 2)
    # auxiliary series: one row per distinct key, from the engine's own build_inputs
    aux_rows: list[np.ndarray] = []
    aux_index: dict[tuple[int, str], int] = {}
    aux_idx = np.empty((m, _sw.N_AUX), dtype=np.int64)
    inputs_cache: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
    kind = _signal_mode(pairs)
    base: dict[str, np.ndarray] | None = None
    for j, (s, c) in enumerate(pairs):
        keys = _aux_keys(s, c, has_funding)
        for a, key in enumerate(keys):
            row = aux_index.get((a, key))
            if row is None:
                inputs = inputs_cache.get(keys)
                if inputs is None:
                    inputs = build_inputs(df, s, c, bar_seconds)
                    inputs_cache[keys] = inputs
                    if base is None:
                        base = inputs
                row = len(aux_rows)
                aux_rows.append(inputs[_AUX_FIELDS[a]])
                aux_index[(a, key)] = row
            aux_idx[j, a] = row
    assert base is not None
    aux = frozen(np.ascontiguousarray(np.vstack(aux_rows)))
    bars = tuple(frozen(base[k]) for k in ("open_", "high", "low", "close", "day"))
    close = bars[3]
    warmup = np.zeros(m, dtype=np.int64)
    sig_idx = np.zeros((m, 3), dtype=np.int64)
    out = np.empty((m, _sw.N_METRICS))
    show = m >= _AUTO_PROGRESS_COMBOS if progress is None else bool(progress)
    if kind != _sw.KIND_TARGETS:
        # fused: each distinct window once
        if kind == _sw.KIND_CROSS:
            windows = [(s.fast, s.slow) for s, _ in pairs]
        else:
            windows = [(s.fast, s.slow, s.gate) for s, _ in pairs]
            warmup[:] = [s.warmup() for s, _ in pairs]
        distinct = sorted({w for ws in windows for w in ws})
        row_of = {w: i for i, w in enumerate(distinct)}
        sig = _sw.indicator_rows_nb(close, np.asarray(distinct, dtype=np.int64), kind)
        for j, ws in enumerate(windows):
            sig_idx[j, : len(ws)] = [row_of[w] for w in ws]
        step = chunk_size or _FUSED_CHUNK
        with _progress_bar(m, show, "sweep") as bar:
            for a in range(0, m, step):
                b = min(a + step, m)
                out[a:b] = _sw.sweep_nb(
                    *bars,
                    kind,
                    sig,
                    sig_idx[a:b],
                    warmup[a:b],
                    allow[a:b],
                    aux,
                    aux_idx[a:b],
                    params[a:b],
                )
                bar.update(b - a)
        return out
    # generic: the target of each distinct signal configuration once, in chunks
    groups: dict[str, list[int]] = {}
    for j, (s, _) in enumerate(pairs):
        groups.setdefault(_signal_key(s), []).append(j)
    keys = list(groups)
    step = chunk_size or _TARGET_CHUNK
    with _progress_bar(m, show, "sweep") as bar:
        for a in range(0, len(keys), step):
            chunk = keys[a : a + step]
            rows = [j for key in chunk for j in groups[key]]
            sig = np.empty((len(chunk), n))
            sub_idx = np.zeros((len(rows), 3), dtype=np.int64)
            r = 0
            for i, key in enumerate(chunk):
                first = groups[key][0]
                s0 = pairs[first][0]
                sig[i] = _check_target(s0, df, s0.target(df))
                for _ in groups[key]:
                    sub_idx[r, 0] = i
                    r += 1
            sel = np.asarray(rows, dtype=np.int64)
            out[sel] = _sw.sweep_nb(
                *bars,
                _sw.KIND_TARGETS,
                sig,
                sub_idx,
                warmup[sel],
                allow[sel],
                aux,
                aux_idx[sel],
                params[sel],
            )
            bar.update(len(rows))
    return out


def sweep_candidates(
    df: pd.DataFrame,
    pairs: Sequence[tuple[StrategyBase, Costs] | StrategyBase],
    costs: Costs | float | dict | None = None,
    *,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    interval: str | None = None,
    gaps: Gaps = "error",
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Return the statistics of explicit configurations, one row each (no parameter columns).

    ``pairs`` holds strategies (run with ``costs``) or ``(strategy, costs)`` pairs. This is
    what :func:`sweep`, :func:`quantlab.backtest.search.search` and the cluster runner call
    on their share of the combinations.
    """
    if not pairs:
        raise ConfigError("sweep: no configurations to run")
    base_costs = make_costs(costs)
    norm = [
        (load_strategy(p[0]), make_costs(p[1]))
        if isinstance(p, tuple)
        else (load_strategy(p), base_costs)
        for p in pairs
    ]
    if not (np.isfinite(init_cash) and init_cash > 0):
        raise ConfigError(f"init_cash: must be a positive number, got {init_cash!r}")
    if fill not in ("next_open", "close"):
        raise ConfigError(f"fill: must be 'next_open' or 'close', got {fill!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    df, bar_seconds = _prepare(df, interval, gaps)
    metrics = _run_pairs(
        df,
        norm,
        bar_seconds=bar_seconds,
        fill=fill,
        init_cash=init_cash,
        chunk_size=chunk_size,
        progress=progress,
    )
    return _stats_frame(metrics, init_cash, bar_seconds)


def sweep(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
    *,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    interval: str | None = None,
    gaps: Gaps = "error",
    chunk_size: int | None = None,
    progress: bool | None = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Backtest every combination of a parameter grid; return one row of statistics each.

    Parameters
    ----------
    df : pd.DataFrame
        Bars (validated as :func:`quantlab.backtest.run` does).
    strategy : StrategyBase, mapping or YAML path
        The base configuration; the grid replaces some of its parameters.
    grid : mapping of parameter name to values, optional
        Strategy fields (``fast``), dotted nested fields (``"sizing.fraction"``), stop
        shortcuts (``stop_loss``) or cost fields (``taker_fee``, ``"costs.maker_fee"``).
        None or empty: the base configuration alone.
    costs : Costs, float or mapping, optional
        As in :func:`quantlab.backtest.run`.
    fill, init_cash, interval, gaps
        As in :func:`quantlab.backtest.run`.
    chunk_size : int, optional
        Combinations per kernel call (fused strategies) or distinct signals per chunk
        (others); bounds memory and paces the progress bar.
    progress : bool, optional
        Show a tqdm bar over chunks; default: only for sweeps of 2048+ combinations.
    scheduler : str or dask.distributed.Client, optional
        ``"tcp://host:8786"`` (or a Client) spreads the combinations over a dask cluster
        (:func:`quantlab.backtest.distributed.sweep_distributed`); same results.

    Returns
    -------
    pd.DataFrame
        One row per valid combination: the grid keys, then :data:`SWEEP_COLUMNS` (the
        pessimistic ordering of ambiguous bars, as ``run(...).stats``). ``attrs``:
        ``n_trials`` (rows, the trial count for the Deflated Sharpe Ratio), ``n_invalid``,
        ``n_bars``, ``strategy`` (the base configuration as a dict), ``grid``, ``metric_kind``
        (``"fused"`` or ``"targets"``) and ``elapsed_s``.

    Notes
    -----
    Every combination runs the engine's :func:`~quantlab.kernels.backtest.backtest_step_nb`
    in :func:`~quantlab.kernels.sweep.sweep_nb`, in parallel over combinations, with its
    statistics accumulated as the bars stream; no (combinations x bars) matrix is held.
    """
    if scheduler is not None:
        from quantlab.backtest.distributed import sweep_distributed

        return sweep_distributed(
            df,
            strategy,
            grid,
            costs,
            scheduler=scheduler,
            fill=fill,
            init_cash=init_cash,
            interval=interval,
            gaps=gaps,
            progress=bool(progress),
        )
    started = time.perf_counter()
    pairs, params, n_invalid = expand_sweep(strategy, grid, costs)
    stats = sweep_candidates(
        df,
        pairs,
        fill=fill,
        init_cash=init_cash,
        interval=interval,
        gaps=gaps,
        chunk_size=chunk_size,
        progress=progress,
    )
    return finish_table(
        params,
        stats,
        strategy=pairs[0][0],
        grid=grid,
        n_invalid=n_invalid,
        n_bars=len(df),
        kind=_signal_mode(pairs),
        elapsed=time.perf_counter() - started,
    )


def finish_table(
    params: pd.DataFrame,
    stats: pd.DataFrame,
    *,
    strategy: StrategyBase,
    grid: Mapping[str, Any] | None,
    n_invalid: int,
    n_bars: int,
    kind: int,
    elapsed: float,
) -> pd.DataFrame:
    """Join parameter columns and statistics and attach the sweep's ``attrs``."""
    table = pd.concat([params.reset_index(drop=True), stats.reset_index(drop=True)], axis=1)
    table.attrs.update(
        {
            "n_trials": len(table),
            "n_invalid": int(n_invalid),
            "n_bars": int(n_bars),
            "strategy": load_strategy(strategy).model_dump(mode="json"),
            "grid": {k: list(_values(k, v)) for k, v in (grid or {}).items()},
            "metric_kind": "targets" if kind == _sw.KIND_TARGETS else "fused",
            "elapsed_s": round(float(elapsed), 4),
        }
    )
    return table


def best_params(table: pd.DataFrame, metric: str = "sharpe", *, maximize: bool = True) -> dict:
    """Return the grid parameters of the best row of a sweep table by ``metric``.

    NaN scores rank last; ties go to the first row (grid order).
    """
    if metric not in table.columns:
        raise ConfigError(f"metric: {metric!r} is not a column of the sweep table")
    if len(table) == 0:
        raise ConfigError("best_params: the sweep table is empty")
    score = table[metric].to_numpy(dtype=np.float64)
    score = np.where(np.isfinite(score), score if maximize else -score, -np.inf)
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
    interval: str = "1h",
    start: Any = None,
    end: Any = None,
    seed: int | None = None,
    costs: Costs | float | dict | str | None = None,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    scheduler: str | None = None,
    output: str | Path | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``quantlab sweep``: load bars, sweep the grid, optionally write the table.

    Parameters
    ----------
    strategy : str
        A strategy kind (``ma_cross``) or a YAML file path.
    grid : sequence of str
        Specs for :func:`parse_grid` (``fast=5:50:5 slow=20:200:10``).
    source, symbol, interval, start, end, seed
        Passed to :func:`quantlab.data.load` (``seed`` only for ``synthetic``).
    costs : float, str, Costs or mapping, optional
        A fee rate, ``"hyperliquid"`` (base-tier fees) or a mapping.
    scheduler : str, optional
        ``tcp://host:port`` of a dask scheduler.
    output : path, optional
        ``.parquet`` or ``.csv`` file for the table.

    Returns
    -------
    pd.DataFrame
        The sweep table.
    """
    from quantlab.backtest.strategy import STRATEGIES
    from quantlab.data import load

    base: StrategyBase | dict | str = {"kind": strategy} if strategy in STRATEGIES else strategy
    if isinstance(costs, str):
        if costs != "hyperliquid":
            raise ConfigError(f"costs: {costs!r}; use a fee rate or 'hyperliquid'")
        costs = Costs.hyperliquid()
    if output is not None and Path(output).suffix not in (".parquet", ".csv"):
        raise ConfigError(f"output: {str(output)!r} must end in .parquet or .csv")
    options: dict[str, Any] = {}
    if seed is not None:
        options["seed"] = seed
    df = load(source, symbol=symbol, interval=interval, start=start, end=end, **options)
    table = sweep(
        df,
        base,
        parse_grid(grid),
        costs,
        fill=fill,
        init_cash=init_cash,
        interval=interval,
        progress=progress,
        scheduler=scheduler,
    )
    if output is not None:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        flat = table.copy()
        flat.attrs = {}
        if path.suffix == ".parquet":
            flat.to_parquet(path, index=False)
        else:
            flat.to_csv(path, index=False)
    return table
