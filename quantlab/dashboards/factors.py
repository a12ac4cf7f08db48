"""Factors page: pick a factor and its parameters; factor over price, IC, decay, correlation.

Everything shown comes from ``ql.factors``: :func:`~quantlab.factors.compute` for the
factor, :func:`~quantlab.factors.compute_many` for the set compared, and the research
functions of ``quantlab.factors.research`` (information coefficient by horizon, its decay,
factor correlation) when that module is present.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from quantlab.dashboards import charts
from quantlab.dashboards._common import (
    FrameSource,
    error_alert,
    frame_or_alert,
    guard,
    live_pane,
    note,
    standalone_view,
)
from quantlab.errors import ConfigError

__all__ = ["DEFAULT_COMPARE", "DEFAULT_FACTOR", "factors_page", "factors_view", "parse_horizons"]

DEFAULT_FACTOR = "momentum_z"
DEFAULT_COMPARE = ("momentum_z", "ema_spread", "realized_vol", "volume_z", "flow_imbalance")
DEFAULT_HORIZONS = "1, 4, 12, 24"


def parse_horizons(text: str) -> list[int]:
    """Return the forward horizons (bars) typed as ``"1, 4, 24"``; raise ConfigError if bad."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ConfigError("horizons: empty; type bar counts such as 1, 4, 24")
    out = []
    for p in parts:
        try:
            h = int(p)
        except ValueError:
            raise ConfigError(f"horizons: {p!r} is not a whole number of bars") from None
        if h < 1:
            raise ConfigError(f"horizons: {h} must be >= 1 bar")
        out.append(h)
    return sorted(set(out))


@pn.cache(max_items=64)
def _compute(df: pd.DataFrame, name: str, params: tuple[tuple[str, Any], ...]) -> pd.Series:
    from quantlab.factors import compute

    return compute(name, df, **dict(params))


@pn.cache(max_items=16)
def _compute_many(df: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    from quantlab.factors import compute_many

    return compute_many(df, list(names))


def _param_widget(p: Any, value: Any) -> pn.widgets.Widget:
    label = f"{p.name} ({p.bounds_text()})" if p.bounds_text() else p.name
    if p.type is bool:
        return pn.widgets.Checkbox(label=p.name, value=bool(value), description=p.doc or None)
    lower = p.ge if p.ge is not None else None
    if p.type is int:
        start = int(lower) if lower is not None else (int(p.gt) + 1 if p.gt is not None else None)
        return pn.widgets.IntInput(
            label=label, value=int(value), start=start, description=p.doc or None, width=150
        )
    return pn.widgets.FloatInput(
        label=label, value=float(value), start=lower, description=p.doc or None, width=150
    )


class FactorChoice(param.Parameterized):
    """The factor shown, its parameter values, the set compared and the IC horizons."""

    factor = param.Selector(default=DEFAULT_FACTOR, objects=[DEFAULT_FACTOR])
    selection = param.Dict(default={}, doc="{'name': factor, 'params': {...}}")
    compare = param.ListSelector(default=[], objects=[])
    horizons = param.String(default=DEFAULT_HORIZONS, doc="forward horizons in bars")

    def __init__(self, factor: str = DEFAULT_FACTOR, **params: Any) -> None:
        from quantlab.factors import names

        available = names()
        super().__init__(**params)
        self.param.factor.objects = available
        self.param.compare.objects = available
        self.compare = [n for n in DEFAULT_COMPARE if n in available] or available[:5]
        first = factor if factor in available else (available[0] if available else None)
        self.param_box = pn.Row(sizing_mode="stretch_width")
        self.factor = first
        self._rebuild()

    @param.depends("factor", watch=True)
    def _rebuild(self) -> None:
        from quantlab.factors import get

        if self.factor is None:
            self.param_box.objects = []
            self.selection = {}
            return
        cls = get(self.factor)
        widgets = []
        for p in cls.parameters().values():
            w = _param_widget(p, p.default)
            w.param.watch(self._params_changed, "value")
            widgets.append(w)
        self._widgets = {p: w for p, w in zip(cls.parameters(), widgets, strict=True)}
        self.param_box.objects = widgets
        self.selection = {"name": self.factor, "params": self._values()}

    def _values(self) -> dict[str, Any]:
        return {k: w.value for k, w in self._widgets.items()}

    def _params_changed(self, _event: Any) -> None:
        self.selection = {"name": self.factor, "params": self._values()}

    def widgets(self) -> pn.viewable.Viewable:
        """Return the factor picker, its parameter inputs, the compared set and horizons."""
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.factor, label="Factor", width=220),
                pn.widgets.TextInput.from_param(
                    self.param.horizons, label="IC horizons (bars)", width=200
                ),
                sizing_mode="stretch_width",
            ),
            self.param_box,
            pn.widgets.MultiChoice.from_param(
                self.param.compare, label="Factors compared", sizing_mode="stretch_width"
            ),
            sizing_mode="stretch_width",
        )


