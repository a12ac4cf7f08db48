"""The On-chain page without a browser: what it shows is what onchain_study returns."""

from __future__ import annotations

import numpy as np
import panel as pn

from quantlab.dashboards import onchain as page_module
from quantlab.dashboards.app import PAGES
from quantlab.errors import ConfigError


def _figures(view) -> dict:
    return {p.object.name: p.object for p in view.select(pn.pane.Bokeh)}


def _alerts(view) -> list[str]:
    return [a.object for a in view.select(pn.pane.Alert)]


def test_page_shows_the_study_and_follows_its_inputs():
    assert PAGES["onchain"] == "On-chain"
    page = page_module.onchain_page()
    page.choice.param.update(days=3.0, interval="30m")
    content = page_module._content(page.choice)
    figs = _figures(content)
    assert {"onchain_price", "onchain_flow", "onchain_regimes"} <= set(figs)
    study = page_module._study(7, 3.0, 0, "30m", 16)
    price = figs["onchain_price"].select_one({"name": "onchain_price_source"}).data
    np.testing.assert_array_equal(price["price (SOL)"], study.bars["close"].to_numpy())
    assert figs["onchain_price"].title.text == "token 0 30m (seed 7): AMM price (SOL per token)"
    texts = " ".join(str(p.object) for p in content.select(pn.pane.Markdown))
    assert f"{study.nmi:.3f}" in texts and not _alerts(content)
    page.choice.token = 1
    title = _figures(page_module._content(page.choice))["onchain_price"].title.text
    assert title.startswith("token 1 30m (seed 7)")


def test_a_failing_study_shows_a_message(monkeypatch):
    def refuse(**kwargs):
        raise ConfigError("onchain_study: split must be in (0, 1), got 2")

    monkeypatch.setattr("quantlab.reports.onchain.onchain_study", refuse)
    page_module._study.cache_clear()
    choice = page_module.OnchainChoice(seed=12345, days=2.0)
    (message,) = _alerts(page_module._content(choice))
    assert "Cannot run the on-chain study" in message and "split" in message
    page_module._study.cache_clear()
