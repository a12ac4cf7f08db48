"""Execution: the order model, the pipeline stages, the backend port and its adapters.

The runner (``quantlab.live``) talks to an :class:`ExecutionBackend`; adapters ("paper",
"hyperliquid") are registered on :data:`backends`. The local Hyperliquid exchange lives in
:mod:`quantlab.execution.sim`.
"""

from __future__ import annotations

from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.model import (
    Account,
    Bar,
    Fill,
    Liquidity,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    TriggerKind,
    make_client_order_id,
)

__all__ = [
    "Account",
    "Bar",
    "ExecutionBackend",
    "Fill",
    "Liquidity",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "TimeInForce",
    "TriggerKind",
    "make_client_order_id",
]
