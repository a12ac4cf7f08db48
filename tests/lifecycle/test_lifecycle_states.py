"""States and transitions: exactly the allowed moves are possible."""

from __future__ import annotations

import itertools

import pytest

from quantlab.errors import ConfigError
from quantlab.lifecycle import ALLOWED, MODES, State, allowed_targets, check_transition
from quantlab.lifecycle.states import as_state, modes_allowed

EXPECTED = {
    ("candidate", "validated"),
    ("validated", "paper"),
    ("paper", "live_small"),
    ("live_small", "live_full"),
    ("live_full", "live_full"),  # a ramp step
    ("paper", "paused"),
    ("live_small", "paused"),
    ("live_full", "paused"),
    ("paused", "paper"),
    *(
        (s, "retired")
        for s in ("candidate", "validated", "paper", "live_small", "live_full", "paused")
    ),
}


@pytest.mark.parametrize("a,b", list(itertools.product([s.value for s in State], repeat=2)))
def test_exactly_the_allowed_transitions(a, b):
    if (a, b) in EXPECTED:
        assert check_transition(a, b) == (State(a), State(b))
    else:
        with pytest.raises(ConfigError, match=f"transition {a} -> {b} is not allowed"):
            check_transition(a, b)


def test_paused_and_retired_reachable_from_every_trading_state():
    for s in (State.PAPER, State.LIVE_SMALL, State.LIVE_FULL):
        assert {State.PAUSED, State.RETIRED} <= ALLOWED[s]


def test_retired_is_final_and_says_so():
    assert allowed_targets("retired") == []
    with pytest.raises(ConfigError, match="none \\(final state\\)"):
        check_transition("retired", "paper")


def test_unknown_state_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown lifecycle state 'live'.*candidate, validated"):
        as_state("live")
    assert as_state(" Paper ") is State.PAPER


def test_venue_modes_need_a_trading_state_and_mainnet_a_live_one():
    assert modes_allowed("paper") == ["paper", "sim", "testnet"]
    assert modes_allowed("live_small") == list(MODES)
    for s in ("candidate", "validated", "paused"):
        assert modes_allowed(s) == ["paper"]  # a dry run, never a venue
    assert modes_allowed("retired") == []
