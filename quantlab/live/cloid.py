"""Deterministic client order ids in Hyperliquid's ``Cloid`` format.

A client order id is a function of what was decided, not of when it was sent: the
strategy hash, the symbol, the decision bar and the action. A runner restarted after a
crash derives the very same id for the same decision, finds it in its journal or on the
exchange, and never sends the order a second time.
"""

from __future__ import annotations

import re

import pandas as pd

from quantlab.errors import ConfigError
from quantlab.execution.model import make_client_order_id

__all__ = ["ACTIONS", "CLOID_RE", "bar_ms", "client_order_id", "is_cloid"]

#: What an order does; part of its identity (one order per symbol, bar and action).
ACTIONS: tuple[str, ...] = (
    "exit",  # signal / limit exit decided at the bar's close (reduce-only market)
    "entry",  # new position decided at the bar's close (market)
    "stop",  # exchange-side reduce-only stop-market backstop, placed or moved at a bar
    "take_profit",  # resting reduce-only limit at the target
    "kill_close",  # close-out ordered by the kill switch
    "orphan_close",  # close-out of a position no journal owns
)

#: ``0x`` and 32 lower-case hex digits: 16 bytes, as the Hyperliquid SDK's ``Cloid``.
CLOID_RE = re.compile(r"^0x[0-9a-f]{32}$")


def bar_ms(bar_time: pd.Timestamp | int | str) -> int:
    """Return a bar's open time as integer milliseconds since the epoch (UTC)."""
    if isinstance(bar_time, int) and not isinstance(bar_time, bool):
        return bar_time
    ts = pd.Timestamp(bar_time)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.value // 1_000_000)


def client_order_id(
    strategy_hash: str, symbol: str, decision_bar: pd.Timestamp | int | str, action: str
) -> str:
    """Return the deterministic client order id of one decision.

    Parameters
    ----------
    strategy_hash : str
        SHA-256 hex of the strategy configuration
        (:func:`quantlab.backtest.verdict.strategy_hash`).
    symbol : str
        The coin, e.g. ``"BTC"``.
    decision_bar : Timestamp, int or str
        Open time of the bar whose close decided the order (int: epoch milliseconds).
    action : str
        One of :data:`ACTIONS`.

    Returns
    -------
    str
        ``0x`` + 32 hex digits, from
        :func:`quantlab.execution.model.make_client_order_id` (the first 16 bytes of a
        SHA-256 of the four parts).
    """
    if action not in ACTIONS:
        raise ConfigError(f"client order id: action {action!r} is not one of {ACTIONS}")
    if not strategy_hash or not symbol:
        raise ConfigError("client order id: strategy_hash and symbol must be non-empty")
    return make_client_order_id(strategy_hash, symbol, bar_ms(decision_bar), action)


def is_cloid(text: object) -> bool:
    """Tell whether ``text`` is a well-formed client order id (``0x`` + 32 hex digits)."""
    return isinstance(text, str) and CLOID_RE.match(text) is not None
