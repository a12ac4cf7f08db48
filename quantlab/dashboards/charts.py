"""Bokeh figure builders shared by the dashboard pages (drawing only, no research maths).

Every figure carries a ``name`` so that a page, a test or the browser can find it in the
Bokeh document, and time-series figures take an ``x_range`` so that zooming one zooms the
others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import (
    BasicTicker,
    ColorBar,
    ColumnDataSource,
    HoverTool,
    LinearColorMapper,
    Range1d,
)
from bokeh.palettes import Category10_10, RdBu11
from bokeh.plotting import figure
from bokeh.transform import dodge

__all__ = [
    "add_trades",
    "area_figure",
    "band_figure",
    "bar_figure",
    "heatmap_figure",
    "line_figure",
    "price_figure",
    "stacked_area_figure",
    "volume_figure",
]

TOOLS = "pan,xwheel_zoom,box_zoom,reset,save"
PALETTE = Category10_10


def _time_figure(name: str, title: str, height: int, x_range: Any = None, **kw: Any):
    opts: dict[str, Any] = {
        "name": name,
        "title": title,
        "height": height,
        "x_axis_type": "datetime",
        "tools": TOOLS,
        "active_scroll": "xwheel_zoom",
        "sizing_mode": "stretch_width",
        "min_width": 300,
    }
    if x_range is not None:
        opts["x_range"] = x_range
    opts.update(kw)
    return figure(**opts)


def _naive(index: pd.Index) -> pd.DatetimeIndex:
    """Bokeh draws UTC wall time from tz-naive datetimes."""
    idx = pd.DatetimeIndex(index)
    return idx.tz_convert("UTC").tz_localize(None) if idx.tz is not None else idx


def price_figure(
    df: pd.DataFrame,
    title: str,
    *,
    name: str = "price",
    height: int = 320,
    x_range: Any = None,
) -> Any:
    """Return the close line over the high-low band of ``df``."""
    src = ColumnDataSource(
        {
            "time": _naive(df.index),
            "close": df["close"].to_numpy(),
            "high": df["high"].to_numpy(),
            "low": df["low"].to_numpy(),
        },
        name=f"{name}_source",
    )
    fig = _time_figure(name, title, height, x_range)
    fig.varea("time", "low", "high", source=src, fill_alpha=0.25, color=PALETTE[0])
    line = fig.line("time", "close", source=src, color=PALETTE[0], line_width=1.2)
    fig.add_tools(
        HoverTool(
            renderers=[line],
            tooltips=[("time", "@time{%F %H:%M}"), ("close", "@close{0,0.[0000]}")],
            formatters={"@time": "datetime"},
            mode="vline",
        )
    )
    fig.yaxis.axis_label = "price"
    return fig


def volume_figure(df: pd.DataFrame, x_range: Any, *, name: str = "volume") -> Any:
    """Return the volume bars of ``df`` on a shared time axis."""
    index = _naive(df.index)
    width_ms = (index[1] - index[0]).total_seconds() * 800 if len(index) > 1 else 1.0
    src = ColumnDataSource(
        {"time": index, "volume": df["volume"].to_numpy()}, name=f"{name}_source"
    )
    fig = _time_figure(name, "Volume", 160, x_range)
    fig.vbar("time", width_ms, "volume", source=src, color="#7f7f7f")
    fig.yaxis.axis_label = "volume"
    return fig


def line_figure(
    series: pd.DataFrame | pd.Series,
    title: str,
    *,
    name: str,
    x_range: Any = None,
    height: int = 200,
    y_label: str = "",
    zero_line: bool = False,
) -> Any:
    """Return one line per column of ``series`` (a Series is one line) over time."""
    frame = series.to_frame() if isinstance(series, pd.Series) else series
    data: dict[str, Any] = {"time": _naive(frame.index)}
    cols = [str(c) for c in frame.columns]
    for c, key in zip(frame.columns, cols, strict=True):
        data[key] = frame[c].to_numpy(dtype=np.float64)
    src = ColumnDataSource(data, name=f"{name}_source")
    fig = _time_figure(name, title, height, x_range)
    if zero_line:
        fig.line("time", 0.0, source=src, color="#bbbbbb", line_dash="dashed")
    for i, key in enumerate(cols):
        style: dict[str, Any] = {"color": PALETTE[i % len(PALETTE)], "line_width": 1.3}
        if len(cols) > 1:
            style["legend_label"] = key
        fig.line("time", key, source=src, **style)
    if len(cols) > 1:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
    fig.yaxis.axis_label = y_label
    return fig


def band_figure(
    y: pd.Series,
    lower: pd.Series,
    upper: pd.Series,
    title: str,
    *,
    name: str,
    x_range: Any = None,
    height: int = 260,
) -> Any:
    """Return ``y`` over the band ``[lower, upper]`` (infinite bounds are not drawn)."""
    lo = lower.to_numpy(dtype=np.float64).copy()
    hi = upper.to_numpy(dtype=np.float64).copy()
    bad = ~np.isfinite(lo) | ~np.isfinite(hi) | (hi < lo)
    lo[bad] = np.nan
    hi[bad] = np.nan
    src = ColumnDataSource(
        {"time": _naive(y.index), "y": y.to_numpy(dtype=np.float64), "lower": lo, "upper": hi},
        name=f"{name}_source",
    )
    fig = _time_figure(name, title, height, x_range)
    fig.varea("time", "lower", "upper", source=src, fill_alpha=0.3, color=PALETTE[2])
    fig.line("time", "y", source=src, color="#222222", line_width=1.0)
    return fig


def stacked_area_figure(
    frame: pd.DataFrame, title: str, *, name: str, x_range: Any = None, height: int = 200
) -> Any:
    """Return the columns of ``frame`` (shares summing to 1) stacked over time."""
    cols = [str(c) for c in frame.columns]
    data: dict[str, Any] = {"time": _naive(frame.index)}
    for c, key in zip(frame.columns, cols, strict=True):
        data[key] = frame[c].to_numpy(dtype=np.float64)
    src = ColumnDataSource(data, name=f"{name}_source")
    fig = _time_figure(name, title, height, x_range, y_range=Range1d(0.0, 1.0))
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(cols))]
    fig.varea_stack(cols, x="time", source=src, color=colors, legend_label=cols, alpha=0.7)
    fig.legend.location = "top_left"
    fig.yaxis.axis_label = "probability"
    return fig


def bar_figure(
    categories: Sequence[str],
    values: pd.DataFrame,
    title: str,
    *,
    name: str,
    height: int = 260,
    y_label: str = "",
) -> Any:
    """Return grouped bars: one group per category, one bar per column of ``values``."""
    cats = [str(c) for c in categories]
    cols = [str(c) for c in values.columns]
    fig = figure(
        name=name,
        title=title,
        x_range=cats,
        height=height,
        tools="save,reset",
        sizing_mode="stretch_width",
        min_width=300,
    )
    n = max(len(cols), 1)
    width = 0.8 / n
    for i, (c, key) in enumerate(zip(values.columns, cols, strict=True)):
        offset = (i - (n - 1) / 2) * width
        src = ColumnDataSource(
            {"x": cats, "top": values[c].to_numpy(dtype=np.float64)}, name=f"{name}_{key}"
        )
        fig.vbar(
            x=dodge("x", offset, range=fig.x_range),
            top="top",
            width=width * 0.95,
            source=src,
            color=PALETTE[i % len(PALETTE)],
            legend_label=key,
        )
    fig.yaxis.axis_label = y_label
    fig.legend.location = "top_right"
    return fig


def heatmap_figure(
    matrix: pd.DataFrame,
    title: str,
    *,
    name: str,
    height: int = 360,
    symmetric: bool = True,
    fmt: str = "{:.2f}",
) -> Any:
    """Return a heatmap of ``matrix`` (rows on y, columns on x) with values printed."""
    rows = [str(r) for r in matrix.index]
    cols = [str(c) for c in matrix.columns]
    values = matrix.to_numpy(dtype=np.float64)
    xs, ys, vs, texts = [], [], [], []
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            v = values[i, j]
            xs.append(c)
            ys.append(r)
            vs.append(v)
            texts.append(fmt.format(v) if np.isfinite(v) else "")
    finite = values[np.isfinite(values)]
    if symmetric:
        bound = float(np.max(np.abs(finite))) if finite.size else 1.0
        low, high = -(bound or 1.0), bound or 1.0
    else:
        low = float(finite.min()) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 1.0
        if high <= low:
            high = low + 1.0
    mapper = LinearColorMapper(palette=list(reversed(RdBu11)), low=low, high=high)
    src = ColumnDataSource({"x": xs, "y": ys, "value": vs, "text": texts}, name=f"{name}_source")
    fig = figure(
        name=name,
        title=title,
        x_range=cols,
        y_range=list(reversed(rows)),
        height=height,
        tools="hover,save",
        tooltips=[("", "@y / @x"), ("value", "@value{0.000}")],
        sizing_mode="stretch_width",
        min_width=300,
    )
    fig.rect(
        "x",
        "y",
        1,
        1,
        source=src,
        fill_color={"field": "value", "transform": mapper},
        line_color="white",
    )
    fig.text(
        "x",
        "y",
        text="text",
        source=src,
        text_align="center",
        text_baseline="middle",
        text_font_size="9pt",
    )
    fig.add_layout(ColorBar(color_mapper=mapper, ticker=BasicTicker()), "right")
    fig.xaxis.major_label_orientation = 0.8
    fig.grid.visible = False
    return fig


def add_trades(fig: Any, trades: pd.DataFrame, *, name: str = "trades") -> Any:
    """Mark trade entries (triangles pointing the trade's way) and exits (x) on a price figure.

    ``trades`` has the columns of :data:`quantlab.backtest.TRADE_COLUMNS`.
    """
    if trades.empty:
        return fig
    long = trades["direction"].astype(str).str.lower().str.startswith("l").to_numpy()
    entries = ColumnDataSource(
        {
            "time": _naive(pd.DatetimeIndex(trades["entry_time"])),
            "price": trades["entry_price"].to_numpy(dtype=np.float64),
            "pnl": trades["pnl"].to_numpy(dtype=np.float64),
            "marker": np.where(long, "triangle", "inverted_triangle"),
            "color": np.where(long, "#1b7f3b", "#b00020"),
        },
        name=f"{name}_entries",
    )
    fig.scatter(
        "time",
        "price",
        source=entries,
        marker="marker",
        color="color",
        size=9,
        legend_label="entry",
    )
    closed = trades[~trades["is_open"].astype(bool)]
    if len(closed):
        exits = ColumnDataSource(
            {
                "time": _naive(pd.DatetimeIndex(closed["exit_time"])),
                "price": closed["exit_price"].to_numpy(dtype=np.float64),
                "pnl": closed["pnl"].to_numpy(dtype=np.float64),
            },
            name=f"{name}_exits",
        )
        fig.scatter(
            "time",
            "price",
            source=exits,
            marker="x",
            color="#333333",
            size=9,
            line_width=2,
            legend_label="exit",
        )
    fig.legend.location = "top_left"
    return fig


def area_figure(
    series: pd.Series,
    title: str,
    *,
    name: str,
    x_range: Any = None,
    height: int = 160,
    color: str = "#b00020",
    y_label: str = "",
) -> Any:
    """Return ``series`` filled down (or up) to zero, e.g. a drawdown."""
    src = ColumnDataSource(
        {
            "time": _naive(series.index),
            "y": series.to_numpy(dtype=np.float64),
            "zero": np.zeros(len(series)),
        },
        name=f"{name}_source",
    )
    fig = _time_figure(name, title, height, x_range)
    fig.varea("time", "zero", "y", source=src, color=color, fill_alpha=0.4)
    fig.line("time", "y", source=src, color=color, line_width=1.0)
    fig.yaxis.axis_label = y_label
    return fig
