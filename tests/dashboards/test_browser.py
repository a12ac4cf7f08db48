"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

One ``quantlab dashboard`` server serves the module (synthetic BTC, one month of hourly
bars by default). For every page: it loads without console errors, its main Bokeh chart
renders with a non-zero size, changing a widget changes that chart (read from the Bokeh
document in the page), and a screenshot is written under the test's tmp_path. Never
downloads a browser: without Chromium or Playwright the tests skip with the reason.
"""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless=new",
]
TIMEOUT_MS = 60_000

#: Find the rendered Bokeh views whose model has this name (walks the view tree, so
#: only what is on screen counts); returns title and on-screen size of each.
FIND_VIEWS_JS = """
(name) => {
  const out = [];
  const walk = (view) => {
    if (!view) return;
    if (view.model && view.model.name === name) {
      const r = view.el.getBoundingClientRect();
      const title = view.model.title ? view.model.title.text : null;
      out.push({title: title, width: r.width, height: r.height});
    }
    for (const child of (view.child_views || [])) walk(child);
  };
  if (window.Bokeh && window.Bokeh.index) {
    for (const view of Object.values(window.Bokeh.index)) walk(view);
  }
  return out;
}
"""


SCROLL_TO_JS = FIND_VIEWS_JS.replace(
    "out.push({title: title, width: r.width, height: r.height});",
    "out.push({title: title, width: r.width, height: r.height}); view.el.scrollIntoView();",
)


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (skip when either is missing)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (/usr/bin/chromium); install Debian's chromium package")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A browser page on the dashboard that records console errors."""

    def __init__(self, browser: Any, server: dict, tmp_path: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.server = server
        self.tmp_path = tmp_path

    def open(self, page: str | None = None) -> None:
        url = self.server["url"] + (f"?page={page}" if page else "")
        self.page.goto(url)

    def chart(self, name: str) -> dict:
        """Wait until the chart ``name`` is on screen; return its title and size."""
        self.page.wait_for_function(
            f"(name) => ({FIND_VIEWS_JS})(name).some(v => v.width > 0 && v.height > 0)",
            arg=name,
        )
        return self.page.evaluate(FIND_VIEWS_JS, name)[0]

    def wait_title_change(self, name: str, old: str) -> str:
        """Wait until chart ``name`` shows a title other than ``old``; return it."""
        self.page.wait_for_function(
            f"([name, old]) => ({FIND_VIEWS_JS})(name).some(v => v.title && v.title !== old)",
            arg=[name, old],
        )
        return next(v["title"] for v in self.page.evaluate(FIND_VIEWS_JS, name) if v["title"])

    def set_input(self, label: str, value: str) -> None:
        box = self.page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        box.press("Tab")

    def screenshot(self, name: str, chart: str | None = None) -> Path:
        """Write ``<name>.png`` under tmp_path (scrolled to ``chart`` when given)."""
        if chart is not None:
            self.page.evaluate(SCROLL_TO_JS, chart)
        path = self.tmp_path / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000, f"screenshot {path} is (nearly) empty"
        return path

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], f"browser console errors: {self.errors}"


@pytest.fixture
def ui(browser: Any, dashboard_server: dict, tmp_path: Path) -> Iterator[Page]:
    page = Page(browser, dashboard_server, tmp_path)
    try:
        yield page
    finally:
        page.context.close()


def test_data_page_charts_follow_the_pickers_and_show_bad_input(ui: Page) -> None:
    ui.open("data")
    price = ui.chart("price")
    assert price["width"] > 300 and price["height"] > 200
    assert price["title"].startswith("synthetic BTC 1h (seed 7)")
    for name in ("volume", "funding"):
        assert ui.chart(name)["height"] > 0
    ui.page.get_by_text("Data quality", exact=True).wait_for()
    ui.page.get_by_text("no duplicate timestamps").first.wait_for()
    ui.screenshot("data")

    ui.set_input("Seed (synthetic)", "8")
    title = ui.wait_title_change("price", price["title"])
    assert title.startswith("synthetic BTC 1h (seed 8)")

    ui.set_input("Symbol", "ETH")
    assert ui.wait_title_change("price", title).startswith("synthetic ETH 1h (seed 8)")

    # A source that cannot serve (no local store here) shows a message; the app lives on.
    ui.page.get_by_label("Source", exact=True).select_option("store")
    ui.page.get_by_text("Cannot load store ETH 1h").wait_for()
    ui.screenshot("data_error")
    ui.page.get_by_label("Source", exact=True).select_option("synthetic")
    assert ui.chart("price")["title"].startswith("synthetic ETH 1h")
    ui.assert_no_console_errors()


def test_factors_page_parameters_change_the_factor_chart(ui: Page) -> None:
    ui.open("factors")
    factor = ui.chart("factor")
    assert factor["title"] == "MomentumZ(window=24, vol_window=168)"
    assert ui.chart("factor_price")["width"] > 300
    for name in ("ic", "ic_decay", "correlation"):
        assert ui.chart(name)["height"] > 0, name
    ui.screenshot("factors")

    ui.set_input("window (>= 1)", "12")
    assert ui.wait_title_change("factor", factor["title"]) == (
        "MomentumZ(window=12, vol_window=168)"
    )
    ui.set_input("IC horizons (bars)", "0, x")
    ui.page.get_by_text("horizons:").first.wait_for()
    ui.assert_no_console_errors()


