"""Spread a sweep over a dask.distributed cluster.

When one machine is not enough::

    # on the cluster: dask scheduler; dask worker tcp://head:8786 --nthreads 1 (one per core)
    table = ql.backtest.sweep(df, strategy, grid, costs, scheduler="tcp://head:8786")
    quantlab sweep --strategy ma_cross --grid fast=5:50:5 slow=20:200:10 \\
        --scheduler tcp://head:8786

The bars and the grid plan go to every worker once; the combinations are cut into
contiguous chunks of index rows, each chunk runs the fused sweep kernel on a worker, and
the rows are joined in grid order. Every combination is computed exactly as on one
machine, so the table is identical to the local :func:`~quantlab.backtest.sweeps.sweep`
(tested with a ``LocalCluster``). The generic helpers (:func:`client_for`,
:func:`map_on_cluster`) live in :mod:`quantlab.parallel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from quantlab._typing import Fill, Gaps
from quantlab.backtest.costs import Costs
from quantlab.backtest.engine import prepare_bars
from quantlab.backtest.grid import plan_grid
from quantlab.backtest.options import resolve_options
from quantlab.backtest.strategy import StrategyBase
from quantlab.backtest.sweeps import sweep
from quantlab.errors import ConfigError
from quantlab.parallel import client_for, cluster_threads, map_on_cluster

__all__ = ["client_for", "map_on_cluster", "sweep_distributed"]


def sweep_distributed(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
    *,
    scheduler: Any,
    n_parts: int | None = None,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`~quantlab.backtest.sweeps.sweep` with its chunks spread over a cluster.

    Parameters
    ----------
    df, strategy, grid, costs, fill, init_cash, interval, gaps
        As in :func:`~quantlab.backtest.sweeps.sweep`.
    scheduler : str, Client or cluster
        Where to run (see :func:`quantlab.parallel.client_for`).
    n_parts : int, optional
        Parts to cut the combinations into; default twice the cluster's worker threads.
    progress : bool
        A tqdm bar over finished parts.
    **kwargs
        Further keywords of :func:`~quantlab.backtest.sweeps.sweep` (``top``, ``output``).

    Returns
    -------
    pd.DataFrame
        The same table (and ``attrs``) as the local sweep, plus ``attrs["n_parts"]``.
    """
    if n_parts is not None and (isinstance(n_parts, bool) or not isinstance(n_parts, int)):
        raise ConfigError(f"n_parts: must be a positive integer, got {n_parts!r}")
    if n_parts is not None and n_parts < 1:
        raise ConfigError(f"n_parts: must be a positive integer, got {n_parts!r}")
    opts = resolve_options(
        costs=costs, fill=fill, init_cash=init_cash, interval=interval, gaps=gaps
    )
    bars = prepare_bars(df, opts.interval, opts.gaps)  # bad bars fail here, not on a worker
    plan = plan_grid(strategy, grid, opts.costs)
    with client_for(scheduler) as client:
        parts = n_parts or 2 * cluster_threads(client)
        size = max(1, -(-plan.n_valid // min(parts, plan.n_valid)))
        return sweep(
            bars,
            strategy,
            grid,
            options=opts,
            chunk_size=size,
            progress=progress,
            executor=client,
            **kwargs,
        )
