"""Fixtures of the dashboard tests: a live ``quantlab dashboard`` server and a sample run."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 120.0

RUN_ID = "20240501-120000-test"
RUN_PARAMETERS = {"symbol": "ETH", "interval": "1h", "seed": 11}
REPORT_HTML = "01_data_quality.html"


def write_sample_run(root: Path) -> Path:
    """Write one report run (metadata + an HTML report) under ``root`` as the runner does."""
    run_dir = root / "2024-05-01" / RUN_ID
    run_dir.mkdir(parents=True)
    (run_dir / REPORT_HTML).write_text(
        "<html><body><h1>Data quality report</h1></body></html>", encoding="utf-8"
    )
    meta = {
        "run_id": RUN_ID,
        "run_dir": str(run_dir),
        "started_at": "2024-05-01T12:00:00+00:00",
        "git_commit": "0123456789abcdef",
        "git_dirty": False,
        "parameters": RUN_PARAMETERS,
        "status": "failed",
        "duration_s": 3.5,
        "notebooks": [
            {
                "notebook": "notebooks/01_data_quality.ipynb",
                "status": "ok",
                "parameters": RUN_PARAMETERS,
                "duration_s": 2.0,
                "output_ipynb": "01_data_quality.ipynb",
                "output_html": REPORT_HTML,
                "data": [],
                "error": None,
            },
            {
                "notebook": "notebooks/02_factor_research.ipynb",
                "status": "failed",
                "parameters": RUN_PARAMETERS,
                "duration_s": 1.5,
                "output_ipynb": None,
                "output_html": None,
                "data": [],
                "error": "ConfigError: bad parameter",
            },
        ],
    }
    (run_dir / "run_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return run_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"quantlab dashboard exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    raise RuntimeError(f"quantlab dashboard did not answer at {url} within the timeout")


@contextlib.contextmanager
def serve_dashboard(cwd: Path, env: dict[str, str] | None = None) -> Iterator[dict]:
    """Run ``quantlab dashboard`` on a free port in ``cwd`` (a subprocess) until exit.

    Yields ``url``, ``cwd``, ``log`` (the server's output file) and ``port``.
    """
    port = _free_port()
    log = cwd / "server.log"
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantlab.cli", "dashboard", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield {"url": url, "cwd": cwd, "log": log, "port": port}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Start ``quantlab dashboard`` on a free port in a subprocess; stop it afterwards.

    The server runs in a temporary folder holding ``reports/`` with one sample run, so
    the Reports page has something to list and link to. Yields ``url``, ``cwd`` and
    ``log`` (the server's output file).
    """
    cwd = tmp_path_factory.mktemp("dashboard")
    write_sample_run(cwd / "reports")
    with serve_dashboard(cwd) as server:
        yield server
