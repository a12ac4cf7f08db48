"""Build runner journals from a backtest, for tests of replay and of the lifecycle.

A journal written here is what a paper runner that makes the backtest's decisions writes:
the bars, one decision and equity row per bar, and one intent and one fill per backtest
fill. ``perturb`` turns it into what a venue could have done instead (a worse price, a
higher fee, a late or a missing fill), so that replay's fill-by-fill diff can be checked
against the perturbation that caused it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab.backtest import Costs, run
from quantlab.backtest.verdict import canonical_json, strategy_config, strategy_hash
from quantlab.kernels import backtest as _bt
from quantlab.live.journal import Journal


def backtest_fills(res, bars: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the backtest's fills in time order: time, side, size, price, fee, market."""
    out = []
    for r in res.trades.itertuples(index=False):
        side = 1.0 if r.size > 0 else -1.0
        out.append(
            dict(
                idx=int(r.entry_idx),
                side=side,
                size=abs(r.size),
                price=r.entry_price,
                fee=r.entry_fee,
                market=True,
                action="entry",
            )
        )
        if not r.is_open:
            out.append(
                dict(
                    idx=int(r.exit_idx),
                    side=-side,
                    size=abs(r.size),
                    price=r.exit_price,
                    fee=r.exit_fee,
                    market=r.exit_reason == "signal",
                    action=f"exit_{r.exit_reason}",
                )
            )
    return sorted(out, key=lambda f: f["idx"])


def write_journal(
    path: str | Path,
    bars: pd.DataFrame,
    strategy,
    costs: Costs,
    *,
    mode: str = "paper",
    symbol: str = "BTC",
    interval: str = "1h",
    init_cash: float = 10_000.0,
    perturb: Callable[[int, dict[str, Any]], dict[str, Any] | None] | None = None,
    events: list[tuple[str, str]] = (),
    created_ms: int | None = None,
):
    """Write a journal of ``bars`` traded by ``strategy``; return the backtest result.

    ``perturb(k, fill)`` may return a changed fill (keys ``price``, ``fee``, ``size``,
    ``latency_ms``) or None to drop the k-th fill.
    """
    res = run(bars, strategy, costs, init_cash=init_cash, interval=interval)
    bar_ms = int(pd.Timedelta(interval).total_seconds() * 1000)
    with Journal(path) as j:
        j.bind(
            strategy_hash=strategy_hash(strategy),
            strategy_json=canonical_json(strategy_config(strategy)),
            symbol=symbol,
            interval=interval,
            mode=mode,
            init_cash=init_cash,
        )
        j.set_meta("costs", json.dumps(costs.model_dump(mode="json")))
        if created_ms is not None:
            j.set_meta("created_ms", str(created_ms))
        times = (bars.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
        for i, t in enumerate(times):
            j.add_bar(symbol, int(t), bars.iloc[i].to_dict())
            state = np.zeros(_bt.N_STATE)
            state[_bt.S_CASH] = res.cash.iloc[i]
            state[_bt.S_QTY] = res.positions.iloc[i]
            state[_bt.S_EQUITY] = res.equity.iloc[i]
            j.save_decision(
                symbol,
                int(t),
                i,
                float(res.target.iloc[i]),
                state,
                price=float(bars["close"].iloc[i]),
            )
        for k, f in enumerate(backtest_fills(res, bars)):
            f = dict(f, latency_ms=0)
            if perturb is not None:
                f = perturb(k, f)
                if f is None:
                    continue
            cloid = f"0x{k:032x}"
            decided = int(times[f["idx"]]) - (bar_ms if f["market"] else 0)
            j.record_intent(
                dict(
                    client_order_id=cloid,
                    symbol=symbol,
                    bar_ms=decided,
                    action=f["action"],
                    side="B" if f["side"] > 0 else "A",
                    size=f["size"],
                    order_type="market" if f["market"] else "trigger",
                    status="filled",
                )
            )
            j.add_fill(
                dict(
                    tid=1000 + k,
                    oid=k,
                    client_order_id=cloid,
                    symbol=symbol,
                    side="B" if f["side"] > 0 else "A",
                    size=f["size"],
                    price=f["price"],
                    fee=f["fee"],
                    time_ms=int(times[f["idx"]]) + int(f["latency_ms"]),
                )
            )
        for kind, message in events:
            j.event(kind, message, level="warning")
    return res


def wave_bars(n: int = 600, period: float = 100.0, amplitude: float = 0.08, drift: float = 0.0):
    """Smooth waves (an MA cross wins on them), as validated bars."""
    t = np.arange(n, dtype=float)
    close = 100.0 * (1.0 + amplitude * np.sin(2 * np.pi * t / period)) * (1.0 + drift) ** t
    open_ = np.concatenate([[close[0]], close[:-1]])
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": np.full(n, 1000.0),
        },
        index=idx,
    )
