"""``quantlab solana fetch|watch``: smart-money wallets' swaps from a Solana node."""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def _cmd_fetch(args: argparse.Namespace) -> int:
    from quantlab.data.solana.rpc import fetch_swaps, read_wallets

    wallets = read_wallets(args.wallets)
    report = fetch_swaps(
        wallets,
        args.days,
        endpoint=args.endpoint,
        root=args.root,
        rate_limit=args.rate_limit,
        max_retries=args.max_retries,
    )
    print(
        f"{report.wallets} wallet(s): {report.signatures} signatures, "
        f"{report.transactions} transactions, {len(report.swaps)} swaps, "
        f"{report.written} new in {args.root}/solana/swaps"
    )
    return 0


def _cmd_watch(args: argparse.Namespace) -> int:
    from quantlab.data.solana.rpc import read_wallets
    from quantlab.data.solana.watch import watch

    wallets = read_wallets(args.wallets)
    print(f"watching {len(wallets)} wallet(s) on {args.ws_endpoint}; Ctrl-C stops", flush=True)

    def show(swap) -> None:
        print(
            f"{swap.time} {swap.wallet[:8]}.. {swap.program}: {swap.amount_in:g} "
            f"{swap.mint_in[:6]}.. -> {swap.amount_out:g} {swap.mint_out[:6]}..",
            flush=True,
        )

    try:
        report = watch(
            wallets,
            ws_endpoint=args.ws_endpoint,
            endpoint=args.endpoint,
            root=args.root,
            backfill_days=args.backfill_days,
            max_swaps=args.max_swaps,
            max_reconnects=args.max_reconnects,
            on_swap=show,
            rate_limit=args.rate_limit,
        )
    except KeyboardInterrupt:
        return 0
    print(f"{len(report.swaps)} swaps ({report.written} new), {report.connects} connection(s)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``solana fetch`` and ``solana watch``."""
    p = sub.add_parser(
        "solana",
        help="wallets' swaps from a Solana node into the local store",
        description="Swaps of smart-money wallets (Jupiter, Raydium, Orca, Pump.fun) from "
        "a Solana RPC node into data/solana/swaps; read them with "
        "ql.data.load('solana', wallets=..., token=...).",
    )
    groups = p.add_subparsers(dest="solana_command", metavar="{fetch,watch}")
    groups.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--wallets", required=True, help="file of addresses, one per line")
        q.add_argument(
            "--endpoint",
            default="https://api.mainnet-beta.solana.com",
            help="HTTP JSON-RPC URL",
        )
        q.add_argument("--root", default="data", help="store root (default: data)")
        q.add_argument("--rate-limit", type=float, default=8.0, help="requests per second")

    f = groups.add_parser("fetch", help="fetch the last N days of swaps (paged, retried)")
    common(f)
    f.add_argument("--days", type=float, required=True, help="look-back in days")
    f.add_argument("--max-retries", type=int, default=4, help="retries per request")
    f.set_defaults(func=_cmd_fetch)

    w = groups.add_parser("watch", help="follow the wallets live (logsSubscribe, backfill)")
    common(w)
    w.add_argument(
        "--ws-endpoint", default="wss://api.mainnet-beta.solana.com", help="websocket URL"
    )
    w.add_argument("--backfill-days", type=float, default=1.0, help="first REST backfill")
    w.add_argument("--max-swaps", type=int, default=None, help="stop after this many swaps")
    w.add_argument(
        "--max-reconnects", type=int, default=None, help="give up after this many failures"
    )
    w.set_defaults(func=_cmd_watch)
