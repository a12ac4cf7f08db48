"""Data page: source/symbol/interval/range pickers, price, volume and funding, data quality."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from quantlab.dashboards import charts
from quantlab.dashboards._common import (
    DataControls,
    FrameSource,
    error_alert,
    frame_or_alert,
    guard,
    live_pane,
    note,
)

__all__ = ["data_page", "data_view"]


def _funding(df: pd.DataFrame, x_range: Any) -> Any:
    if "funding_rate" not in df.columns:
        return note("These bars carry no `funding_rate` column (spot or no perp data).")
    pct = (df["funding_rate"] * 100.0).rename("funding % per hour")
    return pn.pane.Bokeh(
        charts.line_figure(
            pct,
            "Funding rate (% per hour)",
            name="funding",
            x_range=x_range,
            height=170,
            y_label="% / h",
            zero_line=True,
        ),
        sizing_mode="stretch_width",
    )


def _quality(df: pd.DataFrame, interval: str | None) -> pn.viewable.Viewable:
    from quantlab.data import quality_report, summary

    table = quality_report(df, interval)
    overview = summary(df, interval).astype(str).to_frame("value")
    failed = table[table["status"] != "ok"]
    verdict = (
        note(f"{len(failed)} data-quality check(s) failed: see the table.", "warning")
        if len(failed)
        else note("Every data-quality check passed.", "success")
    )
    return pn.Column(
        "### Data quality",
        verdict,
        pn.Row(
            pn.pane.DataFrame(overview, name="summary", sizing_mode="stretch_width"),
            pn.pane.DataFrame(
                table.assign(
                    first_time=table["first_time"]
                    .astype(str)
                    .replace({"NaT": "", "None": "", "nan": ""})
                ),
                name="quality",
                index=False,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )


def _content(source: FrameSource) -> pn.viewable.Viewable:
    df = frame_or_alert(source)
    if not isinstance(df, pd.DataFrame):
        raw = getattr(source, "raw", None)
        if isinstance(raw, pd.DataFrame):  # show which rule the user's frame broke
            return pn.Column(df, guard(lambda: _quality(raw, None), "quality report"))
        return df
    if df.empty:
        return note(f"{source.label}: no bars in this range.", "warning")
    parts: list[Any] = []
    if source.warnings:
        parts.append(note("**Data-quality warning** — " + " ".join(source.warnings), "warning"))
    try:
        price = charts.price_figure(df, f"{source.label}: close and high-low range")
        parts += [
            pn.pane.Bokeh(price, sizing_mode="stretch_width"),
            pn.pane.Bokeh(charts.volume_figure(df, price.x_range), sizing_mode="stretch_width"),
            _funding(df, price.x_range),
        ]
    except Exception as exc:
        parts.append(error_alert(exc, "charts"))
    parts.append(guard(lambda: _quality(df, source.bar_interval), "quality report"))
    return pn.Column(*parts, sizing_mode="stretch_width")


def data_page(source: FrameSource, *, lazy: bool = False) -> pn.viewable.Viewable:
    """Return the Data page over ``source`` (the app passes its shared data controls).

    With ``lazy`` the page computes only while it is shown (the app's hidden tabs wait).
    """
    return live_pane(
        source,
        lambda: _content(source),
        source.param.label,
        source.param.warnings,
        lazy=lazy,
    )


def data_view(df: pd.DataFrame | None = None, interval: str | None = None) -> pn.Column:
    """Return the Data view: price, volume and funding charts and the data-quality table.

    Parameters
    ----------
    df : pd.DataFrame, optional
        Bars to show. Without it the view has its own source, symbol, interval, range and
        seed pickers and loads bars with :func:`quantlab.data.load` on every change.
    interval : str, optional
        Bar interval of ``df`` (inferred when omitted).

    Returns
    -------
    panel.Column
        Display it in a notebook cell or serve it; bad input shows a message in the view.
    """
    if df is None:
        controls = DataControls()
        return pn.Column(
            controls.widgets(horizontal=True),
            data_page(controls),
            sizing_mode="stretch_width",
        )
    return pn.Column(
        data_page(FrameSource.from_frame(df, interval=interval)), sizing_mode="stretch_width"
    )
