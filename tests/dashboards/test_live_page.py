"""The Live page as objects: overview, detail, kill with confirmation, loopback only."""

from __future__ import annotations

import panel as pn
import pytest
from journal_builder import write_journal

import quantlab as ql
from quantlab.backtest.verdict import make_verdict, write_verdict
from quantlab.dashboards.live import LivePage
from quantlab.lifecycle import monitor
from quantlab.live.journal import Journal

PASSING = {"dsr": 0.99, "pbo": 0.05, "oos_sharpe": 1.5, "oos_trades": 60,
           "stress_total_return": 0.1, "oos_max_drawdown": 0.08}  # fmt: skip


@pytest.fixture
def live_root(tmp_path):
    strategy = ql.backtest.ma_cross(fast=5, slow=20, stops={"stop_loss": 0.01})
    bars = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7).iloc[:300]
    costs = ql.backtest.Costs.hyperliquid()
    root = tmp_path / "live"
    write_journal(root / "BTC-1h-sim-test" / "journal.sqlite", bars, strategy, costs,
                  mode="sim")  # fmt: skip
    registry = tmp_path / "promotions.jsonl"
    v = write_verdict(make_verdict(strategy, PASSING), tmp_path / "validation.json")
    ql.lifecycle.promote(v, to="validated", registry=registry)
    ql.lifecycle.promote(v, to="paper", registry=registry)
    return root, registry


def test_overview_and_detail(live_root):
    root, registry = live_root
    table = monitor.overview(root, registry=registry)
    row = table.iloc[0]
    assert row["run"] == "BTC-1h-sim-test" and row["lifecycle"] == "paper"
    assert row["mode"] == "sim" and row["fills"] > 0 and row["breaker"] == "clear"
    assert 0.0 <= row["drawdown"] < 1.0 and row["kill"] == "clear"
    d = monitor.detail(root / "BTC-1h-sim-test", registry=registry)
    assert len(d["equity"]) == 300 and (d["drawdown"] <= 0).all()
    assert len(d["fills"]) == 20 and d["status"]["lifecycle"] == "paper"


def test_the_page_shows_every_runner(live_root):
    root, registry = live_root
    page = LivePage(root, registry=registry, refresh_ms=0)
    assert page.select.value == "BTC-1h-sim-test"
    assert page.table.object.loc[0, "lifecycle"] == "paper"
    assert "lifecycle **paper**" in page.status.object and "kill switch **clear**" in (
        page.status.object
    )
    assert page.equity.object.name == "live_equity"
    assert page.drawdown.object.name == "live_drawdown"
    names = [b.label for b in page.kill_buttons]
    assert names == ["Kill: close_only", "Kill: halt_all"]
    buttons = [b.label for b in page.view().select(pn.widgets.Button)]
    assert buttons and not any(label.lower().startswith("promote") for label in buttons)


def test_kill_needs_a_confirmation(live_root):
    root, registry = live_root
    page = LivePage(root, registry=registry, refresh_ms=0, allow_kill=True)
    journal = root / "BTC-1h-sim-test" / "journal.sqlite"
    page.kill_buttons[1].clicks += 1  # halt_all: asks first
    assert page.confirm_row.visible and "halt_all" in page.confirm_row[0].object
    page.cancel.clicks += 1
    assert not page.confirm_row.visible
    with Journal(journal, readonly=True) as j:
        assert j.pending_requests() == []
    page.kill_buttons[0].clicks += 1
    page.confirm.clicks += 1
    with Journal(journal, readonly=True) as j:
        assert [(r["command"], r["arg"]) for r in j.pending_requests()] == [("kill", "close_only")]
    assert "kill close_only requested" in page.message.objects[0].object


def test_kill_only_from_loopback(live_root):
    root, registry = live_root
    page = LivePage(root, registry=registry, refresh_ms=0, allow_kill=False)
    assert all(b.disabled for b in page.kill_buttons)
    page.ask("close_only")
    assert not page.confirm_row.visible
    assert monitor.is_loopback("127.0.0.1") and monitor.is_loopback("::1")
    assert not monitor.is_loopback("192.168.1.4") and not monitor.is_loopback(None)


def test_an_empty_folder_says_how_to_start(tmp_path):
    page = LivePage(tmp_path / "none", registry=tmp_path / "r.jsonl", refresh_ms=0)
    assert "0 runner(s)" in page.header.object and "ql.live.launch" in page.header.object


def test_the_next_promotion_is_judged_not_made(live_root):
    root, registry = live_root
    page = LivePage(root, registry=registry, refresh_ms=0)
    assert "breaker clear" in page.status.object
    page.judge.clicks += 1
    head, table = page.gates.objects
    assert "paper -> live_small" in head.object and "judged only" in head.object
    assert table.object["name"].iloc[0] == "track_record_length"
    reg = ql.lifecycle.PromotionRegistry(registry)
    assert [r.to_state for r in reg.records()] == ["validated", "paper"]  # nothing recorded
