"""The runner against the local Hyperliquid exchange: reconcile rules, kill switch, faults.

The exchange's clock moves only when a test advances it (``speed=0``), one bar at a time,
so every step is deterministic. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import pandas as pd
import pytest

import quantlab as ql
from quantlab.execution.model import OrderIntent
from quantlab.live.cloid import client_order_id
from quantlab.live.feed import CandleFeed
from quantlab.live.journal import Journal
from quantlab.live.reconcile import journal_position
from quantlab.live.runner import Runner, RunnerConfig

eth_account = pytest.importorskip("eth_account")
sim_mod = pytest.importorskip("quantlab.execution.sim")
from quantlab.execution.hyperliquid import HyperliquidBackend  # noqa: E402
from quantlab.execution.ratelimit import WeightLimiter  # noqa: E402


def UNLIMITED() -> WeightLimiter:
    """The client's pacing, sized like the test venue's (whose rate limit is off): the
    exchange clock runs hours per second here, the venue's budget is per real minute."""
    return WeightLimiter(capacity=10**9)


HOUR = 3600.0
#: flips often on the synthetic path: a trade every few bars
STRATEGY = ql.backtest.ema_trend(fast=2, slow=3, gate=4, direction="both",
                                 stops={"stop_loss": 0.03})  # fmt: skip


@pytest.fixture
def venue():
    acct = eth_account.Account.create()
    sim = sim_mod.serve(seed=11, fund={acct.address: 100_000.0}, rate_limit=False,
                        start="2026-01-05", delay_s=1.0)  # fmt: skip
    yield sim, acct
    sim.stop()


def make_runner(venue, path, **cfg):
    sim, _ = venue
    config = RunnerConfig(symbol="BTC", interval="1h", mode="sim", poll_s=0,
                          reconcile_every_s=1e9, dead_man_s=0, init_cash=100_000.0,
                          **cfg)  # fmt: skip
    feed = CandleFeed(sim.url, "BTC", "1h", min_poll_s=0)
    return Runner(STRATEGY, config, client(venue), feed, Journal(path))


def client(venue):
    """A client of the test account (the runner's, or a second one: what a human or
    another program would do), quick to retry and time out."""
    sim, acct = venue
    return HyperliquidBackend(
        sim.url,
        wallet=acct,
        retry_wait_s=0.01,
        timeout=0.5,
        expires_after_s=1.5,
        limiter=UNLIMITED(),
    )


def bars(venue, runner, n):
    sim, _ = venue
    if runner.phase == "starting":
        runner.start()
    for _ in range(n):
        sim.advance(HOUR)
        runner.tick()


def until_position(venue, runner, max_bars=40):
    for _ in range(max_bars):
        bars(venue, runner, 1)
        if runner.backend.position("BTC") != 0.0:
            return
    raise AssertionError("the strategy took no position")


def consistent(venue, runner):
    """Assert one order per client order id, and journal == exchange == engine."""
    sim, acct = venue
    per_cloid = sim.orders_per_cloid(acct.address)
    assert per_cloid and max(per_cloid.values()) == 1
    runner.reconcile_now()
    exch = runner.backend.position("BTC")
    assert journal_position(runner.journal, "BTC") == pytest.approx(exch, abs=1e-12)
    tids = {str(f.tid) for f in runner.backend.fills()}
    assert tids == {f["tid"] for f in runner.journal.fills()}


def test_runner_trades_the_exchange_consistently(venue, tmp_path):
    runner = make_runner(venue, tmp_path / "j.sqlite")
    bars(venue, runner, 30)
    intents = pd.DataFrame(runner.journal.intents())
    assert {"entry", "exit", "stop"} <= set(intents["action"])
    consistent(venue, runner)
    assert runner.engine.state[1] == pytest.approx(runner.backend.position("BTC"), abs=1e-12)


def test_an_order_the_journal_lost_is_adopted(venue, tmp_path):
    runner = make_runner(venue, tmp_path / "j.sqlite")
    bars(venue, runner, 2)
    sim, _ = venue
    cloid = client_order_id("f" * 64, "BTC", 0, "entry")
    client(venue).submit(OrderIntent(
        "manual", "BTC", "buy", 0.01, "limit", limit_px=round(sim.mid("BTC") * 0.5),
        client_order_id=cloid))  # fmt: skip
    assert runner.reconcile_now()
    report = runner.last_report
    assert report.adopted_orders == [cloid]
    row = next(o for o in runner.journal.orders() if o["client_order_id"] == cloid)
    assert row["source"] == "adopted" and row["status"] == "open"
    assert any("adopted orders" in e["message"] for e in runner.journal.events("reconcile"))


def test_an_order_the_exchange_lost_is_resolved(venue, tmp_path):
    runner = make_runner(venue, tmp_path / "j.sqlite")
    until_position(venue, runner)
    stop = runner._live_protective()["stop"]["client_order_id"]
    assert client(venue).cancel("BTC", stop)  # gone behind the runner's back
    assert runner.reconcile_now()
    assert runner.last_report.resolved_orders == {stop: "canceled"}
    row = next(o for o in runner.journal.orders() if o["client_order_id"] == stop)
    assert row["status"] == "canceled"
    bars(venue, runner, 1)  # the next bar puts a backstop back
    if runner.backend.position("BTC") != 0.0:
        assert "stop" in runner._live_protective()


