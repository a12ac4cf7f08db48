"""Replay parity: backtest the bars a runner saw and diff its fills, positions and P&L.

``ql.live.replay(journal)`` reads a runner's journal (the bars it decided on, its
decisions, intents and fills), runs the very strategy it traded through
:func:`quantlab.backtest.run` on those bars with the same costs, fill convention and
starting cash, and compares:

* bar by bar, the runner's engine equity and position against the backtest's (zero for
  a runner that makes the backtest's decisions, which is every runner);
* fill by fill, what the venue did against what the backtest assumed. Each backtest fill
  is matched to the live order that executed it (same side, in order, within
  ``tolerance_bars`` of its bar) and the P&L difference is split exactly into

  - ``price``: the live fill price against the backtest's, on the backtest size, split
    into ``latency`` (the market's move from the bar's open, where the backtest fills, to
    the fill's time, estimated inside the bar from its open and close; ``latency_ms`` is
    the delay) and ``slippage`` (the fill against that price, beyond the model's),
  - ``fees``: live fees against modelled fees,
  - ``size``: a different filled size, marked to the last close,
  - ``unmatched``: a fill only one side has (a missed or an extra order), marked to the
    last close,
  - ``funding``: live funding payments (when the journal has them) against modelled,

  so that ``live P&L - backtest P&L = price + fees + size + unmatched + funding +
  unexplained`` with ``price = latency + slippage``; ``unexplained`` is what the parts
  do not account for (zero up to rounding, or the funding the journal did not record).

For ``paper`` the diff is zero; for ``sim``, ``testnet`` and ``mainnet`` it is explained.
``quantlab live replay JOURNAL`` writes the result as a report artefact
(``replay.json``), which the lifecycle reads as evidence.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab._plain import file_sha256, json_safe
from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import run
from quantlab.backtest.result import BacktestResult
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.data.intervals import interval_seconds
from quantlab.errors import DataError
from quantlab.live.journal import Journal

__all__ = ["FILL_COLUMNS", "ReplayResult", "replay", "write_replay"]

SCHEMA = "quantlab.replay/1"

#: Columns of :attr:`ReplayResult.fills`, one row per backtest or live fill.
FILL_COLUMNS = (
    "time_bt",
    "time_live",
    "side",
    "size_bt",
    "size_live",
    "price_bt",
    "price_live",
    "fee_bt",
    "fee_live",
    "client_order_id",
    "match",
    "price",
    "latency",
    "slippage",
    "fees",
    "size",
    "unmatched",
    "slippage_bps",
    "estimate_bps",
    "latency_ms",
)


@dataclass(frozen=True, repr=False)
class ReplayResult:
    """What :func:`replay` returns.

    Attributes
    ----------
    summary : dict
        Counts, P&L of both sides, the diff and its parts, the largest per-bar equity and
        position differences, mean realised and modelled slippage (bps), mean latency.
    fills : pd.DataFrame
        One row per fill (:data:`FILL_COLUMNS`); ``match`` is ``matched``, ``missing``
        (the backtest filled, the venue did not) or ``extra`` (the other way round).
    bars : pd.DataFrame
        Per bar: the runner's engine equity and position against the backtest's.
    backtest : BacktestResult
        The backtest of the journaled bars.
    """

    summary: dict[str, Any]
    fills: pd.DataFrame
    bars: pd.DataFrame
    backtest: BacktestResult | None = None
    journal: dict[str, Any] = field(default_factory=dict)

    @property
    def diff(self) -> float:
        """Live P&L minus backtest P&L."""
        return float(self.summary["diff_total"])

    @property
    def unexplained(self) -> float:
        """Part of :attr:`diff` the fill-by-fill parts do not account for."""
        return float(self.summary["unexplained"])

    def is_zero(self, atol: float = 1e-9) -> bool:
        """Return True when fills, positions and P&L agree to ``atol`` (a paper runner)."""
        s = self.summary
        return bool(
            s["missing"] == 0
            and s["extra"] == 0
            and abs(s["diff_total"]) <= atol * max(1.0, s["init_cash"])
            and s["max_equity_diff"] <= atol * max(1.0, s["init_cash"])
            and s["max_position_diff"] <= atol
        )

    def parts(self) -> pd.Series:
        """Return the diff split into its parts (a Series that sums to ``diff_total``)."""
        keys = ("latency", "slippage", "fees", "size", "unmatched", "funding", "unexplained")
        return pd.Series({k: self.summary[k] for k in keys}, name="pnl_diff")

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON values (summary, fills, journal provenance)."""
        fills = self.fills.copy()
        for c in ("time_bt", "time_live"):
            fills[c] = fills[c].map(lambda t: None if pd.isna(t) else pd.Timestamp(t).isoformat())
        return json_safe(
            {
                "schema": SCHEMA,
                "created_at": _dt.datetime.now(_dt.UTC).isoformat(),
                "journal": self.journal,
                "summary": self.summary,
                "fills": fills.to_dict(orient="records"),
            }
        )

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        s = self.summary
        head = (
            f"<b>replay</b> of {s['n_bars']} bars ({self.journal.get('mode')}): "
            f"{s['matched']} fills matched, {s['missing']} missing, {s['extra']} extra; "
            f"P&L live {s['pnl_live']:.4f} vs backtest {s['pnl_bt']:.4f}, "
            f"diff {s['diff_total']:.6g} (unexplained {s['unexplained']:.3g})"
        )
        return head + self.parts().to_frame().to_html() + self.fills.to_html(max_rows=30)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"ReplayResult(bars={s['n_bars']}, matched={s['matched']}, missing={s['missing']}, "
            f"extra={s['extra']}, diff={s['diff_total']:.6g}, unexplained={s['unexplained']:.3g})"
        )


