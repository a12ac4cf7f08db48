"""Reconciliation: the journal against the exchange, with explicit rules.

Run on start (before any order) and every few seconds. Each rule is a small function
with its own test against the local exchange:

1. **Unanswered intents** (journal status ``pending``/``unknown``: written, but whether the
   venue took them is not known): the client order id is looked up. Known to the venue:
   the order is recorded and the intent marked ``sent``. Unknown to the venue: the intent
   is ``skipped`` when its decision is stale, else left ``pending`` to be sent again with
   the *same* id.
2. **Orders the journal lost** (open on the exchange for this symbol, not journaled):
   adopted (recorded with ``source = "adopted"``) and reported.
3. **Orders the exchange lost** (open in the journal, no longer open on the exchange):
   resolved from the fills (filled size >= order size: ``filled``) and the order status
   (``canceled``, ``rejected``, ``filled``); never left open.
4. **Fills** since the last one journaled: added, de-duplicated by the exchange fill id.
5. **Positions**: the exchange position of the symbol against the one the journal's fills
   imply. A position the journal cannot account for is an **orphan**: an alert, and the
   configured action (``close``: a reduce-only close-out; ``adopt``: the runner takes it
   over). A journal position the exchange no longer has is recorded as closed.
6. **A missing answer is never flat**: if any query fails, the report says
   ``reconciled = False`` and the runner does not trade until a later pass succeeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from quantlab.errors import ExecutionError, QuantlabError
from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.model import Fill, Order, OrderStatus
from quantlab.live.journal import Journal

__all__ = ["OPEN_STATUSES", "ReconcileReport", "fill_row", "order_row", "reconcile"]

OPEN_STATUSES = ("open", "partially_filled", "triggered")

#: Position sizes closer than this (coins, relative to the size) count as equal.
SIZE_RTOL = 1e-9


@dataclass
class ReconcileReport:
    """What one reconciliation pass found and did."""

    reconciled: bool = False
    error: str = ""
    new_fills: list[dict[str, Any]] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    adopted_orders: list[str] = field(default_factory=list)
    resolved_orders: dict[str, str] = field(default_factory=dict)
    exchange_position: float = math.nan
    journal_position: float = math.nan
    orphan: float = 0.0
    vanished: float = 0.0

    @property
    def mismatch(self) -> bool:
        """Return True when the pass found something the journal did not know."""
        unexpected = [s for s in self.resolved_orders.values() if s != "filled"]
        return bool(self.adopted_orders or self.orphan or self.vanished or unexpected)


def order_row(order: Order) -> dict[str, Any]:
    """Return the journal's ``orders`` row of an exchange order."""
    return {
        "client_order_id": order.client_order_id,
        "oid": order.oid,
        "symbol": order.symbol,
        "side": order.side.value,
        "size": order.size,
        "order_type": order.order_type.value,
        "limit_px": order.limit_px,
        "trigger_px": order.trigger_px,
        "reduce_only": order.reduce_only,
        "status": order.status.value,
        "filled": order.filled_size,
        "avg_px": None if math.isnan(order.avg_px) else order.avg_px,
    }


def fill_row(fill: Fill) -> dict[str, Any]:
    """Return the journal's ``fills`` row of an exchange fill."""
    return {
        "tid": fill.tid,
        "oid": fill.oid,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "size": fill.size,
        "price": fill.price,
        "fee": fill.fee,
        "time_ms": fill.time_ms,
        "closed_pnl": fill.closed_pnl,
        "liquidity": fill.liquidity.value,
    }


def owned_ids(journal: Journal) -> set[str]:
    """Return the client order ids the runner owns: its intents and the adopted orders."""
    ids = {i["client_order_id"] for i in journal.intents()}
    ids |= {o["client_order_id"] for o in journal.orders()}
    return ids


def journal_position(journal: Journal, symbol: str, until_ms: int | None = None) -> float:
    """Return the position the runner owns in ``symbol`` (signed coins).

    The sum of the fills of its own orders (intents and adopted orders, by client order id
    or exchange order id), up to ``until_ms`` when given, plus the position it adopted or
    gave up (meta ``adopted:<symbol>``).
    """
    ids = owned_ids(journal)
    oids = {o["oid"] for o in journal.orders() if o["oid"] is not None}
    parts = [float(journal.get_meta(f"adopted:{symbol}", "0") or 0.0)]
    for f in journal.fills(symbol):
        if until_ms is not None and f["time_ms"] > until_ms:
            continue
        if f["client_order_id"] in ids or f["oid"] in oids:
            parts.append(f["size"] if f["side"] == "buy" else -f["size"])
    pos = math.fsum(parts)
    scale = max((abs(p) for p in parts), default=0.0)
    return 0.0 if abs(pos) <= 1e-9 * scale else pos  # a sum of fills that closes is flat


def _same_size(a: float, b: float) -> bool:
    return abs(a - b) <= SIZE_RTOL * max(abs(a), abs(b), 1e-12) or abs(a - b) < 1e-12


def sync_fills(journal: Journal, backend: ExecutionBackend, symbol: str) -> list[dict[str, Any]]:
    """Rule 4: journal the fills since the last one seen; return the new ones."""
    since = journal.last_fill_ms()
    new = []
    for fill in backend.fills(since_ms=since):
        if fill.symbol != symbol:
            continue
        row = fill_row(fill)
        if journal.add_fill(row):
            new.append(row)
    return new


