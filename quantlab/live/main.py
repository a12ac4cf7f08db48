"""The runner process: build the strategy, backend, feed, journal and logs; run the loop.

``quantlab live run`` calls :func:`run_process`; :func:`quantlab.live.launch` starts that
command as a separate process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from quantlab.backtest.costs import Costs
from quantlab.data.intervals import interval_seconds
from quantlab.errors import ConfigError, VenueUnavailable
from quantlab.execution.backend import ExecutionBackend
from quantlab.live.alerts import Alerter
from quantlab.live.feed import Feed, make_feed
from quantlab.live.handle import run_paths
from quantlab.live.journal import Journal
from quantlab.live.logs import get_logger
from quantlab.live.runner import Runner, RunnerConfig
from quantlab.live.safety import HYPERLIQUID_URLS, Secret, check_mode, load_key
from quantlab.live.strategy_source import load_runner_strategy

__all__ = ["make_backend_for", "run_process"]

#: Tries to build the venue client at start (5 s apart) before giving up.
START_ATTEMPTS = 24


def make_backend_for(
    mode: str,
    *,
    costs: Costs,
    init_cash: float,
    interval: str,
    exchange_url: str | None,
    key: Secret | None,
) -> ExecutionBackend:
    """Return the execution backend of a mode (paper, or Hyperliquid at the mode's URL)."""
    from quantlab.execution import make_backend

    if mode == "paper":
        return make_backend(
            "paper", costs=costs, init_cash=init_cash, bar_seconds=interval_seconds(interval)
        )
    url = exchange_url or HYPERLIQUID_URLS.get(mode)
    if mode == "sim" and not exchange_url:
        raise ConfigError("--mode sim: needs --exchange-url (the local exchange, e.g. "
                          "http://127.0.0.1:8123 from `quantlab exchange-sim`)")  # fmt: skip
    if mode == "sim" and not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ConfigError(f"--mode sim: --exchange-url must be a local address, got {url!r}")
    if key is None:
        raise ConfigError(
            f"--mode {mode}: no key; set QUANTLAB_HL_KEY or pass --key-file (sim: a key the "
            "local exchange funded)"
        )
    from eth_account import Account

    wallet = Account.from_key(key.reveal())
    return make_backend("hyperliquid", base_url=url, wallet=wallet, allow_mainnet=mode == "mainnet")


def run_process(
    strategy: str,
    *,
    symbol: str = "BTC",
    interval: str = "1h",
    mode: str = "paper",
    run_dir: str | os.PathLike[str] | None = None,
    journal: str | None = None,
    exchange_url: str | None = None,
    feed: str | None = None,
    data: str | None = None,
    seed: int = 7,
    speed: float | None = None,
    start: str | None = None,
    end: str | None = None,
    costs: Costs | None = None,
    init_cash: float | None = None,
    key_file: str | None = None,
    confirm_mainnet: bool = False,
    options: Mapping[str, Any] | None = None,
    max_bars: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run one runner to its end (SIGTERM, a stop request, the end of a replay).

    Returns the final status dict. See ``quantlab live run --help`` for the arguments.
    """
    env = os.environ if env is None else env
    check_mode(mode, confirm_mainnet=confirm_mainnet, env=env)
    strat, info = load_runner_strategy(strategy)
    if mode == "mainnet" and not info["validated"]:
        raise ConfigError("--mode mainnet: --strategy must be a validation.json whose gates passed")
    key = load_key(mode, key_file, env=env)
    if run_dir is None:
        from quantlab.live.handle import default_run_dir

        run_dir = default_run_dir(strat, symbol, interval, mode)
    paths = run_paths(run_dir)
    paths["run_dir"].mkdir(parents=True, exist_ok=True)
    cfg_fields: dict[str, Any] = dict(options or {})
    cfg_fields.update(symbol=symbol, interval=interval, mode=mode)
    chosen_costs = costs or info["costs"]
    if chosen_costs is not None:
        cfg_fields["costs"] = chosen_costs
    if init_cash is not None:
        cfg_fields["init_cash"] = init_cash
    config = RunnerConfig(**cfg_fields)
    cost_model = config.costs or Costs.hyperliquid()
    backend = None
    for attempt in range(START_ATTEMPTS):  # a venue saying "429, later" is not a reason to die
        try:
            backend = make_backend_for(
                mode, costs=cost_model, init_cash=config.init_cash, interval=interval,
                exchange_url=exchange_url, key=key,
            )  # fmt: skip
            break
        except VenueUnavailable as exc:
            if attempt == START_ATTEMPTS - 1:
                raise
            print(f"quantlab.live: venue unavailable at start ({exc}); retrying in 5 s",
                  file=sys.stderr)  # fmt: skip
            time.sleep(5.0)
    feed_kind = feed or ("synthetic" if mode == "paper" and not exchange_url else "candles")
    # candles are asked for when a bar is due by the venue's clock; a paper account's clock
    # is only the last bar it was fed, so a paper runner on a venue's candles polls them
    venue_clock = None if mode == "paper" else backend.now_ms
    bar_feed: Feed = make_feed(feed_kind, symbol, interval, exchange_url=exchange_url,
                               data=data, seed=seed, speed=speed, start=start, end=end,
                               venue_now=venue_clock)  # fmt: skip
    logger = get_logger(paths["log"])
    alerter = Alerter(prefix=f"[quantlab {mode} {symbol} {interval}]")
    paths["pid"].write_text(str(os.getpid()))
    with Journal(journal or paths["journal"]) as j:
        runner = Runner(strat, config, backend, bar_feed, j, alerter=alerter, logger=logger,
                        kill_file=paths["kill"])  # fmt: skip
        runner.install_signal_handlers()
        replay = feed_kind in ("synthetic", "file")
        runner.run(max_bars=max_bars, stop_at_end=replay)
    backend.close()
    bar_feed.close()
    from quantlab.live.handle import read_status

    return read_status(paths["run_dir"])