def _expected_fills(bt: BacktestResult, bars: pd.DataFrame, bar_ms: int) -> pd.DataFrame:
    """Return the backtest's fills: time, side, size, price, fee, reference price."""
    rows = []
    t = bt.trades
    opens = bars["open"].to_numpy()
    index = bars.index
    for r in t.itertuples(index=False):
        side = 1.0 if r.size > 0 else -1.0
        size = abs(float(r.size))
        e, x = int(r.entry_idx), int(r.exit_idx)
        # market entries fill at the bar's open (next_open) or the decided close
        e_ref = opens[e] if bt.fill == "next_open" else float(bt.close.iloc[e])
        e_time = (
            index[e] if bt.fill == "next_open" else index[e] + pd.Timedelta(milliseconds=bar_ms)
        )
        rows.append((e_time, side, size, float(r.entry_price), float(r.entry_fee), e_ref, True))
        if not bool(r.is_open):
            if r.exit_reason == "signal":
                x_ref = opens[x] if bt.fill == "next_open" else float(bt.close.iloc[x])
                x_time = (
                    index[x]
                    if bt.fill == "next_open"
                    else index[x] + pd.Timedelta(milliseconds=bar_ms)
                )
            else:  # stops, take profit, limits: their level, inside the bar
                x_ref = float(r.exit_price)
                x_time = index[x]
            market = r.exit_reason == "signal"
            rows.append(
                (x_time, -side, size, float(r.exit_price), float(r.exit_fee), x_ref, market)
            )
    cols = ["time", "side", "size", "price", "fee", "ref", "market"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _live_orders(j: Journal, symbol: str, bar_ms: int) -> pd.DataFrame:
    """Return the journal's fills aggregated per order (client order id or oid)."""
    fills = pd.DataFrame(j.fills(symbol))
    cols = ["key", "client_order_id", "side", "size", "price", "fee", "time_ms", "bar_time"]
    if fills.empty:
        return pd.DataFrame(columns=cols)
    intents = {r["client_order_id"]: r for r in j.intents()}
    fills["side_n"] = np.where(
        fills["side"].astype(str).str.lower().isin(["b", "buy", "long"]), 1.0, -1.0
    )
    fills["key"] = [
        c if isinstance(c, str) and c else f"oid:{o}"
        for c, o in zip(fills["client_order_id"], fills["oid"], strict=True)
    ]
    out = []
    for key, g in fills.groupby("key", sort=False):
        size = float(g["size"].sum())
        px = float((g["size"] * g["price"]).sum() / size) if size > 0 else float("nan")
        cloid = g["client_order_id"].iloc[0]
        intent = intents.get(cloid) if isinstance(cloid, str) else None
        t_ms = int(g["time_ms"].min())
        # a market order decided at a bar close is meant for the next bar's open
        if intent is not None and str(intent.get("order_type")) == "market":
            bar_time = pd.Timestamp(int(intent["bar_ms"]) + bar_ms, unit="ms", tz="UTC")
        else:
            bar_time = pd.Timestamp(t_ms, unit="ms", tz="UTC")
        out.append(
            (
                key,
                cloid,
                float(g["side_n"].iloc[0]),
                size,
                px,
                float(g["fee"].fillna(0).sum()),
                t_ms,
                bar_time,
            )
        )
    frame = pd.DataFrame(out, columns=cols)
    return frame.sort_values("bar_time", kind="stable").reset_index(drop=True)


def _match(
    exp: pd.DataFrame, live: pd.DataFrame, tol: pd.Timedelta
) -> list[tuple[int | None, int | None]]:
    """Match backtest fills to live orders: same side, in time order, within ``tol``."""
    pairs: list[tuple[int | None, int | None]] = []
    used = np.zeros(len(live), dtype=bool)
    start = 0
    for i, e in exp.iterrows():
        hit = None
        for k in range(start, len(live)):
            if used[k]:
                continue
            dt = live.at[k, "bar_time"] - e["time"]
            if dt > tol:
                break
            if abs(dt) <= tol and live.at[k, "side"] == e["side"]:
                hit = k
                break
        if hit is None:
            pairs.append((int(i), None))
        else:
            used[hit] = True
            pairs.append((int(i), hit))
            while start < len(live) and used[start]:
                start += 1
    pairs.extend((None, k) for k in range(len(live)) if not used[k])
    return pairs


def _price_at(bars: pd.DataFrame, t_ms: int, bar_ms: int) -> float | None:
    """Return the market price at ``t_ms`` estimated inside its bar, or None past the bars.

    Linear from the bar's open to its close over the bar's span: the journal keeps bars,
    not ticks, so this is the latency part's estimate (the rest of the price difference is
    the fill's own slippage against that price).
    """
    start = (bars.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    k = int(np.searchsorted(start.to_numpy(), t_ms, side="right")) - 1
    if k < 0 or t_ms >= int(start[k]) + bar_ms:
        return None
    frac = (t_ms - int(start[k])) / bar_ms
    o, c = float(bars["open"].iloc[k]), float(bars["close"].iloc[k])
    return o + frac * (c - o)


def _journal_costs(meta: Mapping[str, str], costs: Costs | float | dict | None) -> Costs | None:
    """Return the cost model given, else the journal's (meta ``costs``), else None."""
    if costs is not None:
        return make_costs(costs)
    text = meta.get("costs")
    if text:
        try:
            return make_costs(json.loads(text))
        except json.JSONDecodeError as exc:
            raise DataError(f"journal meta 'costs' is not JSON ({exc})") from None
    return None


def replay(
    journal: str | Path | Journal,
    *,
    costs: Costs | float | dict | None = None,
    fill: str | None = None,
    tolerance_bars: int = 2,
    symbol: str | None = None,
) -> ReplayResult:
    """Replay a runner's journaled bars through the backtester and diff the outcomes.

    Parameters
    ----------
    journal : path or Journal
        The runner's SQLite journal.
    costs : Costs, float or mapping, optional
        The cost model the runner used; default the one the journal records (meta
        ``costs``), else the runner's default (:meth:`Costs.hyperliquid`, noted in the
        summary's ``costs_note``).
    fill : {"next_open", "close"}, optional
        Default the journal's (meta ``fill``) or ``"next_open"``.
    tolerance_bars : int
        A live order matches a backtest fill at most this many bars away.
    symbol : str, optional
        Default the journal's symbol.

    Returns
    -------
    ReplayResult

    Raises
    ------
    DataError
        The journal holds fewer than two bars, or no strategy.
    """
    j = journal if isinstance(journal, Journal) else Journal(journal, readonly=True)
    try:
        meta = j.meta()
        if "strategy" not in meta:
            raise DataError(f"journal {j.path}: no strategy recorded (meta 'strategy')")
        strategy = load_strategy(json.loads(meta["strategy"]))
        symbol = symbol or meta.get("symbol")
        interval = meta.get("interval")
        if not interval:
            raise DataError(f"journal {j.path}: no interval recorded (meta 'interval')")
        bar_ms = int(interval_seconds(interval) * 1000)
        init_cash = float(meta.get("init_cash", "10000"))
        cost_model = _journal_costs(meta, costs)
        costs_note = ""
        if cost_model is None:  # the runner's own default when it was given none
            cost_model = Costs.hyperliquid()
            costs_note = "costs not journaled: the runner's default (Costs.hyperliquid()) assumed"
        fill_mode = fill or meta.get("fill") or "next_open"
        bars = j.bars(symbol)
        if len(bars) < 2:
            raise DataError(
                f"journal {j.path}: {len(bars)} bar(s) of {symbol}; replay needs at least 2"
            )
        first = j.frame("decisions", "symbol = ? ORDER BY time_ms LIMIT 1", (symbol,))
        warmup = 0
        if len(first):
            t0 = pd.Timestamp(int(first["time_ms"].iloc[0]), unit="ms", tz="UTC")
            warmup = int(bars.index.searchsorted(t0))
        bt = run(
            bars,
            _after_warmup(strategy, warmup),
            cost_model,
            fill=fill_mode,
            init_cash=init_cash,
            interval=interval,
            gaps="allow",
        )
        # -- bar by bar: the runner's engine against the backtest
        eq = j.frame("equity", "symbol = ? ORDER BY time_ms", (symbol,))
        eq.index = pd.DatetimeIndex(pd.to_datetime(eq["time_ms"], unit="ms", utc=True), name="time")
        per_bar = pd.DataFrame(
            {
                "equity_bt": bt.equity,
                "position_bt": bt.positions,
                "equity_live": eq["equity"].reindex(bt.equity.index),
                "position_live": eq["position"].reindex(bt.equity.index),
            }
        )
        per_bar["equity_diff"] = per_bar["equity_live"] - per_bar["equity_bt"]
        per_bar["position_diff"] = per_bar["position_live"] - per_bar["position_bt"]
        seen = per_bar["equity_live"].notna()
        # -- fill by fill
        exp = _expected_fills(bt, bars, bar_ms)
        live = _live_orders(j, symbol, bar_ms)
        funding_live = _journal_funding(j)
        kinds = {e["kind"] for e in j.events()}
        journal_info = {
            "path": str(Path(j.path).resolve()),
            "sha256": file_sha256(Path(j.path)),
            "strategy_hash": meta.get("strategy_hash"),
            "mode": meta.get("mode"),
            "symbol": symbol,
            "interval": interval,
            "created_ms": int(meta["created_ms"]) if meta.get("created_ms") else None,
            "kill_trips": sum(
                1
                for e in j.events()
                if e["kind"] == "kill" and "cleared" not in str(e["message"]).lower()
            ),
            "event_kinds": sorted(kinds),
        }
    finally:
        if not isinstance(journal, Journal):
            j.close()
    last_close = float(bars["close"].iloc[-1])
    pairs = _match(exp, live, pd.Timedelta(milliseconds=bar_ms * tolerance_bars))
    rows = []
    for i, k in pairs:
        e = exp.iloc[i] if i is not None else None
        lv = live.iloc[k] if k is not None else None
        side = float(e["side"] if e is not None else lv["side"])
        row: dict[str, Any] = dict.fromkeys(FILL_COLUMNS, np.nan)
        row.update(side=side, price=0.0, latency=0.0, slippage=0.0, fees=0.0, size=0.0,
                   unmatched=0.0)  # fmt: skip
        if e is not None:
            row.update(time_bt=e["time"], size_bt=e["size"], price_bt=e["price"], fee_bt=e["fee"])
            row["estimate_bps"] = side * (e["price"] - e["ref"]) / e["ref"] * 1e4
        if lv is not None:
            row.update(
                time_live=pd.Timestamp(int(lv["time_ms"]), unit="ms", tz="UTC"),
                size_live=lv["size"],
                price_live=lv["price"],
                fee_live=lv["fee"],
                client_order_id=lv["client_order_id"],
            )
        if e is not None and lv is not None:
            row["match"] = "matched"
            row["price"] = -side * e["size"] * (lv["price"] - e["price"])
            row["fees"] = -(lv["fee"] - e["fee"])
            row["size"] = side * (lv["size"] - e["size"]) * (last_close - lv["price"])
            row["slippage_bps"] = side * (lv["price"] - e["ref"]) / e["ref"] * 1e4
            if e["market"]:  # a stop or limit fills inside its bar: no reference time
                row["latency_ms"] = float(int(lv["time_ms"]) - e["time"].value // 1_000_000)
                mid = _price_at(bars, int(lv["time_ms"]), bar_ms)
                if mid is not None:
                    row["latency"] = -side * e["size"] * (mid - e["ref"])
            row["slippage"] = row["price"] - row["latency"]
        elif e is not None:
            row["match"] = "missing"
            row["unmatched"] = -(side * e["size"] * (last_close - e["price"]) - e["fee"])
        else:
            row["match"] = "extra"
            row["unmatched"] = side * lv["size"] * (last_close - lv["price"]) - lv["fee"]
        rows.append(row)
    fills = pd.DataFrame(rows, columns=list(FILL_COLUMNS))
    # P&L of both sides (live: fills marked to the last close, less its funding)
    pnl_bt = float(bt.equity.iloc[-1] - init_cash)
    funding_bt = float(bt.funding.sum())
    if len(live):
        flows = -(live["side"] * live["size"] * live["price"]).sum() - live["fee"].sum()
        pos_live = float((live["side"] * live["size"]).sum())
    else:
        flows, pos_live = 0.0, 0.0
    funding_part = 0.0 if funding_live is None else -(funding_live - funding_bt)
    pnl_live = float(flows + pos_live * last_close) - (
        funding_bt if funding_live is None else funding_live
    )
    if funding_live is None:
        # funding is not in the journal: the live side is charged the modelled funding,
        # so the comparison is of everything else (noted in the summary)
        pass
    diff_total = pnl_live - pnl_bt
    parts = {k: float(fills[k].sum()) for k in ("price", "fees", "size", "unmatched")}
    explained = sum(parts.values()) + funding_part
    parts["latency"] = float(fills["latency"].sum())
    parts["slippage"] = float(fills["slippage"].sum())
    matched = fills[fills["match"] == "matched"]
    summary = {
        "n_bars": len(bars),
        "warmup_bars": warmup,
        "n_bars_journaled_equity": int(seen.sum()),
        "init_cash": init_cash,
        "mode": journal_info["mode"],
        "n_fills_bt": len(exp),
        "n_orders_live": len(live),
        "matched": int((fills["match"] == "matched").sum()),
        "missing": int((fills["match"] == "missing").sum()),
        "extra": int((fills["match"] == "extra").sum()),
        "pnl_live": pnl_live,
        "pnl_bt": pnl_bt,
        "diff_total": diff_total,
        **parts,
        "funding": funding_part,
        "funding_bt": funding_bt,
        "funding_live": funding_live,
        "funding_note": (
            "live funding not journaled: charged as modelled" if funding_live is None else ""
        ),
        "unexplained": diff_total - explained,
        "unexplained_frac": (diff_total - explained) / init_cash,
        "position_end_live": pos_live,
        "position_end_bt": float(bt.positions.iloc[-1]),
        "max_equity_diff": float(per_bar.loc[seen, "equity_diff"].abs().max())
        if seen.any()
        else 0.0,
        "max_position_diff": (
            float(per_bar.loc[seen, "position_diff"].abs().max()) if seen.any() else 0.0
        ),
        "slippage_bps": float(matched["slippage_bps"].mean()) if len(matched) else None,
        "estimate_bps": float(matched["estimate_bps"].mean()) if len(matched) else None,
        "latency_ms_mean": float(matched["latency_ms"].mean()) if len(matched) else None,
        "costs": cost_model.model_dump(mode="json"),
        "costs_note": costs_note,
        "fill": fill_mode,
    }
    return ReplayResult(
        summary=json_safe(summary), fills=fills, bars=per_bar, backtest=bt, journal=journal_info
    )


def _after_warmup(strategy: StrategyBase, warmup: int) -> StrategyBase:
    """Return the strategy with its target held at 0 on the first ``warmup`` bars.

    A runner takes the history it starts with as warm-up (indicators only, no trading)
    and decides from the first bar after it; the backtest must do the same.
    """
    if warmup <= 0:
        return strategy
    base = type(strategy)

    class _WarmedUp(base):  # type: ignore[valid-type, misc]
        def _target(self, df: pd.DataFrame) -> np.ndarray:
            t = np.array(super()._target(df), dtype=np.float64)
            t[: min(warmup, t.shape[0])] = 0.0
            return t

    _WarmedUp.__name__ = base.__name__
    return _WarmedUp.model_construct(**{k: getattr(strategy, k) for k in base.model_fields})


def _journal_funding(j: Journal) -> float | None:
    """Return live funding paid (> 0 paid) from ``funding`` events, or None if none are kept."""
    events = [e for e in j.events() if e["kind"] == "funding"]
    if not events:
        return None
    total = 0.0
    for e in events:
        data = json.loads(e["data"]) if e.get("data") else {}
        total += float(data.get("amount", 0.0))
    return total


def write_replay(result: ReplayResult, path: str | Path) -> Path:
    """Write a replay as JSON (a directory gets ``replay.json``); return the path written."""
    p = Path(path)
    if p.is_dir():
        p = p / "replay.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(
        json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    tmp.replace(p)
    return p
