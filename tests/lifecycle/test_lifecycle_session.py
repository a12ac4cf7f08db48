"""A sim session: the local exchange, a guarded runner process, and its replay."""

from __future__ import annotations

import pytest

import quantlab as ql
from quantlab.errors import PromotionRefused


def test_an_unpromoted_strategy_starts_nothing(validation, registry):
    with pytest.raises(PromotionRefused, match="is candidate"):
        ql.lifecycle.start_sim(validation, registry=registry)


@pytest.mark.slow
def test_a_sim_session_trades_and_replays(validation, registry, tmp_path):
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    with ql.lifecycle.start_sim(
        validation, registry=registry, speed=1800.0, history_bars=40,
        run_dir=tmp_path / "run", rate_limit=False,
    ) as session:  # fmt: skip
        rows = session.watch(16, every=2.0)
        assert rows["phase"].iloc[-1] == "running" and rows["bars"].iloc[-1] >= 3
        final = session.stop()
    assert final["phase"] == "stopped" and final["mode"] == "sim"
    rep = ql.live.replay(session.journal, tolerance_bars=3)
    assert rep.summary["warmup_bars"] == 40  # the exchange's history, not traded
    assert rep.summary["n_bars"] >= 43
    assert abs(rep.unexplained) < 1e-6  # every dollar of difference has a cause
    assert rep.summary["max_position_diff"] < 1e-3 * max(1.0, abs(rep.summary["position_end_bt"]))


@pytest.mark.slow
def test_pausing_a_running_strategy_trips_its_kill_switch(validation, registry, tmp_path):
    """The watch in the runner's own process sees the pause and sends close_only."""
    import time

    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    with ql.lifecycle.start_sim(
        validation, registry=registry, speed=600.0, history_bars=10,
        run_dir=tmp_path / "run", rate_limit=False,
    ) as session:  # fmt: skip
        assert session.status()["kill"] is None
        ql.lifecycle.pause(validation, reason="risk review", registry=registry)
        deadline = time.monotonic() + 30
        while session.status()["kill"] is None and time.monotonic() < deadline:
            time.sleep(0.5)
        status = session.status()
        session.stop()
    assert status["kill"] is not None and status["kill"]["mode"] == "close_only"
    events = session.runner.events("lifecycle")
    assert "permission withdrawn" in events["message"].iloc[-1]
    assert "risk review" in events["message"].iloc[-1]
