"""The lifecycle states of a strategy and the transitions allowed between them.

::

    candidate -> validated -> paper -> live_small -> live_full (25 % -> 50 % -> 100 %)
                                 \\________\\____________\\
                                  paused (a new promotion to trade again) ; retired (final)

``paper``, ``live_small`` and ``live_full`` are the *trading* states: a runner may trade
only in one of them, and each can fall to ``paused`` (by hand or by the runner's
auto-pause rules). ``retired`` is reachable from every state but itself and is final.
A paused strategy trades again only through a new promotion to ``paper``, on its
validation evidence checked afresh, and then climbs again on a new paper track record.
"""

from __future__ import annotations

from enum import StrEnum

from quantlab.errors import ConfigError

__all__ = [
    "ALLOWED",
    "MODES",
    "TRADING_STATES",
    "State",
    "allowed_targets",
    "as_state",
    "check_transition",
    "modes_allowed",
]


class State(StrEnum):
    """A strategy's place on the road from research to real money."""

    CANDIDATE = "candidate"
    VALIDATED = "validated"
    PAPER = "paper"
    LIVE_SMALL = "live_small"
    LIVE_FULL = "live_full"
    PAUSED = "paused"
    RETIRED = "retired"


#: States in which a runner may trade.
TRADING_STATES = frozenset({State.PAPER, State.LIVE_SMALL, State.LIVE_FULL})

#: ``from -> {to}``: every transition the lifecycle accepts. ``live_full -> live_full`` is
#: a ramp step (50 % -> 100 % of the size).
ALLOWED: dict[State, frozenset[State]] = {
    State.CANDIDATE: frozenset({State.VALIDATED, State.RETIRED}),
    State.VALIDATED: frozenset({State.PAPER, State.RETIRED}),
    State.PAPER: frozenset({State.LIVE_SMALL, State.PAUSED, State.RETIRED}),
    State.LIVE_SMALL: frozenset({State.LIVE_FULL, State.PAUSED, State.RETIRED}),
    State.LIVE_FULL: frozenset({State.LIVE_FULL, State.PAUSED, State.RETIRED}),
    State.PAUSED: frozenset({State.PAPER, State.RETIRED}),
    State.RETIRED: frozenset(),
}

#: Runner modes and the states that permit them. ``paper`` fills inside the runner and
#: sends nothing anywhere: a dry run any strategy not retired may make (its journal counts
#: as a track record only when it began in the ``paper`` state). ``sim`` trades the local
#: exchange and ``testnet`` the venue's test network (no real money): they need the
#: ``paper`` state or better. ``mainnet`` is real money: ``live_small`` or ``live_full``.
MODES: dict[str, frozenset[State]] = {
    "paper": frozenset(State) - {State.RETIRED},
    "sim": TRADING_STATES,
    "testnet": TRADING_STATES,
    "mainnet": frozenset({State.LIVE_SMALL, State.LIVE_FULL}),
}


def as_state(value: State | str, *, field: str = "state") -> State:
    """Return ``value`` as a :class:`State`, or raise ConfigError listing the states."""
    if isinstance(value, State):
        return value
    try:
        return State(str(value).strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in State)
        raise ConfigError(f"{field}: unknown lifecycle state {value!r}; known: {known}") from None


def allowed_targets(state: State | str) -> list[State]:
    """Return the states ``state`` may move to, in lifecycle order."""
    targets = ALLOWED[as_state(state)]
    return [s for s in State if s in targets]


def check_transition(source: State | str, target: State | str) -> tuple[State, State]:
    """Return ``(source, target)`` as states, or raise ConfigError if the move is not allowed."""
    a, b = as_state(source, field="from"), as_state(target, field="to")
    if b not in ALLOWED[a]:
        options = ", ".join(s.value for s in allowed_targets(a)) or "none (final state)"
        raise ConfigError(
            f"lifecycle: transition {a.value} -> {b.value} is not allowed; "
            f"from {a.value} the allowed targets are: {options}"
        )
    return a, b


def modes_allowed(state: State | str) -> list[str]:
    """Return the runner modes the state permits."""
    s = as_state(state)
    return [m for m, states in MODES.items() if s in states]
