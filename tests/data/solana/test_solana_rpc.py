"""Fetch and watch against local fakes of a Solana node (127.0.0.1 only, recorded answers)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from solana_fakes import FakeLogsSocket, FakeRPC

from quantlab.cli import main
from quantlab.data.solana import SwapStore
from quantlab.data.solana.rpc import fetch_swaps, read_wallets
from quantlab.data.solana.watch import watch
from quantlab.errors import ConfigError, SourceError

D7 = "D7XYERWodEGaoN2X855T2qLvse28BSjfkvfCyW2EDBWy"
G8 = "G8PrkEwmVx3kt3rXBin5o1bdDC1cvz7oBnXbHksNg7R4"
NOW = 1_700_000_000.0  # 2023-11-14: the fixtures are 2021 transactions
DIR = "solana_txs_orca_serum"


def _tx(fixtures_dir, name):
    return json.loads((fixtures_dir / DIR / name).read_text())


@pytest.fixture
def rpc(fixtures_dir):
    fake = FakeRPC()
    for name in (
        "trx-swap-serum-1.json",
        "trx-swap-serum-3.json",
        "trx-swap-orca-transitive-ok.json",
    ):
        fake.add(_tx(fixtures_dir, name), [D7])
    for name in ("trx-swap-serum-4.json", "trx-swap-orca-error.json"):
        fake.add(_tx(fixtures_dir, name), [G8])
    yield fake
    fake.close()


@pytest.fixture
def wallets_file(tmp_path):
    path = tmp_path / "wallets.txt"
    path.write_text(f"# smart money\n{D7}\n\n{G8}  # a serum trader\n{D7}\n")
    return path


def test_read_wallets(wallets_file, tmp_path):
    assert read_wallets(wallets_file) == [D7, G8]
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{D7}\nnot-a-key\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_wallets(bad)


def test_fetch_pages_retries_and_stores_once(rpc, tmp_path):
    rpc.fail_next = 2  # two HTTP 429s first: retried with back-off
    opts = dict(endpoint=rpc.url, root=tmp_path, now=NOW, page_size=2, backoff=0.01)
    report = fetch_swaps([D7, G8], days=3650, **opts)
    assert (report.signatures, report.transactions, len(report.swaps)) == (5, 4, 4)
    assert report.written == 4
    pages = [p for m, p in rpc.requests if m == "getSignaturesForAddress" and p[0] == D7]
    assert len(pages) >= 2 and any(p[1].get("before") for p in pages)  # paged
    gets = [p for m, p in rpc.requests if m == "getTransaction"]
    for p in gets:
        assert p[1]["encoding"] == "jsonParsed" and p[1]["maxSupportedTransactionVersion"] == 0
    failed = _failed_sig(rpc)
    assert failed not in [p[0] for p in gets]  # a failed tx is never fetched
    again = fetch_swaps([D7, G8], days=3650, **opts)
    assert again.written == 0 and len(SwapStore(tmp_path).read()) == 4
    # the look-back bounds the paging: nothing of 2021 within 30 days of NOW
    assert fetch_swaps([D7], days=30, **opts).signatures == 0


def _failed_sig(rpc):
    return next(s for s, tx in rpc.txs.items() if tx["meta"]["err"] is not None)


def test_fetch_gives_up_with_a_clear_error(rpc, tmp_path):
    rpc.fail_next = 100
    with pytest.raises(SourceError, match=r"getSignaturesForAddress\(D7XY.*3 attempt"):
        fetch_swaps([D7], days=3650, endpoint=rpc.url, root=tmp_path, now=NOW,
                    max_retries=2, backoff=0.0)  # fmt: skip


def test_cli_fetch(rpc, wallets_file, tmp_path, capsys):
    code = main(
        ["solana", "fetch", "--wallets", str(wallets_file), "--days", "5000",
         "--endpoint", rpc.url, "--root", str(tmp_path), "--rate-limit", "50"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "4 swaps" in out and "4 new" in out
    assert main(["solana", "fetch", "--wallets", str(tmp_path / "nope.txt"), "--days", "1"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_watch_reconnects_and_backfills_what_it_missed(fixtures_dir, tmp_path):
    rpc, ws = FakeRPC(), FakeLogsSocket()
    ws.n_wallets = 2
    try:
        sig1 = rpc.add(_tx(fixtures_dir, "trx-swap-serum-1.json"), [D7])  # before: backfill
        seen: list = []
        result: dict = {}

        def run():
            try:
                result["report"] = watch(
                    [D7, G8], ws_endpoint=ws.url, endpoint=rpc.url, root=tmp_path,
                    backfill_days=3650, now=NOW, max_swaps=4, reconnect_delay=0.05,
                    max_reconnects=3, on_swap=seen.append, backoff=0.01,
                )  # fmt: skip
            except Exception as exc:  # pragma: no cover - reported below
                result["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert ws.subscribed.wait(20), "no logsSubscribe per wallet"
        assert sorted(ws.subscriptions.values()) == sorted([D7, G8])
        _wait(lambda: len(seen) == 1)
        assert seen[0].signature == sig1
        # live: a notification of a new swap, and one of a failed transaction
        sig3 = rpc.add(_tx(fixtures_dir, "trx-swap-serum-3.json"), [D7])
        bad = rpc.add(_tx(fixtures_dir, "trx-swap-orca-error.json"), [G8])
        ws.notify(G8, bad, err={"InstructionError": [3, {"Custom": 16}]})
        ws.notify(D7, sig3)
        _wait(lambda: len(seen) == 2)
        # the connection drops; swaps land meanwhile; the reconnect backfills them
        sig4 = rpc.add(_tx(fixtures_dir, "trx-swap-orca-transitive-ok.json"), [D7])
        sig5 = rpc.add(_tx(fixtures_dir, "trx-swap-serum-4.json"), [G8])
        ws.drop()
        thread.join(30)
        assert "error" not in result, result.get("error")
        report = result["report"]
        assert [s.signature for s in seen] == [sig1, sig3, sig4, sig5]
        assert report.connects == 2 and report.notifications == 1
        assert len(SwapStore(tmp_path).read()) == 4
        gets = [p[0] for m, p in rpc.requests if m == "getTransaction"]
        assert bad not in gets and gets.count(sig3) == 1  # the backfill stops at sig3
    finally:
        ws.close()
        rpc.close()


def _wait(cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_cli_watch_backfills_then_stops_at_max_swaps(fixtures_dir, rpc, wallets_file, tmp_path,
                                                     capsys):  # fmt: skip
    ws = FakeLogsSocket()
    try:
        code = main(
            ["solana", "watch", "--wallets", str(wallets_file), "--ws-endpoint", ws.url,
             "--endpoint", rpc.url, "--root", str(tmp_path), "--backfill-days", "5000",
             "--max-swaps", "4", "--max-reconnects", "1", "--rate-limit", "50"]
        )  # fmt: skip
    finally:
        ws.close()
    out = capsys.readouterr().out
    assert code == 0 and "watching 2 wallet(s)" in out and "4 swaps (4 new)" in out
    assert sorted(ws.subscriptions.values()) == sorted([D7, G8])
    assert len(SwapStore(tmp_path).read()) == 4
    bad = main(["solana", "watch", "--wallets", str(wallets_file), "--ws-endpoint", "http://x"])
    assert bad == 1 and "ws(s) URL" in capsys.readouterr().err
