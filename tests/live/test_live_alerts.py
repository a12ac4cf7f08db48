"""Alerts reach Discord- and Telegram-shaped webhooks on a local receiver, rate-limited."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from quantlab.live.alerts import Alerter, Destination, destinations_from_env


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST (path, JSON body)."""

    def __init__(self, status: int = 204) -> None:
        got = self.got = []
        code = status

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append((self.path, json.loads(self.rfile.read(n))))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_destinations_from_env_need_url_and_chat():
    env = {
        "QUANTLAB_DISCORD_WEBHOOK": "http://127.0.0.1:1/d",
        "QUANTLAB_TELEGRAM_WEBHOOK": "http://127.0.0.1:1/botTOKEN/sendMessage",
    }
    assert [d.name for d in destinations_from_env(env)] == ["discord"]
    env["QUANTLAB_TELEGRAM_CHAT_ID"] = "42"
    dests = destinations_from_env(env)
    assert [d.name for d in dests] == ["discord", "telegram"]
    assert "TOKEN" not in repr(dests)  # the URL (and its token) is never shown
    assert destinations_from_env({}) == []


def test_alerts_are_posted_in_each_webhook_shape(receiver):
    dests = [
        Destination("discord", receiver.url + "/discord"),
        Destination("telegram", receiver.url + "/botT/sendMessage", chat_id="42"),
    ]
    a = Alerter(dests, prefix="[paper BTC]")
    assert a.alert("fill", "buy 0.1 @ 100")
    a.flush()
    a.close()
    assert sorted(receiver.got) == [
        ("/botT/sendMessage", {"chat_id": "42", "text": "[paper BTC] fill: buy 0.1 @ 100"}),
        ("/discord", {"content": "[paper BTC] fill: buy 0.1 @ 100"}),
    ]
    assert a.sent == 2 and a.failed == 0


def test_rate_limits_hold_back_and_report(receiver):
    clock = Clock()
    a = Alerter([Destination("discord", receiver.url)], min_interval_s=10, burst=3, clock=clock)
    assert a.alert("fill", "one")
    assert not a.alert("fill", "two")  # same kind within 10 s
    assert a.alert("stop", "three")  # another kind
    assert a.alert("kill", "four")
    assert not a.alert("error", "five")  # the burst of 3 per minute is spent
    assert a.suppressed == 1  # "two" was reported with "three"
    clock.t = 30.0  # 1.5 tokens back, and the fill kind may speak again
    assert a.alert("fill", "six")
    a.flush()
    a.close()
    texts = [body["content"] for _, body in receiver.got]
    assert len(texts) == 4
    assert texts[1].endswith("three (+1 alerts held back by the rate limit)")
    assert texts[-1].endswith("six (+1 alerts held back by the rate limit)")


def test_a_dead_webhook_never_raises():
    a = Alerter([Destination("discord", "http://127.0.0.1:9/none")], timeout_s=0.5)
    assert a.alert("error", "boom")
    a.flush()
    a.close()
    assert a.failed == 1 and a.sent == 0


def test_no_destination_sends_nothing():
    a = Alerter([])
    assert not a.enabled
    assert not a.alert("fill", "x")


def test_a_runner_alerts_fills_and_kills(receiver, tmp_path):
    from _live_helpers import COSTS, bars_with_funding

    import quantlab as ql
    from quantlab.execution.paper import PaperBackend
    from quantlab.live.feed import FrameFeed
    from quantlab.live.journal import Journal
    from quantlab.live.logs import get_logger, read_logs
    from quantlab.live.runner import Runner, RunnerConfig

    url = receiver.url + "/hook-with-secret-token"
    alerter = Alerter([Destination("discord", url)], prefix="[test]", min_interval_s=0)
    cfg = RunnerConfig(costs=COSTS, poll_s=0, reconcile_every_s=1e9, dead_man_s=0)
    runner = Runner(
        ql.backtest.ema_trend(fast=3, slow=8, gate=10, direction="both"), cfg,
        PaperBackend(COSTS, init_cash=cfg.init_cash, bar_seconds=3600.0),
        FrameFeed(bars_with_funding(120), "BTC", "1h"), Journal(tmp_path / "j.sqlite"),
        alerter=alerter, logger=get_logger(tmp_path / "runner.log"),
    )  # fmt: skip
    runner.start()
    while not runner.feed.exhausted:
        runner.tick()
    runner.trip_kill("halt_all", "test")
    runner.shutdown()  # flushes the alerts
    texts = [body["content"] for _, body in receiver.got]
    assert any(t.startswith("[test] fill: BTC paper: buy") for t in texts)
    assert any("kill switch halt_all (test)" in t for t in texts)
    assert any("runner: BTC paper: stopped" in t for t in texts)
    log_text = (tmp_path / "runner.log").read_text()
    assert "secret-token" not in log_text  # the webhook URL is never logged
    assert {"fill", "kill", "stop"} <= {r["event"] for r in read_logs(tmp_path / "runner.log")}
