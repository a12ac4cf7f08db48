"""Launch a runner as its own process and watch it through its journal: the notebook handle.

The trading loop never runs inside a Jupyter kernel: :func:`launch` starts
``python -m quantlab.cli live run ...`` in a new session (an interrupted kernel does not
kill it) and returns a :class:`RunnerHandle`, which only *reads* the run folder (the
journal, the log) and *writes* requests into it (kill, clear, stop)::

    runner = ql.live.launch("reports/.../validation.json", symbol="BTC", interval="1h")
    runner.status()          # JSON-able dict: alive, phase, heartbeat age, position, kill...
    runner.positions(); runner.orders(); runner.fills(); runner.equity(); runner.logs()
    runner.kill("close_only")   # or "halt_all"; sticky until runner.clear_kill()
    runner.stop()               # SIGTERM-clean stop

Run folder (``data/live/<symbol>-<interval>-<mode>-<hash8>/`` unless given):
``journal.sqlite``, ``runner.log`` (JSON lines), ``runner.pid``, ``stdout.log``,
``strategy.yaml`` (when launched from an object) and ``KILL`` (create it to trip the
kill switch from a shell; its text is the mode).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab._process import pid_alive
from quantlab.errors import ConfigError, ExecutionError
from quantlab.live.journal import Journal, now_ms
from quantlab.live.logs import read_logs

__all__ = ["RunnerHandle", "launch", "read_status", "run_paths"]

JOURNAL = "journal.sqlite"
LOG = "runner.log"
PID = "runner.pid"
KILL = "KILL"


def run_paths(run_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Return the files of a run folder."""
    d = Path(run_dir)
    return {
        "run_dir": d,
        "journal": d / JOURNAL,
        "log": d / LOG,
        "pid": d / PID,
        "kill": d / KILL,
        "stdout": d / "stdout.log",
    }


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return a runner's status as a JSON-able dict (from its journal and pid file).

    Keys: ``run_dir``, ``alive``, ``pid``, ``phase``, ``heartbeat_age_s``, ``reconciled``,
    ``symbol``, ``interval``, ``mode``, ``strategy_hash``, ``bars``, ``last_bar``,
    ``position`` (exchange-confirmed), ``engine_position``, ``equity``, ``kill``,
    ``open_orders``, ``fills``, ``intents`` (count by status), ``stopped``, ``last_error``.
    """
    p = run_paths(run_dir)
    pid = _read_pid(p["pid"])
    out: dict[str, Any] = {"run_dir": str(p["run_dir"]), "pid": pid, "alive": pid_alive(pid)}
    if not p["journal"].is_file():
        out["phase"] = "not started"
        return out
    with Journal(p["journal"], readonly=True) as j:
        meta = j.meta()
        beat = json.loads(meta.get("heartbeat", "{}") or "{}")
        intents = j.frame("intents")
        positions = j.positions()
        errors = j.events(limit=200)
    out.update(
        {
            "phase": beat.get("phase", "starting") if out["alive"] else "stopped",
            "heartbeat_age_s": None
            if "time_ms" not in beat
            else round((now_ms() - beat["time_ms"]) / 1000.0, 3),
            "reconciled": beat.get("reconciled"),
            "symbol": meta.get("symbol"),
            "interval": meta.get("interval"),
            "mode": meta.get("mode"),
            "strategy_hash": meta.get("strategy_hash"),
            "bars": beat.get("bars"),
            "last_bar": beat.get("last_bar"),
            "position": {k: v["size"] for k, v in positions.items()},
            "engine_position": beat.get("position"),
            "equity": beat.get("equity"),
            "kill": None
            if not meta.get("kill_mode")
            else {"mode": meta["kill_mode"], "reason": meta.get("kill_reason", "")},
            "intents": intents["status"].value_counts().to_dict() if len(intents) else {},
            "stopped": json.loads(meta["stopped"]) if meta.get("stopped") else None,
        }
    )
    bad = [e for e in errors if e["level"] in ("warning", "error", "critical")]
    out["last_error"] = bad[-1]["message"] if bad else None
    return out


class RunnerHandle:
    """Watch and steer a runner process through its run folder.

    Parameters
    ----------
    run_dir : path
        The runner's folder (see the module docstring).
    process : subprocess.Popen, optional
        The process, when this handle launched it.
    """

    def __init__(
        self, run_dir: str | os.PathLike[str], process: subprocess.Popen | None = None
    ) -> None:
        self.paths = run_paths(run_dir)
        self.run_dir = self.paths["run_dir"]
        self.process = process

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"<RunnerHandle {s.get('symbol')} {s.get('interval')} {s.get('mode')} "
            f"{s.get('phase')} alive={s.get('alive')} run_dir={str(self.run_dir)!r}>"
        )

    # ---------------------------------------------------------------- reading
    def _journal(self) -> Journal:
        return Journal(self.paths["journal"], readonly=True)

    @property
    def pid(self) -> int | None:
        """Return the runner's process id (None before it wrote it)."""
        return _read_pid(self.paths["pid"])

    def is_alive(self) -> bool:
        """Return True while the runner process runs."""
        if self.process is not None:
            return self.process.poll() is None
        return pid_alive(self.pid)

    def status(self) -> dict[str, Any]:
        """Return the status dict of :func:`read_status`."""
        return read_status(self.run_dir)

    def positions(self) -> pd.DataFrame:
        """Return the exchange-confirmed positions (symbol, size, entry_px, updated_ms)."""
        with self._journal() as j:
            return j.frame("positions")

    def orders(self) -> pd.DataFrame:
        """Return every order the runner knows, with its intent's action and reason."""
        with self._journal() as j:
            orders = j.frame("orders")
            intents = j.frame("intents")[["client_order_id", "action", "reason", "bar_ms"]]
        return orders.merge(intents, on="client_order_id", how="left")

    def intents(self) -> pd.DataFrame:
        """Return every intent (journaled before sending), with its status."""
        with self._journal() as j:
            return j.frame("intents")

    def fills(self) -> pd.DataFrame:
        """Return the fills (de-duplicated by exchange fill id), oldest first."""
        with self._journal() as j:
            df = j.frame("fills")
        if len(df):
            df["time"] = pd.to_datetime(df["time_ms"], unit="ms", utc=True)
            df = df.sort_values(["time_ms", "tid"]).reset_index(drop=True)
        return df

    def equity(self) -> pd.Series:
        """Return the equity at each bar close (UTC ``time`` index)."""
        with self._journal() as j:
            df = j.frame("equity")
        index = pd.DatetimeIndex(pd.to_datetime(df["time_ms"], unit="ms", utc=True), name="time")
        return pd.Series(df["equity"].to_numpy(), index=index, name="equity")

    def bars(self) -> pd.DataFrame:
        """Return the bars the runner decided on."""
        with self._journal() as j:
            return j.bars()

    def events(self, kind: str | None = None, limit: int | None = 200) -> pd.DataFrame:
        """Return the journal's events (the last ``limit``)."""
        with self._journal() as j:
            return pd.DataFrame(j.events(kind, limit))

    def logs(self, tail: int = 50) -> pd.DataFrame:
        """Return the last ``tail`` structured log lines."""
        return pd.DataFrame(read_logs(self.paths["log"], tail))

    # ---------------------------------------------------------------- steering
    def _request(self, command: str, arg: str | None = None) -> None:
        if not self.paths["journal"].is_file():
            raise ConfigError(
                f"runner {str(self.run_dir)!r}: no journal there ({JOURNAL}); is it a run folder?"
            )
        with Journal(self.paths["journal"]) as j:
            j.request(command, arg)

    def kill(self, mode: str = "close_only") -> None:
        """Trip the kill switch: ``close_only`` (close the position, no entries) or
        ``halt_all`` (send nothing). Sticky until :meth:`clear_kill`."""
        from quantlab.live.runner import KILL_MODES

        if mode not in KILL_MODES:
            raise ConfigError(f"kill: mode {mode!r} is not one of {KILL_MODES}")
        self._request("kill", mode)

    def clear_kill(self) -> None:
        """Clear the kill switch (the only way to)."""
        self._request("clear_kill")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the runner cleanly (a stop request, then SIGTERM); return True once it exited."""
        if self.paths["journal"].is_file():
            self._request("stop")
        if self.wait(min(timeout, 5.0)):
            return True
        pid = self.pid
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the process exits (``timeout`` seconds at most); return whether it did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def wait_for(self, bars: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the runner has decided on ``bars`` bars; return its status."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.status()
            if (s.get("bars") or 0) >= bars or not s.get("alive"):
                return s
            if time.monotonic() >= deadline:
                raise ExecutionError(
                    f"runner {self.run_dir}: {s.get('bars')} bars after {timeout} s (wanted {bars})"
                )
            time.sleep(0.1)


def _strategy_arg(strategy: Any, run_dir: Path) -> str:
    """Return a strategy path for the command line (objects and mappings are written out)."""
    if isinstance(strategy, str | os.PathLike) and Path(strategy).is_file():
        return str(Path(strategy).resolve())
    import yaml

    from quantlab.backtest.verdict import strategy_config

    path = run_dir / "strategy.yaml"
    path.write_text(yaml.safe_dump(strategy_config(strategy), sort_keys=True), encoding="utf-8")
    return str(path)


def default_run_dir(strategy: Any, symbol: str, interval: str, mode: str) -> Path:
    """Return ``data/live/<symbol>-<interval>-<mode>-<hash8>``."""
    from quantlab.live.strategy_source import load_runner_strategy

    s, _ = load_runner_strategy(strategy)
    from quantlab.backtest.verdict import strategy_hash

    return Path("data") / "live" / f"{symbol}-{interval}-{mode}-{strategy_hash(s)[:8]}"


def launch(
    strategy: Any,
    symbol: str = "BTC",
    interval: str = "1h",
    mode: str = "paper",
    *,
    run_dir: str | os.PathLike[str] | None = None,
    exchange_url: str | None = None,
    feed: str | None = None,
    data: str | None = None,
    seed: int | None = None,
    speed: float | None = None,
    costs: Any = None,
    init_cash: float | None = None,
    key_file: str | None = None,
    confirm_mainnet: bool = False,
    options: Mapping[str, Any] | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait: float = 60.0,
) -> RunnerHandle:
    """Start a runner in its own process and return its handle.

    Parameters
    ----------
    strategy : path, StrategyBase, mapping or registered name
        A ``validation.json`` (its strategy, hash and costs are used), a strategy YAML, or
        a strategy object / mapping (written to ``strategy.yaml`` in the run folder).
    symbol, interval, mode : str
        ``mode``: ``paper`` (default), ``sim``, ``testnet`` or ``mainnet``.
    run_dir : path, optional
        The run folder (default ``data/live/<symbol>-<interval>-<mode>-<hash8>``).
    exchange_url : str, optional
        The venue (``sim``: the local exchange's URL).
    feed : {"synthetic", "file", "candles"}, optional
        Where bars come from (default: synthetic for paper, candles otherwise).
    data, seed, speed : optional
        The bar file (``feed="file"``), the synthetic seed, the replay speed (times real
        time; None: as fast as possible).
    costs, init_cash : optional
        Cost model (number, mapping or ``"hyperliquid"``) and starting equity.
    key_file, confirm_mainnet : optional
        See ``quantlab live run --help``; the key itself is never passed as an argument.
    options : mapping, optional
        More :class:`~quantlab.live.runner.RunnerConfig` fields (``orphan_action``, ...).
    extra_args : sequence of str
        Appended to the command line.
    env : mapping, optional
        Environment of the process (default: this one's).
    wait : float
        Seconds to wait for the first heartbeat (0: do not wait).

    Raises
    ------
    ExecutionError
        The process exited (or wrote no heartbeat) within ``wait`` seconds; the message
        holds the last lines of its output.
    """
    directory = Path(run_dir) if run_dir else default_run_dir(strategy, symbol, interval, mode)
    directory.mkdir(parents=True, exist_ok=True)
    paths = run_paths(directory)
    cmd = [
        sys.executable, "-m", "quantlab.cli", "live", "run",
        "--strategy", _strategy_arg(strategy, directory),
        "--symbol", symbol, "--interval", interval, "--mode", mode,
        "--run-dir", str(directory),
    ]  # fmt: skip
    for flag, value in (
        ("--exchange-url", exchange_url),
        ("--feed", feed),
        ("--data", data),
        ("--seed", seed),
        ("--speed", speed),
        ("--init-cash", init_cash),
        ("--key-file", key_file),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    if costs is not None:
        cmd += ["--costs", costs if isinstance(costs, str) else json.dumps(costs)]
    if options:
        cmd += ["--options", json.dumps(dict(options))]
    if confirm_mainnet:
        cmd.append("--confirm-mainnet")
    cmd += list(extra_args)
    out = open(paths["stdout"], "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    finally:
        out.close()
    handle = RunnerHandle(directory, proc)
    if wait:
        _wait_started(handle, proc, wait)
    return handle


def _wait_started(handle: RunnerHandle, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    journal = handle.paths["journal"]
    while time.monotonic() < deadline:
        if journal.is_file():
            try:
                with Journal(journal, readonly=True) as j:
                    if j.get_meta("heartbeat"):
                        return
            except Exception:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None and not journal.is_file():
        raise ExecutionError(f"runner {handle.run_dir}: no heartbeat after {timeout} s")
    if proc.poll() is not None:
        tail = handle.paths["stdout"].read_text(errors="replace").strip().splitlines()[-5:]
        raise ExecutionError(
            f"runner {handle.run_dir} exited with status {proc.returncode}: " + " | ".join(tail)
        )
