"""Shared pieces of the dashboard pages: messages, the data source, the page scaffolding.

A page never computes research results itself: it calls the quantlab functions a notebook
calls. This module only turns their outcomes into panes (an alert for an error, a note),
holds the bar-frame source every page reads from, and builds the pieces every page shares:
the pane that recomputes on a change and the standalone view with its own data pickers.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param

from quantlab.data.sources import source_names
from quantlab.errors import QuantlabError

__all__ = [
    "INTERVALS",
    "SOURCES",
    "DataControls",
    "FrameSource",
    "error_alert",
    "frame_or_alert",
    "guard",
    "live_pane",
    "load_bars",
    "note",
    "standalone_view",
]

#: The data sources the pickers offer: the bar sources of the one registry ``ql.data.load``
#: uses (a swap source such as ``"solana"`` gives no bars to plot).
SOURCES: tuple[str, ...] = tuple(source_names("bars"))
INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
DEFAULT_START = dt.date(2024, 1, 1)
DEFAULT_END = dt.date(2024, 2, 1)


# ----------------------------------------------------------------------------- messages
def error_alert(exc: BaseException, what: str = "") -> pn.pane.Alert:
    """Return a red alert that explains ``exc`` in one readable paragraph."""
    prefix = f"{what}: " if what else ""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, QuantlabError):
        body = f"**{type(exc).__name__}** — {prefix}{text}"
    else:
        body = f"**Unexpected {type(exc).__name__}** — {prefix}{text}"
    return pn.pane.Alert(body, alert_type="danger", sizing_mode="stretch_width")


def note(text: str, kind: str = "info") -> pn.pane.Alert:
    """Return an alert of ``kind`` (``info``, ``warning``, ``danger``) showing ``text``."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width")


def guard(build: Callable[[], Any], what: str = "") -> Any:
    """Call ``build()``; turn any exception into an alert so the page keeps serving."""
    try:
        return build()
    except Exception as exc:  # a page shows every failure as a message
        return error_alert(exc, what)