def test_models_page_regimes_and_intervals_follow_the_inputs(ui: Page) -> None:
    ui.open("models")
    regimes = ui.chart("regimes")
    assert "(fitted: calm" in regimes["title"]
    assert ui.chart("regime_price")["width"] > 300
    intervals = ui.chart("intervals")
    assert intervals["height"] > 0 and ui.chart("coverage")["height"] > 0
    ui.page.get_by_text("Recovery of the simulator's true turbulent regime").wait_for()
    ui.screenshot("models")

    ui.page.get_by_label("Regime model", exact=True).select_option("manual")
    title = ui.wait_title_change("regimes", regimes["title"])
    assert "P(stay) 0.98)" in title
    ui.set_input("P(stay) per bar", "0.9")
    assert "P(stay) 0.9)" in ui.wait_title_change("regimes", title)
    ui.set_input("alpha (miscoverage)", "0.2")
    assert "80% conformal interval" in ui.wait_title_change("intervals", intervals["title"])
    ui.assert_no_console_errors()


def test_backtest_page_runs_the_strategy_and_a_sweep(ui: Page) -> None:
    ui.open("backtest")
    price = ui.chart("bt_price")
    assert "ma_cross (direction=long, fast=10, slow=30)" in price["title"]
    for name in ("equity", "drawdown"):
        assert ui.chart(name)["height"] > 0, name
    ui.page.get_by_text("Trades (").first.wait_for()
    ui.screenshot("backtest")

    ui.set_input("fast", "5")
    assert "fast=5, slow=30" in ui.wait_title_change("bt_price", price["title"])

    ui.page.get_by_role("button", name="Run sweep").click()
    ui.page.get_by_text("Sweep done").wait_for()
    sweep = ui.chart("sweep")
    assert sweep["title"].startswith("Sweep: sharpe by slow (rows) and fast (columns)")
    ui.screenshot("backtest_sweep", chart="sweep")

    ui.set_input("slow", "3")  # fast (5) >= slow: the strategy refuses it
    ui.page.get_by_text("must be smaller than slow").first.wait_for()
    ui.assert_no_console_errors()


def test_onchain_page_follows_its_inputs(ui: Page) -> None:
    ui.open("onchain")
    price = ui.chart("onchain_price")
    assert price["width"] > 300
    assert price["title"] == "token 0 15m (seed 7): AMM price (SOL per token)"
    for name in ("onchain_flow", "onchain_regimes"):
        assert ui.chart(name)["height"] > 0, name
    ui.page.get_by_text("NMI against the planted clusters").wait_for()
    ui.page.get_by_text("Smart money chosen at the split").wait_for()
    ui.screenshot("onchain")

    ui.set_input("Token", "2")
    title = ui.wait_title_change("onchain_price", price["title"])
    assert title.startswith("token 2 15m (seed 7)")
    ui.set_input("Seed (on-chain)", "8")
    assert ui.wait_title_change("onchain_price", title).startswith("token 2 15m (seed 8)")
    ui.assert_no_console_errors()


def test_reports_page_lists_runs_with_links(ui: Page) -> None:
    ui.open()
    ui.chart("price")  # the Data page is first
    ui.page.locator(".bk-tab", has_text="Reports").click()
    ui.page.get_by_text("20240501-120000-test").wait_for()
    ui.page.get_by_text('"symbol": "ETH"').first.wait_for()
    ui.page.get_by_text("ConfigError: bad parameter").wait_for()
    link = ui.page.get_by_role("link", name="01_data_quality.ipynb")
    href = link.get_attribute("href")
    assert href == "/reports/2024-05-01/20240501-120000-test/01_data_quality.html"
    with urllib.request.urlopen(ui.server["url"].rstrip("/") + href, timeout=30) as resp:
        assert "Data quality report" in resp.read().decode()
    ui.screenshot("reports")
    assert ui.page.url.endswith("?page=reports")
    ui.assert_no_console_errors()


def test_the_sidebar_pickers_drive_every_page(ui: Page) -> None:
    ui.open("factors")
    assert "(seed 7)" in ui.chart("factor_price")["title"]
    ui.set_input("Seed (synthetic)", "9")
    assert "(seed 9)" in ui.wait_title_change("factor_price", ui.chart("factor_price")["title"])
    ui.page.locator(".bk-tab", has_text="Models").click()
    assert "(seed 9)" in ui.chart("regime_price")["title"]
    ui.page.locator(".bk-tab", has_text="Data").click()
    assert ui.chart("price")["title"].startswith("synthetic BTC 1h (seed 9)")
    ui.page.get_by_label("Interval", exact=True).select_option("4h")
    title = ui.wait_title_change("price", "synthetic BTC 1h (seed 9): close and high-low range")
    assert title.startswith("synthetic BTC 4h (seed 9)")
    ui.page.locator(".bk-tab", has_text="Factors").click()  # hidden while the data changed
    ui.page.wait_for_function(
        f"() => ({FIND_VIEWS_JS})('factor_price').some(v => v.title.includes('4h (seed 9)'))"
    )
    ui.assert_no_console_errors()
