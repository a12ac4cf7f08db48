"""Honest validation: time-series splitters, walk-forward, holdout and cost stress.

Splitters return :class:`Split` objects (integer positions of train and test rows)::

    walk_forward_splits(len(df), train_size=2000, test_size=500)          # rolling
    walk_forward_splits(len(df), test_size=500, expanding=True, n_splits=4)
    holdout_split(len(df), test_size=0.3)
    purged_kfold_splits(len(df), 5, label_horizon=24, embargo=24)

The drivers run the event engine (:func:`quantlab.backtest.run`)::

    wf = walk_forward(df, ql.backtest.ma_cross(), {"fast": [5, 10, 20], "slow": [50, 100]},
                      train_size=2000, test_size=500, costs=costs, stress=(2.0, 3.0))
    wf.equity; wf.stats; wf.folds; wf.stress
    stress(df, strategy, costs, multipliers=(1, 2, 3))
    candidate_returns(df, strategy, grid, costs)      # (bars x candidates) for PBO

Walk-forward picks each fold's parameters on its train window only and evaluates them on
the following test window; the out-of-sample equity is the test windows' returns chained
in time. Nothing of a fold depends on bars after its test window ends (tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlab._typing import Fill, Gaps
from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import PreparedBars, prepare_bars, run
from quantlab.backtest.grid import grid_values, plan_grid
from quantlab.backtest.options import RunOptions, describe_costs, resolve_options
from quantlab.backtest.result import TRADE_COLUMNS, BacktestResult
from quantlab.backtest.stats import METRIC_DIRECTIONS, STAT_NAMES, compute_stats
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.config import check_int
from quantlab.errors import ConfigError

__all__ = [
    "Split",
    "WalkForwardResult",
    "candidate_returns",
    "expand_grid",
    "holdout",
    "holdout_split",
    "purged_kfold_splits",
    "scale_costs",
    "stress",
    "walk_forward",
    "walk_forward_splits",
]

Metric = str | Callable[[BacktestResult], float]


# ------------------------------------------------------------------------ splitters


@dataclass(frozen=True, eq=False)
class Split:
    """Integer row positions of one train/test split (both sorted, disjoint).

    Attributes
    ----------
    train, test : ndarray of int64
    fold : int
        Position of the split in its sequence.
    """

    train: np.ndarray
    test: np.ndarray
    fold: int = 0

    def __iter__(self):  # allows ``train, test = split`` like scikit-learn's tuples
        return iter((self.train, self.test))

    @property
    def test_start(self) -> int:
        """First test position."""
        return int(self.test[0])

    @property
    def test_end(self) -> int:
        """One past the last test position."""
        return int(self.test[-1]) + 1


#: Most walk-forward folds made without ``max_splits``: more usually means a bar count was
#: given where a fraction was meant.
MAX_SPLITS = 200


def _size(name: str, value: Any, n: int) -> int:
    """An int number of rows, or a fraction of ``n`` in (0, 1)."""
    if isinstance(value, float) and 0.0 < value < 1.0:
        return max(1, math.floor(value * n))
    return check_int(name, value, 1)


def _arange(a: int, b: int) -> np.ndarray:
    return np.arange(a, b, dtype=np.int64)


def walk_forward_splits(
    n_samples: int,
    *,
    test_size: int | float,
    train_size: int | float | None = None,
    n_splits: int | None = None,
    expanding: bool = False,
    gap: int = 0,
    anchor: Literal["end", "start"] = "end",
    max_splits: int | None = MAX_SPLITS,
) -> list[Split]:
    """Return walk-forward splits: consecutive test windows, each after its train window.

    Parameters
    ----------
    n_samples : int
        Number of rows (bars).
    test_size : int or float
        Rows per test window (a float in (0, 1) is a fraction of ``n_samples``).
    train_size : int or float, optional
        Rolling: rows per train window (required). Expanding: the minimum train length
        (default 1).
    n_splits : int, optional
        Number of test windows; default as many as fit.
    expanding : bool
        Train from row 0 (anchored, expanding) instead of a rolling window.
    gap : int
        Rows left out between the end of a train window and its test window (labels or
        positions that straddle the boundary).
    anchor : {"end", "start"}
        ``end`` (default): the last test window ends at the last row and the windows are
        laid backwards, as scikit-learn's ``TimeSeriesSplit`` does; ``start``: the first
        train window starts at row 0 and the windows are laid forwards, the last one cut
        at the end of the data (new bars only add windows; they never move old ones).
    max_splits : int, optional
        Refuse more test windows than this (default :data:`MAX_SPLITS`; None: no limit):
        ``test_size=2`` is two bars, not a fraction, and would make hundreds of folds.

    Returns
    -------
    list of Split

    Notes
    -----
    Test window :math:`k` is :math:`[a_k, a_k + h)`; its train window is
    :math:`[a_k - g - w, a_k - g)` (rolling, width :math:`w`) or :math:`[0, a_k - g)`
    (expanding). With ``expanding=True, anchor="end"`` and all windows fitting, the splits
    equal ``sklearn.model_selection.TimeSeriesSplit(n_splits, test_size=h, gap=g)``; rolling
    ones equal it with ``max_train_size=w`` when every train window is full.
    """
    n = check_int("n_samples", n_samples, 2)
    h = _size("test_size", test_size, n)
    g = check_int("gap", gap, 0)
    if anchor not in ("end", "start"):
        raise ConfigError(f"anchor: must be 'end' or 'start', got {anchor!r}")
    if expanding:
        w = 1 if train_size is None else _size("train_size", train_size, n)
    else:
        if train_size is None:
            raise ConfigError("train_size: required for rolling walk-forward (or expanding=True)")
        w = _size("train_size", train_size, n)
    k = None if n_splits is None else check_int("n_splits", n_splits, 1)
    first_ok = w + g  # earliest test start with a full train window
    if anchor == "end":
        fit = (n - first_ok) // h if n > first_ok else 0
        if k is None:
            k = fit
        if k < 1 or k > fit:
            raise ConfigError(
                f"walk_forward_splits: {n} rows cannot hold {k or 1} test windows of {h} rows "
                f"after a train window of {w} rows and a gap of {g}"
            )
        starts = [n - (k - i) * h for i in range(k)]
    else:
        starts = list(range(first_ok, n, h))
        if k is not None:
            starts = starts[:k]
        if not starts:
            raise ConfigError(
                f"walk_forward_splits: {n} rows leave no test rows after a train window of "
                f"{w} rows and a gap of {g}"
            )
    if max_splits is not None and len(starts) > check_int("max_splits", max_splits, 1):
        raise ConfigError(
            f"walk_forward_splits: test_size={test_size!r} makes {len(starts):,} test windows "
            f"of {h} bar(s) over {n:,} bars, more than max_splits={max_splits}; test_size "
            "(and train_size) expect a fraction of the bars in (0, 1), e.g. 0.2, or a bar "
            "count, e.g. 500; pass max_splits=None to allow this many folds"
        )
    out = []
    for i, a in enumerate(starts):
        end_train = a - g
        begin = 0 if expanding else end_train - w
        out.append(Split(_arange(begin, end_train), _arange(a, min(a + h, n)), i))
    return out


def holdout_split(n_samples: int, *, test_size: int | float = 0.3, gap: int = 0) -> Split:
    """Return one split: train on the first rows, test on the last ``test_size`` rows.

    ``gap`` rows between them are left out (the test rows are always the last ones).
    """
    n = check_int("n_samples", n_samples, 2)
    h = _size("test_size", test_size, n)
    g = check_int("gap", gap, 0)
    if n - h - g < 1:
        raise ConfigError(
            f"holdout_split: {n} rows leave no train rows for a test of {h} and a gap of {g}"
        )
    return Split(_arange(0, n - h - g), _arange(n - h, n), 0)


def purged_kfold_splits(
    n_samples: int,
    n_splits: int = 5,
    *,
    label_horizon: int | Sequence[int] | np.ndarray = 0,
    embargo: int | float = 0,
) -> list[Split]:
    """Return purged and embargoed k-fold splits (contiguous test folds, no shuffling).

    Parameters
    ----------
    n_samples : int
    n_splits : int
        Number of folds :math:`k` (sizes as ``sklearn.model_selection.KFold``: the first
        ``n % k`` folds have one extra row).
    label_horizon : int or array of int
        How far each sample's label looks ahead: an int :math:`h` (the label of row
        :math:`i` uses rows :math:`i .. i + h`) or, per row, the last row its label uses
        (``label_end[i] >= i``, López de Prado's ``t1``).
    embargo : int or float
        Rows dropped from training right after each test fold's labels end (a float in
        (0, 1) is a fraction of ``n_samples``, floored).

    Returns
    -------
    list of Split

    Notes
    -----
    López de Prado (2018), *Advances in Financial Machine Learning*, ch. 7. With the test
    fold :math:`[a, b)` and :math:`e_i` the last row of sample :math:`i`'s label:

    - purge: drop train row :math:`i < a` whose label reaches the test fold,
      :math:`e_i \\ge a`;
    - purge: drop train rows :math:`i \\ge b` that lie inside a test label,
      :math:`i \\le \\max_{j \\in [a, b)} e_j`;
    - embargo: drop the next ``embargo`` rows after that, :math:`i \\le \\max e_j + m`.

    For a constant horizon :math:`h` the train set is
    :math:`[0, a - h) \\cup [b + h + m, n)`; with :math:`h = m = 0` it is scikit-learn's
    ``KFold``.
    """
    n = check_int("n_samples", n_samples, 2)
    k = check_int("n_splits", n_splits, 2)
    if k > n:
        raise ConfigError(f"n_splits: {k} folds need at least {k} rows, got {n}")
    if isinstance(embargo, float) and 0.0 < embargo < 1.0:
        m = math.floor(embargo * n)
    else:
        m = check_int("embargo", embargo, 0)
    pos = np.arange(n, dtype=np.int64)
    if isinstance(label_horizon, int | np.integer) and not isinstance(label_horizon, bool):
        hz = check_int("label_horizon", label_horizon, 0)
        label_end = np.minimum(pos + hz, n - 1)
    else:
        label_end = np.asarray(label_horizon)
        if label_end.shape != (n,) or not np.issubdtype(label_end.dtype, np.integer):
            raise ConfigError(
                f"label_horizon: expected an int or an integer array of {n} label ends, got "
                f"{label_end.dtype} with shape {label_end.shape}"
            )
        bad = (label_end < pos) | (label_end >= n)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"label_horizon: row {i} has label end {int(label_end[i])}; must lie in "
                f"[{i}, {n - 1}]"
            )
        label_end = label_end.astype(np.int64)
    sizes = np.full(k, n // k, dtype=np.int64)
    sizes[: n % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for f in range(k):
        a, b = int(bounds[f]), int(bounds[f + 1])
        last = int(label_end[a:b].max())
        keep = ((pos < a) & (label_end < a)) | (pos > last + m) & (pos >= b)
        out.append(Split(pos[keep], _arange(a, b), f))
    return out


# ---------------------------------------------------------------------- candidates


def _label(combo: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in combo.items()) or "base"


def expand_grid(
    strategy: StrategyBase | dict | str, grid: Mapping[str, Sequence[Any]] | None = None
) -> tuple[list[StrategyBase], list[str], int]:
    """Return every valid strategy of a parameter grid, their labels and the number skipped.

    The grid is planned as a sweep's (:func:`quantlab.backtest.grid.plan_grid`): each value
    checked against its field's rule, cross-field rules applied, one validated strategy
    per remaining combination.

    Parameters
    ----------
    strategy : StrategyBase, mapping, YAML path or registered name
        The base configuration.
    grid : mapping of parameter name to values, optional
        Cartesian product over the values; dotted names reach nested configs
        (``"stops.stop_loss"``), stop shortcuts (``stop_loss``) work. None or empty: the
        base strategy alone. Cost keys are refused (pass ``costs=``).

    Returns
    -------
    (candidates, labels, n_invalid)
        Combinations that a strategy refuses (e.g. ``fast >= slow``) are skipped and
        counted in ``n_invalid``; an unknown parameter or a value its field refuses raises
        :class:`ConfigError` naming it.
    """
    base = load_strategy(strategy)
    if not grid:
        return [base], ["base"], 0
    if not isinstance(grid, Mapping):
        raise ConfigError(f"grid: expected a mapping of parameter -> values, got {grid!r}")
    for key, v in grid.items():
        if isinstance(v, str) or not isinstance(v, Sequence | np.ndarray) or len(v) == 0:
            raise ConfigError(f"grid[{key!r}]: expected a non-empty list of values, got {v!r}")
    plan = plan_grid(base, grid)
    costs = [a.key for a in plan.axes if a.on_costs]
    if costs:
        raise ConfigError(
            f"grid key {costs[0]!r}: a cost, not a strategy parameter; these candidates "
            "share one set of costs (pass costs=)"
        )
    pairs, idx = plan.pairs()
    raw = {k: grid_values(k, v) for k, v in grid.items()}
    labels = [
        _label({a.key: raw[a.key][int(i)] for a, i in zip(plan.axes, col, strict=True)})
        for col in idx.T
    ]
    return [s for s, _ in pairs], labels, plan.n_combinations - len(pairs)


# ------------------------------------------------------------------------- helpers


def _prepare(df: pd.DataFrame, interval: str | None, gaps: Gaps) -> PreparedBars:
    """Validate once (:func:`~quantlab.backtest.engine.prepare_bars`); every fold, candidate
    and cost multiplier then runs on slices of the prepared bars, never validated again."""
    return prepare_bars(df, interval, gaps)


def _score(res: BacktestResult, metric: Metric) -> float:
    v = float(metric(res)) if callable(metric) else float(res.stats[metric])
    return v if math.isfinite(v) else -math.inf


def _best(scores: np.ndarray, metric: Metric) -> int:
    """Index of the best score in the metric's better direction (a callable: higher);
    non-finite scores rank last, ties go to the first."""
    sign = 1 if callable(metric) else METRIC_DIRECTIONS.get(metric, 1)
    ranked = np.where(np.isfinite(scores), sign * scores, -np.inf)
    return int(np.argmax(ranked))


def _check_metric(metric: Metric) -> None:
    if not callable(metric) and metric not in STAT_NAMES:
        raise ConfigError(
            f"metric: {metric!r} is not a statistic; use one of {list(STAT_NAMES)} or a "
            "callable(result) -> float (higher is better); a statistic ranks in its better "
            "direction (max_drawdown: smaller)"
        )


def scale_costs(costs: Costs | float | dict | None, multiplier: float) -> Costs:
    """Return the costs with fees and every slippage term multiplied by ``multiplier``.

    Funding is a market cash flow, not a cost of trading, and is left as is; the slippage
    cap is scaled too (up to its 5000 bp ceiling).
    """
    c = make_costs(costs)
    m = float(multiplier)
    if not (math.isfinite(m) and m >= 0):
        raise ConfigError(f"multiplier: must be a finite number >= 0, got {multiplier!r}")
    return Costs(
        **{
            **c.model_dump(),
            "maker_fee": c.maker_fee * m,
            "taker_fee": c.taker_fee * m,
            "slippage_bps": c.slippage_bps * m,
            "vol_slippage": c.vol_slippage * m,
            "impact": c.impact * m,
            "max_slippage_bps": min(5000.0, max(c.max_slippage_bps * m, c.max_slippage_bps)),
        }
    )


def _starting_at(strategy: StrategyBase, first: pd.Timestamp) -> StrategyBase:
    """Return a copy of ``strategy`` whose target is 0 (flat) before bar ``first``.

    The copy is a subclass instance with the very same field values; its target at and
    after ``first`` is the original's, computed on the same bars.
    """
    base = type(strategy)

    def target(self: StrategyBase, df: pd.DataFrame) -> pd.Series:
        t = base.target(self, df)
        return t.where(df.index >= first, 0.0)

    cls = type(base.__name__, (base,), {"target": target, "__module__": base.__module__})
    values = {name: getattr(strategy, name) for name in base.model_fields}
    return cls.model_construct(_fields_set=set(strategy.model_fields_set), **values)


@dataclass(frozen=True)
class _Window:
    returns: pd.Series
    positions: pd.Series
    trades: pd.DataFrame
    stats: pd.Series
    totals: dict[str, float]


def _run_window(
    bars: PreparedBars,
    strategy: StrategyBase,
    test_start: int,
    test_end: int,
    *,
    costs: Costs,
    fill: Fill,
    init_cash: float,
    lookback: int | None,
) -> _Window:
    """Trade ``strategy`` over rows ``[test_start, test_end)`` from a flat, fresh account.

    The strategy sees history (for its indicators) from ``test_start - lookback`` (or row
    0); its first order is the one decided at the close before the window (``next_open``:
    filled at the window's first open) or at the window's first close (``close``).
    """
    begin = 0 if lookback is None else max(0, test_start - lookback)
    decide = test_start - 1 if fill == "next_open" else test_start
    decide = max(decide, begin)
    sub = bars.slice(begin, test_end)
    masked = _starting_at(strategy, sub.df.index[decide - begin])
    res = run(sub, masked, costs, fill=fill, init_cash=init_cash)
    off = test_start - begin
    eq = res.equity.to_numpy()
    prev = np.concatenate([[init_cash], eq[:-1]])[off:]
    # flat before the window: the account still holds exactly init_cash there
    assert off == 0 or eq[off - 1] == init_cash, "account moved before the test window"
    rets = eq[off:] / prev - 1.0
    index = sub.df.index[off:]
    trades = res.trades.copy()
    if len(trades):
        trades["entry_idx"] = trades["entry_idx"] + begin
        trades["exit_idx"] = trades["exit_idx"] + begin
    fees = float(res.fees.iloc[off:].sum())
    funding = float(res.funding.iloc[off:].sum())
    totals = {
        "fees_paid": fees,
        "funding_paid": funding,
        "slippage_paid": float(res.stats["slippage_paid"]),
        "turnover_notional": float(res.stats["turnover"]) * float(np.mean(eq)),
    }
    window_eq = eq[off:]
    stats = compute_stats(
        window_eq,
        trades,
        init_cash=init_cash,
        bar_seconds=res.bar_seconds,
        positions=res.positions.to_numpy()[off:],
        fees_paid=fees,
        funding_paid=funding,
        slippage_paid=totals["slippage_paid"],
        turnover_notional=totals["turnover_notional"],
    )
    return _Window(
        returns=pd.Series(rets, index=index, name="returns"),
        positions=res.positions.iloc[off:],
        trades=trades,
        stats=stats,
        totals={**totals, "bar_seconds": res.bar_seconds},
    )


def _stitch(windows: Sequence[_Window], init_cash: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    returns = pd.concat([w.returns for w in windows]).rename("returns")
    equity = (init_cash * (1.0 + returns).cumprod()).rename("equity")
    trades = pd.concat([w.trades for w in windows if len(w.trades)] or [windows[0].trades])
    positions = pd.concat([w.positions for w in windows])
    stats = compute_stats(
        equity.to_numpy(),
        trades,
        init_cash=init_cash,
        bar_seconds=windows[0].totals["bar_seconds"],
        positions=positions.to_numpy(),
        fees_paid=sum(w.totals["fees_paid"] for w in windows),
        funding_paid=sum(w.totals["funding_paid"] for w in windows),
        slippage_paid=sum(w.totals["slippage_paid"] for w in windows),
        turnover_notional=sum(w.totals["turnover_notional"] for w in windows),
    )
    return returns, equity, stats


# --------------------------------------------------------------------- walk-forward


@dataclass(frozen=True, repr=False, eq=False)
class WalkForwardResult:
    """The outcome of :func:`walk_forward` (or :func:`holdout`).

    Attributes
    ----------
    returns : pd.Series
        Out-of-sample per-bar returns, the test windows one after the other.
    equity : pd.Series
        ``init_cash * cumprod(1 + returns)``: the stitched out-of-sample equity.
    stats : pd.Series
        :func:`~quantlab.backtest.compute_stats` of the stitched equity and the test
        windows' trades (cost totals summed over the windows' accounts).
    trades : pd.DataFrame
        Every test window's trades (positions in the full frame) with a ``fold`` column.
    folds : pd.DataFrame
        One row per fold: train/test boundaries (times), the chosen candidate's label,
        its train score and its test-window statistics.
    train_scores : pd.DataFrame
        The selection metric of every candidate (columns) on every train window (rows).
    chosen : list of StrategyBase
        The configuration chosen for each fold.
    candidates, labels : list
        The configurations tried and their labels.
    n_trials : int
        Number of configurations tried per fold (the trial count for the DSR).
    n_invalid : int
        Grid combinations the strategy refused.
    stress : pd.DataFrame
        Stitched out-of-sample statistics (columns) with the same choices and costs
        multiplied by each factor (rows; 1.0 is the base run).
    splits : list of Split
    metric : str
    costs : Costs
        The costs every fold was charged (the stress rows multiply them).
    """

    returns: pd.Series
    equity: pd.Series
    stats: pd.Series
    trades: pd.DataFrame
    folds: pd.DataFrame
    train_scores: pd.DataFrame
    chosen: list[StrategyBase]
    candidates: list[StrategyBase]
    labels: list[str]
    n_trials: int
    n_invalid: int
    stress: pd.DataFrame
    splits: list[Split] = field(default_factory=list)
    metric: str = "sharpe"
    costs: Costs | None = None

    def __repr__(self) -> str:
        s = self.stats
        costs = "?" if self.costs is None else describe_costs(self.costs)
        return (
            f"WalkForwardResult({len(self.folds)} folds, {len(self.returns)} OOS bars, "
            f"{self.n_trials} trials, sharpe={s['sharpe']:.3f}, "
            f"total_return={s['total_return']:.4%}, n_trades={int(s['n_trades'])}, "
            f"costs={costs!r})"
        )


def walk_forward(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    splits: Sequence[Split] | None = None,
    test_size: int | float | None = None,
    train_size: int | float | None = None,
    n_splits: int | None = None,
    expanding: bool = False,
    gap: int = 0,
    anchor: Literal["end", "start"] = "end",
    metric: Metric = "sharpe",
    costs: Costs | float | dict | str | RunOptions | None = None,
    stress: Sequence[float] = (2.0, 3.0),
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    lookback: int | None = None,
    max_splits: int | None = MAX_SPLITS,
    options: RunOptions | None = None,
) -> WalkForwardResult:
    """Walk forward: choose parameters on each train window, trade them on the next test window.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    strategy : StrategyBase, mapping or YAML path
        The base configuration.
    grid : mapping, optional
        Parameter values to choose from (see :func:`expand_grid`); None: no choice, the
        base strategy is simply evaluated out of sample window by window.
    splits : sequence of Split, optional
        Explicit splits (each test window contiguous and after its train window);
        default :func:`walk_forward_splits` with ``test_size``, ``train_size``,
        ``n_splits``, ``expanding``, ``gap`` and ``anchor``.
    metric : str or callable
        The selection criterion, maximised on each train window: a statistic name (e.g.
        ``"sharpe"``, ``"total_return"``) or ``callable(result) -> float``. A NaN
        score (e.g. no trade) ranks last; ties go to the first candidate.
    costs : Costs, float or mapping, optional
    stress : sequence of float
        Cost multipliers to re-run the test windows with, keeping each fold's choice.
    fill, init_cash, interval, gaps
        As in :func:`quantlab.backtest.run`.
    lookback : int, optional
        Bars of history before each test window the chosen strategy may read (indicator
        warm-up); default all earlier bars.
    max_splits : int, optional
        Refuse more folds than this (see :func:`walk_forward_splits`).

    Returns
    -------
    WalkForwardResult

    Notes
    -----
    Each candidate is backtested on the train rows alone; the best by ``metric`` is then
    traded on the test window from a flat account holding ``init_cash``, its indicators
    computed on bars before and in the window only. Its first order is the one its target
    asks for at the close just before the window (filled at the window's first open with
    ``fill="next_open"``). A position still open at a window's end is marked to the last
    close, as :func:`~quantlab.backtest.run` does. The stitched equity chains the windows'
    returns. A fold therefore depends only on rows before its test window ends.
    """
    _check_metric(metric)
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    fill, init_cash = opts.fill, opts.init_cash
    bars = _prepare(df, opts.interval, opts.gaps)
    df = bars.df
    cost = opts.costs
    candidates, labels, n_invalid = expand_grid(strategy, grid)
    n = len(df)
    if splits is None:
        if test_size is None:
            raise ConfigError("walk_forward: pass test_size (and train_size), or splits")
        splits = walk_forward_splits(
            n,
            test_size=test_size,
            train_size=train_size,
            n_splits=n_splits,
            expanding=expanding,
            gap=gap,
            anchor=anchor,
            max_splits=max_splits,
        )
    splits = list(splits)
    if not splits:
        raise ConfigError("splits: empty")
    prev_end = -1
    for sp in splits:
        te, tr = np.asarray(sp.test), np.asarray(sp.train)
        if te.size == 0 or tr.size < 2:
            raise ConfigError(f"split {sp.fold}: needs test rows and at least 2 train rows")
        if te[-1] >= n or tr[0] < 0 or tr[-1] >= n:
            raise ConfigError(f"split {sp.fold}: positions beyond the {n} bars")
        if np.any(np.diff(te) != 1) or np.any(np.diff(tr) != 1):
            raise ConfigError(
                f"split {sp.fold}: walk-forward needs contiguous train and test windows "
                "(k-fold splits are for models, not for trading a path)"
            )
        if tr[-1] >= te[0]:
            raise ConfigError(
                f"split {sp.fold}: train rows end at {int(tr[-1])}, not before the test "
                f"window starts at {int(te[0])} (no look-ahead)"
            )
        if te[0] <= prev_end:
            raise ConfigError(f"split {sp.fold}: test windows must not overlap or go back")
        prev_end = int(te[-1])
    multipliers = [1.0, *(float(m) for m in stress if float(m) != 1.0)]
    run_kw = {"fill": fill, "init_cash": init_cash}
    scores = np.full((len(splits), len(candidates)), np.nan)
    chosen: list[StrategyBase] = []
    windows: dict[float, list[_Window]] = {m: [] for m in multipliers}
    rows = []
    for f, sp in enumerate(splits):
        train = bars.slice(int(sp.train[0]), int(sp.train[-1]) + 1)
        for j, cand in enumerate(candidates):
            scores[f, j] = _score(run(train, cand, cost, **run_kw), metric)
        best = _best(scores[f], metric)  # better direction; NaN last; first of ties
        pick = candidates[best]
        chosen.append(pick)
        for m in multipliers:
            w = _run_window(
                bars,
                pick,
                sp.test_start,
                sp.test_end,
                costs=cost if m == 1.0 else scale_costs(cost, m),
                lookback=lookback,
                **run_kw,
            )
            w.trades.insert(0, "fold", f)
            windows[m].append(w)
        w = windows[1.0][-1]
        rows.append(
            {
                "fold": f,
                "train_start": df.index[int(sp.train[0])],
                "train_end": df.index[int(sp.train[-1])],
                "test_start": df.index[sp.test_start],
                "test_end": df.index[sp.test_end - 1],
                "chosen": labels[best],
                "train_score": scores[f, best],
                "test_sharpe": w.stats["sharpe"],
                "test_return": w.stats["total_return"],
                "test_max_drawdown": w.stats["max_drawdown"],
                "test_trades": w.stats["n_trades"],
            }
        )
    returns, equity, stats = _stitch(windows[1.0], init_cash)
    stress_rows = {m: _stitch(windows[m], init_cash)[2] for m in multipliers}
    trades = pd.concat([w.trades for w in windows[1.0]], ignore_index=True)
    trades = trades[["fold", *TRADE_COLUMNS]] if len(trades) else trades
    scores[~np.isfinite(scores)] = np.nan
    return WalkForwardResult(
        returns=returns,
        equity=equity,
        stats=stats,
        trades=trades,
        folds=pd.DataFrame(rows).set_index("fold"),
        train_scores=pd.DataFrame(scores, columns=labels).rename_axis("fold"),
        chosen=chosen,
        candidates=candidates,
        labels=labels,
        n_trials=len(candidates),
        n_invalid=n_invalid,
        stress=pd.DataFrame(stress_rows).T.rename_axis("cost_multiplier"),
        splits=splits,
        metric=metric if isinstance(metric, str) else getattr(metric, "__name__", "custom"),
        costs=cost,
    )


def holdout(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    test_size: int | float = 0.3,
    gap: int = 0,
    **kwargs: Any,
) -> WalkForwardResult:
    """Choose on the first rows, evaluate once on the last ``test_size`` rows.

    The one-fold case of :func:`walk_forward` (same keywords) with
    :func:`holdout_split`; the test rows are never seen by the selection.
    """
    n = len(df)
    return walk_forward(
        df, strategy, grid, splits=[holdout_split(n, test_size=test_size, gap=gap)], **kwargs
    )


# ---------------------------------------------------------------- stress, matrices


def stress(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    costs: Costs | float | dict | str | RunOptions | None = None,
    multipliers: Sequence[float] = (1.0, 2.0, 3.0),
    *,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """Return the statistics of one strategy with its costs multiplied by each factor.

    Returns
    -------
    pd.DataFrame
        One row per multiplier (index ``cost_multiplier``), the columns of
        :data:`~quantlab.backtest.STAT_NAMES`. Fees and all slippage terms scale
        (:func:`scale_costs`); funding does not.
    """
    if not multipliers:
        raise ConfigError("multipliers: empty")
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    bars = _prepare(df, opts.interval, opts.gaps)
    rows = {}
    for m in multipliers:
        c = scale_costs(opts.costs, m)
        res = run(bars, strategy, c, fill=opts.fill, init_cash=opts.init_cash)
        rows[float(m)] = res.stats
    out = pd.DataFrame(rows).T.rename_axis("cost_multiplier")
    out.attrs["costs"] = opts.costs.model_dump(mode="json")
    out.attrs["costs_text"] = describe_costs(opts.costs)
    return out


def candidate_returns(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    costs: Costs | float | dict | str | RunOptions | None = None,
    *,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    options: RunOptions | None = None,
) -> pd.DataFrame:
    """Return every grid candidate's per-bar returns, one column per candidate.

    The (bars x candidates) matrix that :func:`quantlab.backtest.overfitting.pbo` takes;
    each column is :attr:`BacktestResult.returns` over the whole frame. ``attrs`` holds
    ``n_invalid`` (combinations refused) and ``stats`` (a frame of each candidate's
    statistics, e.g. its ``sharpe`` column for the Deflated Sharpe Ratio).
    """
    opts = resolve_options(
        options, costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    bars = _prepare(df, opts.interval, opts.gaps)
    df = bars.df
    candidates, labels, n_invalid = expand_grid(strategy, grid)
    cols, stats = {}, {}
    for cand, lab in zip(candidates, labels, strict=True):
        res = run(bars, cand, opts.costs, fill=opts.fill, init_cash=opts.init_cash)
        cols[lab] = res.returns.to_numpy()
        stats[lab] = res.stats
    out = pd.DataFrame(cols, index=df.index)
    out.attrs["n_invalid"] = n_invalid
    out.attrs["stats"] = pd.DataFrame(stats).T
    out.attrs["costs"] = opts.costs.model_dump(mode="json")
    return out
