"""The live runner: one symbol, one strategy, the backtest's decisions, crash-only.

Loop (every ``poll_s``)
-----------------------
1. Control: requests from the handle / CLI (``kill``, ``clear_kill``, ``stop``), the kill
   file; heartbeat into the journal; the dead man's switch (``scheduleCancel``) renewed.
2. Every ``reconcile_every_s`` (and on start, before any order): :func:`reconcile`. The
   runner trades only while the last pass succeeded.
3. Each closed bar from the feed: journaled; the paper backend (if any) fills at it; fills
   journaled; the engine steps (:class:`DecisionEngine`); its decision is journaled (the
   checkpoint); then its orders, each journaled *before* it is sent:

   - ``exit``: a reduce-only market order closing the position (signal, kill switch,
     daily loss);
   - ``entry``: a market order of exactly the engine's size at the current price;
   - ``stop``: a reduce-only stop-market trigger at the engine's protective level (hard /
     ATR / trailing), placed with every entry and moved with the trailing stop;
   - ``take_profit``: a reduce-only limit at the engine's target.

Crash safety: every client order id is a function of (strategy hash, symbol, decision bar,
action); the journal refuses a second entry for the same symbol, bar and action; a restart
restores the engine from the last decision, re-reconciles, and re-derives (never re-sends)
the orders of the last bar.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.strategy import StrategyBase
from quantlab.backtest.verdict import canonical_json, strategy_config, strategy_hash
from quantlab.config import FrozenConfig
from quantlab.errors import (
    ConfigError,
    ExecutionError,
    OrderRejected,
    OrderStateUnknown,
    SourceError,
    VenueUnavailable,
)
from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.model import Bar, OrderIntent, OrderStatus
from quantlab.kernels import backtest as _bt
from quantlab.kernels.risk import hard_stop_price_nb, take_profit_price_nb
from quantlab.live.alerts import Alerter
from quantlab.live.cloid import client_order_id
from quantlab.live.decision import DecisionEngine, StepResult
from quantlab.live.feed import Feed
from quantlab.live.guards import OrderGuard
from quantlab.live.journal import Journal, now_ms
from quantlab.live.reconcile import (
    OPEN_STATUSES,
    ReconcileReport,
    fill_row,
    journal_position,
    order_row,
    reconcile,
)

__all__ = ["KILL_MODES", "Runner", "RunnerConfig"]

KILL_MODES = ("close_only", "halt_all")
REDUCE_ONLY_HEADROOM = 1e-3
PROTECTIVE = ("stop", "take_profit")


class RunnerConfig(FrozenConfig):
    """Settings of one runner (unknown keys are errors).

    Attributes
    ----------
    symbol, interval, mode : str
    init_cash : float
        Starting equity of the engine state (paper: of the paper account).
    costs : Costs or mapping, optional
        The cost model of the backtest being matched (default: Hyperliquid's fees).
    reconcile_every_s : float
        Seconds between reconciliations (each reads fills, open orders and positions:
        about 42 of the venue's 1,200 request weight per minute and IP). At 15 s a runner
        spends about 300 weight a minute in all, so three fit on one IP; at 5 s, 660.
    heartbeat_every_s, poll_s : float
    orphan_action : {"close", "adopt"}
        What to do with a position nobody owns.
    backstop, take_profit_orders : bool
        Place the exchange-side stop-market backstop / the take-profit limit.
    leverage : int, optional
        Leverage cap set on the exchange (default: the strategy's cap rounded up, + 1).
    dead_man_s : float
        ``scheduleCancel`` window, renewed every third of it (0: off).
    max_orders_per_minute : int
    reentry_cooldown_s : float
        Market-time seconds after a stop before an entry in the same direction.
    daily_loss_action : {"day", "sticky"}
        The daily-loss trip of the kill switch expires at the next UTC day (as the
        backtest's limit does) or stays until cleared.
    max_history : int, optional
        Bars kept for the strategy's inputs (None: all).
    stop_grace_s : float
        Once asked to stop, the runner waits for the venue's rate limit at most this long
        (the final reconciliation included); a request that would wait longer is not sent
        and the next start reconciles instead.
    """

    symbol: str = "BTC"
    interval: str = "1h"
    mode: Literal["paper", "sim", "testnet", "mainnet"] = "paper"
    init_cash: float = Field(10_000.0, gt=0.0)
    costs: Costs | None = None
    reconcile_every_s: float = Field(15.0, gt=0.0)
    heartbeat_every_s: float = Field(1.0, gt=0.0)
    poll_s: float = Field(0.05, ge=0.0)
    orphan_action: Literal["close", "adopt"] = "close"
    backstop: bool = True
    take_profit_orders: bool = True
    leverage: int | None = Field(None, ge=1, le=50)
    dead_man_s: float = Field(60.0, ge=0.0)
    max_orders_per_minute: int = Field(20, ge=1)
    reentry_cooldown_s: float = Field(60.0, ge=0.0)
    daily_loss_action: Literal["day", "sticky"] = "day"
    max_history: int | None = Field(5000, ge=10)
    stop_grace_s: float = Field(20.0, ge=0.0)


class Runner:
    """Drive one strategy on one symbol through an execution backend.

    Parameters
    ----------
    strategy : StrategyBase
    config : RunnerConfig
    backend : ExecutionBackend
    feed : Feed
    journal : Journal
    alerter : Alerter, optional
    logger : logging.Logger, optional
    kill_file : path, optional
        A file whose existence trips the kill switch (its text: the mode, default
        ``close_only``).
    clock : callable
        Wall clock (seconds).
    """

    def __init__(
        self,
        strategy: StrategyBase,
        config: RunnerConfig,
        backend: ExecutionBackend,
        feed: Feed,
        journal: Journal,
        *,
        alerter: Alerter | None = None,
        logger: Any = None,
        kill_file: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.strategy = strategy
        self.config = config
        self.symbol = config.symbol
        self.backend = backend
        self.feed = feed
        self.journal = journal
        self.alerter = alerter or Alerter([])
        self.logger = logger
        self.kill_file = Path(kill_file) if kill_file else None
        self._clock = clock
        self.costs = config.costs or Costs.hyperliquid()
        self.hash = strategy_hash(strategy)
        self.engine = DecisionEngine(
            strategy,
            self.costs,
            interval=config.interval,
            init_cash=config.init_cash,
            fill="next_open",
            max_history=config.max_history,
        )
        self.guard = OrderGuard(config.max_orders_per_minute, config.reentry_cooldown_s)
        self.reconciled = False
        self.last_report: ReconcileReport | None = None
        self._stopping = False
        self._stop_reason = ""
        self._last_reconcile = -math.inf
        self._last_heartbeat = -math.inf
        self._last_dead_man = -math.inf
        self._last_bar: Bar | None = None
        self.phase = "starting"
        self.n_bars = 0
        self._resume: Bar | None = None
        self._orphan_seen: float | None = None

    # ----------------------------------------------------------------- logging
    def _log(self, kind: str, message: str, *, level: str = "info", **data: Any) -> None:
        self.journal.event(kind, message, level=level, data=data or None)
        if self.logger is not None:
            getattr(self.logger, "warning" if level == "warning" else level, self.logger.info)(
                message, extra={"event": kind, "fields": {"symbol": self.symbol, **data}}
            )

    def _alert(self, kind: str, message: str) -> None:
        self.alerter.alert(kind, f"{self.symbol} {self.config.mode}: {message}")

    # ------------------------------------------------------------------- start
    def start(self) -> None:
        """Bind the journal, restore the engine, set leverage, reconcile (retrying)."""
        self.journal.bind(
            strategy_hash=self.hash,
            strategy_json=canonical_json(strategy_config(self.strategy)),
            symbol=self.symbol,
            interval=self.config.interval,
            mode=self.config.mode,
            init_cash=self.config.init_cash,
        )
        self._log("start", f"runner starting (pid {os.getpid()})", pid=os.getpid())
        self.journal.set_meta("stopped", None)
        self._restore()
        lev = self.config.leverage or math.ceil(self.strategy.limits.max_leverage) + 1
        try:
            self.backend.set_leverage(self.symbol, lev)
            self._log("leverage", f"leverage cap {lev}x set on the exchange", leverage=lev)
        except ExecutionError as exc:
            self._log("error", f"set_leverage failed: {exc}", level="warning")
        self.phase = "reconciling"
        while not self._stopping:
            if self.reconcile_now():
                break
            self._heartbeat(force=True)
            time.sleep(min(1.0, self.config.reconcile_every_s))
        self.phase = "running"
        if self._resume is not None and self.reconciled:
            if self._fresh(self._resume):
                self.act(self._resume)
            else:
                self._log("skip", f"bar {self._resume.time}: decision too old to act on now")
            self._resume = None

    def _restore(self) -> None:
        last = self.journal.last_decision(self.symbol)
        bars = self.journal.bars(self.symbol)
        if last is None:
            if len(bars):  # warm-up history journaled before the first decision
                self.engine.preload(bars)
                self.feed.skip_through(int(bars.index[-1].value // 1_000_000))
            return
        t_last = pd.Timestamp(last["time_ms"], unit="ms", tz="UTC")
        done = bars[bars.index <= t_last]
        self.engine.restore(done, last["state"], last["bar_index"])
        self._log(
            "restore",
            f"resumed after bar {t_last} (index {last['bar_index']}, "
            f"position {self.engine.state[_bt.S_QTY]:g})",
            bar=str(t_last),
        )
        if hasattr(self.backend, "on_bar") and self.config.mode == "paper":
            self._rebuild_paper(done)
        later = bars[bars.index > t_last]
        for t, row in later.iterrows():  # journaled but never stepped: step them now
            self._step(self._bar_of(t, row), act=False)
        # the orders of the last bar are derived again once reconciled (same client order
        # ids: what was sent is found, what was not is sent now)
        self._resume = self._bar_of(bars.index[-1], bars.iloc[-1])
        if len(bars):
            self.feed.skip_through(int(bars.index[-1].value // 1_000_000))

    def _bar_of(self, t: pd.Timestamp, row: Any) -> Bar:
        return Bar(self.symbol, t, row["open"], row["high"], row["low"], row["close"],
                   row.get("volume", math.nan), row.get("funding_rate", math.nan))  # fmt: skip

    def _rebuild_paper(self, bars: pd.DataFrame) -> None:
        """Rebuild an in-process paper account from the journal (deterministic replay).

        Each journaled bar goes to the paper backend, then the orders that reached it at
        that bar are submitted again (same client order ids) and the cancels made at that
        bar repeated: the paper account ends where the crashed process left it.
        """
        sent: dict[int, list[dict[str, Any]]] = {}
        for it in self.journal.intents():
            if it["status"] not in ("skipped", "pending", "rejected"):
                sent.setdefault(int(it["bar_ms"]), []).append(it)
        cancels: dict[int, list[str]] = {}
        for e in self.journal.events("cancel"):
            data = json.loads(e["data"] or "{}")
            if data.get("done") and data.get("bar_ms") is not None:
                cancels.setdefault(int(data["bar_ms"]), []).append(data["client_order_id"])
        for t, row in bars.iterrows():
            ms = int(t.value // 1_000_000)
            self.backend.on_bar(self._bar_of(t, row))  # type: ignore[attr-defined]
            for it in sent.get(ms, []):
                with contextlib.suppress(ExecutionError):
                    self.backend.submit(self._intent_from_row(it))
            for cloid in cancels.get(ms, []):
                self.backend.cancel(self.symbol, cloid)
        self._log("restore", "paper account rebuilt from the journal")

    # ------------------------------------------------------------------- loop
    def request_stop(self, reason: str = "requested") -> None:
        """Ask the loop to stop after the current step (rate-limit waits end by the grace)."""
        self._stopping = True
        self._stop_reason = reason
        self.backend.bound_waits(self.config.stop_grace_s)

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT."""

        def _handler(signum: int, _frame: Any) -> None:
            self.request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)

    def run(self, *, max_bars: int | None = None, stop_at_end: bool = True) -> None:
        """Start, then loop until stopped, the feed ends (``stop_at_end``) or ``max_bars``."""
        self.start()
        try:
            while not self._stopping:
                self.tick()
                if max_bars is not None and self.n_bars >= max_bars:
                    self.request_stop("max_bars")
                elif stop_at_end and self.feed.exhausted:
                    self.request_stop("end of feed")
        finally:
            self.shutdown()

    def tick(self) -> int:
        """Run one pass of the loop; return the number of bars processed."""
        self._controls()
        self._heartbeat()
        self._dead_man()
        now = self._clock()
        if now - self._last_reconcile >= self.config.reconcile_every_s:
            self.reconcile_now()
        try:
            bars = self.feed.poll()
        except SourceError as exc:  # the feed backs off by itself; a missing bar is no bar
            self._log("feed", f"feed: {exc}", level="warning")
            bars = []
        if len(bars) > 1 and self.engine.index < 0:
            # a fresh runner's first batch is history: warm-up for the indicators only (no
            # virtual trades in the account state); the newest bar is decided on
            for bar in bars[:-1]:
                self.journal.add_bar(self.symbol, bar.time_ms, _bar_dict(bar))
            self.engine.preload(self.journal.bars(self.symbol).iloc[: len(bars) - 1])
            self._log("warmup", f"{len(bars) - 1} bars of history taken as warm-up")
            bars = bars[-1:]
        for k, bar in enumerate(bars):
            self.on_bar(bar, act=k == len(bars) - 1)
        if not bars and self.config.poll_s:
            time.sleep(self.config.poll_s)
        return len(bars)

    def shutdown(self) -> None:
        """Stop: disarm the dead man's switch (the exchange stops stay), journal it."""
        self.phase = "stopped"
        try:  # first, so the exchange-side stops outlive this process
            if self.config.dead_man_s > 0:
                self.backend.schedule_cancel(None)
        except ExecutionError as exc:
            self._log("error", f"schedule_cancel(None) failed: {exc}", level="warning")
        if self._last_bar is not None and not self.reconcile_now():
            # the final, exchange-confirmed position could not be read within the grace
            self._log("stop", "final reconciliation not done; the next start reconciles",
                      level="warning")  # fmt: skip
        self._log("stop", f"runner stopped ({self._stop_reason or 'normally'})")
        self.journal.set_meta("stopped", json.dumps({"time_ms": now_ms(), "reason":
                                                     self._stop_reason}))  # fmt: skip
        self._heartbeat(force=True)
        self._alert("runner", f"stopped ({self._stop_reason or 'normally'})")
        self.alerter.close()
        self.backend.bound_waits(None)  # its limiter may be shared with other clients

    # --------------------------------------------------------------- heartbeat
    def _heartbeat(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_heartbeat < self.config.heartbeat_every_s:
            return
        self._last_heartbeat = now
        last = self.engine.last_time
        beat = {
            "time_ms": now_ms(),
            "pid": os.getpid(),
            "phase": self.phase,
            "reconciled": self.reconciled,
            "bars": self.n_bars,
            "last_bar": None if last is None else last.isoformat(),
            "position": float(self.engine.state[_bt.S_QTY]),
            "equity": float(self.engine.state[_bt.S_EQUITY]),
        }
        self.journal.set_meta("heartbeat", json.dumps(beat))

    def _dead_man(self) -> None:
        if self.config.dead_man_s <= 0:
            return
        now = self._clock()
        # renewed at least every reconcile period (an accelerated venue clock runs ahead)
        period = min(self.config.dead_man_s / 3, self.config.reconcile_every_s)
        if now - self._last_dead_man < period:
            return
        try:
            base = self.backend.now_ms()
            self.backend.schedule_cancel(base + int(self.config.dead_man_s * 1000))
            self._last_dead_man = now
        except ExecutionError as exc:
            self._log("error", f"schedule_cancel failed: {exc}", level="warning")

    # ---------------------------------------------------------- kill switch
    @property
    def kill(self) -> dict[str, Any] | None:
        """Return the kill switch state (None while clear)."""
        return self.journal.kill_state()

    def trip_kill(self, mode: str, reason: str, *, close_now: bool = True) -> None:
        """Trip the kill switch (sticky); ``close_only`` also closes the position now."""
        if mode not in KILL_MODES:
            raise ConfigError(f"kill: mode {mode!r} is not one of {KILL_MODES}")
        current = self.kill
        if current is not None and current["mode"] == mode:
            return
        self.journal.set_kill(mode, reason)
        self._log("kill", f"kill switch {mode}: {reason}", level="warning", mode=mode,
                  reason=reason)  # fmt: skip
        self._alert("kill", f"kill switch {mode} ({reason})")
        self._cancel_ours(protective=False)
        if mode == "close_only" and close_now:
            self._ingest_fills()
            self._close_out("kill_close", reason)

    def clear_kill(self) -> None:
        """Clear the kill switch (by command only); the engine's own kill resets too."""
        if self.kill is None:
            return
        self.journal.clear_kill()
        s = self.engine.state
        s[_bt.S_KILLED] = 0.0
        s[_bt.S_DAY_HALT] = 0.0
        s[_bt.S_PEAK] = s[_bt.S_EQUITY]
        if self.kill_file is not None and self.kill_file.exists():
            self.kill_file.unlink()
        self.journal.set_meta("kill_until_ms", None)
        self._log("kill", "kill switch cleared by command", level="warning")
        self._alert("kill", "kill switch cleared")

    def _controls(self) -> None:
        for req in self.journal.pending_requests():
            cmd, arg = req["command"], req["arg"]
            try:
                if cmd == "kill":
                    self.trip_kill(arg or "close_only", "command")
                elif cmd == "clear_kill":
                    self.clear_kill()
                elif cmd == "stop":
                    self.request_stop("stop command")
            except ConfigError as exc:
                self._log("error", f"control {cmd} {arg}: {exc}", level="warning")
            self.journal.mark_done(req["id"])
        if self.kill_file is not None and self.kill_file.exists():
            text = self.kill_file.read_text(encoding="utf-8").strip() or "close_only"
            mode = text if text in KILL_MODES else "close_only"
            current = self.kill
            if current is None or current["mode"] != mode:
                self.trip_kill(mode, f"kill file {self.kill_file.name}")

    # --------------------------------------------------------------- reconcile
    def reconcile_now(self) -> bool:
        """Run one reconciliation pass and apply its findings; return whether it succeeded."""
        self._last_reconcile = self._clock()
        last = self.engine.last_time
        current = None if last is None else int(last.value // 1_000_000)
        report = reconcile(self.journal, self.backend, self.symbol, current_bar_ms=current)
        self.last_report = report
        if not report.reconciled:
            if self.reconciled or self.phase == "reconciling":
                self._log("reconcile", f"reconciliation failed, not trading: {report.error}",
                          level="warning")  # fmt: skip
            self.reconciled = False
            return False
        self._on_new_fills(report.new_fills)
        if report.mismatch:
            msg = (
                f"adopted orders {report.adopted_orders}, resolved {report.resolved_orders}, "
                f"orphan {report.orphan:g}, vanished {report.vanished:g}"
            )
            self._log("reconcile", f"reconcile mismatch: {msg}", level="warning",
                      orphan=report.orphan, vanished=report.vanished)  # fmt: skip
            self._alert("reconcile", msg)
        if report.orphan:
            # a stale read (fills behind positions) looks like an orphan once: act only on
            # an orphan that two passes in a row agree on
            if self._orphan_seen is not None and abs(self._orphan_seen - report.orphan) <= 1e-12:
                self._orphan(report.orphan)
                self._orphan_seen = None
            else:
                self._orphan_seen = report.orphan
                self._log("reconcile", f"possible orphan {report.orphan:g}: confirming",
                          level="warning")  # fmt: skip
                self._last_reconcile = -math.inf  # confirm at the next pass
                return self.reconcile_now()
        else:
            self._orphan_seen = None
        if report.vanished:
            self._adopt(-report.vanished)  # closed by something else: no longer ours
            self._log("reconcile", f"position {report.vanished:g} closed on the exchange",
                      level="warning")  # fmt: skip
        for cloid in report.resent:
            row = self.journal.intent(cloid)
            if row is not None:
                self._submit(row)
        self.reconciled = True
        return True

    def _adopt(self, size: float) -> None:
        key = f"adopted:{self.symbol}"
        prev = float(self.journal.get_meta(key, "0") or 0.0)
        self.journal.set_meta(key, repr(prev + size))

    def _orphan(self, size: float) -> None:
        self._alert("reconcile", f"orphan position {size:g} {self.symbol}")
        self._adopt(size)  # owned from now on; "close" then closes it with our own order
        if self.config.orphan_action == "adopt":
            self._log("orphan", f"orphan position {size:g} adopted", level="warning")
            return
        self._log("orphan", f"orphan position {size:g}: closing it", level="warning")
        last = self.engine.last_time
        bar = int(last.value // 1_000_000) if last is not None else now_ms()
        side = "sell" if size > 0 else "buy"
        self._order("orphan_close", bar, side, abs(size), "market", reduce_only=True,
                    reason="orphan")  # fmt: skip

    def _sync_engine(self, bar: Bar) -> None:
        """Make the engine's position the exchange's when they differ after a step.

        Compared: the engine's position after bar ``bar`` and the position the runner's
        own fills up to that bar's close add up to. They differ when the venue filled
        otherwise than the engine modelled (a partial fill, a stop the candle did not
        show, a kill-switch close-out, a liquidation): the venue is the truth.
        """
        close_ms = bar.time_ms + self._bar_ms()
        owned = journal_position(self.journal, self.symbol, until_ms=close_ms)
        s = self.engine.state
        qty = float(s[_bt.S_QTY])
        if abs(owned - qty) <= 1e-9 * max(abs(qty), abs(owned), 1e-12):
            return
        mark = bar.close
        s[_bt.S_CASH] -= (owned - qty) * mark
        s[_bt.S_QTY] = owned
        if owned == 0.0:
            s[_bt.S_ENTRY_IDX] = -1.0
            for k in (_bt.S_STOP, _bt.S_TP, _bt.S_EXTREME):
                s[k] = math.nan
        elif qty == 0.0 or (qty > 0) != (owned > 0):
            d = 1.0 if owned > 0 else -1.0
            entry = float(self.journal.positions().get(self.symbol, {}).get("entry_px") or mark)
            p = self.engine.params
            s[_bt.S_ENTRY_PRICE] = entry
            s[_bt.S_ENTRY_IDX] = float(self.engine.index)
            s[_bt.S_EXTREME] = entry
            s[_bt.S_STOP] = hard_stop_price_nb(entry, d, p[_bt.P_STOP_FRAC])
            s[_bt.S_TP] = take_profit_price_nb(entry, d, p[_bt.P_TP_FRAC])
        s[_bt.S_EQUITY] = s[_bt.S_CASH] + s[_bt.S_QTY] * mark
        rounding = abs(owned - qty) <= 1e-3 * max(abs(qty), abs(owned))  # the venue's lot
        self._log("engine_sync", f"engine position {qty:g} -> {owned:g} (the venue's)",
                  level="debug" if rounding else "warning", before=qty, after=owned)  # fmt: skip

    # ------------------------------------------------------------------- bars
    def on_bar(self, bar: Bar, *, act: bool = True) -> StepResult | None:
        """Process one closed bar (see the module docstring); ``act=False``: decide only."""
        t_ms = bar.time_ms
        self.journal.add_bar(self.symbol, t_ms, _bar_dict(bar))
        return self._step(bar, act=act)

    def _step(self, bar: Bar, *, act: bool) -> StepResult:
        if hasattr(self.backend, "on_bar"):
            self.backend.on_bar(bar)  # type: ignore[attr-defined]
        self._last_bar = bar
        self._ingest_fills()
        self._refresh_orders()
        pause0 = float(self.engine.state[_bt.S_PAUSE_UNTIL])
        result = self.engine.step(bar.time, _bar_dict(bar))
        if self.engine.state[_bt.S_PAUSE_UNTIL] != pause0:
            bars_left = int(self.engine.state[_bt.S_PAUSE_UNTIL]) - result.index
            self._log("breaker", f"binomial breaker: no entries for {bars_left} bars",
                      level="warning")  # fmt: skip
            self._alert("breaker", f"binomial breaker tripped: no entries for {bars_left} bars")
        self._sync_engine(bar)
        self.n_bars += 1
        self.journal.save_decision(
            self.symbol, bar.time_ms, result.index, result.target, self.engine.state,
            price=bar.close,
        )  # fmt: skip
        for tr in result.trades:
            if tr["exit_reason"] in ("stop", "trailing", "liquidation"):
                self.guard.note_stop(self.symbol, 1 if tr["size"] > 0 else -1, bar.time_ms)
                self._alert("stop", f"{tr['exit_reason']} exit at {tr['exit_price']:.6g}, "
                            f"pnl {tr['pnl']:.2f}")  # fmt: skip
        self._limits(result)
        if act:
            self.act(bar)
        self._heartbeat()
        return result

    def _limits(self, result: StepResult) -> None:
        until = self.journal.get_meta("kill_until_ms")
        kill = self.kill
        expired = until and int(result.time.value // 1_000_000) >= int(until)
        if expired and kill is not None and kill["reason"] == "daily_loss":
            self.journal.clear_kill()
            self.journal.set_meta("kill_until_ms", None)
            self._log("kill", "daily-loss trip expired at the new UTC day")
            kill = None
        if result.killed and (kill is None or kill["reason"] != "drawdown"):
            self.trip_kill("close_only", "drawdown", close_now=False)
            self.journal.set_kill("close_only", "drawdown")
        if result.day_halt and kill is None:
            self.journal.set_kill("close_only", "daily_loss")
            self._log("kill", "daily loss limit: kill switch close_only", level="warning")
            self._alert("kill", "daily loss limit reached")
            if self.config.daily_loss_action == "day":
                day_end = (result.time.normalize() + pd.Timedelta(days=1)).value // 1_000_000
                self.journal.set_meta("kill_until_ms", str(int(day_end)))

    def _ingest_fills(self) -> None:
        try:
            fills = self.backend.fills(since_ms=self.journal.last_fill_ms())
        except ExecutionError as exc:
            self._log("error", f"fills query failed: {exc}", level="warning")
            return
        new = []
        for f in fills:
            if f.symbol == self.symbol:
                row = fill_row(f)
                if self.journal.add_fill(row):
                    new.append(row)
        self._on_new_fills(new)

    def _on_new_fills(self, fills: list[dict[str, Any]]) -> None:
        for f in fills:
            self._alert("fill", f"{f['side']} {f['size']:g} @ {f['price']:.6g}")
            self._log("fill", f"fill {f['side']} {f['size']:g} @ {f['price']:.8g}",
                      tid=str(f["tid"]), client_order_id=f["client_order_id"])  # fmt: skip

    def _refresh_orders(self) -> None:
        """Bring the journal's open orders up to date: one open-orders read, and a look-up
        only for those no longer open (filled, canceled, triggered)."""
        rows = [r for r in self.journal.orders(status=OPEN_STATUSES)
                if not r["client_order_id"].startswith("oid:")]  # fmt: skip
        if not rows:
            return
        try:
            live = {o.client_order_id: o for o in self.backend.open_orders(self.symbol)}
        except ExecutionError:
            return
        for row in rows:
            cloid = row["client_order_id"]
            order = live.get(cloid)
            if order is None:
                try:
                    order = self.backend.order_status(cloid)
                except ExecutionError:
                    continue
            if order is not None and order.status.value != row["status"]:
                self.journal.upsert_order(order_row(order), source=row["source"])
                if order.status is OrderStatus.FILLED:
                    self.journal.set_intent_status(cloid, "filled")
                elif order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
                    self.journal.set_intent_status(cloid, order.status.value)

    # -------------------------------------------------------------------- act
    def act(self, bar: Bar) -> None:
        """Turn the engine's decision at ``bar`` into journaled, sent orders."""
        if not self.reconciled:
            self._log("skip", f"bar {bar.time}: not reconciled, no orders", level="warning")
            return
        kill = self.kill
        if kill is not None and kill["mode"] == "halt_all":
            if self.engine.state[_bt.S_PEND_EXIT] or self.engine.state[_bt.S_PEND_ENTRY]:
                self._log("skip", f"bar {bar.time}: halt_all, decision not sent", level="warning")
            return
        bar_ms = bar.time_ms
        if kill is not None and kill["reason"] not in ("drawdown", "daily_loss"):
            # an operator's close_only: whatever position there is goes, every bar
            self._cancel_ours(protective=True)
            self._close_out("kill_close", kill["reason"], bar_ms=bar_ms)
            return
        price = self.feed.price()
        if price is None:
            price = bar.close
        plan = self.engine.preview_open(price)
        sent_exit = False
        if plan.exit_size != 0.0:
            side = "buy" if plan.exit_size > 0 else "sell"
            sent_exit = self._order("exit", bar_ms, side, abs(plan.exit_size), "market",
                                    reduce_only=True, reason=plan.exit_reason)  # fmt: skip
        if plan.exit_size != 0.0 or (plan.entry_size == 0.0 and self.engine.state[_bt.S_QTY] == 0):
            self._cancel_ours(protective=True, keep_bar=None)
        entry_ok = plan.entry_size != 0.0 and kill is None
        if entry_ok:
            d = 1 if plan.entry_size > 0 else -1
            why = self.guard.check_entry(self.symbol, d, bar_ms + self._bar_ms())
            if why:
                self._log("skip", f"entry refused: {why}", level="warning")
                entry_ok = False
        if entry_ok:
            side = "buy" if plan.entry_size > 0 else "sell"
            if self._order("entry", bar_ms, side, abs(plan.entry_size), "market", reason="signal",
                           impact_size=plan.entry_impact_size):  # fmt: skip
                self._protect(bar_ms, plan.entry_size, plan.stop, plan.take_profit)
        elif not sent_exit and self.engine.state[_bt.S_QTY] != 0.0:
            qty = float(self.engine.state[_bt.S_QTY])
            self._protect(bar_ms, qty, self.engine.protective_stop(), self.engine.take_profit())

    def _fresh(self, bar: Bar) -> bool:
        """Tell whether the backend's clock (paper: its last bar) is still inside the bar
        after ``bar``."""
        try:
            return self.backend.now_ms() < bar.time_ms + 2 * self._bar_ms()
        except ExecutionError:
            return False

    def _bar_ms(self) -> int:
        return int(self.engine.bar_seconds * 1000)

    def _protect(self, bar_ms: int, qty: float, stop: float, tp: float) -> None:
        """Keep one reduce-only stop and one take-profit at the engine's levels."""
        current = self._live_protective()
        if self.config.backstop and not math.isnan(stop):
            self._keep(current.get("stop"), "stop", bar_ms, qty, trigger_px=stop)
        if self.config.take_profit_orders and not math.isnan(tp):
            # a take-profit trigger resting as a limit at the target (maker, as the engine)
            self._keep(current.get("take_profit"), "take_profit", bar_ms, qty, trigger_px=tp,
                       limit_px=tp)  # fmt: skip

    def _keep(
        self,
        have: dict[str, Any] | None,
        action: str,
        bar_ms: int,
        qty: float,
        *,
        trigger_px: float,
        limit_px: float | None = None,
    ) -> None:
        """Place ``action`` at ``trigger_px`` unless it rests there; then cancel the old one."""
        if (
            have is not None
            and _same_px(have["trigger_px"], trigger_px)
            and _same_px(have["size"], abs(qty) * (1.0 + REDUCE_ONLY_HEADROOM))
        ):
            return
        side = "sell" if qty > 0 else "buy"
        placed = self._order(action, bar_ms, side, abs(qty), "trigger", trigger_px=trigger_px,
                             limit_px=limit_px, reduce_only=True, reason=action)  # fmt: skip
        if placed and have is not None:
            self._cancel(have["client_order_id"])

    def _live_protective(self) -> dict[str, dict[str, Any]]:
        """Return our resting stop / take-profit orders with their intents' levels and sizes."""
        out: dict[str, dict[str, Any]] = {}
        for o in self.journal.orders(status=OPEN_STATUSES):
            intent = self.journal.intent(o["client_order_id"])
            if intent is not None and intent["action"] in PROTECTIVE:
                out[intent["action"]] = {
                    **o,
                    "size": intent["size"],
                    "limit_px": intent["limit_px"],
                    "trigger_px": intent["trigger_px"],
                }
        return out

    def _cancel_ours(self, *, protective: bool, keep_bar: int | None = None) -> None:
        """Cancel our resting orders: the protective ones, or every other one."""
        for o in self.journal.orders(status=OPEN_STATUSES):
            intent = self.journal.intent(o["client_order_id"])
            action = intent["action"] if intent is not None else "adopted"
            if (action in PROTECTIVE) == protective and o["order_type"] != "market":
                self._cancel(o["client_order_id"])

    def _cancel(self, cloid: str) -> None:
        if cloid.startswith("oid:"):
            return
        try:
            ok = self.backend.cancel(self.symbol, cloid)
        except ExecutionError as exc:
            self._log("error", f"cancel {cloid} failed: {exc}", level="warning")
            return
        last = self.engine.last_time
        self._log("cancel", f"cancel {cloid}: {'done' if ok else 'not open'}",
                  client_order_id=cloid, done=ok,
                  bar_ms=None if last is None else int(last.value // 1_000_000))  # fmt: skip
        order = self.backend.order_status(cloid) if ok else None
        if order is not None:
            self.journal.upsert_order(order_row(order))
        elif ok:
            row = next((o for o in self.journal.orders() if o["client_order_id"] == cloid), None)
            if row is not None:
                self.journal.upsert_order({**row, "status": "canceled"}, source=row["source"])
        if self.journal.intent(cloid) is not None and ok:
            self.journal.set_intent_status(cloid, "canceled")

    def _close_out(self, action: str, reason: str, *, bar_ms: int | None = None) -> None:
        qty = journal_position(self.journal, self.symbol)
        if qty == 0.0:
            return
        if bar_ms is None:
            last = self.engine.last_time
            bar_ms = int(last.value // 1_000_000) if last is not None else now_ms()
        self._order(action, bar_ms, "sell" if qty > 0 else "buy", abs(qty), "market",
                    reduce_only=True, reason=reason)  # fmt: skip

    # ----------------------------------------------------------------- orders
    def _order(
        self,
        action: str,
        bar_ms: int,
        side: str,
        size: float,
        order_type: str,
        *,
        limit_px: float | None = None,
        trigger_px: float | None = None,
        reduce_only: bool = False,
        reason: str = "",
        impact_size: float = math.nan,
    ) -> bool:
        """Journal an intent, then send it; return True when it is (or was) on the venue.

        ``impact_size``: an entry's size before costs, on which the paper backend measures
        its market impact as the engine does (NaN: the order's size).
        """
        cloid = client_order_id(self.hash, self.symbol, bar_ms, action)
        row = {
            "client_order_id": cloid,
            "symbol": self.symbol,
            "bar_ms": bar_ms,
            "action": action,
            "side": side,
            "size": float(size),
            "order_type": order_type,
            "limit_px": limit_px,
            "trigger_px": trigger_px,
            "reduce_only": reduce_only,
            "tif": "Gtc",
            "reason": reason,
            "impact_size": None if math.isnan(impact_size) else float(impact_size),
        }
        if reduce_only:
            # over-size by a hair: the venue clips a reduce-only order to the position, so
            # lot rounding can never leave dust behind
            row["size"] = float(size) * (1.0 + REDUCE_ONLY_HEADROOM)
        new, stored = self.journal.record_intent(row)
        if not new:
            return stored["status"] in ("sent", "filled")
        why = self.guard.check_rate(self.symbol, bar_ms + self._bar_ms())
        if why:
            self.journal.set_intent_status(cloid, "skipped", why)
            self._log("skip", f"order refused: {why}", level="warning")
            self._alert("error", f"order refused: {why}")
            return False
        return self._submit(stored)

    def _intent_from_row(self, row: dict[str, Any]) -> OrderIntent:
        return OrderIntent(
            strategy_id=self.hash,
            symbol=row["symbol"],
            side=row["side"],
            size=float(row["size"]),
            order_type=row["order_type"],
            limit_px=row["limit_px"],
            trigger_px=row["trigger_px"],
            trigger_kind=(
                ("tp" if row["action"] == "take_profit" else "sl")
                if row["order_type"] == "trigger"
                else None
            ),
            reduce_only=bool(row["reduce_only"]),
            tif=row["tif"] or "Gtc",
            client_order_id=row["client_order_id"],
            decision_bar=int(row["bar_ms"]),
            reason=f"{row['action']}:{row['reason']}",
            impact_size=row.get("impact_size"),
        )

    def _submit(self, row: dict[str, Any]) -> bool:
        cloid = row["client_order_id"]
        try:
            intent = self._intent_from_row(row)
        except ConfigError as exc:
            self.journal.set_intent_status(cloid, "rejected", str(exc))
            self._log("reject", f"{row['action']} not sent: {exc}", level="warning")
            return False
        try:
            order = self.backend.submit(intent)
        except OrderRejected as exc:
            self.journal.set_intent_status(cloid, "rejected", exc.reason)
            self._log("reject", f"{row['action']} rejected: {exc.reason}", level="warning",
                      client_order_id=cloid)  # fmt: skip
            self._alert("error", f"{row['action']} rejected: {exc.reason}")
            return False
        except VenueUnavailable as exc:
            self._log("error", f"{row['action']} not sent (venue unavailable): {exc}",
                      level="warning", client_order_id=cloid)  # fmt: skip
            return False
        except (OrderStateUnknown, ExecutionError) as exc:
            self.journal.set_intent_status(cloid, "unknown", str(exc))
            self._log("unknown", f"{row['action']} outcome unknown: {exc}", level="warning",
                      client_order_id=cloid)  # fmt: skip
            self.reconciled = False  # look it up before anything else is sent
            return False
        self.journal.upsert_order(order_row(order))
        status = "filled" if order.status is OrderStatus.FILLED else "sent"
        if order.status in (OrderStatus.REJECTED, OrderStatus.CANCELED):
            status = order.status.value
        self.journal.set_intent_status(cloid, status)
        self._log("order", f"{row['action']} {row['side']} {row['size']:.8g} {row['order_type']}"
                  f" -> {order.status.value}", client_order_id=cloid)  # fmt: skip
        return status in ("sent", "filled")


def _same_px(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def _bar_dict(bar: Bar) -> dict[str, float]:
    return {
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": 0.0 if math.isnan(bar.volume) else bar.volume,
        "funding_rate": 0.0 if math.isnan(bar.funding_rate) else bar.funding_rate,
    }


def make_costs_config(costs: Any) -> Costs | None:
    """Return a :class:`Costs` from a number, mapping, ``"hyperliquid"`` or None."""
    if costs is None:
        return None
    if costs == "hyperliquid":
        return Costs.hyperliquid()
    return make_costs(costs)
