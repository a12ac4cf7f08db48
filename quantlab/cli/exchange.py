"""``quantlab exchange-sim``: the local Hyperliquid exchange from a shell."""

from __future__ import annotations

import argparse
import time

__all__ = ["add_commands", "parse_fund"]


def parse_fund(items: list[str] | None) -> dict[str, float]:
    """Return ``{address: usdc}`` from ``ADDRESS=USDC`` arguments."""
    from quantlab.errors import ConfigError

    out: dict[str, float] = {}
    for item in items or []:
        address, sep, amount = item.partition("=")
        address = address.strip()
        if not sep or not address.startswith("0x") or len(address) != 42:
            raise ConfigError(
                f"exchange-sim: --fund {item!r}: expected ADDRESS=USDC with a 0x... address "
                "of 40 hex digits"
            )
        try:
            usdc = float(amount)
        except ValueError:
            raise ConfigError(
                f"exchange-sim: --fund {item!r}: {amount!r} is not a number"
            ) from None
        if not usdc > 0:
            raise ConfigError(f"exchange-sim: --fund {item!r}: USDC must be > 0")
        out[address] = usdc
    return out


def _cmd_exchange_sim(args: argparse.Namespace) -> int:
    from quantlab.execution.sim import serve

    handle = serve(
        port=args.port,
        seed=args.seed,
        fund=parse_fund(args.fund),
        speed=args.speed,
        faults=args.faults,
        start=args.start,
        rate_limit=not args.no_rate_limit,
    )
    funded = ", ".join(f"{a}={u:g}" for a, u in parse_fund(args.fund).items()) or "none"
    print(
        f"local Hyperliquid exchange on {handle.url} (seed {args.seed}, speed {args.speed:g}x, "
        f"funded: {funded}, faults: {args.faults or 'none'}); Ctrl-C stops it",
        flush=True,
    )
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.05 if deadline is not None else 0.5)
    finally:
        handle.stop()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``exchange-sim`` to the top-level subcommands."""
    p = sub.add_parser(
        "exchange-sim",
        help="run the local Hyperliquid exchange (offline, 127.0.0.1)",
        description="Serve a local Hyperliquid exchange on 127.0.0.1 that the unmodified "
        "hyperliquid-python-sdk trades against: Exchange(wallet, base_url=URL). Prices follow "
        "the seeded synthetic market; only --fund accounts can trade.",
    )
    p.add_argument("--port", type=int, default=8123, help="TCP port (0: any free one)")
    p.add_argument("--seed", type=int, default=7, help="seed of the price paths and faults")
    p.add_argument(
        "--fund",
        action="append",
        metavar="ADDRESS=USDC",
        help="credit an account, e.g. --fund 0xabc...=10000 (repeatable)",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="exchange seconds per real second (default 1)"
    )
    p.add_argument(
        "--faults",
        default=None,
        metavar="SPEC",
        help="seeded faults, e.g. 429:3,5xx:0.05,timeout_after:1,partial:0.1,reject:1,stale:0.1",
    )
    p.add_argument("--start", default=None, help="exchange time at the start (default: now)")
    p.add_argument("--no-rate-limit", action="store_true", help="do not enforce request weights")
    p.add_argument(
        "--duration", type=float, default=None, help="stop after SECONDS (default: run until ^C)"
    )
    p.set_defaults(func=_cmd_exchange_sim)
