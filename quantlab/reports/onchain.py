"""The smart-money study: one call from swaps to clusters, flow factors, regimes and a backtest.

``onchain_study(...)`` is what notebook ``06_smart_money`` and the dashboard's "On-chain"
page show. It keeps time honest: the wallet clusters and the smart-money set are chosen
from the swaps before ``split`` (the training span) only; the flow factors' IC and the
backtest are measured after it; the capital-flow model's scale is fitted on the training
span and the filter is causal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import ConfigError

__all__ = [
    "FLOW_FACTORS",
    "OnchainStudy",
    "cluster_table",
    "default_composition",
    "onchain_study",
    "plot_flow_regimes",
    "plot_wallet_graph",
    "swap_summary",
]

#: The on-chain flow factors (registered in :mod:`quantlab.factors.onchain`).
FLOW_FACTORS = (
    "sm_net_flow",
    "swap_flow_imbalance",
    "cluster_herd",
    "sm_hawkes",
    "swap_momentum",
    "amm_price_impact",
    "amm_depth",
    "amm_liquidity_change",
)


def default_composition() -> dict[str, Any]:
    """Return the composite used by the study: smart-money flow, confirmed by herds."""
    return {
        "factors": [
            {"name": "sm_net_flow", "role": "primary", "normalize": "zscore"},
            {"name": "swap_momentum", "role": "primary", "normalize": "zscore"},
            {"name": "cluster_herd", "role": "observer"},
            {"name": "amm_price_impact", "role": "filter", "condition": "< 0.05"},
        ]
    }


@dataclass
class OnchainStudy:
    """Everything the study computed (see :func:`onchain_study`)."""

    market: Any
    token: str
    split: pd.Timestamp
    labels: pd.Series
    nmi: float
    skill: pd.DataFrame
    smart: list[str]
    bars: pd.DataFrame
    factors: pd.DataFrame
    ic: pd.DataFrame
    regimes: pd.DataFrame
    phases: pd.Series
    backtest: Any
    graph: Any


def swap_summary(swaps: pd.DataFrame) -> pd.DataFrame:
    """Return swaps, wallets, SOL bought and sold, and first/last price per token."""
    g = swaps[swaps["side"] != 0].groupby("token")
    out = pd.DataFrame(
        {
            "swaps": g.size(),
            "wallets": g["wallet"].nunique(),
            "sol_bought": g.apply(
                lambda d: d.loc[d["side"] > 0, "sol"].sum(), include_groups=False
            ),
            "sol_sold": g.apply(lambda d: d.loc[d["side"] < 0, "sol"].sum(), include_groups=False),
            "first_price": g["price"].first(),
            "last_price": g["price"].last(),
        }
    )
    out["return"] = out["last_price"] / out["first_price"] - 1.0
    return out


def cluster_table(labels: pd.Series, truth: pd.Series) -> pd.DataFrame:
    """Return the crosstab of found clusters (columns) against planted ones (rows).

    Only wallets of planted clusters are counted (``truth >= 0``); ``-1`` columns are the
    wallets left unclustered.
    """
    planted = truth[truth >= 0]
    found = labels.reindex(planted.index).fillna(-1).astype(int)
    return pd.crosstab(planted.rename("planted"), found.rename("found"))


def onchain_study(
    seed: int = 7,
    days: float = 10.0,
    token: int | str = 0,
    interval: str = "5m",
    window: str = "10m",
    herd_window: str = "30m",
    horizon: str = "1h",
    top: int = 16,
    split: float = 0.5,
    horizons: tuple[int, ...] = (1, 6, 24),
    composition: dict[str, Any] | None = None,
    entry: float = 0.5,
    fee: float = 0.0025,
    market: Any = None,
) -> OnchainStudy:
    """Run the smart-money study on the embedded on-chain market.

    Parameters
    ----------
    seed, days
        The market (:func:`quantlab.data.solana.simulate`); or pass ``market``.
    token
        Index into ``market.tokens`` or a mint.
    interval
        Bar interval of the flow bars.
    window, herd_window
        Co-trading window of the wallet graph; trailing window of ``herd_buyers``.
    horizon, top
        Early-entry horizon of the skill table; size of the smart-money set.
    split
        Fraction of the span used to choose clusters and smart money.
    horizons
        Forward horizons (bars) of the IC table.
    composition, entry, fee
        Composite factor spec (default :func:`default_composition`), entry threshold,
        and the AMM fee charged per fill in the backtest.
    """
    from quantlab.backtest import factor_composite
    from quantlab.backtest import run as run_backtest
    from quantlab.data.solana import flow_bars, simulate
    from quantlab.factors import compute_many, research
    from quantlab.models.capital_flow import CapitalFlowModel
    from quantlab.wallets import clusters, co_trading_graph, nmi, skill, smart_money

    if not 0.0 < split < 1.0:
        raise ConfigError(f"onchain_study: split must be in (0, 1), got {split!r}")
    m = market if market is not None else simulate(seed, days=days)
    mint = m.tokens[token] if isinstance(token, int) else token
    if mint not in m.tokens:
        raise ConfigError(f"onchain_study: token {token!r} is not one of {m.tokens}")
    swaps = m.swaps
    t0, t1 = swaps["time"].iloc[0], swaps["time"].iloc[-1]
    at = (t0 + (t1 - t0) * split).floor("1h")
    train = swaps[swaps["time"] < at]
    graph = co_trading_graph(train, window, min_weight=2.0, top_k=5)
    labels = clusters(train, window)
    planted = m.clusters[m.clusters >= 0]
    score = nmi(planted, labels.reindex(planted.index).fillna(-1))
    sk = skill(swaps, at=at, horizon=horizon)
    smart = smart_money(sk, top=top)
    bars = flow_bars(
        swaps, mint, interval, smart=smart, clusters=labels, herd_window=herd_window, pools=m.pools
    )
    fx = compute_many(bars, list(FLOW_FACTORS))
    test = bars.index >= at
    fwd = research.forward_returns(bars["close"], list(horizons))
    ic = research.ic_summary(fx[test], fwd[test])
    cf = CapitalFlowModel().fit(bars[~test])
    regimes = cf.filter(bars)
    strategy = factor_composite(composition or default_composition(), entry=entry)
    result = run_backtest(bars[test], strategy, costs=fee)
    return OnchainStudy(
        market=m,
        token=mint,
        split=at,
        labels=labels,
        nmi=score,
        skill=sk,
        smart=smart,
        bars=bars,
        factors=fx,
        ic=ic,
        regimes=regimes,
        phases=m.phase_at(mint, bars.index),
        backtest=result,
        graph=graph,
    )


def plot_flow_regimes(study: OnchainStudy, title: str = "") -> Any:
    """Plot the AMM price, smart-money net flow and the regime probabilities; herds shaded."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True)
    bars, reg = study.bars, study.regimes
    axes[0].plot(bars.index, bars["close"], lw=0.9, color="k")
    axes[0].set_ylabel("price (SOL)")
    axes[1].bar(bars.index, bars["buy_flow"] - bars["sell_flow"], width=0.003, color="0.6")
    axes[1].plot(bars.index, study.factors["sm_net_flow"], lw=0.9, color="C0")
    axes[1].set_ylabel("net flow / SM net flow")
    for name, color in (("p_quiet", "0.7"), ("p_herd", "C3"), ("p_exhaustion", "C1")):
        axes[2].plot(reg.index, reg[name], lw=0.9, color=color, label=name)
    axes[2].set_ylabel("regime probability")
    axes[2].legend(loc="upper left", fontsize=8)
    spans = study.market.phases[study.market.phases["token"] == study.token]
    colors = {"ignition": "C2", "herd": "C3", "exhaustion": "C1"}
    for row in spans.itertuples():
        for ax in axes:
            ax.axvspan(row.start, row.end, color=colors.get(row.phase, "0.9"), alpha=0.12, lw=0)
    for ax in axes:
        ax.axvline(study.split, color="k", ls="--", lw=0.8)
    fig.suptitle(title or f"{study.token[:8]}...: flow and capital-flow regimes (truth shaded)")
    fig.tight_layout()
    return fig


