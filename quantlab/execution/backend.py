"""The execution port: one abstract backend that every venue adapter implements.

A runner talks to an :class:`ExecutionBackend` only (ports and adapters); the paper
backend and the Hyperliquid adapter both pass one conformance suite
(``tests/execution/test_conformance.py``).

Error contract
--------------
- :class:`~quantlab.errors.OrderRejected`: the order was refused and nothing was placed
  (venue rule, margin, reduce-only with nothing to reduce...). ``.reason`` says why.
- :class:`~quantlab.errors.VenueUnavailable`: the venue could not be reached or refused
  service and it is *known* that nothing was applied; retrying later is safe.
- :class:`~quantlab.errors.OrderStateUnknown`: the outcome is unknown (after every
  look-up the adapter could make). Never read it as "not placed": call
  :meth:`ExecutionBackend.order_status` with the same client order id before re-sending.
- :class:`~quantlab.errors.ConfigError`: bad arguments (unknown symbol, bad leverage).

``submit`` is idempotent on the client order id: submitting an intent whose id the backend
already knows returns that order and sends nothing.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

from quantlab.execution.model import Account, Fill, Order, OrderIntent, Position

__all__ = ["ExecutionBackend"]


class ExecutionBackend(ABC):
    """A venue (or its simulation) as the runner sees it.

    Sizes are coins, prices USD, times epoch milliseconds (UTC). Every method may raise the
    errors of the module docstring; none blocks longer than the adapter's timeout.
    """

    #: Registered name of the adapter ("paper", "hyperliquid").
    name: str = ""

    @abstractmethod
    def submit(self, intent: OrderIntent) -> Order:
        """Place one order and return it as the venue acknowledged it.

        A market order that filled comes back ``filled`` (or ``partially_filled``); a
        resting limit or trigger order ``open``. Submitting an already known client
        order id returns the known order without sending anything.

        Raises
        ------
        OrderRejected
            The order was refused; nothing was placed.
        VenueUnavailable
            Nothing was sent/applied; retry later.
        OrderStateUnknown
            The outcome is unknown; look the client order id up before re-sending.
        """

    @abstractmethod
    def cancel(self, symbol: str, client_order_id: str) -> bool:
        """Cancel a resting order by client order id; return False when it was not open."""

    @abstractmethod
    def order_status(self, client_order_id: str) -> Order | None:
        """Return the order with this client order id, or None when the venue never saw it."""

    @abstractmethod
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the resting orders (limit and untriggered trigger orders), oldest first."""

    @abstractmethod
    def fills(self, since_ms: int | None = None) -> list[Fill]:
        """Return the fills at or after ``since_ms`` (all when None), oldest first."""

    @abstractmethod
    def positions(self) -> dict[str, Position]:
        """Return the open positions by symbol (flat symbols are absent)."""

    @abstractmethod
    def account(self) -> Account:
        """Return equity, withdrawable cash, margin used and positions."""

    @abstractmethod
    def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        """Set the symbol's leverage (cross margin unless ``cross=False``)."""

    @abstractmethod
    def schedule_cancel(self, deadline_ms: int | None) -> None:
        """Arm the dead man's switch: cancel every open order at ``deadline_ms``.

        ``None`` disarms it. Renew it periodically while the runner is healthy.
        """

    @abstractmethod
    def mid(self, symbol: str) -> float:
        """Return the symbol's current mid price."""

    # ------------------------------------------------------------- provided helpers

    def submit_bracket(self, entry: OrderIntent, *protective: OrderIntent) -> list[Order]:
        """Send an entry with reduce-only triggers that arm at its first fill (optional).

        Hyperliquid's ``normalTpsl`` grouping: the exchange-side stop and target exist from
        the moment the entry fills, whatever happens to the runner. Both built-in adapters
        implement it; the default refuses.
        """
        from quantlab.errors import ConfigError

        raise ConfigError(f"backend {self.name!r} does not support grouped (bracket) orders")

    def now_ms(self) -> int:
        """Return the backend's clock in UTC epoch ms (base deadlines such as
        :meth:`schedule_cancel` on it; the default is the wall clock)."""
        return int(time.time() * 1000)

    def bound_waits(self, seconds: float | None) -> None:  # noqa: B027 - optional hook
        """Refuse any wait for the venue's rate limit that would end more than ``seconds``
        from now (None: wait as long as needed); a refused request is not sent. The
        default does nothing (a backend that never waits)."""

    def position(self, symbol: str) -> float:
        """Return the signed position size of ``symbol`` (0.0 when flat)."""
        pos = self.positions().get(symbol)
        return pos.size if pos is not None else 0.0

    def cancel_all(self, symbol: str | None = None) -> int:
        """Cancel every open order (of ``symbol``) that has a client order id; return how many."""
        n = 0
        for order in self.open_orders(symbol):
            if order.client_order_id and self.cancel(order.symbol, order.client_order_id):
                n += 1
        return n

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections; the default does nothing."""

    def __enter__(self) -> ExecutionBackend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
