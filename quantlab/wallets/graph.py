"""The co-trading graph of wallets and its communities (Louvain).

Two wallets co-trade when they swap the same token in the same direction within
``window`` of each other; the edge weight counts such pairs of swaps. Copy-traders and
the wallets of one operator light up as dense communities; noise traders meet by chance
and stay loosely attached. Communities come from
:func:`networkx.algorithms.community.louvain_communities` (seeded: same graph, same
seed, same partition) and are scored against a known partition by normalised mutual
information.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from quantlab.data.intervals import interval_timedelta
from quantlab.errors import ConfigError, DataError

__all__ = ["clusters", "co_trading_edges", "co_trading_graph", "louvain", "nmi"]


def co_trading_edges(
    swaps: pd.DataFrame, window: str = "10m", *, max_lag: int = 10_000
) -> pd.DataFrame:
    """Return the weighted co-trading edges ``a b weight`` (``a < b``).

    Parameters
    ----------
    swaps : pd.DataFrame
        A swap frame; ``token`` and ``side`` group the swaps.
    window : str
        Largest time between the two swaps of a pair.
    max_lag : int
        Safety cap on how many later swaps one swap is paired with.

    Notes
    -----
    Within each (token, side) group, sorted by time, swap ``i`` pairs with every later
    swap ``i + d`` no more than ``window`` later (vectorised over ``i``, looping over
    ``d`` with the swaps that still have a partner); pairs of one wallet with itself are
    dropped and the rest counted per wallet pair.
    """
    a, b, weight, wallets, _ = _edge_codes(swaps, window, max_lag)
    names = np.asarray(wallets, dtype=object)
    return pd.DataFrame({"a": names[a], "b": names[b], "weight": weight})


def _edge_codes(
    swaps: pd.DataFrame, window: str, max_lag: int = 10_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index, np.ndarray]:
    """Return edges as wallet codes ``(a, b, weight)``, the wallets and their swap counts."""
    if not {"token", "side", "wallet", "time"} <= set(swaps.columns):
        raise DataError("co_trading_edges: expected a swap frame (token, side, wallet, time)")
    w_ns = int(interval_timedelta(window) / pd.Timedelta(1, "ns"))
    df = swaps[swaps["side"] != 0]
    codes, wallets = pd.factorize(df["wallet"], sort=True)
    n_w = len(wallets)
    n_swaps = np.bincount(codes, minlength=n_w)
    group = pd.factorize(df["token"].astype(str) + ":" + df["side"].astype(str))[0]
    t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((t, group))
    g, t, w = group[order], t[order], codes[order].astype(np.int64)
    keys = []
    # swap i pairs with i + d while the later swap is in the same group and the window;
    # once (i, i + d) fails, every later partner of i fails too: i leaves the candidates
    cand = np.arange(max(len(t) - 1, 0))
    d = 1
    while cand.size and d <= max_lag:
        j = cand + d
        inside = j < len(t)
        cand, j = cand[inside], j[inside]
        ok = (g[j] == g[cand]) & (t[j] - t[cand] <= w_ns)
        cand, j = cand[ok], j[ok]
        lo, hi = w[cand], w[j]
        diff = lo != hi
        lo, hi = lo[diff], hi[diff]
        keys.append(np.minimum(lo, hi) * n_w + np.maximum(lo, hi))
        d += 1
    empty = np.empty(0, dtype=np.int64)
    if not keys:
        return empty, empty, np.empty(0), wallets, n_swaps
    uk, counts = np.unique(np.concatenate(keys), return_counts=True)
    return uk // n_w, uk % n_w, counts.astype(np.float64), wallets, n_swaps


def co_trading_graph(
    swaps: pd.DataFrame,
    window: str = "10m",
    min_weight: float = 1.0,
    top_k: int | None = None,
) -> Any:
    r"""Return the co-trading graph as a weighted :class:`networkx.Graph`.

    Parameters
    ----------
    swaps : pd.DataFrame
        A swap frame.
    window : str
        Co-trading window.
    min_weight : float
        Edges lighter than this are left out (a single chance meeting weighs 1).
    top_k : int, optional
        Keep only each wallet's ``top_k`` strongest ties (an edge stays if it is among
        the top of either end), strength being the association
        :math:`w_{ab} / \sqrt{n_a n_b}` (co-trades over the geometric mean of the two
        wallets' swap counts), so busy wallets do not tie to everyone by chance.

    Notes
    -----
    Every wallet of ``swaps`` is a node (isolated if it never co-trades). Edge weights
    are the co-trade counts. The strongest ties are chosen among all edges, then the
    light ones dropped.
    """
    import networkx as nx

    a, b, weight, wallets, n_swaps = _edge_codes(swaps, window)
    best = np.ones(len(a), dtype=bool)
    if top_k is not None:
        if top_k < 1:
            raise ConfigError(f"co_trading_graph: top_k must be >= 1, got {top_k!r}")
        score = weight / np.sqrt(n_swaps[a].astype(float) * n_swaps[b])
        best[:] = False
        for node in (a, b):
            order = np.lexsort((-score, node))  # by node, strongest first
            ranked = node[order]
            first = np.r_[True, ranked[1:] != ranked[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
            best[order[np.arange(len(order)) - start < top_k]] = True
    best &= weight >= min_weight
    names = np.asarray(wallets, dtype=object)
    keep = pd.DataFrame({"a": names[a[best]], "b": names[b[best]], "weight": weight[best]})
    graph = nx.Graph()
    graph.add_nodes_from(pd.unique(swaps["wallet"]))
    graph.add_weighted_edges_from(keep[["a", "b", "weight"]].itertuples(index=False, name=None))
    return graph


def louvain(graph: Any, *, resolution: float = 1.0, seed: int = 0) -> pd.Series:
    """Return the Louvain community of every node (0 = largest), a Series on the nodes.

    Wraps :func:`networkx.algorithms.community.louvain_communities` (``weight="weight"``,
    seeded, so the partition is reproducible).
    """
    from networkx.algorithms.community import louvain_communities

    if resolution <= 0:
        raise ConfigError(f"louvain: resolution must be > 0, got {resolution!r}")
    comms = louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
    comms = sorted(comms, key=lambda c: (-len(c), min(map(str, c))))
    label = {node: i for i, c in enumerate(comms) for node in c}
    nodes = sorted(graph.nodes, key=str)
    return pd.Series(
        [label[n] for n in nodes], index=pd.Index(nodes, name="wallet"), name="cluster"
    )


def clusters(
    swaps: pd.DataFrame,
    window: str = "10m",
    *,
    min_weight: float = 2.0,
    top_k: int | None = 5,
    min_size: int = 3,
    resolution: float = 1.0,
    seed: int = 0,
) -> pd.Series:
    """Cluster wallets by co-trading: graph, Louvain, small communities marked ``-1``.

    Parameters
    ----------
    swaps
        A swap frame.
    window, min_weight, top_k
        Co-trading window, the lightest edge kept (chance meetings are light) and how
        many strongest ties per wallet are kept (see :func:`co_trading_graph`).
    min_size
        Communities smaller than this are not clusters (label ``-1``).
    resolution, seed
        Louvain's resolution and seed.

    Returns
    -------
    pd.Series
        Cluster id per wallet (0 = largest cluster), ``-1`` for the unclustered.
    """
    graph = co_trading_graph(swaps, window, min_weight, top_k)
    labels = louvain(graph, resolution=resolution, seed=seed)
    sizes = labels.map(labels.value_counts())
    labels[sizes < min_size] = -1
    kept = sorted(set(labels[labels >= 0]))
    renum = {c: i for i, c in enumerate(kept)}
    return labels.map(lambda c: renum.get(c, -1)).astype(np.int64)


def nmi(labels_true: Any, labels_pred: Any) -> float:
    """Return the normalised mutual information of two labelings (arithmetic mean norm).

    ``I(U; V) / ((H(U) + H(V)) / 2)``, 1.0 for identical partitions up to renaming; equals
    :func:`sklearn.metrics.normalized_mutual_info_score` (its default normalisation).
    Two single-cluster labelings score 1.0.
    """
    u = pd.factorize(np.asarray(labels_true))[0]
    v = pd.factorize(np.asarray(labels_pred))[0]
    if len(u) != len(v):
        raise DataError(f"nmi: labelings differ in length ({len(u)} vs {len(v)})")
    n = len(u)
    if n == 0:
        raise DataError("nmi: empty labelings")
    ku, kv = u.max() + 1, v.max() + 1
    if ku == kv == 1:
        return 1.0
    table = np.zeros((ku, kv))
    np.add.at(table, (u, v), 1.0)
    pij = table / n
    pu, pv = pij.sum(1), pij.sum(0)
    nz = pij > 0
    mi = float(np.sum(pij[nz] * np.log(pij[nz] / np.outer(pu, pv)[nz])))
    hu = -float(np.sum(pu[pu > 0] * np.log(pu[pu > 0])))
    hv = -float(np.sum(pv[pv > 0] * np.log(pv[pv > 0])))
    denom = (hu + hv) / 2.0
    if denom <= 0.0:
        return 1.0 if mi <= 0 else 0.0
    return max(0.0, min(1.0, mi / denom))
