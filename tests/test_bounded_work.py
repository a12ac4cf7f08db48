"""Bounded work: a venue that never answers fails fast and clearly; report runs stay inside
``reports/`` and are listed even when killed; ``record`` fails when it recorded nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import nbformat
import pytest

from quantlab.cli import main
from quantlab.data.fetch import fetch, record
from quantlab.data.hyperliquid import HyperliquidSource
from quantlab.errors import ConfigError, SourceError
from quantlab.reports import list_runs, run_reports, write_index


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections, reads, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.held.append(conn)  # keep it open, say nothing

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def test_a_venue_that_never_answers_fails_once_within_the_retry_budget(tmp_path):
    waits: list[float] = []
    with SilentServer() as server:
        src = HyperliquidSource(
            base_url=server.url, timeout=0.3, max_retries=1, backoff=0.01, sleep=waits.append
        )
        with pytest.raises(SourceError) as info:
            fetch("hyperliquid", "BTC,ETH,SOL", "1h", days=1, store=tmp_path, source_obj=src)
        accepted = server.accepted
    message = str(info.value)
    assert "no answer within the 0.3 s timeout" in message
    assert "3 of 3 symbol(s) failed" in message and "not attempted" in message
    assert accepted == 2  # one request and its one retry, not once per symbol
    assert waits == [0.01]


def test_the_cli_takes_timeout_and_retries(tmp_path, capsys, monkeypatch):
    seen = {}

    def fake_fetch(*args, **kwargs):
        seen.update(kwargs)
        raise SourceError("hyperliquid: meta (perp universe): no answer within the 2 s timeout")

    monkeypatch.setattr("quantlab.data.fetch.fetch", fake_fetch)
    argv = ["data", "fetch", "--symbols", "BTC", "--days", "1", "--timeout", "2", "--retries", "0"]
    assert main([*argv, "--root", str(tmp_path)]) == 1
    assert seen["timeout"] == 2.0 and seen["retries"] == 0
    assert "timeout" in capsys.readouterr().err


class FailingSource:
    def bars(self, symbol, interval, start, end):
        raise SourceError(f"hyperliquid: {symbol}: HTTP 500")


@pytest.mark.parametrize("loop_every", [None, 0.0])
def test_record_fails_when_every_round_failed(tmp_path, loop_every):
    with pytest.raises(SourceError, match="HTTP 500"):
        record(
            "hyperliquid",
            "BTC,ETH",
            "1h",
            store=tmp_path,
            source_obj=FailingSource(),
            loop_every=loop_every,
            iterations=3,
            sleep=lambda s: None,
        )


def test_record_loop_with_one_good_round_succeeds(tmp_path):
    from quantlab.data.synthetic import synthetic_bars

    calls = []

    class Flaky:
        def bars(self, symbol, interval, start, end):
            calls.append(symbol)
            if len(calls) > 1:
                raise SourceError("HTTP 500")
            return synthetic_bars(symbol, interval, n_bars=5)

    written = record(
        "hyperliquid", "BTC", "1h", store=tmp_path, source_obj=Flaky(), loop_every=0.0,
        iterations=3, sleep=lambda s: None,
    )  # fmt: skip
    assert written == {"BTC": 5}


@pytest.mark.parametrize("run_id", ["../../x", "/tmp/x", "a/b", ".hidden", "", "x" * 101, "a b"])
def test_run_ids_are_plain_names(tmp_path, run_id):
    nb = _notebook(tmp_path / "nb.ipynb", "x = 1")
    with pytest.raises(ConfigError, match="plain name"):
        run_reports([nb], output_root=tmp_path / "reports", run_id=run_id)
    assert not (tmp_path / "x").exists()


def _notebook(path, code: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seconds = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
def test_a_killed_report_run_is_listed_as_killed(tmp_path):
    nb = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(seconds)")
    reports = tmp_path / "reports"
    script = textwrap.dedent(
        f"""
        from quantlab.reports import run_reports
        run_reports([{str(nb)!r}], {{"seconds": 120}}, output_root={str(reports)!r},
                    run_id="doomed")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        for _ in range(600):  # the metadata appears before the notebook starts
            runs = list_runs(reports)
            if runs:
                break
            time.sleep(0.1)
        assert runs and runs[0]["status"] == "running", runs
        assert "doomed" in (reports / "index.html").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (run,) = list_runs(reports)
    assert run["run_id"] == "doomed" and run["status"] == "killed"
    assert "stopped before it finished" in run["error"]
    page = write_index(reports).read_text()
    assert "killed" in page and "doomed" in page
    meta = json.loads((reports / run["path"] / "run_metadata.json").read_text())
    assert meta["status"] == "running"  # the file says running; its process is gone


def test_a_failed_run_is_listed_as_failed(tmp_path):
    nb = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    run = run_reports([nb], output_root=tmp_path / "reports", raise_on_failure=False)
    assert run.status == "failed"
    (listed,) = list_runs(tmp_path / "reports")
    assert listed["status"] == "failed"
    assert "broken on purpose" in listed["notebooks"][0]["error"]
