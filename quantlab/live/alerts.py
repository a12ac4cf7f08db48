"""Alerts to Discord and Telegram webhooks, rate-limited, sent off the trading loop.

Destinations come from the environment only (they hold secrets: a Telegram URL carries
the bot token), are never logged, and are switched off when unset:

- ``QUANTLAB_DISCORD_WEBHOOK``: a Discord webhook URL (``POST {"content": text}``).
- ``QUANTLAB_TELEGRAM_WEBHOOK`` and ``QUANTLAB_TELEGRAM_CHAT_ID``: the bot's
  ``.../bot<TOKEN>/sendMessage`` URL and the chat (``POST {"chat_id", "text"}``).

Each alert has a *kind* (``fill``, ``stop``, ``breaker``, ``kill``, ``reconcile``,
``error``, ``runner``). A kind sends at most one alert per ``min_interval_s``, and all
kinds together at most ``burst`` per minute (token bucket; ``kill`` and ``runner`` alerts
pass even when it is spent); what is held back is counted
and reported with the next alert that goes out. Sending happens in a daemon thread: a slow
or dead webhook never delays an order.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["ALERT_KINDS", "URGENT_KINDS", "Alerter", "Destination", "destinations_from_env"]

ALERT_KINDS = ("fill", "stop", "breaker", "kill", "reconcile", "error", "runner")
#: Kinds that pass even when the per-minute burst is spent (only their own interval holds).
URGENT_KINDS = ("kill", "runner")

log = logging.getLogger("quantlab.live.alerts")


@dataclass(frozen=True)
class Destination:
    """One webhook: a name for logs (never the URL), the URL and how to shape the body."""

    name: str
    url: str
    chat_id: str | None = None

    def body(self, text: str) -> bytes:
        """Return the JSON body this destination expects."""
        if self.name == "telegram":
            return json.dumps({"chat_id": self.chat_id, "text": text}).encode()
        return json.dumps({"content": text}).encode()

    def __repr__(self) -> str:  # never show the URL (it may hold a token)
        return f"Destination({self.name!r})"


def destinations_from_env(env: Mapping[str, str] | None = None) -> list[Destination]:
    """Return the webhook destinations configured in the environment."""
    env = os.environ if env is None else env
    out = []
    if env.get("QUANTLAB_DISCORD_WEBHOOK"):
        out.append(Destination("discord", env["QUANTLAB_DISCORD_WEBHOOK"]))
    if env.get("QUANTLAB_TELEGRAM_WEBHOOK") and env.get("QUANTLAB_TELEGRAM_CHAT_ID"):
        out.append(
            Destination(
                "telegram", env["QUANTLAB_TELEGRAM_WEBHOOK"], env["QUANTLAB_TELEGRAM_CHAT_ID"]
            )
        )
    return out


class Alerter:
    """Send rate-limited alerts to webhooks from a background thread.

    Parameters
    ----------
    destinations : list of Destination, optional
        Default: :func:`destinations_from_env`.
    prefix : str
        Put in front of every message (e.g. ``"[paper BTC ma_cross]"``).
    min_interval_s : float
        Minimum time between two alerts of the same kind.
    burst : int
        At most this many alerts per minute over all kinds.
    timeout_s : float
        HTTP timeout of one post.
    clock : callable
        Time source (tests).
    """

    def __init__(
        self,
        destinations: list[Destination] | None = None,
        *,
        prefix: str = "",
        min_interval_s: float = 10.0,
        burst: int = 20,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destinations = destinations_from_env() if destinations is None else destinations
        self.prefix = prefix
        self.min_interval_s = float(min_interval_s)
        self.burst = int(burst)
        self.timeout_s = float(timeout_s)
        self._clock = clock
        self._last: dict[str, float] = {}
        self._tokens = float(burst)
        self._refilled = clock()
        self._suppressed = 0
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Return True when at least one destination is configured."""
        return bool(self.destinations)

    @property
    def suppressed(self) -> int:
        """Return the number of alerts held back by the rate limits (not yet reported)."""
        return self._suppressed

    def _admit(self, kind: str) -> bool:
        now = self._clock()
        with self._lock:
            self._tokens = min(
                float(self.burst), self._tokens + (now - self._refilled) * self.burst / 60.0
            )
            self._refilled = now
            last = self._last.get(kind)
            urgent = kind in URGENT_KINDS
            if (last is not None and now - last < self.min_interval_s) or (
                self._tokens < 1.0 and not urgent
            ):
                self._suppressed += 1
                return False
            self._tokens = max(self._tokens - 1.0, 0.0)
            self._last[kind] = now
            return True

    def alert(self, kind: str, message: str) -> bool:
        """Queue an alert; return False when no destination is set or a limit held it back."""
        if not self.destinations:
            return False
        if not self._admit(kind):
            return False
        with self._lock:
            held, self._suppressed = self._suppressed, 0
        text = f"{self.prefix} {kind}: {message}".strip()
        if held:
            text += f" (+{held} alerts held back by the rate limit)"
        self._ensure_thread()
        self._queue.put((kind, text))
        return True

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="quantlab-alerts", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                _, text = item
                for dest in self.destinations:
                    self._post(dest, text)
            finally:
                self._queue.task_done()

    def _post(self, dest: Destination, text: str) -> None:
        req = urllib.request.Request(
            dest.url,
            data=dest.body(text),
            headers={"Content-Type": "application/json", "User-Agent": "quantlab-live"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
            self.sent += 1
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.failed += 1
            reason = getattr(exc, "code", None) or type(exc).__name__
            log.warning("alert to %s failed (%s)", dest.name, reason)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every queued alert was posted (or ``timeout_s`` passed)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        """Send what is queued and stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=2.0)