# ------------------------------------------------------------------------------- data
@pn.cache(max_items=32)
def load_bars(
    source: str,
    symbol: str,
    interval: str,
    start: str | None,
    end: str | None,
    seed: int | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Load bars through :func:`quantlab.data.load` (cached) with gaps allowed.

    Returns
    -------
    (DataFrame, tuple of str)
        The bars and the data-quality warnings raised while loading them (gaps are left
        in the frame and reported, not filled).
    """
    from quantlab.data import load

    options: dict[str, Any] = {}
    if source == "synthetic" and seed is not None:
        options["seed"] = int(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load(
            source,
            symbol=symbol,
            interval=interval,
            start=start,
            end=end,
            gaps="allow",
            **options,
        )
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    return df, messages


class FrameSource(param.Parameterized):
    """The bar frame a page shows, with a label and the error that replaced it, if any."""

    frame = param.DataFrame(default=None, allow_None=True, doc="validated bars")
    error = param.String(default="", doc="why there is no frame")
    warnings = param.List(default=[], item_type=str, doc="data-quality warnings")
    label = param.String(default="", doc="what the frame is, e.g. 'synthetic BTC 1h'")
    bar_interval = param.String(default=None, allow_None=True, doc="bar interval")
    raw = param.Parameter(default=None, doc="the user's frame when it failed validation")
    origin = param.Dict(default={}, doc="ql.data.load arguments of the frame, if known")

    @classmethod
    def from_frame(cls, df: Any, label: str = "", interval: str | None = None) -> FrameSource:
        """Wrap a user's frame after :func:`quantlab.data.validate` (gaps allowed)."""
        from quantlab.data import infer_interval, validate

        try:
            frame = validate(df, interval, gaps="allow")
        except Exception as exc:
            return cls(frame=None, error=_message(exc), label=label or "your frame", raw=df)
        if interval is None:
            step = infer_interval(frame.index)
            interval = _interval_name(step)
        return cls(frame=frame, label=label or "your frame", bar_interval=interval)

    def widgets(self, horizontal: bool = False) -> pn.viewable.Viewable | None:
        """Return the controls of this source (None: a fixed frame has none)."""
        return None


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _interval_name(step: pd.Timedelta | None) -> str | None:
    if step is None:
        return None
    seconds = int(step.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return None


class DataControls(FrameSource):
    """Source, symbol, interval, range and seed pickers that load bars on every change."""

    source = param.Selector(default="synthetic", objects=list(SOURCES), doc="where bars come from")
    symbol = param.String(default="BTC", doc="coin, e.g. BTC")
    interval = param.Selector(default="1h", objects=list(INTERVALS), doc="bar interval")
    start = param.Date(default=DEFAULT_START, doc="first bar (UTC, inclusive)")
    end = param.Date(default=DEFAULT_END, doc="end of the range (UTC, exclusive)")
    seed = param.Integer(default=7, bounds=(0, None), doc="seed of the synthetic market")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._reload()

    @param.depends("source", "symbol", "interval", "start", "end", "seed", watch=True)
    def _reload(self) -> None:
        symbol = (self.symbol or "").strip()
        label = f"{self.source} {symbol} {self.interval}"
        if self.source == "synthetic":
            label += f" (seed {self.seed})"
        problem = self._check()
        if problem:
            self.param.update(
                frame=None, error=problem, warnings=[], label=label, bar_interval=self.interval
            )
            return
        try:
            df, messages = load_bars(
                self.source,
                symbol,
                self.interval,
                _iso(self.start),
                _iso(self.end),
                self.seed if self.source == "synthetic" else None,
            )
        except Exception as exc:  # shown in the page; the app keeps serving
            self.param.update(
                frame=None,
                error=_message(exc),
                warnings=[],
                label=label,
                bar_interval=self.interval,
            )
            return
        origin = {"source": self.source, "symbol": symbol, "interval": self.interval}
        if self.source == "synthetic":
            origin["seed"] = self.seed
        self.param.update(
            frame=df,
            error="",
            warnings=list(messages),
            label=label,
            bar_interval=self.interval,
            origin=origin,
        )

    def _check(self) -> str:
        if not (self.symbol or "").strip():
            return "ConfigError: symbol is empty; enter a coin such as BTC"
        return ""

    def widgets(self, horizontal: bool = False) -> pn.viewable.Viewable:
        """Return the pickers, in a column (sidebar) or a row (inline view)."""
        width = 160 if horizontal else 250
        kinds = {
            "source": (pn.widgets.Select, "Source"),
            "symbol": (pn.widgets.TextInput, "Symbol"),
            "interval": (pn.widgets.Select, "Interval"),
            "start": (pn.widgets.DatePicker, "Start (UTC)"),
            "end": (pn.widgets.DatePicker, "End (UTC, exclusive)"),
            "seed": (pn.widgets.IntInput, "Seed (synthetic)"),
        }
        return pn.Param(
            self,
            parameters=list(kinds),
            widgets={k: {"type": t, "label": n, "width": width} for k, (t, n) in kinds.items()},
            show_name=False,
            default_layout=pn.Row if horizontal else pn.Column,
        )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def frame_or_alert(source: FrameSource) -> pd.DataFrame | pn.pane.Alert:
    """Return the source's frame, or the alert that says why there is none."""
    if source.frame is not None:
        return source.frame
    if source.error:
        return note(f"**Cannot load {source.label or 'the bars'}** — {source.error}", "danger")
    return note("No bars loaded yet.", "info")


# ------------------------------------------------------------------------------ pages
def live_pane(
    source: FrameSource, content: Callable[[], Any], *deps: Any, lazy: bool = False
) -> pn.viewable.Viewable:
    """Return a pane showing ``content()``, computed again when its inputs change.

    The inputs are the source's frame and error and the ``param`` parameters ``deps``
    (e.g. ``choice.param.selection``). With ``lazy`` the pane computes only while it is
    shown (the app's hidden tabs wait).
    """
    bound = pn.bind(lambda *_: content(), source.param.frame, source.param.error, *deps)
    return pn.panel(bound, loading_indicator=True, lazy=lazy, sizing_mode="stretch_width")


def standalone_view(
    page: Callable[[FrameSource], Any],
    df: pd.DataFrame | None,
    interval: str | None,
    carry: tuple[str, ...] = ("choice",),
) -> Any:
    """Return ``page`` over the user's ``df``, or over its own data pickers without one.

    Without ``df`` the pickers (synthetic BTC by default) stand in a row above the page, and
    the returned column holds ``source`` (the pickers) and the page's ``carry`` attributes
    (None where the page has none), for notebooks and tests.
    """
    if df is not None:
        return page(FrameSource.from_frame(df, interval=interval))
    controls = DataControls()
    shown = page(controls)
    out = pn.Column(controls.widgets(horizontal=True), shown, sizing_mode="stretch_width")
    for name in carry:
        setattr(out, name, getattr(shown, name, None))
    out.source = controls
    return out