def _factor_section(df: pd.DataFrame, label: str, name: str, params: dict[str, Any]) -> Any:
    from quantlab.factors import spec

    s = spec(name, **params)
    values = _compute(df, name, tuple(sorted(params.items())))
    info = s.summary()
    price = charts.price_figure(df, f"{label}: close", name="factor_price", height=260)
    factor_fig = charts.line_figure(
        values,
        repr(s),
        name="factor",
        x_range=price.x_range,
        height=220,
        y_label=name,
        zero_line=True,
    )
    text = (
        f"**{name}** ({info['role']}): {info['description']}  \n"
        f"inputs `{', '.join(info['inputs'])}`, warm-up {info['warmup']} bars"
    )
    return pn.Column(
        pn.pane.Markdown(text),
        pn.pane.Bokeh(price, sizing_mode="stretch_width"),
        pn.pane.Bokeh(factor_fig, sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )


def _ic_section(df: pd.DataFrame, name: str, params: dict[str, Any], horizons: list[int]) -> Any:
    values = _compute(df, name, tuple(sorted(params.items())))
    table = _ic_table(df, values, tuple(horizons))
    decay = _ic_decay(df, values, max(48, max(horizons)))
    return pn.Column(
        pn.pane.Bokeh(
            charts.bar_figure(
                [str(h) for h in table["horizon"]],
                table[["ic", "rank_ic"]],
                f"{name}: IC and rank IC by forward horizon (bars)",
                name="ic",
                y_label="correlation",
            ),
            sizing_mode="stretch_width",
        ),
        pn.pane.Bokeh(
            charts.bar_figure(
                [str(h) for h in decay.index],
                decay.to_frame("rank IC"),
                f"{name}: rank IC decay over horizons 1..{len(decay)} bars",
                name="ic_decay",
                y_label="rank IC",
            ),
            sizing_mode="stretch_width",
        ),
        pn.pane.DataFrame(table, name="ic_table", index=False, float_format="{:.4f}".format),
        sizing_mode="stretch_width",
    )


@pn.cache(max_items=32)
def _ic_table(df: pd.DataFrame, values: pd.Series, horizons: tuple[int, ...]) -> pd.DataFrame:
    from quantlab.factors import research

    fwd = research.forward_returns(df["close"], list(horizons))
    return research.ic_summary(values.to_frame(values.name or "factor"), fwd)


@pn.cache(max_items=32)
def _ic_decay(df: pd.DataFrame, values: pd.Series, max_horizon: int) -> pd.Series:
    from quantlab.factors import research

    return research.ic_decay(values, df["close"], range(1, max_horizon + 1))


def _correlation_section(df: pd.DataFrame, names: list[str]) -> Any:
    if len(names) < 2:
        return note("Pick at least two factors to compare for the correlation heatmap.")
    from quantlab.factors import research

    corr = research.factor_correlation(_compute_many(df, tuple(names)))
    return pn.pane.Bokeh(
        charts.heatmap_figure(corr, "Factor correlation", name="correlation"),
        sizing_mode="stretch_width",
    )


def _content(source: FrameSource, choice: FactorChoice) -> Any:
    df = frame_or_alert(source)
    if not isinstance(df, pd.DataFrame):
        return df
    sel = choice.selection
    if not sel:
        return note("No factor is registered.", "warning")
    parts = [guard(lambda: _factor_section(df, source.label, sel["name"], sel["params"]), "factor")]
    try:
        horizons = parse_horizons(choice.horizons)
    except ConfigError as exc:
        parts.append(error_alert(exc))
    else:
        parts.append(guard(lambda: _ic_section(df, sel["name"], sel["params"], horizons), "IC"))
    parts.append(guard(lambda: _correlation_section(df, list(choice.compare)), "correlation"))
    return pn.Column(*parts, sizing_mode="stretch_width")


def factors_page(
    source: FrameSource, factor: str = DEFAULT_FACTOR, *, lazy: bool = False
) -> pn.Column:
    """Return the Factors page over ``source`` (the app passes its shared data controls).

    With ``lazy`` the page computes only while it is shown (the app's hidden tabs wait).
    """
    choice = FactorChoice(factor=factor)
    content = live_pane(
        source,
        lambda: _content(source, choice),
        choice.param.selection,
        choice.param.compare,
        choice.param.horizons,
        lazy=lazy,
    )
    page = pn.Column(choice.widgets(), content, sizing_mode="stretch_width")
    page.choice, page.source = choice, source  # for notebooks and tests
    return page


def factors_view(
    df: pd.DataFrame | None = None, factor: str = DEFAULT_FACTOR, interval: str | None = None
) -> pn.Column:
    """Return the Factors view: a factor over price, its IC by horizon, and correlations.

    Parameters
    ----------
    df : pd.DataFrame, optional
        Bars; without it the view has its own data pickers (synthetic BTC by default).
    factor : str
        Registered factor shown first (its parameters become inputs).
    interval : str, optional
        Bar interval of ``df`` (inferred when omitted).

    Returns
    -------
    panel.Column
        Display it in a notebook cell or serve it; bad input shows a message in the view.
    """
    return standalone_view(lambda source: factors_page(source, factor), df, interval)
