"""Spread a sweep (or any batch of independent jobs) over a dask.distributed cluster.

When one machine is not enough::

    # on the cluster: dask scheduler; dask worker tcp://head:8786 --nthreads 1 (one per core)
    table = ql.backtest.sweep(df, strategy, grid, costs, scheduler="tcp://head:8786")
    quantlab sweep --strategy ma_cross --grid fast=5:50:5 slow=20:200:10 \\
        --scheduler tcp://head:8786

The bars are sent to every worker once; the combinations are cut into contiguous parts,
each part runs the fused sweep kernel on a worker, and the parts are joined in grid order.
Every combination is computed exactly as on one machine, so the table is identical to the
local :func:`~quantlab.backtest.sweeps.sweep` (tested with a ``LocalCluster``).

``scheduler`` may be an address (``"tcp://host:8786"``), a ``distributed.Client`` or a
cluster object (``LocalCluster(...)``); a client this module opens is closed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import pandas as pd

from quantlab.backtest.costs import Costs
from quantlab.backtest.strategy import StrategyBase
from quantlab.backtest.sweeps import (
    _prepare,
    _signal_mode,
    expand_sweep,
    finish_table,
    sweep_candidates,
)
from quantlab.errors import ConfigError

__all__ = ["client_for", "map_on_cluster", "sweep_distributed"]

Fill = Literal["next_open", "close"]


@contextmanager
def client_for(scheduler: Any) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for an address, a client or a cluster object.

    A client opened here (from an address or a cluster) is closed on exit; a client passed
    in is left open.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - declared dependency
        raise ConfigError(
            "scheduler: dask.distributed is not installed (pip install 'dask[distributed]')"
        ) from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if isinstance(scheduler, str):
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://", "ws://")):
            raise ConfigError(
                f"scheduler: {scheduler!r} is not a dask scheduler address (tcp://host:8786)"
            )
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"scheduler: cannot reach {scheduler!r} ({exc})") from None
    elif hasattr(scheduler, "scheduler_address"):
        client = Client(scheduler)
    else:
        raise ConfigError(
            f"scheduler: expected an address, a distributed.Client or a cluster, got "
            f"{type(scheduler).__name__}"
        )
    try:
        yield client
    finally:
        client.close()


def _n_workers_threads(client: Any) -> int:
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def map_on_cluster(
    func: Callable[..., Any],
    items: Sequence[Any],
    scheduler: Any,
    *,
    progress: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """Run ``func(item, **kwargs)`` for every item on the cluster; return results in order.

    The building block for batches of independent jobs (sweep parts, report notebooks).
    An exception in a job is raised here, after the other jobs were cancelled.
    """
    from distributed import as_completed

    from quantlab.backtest.sweeps import _progress_bar

    items = list(items)
    if not items:
        return []
    with client_for(scheduler) as client:
        shared = {k: client.scatter(v, broadcast=True) if _big(v) else v for k, v in kwargs.items()}
        futures = [client.submit(func, item, pure=False, **shared) for item in items]
        try:
            with _progress_bar(len(futures), progress, "cluster") as bar:
                for _ in as_completed(futures):
                    bar.update(1)
            return client.gather(futures)
        finally:
            for f in futures:
                f.cancel()


def _big(v: Any) -> bool:
    return isinstance(v, pd.DataFrame | pd.Series)


def _sweep_part(pairs: list[tuple[StrategyBase, Costs]], **kwargs: Any) -> pd.DataFrame:
    return sweep_candidates(kwargs.pop("df"), pairs, progress=False, **kwargs)


def sweep_distributed(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
    *,
    scheduler: Any,
    n_parts: int | None = None,
    fill: Fill = "next_open",
    init_cash: float = 10_000.0,
    interval: str | None = None,
    gaps: Literal["error", "ffill", "allow"] = "error",
    progress: bool = False,
) -> pd.DataFrame:
    """Run :func:`~quantlab.backtest.sweeps.sweep` with its combinations spread over a cluster.

    Parameters
    ----------
    df, strategy, grid, costs, fill, init_cash, interval, gaps
        As in :func:`~quantlab.backtest.sweeps.sweep`.
    scheduler : str, Client or cluster
        Where to run (see the module docstring).
    n_parts : int, optional
        Parts to cut the combinations into; default twice the cluster's worker threads.
    progress : bool
        A tqdm bar over finished parts.

    Returns
    -------
    pd.DataFrame
        The same table (and ``attrs``) as the local sweep, plus ``attrs["n_parts"]``.
    """
    started = time.perf_counter()
    pairs, params, n_invalid = expand_sweep(strategy, grid, costs)
    df, _ = _prepare(df, interval, gaps)  # bad bars fail here, not on a worker
    if n_parts is not None and (isinstance(n_parts, bool) or not isinstance(n_parts, int)):
        raise ConfigError(f"n_parts: must be a positive integer, got {n_parts!r}")
    if n_parts is not None and n_parts < 1:
        raise ConfigError(f"n_parts: must be a positive integer, got {n_parts!r}")
    with client_for(scheduler) as client:
        parts_wanted = n_parts or 2 * _n_workers_threads(client)
        size = -(-len(pairs) // min(parts_wanted, len(pairs)))
        parts = [pairs[i : i + size] for i in range(0, len(pairs), size)]
        results = map_on_cluster(
            _sweep_part,
            parts,
            client,
            progress=progress,
            df=df,
            fill=fill,
            init_cash=init_cash,
            interval=interval,
            gaps=gaps,
        )
    stats = pd.concat(results, ignore_index=True)
    table = finish_table(
        params,
        stats,
        strategy=pairs[0][0],
        grid=grid,
        n_invalid=n_invalid,
        n_bars=len(df),
        kind=_signal_mode(pairs),
        elapsed=time.perf_counter() - started,
    )
    table.attrs["n_parts"] = len(parts)
    return table
