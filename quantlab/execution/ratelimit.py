"""Client-side pacing for a venue: a rate limiter by request weight and a nonce source.

- :class:`WeightLimiter` keeps the requests of the last ``window_s`` seconds under the
  venue's budget (Hyperliquid: 1200 weight per minute per IP) and backs off exponentially
  after a 429. Once :meth:`WeightLimiter.stop_waiting_after` sets a deadline (a runner
  that was asked to stop), a wait that would end after it raises
  :class:`~quantlab.errors.VenueUnavailable` instead: the request is not sent.
- :func:`info_weight` and :func:`exchange_weight` give a request's weight by the venue's
  published table: an ``/exchange`` action weighs ``1 + floor(batch_length / 40)``, the
  light ``/info`` requests (``allMids``, ``clearinghouseState``, ``orderStatus``,
  ``l2Book``) 2 and the others 20.
- :class:`NonceSource` hands out strictly increasing millisecond nonces per signer, so two
  actions signed within one millisecond never share a nonce.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from quantlab.errors import VenueUnavailable

__all__ = [
    "LIGHT_INFO",
    "NonceSource",
    "WeightLimiter",
    "exchange_weight",
    "info_weight",
    "nonce_source",
]

#: The ``/info`` request types that weigh 2 (every other one weighs 20).
LIGHT_INFO = frozenset({"allMids", "clearinghouseState", "orderStatus", "l2Book"})


def info_weight(kind: str | None) -> int:
    """Return the weight of one ``/info`` request of type ``kind``."""
    return 2 if kind in LIGHT_INFO else 20


def exchange_weight(batch_length: int = 1) -> int:
    """Return the weight of one ``/exchange`` action carrying ``batch_length`` orders."""
    return 1 + int(batch_length) // 40


class WeightLimiter:
    """Pace requests so their total weight per window stays under ``capacity``.

    Parameters
    ----------
    capacity : int
        Weight allowed per window.
    window_s : float
        Window length in seconds.
    backoff_s : float
        First back-off after a 429; doubles per consecutive 429, up to ``max_backoff_s``.
    clock, sleep : callables
        Injected for tests (``time.monotonic`` and ``time.sleep``).
    slice_s : float
        Longest single sleep: a deadline set meanwhile (e.g. from a signal handler) is
        seen within this time.
    """

    def __init__(
        self,
        capacity: int = 1200,
        window_s: float = 60.0,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        slice_s: float = 0.25,
    ) -> None:
        self.capacity = int(capacity)
        self.window_s = float(window_s)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._spent: deque[tuple[float, int]] = deque()
        self._strikes = 0
        self.waited_s = 0.0
        self.slice_s = float(slice_s)
        self.deadline: float | None = None

    def stop_waiting_after(self, seconds: float | None) -> None:
        """Refuse from now on any wait that would end more than ``seconds`` from now.

        A refused wait raises :class:`~quantlab.errors.VenueUnavailable` before its request
        is sent, so the caller knows nothing reached the venue. ``None`` lifts the deadline.
        """
        self.deadline = None if seconds is None else self._clock() + float(seconds)

    def _wait(self, seconds: float, why: str) -> None:
        """Sleep ``seconds`` in slices, unless the deadline comes first."""
        end = self._clock() + seconds
        while True:
            deadline = self.deadline
            if deadline is not None and end > deadline:
                raise VenueUnavailable(
                    f"rate limit: {why} would wait past the stop deadline; request not sent"
                )
            left = end - self._clock()
            if left <= 0.0:
                return
            self._sleep(min(left, self.slice_s))

    def used(self) -> int:
        """Return the weight spent in the current window."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            return sum(w for _, w in self._spent)

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window_s:
            self._spent.popleft()

    def acquire(self, weight: int) -> None:
        """Block until ``weight`` fits in the window, then spend it."""
        weight = min(int(weight), self.capacity)
        while True:
            now = self._clock()
            with self._lock:
                self._expire(now)
                used = sum(w for _, w in self._spent)
                if used + weight <= self.capacity:
                    self._spent.append((now, weight))
                    return
                wait = self.window_s - (now - self._spent[0][0])
            self._wait(max(wait, 0.001), f"a weight of {weight} in a full window")
            self.waited_s += max(wait, 0.0)

    def backoff(self) -> float:
        """Sleep after a 429 (exponential in consecutive 429s); return the seconds slept."""
        with self._lock:
            delay = min(self.backoff_s * (2**self._strikes), self.max_backoff_s)
            self._strikes += 1
        self._wait(delay, "the back-off after a 429")
        self.waited_s += delay
        return delay

    def success(self) -> None:
        """Reset the back-off after an accepted request."""
        with self._lock:
            self._strikes = 0


class NonceSource:
    """Strictly increasing millisecond nonces for one signer (thread-safe)."""

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """Return a nonce greater than every nonce returned before."""
        with self._lock:
            n = max(self._clock_ms(), self._last + 1)
            self._last = n
            return n


_SOURCES: dict[str, NonceSource] = {}
_SOURCES_LOCK = threading.Lock()


def nonce_source(signer: str) -> NonceSource:
    """Return the process-wide nonce source of ``signer`` (shared by every client)."""
    with _SOURCES_LOCK:
        src = _SOURCES.get(signer.lower())
        if src is None:
            src = _SOURCES[signer.lower()] = NonceSource()
        return src
