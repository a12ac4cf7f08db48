"""``quantlab sweep``: a parameter grid through the fused kernel, from the command line.

::

    quantlab sweep --strategy ma_cross --grid fast=5:50:5 slow=20:200:10 stop_loss=0.01,0.02
    quantlab sweep --strategy ma_cross --grid fast=2:101 slow=20:315:5 --costs 0 --top 20 \\
        --metric max_drawdown --output sweep.parquet --yes

Costs default to the venue's (Hyperliquid base tier); ``--costs 0`` asks for none, and the
printed table says which were charged. ``--metric`` ranks in the metric's better direction
(the smallest ``max_drawdown`` first). A sweep past the limits refuses at once with its
estimate (combinations, seconds, memory) unless ``--yes``.
"""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from quantlab.backtest.options import describe_costs
    from quantlab.backtest.sweeps import SweepResult, run_sweep_cli

    table = run_sweep_cli(
        args.strategy,
        args.grid,
        source=args.source,
        symbol=args.symbol,
        interval=args.interval,
        start=args.start,
        end=args.end,
        seed=args.seed,
        costs=args.costs,
        fill=args.fill,
        init_cash=args.init_cash,
        gaps=args.gaps,
        scheduler=args.scheduler,
        output=args.output,
        progress=not args.quiet,
        metric=args.metric,
        top=args.top,
        confirm=args.yes,
    )
    res = SweepResult.of(table)
    print(table.head(args.top).to_string(index=False))
    rules = ", ".join(f"{n:,} break {r}" for r, n in res.invalid_by_rule.items())
    costs_text = res.costs_text or describe_costs(table.attrs["costs"])
    print(
        f"{res.n_trials:,} trials, {res.n_invalid:,} invalid combinations skipped"
        + (f" ({rules})" if rules else "")
        + f"; best {min(args.top, len(table))} by {args.metric} "
        f"({'smaller' if _smaller(args.metric) else 'larger'} is better); "
        f"costs: {costs_text}; fill {res.fill}; {res.elapsed_s:.2f} s"
        + (f"; every row written to {args.output}" if args.output else "")
    )
    return 0


def _smaller(metric: str) -> bool:
    from quantlab.backtest.stats import METRIC_DIRECTIONS

    return METRIC_DIRECTIONS.get(metric, 1) < 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` to the top-level subparsers."""
    sweep = sub.add_parser(
        "sweep",
        help="sweep a strategy's parameter grid through the fused numba kernel",
        description="Backtest every combination of a parameter grid (one row of metrics per "
        "combination) and print the best; optionally stream every row to Parquet.",
    )
    sweep.add_argument(
        "--strategy", required=True, help="registered strategy (ma_cross, ...) or a YAML file"
    )
    sweep.add_argument(
        "--grid",
        nargs="+",
        required=True,
        metavar="NAME=SPEC",
        help="e.g. fast=5:50:5 slow=20:200:10 stop_loss=0.01,0.02 (ranges inclusive)",
    )
    sweep.add_argument("--source", default="synthetic", help="data source (default: synthetic)")
    sweep.add_argument("--symbol", default="BTC")
    sweep.add_argument(
        "--interval",
        default=None,
        help="bar interval (default: the source's own: 1h for synthetic/hyperliquid, the "
        "stored one, or a file's inferred spacing)",
    )
    sweep.add_argument("--start", default=None)
    sweep.add_argument("--end", default=None)
    sweep.add_argument("--seed", type=int, default=None, help="seed (synthetic source only)")
    sweep.add_argument(
        "--costs",
        default="hyperliquid",
        help="'hyperliquid' (default: base-tier fees, 1 bp slippage), a fee rate (0.0005) "
        "or 0 for no costs",
    )
    sweep.add_argument("--fill", choices=["next_open", "close"], default="next_open")
    sweep.add_argument("--init-cash", type=float, default=10_000.0)
    sweep.add_argument(
        "--gaps",
        choices=["error", "ffill", "allow"],
        default="error",
        help="missing bars: refuse (default), forward-fill, or accept them",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="spread the sweep over a dask.distributed cluster",
    )
    sweep.add_argument(
        "--output",
        default=None,
        help="stream every row to this .parquet file as chunks finish (or write a .csv)",
    )
    sweep.add_argument(
        "--metric", default="sharpe", help="rank by this statistic, better first (default sharpe)"
    )
    sweep.add_argument("--top", type=int, default=10, help="rows to keep and print (default 10)")
    sweep.add_argument(
        "--yes", action="store_true", help="run even past the size limits (see the estimate)"
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_sweep)
