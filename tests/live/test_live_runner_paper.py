"""A paper runner fed bar by bar equals the backtest; it survives crashes; its kill switch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _live_helpers import COSTS, STRATEGIES, bars_with_funding

import quantlab as ql
from quantlab.execution.paper import PaperBackend
from quantlab.live.feed import FrameFeed
from quantlab.live.journal import Journal
from quantlab.live.runner import Runner, RunnerConfig


def make_runner(df, strategy, path, costs=COSTS, **cfg):
    config = RunnerConfig(
        symbol="BTC", interval="1h", costs=costs, poll_s=0, reconcile_every_s=1e9,
        max_history=None, dead_man_s=0, **cfg,
    )  # fmt: skip
    backend = PaperBackend(costs, init_cash=config.init_cash, bar_seconds=3600.0)
    journal = Journal(path)
    return Runner(strategy, config, backend, FrameFeed(df, "BTC", "1h"), journal)


def drive(runner, n=None):
    """Start (if needed) and tick until the feed ends or ``n`` bars; return paper equity."""
    if runner.phase == "starting":
        runner.start()
    equity = []
    while not runner.feed.exhausted and (n is None or runner.n_bars < n):
        if runner.tick():
            equity.append(runner.backend.account().equity)
    return equity


#: every slippage term on, the impact term large enough (~1 % a trade on these bars) that
#: an entry's slippage can pass its stop: the engine then stops it out at the entry's open
COSTS_IMPACT = ql.backtest.Costs(maker_fee=0.0002, taker_fee=0.0005, slippage_bps=2.0,
                                 vol_slippage=0.1, impact=0.01)  # fmt: skip
#: a trailing stop with no activation is checked from the entry fill on, in the entry bar
TRAIL_AT_ONCE = ql.backtest.ema_trend(
    fast=3, slow=8, gate=10, direction="both",
    stops={"atr_mult": 1.0, "atr_window": 14, "trail_distance": 0.004, "take_profit": 0.01},
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_paper_runner_equals_the_backtest(name, tmp_path):
    _runner_equals_the_backtest(STRATEGIES[name], COSTS, tmp_path)


@pytest.mark.parametrize("name", [*sorted(STRATEGIES), "trail_at_once"])
def test_paper_runner_equals_the_backtest_with_impact(name, tmp_path):
    """Impact on: each entry carries its size before costs, on which the paper account
    measures its participation, as the engine does; stops inside the entry bar (at a level
    from the entry's fill, some beyond the open) fill as the engine's do."""
    strategy = TRAIL_AT_ONCE if name == "trail_at_once" else STRATEGIES[name]
    res = _runner_equals_the_backtest(strategy, COSTS_IMPACT, tmp_path, least=1)
    t = res.trades
    if name in ("trail_at_once", "ma_stops_tp_trail"):
        assert (t["entry_idx"] == t["exit_idx"]).sum() >= 3  # stopped inside the entry bar


def _runner_equals_the_backtest(strategy, costs, tmp_path, least=5):
    df = bars_with_funding(400, seed=3)
    res = ql.backtest.run(df, strategy, costs=costs)
    runner = make_runner(df, strategy, tmp_path / "j.sqlite", costs)
    paper_equity = drive(runner)
    runner.shutdown()
    j = runner.journal
    # the engine state the runner holds, bar by bar
    np.testing.assert_allclose(j.frame("equity")["equity"], res.equity, rtol=0, atol=1e-9)
    # the paper account that actually received the runner's orders
    np.testing.assert_allclose(paper_equity, res.equity, rtol=0, atol=1e-9)
    # every trade of the backtest is a pair of fills at its prices and size
    fills = pd.DataFrame(j.fills())
    closed = res.trades[~res.trades["is_open"]]
    assert len(closed) >= least
    got = sorted(zip(fills["price"].round(9), fills["size"].round(9), strict=True))
    opened = res.trades[res.trades["is_open"]]

    def pairs(prices, sizes):
        return [(round(p, 9), round(abs(q), 9)) for p, q in zip(prices, sizes, strict=True)]

    want = sorted(
        pairs(closed["entry_price"], closed["size"])
        + pairs(closed["exit_price"], closed["size"])
        + pairs(opened["entry_price"], opened["size"])
    )
    assert got == want
    # nothing had to be corrected, nothing was refused
    bad = [e["message"] for e in j.events() if e["level"] not in ("info", "debug")
           and e["kind"] not in ("kill", "breaker")]  # fmt: skip
    assert bad == []
    assert not j.events("engine_sync")
    intents = pd.DataFrame(j.intents())
    assert not intents.duplicated(["symbol", "bar_ms", "action"]).any()
    assert set(intents["status"]) <= {"filled", "sent", "canceled"}
    # an entry carries its impact size exactly when the impact term is on
    entries = intents[intents["action"] == "entry"]
    assert len(entries) and (entries["impact_size"].notna() == (costs.impact > 0)).all()
    return res


@pytest.mark.parametrize(
    ("crash_at", "costs"),
    [(37, COSTS), (150, COSTS), (151, COSTS), (151, COSTS_IMPACT)],
    ids=["37", "150", "151", "151-impact"],
)
def test_paper_runner_survives_a_crash(crash_at, costs, tmp_path):
    df = bars_with_funding(300, seed=8)
    strategy = STRATEGIES["ma_stops_tp_trail"]
    res = ql.backtest.run(df, strategy, costs=costs)
    path = tmp_path / "j.sqlite"
    first = make_runner(df, strategy, path, costs)
    drive(first, crash_at)
    if crash_at == 151:  # crash after the decision was journaled, before its orders
        t = df.index[crash_at]
        first.on_bar(first.feed.poll()[0], act=False)
        assert first.journal.last_decision("BTC")["time_ms"] == t.value // 1_000_000
    n_before = len(first.journal.intents())
    del first  # no shutdown: the process died
    second = make_runner(df, strategy, path, costs)
    drive(second)
    second.shutdown()
    j = second.journal
    np.testing.assert_allclose(j.frame("equity")["equity"], res.equity, rtol=0, atol=1e-9)
    assert second.backend.account().equity == pytest.approx(res.equity.iloc[-1], abs=1e-9)
    intents = pd.DataFrame(j.intents())
    assert len(intents) > n_before
    assert not intents.duplicated(["symbol", "bar_ms", "action"]).any()
    assert any(e["kind"] == "restore" for e in j.events())


def test_kill_close_only_is_sticky_until_cleared(tmp_path):
    df = bars_with_funding(300, seed=3)
    strategy = ql.backtest.ema_trend(fast=3, slow=8, gate=10, direction="both")
    path = tmp_path / "j.sqlite"
    runner = make_runner(df, strategy, path)
    runner.kill_file = tmp_path / "KILL"
    drive(runner, 60)
    while float(runner.engine.state[1]) == 0.0:  # wait for a position
        drive(runner, runner.n_bars + 1)
    runner.kill_file.write_text("close_only")
    drive(runner, runner.n_bars + 2)
    j = runner.journal
    assert j.kill_state()["mode"] == "close_only"
    kills = [i for i in j.intents() if i["action"] == "kill_close"]
    assert len(kills) == 1 and kills[0]["reduce_only"] == 1
    assert runner.backend.position("BTC") == 0.0
    t_kill = kills[0]["bar_ms"]
    drive(runner, runner.n_bars + 60)
    later = [i for i in j.intents() if i["bar_ms"] > t_kill and i["action"] == "entry"]
    assert later == [], "no entry while the kill switch is on"
    assert runner.engine.state[1] == 0.0
    runner.kill_file.unlink()  # deleting the file clears nothing
    drive(runner, runner.n_bars + 5)
    assert j.kill_state() is not None
    # ...a restart neither
    del runner
    runner = make_runner(df, strategy, path)
    drive(runner, 150)
    assert runner.journal.kill_state()["mode"] == "close_only"
    runner.journal.request("clear_kill")
    drive(runner, runner.n_bars + 80)
    assert runner.journal.kill_state() is None
    t_clear = max(e["time_ms"] for e in runner.journal.events("kill"))
    entries = [i for i in runner.journal.intents() if i["action"] == "entry"
               and i["created_ms"] >= t_clear]  # fmt: skip
    assert entries, "entries resume once cleared"


def test_kill_halt_all_sends_nothing(tmp_path):
    df = bars_with_funding(300, seed=4)
    strategy = ql.backtest.ema_trend(fast=3, slow=8, gate=10, direction="both",
                                     stops={"stop_loss": 0.02})  # fmt: skip
    runner = make_runner(df, strategy, tmp_path / "j.sqlite")
    drive(runner, 30)
    while float(runner.engine.state[1]) == 0.0:
        drive(runner, runner.n_bars + 1)
    n = len(runner.journal.intents())
    runner.journal.request("kill", "halt_all")
    drive(runner, runner.n_bars + 100)
    j = runner.journal
    assert j.kill_state()["mode"] == "halt_all"
    assert len(j.intents()) == n, "halt_all: not a single order after the trip"
    assert any("halt_all" in e["message"] for e in j.events("skip"))


def test_drawdown_trips_the_kill_switch_by_itself(tmp_path):
    df = bars_with_funding(400, seed=3)
    strategy = ql.backtest.ema_trend(
        fast=2, slow=3, gate=4, direction="both", limits={"max_drawdown": 0.01}
    )
    res = ql.backtest.run(df, strategy, costs=COSTS)
    runner = make_runner(df, strategy, tmp_path / "j.sqlite")
    drive(runner)
    kill = runner.journal.kill_state()
    assert kill == {"mode": "close_only", "reason": "drawdown", "since_ms": kill["since_ms"]}
    # the backtest's kill switch closed out the same way: the runner still equals it
    np.testing.assert_allclose(runner.journal.frame("equity")["equity"], res.equity, atol=1e-9)
    assert "kill_switch" in set(res.trades["exit_reason"])
