"""The promotion lifecycle: states, transitions, gates and the registry of promotions.

A strategy moves from research to money only on evidence a notebook or a runner
produced, and leaves it as soon as the evidence turns::

    import quantlab as ql
    ql.lifecycle.promote("reports/.../validation.json", to="validated")
    ql.lifecycle.promote("reports/.../validation.json", to="paper")
    # ... a paper runner trades; its journal is the next evidence
    ql.lifecycle.evaluate(strategy, to="live_small", evidence="journal.sqlite").table()
    ql.lifecycle.promote(strategy, to="live_small", evidence="journal.sqlite")
    ql.lifecycle.permission(strategy_hash, "mainnet")   # (allowed, size_fraction, reason)
    ql.lifecycle.status()                                # every strategy and its state

States and the allowed transitions are in :mod:`~quantlab.lifecycle.states`, the gates
and auto-pause rules in :mod:`~quantlab.lifecycle.gates`, the append-only registry in
:mod:`~quantlab.lifecycle.registry`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quantlab.lifecycle.evidence import rejudge
from quantlab.lifecycle.gates import (
    AutoPauseConfig,
    LifecycleConfig,
    PaperGateConfig,
    RampConfig,
    TrackRecord,
    auto_pause,
    max_drawdown,
    paper_gates,
    profit_factor,
    ramp_gates,
)
from quantlab.lifecycle.permission import permission
from quantlab.lifecycle.promote import (
    Decision,
    check_auto_pause,
    evaluate,
    pause,
    promote,
    resolve_strategy,
    retire,
)
from quantlab.lifecycle.registry import PromotionRegistry, Record, open_registry
from quantlab.lifecycle.session import SimSession, start_sim
from quantlab.lifecycle.states import (
    ALLOWED,
    MODES,
    TRADING_STATES,
    State,
    allowed_targets,
    check_transition,
    modes_allowed,
)
from quantlab.lifecycle.watch import LifecycleWatch, guard_start

__all__ = [
    "ALLOWED",
    "MODES",
    "TRADING_STATES",
    "AutoPauseConfig",
    "Decision",
    "LifecycleConfig",
    "LifecycleWatch",
    "PaperGateConfig",
    "PromotionRegistry",
    "RampConfig",
    "Record",
    "SimSession",
    "State",
    "TrackRecord",
    "allowed_targets",
    "auto_pause",
    "check_auto_pause",
    "check_transition",
    "evaluate",
    "guard_start",
    "history",
    "max_drawdown",
    "modes_allowed",
    "open_registry",
    "paper_gates",
    "pause",
    "permission",
    "profit_factor",
    "promote",
    "ramp_gates",
    "rejudge",
    "resolve_strategy",
    "retire",
    "start_sim",
    "state",
    "status",
]


def state(strategy, *, registry: PromotionRegistry | str | Path | None = None) -> State:
    """Return a strategy's lifecycle state (``candidate`` if never promoted)."""
    reg = open_registry(registry)
    shash, _, _ = resolve_strategy(strategy, reg)
    return reg.state(shash)


def status(registry: PromotionRegistry | str | Path | None = None) -> pd.DataFrame:
    """Return one row per strategy in the registry: state, size fraction, since, who, why."""
    return open_registry(registry).table()


def history(
    strategy=None, *, registry: PromotionRegistry | str | Path | None = None
) -> pd.DataFrame:
    """Return the transitions (of one strategy, or all), oldest first."""
    reg = open_registry(registry)
    shash = resolve_strategy(strategy, reg)[0] if strategy is not None else None
    return reg.history(shash)
