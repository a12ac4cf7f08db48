"""On-chain page: the smart-money study of notebook 06 on the embedded on-chain market.

A view over :func:`quantlab.reports.onchain.onchain_study`: the token's AMM price, its
net swap flow and the smart-money net flow, the capital-flow model's regime
probabilities (true herd phases listed below), the wallet clusters against the planted
ones (NMI), the smart-money set, the flow factors' IC and the composite backtest after
the split. The page has its own inputs (the on-chain market is not a bar source).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd
import panel as pn
import param

from quantlab.dashboards import charts
from quantlab.dashboards._common import guard, note

__all__ = ["OnchainChoice", "onchain_page", "onchain_view"]

INTERVALS = ("5m", "15m", "30m", "1h")


class OnchainChoice(param.Parameterized):
    """Inputs of the On-chain page."""

    seed = param.Integer(7, bounds=(0, None), doc="seed of the on-chain market")
    days = param.Number(6.0, bounds=(1.0, 30.0), doc="days simulated")
    token = param.Integer(0, bounds=(0, 3), doc="index of the token studied")
    interval = param.Selector(default="15m", objects=list(INTERVALS))
    top = param.Integer(16, bounds=(1, 200), doc="size of the smart-money set")

    def widgets(self) -> pn.viewable.Viewable:
        """Return the inputs in a row."""
        p = self.param
        return pn.Row(
            pn.widgets.IntInput.from_param(p.seed, label="Seed (on-chain)", width=130),
            pn.widgets.FloatInput.from_param(p.days, label="Days", step=1.0, width=110),
            pn.widgets.IntInput.from_param(p.token, label="Token", width=100),
            pn.widgets.Select.from_param(p.interval, label="Bar interval", width=110),
            pn.widgets.IntInput.from_param(p.top, label="Smart-money wallets", width=150),
            sizing_mode="stretch_width",
        )


@lru_cache(maxsize=8)
def _study(seed: int, days: float, token: int, interval: str, top: int) -> Any:
    from quantlab.reports.onchain import onchain_study

    return onchain_study(seed=seed, days=days, token=token, interval=interval, top=top)


def _charts(study: Any, label: str) -> Any:
    bars, reg = study.bars, study.regimes
    price = charts.line_figure(
        bars["close"].rename("price (SOL)"),
        f"{label}: AMM price (SOL per token)",
        name="onchain_price",
        height=240,
    )
    flow = pd.DataFrame(
        {
            "net flow": bars["buy_flow"] - bars["sell_flow"],
            "smart-money net flow": study.factors["sm_net_flow"],
        }
    )
    flow_fig = charts.line_figure(
        flow, "Net swap flow per bar (SOL)", name="onchain_flow", x_range=price.x_range,
        zero_line=True,
    )  # fmt: skip
    regimes = charts.line_figure(
        reg[["p_quiet", "p_herd", "p_exhaustion"]],
        "Capital-flow regimes (IMM): P(quiet), P(herd), P(exhaustion)",
        name="onchain_regimes",
        x_range=price.x_range,
    )
    return pn.Column(
        pn.pane.Bokeh(price, sizing_mode="stretch_width"),
        pn.pane.Bokeh(flow_fig, sizing_mode="stretch_width"),
        pn.pane.Bokeh(regimes, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


def _tables(study: Any) -> Any:
    from quantlab.reports.onchain import cluster_table

    m = study.market
    smart = study.skill.loc[study.smart, ["realized_pnl", "hit_rate", "early_entry", "score"]]
    smart = smart.join(m.roles)
    herd_hits = pd.crosstab(
        study.phases.rename("true phase"), study.regimes["regime"].rename("most probable")
    )
    stats = study.backtest.stats[["total_return", "sharpe", "max_drawdown", "n_trades"]]
    return pn.Column(
        pn.pane.Markdown(
            f"**Wallet clusters** — NMI against the planted clusters: **{study.nmi:.3f}** "
            f"(co-trading graph of the swaps before the split, {study.split:%Y-%m-%d %H:%M})"
        ),
        pn.pane.DataFrame(cluster_table(study.labels, m.clusters), sizing_mode="stretch_width"),
        pn.pane.Markdown("**Smart money chosen at the split** (role: the simulator's truth)"),
        pn.pane.DataFrame(smart.round(4), sizing_mode="stretch_width", max_rows=30),
        pn.pane.Markdown("**Flow factors: IC against forward returns after the split**"),
        pn.pane.DataFrame(study.ic.round(4), sizing_mode="stretch_width", index=False),
        pn.pane.Markdown("**True herd phase vs the most probable regime**"),
        pn.pane.DataFrame(herd_hits, sizing_mode="stretch_width"),
        pn.pane.Markdown("**Factor-composite backtest after the split** (AMM fee per fill)"),
        pn.pane.DataFrame(stats.to_frame("value").round(4), sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


def _content(choice: OnchainChoice) -> Any:
    try:
        study = _study(choice.seed, float(choice.days), choice.token, choice.interval, choice.top)
    except Exception as exc:  # a message in the page, never a dead page
        from quantlab.errors import QuantlabError

        if not isinstance(exc, QuantlabError | ValueError):
            raise
        return note(f"**Cannot run the on-chain study** — {type(exc).__name__}: {exc}", "danger")
    label = f"token {choice.token} {choice.interval} (seed {choice.seed})"
    return pn.Column(
        guard(lambda: _charts(study, label), "on-chain charts"),
        guard(lambda: _tables(study), "on-chain tables"),
        sizing_mode="stretch_width",
    )


def onchain_page(_source: Any = None, *, lazy: bool = False) -> pn.Column:
    """Return the On-chain page (the app's shared bar source is not used).

    With ``lazy`` the page computes only while it is shown.
    """
    choice = OnchainChoice()
    deps = [choice.param[p] for p in OnchainChoice.param if p != "name"]
    bound = pn.bind(lambda *_: _content(choice), *deps)
    content = pn.panel(bound, loading_indicator=True, lazy=lazy, sizing_mode="stretch_width")
    page = pn.Column(choice.widgets(), content, sizing_mode="stretch_width")
    page.choice = choice
    return page


def onchain_view() -> pn.Column:
    """Return the On-chain view for a notebook cell."""
    return onchain_page()
