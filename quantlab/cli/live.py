"""``quantlab live run|status|stop|kill``: the live runner from a shell."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_commands"]


def _cmd_run(args: argparse.Namespace) -> int:
    from quantlab.live.main import run_process
    from quantlab.live.strategy_source import parse_costs

    options = json.loads(args.options) if args.options else None
    status = run_process(
        args.strategy,
        symbol=args.symbol,
        interval=args.interval,
        mode=args.mode,
        run_dir=args.run_dir,
        journal=args.journal,
        exchange_url=args.exchange_url,
        feed=args.feed,
        data=args.data,
        seed=args.seed,
        speed=args.speed,
        start=args.start,
        end=args.end,
        costs=parse_costs(args.costs),
        init_cash=args.init_cash,
        key_file=args.key_file,
        confirm_mainnet=args.confirm_mainnet,
        options=options,
        max_bars=args.max_bars,
    )
    print(json.dumps(status, default=str))
    return 0


def _run_dir(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from quantlab.errors import ConfigError

    if args.run_dir:
        return Path(args.run_dir)
    if args.journal:
        return Path(args.journal).parent
    raise ConfigError("give --run-dir (the runner's folder) or --journal")


def _cmd_status(args: argparse.Namespace) -> int:
    from quantlab.live.handle import read_status

    print(json.dumps(read_status(_run_dir(args)), indent=2, default=str))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    from quantlab.live.handle import RunnerHandle

    handle = RunnerHandle(_run_dir(args))
    stopped = handle.stop(timeout=args.timeout)
    print(json.dumps({"stopped": stopped, "run_dir": str(handle.run_dir)}))
    return 0 if stopped else 1


def _cmd_kill(args: argparse.Namespace) -> int:
    from quantlab.live.handle import RunnerHandle

    handle = RunnerHandle(_run_dir(args))
    if args.clear:
        handle.clear_kill()
        print(json.dumps({"kill": "clear requested", "run_dir": str(handle.run_dir)}))
    else:
        handle.kill(args.mode)
        print(json.dumps({"kill": args.mode, "run_dir": str(handle.run_dir)}))
    return 0


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", default=None, help="the runner's folder")
    p.add_argument("--journal", default=None, help="the runner's journal (its folder is used)")


def add_commands(sub: Any) -> None:
    """Add ``quantlab live ...`` to the top-level subparsers."""
    live = sub.choices.get("live")  # another module may have created the group
    if live is None:
        live = sub.add_parser(
            "live",
            help="run, watch, stop and kill a live runner",
            description="The live runner: the backtest's decisions, journaled (SQLite), "
            "reconciled with the venue, crash-safe. Paper by default.",
        )
    live_sub = next((a for a in live._actions if isinstance(a, argparse._SubParsersAction)), None)
    if live_sub is None:
        live_sub = live.add_subparsers(
            dest="live_command", metavar="ACTION", parser_class=type(live)
        )
        live_sub.required = True

    run = live_sub.add_parser(
        "run",
        help="run a strategy (in this process; ql.live.launch starts it as a process)",
        description="Run a strategy bar by bar through an execution backend. mainnet needs "
        "QUANTLAB_LIVE_ENABLE=1, --confirm-mainnet and a passing validation.json; the key "
        "comes only from QUANTLAB_HL_KEY or --key-file (0600, outside the repository).",
    )
    run.add_argument(
        "--strategy", required=True, help="validation.json, strategy YAML, or a strategy kind"
    )
    run.add_argument("--symbol", default="BTC")
    run.add_argument("--interval", default="1h")
    run.add_argument("--mode", default="paper", choices=["paper", "sim", "testnet", "mainnet"])
    run.add_argument("--exchange-url", default=None, help="venue URL (sim: the local exchange)")
    run.add_argument(
        "--journal", default=None, help="journal file (default RUN_DIR/journal.sqlite)"
    )
    run.add_argument(
        "--run-dir", default=None, help="run folder (default data/live/SYMBOL-INTERVAL-MODE-HASH8)"
    )
    run.add_argument(
        "--feed",
        default=None,
        choices=["synthetic", "file", "candles"],
        help="bar source (default: synthetic for paper, candles otherwise)",
    )
    run.add_argument("--data", default=None, help="bar file for --feed file")
    run.add_argument("--seed", type=int, default=7, help="synthetic market seed")
    run.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay at SPEED x real time (default: as fast as possible)",
    )
    run.add_argument("--start", default=None, help="replay start (synthetic)")
    run.add_argument("--end", default=None, help="replay end (synthetic)")
    run.add_argument("--costs", default=None, help="'hyperliquid', a fee rate, or JSON")
    run.add_argument("--init-cash", type=float, default=None)
    run.add_argument("--key-file", default=None, help="0600 file holding the signing key")
    run.add_argument("--confirm-mainnet", action="store_true", help="required for mainnet")
    run.add_argument(
        "--options",
        default=None,
        help='more runner settings as JSON, e.g. \'{"orphan_action": "adopt"}\'',
    )
    run.add_argument("--max-bars", type=int, default=None, help="stop after this many bars")
    run.set_defaults(func=_cmd_run)

    status = live_sub.add_parser("status", help="print a runner's status as JSON")
    _where(status)
    status.set_defaults(func=_cmd_status)

    stop = live_sub.add_parser("stop", help="stop a runner cleanly")
    _where(stop)
    stop.add_argument("--timeout", type=float, default=30.0)
    stop.set_defaults(func=_cmd_stop)

    kill = live_sub.add_parser(
        "kill",
        help="trip (or clear) a runner's kill switch",
        description="close_only: close the position and send no entry; halt_all: send "
        "nothing. Sticky until `quantlab live kill --clear`.",
    )
    _where(kill)
    kill.add_argument("--mode", default="close_only", choices=["close_only", "halt_all"])
    kill.add_argument("--clear", action="store_true", help="clear the kill switch")
    kill.set_defaults(func=_cmd_kill)