def resolve_unanswered(
    journal: Journal, backend: ExecutionBackend, symbol: str, current_bar_ms: int | None,
    report: ReconcileReport,
) -> None:  # fmt: skip
    """Rule 1: settle every intent whose outcome the journal does not know."""
    for intent in journal.intents(status=("pending", "unknown")):
        if intent["symbol"] != symbol:
            continue
        cloid = intent["client_order_id"]
        order = backend.order_status(cloid)
        if order is not None:
            journal.upsert_order(order_row(order))
            status = "filled" if order.status is OrderStatus.FILLED else "sent"
            if order.status in (OrderStatus.REJECTED, OrderStatus.CANCELED):
                status = order.status.value
            journal.set_intent_status(cloid, status)
            report.confirmed.append(cloid)
        elif current_bar_ms is not None and intent["bar_ms"] < current_bar_ms:
            journal.set_intent_status(cloid, "skipped", "never reached the venue; decision stale")
            report.skipped.append(cloid)
        else:
            journal.set_intent_status(cloid, "pending")
            report.resent.append(cloid)


def adopt_lost_orders(
    journal: Journal, open_orders: list[Order], symbol: str, report: ReconcileReport
) -> None:
    """Rule 2: record open exchange orders of ``symbol`` the journal does not hold."""
    known = {o["client_order_id"] for o in journal.orders()}
    for order in open_orders:
        if order.symbol != symbol:
            continue
        cloid = order.client_order_id or f"oid:{order.oid}"
        if cloid in known:
            journal.upsert_order(order_row(order) | {"client_order_id": cloid})
            continue
        journal.upsert_order(order_row(order) | {"client_order_id": cloid}, source="adopted")
        report.adopted_orders.append(cloid)


def resolve_vanished_orders(
    journal: Journal, backend: ExecutionBackend, open_orders: list[Order], symbol: str,
    report: ReconcileReport,
) -> None:  # fmt: skip
    """Rule 3: settle journal orders that are open in the journal but not on the exchange."""
    live = {o.client_order_id or f"oid:{o.oid}" for o in open_orders}
    fills = journal.fills(symbol)
    for row in journal.orders(status=OPEN_STATUSES):
        cloid = row["client_order_id"]
        if row["symbol"] != symbol or cloid in live:
            continue
        filled = sum(
            f["size"]
            for f in fills
            if (f["client_order_id"] == cloid)
            or (row["oid"] is not None and f["oid"] == row["oid"])
        )
        order = backend.order_status(cloid) if not cloid.startswith("oid:") else None
        if order is not None and order.status.is_final:
            status = order.status.value
        elif row["size"] and filled >= row["size"] * (1 - 1e-9):
            status = "filled"
        elif order is not None and order.status.is_live:
            continue  # still live (a stale open-orders read): leave it
        else:
            status = "canceled"
        row.update(status=status, filled=filled)
        journal.upsert_order(row, source=row.get("source", "runner"))
        if journal.intent(cloid) is not None:
            journal.set_intent_status(
                cloid,
                "filled"
                if status == "filled"
                else status
                if status in ("canceled", "rejected")
                else "sent",
            )
        report.resolved_orders[cloid] = status


def reconcile(
    journal: Journal,
    backend: ExecutionBackend,
    symbol: str,
    *,
    current_bar_ms: int | None = None,
    expected_position: float | None = None,
) -> ReconcileReport:
    """Run one reconciliation pass for ``symbol`` (rules 1-6 of the module docstring).

    Parameters
    ----------
    expected_position : float, optional
        The position the runner believes it holds; default: the sum of the journal's
        fills.

    Returns
    -------
    ReconcileReport
        ``orphan`` is the exchange position the journal cannot account for (0: none),
        ``vanished`` the journal position the exchange no longer holds. The caller
        applies the orphan action; nothing here sends an order.
    """
    report = ReconcileReport()
    try:
        report.new_fills = sync_fills(journal, backend, symbol)
        resolve_unanswered(journal, backend, symbol, current_bar_ms, report)
        open_orders = backend.open_orders(symbol)
        adopt_lost_orders(journal, open_orders, symbol, report)
        resolve_vanished_orders(journal, backend, open_orders, symbol, report)
        positions = backend.positions()
    except (ExecutionError, QuantlabError, OSError) as exc:
        report.reconciled = False
        report.error = f"{type(exc).__name__}: {exc}"
        return report
    pos = positions.get(symbol)
    exch = pos.size if pos is not None else 0.0
    mine = journal_position(journal, symbol) if expected_position is None else expected_position
    report.exchange_position = exch
    report.journal_position = mine
    if not _same_size(exch, mine):
        if exch != 0 and (mine == 0 or math.copysign(1, exch) != math.copysign(1, mine)):
            report.orphan = exch
        elif exch == 0:
            report.vanished = mine
        else:  # same side, another size: the part nobody owns
            diff = exch - mine
            if abs(exch) > abs(mine):
                report.orphan = diff
            else:
                report.vanished = -diff
    journal.set_position(symbol, exch, pos.entry_px if pos is not None else None)
    report.reconciled = True
    return report
