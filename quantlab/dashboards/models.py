"""Models page: IMM regime probabilities over price; conformal intervals and coverage.

Regimes: the calm/turbulent IMM of :mod:`quantlab.models.evaluation`, either fitted by
maximum likelihood (:func:`~quantlab.models.evaluation.fit_calm_turbulent`) or with the
volatilities and persistence typed in (:func:`~quantlab.models.evaluation.calm_turbulent_imm`);
on the synthetic market the page also scores them against the simulator's true turbulent
regime (:func:`~quantlab.models.evaluation.regime_report`). Intervals: the adaptive
conformal interval of each bar's log return around a Kalman forecast
(:func:`quantlab.models.factors.return_interval`) and its rolling coverage
(:func:`quantlab.models.rolling_coverage`).
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
    FrameSource,
    frame_or_alert,
    guard,
    live_pane,
    note,
    standalone_view,
)

__all__ = ["REGIME_MODELS", "ModelChoice", "models_page", "models_view", "regime_probabilities"]

REGIMES = ("calm", "turbulent")
FITTED, MANUAL = "fitted (maximum likelihood)", "manual"
REGIME_MODELS = (FITTED, MANUAL)


class ModelChoice(param.Parameterized):
    """Inputs of the Models page."""

    regime_model = param.Selector(default=FITTED, objects=list(REGIME_MODELS))
    calm_vol = param.Number(0.4, bounds=(1e-4, None), doc="calm volatility, % per hour")
    turbulent_vol = param.Number(2.5, bounds=(1e-4, None), doc="turbulent volatility, % per hour")
    stay = param.Number(0.98, bounds=(0.5, 0.9999), doc="probability of staying in a regime")
    alpha = param.Number(0.1, bounds=(0.005, 0.5), doc="target miscoverage of the intervals")
    gamma = param.Number(0.005, bounds=(0.0, 0.5), doc="ACI step size (0: split conformal)")
    calibration = param.Integer(500, bounds=(10, None), doc="bars of past scores calibrating")
    window = param.Integer(100, bounds=(5, None), doc="bars of the rolling coverage")

    def widgets(self) -> pn.viewable.Viewable:
        """Return the inputs of the regimes and of the intervals side by side."""
        p = self.param
        return pn.Row(
            pn.Column(
                "**IMM regimes (calm / turbulent)**",
                pn.widgets.Select.from_param(p.regime_model, label="Regime model"),
                pn.widgets.FloatInput.from_param(p.calm_vol, label="Calm vol (% / h)", step=0.1),
                pn.widgets.FloatInput.from_param(
                    p.turbulent_vol, label="Turbulent vol (% / h)", step=0.5
                ),
                pn.widgets.FloatInput.from_param(p.stay, label="P(stay) per bar", step=0.01),
                width=260,
            ),
            pn.Column(
                "**Conformal intervals (log return)**",
                pn.widgets.FloatInput.from_param(p.alpha, label="alpha (miscoverage)", step=0.05),
                pn.widgets.FloatInput.from_param(p.gamma, label="ACI gamma", step=0.005),
                pn.widgets.IntInput.from_param(p.calibration, label="Calibration window (bars)"),
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
def _fitted(df: pd.DataFrame) -> Any:
    from quantlab.models.evaluation import fit_calm_turbulent

    return fit_calm_turbulent(df)


@pn.cache(max_items=16)
def regime_probabilities(
    df: pd.DataFrame, calm_vol: float, turbulent_vol: float, stay: float, bar_hours: float
) -> pd.DataFrame:
    """Return P(calm), P(turbulent) of each bar from the calm/turbulent IMM with these inputs.

    The IMM is :func:`quantlab.models.evaluation.calm_turbulent_imm` with one-bar return
    variances ``(vol / 100)^2 * bar_hours`` and leave probability ``1 - stay``; it runs on
    ``log(close / close[0])`` from bar 1, as :func:`~quantlab.models.evaluation.fit_calm_turbulent`
    does; row 0 keeps the uniform prior. Causal: each row uses the bars up to it.
    """
    from quantlab.models.evaluation import calm_turbulent_imm, regime_frame

    variances = [(v / 100.0) ** 2 * bar_hours for v in (calm_vol, turbulent_vol)]
    imm = calm_turbulent_imm(variances[0], variances[1], (1.0 - stay, 1.0 - stay))
    logc = np.log(df["close"].to_numpy(dtype=np.float64))
    mu = imm.filter(logc[1:] - logc[0]).mu
    mu = np.vstack([np.full(2, 0.5), mu]) if len(df) else np.empty((0, 2))
    return regime_frame(mu, df.index, REGIMES)


def _pct_per_hour(variance: float, hours: float) -> float:
    return 100.0 * math.sqrt(variance / hours)


def _truth_table(df: pd.DataFrame, origin: dict[str, Any], mu: pd.DataFrame) -> Any:
    from quantlab.models.evaluation import calm_turbulent_truth, regime_report, synthetic_truth

    if origin.get("source") != "synthetic":
        return None
    opts = {k: v for k, v in origin.items() if k not in ("source", "symbol", "interval")}
    truth = synthetic_truth(df, "synthetic", origin["symbol"], origin["interval"], **opts)
    if truth is None:
        return None
    report = regime_report(calm_turbulent_truth(truth), mu)
    return pn.Column(
        "Recovery of the simulator's true turbulent regime (the model never sees it):",
        pn.pane.DataFrame(report, name="regime_report", float_format="{:.3f}".format),
    )


def _regimes(source: FrameSource, df: pd.DataFrame, c: ModelChoice, hours: float) -> Any:
    if c.regime_model == FITTED:
        fit = _fitted(df)
        mu = fit.mu
        vols = [_pct_per_hour(v, hours) for v in fit.var]
        what = (
            f"fitted: calm {vols[0]:.2g} %/h, turbulent {vols[1]:.2g} %/h, "
            f"P(stay) {1 - fit.leave[0]:.3f} / {1 - fit.leave[1]:.3f}"
        )
    else:
        mu = regime_probabilities(df, c.calm_vol, c.turbulent_vol, c.stay, hours)
        what = f"calm {c.calm_vol:g} %/h, turbulent {c.turbulent_vol:g} %/h, P(stay) {c.stay:g}"
    price = charts.price_figure(df, f"{source.label}: close", name="regime_price", height=260)
    probs = charts.stacked_area_figure(
        mu, f"IMM regime probabilities ({what})", name="regimes", x_range=price.x_range
    )
    share = (mu["turbulent"] > 0.5).mean()
    parts: list[Any] = [
        "### Regimes",
        pn.pane.Bokeh(price, sizing_mode="stretch_width"),
        pn.pane.Bokeh(probs, sizing_mode="stretch_width"),
        pn.pane.Markdown(f"Turbulent (probability > 0.5) on {share:.1%} of the bars."),
    ]
    truth = guard(lambda: _truth_table(df, source.origin, mu), "true regimes")
    if truth is not None:
        parts.append(truth)
    return pn.Column(*parts, sizing_mode="stretch_width")


def _intervals(df: pd.DataFrame, c: ModelChoice) -> Any:
    from quantlab.models import coverage, rolling_coverage
    from quantlab.models.factors import return_interval

    ri = return_interval(df, alpha=c.alpha, gamma=c.gamma, window=c.calibration)
    ri = ri[ri["threshold"] < np.inf]  # before enough scores the interval is the whole line
    if ri.empty:
        return note("Too few bars for a finite conformal interval at this alpha.", "warning")
    cov = rolling_coverage(ri["return"], ri["lower"], ri["upper"], c.window)
    total = coverage(ri["return"], ri["lower"], ri["upper"])
    kind = f"ACI, gamma {c.gamma:g}" if c.gamma > 0 else "split"
    band_fig = charts.band_figure(
        ri["return"],
        ri["lower"],
        ri["upper"],
        f"One-bar log return: {1 - c.alpha:.0%} conformal interval ({kind}) "
        "around the Kalman forecast",
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
    if len(df) < 10:
        return note(f"{source.label}: {len(df)} bar(s); the models need at least 10.", "warning")
    hours = _bar_hours(df, source.bar_interval)
    return pn.Column(
        guard(lambda: _regimes(source, df, choice, hours), "regimes"),
        guard(lambda: _intervals(df, choice), "conformal intervals"),
        sizing_mode="stretch_width",
    )


def models_page(source: FrameSource, *, lazy: bool = False) -> pn.Column:
    """Return the Models page over ``source`` (the app passes its shared data controls).

    With ``lazy`` the page computes only while it is shown (the app's hidden tabs wait).
    """
    choice = ModelChoice()
    content = live_pane(
        source,
        lambda: _content(source, choice),
        *[choice.param[p] for p in ModelChoice.param if p != "name"],
        lazy=lazy,
    )
    page = pn.Column(choice.widgets(), content, sizing_mode="stretch_width")
    page.choice, page.source = choice, source  # for notebooks and tests
    return page


def models_view(df: pd.DataFrame | None = None, interval: str | None = None) -> pn.Column:
    """Return the Models view: IMM regime probabilities and conformal intervals.

    Parameters
    ----------
    df : pd.DataFrame, optional
        Bars; without it the view has its own data pickers (synthetic BTC by default), and
        on the synthetic market it scores the regimes against the simulator's truth.
    interval : str, optional
        Bar interval of ``df`` (inferred when omitted).

    Returns
    -------
    panel.Column
        Display it in a notebook cell or serve it; bad input shows a message in the view.
    """
    return standalone_view(models_page, df, interval)
