"""A notebook launches a runner as its own process, watches it, kills and stops it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.live.handle import launch, read_status


def _wait(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_launch_watch_kill_stop(tmp_path):
    bars = tmp_path / "bars.parquet"
    random_bars(3000, seed=5).to_parquet(bars)
    strategy = ql.backtest.ema_trend(fast=3, slow=8, gate=10, direction="both")
    runner = launch(
        strategy, symbol="BTC", interval="1h", mode="paper", run_dir=tmp_path / "run",
        feed="file", data=str(bars), speed=3600 * 40, costs="hyperliquid",
    )  # fmt: skip
    try:
        assert runner.is_alive()
        assert runner.process.pid != os.getpid()  # a separate process, not this kernel
        status = runner.wait_for(bars=40, timeout=90)
        assert status["alive"] and status["phase"] == "running" and status["mode"] == "paper"
        assert status["strategy_hash"] == ql.backtest.strategy_hash(strategy)
        assert status["heartbeat_age_s"] < 10
        assert len(runner.equity()) >= 40 and len(runner.bars()) >= 40
        assert _wait(lambda: len(runner.fills()) > 0)
        assert {"entry"} <= set(runner.orders()["action"])
        logs = runner.logs(20)
        assert len(logs) and {"time", "level", "event", "message"} <= set(logs.columns)
        # the kill switch from the handle
        runner.kill("close_only")
        assert _wait(lambda: (runner.status()["kill"] or {}).get("mode") == "close_only")
        # ...and cleared from a shell
        cli = [sys.executable, "-m", "quantlab.cli", "live"]
        out = subprocess.run([*cli, "kill", "--clear", "--run-dir", str(runner.run_dir)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        assert json.loads(out.stdout)["kill"] == "clear requested"
        assert _wait(lambda: runner.status()["kill"] is None)
        out = subprocess.run([*cli, "status", "--run-dir", str(runner.run_dir)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        shell = json.loads(out.stdout)
        assert shell["alive"] and shell["symbol"] == "BTC"
    finally:
        stopped = runner.stop(timeout=30)
    assert stopped and not runner.is_alive()
    final = read_status(runner.run_dir)
    assert final["phase"] == "stopped" and not final["alive"]
    assert final["stopped"]["reason"] in ("stop command", "SIGTERM")
    assert runner.process.returncode == 0


def test_launch_reports_a_failing_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QUANTLAB_HL_KEY"}
    with pytest.raises(ql.QuantlabError, match="exited with status 1") as err:
        launch("ma_cross", mode="testnet", run_dir=tmp_path / "run", env=env, wait=60)
    assert "quantlab: error" in str(err.value)  # the process's own one-line reason
