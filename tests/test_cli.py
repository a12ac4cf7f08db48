"""The console script: --help everywhere, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from quantlab.cli import build_parser, main


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


COMMANDS = list(_subcommands(build_parser()))


def test_expected_commands_exist():
    assert {("report",), ("data", "fetch"), ("data", "record"), ("dashboard",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", [(), *COMMANDS], ids=lambda c: " ".join(c) or "quantlab")
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: quantlab" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["nonsense"], ["data", "fetch"], ["data", "fetch", "--symbols", ","], ["report", "-p", "x"]],
)
def test_bad_arguments_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("quantlab") and "error:" in err[-1]


def test_bad_input_one_line_no_traceback(tmp_path):
    bad = tmp_path / "bars.csv"
    bad.write_text("time,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "quantlab.cli", "data", "check", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no column for ['volume']" in lines[0]


def test_debug_shows_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "quantlab.cli", "--debug", "data", "check", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "DataError" in proc.stderr


def test_data_check_on_a_clean_file(tmp_path, bars, capsys):
    path = tmp_path / "bars.parquet"
    bars.to_parquet(path)
    assert main(["data", "check", str(path), "--interval", "1h"]) == 0
    out = capsys.readouterr().out
    assert "no gaps" in out and "FAIL" not in out


def test_data_check_reports_gaps_and_fails(tmp_path, bars, capsys):
    path = tmp_path / "bars.parquet"
    bars.drop(bars.index[[5, 6]]).to_parquet(path)
    assert main(["data", "check", str(path), "--interval", "1h"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_sweep_command_prints_best_and_writes_table(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "sweep.csv"
    argv = ["sweep", "--strategy", "ma_cross", "--grid", "fast=5,10", "slow=20:40:20",
            "--start", "2024-01-01", "--end", "2024-02-01", "--seed", "3", "--costs", "0.0005",
            "--quiet", "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "4 trials" in printed
    table = pd.read_csv(out)
    assert sorted(zip(table["fast"], table["slow"], strict=True)) == [
        (5, 20), (5, 40), (10, 20), (10, 40)
    ]  # fmt: skip
    assert {"total_return", "sharpe", "max_drawdown", "n_trades"} <= set(table.columns)


def test_sweep_command_bad_grid_is_one_line(capsys):
    assert main(["sweep", "--strategy", "ma_cross", "--grid", "fast"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fast" in err[0]
