"""Every runner at a glance: status, lifecycle state, equity, drawdown, breaker and kill.

The dashboard's Live page and scripts read runners through these functions; each reads
a run folder's journal (read-only) and the promotion registry, nothing else::

    ql.lifecycle.monitor.overview("data/live")          # one row per runner
    ql.lifecycle.monitor.detail("data/live/BTC-1h-sim-1a2b3c4d")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab.kernels import backtest as _bt
from quantlab.lifecycle.registry import PromotionRegistry, open_registry
from quantlab.live.handle import read_status, run_paths
from quantlab.live.journal import Journal

__all__ = [
    "OVERVIEW_COLUMNS",
    "breaker_state",
    "detail",
    "is_loopback",
    "next_state",
    "overview",
    "run_dirs",
]

OVERVIEW_COLUMNS = (
    "run",
    "symbol",
    "interval",
    "mode",
    "lifecycle",
    "size_fraction",
    "phase",
    "alive",
    "heartbeat_age_s",
    "bars",
    "last_bar",
    "position",
    "equity",
    "drawdown",
    "open_orders",
    "fills",
    "breaker",
    "kill",
    "last_error",
)


def run_dirs(root: str | Path) -> list[Path]:
    """Return the run folders under ``root`` (each holds a ``journal.sqlite``), sorted."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = [base] if (base / "journal.sqlite").is_file() else []
    found += [p for p in sorted(base.iterdir()) if (p / "journal.sqlite").is_file()]
    return found


def breaker_state(state: np.ndarray | None, bar_index: int | None) -> str:
    """Return the engine's breaker and limit flags from a decision's state, in words."""
    if state is None or bar_index is None:
        return "unknown"
    flags = []
    pause = state[_bt.S_PAUSE_UNTIL]
    if np.isfinite(pause) and pause > bar_index:
        flags.append(f"breaker paused until bar {int(pause)} (streak {int(state[_bt.S_STREAK])})")
    if state[_bt.S_DAY_HALT] > 0:
        flags.append("daily loss limit: halted for the day")
    if state[_bt.S_KILLED] > 0:
        flags.append("drawdown kill")
    return "; ".join(flags) or "clear"


def _drawdown(equity: pd.Series) -> float:
    if equity.empty:
        return 0.0
    peak = equity.cummax()
    return float((1.0 - equity / peak).iloc[-1])


def _lifecycle(shash: str | None, registry: PromotionRegistry) -> tuple[str, float | None]:
    if not shash:
        return "unknown", None
    rec = registry.current(shash)
    if rec is None:
        return "candidate", None
    return rec.to_state, rec.size_fraction


def _row(run_dir: Path, registry: PromotionRegistry) -> dict[str, Any]:
    s = read_status(run_dir)
    row: dict[str, Any] = dict.fromkeys(OVERVIEW_COLUMNS)
    row["run"] = run_dir.name
    for k in ("symbol", "interval", "mode", "phase", "alive", "heartbeat_age_s", "bars",
              "last_bar", "equity", "last_error"):  # fmt: skip
        row[k] = s.get(k)
    pos = s.get("position") or {}
    row["position"] = pos.get(s.get("symbol")) if s.get("symbol") else None
    kill = s.get("kill")
    row["kill"] = f"{kill['mode']} ({kill.get('reason', '')})" if kill else "clear"
    row["lifecycle"], row["size_fraction"] = _lifecycle(s.get("strategy_hash"), registry)
    journal = run_paths(run_dir)["journal"]
    if journal.is_file():
        with Journal(journal, readonly=True) as j:
            eq = j.frame("equity")
            last = j.last_decision(s.get("symbol") or "")
            row["open_orders"] = len(j.orders(status=("open", "partially_filled", "triggered")))
            row["fills"] = len(j.fills())
        row["drawdown"] = _drawdown(eq["equity"]) if len(eq) else 0.0
        row["breaker"] = breaker_state(
            last["state"] if last else None, last["bar_index"] if last else None
        )
    return row


