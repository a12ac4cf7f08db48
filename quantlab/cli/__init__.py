"""The ``quantlab`` console script.

Every subcommand has ``--help``. Bad arguments or bad input print one clear line and exit
non-zero, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from quantlab.errors import ConfigError, QuantlabError

EXIT_ERROR = 1
EXIT_USAGE = 2

#: Command groups that live in their own module of this package. Each module defines
#: ``add_commands(sub)``, which adds its subparsers (with ``set_defaults(func=...)``) to
#: the top-level subparsers; keep heavy imports inside the command functions.
COMMAND_MODULES: tuple[str, ...] = (
    "quantlab.cli.research",
    "quantlab.cli.live",
    "quantlab.cli.promote",  # after live: it adds `live replay` and guards `live run`
    "quantlab.cli.exchange",
    "quantlab.cli.solana",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parse_value(text: str) -> Any:
    """Parse a ``-p NAME VALUE`` value as a YAML literal (numbers, lists, null, strings).

    Dates and times stay ISO strings (``2024-01-01``), as notebooks expect them.
    """
    import datetime as dt

    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, dt.date | dt.datetime):
        return text
    return value


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), _parse_value(value)


def _symbols(text: str) -> list[str]:
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise argparse.ArgumentTypeError("expected comma-separated symbols, e.g. BTC,ETH,SOL")
    return symbols


# ----------------------------------------------------------------------------- commands


def _cmd_report(args: argparse.Namespace) -> int:
    from quantlab.reports import run_reports

    parameters = {name: _parse_value(value) for name, value in args.parameter or []}
    run = run_reports(
        args.notebooks or None,
        parameters,
        output_root=args.output,
        notebook_dir=args.notebook_dir,
        run_id=args.run_id,
        kernel_name=args.kernel,
        raise_on_failure=False,
        scheduler=args.scheduler,
    )
    for nb in run.notebooks:
        line = f"{nb.status:>6}  {nb.notebook}  ({nb.duration_s:.1f} s)"
        if nb.error:
            line += f"  {nb.error}"
        print(line)
    print(f"run {run.run_id}: {run.run_dir}  (index: {args.output}/index.html)")
    if run.failed:
        names = ", ".join(nb.notebook for nb in run.failed)
        print(
            f"quantlab report: error: {len(run.failed)} notebook(s) failed: {names}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from quantlab.data.fetch import fetch
    from quantlab.data.store import Store

    written = fetch(
        args.source,
        args.symbols,
        args.interval,
        days=args.days,
        start=args.start,
        end=args.end,
        store=Store(args.root),
        progress=not args.quiet,
        timeout=args.timeout,
        retries=args.retries,
        base_url=args.url,
        gaps=args.gaps,
    )
    for symbol, rows in written.items():
        print(
            f"{symbol}: {rows} bars stored under {args.root}/{args.source}/{symbol}/{args.interval}"
        )
    return 0


def _cmd_data_record(args: argparse.Namespace) -> int:
    from quantlab.data.fetch import record
    from quantlab.data.store import Store

    written = record(
        args.source,
        args.symbols,
        args.interval,
        store=Store(args.root),
        loop_every=args.every,
        progress=not args.quiet,
        timeout=args.timeout,
        retries=args.retries,
        base_url=args.url,
        gaps=args.gaps,
    )
    for symbol, rows in (written or {}).items():
        print(f"{symbol}: {rows} new bars")
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from quantlab.data.store import Store

    coverage = Store(args.root).coverage()
    if coverage.empty:
        print(f"no bars stored under {args.root}/ (run: quantlab data fetch --help)")
    else:
        print(coverage.to_string(index=False))
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    import pandas as pd

    import quantlab.data as qd

    options: dict[str, Any] = dict(args.option or [])
    if args.seed is not None:
        options["seed"] = args.seed
    table = qd.check(
        args.source,
        symbol=args.symbol,
        interval=args.interval,
        start=args.start,
        end=args.end,
        **options,
    )
    failed = table["status"] != "ok"
    if args.gaps != "error":  # gaps accepted: reported, not failed
        is_gap = (table["check"] == "no gaps") & failed
        table.loc[is_gap, "status"] = f"gaps {args.gaps}"
        failed &= ~is_gap
    a = table.attrs
    print(
        f"{a.get('source')}: {a.get('rows')} bars, {a.get('start')} .. {a.get('end')}, "
        f"interval {a.get('interval')}"
    )
    shown = table.drop(columns=["first_time"]).round({"percent": 3}).fillna("")
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        print(shown.to_string(index=False))
    n_failed = int(failed.sum())
    if n_failed:
        names = sorted(set(table.loc[failed, "check"]))
        hint = (
            " (missing bars: --gaps allow reports them without failing)"
            if "no gaps" in names
            else ""
        )
        print(
            f"quantlab data check: {n_failed} check(s) failed: {', '.join(names)}{hint}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(f"all {len(table)} checks passed")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from quantlab.dashboards import serve
    except ImportError as exc:
        raise ConfigError(f"dashboard: the dashboards are not available ({exc})") from None
    _check_port_free(args.address, args.port)
    try:
        serve(port=args.port, address=args.address, show=args.show)
    except OSError as exc:
        raise ConfigError(
            f"dashboard: cannot listen on {args.address}:{args.port} ({exc.strerror or exc}); "
            "pick another with --port"
        ) from exc
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"port {port} is out of range: use 1-65535 (or 0 for any free port)"
        )
    return port


def _check_port_free(address: str, port: int) -> None:
    """Raise ConfigError if ``address:port`` cannot be bound (in use, bad address)."""
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"dashboard: --address {address!r} does not resolve ({exc})") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            raise ConfigError(
                f"dashboard: port {port} on {address} is not available ({exc.strerror or exc}); "
                "another program (or dashboard) uses it: pick another with --port"
            ) from None


# ------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    """Return the ``quantlab`` argument parser (all subcommands)."""
    parser = _Parser(
        prog="quantlab",
        description="quantlab: a notebook-first quant research workbench for crypto.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show full tracebacks on errors (accepted anywhere on the line)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    report = sub.add_parser(
        "report",
        help="execute notebooks with papermill into dated reports",
        description="Execute notebooks with papermill into reports/<YYYY-MM-DD>/<run-id>/ "
        "(executed .ipynb, HTML, run_metadata.json) and update reports/index.html.",
    )
    report.add_argument(
        "notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb)"
    )
    report.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter (YAML literal: 7, 0.5, [1, 4], null, BTC); repeatable",
    )
    report.add_argument("--output", default="reports", help="reports folder (default: reports)")
    report.add_argument("--notebook-dir", default="notebooks", help="where default notebooks live")
    report.add_argument("--run-id", default=None, help="name of the run folder")
    report.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    report.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the notebooks on a dask.distributed cluster (shared filesystem)",
    )
    report.set_defaults(func=_cmd_report)

    data = sub.add_parser(
        "data",
        help="fetch, record, list and check bars",
        description="Fetch, record, list and check bars.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    data_sub.required = True

    def _source_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--source",
            default="hyperliquid",
            choices=["hyperliquid"],
            help="venue to fetch from (default: hyperliquid)",
        )
        p.add_argument(
            "--symbols",
            type=_symbols,
            required=True,
            help="comma-separated coins, e.g. BTC,ETH,SOL",
        )
        p.add_argument("--interval", default="1h", help="bar interval (default: 1h)")
        p.add_argument("--root", default="data", help="local store folder (default: data)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="give up on one HTTP request after SECONDS (default 10)",
        )
        p.add_argument(
            "--gaps",
            choices=["allow", "error"],
            default="allow",
            help="bars the venue did not serve: store the rest and log the gap (allow, "
            "default) or fail the symbol (error); the archive is never filled",
        )
        p.add_argument(
            "--url",
            default=None,
            help="the venue's API root (default: mainnet), e.g. the local exchange "
            "http://127.0.0.1:PORT of `quantlab exchange-sim`",
        )
        p.add_argument(
            "--retries",
            type=int,
            default=2,
            help="retries of a request that failed transiently (default 2); an unreachable "
            "venue fails the whole run after one request's retries",
        )

    fetch = data_sub.add_parser(
        "fetch",
        help="download bars and funding into the local Parquet store",
        description="Download candles and funding into data/<source>/<symbol>/<interval>/ "
        "(overlapping ranges are merged without duplicates).",
    )
    _source_args(fetch)
    fetch.add_argument("--days", type=float, default=None, help="how many days back from now")
    fetch.add_argument("--start", default=None, help="start (UTC date/time)")
    fetch.add_argument("--end", default=None, help="end (UTC date/time, default now)")
    fetch.set_defaults(func=_cmd_data_fetch)

    record = data_sub.add_parser(
        "record",
        help="extend the local archive from its last bar to now",
        description="Extend the local archive from its last stored bar to now; run it "
        "regularly (or with --every) to keep history the venue no longer serves.",
    )
    _source_args(record)
    record.add_argument(
        "--every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep running, recording every SECONDS",
    )
    record.set_defaults(func=_cmd_data_record)

    listing = data_sub.add_parser(
        "list",
        help="show what the local store holds",
        description="Show what the local store holds.",
    )
    listing.add_argument("--root", default="data", help="local store folder (default: data)")
    listing.set_defaults(func=_cmd_data_list)

    check = data_sub.add_parser(
        "check",
        help="load bars and print the data-quality report",
        description="Load bars from a source or file as they are and print every check of "
        "the bar schema with its count and first offending rows; exit 1 when a check fails "
        "(an empty file or range fails too).",
    )
    check.add_argument("source", help="synthetic, hyperliquid, store, or a .csv/.parquet path")
    check.add_argument("--symbol", default=None)
    check.add_argument("--interval", default=None, help="bar interval (default: inferred)")
    check.add_argument("--start", default=None)
    check.add_argument("--end", default=None)
    check.add_argument("--seed", type=int, default=None, help="seed (synthetic source)")
    check.add_argument(
        "-o",
        "--option",
        type=_option,
        action="append",
        metavar="NAME=VALUE",
        help="an option of the source (YAML value), e.g. -o origin=mine for the store; repeatable",
    )
    check.add_argument(
        "--gaps",
        choices=["error", "allow", "ffill"],
        default="error",
        help="missing bars: fail the check (error, default) or only report them (allow, ffill)",
    )
    check.set_defaults(func=_cmd_data_check)

    dash = sub.add_parser(
        "dashboard",
        help="serve the Panel dashboards",
        description="Serve the Panel dashboards on localhost.",
    )
    dash.add_argument("--port", type=_port, default=5006, help="TCP port (default 5006)")
    dash.add_argument("--address", default="127.0.0.1")
    dash.add_argument("--show", action="store_true", help="open a browser")
    dash.set_defaults(func=_cmd_dashboard)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(sub)
    return parser


def _split_at_double_dash(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], ["--"], argv[i + 1 :]
    return argv, [], []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``quantlab`` command line and return its exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    head, sep, tail = _split_at_double_dash(argv)
    debug = "--debug" in head
    args = parser.parse_args([a for a in head if a != "--debug"] + sep + tail)
    args.debug = debug or getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("quantlab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        kind = "error" if isinstance(exc, QuantlabError) else f"unexpected {type(exc).__name__}"
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"quantlab: {kind}: {text} (use --debug for the traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