def plot_wallet_graph(study: OnchainStudy, max_nodes: int = 400, title: str = "") -> Any:
    """Draw the co-trading graph, nodes coloured by found cluster, ringed if smart money."""
    import matplotlib.pyplot as plt
    import networkx as nx

    g = study.graph
    nodes = [n for n in g.nodes if g.degree(n) > 0][:max_nodes]
    sub = g.subgraph(nodes)
    pos = nx.spring_layout(sub, seed=0, weight="weight")
    fig, ax = plt.subplots(figsize=(8, 7))
    lab = study.labels.reindex(list(sub.nodes)).fillna(-1).astype(int).to_numpy()
    colors = np.where(lab >= 0, lab % 10, -1)
    cmap = plt.get_cmap("tab10")
    node_colors = [cmap(c) if c >= 0 else (0.8, 0.8, 0.8, 1.0) for c in colors]
    nx.draw_networkx_edges(sub, pos, ax=ax, alpha=0.08)
    smart = set(study.smart)
    edge = ["k" if n in smart else "none" for n in sub.nodes]
    nx.draw_networkx_nodes(sub, pos, ax=ax, node_size=25, node_color=node_colors, edgecolors=edge)
    ax.set_axis_off()
    ax.set_title(title or f"co-trading graph (NMI vs planted clusters {study.nmi:.3f})")
    return fig
