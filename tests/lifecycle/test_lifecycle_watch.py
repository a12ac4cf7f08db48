"""The lifecycle's hold on a runner: refused start, auto-pause and revocation while it runs."""

from __future__ import annotations

import pytest
from journal_builder import wave_bars, write_journal

import quantlab as ql
from quantlab.backtest.verdict import strategy_hash
from quantlab.cli import main
from quantlab.errors import PromotionRefused
from quantlab.lifecycle.watch import LifecycleWatch, guard_start
from quantlab.live.journal import Journal


def _requests(path):
    with Journal(path, readonly=True) as j:
        return [(r["command"], r["arg"]) for r in j.pending_requests()]


def test_an_unpromoted_strategy_cannot_start_on_a_venue(registry, validation, monkeypatch, capsys):
    monkeypatch.setenv("QUANTLAB_LIFECYCLE_REGISTRY", str(registry.path))
    for mode in ("sim", "testnet", "mainnet"):
        with pytest.raises(PromotionRefused, match="is candidate"):
            guard_start(validation, mode)
    code = main(
        [
            "live",
            "run",
            "--strategy",
            str(validation),
            "--mode",
            "sim",
            "--exchange-url",
            "http://127.0.0.1:9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "live run refused" in err and "promote it first" in err
    assert guard_start(validation, "paper")[1] == 1.0  # a dry run needs no promotion


def test_a_paper_strategy_starts_on_sim_not_mainnet(registry, validation):
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    shash, fraction, _ = guard_start(validation, "sim", registry=registry)
    assert fraction == 1.0 and len(shash) == 64
    with pytest.raises(PromotionRefused, match="'mainnet' needs one of: live_small"):
        guard_start(validation, "mainnet", registry=registry)


def test_the_watch_auto_pauses_and_kills(registry, validation, strategy, costs, bars, tmp_path):
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    journal = tmp_path / "losing.sqlite"
    write_journal(journal, bars, strategy, costs, mode="sim")
    watch = LifecycleWatch(journal, strategy_hash(strategy), "sim", registry=registry)
    reason = watch.check()
    assert registry.state(strategy_hash(strategy)).value == "paused"
    assert reason is not None and "paused" in reason
    assert _requests(journal) == [("kill", "close_only")]
    with Journal(journal, readonly=True) as j:
        assert j.events("lifecycle")[-1]["level"] == "warning"
    assert watch.check() is None  # once


def test_the_watch_leaves_a_healthy_runner_alone(registry, validation, strategy, costs, tmp_path):
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    journal = tmp_path / "good.sqlite"
    write_journal(journal, wave_bars(), strategy, costs, mode="sim")
    with LifecycleWatch(
        journal, strategy_hash(strategy), "sim", registry=registry, every_s=0.01
    ) as watch:
        assert watch.check() is None
    assert _requests(journal) == [] and watch.errors == []
    ql.lifecycle.pause(strategy, reason="manual", registry=registry)  # by hand, meanwhile
    seen = []
    watch = LifecycleWatch(
        journal, strategy_hash(strategy), "sim", registry=registry, on_revoke=seen.append
    )
    assert watch.check() == seen[0] and "manual" in seen[0]


def test_mainnet_trades_the_ramp_fraction_of_its_capital(
    registry, validation, strategy, costs, tmp_path, monkeypatch, capsys
):
    from journal_builder import wave_bars as waves

    import quantlab.live.main as live_main

    monkeypatch.setenv("QUANTLAB_LIFECYCLE_REGISTRY", str(registry.path))
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    journal = tmp_path / "paper.sqlite"
    write_journal(journal, waves(), strategy, costs, mode="paper")
    ql.lifecycle.promote(strategy, to="live_small", evidence=journal, registry=registry)
    seen = {}

    def fake_run_process(strategy_path, **kw):
        seen.update(kw)
        return {"phase": "stopped"}

    monkeypatch.setattr(live_main, "run_process", fake_run_process)
    args = ["live", "run", "--strategy", str(validation), "--mode", "mainnet",
            "--run-dir", str(tmp_path / "run")]  # fmt: skip
    assert main([*args, "--init-cash", "10000"]) == 0
    assert seen["init_cash"] == 2500.0  # live_small: 25 % of the capital
    assert "ramp step 25%" in capsys.readouterr().err
    assert main(args) == 1  # without the capital there is nothing to take 25 % of
    assert "pass --init-cash" in capsys.readouterr().err


def test_the_watch_notes_a_ramp_step(registry, validation, strategy, costs, tmp_path):
    import datetime as dt

    from journal_builder import wave_bars as waves

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ql.lifecycle.promote(validation, to="validated", registry=registry, now=t0)
    ql.lifecycle.promote(validation, to="paper", registry=registry, now=t0)
    paper = tmp_path / "paper.sqlite"
    write_journal(paper, waves(), strategy, costs, mode="paper",
                  created_ms=int(t0.timestamp() * 1000) + 1)  # fmt: skip
    ql.lifecycle.promote(strategy, to="live_small", evidence=paper, registry=registry,
                         now=t0 + dt.timedelta(hours=1))  # fmt: skip
    main_j = tmp_path / "main.sqlite"
    write_journal(main_j, waves(), strategy, costs, mode="mainnet",
                  created_ms=int(t0.timestamp() * 1000) + 2 * 3_600_000)  # fmt: skip
    watch = LifecycleWatch(main_j, strategy_hash(strategy), "mainnet", registry=registry)
    assert watch.check() is None
    ql.lifecycle.promote(strategy, to="live_full", evidence=main_j, registry=registry,
                         now=t0 + dt.timedelta(days=4))  # fmt: skip
    assert watch.check() is None  # still allowed: noted, not killed
    with Journal(main_j, readonly=True) as j:
        message = j.events("lifecycle")[-1]["message"]
        assert j.pending_requests() == []
    assert "size fraction is now 50%" in message and "restart" in message
