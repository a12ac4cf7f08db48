"""Models page: IMM regime probabilities over price; conformal intervals and coverage.

Regimes: ``ql.models`` :class:`~quantlab.models.imm.IMM` over two local-level Kalman
filters of the one-bar log return, a calm one and a turbulent one, whose noise levels are
set (per hour, scaled to the bar) by the inputs; the chain stays in a regime with the
chosen probability per bar. Intervals: ``ql.models`` :func:`conformal_interval` around the
random-walk forecast of the next close (the last close), scored by the absolute error,
with :func:`rolling_coverage` against the target.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from quantlab.dashboards import charts
from quantlab.dashboards._common import (
    DataControls,
    FrameSource,
    feature,
    frame_or_alert,
    guard,
    note,
    unavailable,
)

__all__ = ["ModelChoice", "models_page", "models_view", "regime_probabilities"]

REGIMES = ("calm", "turbulent")


class ModelChoice(param.Parameterized):
    """Inputs of the Models page."""

    calm_vol = param.Number(0.4, bounds=(1e-4, None), doc="calm volatility, % per hour")
    turbulent_vol = param.Number(2.5, bounds=(1e-4, None), doc="turbulent volatility, % per hour")
    stay = param.Number(0.98, bounds=(0.5, 0.9999), doc="probability of staying in a regime")
    alpha = param.Number(0.1, bounds=(0.005, 0.5), doc="target miscoverage of the intervals")
    method = param.Selector(default="aci", objects=["split", "aci"], doc="conformal method")
    gamma = param.Number(0.005, bounds=(0.0, 0.5), doc="ACI step size")
    window = param.Integer(100, bounds=(5, None), doc="bars of the rolling coverage")

    def widgets(self) -> pn.viewable.Viewable:
        """Return the inputs, regimes and intervals side by side."""
        p = self.param
        return pn.Row(
            pn.Column(
                "**IMM regimes**",
                pn.widgets.FloatInput.from_param(p.calm_vol, label="Calm vol (% / h)", step=0.1),
                pn.widgets.FloatInput.from_param(
                    p.turbulent_vol, label="Turbulent vol (% / h)", step=0.5
                ),
                pn.widgets.FloatInput.from_param(p.stay, label="P(stay) per bar", step=0.01),
                width=260,
            ),
            pn.Column(
                "**Conformal intervals**",
                pn.widgets.FloatInput.from_param(p.alpha, label="alpha (miscoverage)", step=0.05),
                pn.widgets.Select.from_param(p.method, label="Method"),
                pn.widgets.FloatInput.from_param(p.gamma, label="ACI gamma", step=0.005),
                pn.widgets.IntInput.from_param(p.window, label="Coverage window (bars)"),
                width=260,
            ),
            sizing_mode="stretch_width",
        )


def _bar_hours(df: pd.DataFrame, interval: str | None) -> float:
    from quantlab.data import interval_hours

    if interval:
        return float(interval_hours(interval))
    step = (df.index[1] - df.index[0]).total_seconds() if len(df) > 1 else 3600.0
    return step / 3600.0


@pn.cache(max_items=16)
def regime_probabilities(
    df: pd.DataFrame, calm_vol: float, turbulent_vol: float, stay: float, bar_hours: float
) -> pd.DataFrame:
    """Return the IMM's calm/turbulent probabilities of each bar (columns ``REGIMES``).

    The observation is the one-bar log return; each regime is a local-level Kalman filter
    whose level (the drift) barely moves and whose observation noise is the regime's
    volatility, ``vol % per hour * sqrt(bar hours)``. The first bar has no return and
    keeps the prior (uniform).
    """
    from quantlab.models.imm import IMM
    from quantlab.models.kalman import KalmanFilter

    z = np.log(df["close"].to_numpy(dtype=np.float64))
    z = np.concatenate([[np.nan], np.diff(z)])
    filters = []
    for vol in (calm_vol, turbulent_vol):
        sigma = vol / 100.0 * math.sqrt(bar_hours)
        filters.append(
            KalmanFilter.local_level(
                sigma2_level=(0.01 * sigma) ** 2, sigma2_obs=sigma**2, P0=sigma**2
            )
        )
    leave = 1.0 - stay
    transition = [[stay, leave], [leave, stay]]
    res = IMM(filters, transition).filter(z)
    return pd.DataFrame(res.mu, index=df.index, columns=list(REGIMES))


def _regimes(df: pd.DataFrame, label: str, c: ModelChoice, hours: float) -> Any:
    if feature("quantlab.models.imm", "IMM") is None:
        return unavailable("Regime probabilities", "quantlab.models.imm.IMM")
    mu = regime_probabilities(df, c.calm_vol, c.turbulent_vol, c.stay, hours)
    price = charts.price_figure(df, f"{label}: close", name="regime_price", height=260)
    probs = charts.stacked_area_figure(
        mu,
        f"IMM regime probabilities (calm {c.calm_vol:g} %/h, turbulent {c.turbulent_vol:g} %/h, "
        f"P(stay) {c.stay:g})",
        name="regimes",
        x_range=price.x_range,
    )
    share = (mu["turbulent"] > 0.5).mean()
    return pn.Column(
        "### Regimes",
        pn.pane.Bokeh(price, sizing_mode="stretch_width"),
        pn.pane.Bokeh(probs, sizing_mode="stretch_width"),
        pn.pane.Markdown(f"Turbulent (probability > 0.5) on {share:.1%} of the bars."),
        sizing_mode="stretch_width",
    )


def _intervals(df: pd.DataFrame, c: ModelChoice) -> Any:
    conformal = feature("quantlab.models.conformal")
    if conformal is None or not hasattr(conformal, "conformal_interval"):
        return unavailable("Conformal intervals", "quantlab.models.conformal")
    close = df["close"]
    forecast = close.shift(1).rename("forecast")
    scores = (close - forecast).abs()
    band = conformal.conformal_interval(
        forecast, scores, alpha=c.alpha, method=c.method, gamma=c.gamma
    )
    cov = conformal.rolling_coverage(close, band["lower"], band["upper"], c.window)
    total = conformal.coverage(close, band["lower"], band["upper"])
    band_fig = charts.band_figure(
        close,
        band["lower"],
        band["upper"],
        f"Next close: {1 - c.alpha:.0%} {c.method} conformal interval around the last close",
        name="intervals",
    )
    target = pd.Series(1.0 - c.alpha, index=cov.index, name="target")
    cov_fig = charts.line_figure(
        pd.concat([cov.rename("rolling coverage"), target], axis=1),
        f"Rolling coverage over {c.window} bars (target {1 - c.alpha:.0%})",
        name="coverage",
        x_range=band_fig.x_range,
        height=200,
        y_label="coverage",
    )
    return pn.Column(
        "### Conformal intervals",
        pn.pane.Bokeh(band_fig, sizing_mode="stretch_width"),
        pn.pane.Bokeh(cov_fig, sizing_mode="stretch_width"),
        pn.pane.Markdown(f"Coverage over the whole range: {total:.1%} (target {1 - c.alpha:.0%})."),
        sizing_mode="stretch_width",
    )


def _content(source: FrameSource, choice: ModelChoice) -> Any:
    df = frame_or_alert(source)
    if not isinstance(df, pd.DataFrame):
        return df
    if len(df) < 3:
        return note(f"{source.label}: {len(df)} bar(s); the models need at least 3.", "warning")
    hours = _bar_hours(df, source.bar_interval)
    return pn.Column(
        guard(lambda: _regimes(df, source.label, choice, hours), "regimes"),
        guard(lambda: _intervals(df, choice), "conformal intervals"),
        sizing_mode="stretch_width",
    )


def models_page(source: FrameSource) -> pn.Column:
    """Return the Models page over ``source`` (the app passes its shared data controls)."""
    choice = ModelChoice()
    bound = pn.bind(
        lambda *_: _content(source, choice),
        source.param.frame,
        source.param.error,
        *[choice.param[p] for p in ModelChoice.param if p != "name"],
    )
    page = pn.Column(
        choice.widgets(),
        pn.panel(bound, loading_indicator=True, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
    page.choice, page.source = choice, source  # for notebooks and tests
    return page


def models_view(df: pd.DataFrame | None = None, interval: str | None = None) -> pn.Column:
    """Return the Models view: IMM regime probabilities and conformal intervals.

    Parameters
    ----------
    df : pd.DataFrame, optional
        Bars; without it the view has its own data pickers (synthetic BTC by default).
    interval : str, optional
        Bar interval of ``df`` (inferred when omitted).

    Returns
    -------
    panel.Column
        Display it in a notebook cell or serve it; bad input shows a message in the view.
    """
    if df is None:
        controls = DataControls()
        page = models_page(controls)
        out = pn.Column(controls.widgets(horizontal=True), page, sizing_mode="stretch_width")
        out.choice, out.source = page.choice, controls
        return out
    return models_page(FrameSource.from_frame(df, interval=interval))
