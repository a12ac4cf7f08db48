"""A runner's track record, read from its journal: closed trades, equity, kills, replay.

:func:`track_record` turns a journal into the :class:`~quantlab.lifecycle.gates.TrackRecord`
the gates judge. Closed trades are the journal's fills paired into round trips (a trade
closes when the position returns to zero; a fill that flips the position is split); each
trade's P&L is its cash flow net of fees. The equity curve is the runner's at each bar
close. Kill-switch trips are the journal's ``kill`` events; realised slippage, its
estimate and the unexplained P&L come from :func:`quantlab.live.replay.replay`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab.backtest.costs import Costs
from quantlab.errors import DataError
from quantlab.lifecycle.gates import TrackRecord
from quantlab.live.journal import Journal
from quantlab.live.replay import replay

__all__ = ["round_trips", "track_record"]


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """Pair fills into closed trades.

    Parameters
    ----------
    fills : pd.DataFrame
        ``side`` (``B``/``buy`` or ``A``/``sell``), ``size`` (> 0), ``price``, ``fee`` and
        ``time_ms``, in time order.

    Returns
    -------
    pd.DataFrame
        One row per closed trade: ``entry_ms``, ``exit_ms``, ``direction`` (+1/-1),
        ``size`` (largest absolute position), ``pnl`` (cash flow net of fees).

    Notes
    -----
    A fill that takes the position through zero closes the trade with the part that
    brings it to zero and opens the next with the rest; its fee is split in proportion.
    """
    out = []
    pos = 0.0
    flow = 0.0
    peak = 0.0
    entry_ms = None
    for r in fills.itertuples(index=False):
        side = 1.0 if str(r.side).lower() in ("b", "buy", "long") else -1.0
        qty = float(r.size)
        fee = 0.0 if r.fee is None or pd.isna(r.fee) else float(r.fee)
        if qty <= 0:
            raise DataError(f"fills: size must be > 0, got {qty} at time_ms {r.time_ms}")
        remaining = qty
        while remaining > 1e-15:
            if pos == 0.0:
                entry_ms, flow, peak = int(r.time_ms), 0.0, 0.0
            closing = pos != 0.0 and np.sign(pos) != side
            part = min(remaining, abs(pos)) if closing else remaining
            part_fee = fee * part / qty
            flow += -side * part * float(r.price) - part_fee
            pos += side * part
            if abs(pos) < 1e-12 * max(1.0, qty):
                pos = 0.0
            peak = max(peak, abs(pos))
            remaining -= part
            if closing and pos == 0.0:
                out.append((entry_ms, int(r.time_ms), -side, peak, flow))
    return pd.DataFrame(out, columns=["entry_ms", "exit_ms", "direction", "size", "pnl"])


def track_record(
    journal: str | Path,
    *,
    costs: Costs | float | dict | None = None,
    with_replay: bool = True,
) -> TrackRecord:
    """Return the track record of a runner's journal.

    Parameters
    ----------
    journal : path
        The runner's SQLite journal.
    costs : optional
        Cost model for the replay (default: the one the journal records).
    with_replay : bool
        Run :func:`~quantlab.live.replay.replay` for the slippage and replay-diff metrics
        (without it they are unknown, and their gates fail).

    Raises
    ------
    DataError
        The journal holds no bars, or no strategy hash.
    """
    path = Path(journal)
    with Journal(path, readonly=True) as j:
        meta = j.meta()
        if not meta.get("strategy_hash"):
            raise DataError(f"journal {path}: no strategy_hash recorded")
        symbol = meta.get("symbol")
        fills = pd.DataFrame(j.fills(symbol))
        eq = j.frame("equity", "symbol = ? ORDER BY time_ms", (symbol,))
        events = j.events()
        bars = j.bars(symbol)
        first = j.frame("decisions", "symbol = ? ORDER BY time_ms LIMIT 1", (symbol,))
    if bars.empty:
        raise DataError(f"journal {path}: no bars; the runner has not traded yet")
    interval = pd.Timedelta(bars.index[1] - bars.index[0]) if len(bars) > 1 else pd.Timedelta(0)
    trades = round_trips(fills) if not fills.empty else pd.DataFrame(columns=["pnl"])
    equity = pd.Series(
        eq["equity"].to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(eq["time_ms"], unit="ms", utc=True), name="time"),
        name="equity",
    )
    kills = sum(
        1 for e in events if e["kind"] == "kill" and "cleared" not in str(e["message"]).lower()
    )
    source: dict[str, Any] = {
        "journal": str(path.resolve()),
        "mode": meta.get("mode"),
        "created_ms": meta.get("created_ms"),
    }
    slip = est = diff = None
    if with_replay:
        rep = replay(path, costs=costs)
        source["replay"] = {
            k: rep.summary[k] for k in ("matched", "missing", "extra", "diff_total", "unexplained")
        }
        source["sha256"] = rep.journal["sha256"]
        slip, est = rep.summary["slippage_bps"], rep.summary["estimate_bps"]
        if slip is None and rep.summary["n_fills_bt"] == 0 and rep.summary["n_orders_live"] == 0:
            slip = est = 0.0  # nothing traded: no slippage either way
        diff = rep.summary["unexplained_frac"]
        if rep.summary["missing"] or rep.summary["extra"]:
            # an order one side has and the other not is a parity failure, not noise
            diff = max(abs(diff), abs(rep.summary["unmatched"]) / rep.summary["init_cash"])
    start = bars.index[0]  # warm-up bars (journaled before the first decision) do not count
    if len(first):
        start = pd.Timestamp(int(first["time_ms"].iloc[0]), unit="ms", tz="UTC")
    return TrackRecord(
        strategy_hash=meta["strategy_hash"],
        mode=str(meta.get("mode")),
        start=start,
        end=bars.index[-1] + interval,
        trade_pnl=trades["pnl"].to_numpy(dtype=np.float64),
        equity=equity,
        kill_trips=kills,
        slippage_bps=slip,
        slippage_estimate_bps=est,
        replay_diff=diff,
        source=source,
    )
