"""Time the on-chain pipeline: swap parsing, Louvain clustering, flow factors on 1e6 swaps.

Targets (issue 12): parse >= 20,000 transactions a second; Louvain on a graph of 10,000
wallets within 5 s; the flow factors on 1,000,000 swaps within 2 s. Peers in the same run:

- parsing: ``solders``' typed deserialisation of the same transactions
  (``GetTransactionResp.from_json``, Rust) -- it reads the transaction, it finds no swap;
  ``parse_swaps`` is timed on the decoded dicts and with ``json.loads`` included.
- clustering: the co-trading graph of a market of ~10,000 wallets, then
  ``louvain_communities`` (what ``ql.wallets.clusters`` runs) against networkx's own
  ``label_propagation_communities`` on the same graph; NMI against the planted clusters.
- flow factors: ``flow_bars`` (swaps -> 1-minute bars with flow columns) plus every
  on-chain factor, against a pandas ``groupby`` of the same bar aggregates.

Run: ``.venv/bin/python benchmarks/bench_solana.py`` (needs ../shared/fixtures for the
parser part). Writes into benchmarks/RESULTS.md between ``<!-- bench_solana:start -->`` and
``<!-- bench_solana:end -->``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quantlab as ql
from quantlab.data.solana import flow_bars, parse_swaps, simulate, swaps_frame
from quantlab.reports.onchain import FLOW_FACTORS

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("QUANTLAB_FIXTURES", HERE.parents[1] / "shared" / "fixtures"))
N_SWAPS = 1_000_000
REPEATS = 5


def _best(fn, repeats=REPEATS):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def bench_parse() -> list[str]:
    from solders.rpc.responses import GetTransactionResp

    files = sorted(FIXTURES.glob("solana_txs_orca_serum/*.json")) + sorted(
        FIXTURES.glob("solana_txs_pumpfun_raydium/*_rpc.json")
    )
    if not files:
        return ["(shared fixtures not found: parser not timed)"]
    texts = []
    for f in files:
        d = json.loads(f.read_text())
        texts.append(json.dumps(d if "result" in d else {"jsonrpc": "2.0", "result": d, "id": 1}))
    reps = 400
    batch = texts * reps
    dicts = [json.loads(t) for t in batch]
    n = len(batch)
    t_dict, swaps = _best(lambda: sum(len(parse_swaps(d)) for d in dicts))
    t_json, _ = _best(lambda: sum(len(parse_swaps(json.loads(t))) for t in batch))
    t_sold, _ = _best(lambda: [GetTransactionResp.from_json(t) for t in batch])
    return [
        f"Parser: {len(files)} real transactions (swaps, liquidity moves, transfers, a failed "
        f"one) x {reps} = {n:,}; {swaps:,} swaps found.",
        "",
        "| step | seconds | transactions / s |",
        "|---|---:|---:|",
        f"| `parse_swaps` on decoded results | {t_dict:.3f} | {n / t_dict:,.0f} |",
        f"| `json.loads` + `parse_swaps` | {t_json:.3f} | {n / t_json:,.0f} |",
        f"| peer: solders `GetTransactionResp.from_json` (typed decode only) "
        f"| {t_sold:.3f} | {n / t_sold:,.0f} |",
    ]


def bench_louvain() -> list[str]:
    m = simulate(
        3, days=10.0, n_tokens=40, n_clusters=1000, cluster_size=8, n_smart=20,
        n_noise=1000, n_herd=1000, herds_per_token=1, noise_rate=0.05,
    )  # fmt: skip
    swaps = m.swaps
    n_wallets = swaps["wallet"].nunique()
    t_edges, edges = _best(lambda: ql.wallets.co_trading_edges(swaps, "10m"), 3)
    dense = ql.wallets.co_trading_graph(swaps, "10m", min_weight=2.0)
    t_dense, _ = _best(lambda: ql.wallets.louvain(dense, seed=0), 3)
    graph = ql.wallets.co_trading_graph(swaps, "10m", min_weight=2.0, top_k=5)
    t_louvain, _ = _best(lambda: ql.wallets.louvain(graph, seed=0), 3)
    t_all, found = _best(lambda: ql.wallets.clusters(swaps, "10m", seed=0), 3)
    import networkx as nx

    t_lpa, _ = _best(lambda: list(nx.community.label_propagation_communities(graph)), 3)
    planted = m.clusters[m.clusters >= 0]
    nmi = ql.wallets.nmi(planted, found.reindex(planted.index).fillna(-1))
    return [
        f"Clustering: {len(swaps):,} swaps by {n_wallets:,} wallets (1,000 planted clusters of "
        f"8, 1,000 noise, 1,000 herd wallets); graph {graph.number_of_nodes():,} nodes, "
        f"{graph.number_of_edges():,} edges (weight >= 2, each wallet's 5 strongest ties; "
        f"{dense.number_of_edges():,} before pruning); NMI vs planted **{nmi:.3f}**.",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| co-trading edges ({len(edges):,} pairs) | {t_edges:.2f} |",
        f"| Louvain (`louvain_communities`, seeded) on the pruned graph | {t_louvain:.2f} |",
        f"| Louvain on the unpruned graph (weight >= 2) | {t_dense:.2f} |",
        f"| `ql.wallets.clusters` end to end (edges, graph, Louvain) | {t_all:.2f} |",
        f"| peer: networkx `label_propagation_communities` | {t_lpa:.2f} |",
    ]


def _big_swaps(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 365 * 86_400, n))
    side = np.where(rng.random(n) < 0.5, 1, -1)
    sol = rng.lognormal(0, 1, n)
    price = 1e-4 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    token = "So1ana1111111111111111111111111111111111111"
    wallets = np.array([f"w{i:05d}" for i in range(5000)], dtype=object)
    w = wallets[rng.integers(0, 5000, n)]
    sol_mint = "So11111111111111111111111111111111111111112"
    raw = pd.DataFrame(
        {
            "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(t, unit="s"),
            "signature": np.char.add("s", np.arange(n).astype(str)).astype(object),
            "instruction": np.zeros(n, dtype=np.int64),
            "wallet": w,
            "program": "amm",
            "mint_in": np.where(side > 0, sol_mint, token),
            "amount_in": np.where(side > 0, sol, sol / price),
            "mint_out": np.where(side > 0, token, sol_mint),
            "amount_out": np.where(side > 0, sol / price, sol),
            "fee": np.full(n, 5e-6),
        }
    )
    swaps = swaps_frame(raw)
    reserve_sol = 300.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    pools = pd.DataFrame(
        {
            "time": swaps["time"],
            "token": token,
            "reserve_sol": reserve_sol,
            "reserve_token": reserve_sol / swaps["price"].to_numpy(),
        }
    )
    return swaps, pools


def bench_flow() -> list[str]:
    swaps, pools = _big_swaps(N_SWAPS)
    token = swaps["token"].iloc[0]
    smart = set(swaps["wallet"].unique()[:200])
    clusters = pd.Series(np.arange(5000) % 50, index=[f"w{i:05d}" for i in range(5000)])
    kw = dict(smart=smart, clusters=clusters, pools=pools)

    def ours():
        bars = flow_bars(swaps, token, "1m", **kw)
        return bars, ql.factors.compute_many(bars, list(FLOW_FACTORS))

    ours()  # JIT warm-up
    t_ours, (bars, fx) = _best(ours, 3)
    t_bars, _ = _best(lambda: flow_bars(swaps, token, "1m", **kw), 3)

    def pandas_peer():
        key = swaps["time"].dt.floor("1min")
        buy = swaps["side"] > 0
        frame = pd.DataFrame(
            {
                "price": swaps["price"],
                "qty": swaps["qty"],
                "buy_flow": swaps["sol"].where(buy, 0.0),
                "sell_flow": swaps["sol"].where(~buy, 0.0),
                "sm": swaps["wallet"].isin(smart),
            }
        )
        g = frame.groupby(key)
        return pd.DataFrame(
            {
                "open": g["price"].first(),
                "high": g["price"].max(),
                "low": g["price"].min(),
                "close": g["price"].last(),
                "volume": g["qty"].sum(),
                "buy_flow": g["buy_flow"].sum(),
                "sell_flow": g["sell_flow"].sum(),
            }
        )

    t_pd, _ = _best(pandas_peer, 3)
    return [
        f"Flow factors: {N_SWAPS:,} swaps of one token over a year -> {len(bars):,} one-minute "
        f"bars with flow columns (smart set of 200 wallets, 50 clusters), then "
        f"all {fx.shape[1]} on-chain flow factors (AMM ones on the pool reserves).",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| `flow_bars` (aggregation, herd counts, reserves) | {t_bars:.2f} |",
        f"| `flow_bars` + `compute_many` of the flow factors | {t_ours:.2f} |",
        f"| peer: pandas `groupby` of OHLCV + buy/sell flow only | {t_pd:.2f} |",
    ]


def main() -> None:
    load = os.getloadavg()
    lines = [
        f"Load average at start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
        f"{os.cpu_count()} cores (shared with other engineers: times are upper bounds).",
        "",
    ]
    for part in (bench_parse, bench_louvain, bench_flow):
        t = time.perf_counter()
        lines += part()
        lines += ["", f"_({part.__name__}: {time.perf_counter() - t:.0f} s wall)_", ""]
        print("\n".join(lines[-12:]), flush=True)
    from _results import write_section

    write_section(HERE / "RESULTS.md", "bench_solana", "On-chain (Solana)", "\n".join(lines))


if __name__ == "__main__":
    main()
