"""On-chain Solana data: the swap parser, the swap frame and store, RPC, the embedded market.

import quantlab as ql
ql.data.solana.parse_swaps(tx)              # getTransaction result -> [Swap]
m = ql.data.solana.simulate(seed=7)          # swaps, pools and the truth, offline
ql.data.load("solana", wallets=[...], token=mint)   # stored swaps, validated
ql.data.solana.flow_bars(m.swaps, token, "5m")     # swaps -> bars + flow columns
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from quantlab.data.solana.bars import FLOW_COLUMNS, flow_bars
from quantlab.data.solana.frame import (
    SWAP_COLUMNS,
    empty_swaps,
    filter_swaps,
    swaps_frame,
    validate_swaps,
)
from quantlab.data.solana.parser import Swap, parse_swaps
from quantlab.data.solana.programs import PROGRAMS, SOL_MINT
from quantlab.data.solana.simulate import PHASES, OnchainMarket, simulate
from quantlab.data.solana.store import SwapStore

__all__ = [
    "FLOW_COLUMNS",
    "PHASES",
    "PROGRAMS",
    "SOL_MINT",
    "SWAP_COLUMNS",
    "OnchainMarket",
    "Swap",
    "SwapStore",
    "empty_swaps",
    "filter_swaps",
    "flow_bars",
    "load_swaps",
    "parse_swaps",
    "simulate",
    "swaps_frame",
    "validate_swaps",
]


def load_swaps(
    wallets: Any = None,
    token: Any = None,
    start: Any = None,
    end: Any = None,
    *,
    root: Any = "data",
    seed: int | None = None,
    **sim: Any,
) -> pd.DataFrame:
    """Return swaps as a validated frame: from the store, or the embedded market.

    Parameters
    ----------
    wallets : str or iterable of str, optional
        Keep these wallets' swaps.
    token : str or iterable of str, optional
        Keep swaps paying or receiving this mint.
    start, end : optional
        Half-open range of block times.
    root : str or PathLike
        Store root (``quantlab solana fetch`` writes there).
    seed : int, optional
        Read the embedded market :func:`simulate` (``seed``, ``**sim``) instead of the
        store.
    """
    from quantlab.errors import ConfigError

    if seed is None:
        if sim:
            raise ConfigError(
                f"load('solana'): option(s) {sorted(sim)} need seed=... (the embedded market)"
            )
        return SwapStore(root).read(wallets, token, start, end)
    return filter_swaps(simulate(seed, **sim).swaps, wallets, token, start, end)
