"""Seeded faults of the local exchange: what goes wrong, how often, and on which request.

A spec is a comma-separated list of ``KIND:N`` (the next ``N`` eligible requests) or
``KIND:P`` (each eligible request with probability ``P``, drawn from a seeded generator),
e.g. ``"429:3,timeout_after:1,stale:0.05"``. Kinds:

``429``             answer HTTP 429 (rate limited) without applying anything
``5xx``             answer HTTP 502 without applying anything
``5xx_after``       apply the action, then answer HTTP 500 (the client cannot tell)
``timeout_before``  hold the request past the client's timeout, then apply it (unless its
                    ``expiresAfter`` has passed) and drop the connection unanswered
``timeout_after``   apply the action, then hold the answer past the client's timeout
``partial``         the next fill that crosses the book fills only part of its size
``reject``          refuse every order of the action (``{"error": ...}`` statuses)
``stale``           answer an ``/info`` read from the state before the last action
"""

from __future__ import annotations

import threading

import numpy as np

from quantlab.errors import ConfigError

__all__ = ["EXCHANGE_ONLY", "KINDS", "Faults"]

KINDS = ("429", "5xx", "5xx_after", "timeout_before", "timeout_after", "partial", "reject", "stale")
EXCHANGE_ONLY = {"5xx_after", "timeout_before", "timeout_after", "partial", "reject"}


class Faults:
    """Armed counts and probabilities of each fault kind, consumed request by request."""

    def __init__(self, spec: str | dict[str, float] | None = None, seed: int = 7) -> None:
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(seed)
        self.counts: dict[str, int] = {}
        self.probs: dict[str, float] = {}
        self.fired: dict[str, int] = {}
        for kind, value in self.parse(spec).items():
            if float(value).is_integer() and value >= 1:
                self.counts[kind] = int(value)
            else:
                self.probs[kind] = float(value)

    @staticmethod
    def parse(spec: str | dict[str, float] | None) -> dict[str, float]:
        """Return ``{kind: count or probability}`` from a spec string or mapping."""
        if spec is None or spec == "":
            return {}
        if isinstance(spec, dict):
            items = list(spec.items())
        else:
            items = []
            for part in str(spec).split(","):
                part = part.strip()
                if not part:
                    continue
                kind, sep, value = part.partition(":")
                if not sep:
                    raise ConfigError(
                        f"faults: {part!r} needs KIND:N or KIND:P (e.g. 429:3, stale:0.1)"
                    )
                items.append((kind.strip(), value.strip()))
        out = {}
        for kind, value in items:
            if kind not in KINDS:
                raise ConfigError(f"faults: unknown kind {kind!r}; known: {', '.join(KINDS)}")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"faults: {kind}: {value!r} is not a number") from None
            if not (v > 0 and (v < 1 or float(v).is_integer())):
                raise ConfigError(
                    f"faults: {kind}: {value!r} must be a count >= 1 or a probability in (0, 1)"
                )
            out[kind] = v
        return out

    def arm(self, kind: str, count: int = 1) -> None:
        """Make the next ``count`` eligible requests suffer ``kind``."""
        if kind not in KINDS:
            raise ConfigError(f"faults: unknown kind {kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + int(count)

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self.counts.clear()
            self.probs.clear()

    def active(self, kind: str) -> bool:
        """Tell whether ``kind`` may still fire (armed or probabilistic)."""
        return self.counts.get(kind, 0) > 0 or self.probs.get(kind, 0.0) > 0.0

    def take(self, kind: str) -> bool:
        """Consume one ``kind`` fault for this request; return whether it fires."""
        with self._lock:
            n = self.counts.get(kind, 0)
            fire = False
            if n > 0:
                self.counts[kind] = n - 1
                fire = True
            elif self.probs.get(kind, 0.0) > 0.0:
                fire = bool(self._rng.random() < self.probs[kind])
            if fire:
                self.fired[kind] = self.fired.get(kind, 0) + 1
            return fire
