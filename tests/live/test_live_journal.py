"""The journal: WAL, one intent per symbol/bar/action, fills de-duplicated, sticky kill."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from quantlab.errors import ConfigError, DataError
from quantlab.execution.model import make_client_order_id
from quantlab.live.cloid import client_order_id, is_cloid
from quantlab.live.journal import SCHEMA_VERSION, Journal


def _intent(cloid: str, bar_ms: int = 1000, action: str = "entry") -> dict:
    return {
        "client_order_id": cloid,
        "symbol": "BTC",
        "bar_ms": bar_ms,
        "action": action,
        "side": "buy",
        "size": 0.5,
        "order_type": "market",
        "reason": "signal",
    }


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        yield j


def test_wal_mode_and_schema_version(journal):
    con = sqlite3.connect(journal.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.get_meta("schema_version") == SCHEMA_VERSION
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "bars", "decisions", "intents", "orders", "fills", "positions", "equity",
            "events", "control"} <= tables  # fmt: skip


def test_one_intent_per_symbol_bar_action(journal):
    a = client_order_id("h" * 64, "BTC", 1000, "entry")
    new, row = journal.record_intent(_intent(a))
    assert new and row["status"] == "pending"
    again, row2 = journal.record_intent(_intent(a))
    assert not again and row2["client_order_id"] == a
    # another id for the same symbol, bar and action is refused too
    other, row3 = journal.record_intent(_intent("0x" + "1" * 32))
    assert not other and row3["client_order_id"] == a
    assert len(journal.intents()) == 1
    # another action or bar is a new entry
    assert journal.record_intent(_intent("0x" + "2" * 32, action="exit"))[0]
    assert journal.record_intent(_intent("0x" + "3" * 32, bar_ms=2000))[0]
    assert len(journal.intents()) == 3


def test_fills_deduplicated_by_exchange_id(journal):
    fill = {"tid": 77, "oid": 5, "client_order_id": None, "symbol": "BTC", "side": "buy",
            "size": 1.0, "price": 100.0, "fee": 0.05, "time_ms": 10}  # fmt: skip
    assert journal.add_fill(fill)
    assert not journal.add_fill(fill)
    assert not journal.add_fill({**fill, "price": 101.0})  # same tid: the first one stays
    assert len(journal.fills()) == 1 and journal.fills()[0]["price"] == 100.0
    assert journal.last_fill_ms() == 10


def test_bind_refuses_another_strategy(journal):
    kw = {"strategy_json": "{}", "symbol": "BTC", "interval": "1h", "mode": "paper",
          "init_cash": 1e4}  # fmt: skip
    journal.bind(strategy_hash="a" * 64, **kw)
    journal.bind(strategy_hash="a" * 64, **kw)  # the same runner again: fine
    with pytest.raises(ConfigError, match="strategy_hash"):
        journal.bind(strategy_hash="b" * 64, **kw)
    with pytest.raises(ConfigError, match="symbol"):
        journal.bind(strategy_hash="a" * 64, **{**kw, "symbol": "ETH"})


def test_kill_state_is_sticky_until_cleared(journal):
    assert journal.kill_state() is None
    journal.set_kill("halt_all", "command")
    assert journal.kill_state()["mode"] == "halt_all"
    with Journal(journal.path, readonly=True) as ro:  # another process sees it
        assert ro.kill_state()["reason"] == "command"
    journal.clear_kill()
    assert journal.kill_state() is None


def test_control_requests_in_order(journal):
    a = journal.request("kill", "close_only")
    b = journal.request("stop")
    assert [r["id"] for r in journal.pending_requests()] == [a, b]
    journal.mark_done(a)
    assert [r["command"] for r in journal.pending_requests()] == ["stop"]
    with pytest.raises(ConfigError):
        journal.request("format_disk")


def test_decision_checkpoint_round_trip(journal):
    state = np.arange(37, dtype=float)
    state[6] = np.nan
    journal.save_decision("BTC", 3_600_000, 4, 1.0, state, price=101.0)
    last = journal.last_decision("BTC")
    np.testing.assert_array_equal(last["state"], state)
    assert last["bar_index"] == 4
    eq = journal.frame("equity")
    assert eq["equity"].iloc[0] == state[14] and eq["price"].iloc[0] == 101.0


def test_bars_round_trip(journal):
    journal.add_bar("BTC", 0, {"open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 3})
    bars = journal.bars("BTC")
    assert bars.index[0] == pd.Timestamp(0, tz="UTC")
    assert bars.iloc[0].to_dict()["close"] == 1.5


def test_readonly_refuses_writes_and_missing_file(journal, tmp_path):
    with Journal(journal.path, readonly=True) as ro, pytest.raises(ConfigError):
        ro.set_meta("x", "1")
    with pytest.raises(ConfigError, match="does not exist"):
        Journal(tmp_path / "nope.sqlite", readonly=True)


def test_intent_impact_size_round_trip_and_older_file(tmp_path):
    path = tmp_path / "old.sqlite"
    with Journal(path) as j:
        new, row = j.record_intent({**_intent("0x" + "1" * 32), "impact_size": 0.52})
        assert new and row["impact_size"] == 0.52
        assert j.record_intent(_intent("0x" + "2" * 32, 2000))[1]["impact_size"] is None
    # a journal written before the column (schema version 1 without it) gains it when
    # opened for writing; its rows read as NULL
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE intents DROP COLUMN impact_size")
    con.commit()
    con.close()
    with Journal(path, readonly=True) as ro:
        assert "impact_size" not in ro.intents()[0]
    with Journal(path) as j:
        assert [r["impact_size"] for r in j.intents()] == [None, None]
        assert j.record_intent({**_intent("0x" + "3" * 32, 3000), "impact_size": 1.5})[0]
        assert j.intents()[-1]["impact_size"] == 1.5


def test_readonly_refuses_other_schema(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.set_meta("schema_version", "0")
    with pytest.raises(DataError, match="schema_version"):
        Journal(tmp_path / "j.sqlite", readonly=True)


def test_client_order_ids_are_deterministic_cloids():
    h = "ab" * 32
    a = client_order_id(h, "BTC", pd.Timestamp("2024-01-01 05:00", tz="UTC"), "entry")
    assert is_cloid(a) and len(a) == 34
    assert a == client_order_id(h, "BTC", 1704085200000, "entry")  # same decision, same id
    assert a == make_client_order_id(h, "BTC", 1704085200000, "entry")  # the port's function
    others = {
        client_order_id("cd" * 32, "BTC", 1704085200000, "entry"),
        client_order_id(h, "ETH", 1704085200000, "entry"),
        client_order_id(h, "BTC", 1704088800000, "entry"),
        client_order_id(h, "BTC", 1704085200000, "exit"),
    }
    assert a not in others and len(others) == 4
    with pytest.raises(ConfigError, match="action"):
        client_order_id(h, "BTC", 0, "yolo")
    assert not is_cloid("0x" + "A" * 32) and not is_cloid("12")
