"""Swaps -> bars: the bridge that lets every bar factor, model and notebook run on-chain.

``flow_bars(swaps, token, "5m")`` turns one token's swaps into a bar frame (prices from
the swaps, SOL per token) plus flow columns that the on-chain factors read:

==================  ==========================================================
``buy_flow``        SOL spent buying the token in the bar
``sell_flow``       SOL received selling it
``sm_buy_flow``     the same for smart-money wallets
``sm_sell_flow``
``sm_buys``         number of smart-money buys
``herd_buyers``     most wallets of one cluster that bought in the trailing
                    ``herd_window`` (ending at the bar's end)
``reserve_sol``     pool reserves at the bar's last swap (when ``pools`` given)
``reserve_token``
==================  ==========================================================

Every column of bar ``b`` uses swaps before the bar's end only, so a factor on these bars
is as causal as on any other bars (the prefix test holds unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from quantlab.data.intervals import interval_timedelta, to_utc
from quantlab.errors import DataError

__all__ = ["FLOW_COLUMNS", "flow_bars"]

FLOW_COLUMNS = (
    "buy_flow",
    "sell_flow",
    "sm_buy_flow",
    "sm_sell_flow",
    "sm_buys",
    "herd_buyers",
)
AMM_COLUMNS = ("reserve_sol", "reserve_token")


def flow_bars(
    swaps: pd.DataFrame,
    token: str,
    interval: str = "5m",
    *,
    smart: Iterable[str] | None = None,
    clusters: Mapping[str, int] | pd.Series | None = None,
    herd_window: str = "30m",
    pools: pd.DataFrame | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Aggregate one token's swaps into bars with flow columns.

    Parameters
    ----------
    swaps : pd.DataFrame
        A swap frame (:mod:`quantlab.data.solana.frame`).
    token : str
        The token mint; its SOL swaps make the bars.
    interval : str
        Bar interval (``"1m"``, ``"5m"``, ``"1h"`` ...).
    smart : iterable of str, optional
        Smart-money wallets (e.g. chosen by :func:`quantlab.wallets.smart_money`).
    clusters : mapping or Series, optional
        Wallet -> cluster id (``-1`` or absent: no cluster) for ``herd_buyers``.
    herd_window : str
        Trailing window of ``herd_buyers``.
    pools : pd.DataFrame, optional
        Pool state after each swap (``time token reserve_sol reserve_token``), as
        :func:`quantlab.data.solana.simulate` returns; adds the reserve columns.
    start, end : optional
        Bar range ``[start, end)``; default from the first swap's bar to the last's.

    Returns
    -------
    pd.DataFrame
        Bars (UTC ``time`` index, ``open high low close volume trades``) and the flow
        columns; ``df.attrs`` holds ``interval`` and ``token``.

    Raises
    ------
    DataError
        No SOL swap of ``token`` falls in the range.
    """
    from quantlab.kernels.onchain import flow_aggregate_nb, herd_buyers_nb

    step = interval_timedelta(interval)
    sel = swaps[(swaps["token"] == token) & (swaps["side"] != 0)]
    times = sel["time"]
    if start is not None:
        sel = sel[times >= to_utc(start, "start")]
    if end is not None:
        sel = sel[sel["time"] < to_utc(end, "end")]
    if sel.empty:
        raise DataError(f"flow_bars: no SOL swap of token {token!r} in the range")
    t_ns = sel["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    step_ns = int(step / pd.Timedelta(1, "ns"))
    first = to_utc(start, "start") if start is not None else sel["time"].iloc[0].floor(step)
    t0 = first.value
    last_ns = (to_utc(end, "end").value - 1) if end is not None else int(t_ns[-1])
    n_bars = int((last_ns - t0) // step_ns) + 1
    bar = (t_ns - t0) // step_ns
    wallets = sel["wallet"].to_numpy()
    smart_set = set(smart or ())
    is_smart = np.fromiter((w in smart_set for w in wallets), dtype=np.bool_, count=len(wallets))
    side = sel["side"].to_numpy(dtype=np.int8)
    agg = flow_aggregate_nb(
        bar.astype(np.int64),
        side,
        sel["sol"].to_numpy(dtype=np.float64),
        sel["qty"].to_numpy(dtype=np.float64),
        sel["price"].to_numpy(dtype=np.float64),
        is_smart,
        n_bars,
    )
    index = pd.date_range(first, periods=n_bars, freq=step, name="time")
    cols = ("open", "high", "low", "close", "volume", "trades", *FLOW_COLUMNS[:5])
    df = pd.DataFrame({c: agg[i] for i, c in enumerate(cols)}, index=index)
    # herd buyers per bar
    if clusters is not None:
        cl = pd.Series(clusters)
        codes, uniq = pd.factorize(wallets)
        cmap = cl.reindex(uniq).fillna(-1).astype(np.int64).to_numpy()
        c_ids, c_uniq = pd.factorize(cmap[cmap >= 0]) if (cmap >= 0).any() else (None, [])
        remap = np.full(len(uniq), -1, dtype=np.int64)
        if c_ids is not None:
            remap[cmap >= 0] = c_ids
        bar_end = t0 + step_ns * (np.arange(n_bars, dtype=np.int64) + 1)
        window = int(interval_timedelta(herd_window) / pd.Timedelta(1, "ns"))
        df["herd_buyers"] = herd_buyers_nb(
            t_ns,
            codes.astype(np.int64),
            remap[codes],
            side > 0,
            bar_end,
            window,
            len(uniq),
            len(c_uniq),
        )
    else:
        df["herd_buyers"] = 0.0
    if pools is not None:
        p = pools.loc[sel.index] if pools.index.equals(swaps.index) else None
        if p is None:
            raise DataError("flow_bars: pools must be row-aligned with swaps (one row per swap)")
        last = pd.Series(np.arange(len(sel)), index=bar).groupby(level=0).last()
        for c in AMM_COLUMNS:
            vals = np.full(n_bars, np.nan)
            vals[last.index.to_numpy()] = p[c].to_numpy()[last.to_numpy()]
            df[c] = pd.Series(vals, index=index).ffill().to_numpy()
    df = df[df["close"].notna()]
    df.attrs = {"interval": interval, "token": token}
    return df
