"""Wallet intelligence: who trades together (clusters) and who is good at it (skill).

import quantlab as ql
m = ql.data.solana.simulate(seed=7)
labels = ql.wallets.clusters(m.swaps)               # Louvain on the co-trading graph
ql.wallets.nmi(m.clusters[labels.index], labels)    # against the planted truth
skill = ql.wallets.skill(m.swaps)                   # causal P&L, hit rate, early entry
smart = ql.wallets.smart_money(skill, at=t)         # chosen from what was known at t
"""

from __future__ import annotations

from quantlab.wallets.graph import clusters, co_trading_edges, co_trading_graph, louvain, nmi
from quantlab.wallets.skill import skill, smart_money

__all__ = [
    "clusters",
    "co_trading_edges",
    "co_trading_graph",
    "louvain",
    "nmi",
    "skill",
    "smart_money",
]
