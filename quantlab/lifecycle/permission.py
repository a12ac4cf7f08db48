"""What the runner may do: ``permission(strategy_hash, mode) -> (allowed, size, reason)``.

The runner (``quantlab.live``) sits below the lifecycle in the layering, so it cannot
import this module. It receives the function by injection: ``quantlab live run`` (the CLI
layer, above both) hands :func:`permission` and :func:`auto_pause_hook` to the runner it
starts, which calls them before it starts and at every bar. A runner built without them
(tests of the runner itself) trades only in ``paper`` mode.
"""

from __future__ import annotations

from pathlib import Path

from quantlab.errors import ConfigError
from quantlab.lifecycle.registry import PromotionRegistry, open_registry
from quantlab.lifecycle.states import MODES, State

__all__ = ["permission"]


def permission(
    strategy_hash: str,
    mode: str,
    *,
    registry: PromotionRegistry | str | Path | None = None,
) -> tuple[bool, float, str]:
    """Return whether a runner may trade a strategy in a mode, at what size, and why.

    Parameters
    ----------
    strategy_hash : str
        :func:`quantlab.backtest.verdict.strategy_hash` of the configuration.
    mode : {"paper", "sim", "testnet", "mainnet"}
    registry : PromotionRegistry or path, optional

    Returns
    -------
    (allowed, size_fraction, reason)
        ``size_fraction`` multiplies every position the strategy sizes: 1.0 in the
        ``paper``, ``sim`` and ``testnet`` modes; on ``mainnet`` the ramp step (25 % in
        ``live_small``, then 50 % and 100 % in ``live_full``). 0.0 when not allowed.

    Raises
    ------
    ConfigError
        An unknown mode.
    """
    if mode not in MODES:
        raise ConfigError(f"mode: unknown runner mode {mode!r}; known: {', '.join(MODES)}")
    reg = open_registry(registry)
    rec = reg.current(strategy_hash)
    state = rec.state if rec is not None else State.CANDIDATE
    need = MODES[mode]
    if state not in need:
        names = ", ".join(s.value for s in State if s in need)
        since = f" since {rec.time}" if rec is not None else ""
        why = f" ({rec.reason})" if rec is not None and rec.reason else ""
        return (
            False,
            0.0,
            f"strategy {strategy_hash[:12]} is {state.value}{since}{why}; mode {mode!r} needs "
            f"one of: {names} (promote it first: quantlab promote --help)",
        )
    fraction = float(rec.size_fraction) if mode == "mainnet" else 1.0
    return (
        True,
        fraction,
        f"strategy {strategy_hash[:12]} is {state.value}: {mode} at {fraction:.0%}",
    )
