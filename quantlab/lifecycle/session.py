"""A paper-trading session against the local Hyperliquid exchange, for notebooks and tests.

:func:`start_sim` starts the local exchange (``quantlab.execution.sim``) with some hours
of history already on its clock (the strategy's warm-up), funds a throwaway key that
exists only for this exchange and only in the runner's environment (never printed,
never written), and launches a ``sim`` runner as its own process with
:func:`quantlab.live.launch`. The runner's start is guarded by the lifecycle (the
strategy must be in a trading state in ``registry``)::

    session = ql.lifecycle.start_sim(validation, registry=registry, speed=3600)
    session.watch(20)          # a status row per second: bars, position, equity
    session.stop()             # stops the runner, then the exchange
    ql.live.replay(session.journal)
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab.data.intervals import interval_seconds
from quantlab.errors import ConfigError
from quantlab.lifecycle.registry import PromotionRegistry, open_registry
from quantlab.lifecycle.watch import guard_start

__all__ = ["SimSession", "start_sim"]


@dataclass
class SimSession:
    """A running local exchange and the ``sim`` runner trading it.

    Attributes
    ----------
    exchange : quantlab.execution.sim.SimHandle
    runner : quantlab.live.handle.RunnerHandle
    journal : Path
        The runner's journal (what :func:`quantlab.live.replay.replay` reads).
    address : str
        The funded account on the local exchange (public address; the key is not kept).
    """

    exchange: Any
    runner: Any
    journal: Path
    address: str
    history: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, seconds: float, every: float = 1.0) -> pd.DataFrame:
        """Poll the runner's status for ``seconds``; return one row per poll.

        Columns: ``wall_s``, ``exchange_time``, ``phase``, ``bars``, ``last_bar``,
        ``position``, ``equity``, ``heartbeat_age_s``, ``kill``, ``last_error``.
        """
        t0 = time.monotonic()
        while True:
            s = self.runner.status()
            self.history.append(
                {
                    "wall_s": round(time.monotonic() - t0, 2),
                    "exchange_time": pd.Timestamp(self.exchange.now_ms, unit="ms", tz="UTC"),
                    "phase": s.get("phase"),
                    "bars": s.get("bars"),
                    "last_bar": s.get("last_bar"),
                    "position": (s.get("position") or {}).get(s.get("symbol")),
                    "equity": s.get("equity"),
                    "heartbeat_age_s": s.get("heartbeat_age_s"),
                    "kill": (s.get("kill") or {}).get("mode"),
                    "last_error": s.get("last_error"),
                }
            )
            if time.monotonic() - t0 >= seconds or not s.get("alive", True):
                break
            time.sleep(every)
        return pd.DataFrame(self.history[-max(1, int(seconds / every) + 1) :])

    def status(self) -> dict[str, Any]:
        """Return the runner's status dict."""
        return self.runner.status()

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """Stop the runner (cleanly), then the exchange; return the runner's last status."""
        try:
            if not self.runner.stop(timeout=timeout):
                pid = self.runner.pid  # hung: it is this session's own process
                if pid:
                    os.kill(pid, signal.SIGKILL)
                self.runner.wait(10.0)
        finally:
            self.exchange.stop()
        return self.runner.status()

    def __enter__(self) -> SimSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner.is_alive():
            self.runner.stop()
        self.exchange.stop()