def overview(
    root: str | Path = "data/live", *, registry: PromotionRegistry | str | Path | None = None
) -> pd.DataFrame:
    """Return one row per runner under ``root`` (:data:`OVERVIEW_COLUMNS`)."""
    reg = open_registry(registry)
    rows = []
    for d in run_dirs(root):
        try:
            rows.append(_row(d, reg))
        except Exception as exc:  # a half-written journal must not hide the others
            rows.append({"run": d.name, "phase": "unreadable", "last_error": str(exc)})
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


def next_state(registry: PromotionRegistry, strategy_hash: str | None) -> str | None:
    """Return the state a strategy's next promotion on a journal would reach, or None."""
    if not strategy_hash:
        return None
    rec = registry.current(strategy_hash)
    state = rec.to_state if rec is not None else "candidate"
    if state == "paper":
        return "live_small"
    if state == "live_small" or (
        state == "live_full" and rec is not None and rec.size_fraction < 1
    ):
        return "live_full"
    return None


def detail(
    run_dir: str | Path,
    *,
    registry: PromotionRegistry | str | Path | None = None,
    fills: int = 20,
    alerts: int = 20,
) -> dict[str, Any]:
    """Return one runner's status, equity, drawdown, positions, orders, fills and alerts.

    Returns
    -------
    dict
        ``status`` (a dict with ``lifecycle`` and ``size_fraction`` added), ``equity``
        and ``drawdown`` (Series on the bar time), ``positions``, ``open_orders``,
        ``fills`` (the last ``fills``) and ``alerts`` (the last ``alerts`` warnings,
        errors and kill or lifecycle events), as frames.
    """
    d = Path(run_dir)
    reg = open_registry(registry)
    status = read_status(d)
    status["lifecycle"], status["size_fraction"] = _lifecycle(status.get("strategy_hash"), reg)
    journal = run_paths(d)["journal"]
    out: dict[str, Any] = {"status": status}
    if not journal.is_file():
        empty = pd.DataFrame()
        out.update(equity=pd.Series(dtype=float), drawdown=pd.Series(dtype=float),
                   breaker="unknown", positions=empty, open_orders=empty, fills=empty,
                   alerts=empty)  # fmt: skip
        return out
    with Journal(journal, readonly=True) as j:
        eq = j.frame("equity")
        positions = j.frame("positions")
        orders = pd.DataFrame(j.orders(status=("open", "partially_filled", "triggered")))
        fill_rows = pd.DataFrame(j.fills())
        events = pd.DataFrame(j.events(limit=500))
    index = pd.DatetimeIndex(pd.to_datetime(eq["time_ms"], unit="ms", utc=True), name="time")
    equity = pd.Series(eq["equity"].to_numpy(dtype=np.float64), index=index, name="equity")
    out["equity"] = equity
    out["drawdown"] = -(1.0 - equity / equity.cummax()).rename("drawdown")
    with Journal(journal, readonly=True) as j:
        last = j.last_decision(status.get("symbol") or "")
    out["breaker"] = breaker_state(
        last["state"] if last else None, last["bar_index"] if last else None
    )
    out["positions"] = positions
    out["open_orders"] = orders
    if len(fill_rows):
        fill_rows.insert(0, "time", pd.to_datetime(fill_rows["time_ms"], unit="ms", utc=True))
    out["fills"] = fill_rows.tail(fills).iloc[::-1].reset_index(drop=True)
    if len(events):
        keep = events["level"].isin(["warning", "error", "critical"]) | events["kind"].isin(
            ["kill", "lifecycle", "orphan", "stop", "start"]
        )
        events = events[keep].copy()
        events.insert(0, "time", pd.to_datetime(events["time_ms"], unit="ms", utc=True))
        events["data"] = events["data"].map(lambda x: "" if x is None else json.loads(x))
        events = events[["time", "level", "kind", "message"]]
    out["alerts"] = events.tail(alerts).iloc[::-1].reset_index(drop=True)
    return out


def is_loopback(address: str | None) -> bool:
    """Return True for a loopback address (``127.0.0.0/8``, ``::1``); False when unknown."""
    if not address:
        return False
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"
