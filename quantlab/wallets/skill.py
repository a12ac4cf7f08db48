"""Causal per-wallet skill: realised P&L, hit rate, early entry; the smart-money set.

``skill(swaps, at=t)`` is what an observer could know at ``t``: it reads only swaps before
``t``, and scores a buy's *early entry* only once its horizon has passed (``t_buy +
horizon <= t``). So ``skill(swaps, at=t)`` equals ``skill(swaps[swaps.time < t], at=t)``
(the prefix property, tested), and a smart-money set chosen at ``t`` never peeks ahead.

Measures per wallet:

- ``realized_pnl``: SOL gained on sells over the average SOL cost of the tokens sold
  (average-cost book per wallet and token; tokens sold beyond what the wallet was seen
  buying count at zero cost basis only for the part that was bought).
- ``hit_rate``: share of sells with a positive realised P&L.
- ``early_entry``: mean over matured buys of ``V_after / (V_before + V_after)``, the
  token's buy volume (SOL, other wallets) in the ``horizon`` after the buy over that in
  the ``horizon`` around it: 1 means the crowd came after the wallet, 0 that it came
  late. A buy with no volume around it scores 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from quantlab.data.intervals import interval_timedelta, to_utc
from quantlab.errors import ConfigError, DataError

__all__ = ["SKILL_COLUMNS", "skill", "smart_money"]

SKILL_COLUMNS = (
    "buys",
    "sells",
    "volume",
    "realized_pnl",
    "hit_rate",
    "early_entry",
    "matured",
    "score",
)


def _early_entry(df: pd.DataFrame, at_ns: int, h_ns: int) -> pd.DataFrame:
    """Return ``wallet, early`` for every matured buy."""
    buys = df[df["side"] > 0]
    out = []
    for _token, g in buys.groupby("token", sort=False):
        t = g["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        v = g["sol"].to_numpy(dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(v)])
        matured = t + h_ns <= at_ns
        if not matured.any():
            continue
        i = np.arange(len(t))
        before = cum[i] - cum[np.searchsorted(t, t - h_ns, side="left")]
        after = cum[np.searchsorted(t, t + h_ns, side="right")] - cum[i + 1]
        tot = before + after
        score = np.where(tot > 0, after / np.where(tot > 0, tot, 1.0), 0.5)
        out.append(
            pd.DataFrame({"wallet": g["wallet"].to_numpy()[matured], "early": score[matured]})
        )
    if not out:
        return pd.DataFrame({"wallet": [], "early": []})
    return pd.concat(out, ignore_index=True)


def _pnl(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``wallet, pnl`` per sell from an average-cost book per (wallet, token)."""
    qty_held: dict[tuple[str, str], float] = {}
    cost: dict[tuple[str, str], float] = {}
    wallets, pnls = [], []
    for w, tok, side, sol, qty in zip(
        df["wallet"].to_numpy(),
        df["token"].to_numpy(),
        df["side"].to_numpy(),
        df["sol"].to_numpy(),
        df["qty"].to_numpy(),
        strict=True,
    ):
        key = (w, tok)
        if side > 0:
            qty_held[key] = qty_held.get(key, 0.0) + qty
            cost[key] = cost.get(key, 0.0) + sol
        elif side < 0:
            held = qty_held.get(key, 0.0)
            matched = min(qty, held)
            basis = cost.get(key, 0.0) * (matched / held) if held > 0 else 0.0
            proceeds = sol * (matched / qty) if qty > 0 else 0.0
            if matched > 0:
                qty_held[key] = held - matched
                cost[key] = cost.get(key, 0.0) - basis
                wallets.append(w)
                pnls.append(proceeds - basis)
    return pd.DataFrame({"wallet": wallets, "pnl": pnls})


def skill(swaps: pd.DataFrame, at: Any = None, *, horizon: str = "1h") -> pd.DataFrame:
    """Return each wallet's skill as known at ``at``.

    Parameters
    ----------
    swaps : pd.DataFrame
        A swap frame (sorted by time).
    at : time, optional
        The observer's clock: swaps at or after it are unseen, and a buy's early entry
        counts once ``t_buy + horizon <= at``. Default: just after the last swap.
    horizon : str
        Early-entry horizon.

    Returns
    -------
    pd.DataFrame
        One row per wallet seen before ``at`` (index ``wallet``), columns
        :data:`SKILL_COLUMNS`; ``score`` ranks wallets (see :func:`smart_money`).
    """
    if not {"time", "wallet", "token", "side", "sol", "qty"} <= set(swaps.columns):
        raise DataError("skill: expected a swap frame (time wallet token side sol qty)")
    h_ns = int(interval_timedelta(horizon) / pd.Timedelta(1, "ns"))
    if at is None:
        at_ns = (
            int(swaps["time"].to_numpy(dtype="datetime64[ns]").view(np.int64).max()) + 1
            if len(swaps)
            else 0
        )
    else:
        at_ns = to_utc(at, "at").value
    t = swaps["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    df = swaps[(t < at_ns) & (swaps["side"].to_numpy() != 0)]
    if df.empty:
        return pd.DataFrame(columns=list(SKILL_COLUMNS), index=pd.Index([], name="wallet"))
    g = df.groupby("wallet", sort=True)
    out = pd.DataFrame(
        {
            "buys": g["side"].apply(lambda s: int((s > 0).sum())),
            "sells": g["side"].apply(lambda s: int((s < 0).sum())),
            "volume": g["sol"].sum(),
        }
    )
    pnl = _pnl(df)
    pg = pnl.groupby("wallet")["pnl"]
    out["realized_pnl"] = pg.sum().reindex(out.index).fillna(0.0)
    out["hit_rate"] = pg.apply(lambda p: float((p > 0).mean())).reindex(out.index)
    early = _early_entry(df, at_ns, h_ns).groupby("wallet")["early"]
    out["early_entry"] = early.mean().reindex(out.index)
    out["matured"] = early.size().reindex(out.index).fillna(0).astype(np.int64)
    pnl_rank = out["realized_pnl"].rank(pct=True)
    out["score"] = (pnl_rank + out["early_entry"].fillna(0.5) + out["hit_rate"].fillna(0.5)) / 3.0
    out.index.name = "wallet"
    return out[list(SKILL_COLUMNS)]


def smart_money(
    table: pd.DataFrame,
    top: int = 16,
    *,
    min_matured: int = 3,
    min_sells: int = 1,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Return the ``top`` wallets by ``score`` among those with enough evidence.

    Parameters
    ----------
    table : pd.DataFrame
        A :func:`skill` table (computed at the time of the choice: causal).
    top : int
        How many wallets.
    min_matured, min_sells : int
        Least matured buys and closed sells for a wallet to be eligible.
    exclude : iterable of str
        Wallets never chosen.
    """
    if top < 1:
        raise ConfigError(f"smart_money: top must be >= 1, got {top!r}")
    ok = (table["matured"] >= min_matured) & (table["sells"] >= min_sells)
    ok &= ~table.index.isin(list(exclude))
    ranked = table[ok].sort_values(["score", "realized_pnl"], ascending=False)
    return list(ranked.index[:top])