def start_sim(
    strategy: Any,
    *,
    registry: PromotionRegistry | str | Path | None = None,
    symbol: str = "BTC",
    interval: str = "1h",
    seed: int = 7,
    speed: float = 3600.0,
    history_bars: int = 300,
    start: str = "2024-01-01",
    init_cash: float = 10_000.0,
    run_dir: str | Path | None = None,
    costs: Any = None,
    wait: float = 60.0,
    rate_limit: bool = True,
) -> SimSession:
    """Start the local exchange and a ``sim`` runner trading it; return the session.

    Parameters
    ----------
    strategy : validation.json, YAML, StrategyBase or mapping
        What the runner trades; it must be promoted to ``paper`` (or further) in
        ``registry``, else :class:`~quantlab.errors.PromotionRefused` is raised here.
    registry : PromotionRegistry or path, optional
        The promotion registry the runner's start is checked against.
    symbol, interval : str
    seed : int
        Seed of the exchange's synthetic market.
    speed : float
        Exchange seconds per real second (3600: an hourly bar each second).
    history_bars : int
        Bars already on the exchange's clock when the runner starts (its warm-up).
    start : str
        The exchange clock's start (UTC), before the history.
    init_cash : float
        USDC credited to the throwaway account, and the runner's equity.
    run_dir : path, optional
        The runner's folder (default under ``data/live``).
    costs : optional
        The runner's cost model (default: the validation's, or Hyperliquid's).
    wait : float
        Seconds to wait for the runner's first heartbeat.
    rate_limit : bool
        Enforce the venue's request weights on the local exchange (the runner paces
        itself by them either way).
    """
    from eth_account import Account

    from quantlab.execution.sim import serve
    from quantlab.live.handle import launch

    if not speed > 0:
        raise ConfigError(f"speed: must be > 0 exchange seconds per real second, got {speed!r}")
    if history_bars < 0:
        raise ConfigError(f"history_bars: must be >= 0, got {history_bars!r}")
    reg = open_registry(registry)
    guard_start(strategy, "sim", registry=reg)  # refuse before starting anything
    account = Account.create()  # exists only on this local exchange
    exchange = serve(
        seed=seed,
        fund={account.address: float(init_cash)},
        speed=float(speed),
        start=start,
        rate_limit=rate_limit,
    )
    try:
        exchange.advance(float(history_bars) * interval_seconds(interval))  # the warm-up
        if history_bars:
            directory = Path(run_dir) if run_dir is not None else None
            if directory is None:
                from quantlab.live.handle import default_run_dir

                directory = default_run_dir(strategy, symbol, interval, "sim")
            run_dir = directory
            _journal_warmup(
                directory / "journal.sqlite", exchange, strategy, symbol, interval, init_cash
            )
        env = dict(os.environ)
        env["QUANTLAB_HL_KEY"] = account.key.hex()
        env["QUANTLAB_LIFECYCLE_REGISTRY"] = str(reg.path.resolve())
        runner = launch(
            strategy,
            symbol=symbol,
            interval=interval,
            mode="sim",
            run_dir=run_dir,
            exchange_url=exchange.url,
            costs=costs,
            init_cash=init_cash,
            env=env,
            wait=wait,
        )
    except BaseException:
        exchange.stop()
        raise
    return SimSession(exchange, runner, runner.paths["journal"], account.address)


def _journal_warmup(
    path: Path, exchange: Any, strategy: Any, symbol: str, interval: str, init_cash: float
) -> int:
    """Journal the exchange's closed bars as the runner's warm-up; return how many.

    The runner takes bars journaled before its first decision as history (indicators
    only, no orders, no requests to the venue) and trades from the next bar on;
    :func:`quantlab.live.replay.replay` holds the backtest flat on them too.
    """
    from quantlab.backtest.verdict import canonical_json
    from quantlab.live.journal import Journal
    from quantlab.live.strategy_source import load_runner_strategy

    strat, _ = load_runner_strategy(strategy)
    from quantlab.backtest.verdict import strategy_config, strategy_hash

    step = int(interval_seconds(interval) * 1000)
    now = int(exchange.now_ms)
    with exchange.exchange.lock:
        candles = exchange.exchange.candles(symbol, interval, 0, now)
    closed = [c for c in candles if int(c["t"]) + step <= now]
    with Journal(path) as j:
        j.bind(
            strategy_hash=strategy_hash(strat),
            strategy_json=canonical_json(strategy_config(strat)),
            symbol=symbol,
            interval=interval,
            mode="sim",
            init_cash=float(init_cash),
        )
        for c in closed:
            bar = {
                k: float(c[w])
                for k, w in (
                    ("open", "o"),
                    ("high", "h"),
                    ("low", "l"),
                    ("close", "c"),
                    ("volume", "v"),
                )
            }
            j.add_bar(symbol, int(c["t"]), bar)
    return len(closed)
