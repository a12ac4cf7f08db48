"""The README's "Real data" commands, run against the local Hyperliquid exchange on
127.0.0.1 (``quantlab exchange-sim``; it serves ``candleSnapshot`` and ``fundingHistory``
like the venue): fetch, record, list, check, load and query the store."""

from __future__ import annotations

import pandas as pd
import pytest

import quantlab as ql
from quantlab.cli import main


@pytest.fixture
def local_venue():
    """The local exchange with three days of history up to the current hour."""
    from quantlab.execution.sim import serve

    now = pd.Timestamp.now(tz="UTC").floor("h")
    handle = serve(port=0, seed=7, start=now - pd.Timedelta(days=3), rate_limit=False)
    handle.advance(3 * 86_400)
    try:
        yield handle
    finally:
        handle.stop()


def test_the_readme_real_data_commands(local_venue, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = ["--url", local_venue.url, "--quiet"]
    fetch = ["data", "fetch", "--source", "hyperliquid", "--symbols", "BTC,ETH", "--days", "2"]
    assert main([*fetch, "--interval", "1h", *url]) == 0
    out = capsys.readouterr().out
    assert "BTC:" in out and "stored under data/hyperliquid/BTC/1h" in out
    first = ql.data.load("store", symbol="BTC", interval="1h")
    assert 40 <= len(first) <= 48 and "funding_rate" in first.columns

    assert main(["data", "record", "--symbols", "BTC,ETH", "--interval", "1h", *url]) == 0
    assert "new bars" in capsys.readouterr().out

    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "BTC" in listing and "ETH" in listing

    assert main(["data", "check", "store", "--symbol", "ETH"]) == 0
    assert "interval 1h" in capsys.readouterr().out

    df = ql.data.load("store", symbol="BTC", interval="1h")
    assert df.attrs == {"source": "store", "symbol": "BTC", "interval": "1h"}
    counts = ql.data.store.Store().query("SELECT symbol, count(*) AS n FROM bars GROUP BY 1")
    assert dict(zip(counts["symbol"], counts["n"], strict=True))["BTC"] == len(df)


def test_an_unknown_coin_on_the_local_venue_is_one_line(local_venue, tmp_path, capsys):
    argv = ["data", "fetch", "--symbols", "NOPE", "--days", "1", "--url", local_venue.url]
    assert main([*argv, "--root", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NOPE" in err[0]


@pytest.mark.notebook
def test_a_notebook_runs_with_source_hyperliquid(local_venue, tmp_path, monkeypatch):
    """`quantlab report notebooks/01_data_quality.ipynb -p source hyperliquid` (local venue)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    options = f"{{hyperliquid: {{base_url: '{local_venue.url}', page_sleep: 0}}}}"
    argv = ["report", str(root / "notebooks" / "01_data_quality.ipynb"), "--run-id", "hl"]
    assert main([*argv, "-p", "source", "hyperliquid", "-p", "options", options]) == 0
    (run,) = ql.reports.list_runs("reports")
    (card,) = run["notebooks"][0]["data"]
    assert (card["source"], card["symbol"], card["interval"]) == ("hyperliquid", "BTC", "1h")
    assert card["rows"] > 24 and "funding_rate" in card["columns"]
