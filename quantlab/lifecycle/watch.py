"""The lifecycle's hold on a running runner: permission at start, auto-pause while it runs.

The runner (``quantlab.live``) sits below the lifecycle in the layering and knows nothing
of it. The command that starts it, ``quantlab live run`` (the CLI layer, above both), is
where the two meet:

* before the runner starts, :func:`guard_start` asks :func:`~quantlab.lifecycle.permission`
  whether the strategy may trade in the requested mode; a strategy that is not promoted
  cannot start in ``sim``, ``testnet`` or ``mainnet`` (``paper``, a dry run sending
  nothing anywhere, is always allowed). On ``mainnet`` the size fraction of the ramp
  scales the runner's capital (positions are sized from it, so every position scales);
* while it runs, a :class:`LifecycleWatch` thread applies the auto-pause rules to its
  journal every few seconds (:func:`~quantlab.lifecycle.check_auto_pause`) and re-reads
  the permission; when the strategy is paused, retired or demoted out of the mode, the
  watch trips the runner's kill switch in ``close_only`` through the journal's control
  table (the same request the handle sends) with the reason, so the position is closed
  and nothing new is opened. Only a new promotion, then clearing the kill switch, lets it
  trade again. A ramp step (a new size fraction) is noted in the journal: sizes are set
  when the runner starts, so it applies at the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from quantlab.errors import PromotionRefused, QuantlabError
from quantlab.lifecycle.gates import LifecycleConfig
from quantlab.lifecycle.permission import permission
from quantlab.lifecycle.promote import check_auto_pause, resolve_strategy
from quantlab.lifecycle.registry import PromotionRegistry, open_registry

__all__ = ["LifecycleWatch", "guard_start"]


def guard_start(
    strategy: Any,
    mode: str,
    *,
    registry: PromotionRegistry | str | Path | None = None,
) -> tuple[str, float, str]:
    """Return ``(strategy_hash, size_fraction, reason)`` or raise PromotionRefused.

    Raises
    ------
    PromotionRefused
        The strategy's state does not permit ``mode``.
    """
    reg = open_registry(registry)
    shash, _, _ = resolve_strategy(strategy, reg)
    allowed, fraction, reason = permission(shash, mode, registry=reg)
    if not allowed:
        raise PromotionRefused(f"live run refused: {reason}", reasons=[reason])
    return shash, fraction, reason


class LifecycleWatch:
    """Watch a runner's journal: auto-pause rules and permission, every ``every_s`` seconds.

    Parameters
    ----------
    journal : path
        The runner's journal (the watch waits until it exists).
    strategy_hash, mode : str
    registry : PromotionRegistry or path, optional
    config : LifecycleConfig or mapping, optional
    every_s : float
        Seconds between checks.
    on_revoke : callable, optional
        Called with the reason when the permission is gone (default: request a
        ``close_only`` kill through the journal).
    """

    def __init__(
        self,
        journal: str | Path,
        strategy_hash: str,
        mode: str,
        *,
        registry: PromotionRegistry | str | Path | None = None,
        config: LifecycleConfig | Mapping[str, Any] | None = None,
        every_s: float = 5.0,
        on_revoke: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = Path(journal)
        self.strategy_hash = strategy_hash
        self.mode = mode
        self.registry = open_registry(registry)
        self.config = LifecycleConfig.from_dict(config)
        self.every_s = float(every_s)
        self.on_revoke = on_revoke or self._kill
        self.revoked: str | None = None
        self._fraction: float | None = None
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lifecycle-watch", daemon=True)

    def start(self) -> LifecycleWatch:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> LifecycleWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _note(self, message: str) -> None:
        from quantlab.live.journal import Journal

        with Journal(self.journal) as j:
            j.event("lifecycle", message, level="warning")

    def _kill(self, reason: str) -> None:
        from quantlab.live.journal import Journal

        with Journal(self.journal) as j:
            j.event("lifecycle", reason, level="warning", data={"action": "kill close_only"})
            j.request("kill", "close_only")

    def check(self) -> str | None:
        """Run one check now; return the revocation reason (once), or None."""
        if self.revoked is not None or not self.journal.is_file():
            return None
        try:
            check_auto_pause(self.journal, registry=self.registry, config=self.config)
        except QuantlabError as exc:  # a journal still without bars, say: try again later
            self.errors.append(str(exc))
        allowed, fraction, reason = permission(
            self.strategy_hash, self.mode, registry=self.registry
        )
        if allowed:
            if self._fraction is None:
                self._fraction = fraction
            elif fraction != self._fraction:  # a ramp step: sizes are set at start
                self._fraction = fraction
                self._note(
                    f"lifecycle: size fraction is now {fraction:.0%} ({reason}); restart the "
                    "runner to trade at it"
                )
            return None
        self.revoked = f"lifecycle: permission withdrawn: {reason}"
        self.on_revoke(self.revoked)
        return self.revoked

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
