"""Order guards: an order-rate cap and a re-entry cooldown.

The venue's request-weight budget is kept by the backend itself (every request it sends
is paced by :class:`~quantlab.execution.ratelimit.WeightLimiter`). :class:`OrderGuard`
adds the two rules the seed systems lacked: at most ``max_orders_per_minute`` orders per
symbol and market-time minute (a runaway loop cannot send 63 orders in a second) and no
new entry in the direction of a position stopped out less than ``reentry_cooldown_s``
before (market time), on top of the engine's own cooldown.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["OrderGuard"]


class OrderGuard:
    """Per-symbol order-rate cap and same-direction re-entry cooldown after a stop.

    Parameters
    ----------
    max_orders_per_minute : int
        Orders (of any kind) per symbol in any 60 s of wall-clock time.
    reentry_cooldown_s : float
        Market-time seconds after a stop during which an entry in the stopped direction
        is refused.
    clock : callable
        Wall clock for the rate cap (tests).
    """

    def __init__(
        self,
        max_orders_per_minute: int = 20,
        reentry_cooldown_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_orders_per_minute = int(max_orders_per_minute)
        self.reentry_cooldown_s = float(reentry_cooldown_s)
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._stopped: dict[str, tuple[int, float]] = {}

    def check_rate(self, symbol: str, time_ms: int | None = None) -> str | None:
        """Return why an order now would break the rate cap, or None (and count it).

        ``time_ms`` is the order's market time (its decision bar's close); without it, the
        wall clock. Counting on the market clock keeps a fast replay legal while a loop
        that re-sends within one bar is still stopped at the cap.
        """
        now = self._clock() if time_ms is None else time_ms / 1000.0
        q = self._sent.setdefault(symbol, deque())
        while q and now - q[0] >= 60.0:
            q.popleft()
        if len(q) >= self.max_orders_per_minute:
            return (
                f"{symbol}: {len(q)} orders in the last minute reach the cap of "
                f"{self.max_orders_per_minute} per minute"
            )
        q.append(now)
        return None

    def note_stop(self, symbol: str, direction: int, time_ms: int) -> None:
        """Remember that a ``direction`` position of ``symbol`` was stopped at ``time_ms``."""
        self._stopped[symbol] = (int(math.copysign(1, direction)), float(time_ms))

    def check_entry(self, symbol: str, direction: int, time_ms: int) -> str | None:
        """Return why an entry now would break the re-entry cooldown, or None."""
        last = self._stopped.get(symbol)
        if last is None or self.reentry_cooldown_s <= 0:
            return None
        d, t = last
        age = (time_ms - t) / 1000.0
        if d == int(math.copysign(1, direction)) and 0 <= age < self.reentry_cooldown_s:
            return (
                f"{symbol}: re-entry {'long' if d > 0 else 'short'} {age:.0f} s after a stop "
                f"(cooldown {self.reentry_cooldown_s:.0f} s)"
            )
        return None
