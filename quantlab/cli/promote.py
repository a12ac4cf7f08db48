"""``quantlab promote``, ``quantlab lifecycle ...`` and ``quantlab live replay``.

::

    quantlab promote reports/2026-12-04/r1/validation.json --to validated
    quantlab promote reports/2026-12-04/r1/validation.json --to paper
    quantlab promote STRATEGY --to live_small --evidence runs/btc.sqlite [--dry-run]
    quantlab lifecycle status | history [STRATEGY] | pause STRATEGY --reason TEXT
    quantlab lifecycle retire STRATEGY --reason TEXT | check-pause JOURNAL
    quantlab live replay JOURNAL [--output replay.json]

``STRATEGY`` is a ``validation.json`` (or its folder), a strategy YAML, a registered kind
or a strategy hash the registry knows. A refused promotion prints the gate table and every
reason, and exits 1; nothing is recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_commands"]


def _registry_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry",
        default=None,
        metavar="PATH",
        help="promotion registry (default $QUANTLAB_LIFECYCLE_REGISTRY or "
        "data/lifecycle/promotions.jsonl)",
    )


def _config(path: str | None) -> Any:
    if path is None:
        return None
    import yaml

    from quantlab.errors import ConfigError
    from quantlab.lifecycle import LifecycleConfig

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path!r} ({exc})") from None
    return LifecycleConfig.from_dict(data)


def _cmd_promote(args: argparse.Namespace) -> int:
    import pandas as pd

    import quantlab.lifecycle as lc

    decision = lc.evaluate(
        args.strategy,
        to=args.to,
        evidence=args.evidence,
        registry=args.registry,
        config=_config(args.config),
    )
    verdict = "allowed" if decision.allowed else "REFUSED"
    print(
        f"{decision.from_state.value} -> {decision.to_state.value}: {verdict} "
        f"(strategy {decision.strategy_hash[:12]}, size {decision.size_fraction:.0%})"
    )
    if decision.gates:
        with pd.option_context("display.width", 120, "display.max_colwidth", 40):
            print(decision.table().to_string(index=False))
    for reason in decision.reasons:
        print(f"  - {reason}")
    if not decision.allowed:
        print("quantlab promote: refused; nothing recorded", file=sys.stderr)
        return 1
    if args.dry_run:
        print("dry run: nothing recorded")
        return 0
    rec = lc.promote(
        args.strategy,
        to=args.to,
        evidence=args.evidence,
        registry=args.registry,
        config=_config(args.config),
        actor=args.actor,
        reason=args.reason,
    )
    print(f"recorded #{rec.seq} at {rec.time} by {rec.actor} (hash {rec.hash[:12]})")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    import quantlab.lifecycle as lc

    table = lc.status(args.registry)
    if table.empty:
        print("no strategy has been promoted yet (quantlab promote --help)")
    else:
        table["strategy_hash"] = table["strategy_hash"].str[:12]
        print(table.to_string(index=False))
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    import quantlab.lifecycle as lc

    table = lc.history(args.strategy, registry=args.registry)
    table["strategy_hash"] = table["strategy_hash"].str[:12]
    print(table.to_string(index=False) if not table.empty else "no transitions recorded")
    return 0


def _cmd_pause(args: argparse.Namespace) -> int:
    import quantlab.lifecycle as lc

    fn = lc.pause if args.lifecycle_command == "pause" else lc.retire
    rec = fn(args.strategy, reason=args.reason, registry=args.registry, actor=args.actor)
    print(f"{rec.from_state} -> {rec.to_state}: recorded #{rec.seq} ({rec.reason})")
    return 0


def _cmd_check_pause(args: argparse.Namespace) -> int:
    import quantlab.lifecycle as lc

    rec = lc.check_auto_pause(args.journal, registry=args.registry, config=_config(args.config))
    print("no auto-pause rule fired" if rec is None else f"paused: {rec.reason}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from quantlab.live.replay import replay, write_replay

    costs = None
    if args.costs is not None:
        try:
            costs = json.loads(args.costs)
        except json.JSONDecodeError:
            from quantlab.errors import ConfigError

            raise ConfigError(
                f"--costs: expected a fee rate or a JSON mapping, got {args.costs!r}"
            ) from None
    result = replay(args.journal, costs=costs, tolerance_bars=args.tolerance_bars)
    if args.output is None:
        from quantlab.reports import artifact_path

        out = artifact_path("replay.json")
    else:
        out = args.output
    path = write_replay(result, out)
    s = result.summary
    print(
        f"{s['n_bars']} bars ({s['mode']}): {s['matched']} fills matched, {s['missing']} "
        f"missing, {s['extra']} extra"
    )
    print(f"P&L live {s['pnl_live']:.6f}  backtest {s['pnl_bt']:.6f}  diff {s['diff_total']:.6g}")
    print(result.parts().to_string())
    print(f"replay written to {path}")
    return 0


def _live_group(sub: argparse._SubParsersAction) -> argparse._SubParsersAction | None:
    """Return the subcommands of ``quantlab live`` (added by ``quantlab.cli.live``) or None."""
    live = sub.choices.get("live")
    if live is None:  # quantlab.cli.live adds to this group when it comes later
        live = sub.add_parser("live", help="the live runner", description="The live runner.")
        group = live.add_subparsers(dest="live_command", metavar="ACTION", parser_class=type(live))
        group.required = True
        return group
    for action in live._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _journal_of(args: argparse.Namespace) -> Path:
    """Return the journal a ``live run`` will write (its --journal, --run-dir or default)."""
    from quantlab.live.handle import default_run_dir, run_paths

    if getattr(args, "journal", None):
        return Path(args.journal)
    run_dir = getattr(args, "run_dir", None) or default_run_dir(
        args.strategy, args.symbol, args.interval, args.mode
    )
    return run_paths(run_dir)["journal"]


def _guard_live_run(group: argparse._SubParsersAction) -> None:
    """Wrap ``quantlab live run``: permission before it starts, the lifecycle watch while it runs.

    See :mod:`quantlab.lifecycle.watch`. The registry is ``$QUANTLAB_LIFECYCLE_REGISTRY``
    (or ``data/lifecycle/promotions.jsonl``).
    """
    run = group.choices.get("run")
    if run is None:
        return
    original = run.get_default("func")
    if original is None or getattr(original, "_lifecycle_guarded", False):
        return

    def guarded(args: argparse.Namespace) -> int:
        from quantlab.lifecycle.watch import LifecycleWatch, guard_start

        shash, fraction, reason = guard_start(args.strategy, args.mode)
        print(f"lifecycle: {reason}", file=sys.stderr)
        if args.mode == "mainnet" and fraction < 1.0:
            base = getattr(args, "init_cash", None)
            if base is None:
                from quantlab.errors import ConfigError

                raise ConfigError(
                    "--mode mainnet: the ramp trades a fraction of the capital; pass "
                    "--init-cash (the capital the full size would use)"
                )
            args.init_cash = float(base) * fraction
            print(
                f"lifecycle: ramp step {fraction:.0%}: sizing from {args.init_cash:.2f} of "
                f"{float(base):.2f}",
                file=sys.stderr,
            )
        with LifecycleWatch(_journal_of(args), shash, args.mode):
            return original(args)

    guarded._lifecycle_guarded = True  # type: ignore[attr-defined]
    run.set_defaults(func=guarded)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``promote``, ``lifecycle`` and ``live replay`` to the top-level subcommands."""
    parser_class = type(sub._name_parser_map.get("report") or argparse.ArgumentParser())
    p = sub.add_parser(
        "promote",
        help="move a strategy along its lifecycle, on evidence",
        description="Promote a strategy (candidate -> validated -> paper -> live_small -> "
        "live_full) on its evidence: a validation.json for validated, the runner's journal "
        "for live_small and each live_full ramp step. A refusal prints every failed gate and "
        "exits 1; nothing is recorded.",
    )
    p.add_argument("strategy", help="validation.json (or folder), strategy YAML, kind or hash")
    p.add_argument(
        "--to",
        required=True,
        choices=["validated", "paper", "live_small", "live_full"],
        help="target state",
    )
    p.add_argument("--evidence", default=None, metavar="PATH", help="validation.json or journal")
    p.add_argument("--config", default=None, metavar="YAML", help="lifecycle gate thresholds")
    p.add_argument("--reason", default="", help="why (kept with the record)")
    p.add_argument("--actor", default=None, help="who (default user@host)")
    p.add_argument("--dry-run", action="store_true", help="judge only; record nothing")
    _registry_arg(p)
    p.set_defaults(func=_cmd_promote)

    life = sub.add_parser(
        "lifecycle",
        help="lifecycle states: status, history, pause, retire",
        description="Read the promotion registry; pause or retire a strategy.",
    )
    lsub = life.add_subparsers(
        dest="lifecycle_command", metavar="ACTION", parser_class=parser_class
    )
    lsub.required = True
    st = lsub.add_parser("status", help="every strategy's state", description="Every strategy.")
    _registry_arg(st)
    st.set_defaults(func=_cmd_status)
    hi = lsub.add_parser("history", help="transitions, oldest first", description="History.")
    hi.add_argument("strategy", nargs="?", default=None)
    _registry_arg(hi)
    hi.set_defaults(func=_cmd_history)
    for name, text in (("pause", "pause a trading strategy"), ("retire", "retire a strategy")):
        q = lsub.add_parser(name, help=text, description=text.capitalize() + ".")
        q.add_argument("strategy")
        q.add_argument("--reason", required=True)
        q.add_argument("--actor", default=None)
        _registry_arg(q)
        q.set_defaults(func=_cmd_pause)
    cp = lsub.add_parser(
        "check-pause",
        help="apply the auto-pause rules to a runner's journal",
        description="Pause the journal's strategy if its last 30 trades have profit factor "
        "< 1.0 or its drawdown passes 15 %% (thresholds from --config).",
    )
    cp.add_argument("journal")
    cp.add_argument("--config", default=None, metavar="YAML")
    _registry_arg(cp)
    cp.set_defaults(func=_cmd_check_pause)

    group = _live_group(sub)
    if group is None:
        return
    _guard_live_run(group)  # needs quantlab.cli.live before this module in COMMAND_MODULES
    rp = group.add_parser(
        "replay",
        help="backtest a runner's journaled bars and diff fills, positions and P&L",
        description="Replay the bars and decisions a runner journaled through the backtester "
        "and explain the difference fill by fill (price, fees, size, unmatched, funding); "
        "write it as replay.json (a report artefact by default).",
    )
    rp.add_argument("journal", help="the runner's SQLite journal")
    rp.add_argument("--output", default=None, help="where to write (default: report artefact)")
    rp.add_argument("--costs", default=None, help="cost model JSON (default: the journal's)")
    rp.add_argument("--tolerance-bars", type=int, default=2)
    rp.set_defaults(func=_cmd_replay)