@pytest.mark.parametrize("action", ["close", "adopt"])
def test_orphan_position_alert_and_action(venue, tmp_path, action):
    runner = make_runner(venue, tmp_path / "j.sqlite", orphan_action=action)
    bars(venue, runner, 1)
    assert runner.backend.position("BTC") == 0.0
    client(venue).submit(OrderIntent("manual", "BTC", "sell", 0.05, "market"))
    assert runner.reconcile_now()
    assert runner.last_report.orphan == pytest.approx(-0.05)
    assert runner.journal.events("orphan")
    if action == "close":
        assert runner.backend.position("BTC") == 0.0
        assert [i["action"] for i in runner.journal.intents()][-1] == "orphan_close"
    else:
        assert runner.backend.position("BTC") == pytest.approx(-0.05)
        assert journal_position(runner.journal, "BTC") == pytest.approx(-0.05)
    assert runner.reconcile_now() and runner.last_report.orphan == 0.0


def test_a_missing_answer_is_never_flat(venue, tmp_path):
    sim, _ = venue
    runner = make_runner(venue, tmp_path / "j.sqlite")
    until_position(venue, runner)
    assert runner.reconcile_now()
    held = runner.journal.positions()["BTC"]["size"]
    assert held != 0.0
    n = len(runner.journal.intents())
    sim.inject("5xx", 10_000)  # the venue answers nothing usable
    assert not runner.reconcile_now()
    assert not runner.reconciled
    assert runner.journal.positions()["BTC"]["size"] == held, "never recorded as flat"
    bars(venue, runner, 2)  # no bars, no orders: the feed fails too
    sim.faults.clear()
    bars(venue, runner, 6)  # bars again, but the runner is not reconciled: it only decides
    assert runner.n_bars >= 6
    assert len(runner.journal.intents()) == n, "no order while not reconciled"
    assert any("not reconciled" in e["message"] for e in runner.journal.events("skip"))
    assert runner.reconcile_now()
    bars(venue, runner, 10)
    assert len(runner.journal.intents()) > n
    consistent(venue, runner)


@pytest.mark.parametrize("fault", ["timeout_after", "5xx_after", "timeout_before", "429"])
def test_faults_never_duplicate_an_order(venue, tmp_path, fault):
    sim, _ = venue
    runner = make_runner(venue, tmp_path / "j.sqlite")
    bars(venue, runner, 4)
    for _ in range(6):
        sim.inject(fault, 1)
        bars(venue, runner, 1)
        if not runner.reconciled:
            runner.reconcile_now()
    consistent(venue, runner)


def test_crash_and_restart_sends_nothing_twice(venue, tmp_path):
    runner = make_runner(venue, tmp_path / "j.sqlite")
    until_position(venue, runner)
    bars(venue, runner, 3)
    n = len(runner.journal.intents())
    del runner  # SIGKILL: no shutdown
    again = make_runner(venue, tmp_path / "j.sqlite")
    again.start()
    assert again.reconciled
    assert len(again.journal.intents()) == n  # the last bar's orders were found, not resent
    bars(venue, again, 10)
    consistent(venue, again)
    assert again.engine.state[1] == pytest.approx(again.backend.position("BTC"), abs=1e-12)


def test_kill_close_only_flattens_on_the_exchange(venue, tmp_path):
    runner = make_runner(venue, tmp_path / "j.sqlite")
    until_position(venue, runner)
    runner.journal.request("kill", "close_only")
    bars(venue, runner, 1)
    assert runner.backend.position("BTC") == 0.0
    t = runner.journal.kill_state()["since_ms"]
    bars(venue, runner, 15)
    new = [i for i in runner.journal.intents() if i["created_ms"] > t]
    assert all(i["reduce_only"] for i in new), "close_only: reduce-only orders at most"
    assert runner.backend.position("BTC") == 0.0
    consistent(venue, runner)


def test_kill_halt_all_sends_nothing_to_the_exchange(venue, tmp_path):
    sim, acct = venue
    runner = make_runner(venue, tmp_path / "j.sqlite")
    until_position(venue, runner)
    runner.journal.request("kill", "halt_all")
    bars(venue, runner, 1)
    placed = len(sim.orders(acct.address))
    bars(venue, runner, 15)
    assert len(sim.orders(acct.address)) == placed
    assert runner.journal.kill_state()["mode"] == "halt_all"


def test_history_on_first_poll_is_warm_up_only(venue, tmp_path):
    sim, _ = venue
    sim.advance(12 * HOUR)  # the venue already has 12 closed hours
    runner = make_runner(venue, tmp_path / "j.sqlite")
    runner.start()
    runner.tick()
    j = runner.journal
    assert len(j.bars()) == 12
    assert len(j.frame("decisions")) == 1  # only the newest bar was decided on
    assert runner.engine.index == 11
    assert all(i["bar_ms"] == j.frame("decisions")["time_ms"].iloc[0] for i in j.intents())
    assert j.events("warmup")
    bars(venue, runner, 3)
    assert len(j.frame("decisions")) == 4


def test_a_stop_does_not_wait_out_a_spent_rate_limit_window(venue, tmp_path):
    # the venue's one-minute weight window is spent (e.g. by the runs before a restart):
    # a runner asked to stop gives up waiting after its grace, sends nothing more, and says
    # that the next start reconciles
    import time

    runner = make_runner(venue, tmp_path / "j.sqlite", stop_grace_s=0.5)
    bars(venue, runner, 3)
    runner.backend.limiter = WeightLimiter(capacity=100, window_s=60.0)
    runner.backend.limiter.acquire(100)  # the window is full for the next 60 s
    sim, _ = venue
    n = sim.n_requests
    runner.request_stop("test")
    t0 = time.monotonic()
    runner.shutdown()
    assert time.monotonic() - t0 < 5.0
    assert sim.n_requests == n  # nothing was sent after the window filled
    messages = [e["message"] for e in runner.journal.events("stop")]
    assert "final reconciliation not done; the next start reconciles" in messages
    assert runner.backend.limiter.deadline is None  # lifted for other clients of the URL
