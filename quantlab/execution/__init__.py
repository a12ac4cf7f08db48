"""Execution: the order model, the pipeline stages, the backend port and its adapters.

The runner (``quantlab.live``) talks to an :class:`ExecutionBackend`; adapters ("paper",
"hyperliquid") are registered on :data:`BACKENDS`; :func:`make_backend` builds one by name.
The local Hyperliquid exchange lives in :mod:`quantlab.execution.sim`.
"""

from __future__ import annotations

from typing import Any

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
    stop_market,
)
from quantlab.execution.paper import PaperBackend, PaperConfig
from quantlab.execution.pipeline import (
    Breach,
    Decision,
    ExecutionPipeline,
    ExecutionResult,
    OrderSizer,
    PostTradeValidator,
    ProfitabilityFilter,
)
from quantlab.execution.slippage import SlippageEstimator
from quantlab.registry import Registry

#: Execution backends by name: a class or factory called with keyword arguments.
BACKENDS: Registry[Any] = Registry(
    "execution backend", entry_point_group="quantlab.execution_backends"
)


def _hyperliquid(**kwargs: Any) -> ExecutionBackend:
    from quantlab.execution.hyperliquid import HyperliquidBackend

    return HyperliquidBackend(**kwargs)


# The built-in backends, registered here (the one place).
BACKENDS.register("paper", PaperBackend)
BACKENDS.register("hyperliquid", _hyperliquid)


def make_backend(name: str, **kwargs: Any) -> ExecutionBackend:
    """Return a new backend registered as ``name`` (``"paper"``, ``"hyperliquid"``)."""
    return BACKENDS.get(name)(**kwargs)


__all__ = [
    "BACKENDS",
    "Account",
    "Bar",
    "Breach",
    "Decision",
    "ExecutionBackend",
    "ExecutionPipeline",
    "ExecutionResult",
    "Fill",
    "Liquidity",
    "Order",
    "OrderIntent",
    "OrderSizer",
    "OrderStatus",
    "OrderType",
    "PaperBackend",
    "PaperConfig",
    "Position",
    "PostTradeValidator",
    "ProfitabilityFilter",
    "Side",
    "SlippageEstimator",
    "TimeInForce",
    "TriggerKind",
    "make_backend",
    "make_client_order_id",
    "stop_market",
]


def __getattr__(name: str) -> Any:
    # submodules with heavier imports load on first use: ql.execution.sim.serve(...)
    if name in ("sim", "hyperliquid", "keys", "venue", "ratelimit"):
        import importlib

        module = importlib.import_module(f"quantlab.execution.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'quantlab.execution' has no attribute {name!r}")
