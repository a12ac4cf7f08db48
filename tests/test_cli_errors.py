"""Errors that help: every failure from a user's file, parameter or flag is one line that
names the file / value and the rule, with the fix; ``data check`` shows every check."""

from __future__ import annotations

import socket
import subprocess
import sys

import pandas as pd
import pytest

import quantlab as ql
from quantlab.cli import main


def _bars_csv(path, interval="1h", n=48, drop=()):
    df = ql.data.load("synthetic", interval=interval, n_bars=n, seed=2)[list(ql.data.BAR_COLUMNS)]
    if drop:
        df = df.drop(df.index[list(drop)])
    out = df.reset_index()
    out["time"] = out["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out.to_csv(path, index=False)
    return str(path)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _bad_inputs(tmp_path):
    """(argv, words the one error line must contain) for a family of bad user inputs."""
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    good = tmp_path / "good.parquet"
    ql.data.load("synthetic", n_bars=48).to_parquet(good)
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(good.read_bytes()[:200])
    no_close = tmp_path / "no_close.csv"
    no_close.write_text("time,open,high,low,volume\n2024-01-01,1,2,0.5,3\n")
    text_price = tmp_path / "text.csv"
    text_price.write_text("time,open,high,low,close,volume\n2024-01-01,1,2,0.5,abc,3\n")
    csv = _bars_csv(tmp_path / "bars.csv")
    return [
        (["data", "check", str(empty)], ["empty.csv", "empty"]),
        (["data", "check", str(truncated)], ["cut.parquet", "Parquet"]),
        (["data", "check", str(no_close)], ["no_close.csv", "close"]),
        (["data", "check", str(text_price)], ["text.csv", "row 0 (line 2)", "close", "'abc'"]),
        (["data", "check", csv, "--start", "2024-02-01", "--end", "2024-01-01"], ["not before"]),
        (["data", "check", csv, "--interval", "1x"], ["'1x'"]),
        (["data", "check", "store", "--symbol", "ETH", "--seed", "7"], ["seed", "'synthetic'"]),
        (["data", "check", "nowhere"], ["unknown source 'nowhere'", "synthetic"]),
        (["data", "fetch", "--symbols", "BTC", "--days", "1e9"], ["days", "1e+09"]),
        (["report", "--run-id", "../../x"], ["'../../x'", "plain name"]),
    ]


def test_bad_inputs_are_one_line_naming_the_value(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notebooks").mkdir()
    for argv, words in _bad_inputs(tmp_path):
        assert main(argv) == 1, argv
        line = _one_error_line(capsys)
        assert line.startswith("quantlab: error:"), (argv, line)
        for word in words:
            assert word in line, (argv, word, line)
    assert not list(tmp_path.parent.glob("x")), "a run id escaped the reports folder"


@pytest.mark.parametrize("where", ["before", "after", "end"])
def test_debug_is_accepted_anywhere_on_the_line(tmp_path, where):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    argv = {
        "before": ["--debug", "data", "check", str(empty)],
        "after": ["data", "--debug", "check", str(empty)],
        "end": ["data", "check", str(empty), "--debug"],
    }[where]
    with pytest.raises(ql.DataError, match="empty"):  # --debug: the exception itself
        main(argv)


def test_data_check_prints_every_check_and_fails_on_empty_data(tmp_path, capsys):
    header_only = tmp_path / "header.csv"
    header_only.write_text("time,open,high,low,close,volume\n")
    assert main(["data", "check", str(header_only)]) == 1
    out, err = capsys.readouterr()
    assert "at least one bar" in out and "FAIL" in out
    assert "at least one bar" in err.strip().splitlines()[-1]

    df = ql.data.load("synthetic", n_bars=48, seed=2)[list(ql.data.BAR_COLUMNS)]
    df.iloc[[5, 6], df.columns.get_loc("low")] = -1.0
    df.iloc[9, df.columns.get_loc("high")] = 1.0
    df = df.drop(df.index[[20, 30]])
    bad = tmp_path / "bad.csv"
    df.reset_index().to_csv(bad, index=False)
    assert main(["data", "check", str(bad)]) == 1
    out, err = capsys.readouterr()
    table = ql.data.check(str(bad))
    for check in table["check"]:  # every check is printed, not only the first failure
        assert check in out
    assert "#5 2024-01-01T05:00:00+00:00, #6 2024-01-01T06:00:00+00:00" in out
    for failed in ("price > 0", "high >= low", "no gaps"):
        assert failed in err
    assert "interval 1h" in out


def test_data_check_gap_policy(tmp_path, capsys):
    csv = _bars_csv(tmp_path / "gap.csv", interval="4h", drop=(10,))
    assert main(["data", "check", csv]) == 1
    assert "no gaps" in capsys.readouterr().err
    assert main(["data", "check", csv, "--gaps", "allow"]) == 0
    out = capsys.readouterr().out
    assert "gaps allow" in out and "interval 4h" in out and "1 missing bar(s) of 4h" in out


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_dashboard_port_out_of_range_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as info:
        main(["dashboard", "--port", port])
    assert info.value.code == 2
    line = _one_error_line(capsys)
    assert port in line and "--help" in line


def test_dashboard_port_in_use_is_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 1
    line = _one_error_line(capsys)
    assert f"port {port}" in line and "--port" in line


def test_fresh_process_error_line_has_no_traceback(tmp_path):
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(b"PAR1 not really")
    proc = subprocess.run(
        [sys.executable, "-m", "quantlab.cli", "data", "check", str(bad), "--interval", "1h"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "cut.parquet" in proc.stderr
    assert "ArrowInvalid" in proc.stderr or "Parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_readme_real_data_path_runs_on_a_local_store(tmp_path, capsys, monkeypatch):
    """`quantlab data check store --symbol ETH` after a fetch (bars written locally)."""
    monkeypatch.chdir(tmp_path)
    bars = ql.data.load("synthetic", symbol="ETH", n_bars=72, seed=3)
    ql.data.store.Store("data").write(bars, "hyperliquid", "ETH", "1h")
    assert main(["data", "list"]) == 0
    assert "ETH" in capsys.readouterr().out
    assert main(["data", "check", "store", "--symbol", "ETH"]) == 0
    out = capsys.readouterr().out
    assert "72 bars" in out and "interval 1h" in out
    df = ql.data.load("store", symbol="ETH", interval="1h")
    pd.testing.assert_frame_equal(df, bars, check_freq=False)


def test_data_check_takes_source_options(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bars = ql.data.load("synthetic", symbol="BTC", interval="4h", n_bars=30, seed=4)
    ql.data.store.Store("data").write(bars, "mine", "BTC", "4h")
    assert main(["data", "check", "store", "--symbol", "BTC", "-o", "origin=mine"]) == 0
    assert "30 bars" in capsys.readouterr().out
    assert main(["data", "check", "store", "--symbol", "BTC", "-o", "seed=1"]) == 1
    assert "'seed'" in _one_error_line(capsys)
    with pytest.raises(SystemExit):
        main(["data", "check", "store", "-o", "origin"])
    assert "NAME=VALUE" in capsys.readouterr().err


def test_sweep_reads_a_files_own_interval(tmp_path, capsys):
    csv = _bars_csv(tmp_path / "d1.csv", interval="1d", n=120, drop=(50,))
    grid = ["--grid", "fast=5,10", "slow=20,40"]
    argv = ["sweep", "--strategy", "ma_cross", *grid, "--source", csv, "--quiet"]
    assert main([*argv, "--gaps", "allow"]) == 0
    assert "4 trials" in capsys.readouterr().out
    assert main([*argv, "--gaps", "allow", "--interval", "1h"]) == 1  # daily bars are not 1h
    assert "interval='1d'" in _one_error_line(capsys)
