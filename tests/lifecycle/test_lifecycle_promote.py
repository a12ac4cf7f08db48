"""Every transition and every refusal of ``ql.lifecycle.promote``, on real evidence files."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from journal_builder import wave_bars, write_journal

import quantlab as ql
from quantlab.backtest.verdict import strategy_hash
from quantlab.errors import ConfigError, PromotionRefused
from quantlab.lifecycle import State, evaluate, permission, promote

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def paper(registry, validation):
    """The strategy promoted to paper at T0 + 1h."""
    promote(validation, to="validated", registry=registry, now=at(0))
    promote(validation, to="paper", registry=registry, now=at(1))
    return registry


@pytest.fixture
def good_journal(tmp_path, strategy, costs):
    path = tmp_path / "paper.sqlite"
    write_journal(path, wave_bars(), strategy, costs, mode="sim", created_ms=ms(at(2)))
    return path


@pytest.fixture
def bad_journal(tmp_path, strategy, costs, bars):
    path = tmp_path / "losing.sqlite"
    write_journal(path, bars, strategy, costs, mode="paper", created_ms=ms(at(2)))
    return path


# --------------------------------------------------------------- candidate -> validated


def test_validated_on_a_passing_validation_file(registry, validation, strategy):
    rec = promote(validation, to="validated", registry=registry, now=at(0), reason="04 run")
    assert rec.strategy_hash == strategy_hash(strategy)
    assert rec.from_state == "candidate" and rec.to_state == "validated"
    doc = json.loads(validation.read_text())
    ev = rec.evidence
    assert ev["kind"] == "validation" and ev["content_hash"] == doc["content_hash"]
    assert ev["strategy_hash"] == doc["strategy_hash"] and len(ev["sha256"]) == 64
    assert ev["relaxed_gates"] == []
    assert ql.lifecycle.state(strategy, registry=registry) is State.VALIDATED


def test_validated_with_the_strategy_and_the_file_as_evidence(registry, validation, strategy):
    rec = promote(strategy, to="validated", evidence=validation, registry=registry)
    assert rec.to_state == "validated"


def test_validated_refused_without_evidence(registry, strategy):
    with pytest.raises(PromotionRefused, match=r"a validation\.json is needed"):
        promote(strategy, to="validated", registry=registry)
    assert registry.records() == []


def test_validated_refused_on_a_failing_verdict(registry, failing_validation):
    with pytest.raises(PromotionRefused) as err:
        promote(failing_validation, to="validated", registry=registry)
    reasons = err.value.reasons
    assert any("validation gate dsr" in r and "0.4" in r for r in reasons)
    assert any("validation gate min_trades" in r for r in reasons)
    assert len(err.value.gates) == 6 and registry.records() == []


def test_validated_refused_for_another_configuration(registry, validation):
    other = ql.backtest.ma_cross(fast=6, slow=20, stops={"stop_loss": 0.01})
    with pytest.raises(PromotionRefused, match=r"it validated strategy .* not"):
        promote(other, to="validated", evidence=validation, registry=registry)


def test_validated_refused_for_an_edited_file(registry, validation):
    doc = json.loads(validation.read_text())
    doc["metrics"]["dsr"] = 0.999
    validation.write_text(json.dumps(doc))
    with pytest.raises(PromotionRefused, match="content_hash does not match"):
        promote(validation, to="validated", registry=registry)


def test_validated_refused_for_a_missing_file(registry, strategy, tmp_path):
    with pytest.raises(PromotionRefused, match="does not exist"):
        promote(strategy, to="validated", evidence=tmp_path / "nope.json", registry=registry)


def test_relaxed_validation_gates_are_recorded(registry, strategy, tmp_path):
    from quantlab.backtest.verdict import make_verdict, write_verdict

    doc = make_verdict(
        strategy,
        {"oos_max_drawdown": 0.1, "n_trials": 1},
        gates={
            "min_dsr": None,
            "max_pbo": None,
            "min_oos_sharpe": None,
            "min_trades": None,
            "min_stress_return": None,
        },
    )
    path = write_verdict(doc, tmp_path / "relaxed.json")
    rec = promote(path, to="validated", registry=registry)
    assert any("min_dsr switched off" in r for r in rec.evidence["relaxed_gates"])


# ------------------------------------------------------------------- validated -> paper


def test_paper_from_validated(paper, strategy):
    rec = paper.current(strategy_hash(strategy))
    assert rec.to_state == "paper" and rec.size_fraction == 1.0
    assert rec.evidence["kind"] == "validated_record" and rec.evidence["seq"] == 1


def test_paper_refused_when_the_validation_file_changed(registry, validation):
    promote(validation, to="validated", registry=registry)
    doc = json.loads(validation.read_text())
    validation.write_text(json.dumps(doc, indent=4))  # same content, other bytes
    with pytest.raises(PromotionRefused, match="changed since the strategy was validated"):
        promote(validation, to="paper", registry=registry)


def test_skipping_a_state_is_not_allowed(registry, validation, good_journal):
    with pytest.raises(ConfigError, match="candidate -> paper is not allowed"):
        promote(validation, to="paper", registry=registry)
    promote(validation, to="validated", registry=registry)
    with pytest.raises(ConfigError, match="validated -> live_small is not allowed"):
        promote(validation, to="live_small", evidence=good_journal, registry=registry)


# ----------------------------------------------------------------- paper -> live_small


def test_live_small_on_a_passing_paper_record(paper, strategy, good_journal):
    d = evaluate(strategy, to="live_small", evidence=good_journal, registry=paper, now=at(30))
    assert d.allowed, d.reasons
    assert d.table()["passed"].all() and len(d.table()) == 6
    rec = promote(strategy, to="live_small", evidence=good_journal, registry=paper, now=at(30))
    assert rec.size_fraction == 0.25 and rec.step == 0
    assert rec.evidence["kind"] == "journal" and rec.evidence["mode"] == "sim"
    assert rec.evidence["replay"]["missing"] == 0
    assert next(g["name"] for g in rec.evidence["gates"]) == "track_record_length"


def test_live_small_refused_without_a_journal(paper, strategy):
    with pytest.raises(PromotionRefused, match="pass the runner's journal"):
        promote(strategy, to="live_small", registry=paper)


def test_live_small_refused_on_a_losing_record(paper, strategy, bad_journal):
    with pytest.raises(PromotionRefused) as err:
        promote(strategy, to="live_small", evidence=bad_journal, registry=paper)
    failed = {g["name"] for g in err.value.gates if not g["passed"]}
    assert {"profit_factor", "max_drawdown"} <= failed
    assert paper.state(strategy_hash(strategy)) is State.PAPER


def test_live_small_refused_for_a_journal_from_before_the_promotion(
    paper, strategy, costs, tmp_path
):
    path = tmp_path / "old.sqlite"
    write_journal(path, wave_bars(), strategy, costs, mode="paper", created_ms=ms(at(0.5)))
    with pytest.raises(PromotionRefused, match="before the strategy entered paper"):
        promote(strategy, to="live_small", evidence=path, registry=paper)


def test_live_small_refused_for_another_strategys_journal(paper, strategy, costs, tmp_path):
    other = ql.backtest.ma_cross(fast=6, slow=20, stops={"stop_loss": 0.01})
    path = tmp_path / "other.sqlite"
    write_journal(path, wave_bars(), other, costs, mode="paper", created_ms=ms(at(2)))
    with pytest.raises(PromotionRefused, match="it traded strategy"):
        promote(strategy, to="live_small", evidence=path, registry=paper)


def test_live_small_refused_after_a_kill_switch_trip(paper, strategy, costs, tmp_path):
    path = tmp_path / "killed.sqlite"
    write_journal(
        path,
        wave_bars(),
        strategy,
        costs,
        mode="paper",
        created_ms=ms(at(2)),
        events=[("kill", "kill switch: close_only (drawdown limit)")],
    )
    with pytest.raises(PromotionRefused, match="paper gate no_kill"):
        promote(strategy, to="live_small", evidence=path, registry=paper)


def test_live_small_refused_on_slippage_and_replay_diff(paper, strategy, costs, tmp_path):
    def worse(k, f):  # every fill 5 bps worse than the model, the 3rd one missing
        if k == 2:
            return None
        return dict(f, price=f["price"] * (1 + 5e-4 * f["side"]))

    path = tmp_path / "slipped.sqlite"
    write_journal(
        path, wave_bars(), strategy, costs, mode="sim", created_ms=ms(at(2)), perturb=worse
    )
    with pytest.raises(PromotionRefused) as err:
        promote(strategy, to="live_small", evidence=path, registry=paper)
    failed = {g["name"] for g in err.value.gates if not g["passed"]}
    assert failed == {"slippage", "replay_diff"}


def test_mainnet_journal_is_not_a_paper_record(paper, strategy, costs, tmp_path):
    path = tmp_path / "main.sqlite"
    write_journal(path, wave_bars(), strategy, costs, mode="mainnet", created_ms=ms(at(2)))
    with pytest.raises(PromotionRefused, match="mode 'mainnet' is not one of paper, sim"):
        promote(strategy, to="live_small", evidence=path, registry=paper)


# ------------------------------------------------------- live_small -> live_full (ramp)


@pytest.fixture
def small(paper, strategy, good_journal):
    promote(strategy, to="live_small", evidence=good_journal, registry=paper, now=at(30))
    return paper


@pytest.fixture
def main_journal(tmp_path, strategy, costs):
    path = tmp_path / "main.sqlite"
    write_journal(path, wave_bars(), strategy, costs, mode="mainnet", created_ms=ms(at(31)))
    return path


def test_ramp_25_50_100_with_minimum_time(small, strategy, main_journal):
    with pytest.raises(PromotionRefused, match="ramp gate time_at_step"):
        promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(30 + 71))
    r1 = promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(30 + 72))
    assert (r1.size_fraction, r1.step) == (0.5, 1)
    assert r1.evidence["ramp"] == {"from": 0.25, "to": 0.5, "days_at_step": 3.0}
    with pytest.raises(PromotionRefused, match="time_at_step"):
        promote(
            strategy, to="live_full", evidence=main_journal, registry=small, now=at(30 + 72 + 10)
        )
    r2 = promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(30 + 144))
    assert (r2.size_fraction, r2.step) == (1.0, 2)
    with pytest.raises(ConfigError, match="already trades at full size"):
        promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(30 + 300))


def test_ramp_refused_on_a_paper_journal(small, strategy, good_journal):
    with pytest.raises(PromotionRefused, match="mode 'sim' is not one of mainnet"):
        promote(strategy, to="live_full", evidence=good_journal, registry=small, now=at(200))


def test_ramp_refused_when_an_auto_pause_rule_fires(small, strategy, costs, bars, tmp_path):
    path = tmp_path / "main_bad.sqlite"
    write_journal(path, bars, strategy, costs, mode="mainnet", created_ms=ms(at(31)))
    with pytest.raises(PromotionRefused, match="ramp gate auto_pause_rules"):
        promote(strategy, to="live_full", evidence=path, registry=small, now=at(200))


# ------------------------------------------------------------ paused, retired, permission


@pytest.mark.parametrize("level", ["live_small", "live_full"])
def test_pause_from_a_live_state_then_a_new_promotion(
    level, small, strategy, main_journal, validation
):
    h = strategy_hash(strategy)
    if level == "live_full":
        promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(200))
    rec = ql.lifecycle.pause(strategy, reason="manual review", registry=small, now=at(210))
    assert rec.from_state == level and rec.size_fraction == 0.0
    for mode in ("sim", "testnet", "mainnet"):
        assert permission(h, mode, registry=small)[:2] == (False, 0.0)
    with pytest.raises(ConfigError, match="paused -> live_small is not allowed"):
        promote(strategy, to="live_small", evidence=main_journal, registry=small)
    back = promote(strategy, to="paper", evidence=validation, registry=small, now=at(220))
    assert back.to_state == "paper" and back.evidence["kind"] == "validation"
    assert permission(h, "sim", registry=small)[:2] == (True, 1.0)
    assert permission(h, "mainnet", registry=small)[:2] == (False, 0.0)


def test_pause_from_paper_and_repromote_from_the_recorded_file(paper, strategy):
    ql.lifecycle.pause(strategy, reason="manual", registry=paper)
    rec = promote(strategy, to="paper", registry=paper)  # the validated record's file
    assert rec.evidence["kind"] == "validation"


def test_paused_repromotion_refused_when_the_file_is_gone(paper, strategy, validation):
    ql.lifecycle.pause(strategy, reason="manual", registry=paper)
    validation.unlink()
    with pytest.raises(PromotionRefused, match="does not exist"):
        promote(strategy, to="paper", registry=paper)


def test_pause_needs_a_reason_and_a_trading_state(registry, paper, strategy, validation):
    with pytest.raises(ConfigError, match="a reason is needed"):
        ql.lifecycle.pause(strategy, reason=" ", registry=paper)
    other = ql.backtest.ma_cross(fast=7, slow=20)
    with pytest.raises(ConfigError, match="candidate -> paused is not allowed"):
        ql.lifecycle.pause(other, reason="x", registry=paper)


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
def test_retire_from_any_state_is_final(steps, registry, validation, strategy, good_journal):
    chain = [("validated", None), ("paper", None), ("live_small", good_journal)]
    for k, (to, ev) in enumerate(chain[:steps]):
        promote(
            validation if ev is None else strategy,
            to=to,
            evidence=ev,
            registry=registry,
            now=at(k if to != "live_small" else 30),
        )
    rec = ql.lifecycle.retire(strategy, reason="replaced", registry=registry, now=at(40))
    assert rec.to_state == "retired" and rec.size_fraction == 0.0
    with pytest.raises(ConfigError, match="retired -> paper is not allowed"):
        promote(validation, to="paper", registry=registry)


def test_permission_follows_the_state(registry, validation, strategy, good_journal, main_journal):
    h = strategy_hash(strategy)
    ok, size, why = permission(h, "sim", registry=registry)
    assert (ok, size) == (False, 0.0) and "is candidate" in why and "promote it" in why
    assert permission(h, "paper", registry=registry)[:2] == (True, 1.0)  # a dry run
    promote(validation, to="validated", registry=registry, now=at(0))
    assert permission(h, "testnet", registry=registry)[0] is False
    promote(validation, to="paper", registry=registry, now=at(1))
    for mode in ("paper", "sim", "testnet"):
        assert permission(h, mode, registry=registry)[:2] == (True, 1.0)
    assert permission(h, "mainnet", registry=registry)[:2] == (False, 0.0)
    promote(strategy, to="live_small", evidence=good_journal, registry=registry, now=at(30))
    assert permission(h, "mainnet", registry=registry)[:2] == (True, 0.25)
    promote(strategy, to="live_full", evidence=main_journal, registry=registry, now=at(110))
    assert permission(h, "mainnet", registry=registry)[:2] == (True, 0.5)
    with pytest.raises(ConfigError, match="unknown runner mode 'live'"):
        permission(h, "live", registry=registry)


def test_auto_pause_by_the_runner(paper, strategy, bad_journal, good_journal):
    assert ql.lifecycle.check_auto_pause(good_journal, registry=paper) is None
    rec = ql.lifecycle.check_auto_pause(bad_journal, registry=paper)
    assert rec is not None and rec.to_state == "paused" and rec.actor == "runner"
    assert rec.reason.startswith("auto-pause: ") and rec.evidence["rules"]
    assert permission(strategy_hash(strategy), "sim", registry=paper)[0] is False


def test_status_and_history(paper, strategy):
    table = ql.lifecycle.status(paper)
    assert table.loc[0, "state"] == "paper" and table.loc[0, "kind"] == "ma_cross"
    hist = ql.lifecycle.history(strategy, registry=paper)
    assert list(hist["to_state"]) == ["validated", "paper"]
    assert isinstance(hist["time"].iloc[0], pd.Timestamp)


def test_warm_up_bars_are_not_track_record(tmp_path, strategy, costs):
    from quantlab.lifecycle.track import track_record
    from quantlab.live.journal import Journal

    bars = wave_bars(n=400)
    path = tmp_path / "w.sqlite"
    write_journal(path, bars, strategy, costs, mode="sim")
    assert track_record(path).days == pytest.approx(400 / 24)
    with Journal(path) as j:  # the first 160 bars were the runner's warm-up
        j._write("DELETE FROM decisions WHERE time_ms < ?", (int(bars.index[160].value // 10**6),))
    assert track_record(path).days == pytest.approx(240 / 24)


def test_a_paper_run_does_not_pause_a_live_strategy(
    small, strategy, bad_journal, costs, bars, tmp_path
):
    assert ql.lifecycle.check_auto_pause(bad_journal, registry=small) is None  # paper mode
    assert small.state(strategy_hash(strategy)) is State.LIVE_SMALL
    path = tmp_path / "main_losing.sqlite"
    write_journal(path, bars, strategy, costs, mode="mainnet", created_ms=ms(at(31)))
    rec = ql.lifecycle.check_auto_pause(path, registry=small)
    assert rec is not None and rec.from_state == "live_small"


def test_retire_from_live_full(small, strategy, main_journal):
    promote(strategy, to="live_full", evidence=main_journal, registry=small, now=at(200))
    rec = ql.lifecycle.retire(strategy, reason="end of life", registry=small)
    assert (rec.from_state, rec.to_state) == ("live_full", "retired")
    assert permission(strategy_hash(strategy), "paper", registry=small)[0] is False
