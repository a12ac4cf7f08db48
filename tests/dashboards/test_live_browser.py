"""The Live page in Chromium, with a sim runner trading the local exchange behind it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import quantlab as ql
from quantlab.backtest.verdict import make_verdict, write_verdict
from tests.dashboards.conftest import serve_dashboard
from tests.dashboards.test_browser import Page, browser  # noqa: F401 - the fixture

PASSING = {"dsr": 0.99, "pbo": 0.05, "oos_sharpe": 1.5, "oos_trades": 60,
           "stress_total_return": 0.1, "oos_max_drawdown": 0.08}  # fmt: skip
RUN = "BTC-1h-sim-browser"


@pytest.fixture(scope="module")
def live_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A promoted strategy, a sim runner on the local exchange, and the dashboard."""
    cwd = tmp_path_factory.mktemp("live_dashboard")
    strategy = ql.backtest.ma_cross(fast=2, slow=4)
    validation = write_verdict(make_verdict(strategy, PASSING), cwd / "validation.json")
    registry = cwd / "promotions.jsonl"
    ql.lifecycle.promote(validation, to="validated", registry=registry)
    ql.lifecycle.promote(validation, to="paper", registry=registry)
    session = ql.lifecycle.start_sim(
        validation, registry=registry, speed=900.0, history_bars=6, run_dir=cwd / "live" / RUN,
        rate_limit=False,
    )  # fmt: skip
    env = dict(os.environ, QUANTLAB_LIVE_DIR=str(cwd / "live"),
               QUANTLAB_LIFECYCLE_REGISTRY=str(registry))  # fmt: skip
    try:
        with serve_dashboard(cwd, env) as server:
            yield {**server, "session": session}
    finally:
        session.stop()


@pytest.fixture
def ui(browser, live_setup: dict, tmp_path: Path) -> Iterator[Page]:  # noqa: F811
    page = Page(browser, live_setup, tmp_path)
    try:
        yield page
    finally:
        page.context.close()


def test_live_page_watches_and_kills_a_sim_runner(ui: Page, live_setup: dict) -> None:
    ui.open("live")
    ui.page.get_by_text("1 runner(s)").first.wait_for()
    ui.page.get_by_text("lifecycle paper").first.wait_for()
    ui.page.get_by_text("mode sim").first.wait_for()
    equity = ui.chart("live_equity")  # appears once the runner decided on a bar
    assert equity["width"] > 300 and equity["title"] == f"{RUN}: equity"
    assert ui.chart("live_drawdown")["height"] > 0
    ui.screenshot("live")
    assert ui.page.get_by_role("button", name="Promote").count() == 0  # no promotion here

    ui.page.get_by_role("button", name="Kill: close_only").click()
    ui.page.get_by_text("Trip the kill switch close_only").wait_for()
    ui.page.get_by_role("button", name="Confirm").click()
    ui.page.get_by_text("kill close_only requested").wait_for()
    # the runner applies it; the page's refresh shows it from the journal
    ui.page.get_by_text("kill switch close_only").first.wait_for(timeout=60_000)
    assert live_setup["session"].runner.status()["kill"]["mode"] == "close_only"
    ui.screenshot("live_killed")
    ui.assert_no_console_errors()
