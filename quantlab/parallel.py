"""Run batches of independent jobs: in process, on threads, on processes or on a Dask cluster.

The one helper every batch in quantlab goes through (sweep chunks, search trials, report
notebooks)::

    results = map_jobs(func, items, executor="processes")       # or "threads", None
    results = map_jobs(func, items, executor="tcp://head:8786") # a dask.distributed cluster

``executor`` is None (here, one after the other), ``"threads"``, ``"processes"`` (spawned
workers, one numba thread each), a
:class:`concurrent.futures.Executor`, a Dask scheduler address, a ``distributed.Client``
or a cluster object (``LocalCluster(...)``). Results come back in the order of ``items``;
the first failing job raises here after the others were cancelled.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from quantlab.errors import ConfigError

__all__ = ["client_for", "is_cluster", "map_jobs", "map_on_cluster", "progress_bar"]

_ADDRESS_PREFIXES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://")


def progress_bar(total: int, enabled: bool, desc: str, unit: str = "job") -> Any:
    """Return a tqdm bar (rate shown as ``unit``/s), disabled unless ``enabled``."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total, disable=not enabled, desc=desc, unit=unit, unit_scale=True, leave=False
    )


def is_cluster(executor: Any) -> bool:
    """Whether ``executor`` names a Dask cluster (an address, a Client or a cluster)."""
    if isinstance(executor, str):
        return executor.startswith(_ADDRESS_PREFIXES)
    if hasattr(executor, "scheduler_address"):
        return True
    return type(executor).__name__ == "Client" and hasattr(executor, "submit")


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
        if not scheduler.startswith(_ADDRESS_PREFIXES):
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


def cluster_threads(client: Any) -> int:
    """Return the total worker threads of a connected cluster (at least 1)."""
    info = client.scheduler_info()
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))


def _big(v: Any) -> bool:
    import numpy as np
    import pandas as pd

    if isinstance(v, pd.DataFrame | pd.Series):
        return True
    return isinstance(v, np.ndarray) and v.nbytes > 1 << 20


def map_on_cluster(
    func: Callable[..., Any],
    items: Sequence[Any],
    scheduler: Any,
    *,
    progress: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """Run ``func(item, **kwargs)`` for every item on a Dask cluster; results in order.

    Large keyword values (frames, arrays over 1 MB) are scattered to every worker once.
    An exception in a job is raised here, after the other jobs were cancelled.
    """
    from distributed import as_completed

    items = list(items)
    if not items:
        return []
    with client_for(scheduler) as client:
        shared = {k: client.scatter(v, broadcast=True) if _big(v) else v for k, v in kwargs.items()}
        futures = [client.submit(func, item, pure=False, **shared) for item in items]
        try:
            with progress_bar(len(futures), progress, "cluster") as bar:
                for _ in as_completed(futures):
                    bar.update(1)
            return client.gather(futures)
        finally:
            for f in futures:
                f.cancel()


def _one_thread() -> None:
    """Give each worker process one numba thread (the pool already uses every core)."""
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


def _call(job: tuple[Callable[..., Any], Any, dict[str, Any]]) -> Any:
    func, item, kwargs = job
    return func(item, **kwargs)


def map_jobs(
    func: Callable[..., Any],
    items: Sequence[Any],
    executor: Any = None,
    *,
    progress: bool = False,
    desc: str = "jobs",
    **kwargs: Any,
) -> list[Any]:
    """Run ``func(item, **kwargs)`` for every item on ``executor``; return results in order.

    Parameters
    ----------
    func : callable
        A module-level function (it travels to processes and workers by pickle).
    items : sequence
        One job each.
    executor : None, "threads", "processes", Executor, address, Client or cluster
        Where to run (see the module docstring).
    progress : bool
        A tqdm bar over finished jobs.
    **kwargs
        Passed to every call (scattered once to a cluster when large).
    """
    items = list(items)
    if executor is None:
        out = []
        with progress_bar(len(items), progress, desc) as bar:
            for item in items:
                out.append(func(item, **kwargs))
                bar.update(1)
        return out
    if is_cluster(executor):
        return map_on_cluster(func, items, executor, progress=progress, **kwargs)
    own: Executor | None = None
    if executor == "threads":
        own = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    elif executor == "processes":
        # spawn, not fork: a process whose numba threads run on OpenMP must not fork
        own = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_one_thread,
        )
    elif not isinstance(executor, Executor):
        raise ConfigError(
            "executor: expected None, 'threads', 'processes', a concurrent.futures.Executor "
            f"or a dask scheduler address/Client/cluster, got {executor!r}"
        )
    pool = own or executor
    try:
        futures = [pool.submit(_call, (func, item, kwargs)) for item in items]
        out = []
        with progress_bar(len(futures), progress, desc) as bar:
            for f in futures:
                out.append(f.result())
                bar.update(1)
        return out
    finally:
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
