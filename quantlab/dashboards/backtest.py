"""Backtest and sweep page: pick a strategy and its parameters; equity, drawdown, trades, stats.

The backtest is :func:`quantlab.backtest.run`; the strategies are the registered kinds of
:data:`quantlab.backtest.STRATEGIES` built with their own validation. The sweep heatmap
comes from a stored sweep table (the sweep notebook's output: one row per combination,
parameter and metric columns) or is run on demand through the fused sweep kernel of
:mod:`quantlab.backtest.sweeps`, in chunks, with a progress bar.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Iterator
from pathlib import Path
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
from quantlab.errors import ConfigError, DataError

__all__ = [
    "BacktestChoice",
    "backtest_page",
    "backtest_view",
    "load_sweep",
    "parse_values",
    "stored_sweeps",
    "sweep_chunks",
    "sweep_heatmap_table",
]

DEFAULT_STRATEGY = "ma_cross"
_NESTED = ("kind", "sizing", "stops", "limits", "breaker", "edge")
COSTS = ("hyperliquid", "none")
DEFAULT_METRIC = "sharpe"


def _strategies() -> dict[str, Any]:
    from quantlab.backtest import STRATEGIES

    out = {}
    for kind, cls in STRATEGIES.items():
        required = [n for n, f in cls.model_fields.items() if f.is_required() and n not in _NESTED]
        if not required:  # kinds that need more than numbers (a composition) are skipped
            out[kind] = cls
    return out


def _fields(cls: Any) -> dict[str, Any]:
    """Return the top-level numeric/choice fields of a strategy class (name -> FieldInfo)."""
    out = {}
    for name, f in cls.model_fields.items():
        if name in _NESTED:
            continue
        tp = f.annotation
        if tp in (int, float, bool) or typing.get_origin(tp) is typing.Literal:
            out[name] = f
    return out


def _bound(f: Any, key: str) -> float | None:
    for m in f.metadata:
        value = getattr(m, key, None)
        if value is not None:
            return value
    return None


def _field_widget(name: str, f: Any) -> pn.widgets.Widget:
    tp = f.annotation
    doc = f.description or None
    if typing.get_origin(tp) is typing.Literal:
        return pn.widgets.Select(
            label=name,
            options=list(typing.get_args(tp)),
            value=f.default,
            width=150,
            description=doc,
        )
    if tp is bool:
        return pn.widgets.Checkbox(label=name, value=bool(f.default))
    ge, gt = _bound(f, "ge"), _bound(f, "gt")
    if tp is int:
        start = ge if ge is not None else (gt + 1 if gt is not None else None)
        return pn.widgets.IntInput(
            label=name, value=int(f.default), start=start, width=150, description=doc
        )
    return pn.widgets.FloatInput(
        label=name, value=float(f.default), start=ge, step=0.1, width=150, description=doc
    )


def parse_values(text: str, name: str) -> list[Any]:
    """Return the grid values typed as ``"5, 10, 20"`` (ints stay ints); ConfigError if bad."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"sweep: values of {name!r} are empty; type e.g. 5, 10, 20")
    out: list[Any] = []
    for p in parts:
        try:
            out.append(int(p))
        except ValueError:
            try:
                out.append(float(p))
            except ValueError:
                raise ConfigError(f"sweep: value {p!r} of {name!r} is not a number") from None
    return list(dict.fromkeys(out))


def _costs(choice: str) -> Any:
    from quantlab.backtest import Costs

    return Costs.hyperliquid() if choice == "hyperliquid" else Costs()  # "none": zero, asked


def sweep_chunks(
    df: pd.DataFrame,
    strategy: Any,
    grid: dict[str, list[Any]],
    costs: Any = None,
    fill: str = "next_open",
    n_chunks: int = 10,
) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """Yield ``(done, total, table)`` as the sweep of ``grid`` runs, chunk by chunk.

    The sweep's own batch path (:func:`quantlab.backtest.batch.stream_grid`): the grid
    validated axis by axis, refused combinations skipped, each chunk through the fused
    kernel (equal to :func:`quantlab.backtest.run` run by run); ``table`` holds the rows so
    far: the grid parameters, then the statistics, as :func:`quantlab.backtest.sweep`
    returns them.
    """
    from quantlab.backtest.batch import stream_grid
    from quantlab.backtest.engine import prepare_bars
    from quantlab.backtest.grid import plan_grid
    from quantlab.backtest.options import RunOptions

    options = RunOptions(costs=costs, fill=fill, gaps="allow")
    plan = plan_grid(strategy, grid, options.costs)
    bars = prepare_bars(df, None, "allow")
    total = plan.n_valid
    size = max(1, -(-total // max(1, n_chunks)))
    parts: list[pd.DataFrame] = []
    done = 0
    for idx, stats in stream_grid(bars, plan, options, chunk_size=size):
        parts.append(pd.DataFrame({**plan.columns(idx), **stats}))
        done += idx.shape[1]
        yield done, total, pd.concat(parts, ignore_index=True)


def _best_rows(table: pd.DataFrame, metric: str, n: int = 10) -> pd.DataFrame:
    """Return the ``n`` best rows by ``metric`` in its better direction (any other column:
    largest first)."""
    from quantlab.backtest.stats import METRIC_DIRECTIONS
    from quantlab.backtest.sweeps import rank_table

    if metric in METRIC_DIRECTIONS:
        return rank_table(table, metric).head(n)
    return table.sort_values(metric, ascending=False).head(n)


def sweep_heatmap_table(table: pd.DataFrame, x: str, y: str, metric: str) -> pd.DataFrame:
    """Return ``metric`` pivoted with ``y`` values as rows and ``x`` values as columns."""
    for col in (x, y, metric):
        if col not in table.columns:
            raise DataError(
                f"sweep table: no column {col!r}; it has {', '.join(map(str, table.columns))}"
            )
    return table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")


SWEEP_PATTERNS = ("sweep*.parquet", "sweep*.csv", "sweep*.json")


def stored_sweeps(root: str | Path = "reports") -> list[Path]:
    """Return the sweep tables stored under ``root`` (``sweep*.parquet/csv/json``), newest first.

    The sweep notebook writes its table into its run folder
    (``reports/<date>/<run-id>/sweep.parquet``); any folder depth is searched.
    """
    base = Path(root)
    if not base.is_dir():
        return []
    found = {p for pattern in SWEEP_PATTERNS for p in base.rglob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)


def load_sweep(path: str | Path) -> pd.DataFrame:
    """Read a stored sweep table (``.parquet``, ``.csv`` or ``.json`` records)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(p)
    if suffix == ".csv":
        return pd.read_csv(p)
    if suffix == ".json":
        return pd.read_json(p)
    raise ConfigError(f"sweep file {p.name!r}: expected .parquet, .csv or .json")


class BacktestChoice(param.Parameterized):
    """Strategy, parameters, costs and fill of the Backtest page."""

    strategy = param.Selector(default=DEFAULT_STRATEGY, objects=[DEFAULT_STRATEGY])
    selection = param.Dict(default={}, doc="{'kind': ..., 'params': {...}}")
    stop_loss = param.Number(0.0, bounds=(0.0, 0.99), doc="hard stop, fraction (0: off)")
    costs = param.Selector(default="hyperliquid", objects=list(COSTS), doc="fees and slippage")
    fill = param.Selector(default="next_open", objects=["next_open", "close"])

    def __init__(self, strategy: str = DEFAULT_STRATEGY, **params: Any) -> None:
        super().__init__(**params)
        kinds = list(_strategies())
        self.param.strategy.objects = kinds
        self.param_box = pn.Row(sizing_mode="stretch_width")
        self._widgets: dict[str, pn.widgets.Widget] = {}
        self.strategy = strategy if strategy in kinds else kinds[0]
        self._rebuild()

    @param.depends("strategy", watch=True)
    def _rebuild(self) -> None:
        cls = _strategies()[self.strategy]
        self._widgets = {n: _field_widget(n, f) for n, f in _fields(cls).items()}
        for w in self._widgets.values():
            w.param.watch(self._changed, "value")
        self.param_box.objects = list(self._widgets.values())
        self._changed()

    def _changed(self, *_: Any) -> None:
        self.selection = {
            "kind": self.strategy,
            "params": {k: w.value for k, w in self._widgets.items()},
        }

    def numeric_params(self) -> list[str]:
        """Return the numeric parameters of the current strategy (sweepable)."""
        cls = _strategies()[self.strategy]
        return [n for n, f in _fields(cls).items() if f.annotation in (int, float)]

    def build(self) -> Any:
        """Return the strategy object (its own validation raises ConfigError)."""
        from quantlab.backtest import load_strategy

        spec = {"kind": self.selection["kind"], **self.selection["params"]}
        if self.stop_loss:
            spec["stops"] = {"stop_loss": float(self.stop_loss)}
        return load_strategy(spec)

    def widgets(self) -> pn.viewable.Viewable:
        """Return the strategy picker, its parameters, stop, costs and fill."""
        p = self.param
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(p.strategy, label="Strategy", width=200),
                pn.widgets.FloatInput.from_param(
                    p.stop_loss, label="Stop loss (0 = off)", step=0.01, width=150
                ),
                pn.widgets.Select.from_param(p.costs, label="Costs", width=150),
                pn.widgets.Select.from_param(p.fill, label="Fill", width=150),
                sizing_mode="stretch_width",
            ),
            self.param_box,
            sizing_mode="stretch_width",
        )


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _run_section(df: pd.DataFrame, label: str, choice: BacktestChoice) -> Any:
    from quantlab.backtest import run

    strategy = choice.build()
    res = run(df, strategy, costs=_costs(choice.costs), fill=choice.fill, gaps="allow")
    s = res.stats
    title = (
        f"{label}: {strategy.kind} ({_params_text(choice.selection['params'])}) — "
        f"{int(s['n_trades'])} trades, return {s['total_return']:.2%}"
    )
    price = charts.price_figure(df, title, name="bt_price", height=280)
    charts.add_trades(price, res.trades)
    equity = charts.line_figure(
        res.equity.rename("equity"), "Equity", name="equity", x_range=price.x_range, height=200
    )
    drawdown = charts.area_figure(
        res.drawdown, "Drawdown", name="drawdown", x_range=price.x_range, y_label="fraction"
    )
    stats = s.to_frame("value")
    trades = res.trades.head(200)
    return pn.Column(
        pn.pane.Bokeh(price, sizing_mode="stretch_width"),
        pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
        pn.pane.Bokeh(drawdown, sizing_mode="stretch_width"),
        pn.Row(
            pn.Column(
                "#### Stats",
                pn.pane.DataFrame(stats, name="stats", float_format="{:.4g}".format),
                width=320,
            ),
            pn.Column(
                f"#### Trades ({len(res.trades)})",
                pn.pane.DataFrame(
                    trades,
                    name="trades",
                    index=False,
                    sizing_mode="stretch_width",
                    max_rows=200,
                    float_format="{:.4g}".format,
                ),
                sizing_mode="stretch_width",
                max_height=420,
                scroll=True,
            ),
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )


class SweepPanel:
    """Sweep inputs, the on-demand run with its progress bar, and the heatmap."""

    def __init__(
        self, source: FrameSource, choice: BacktestChoice, reports_root: str | Path = "reports"
    ) -> None:
        from quantlab.backtest import STAT_NAMES

        self.source, self.choice = source, choice
        self.x = pn.widgets.Select(label="x parameter", width=150)
        self.y = pn.widgets.Select(label="y parameter", width=150)
        self.x_values = pn.widgets.TextInput(label="x values", width=180)
        self.y_values = pn.widgets.TextInput(label="y values", width=180)
        self.metric = pn.widgets.Select(
            label="Metric", options=list(STAT_NAMES), value=DEFAULT_METRIC, width=150
        )
        self.run_button = pn.widgets.Button(label="Run sweep", color="primary", width=120)
        self.progress = pn.indicators.Progress(
            value=0, max=1, visible=False, sizing_mode="stretch_width"
        )
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.path = pn.widgets.TextInput(
            label="Stored sweep (.parquet/.csv/.json)",
            placeholder="reports/<date>/<run>/sweep.parquet",
            value=str(next(iter(stored_sweeps(reports_root)), "")),
            width=360,
        )
        self.load_button = pn.widgets.Button(label="Load stored sweep", width=160)
        self.result = pn.Column(sizing_mode="stretch_width")
        self.table: pd.DataFrame | None = None
        self.run_button.on_click(self._on_run)
        self.load_button.on_click(self._on_load)
        self.metric.param.watch(lambda _e: self._draw(), "value")
        choice.param.watch(lambda _e: self._axes(), "strategy")
        self._axes()

    def _axes(self) -> None:
        names = self.choice.numeric_params()
        self.x.options, self.y.options = names, names
        if names:
            self.x.value = names[0]
            self.y.value = names[1] if len(names) > 1 else names[0]
        defaults = self.choice.selection.get("params", {})
        for axis, box in ((self.x, self.x_values), (self.y, self.y_values)):
            v = defaults.get(axis.value)
            if isinstance(v, int | float):
                box.value = ", ".join(_spread(v))

    def grid(self) -> dict[str, list[Any]]:
        """Return the grid typed in the inputs."""
        if self.x.value is None:
            raise ConfigError("sweep: this strategy has no numeric parameter to sweep")
        grid = {self.x.value: parse_values(self.x_values.value, self.x.value)}
        if self.y.value != self.x.value:
            grid[self.y.value] = parse_values(self.y_values.value, self.y.value)
        return grid

    async def run_sweep(self) -> None:
        """Run the sweep on the current bars, updating the progress bar after each run."""
        df = self.source.frame
        if df is None:
            self.result.objects = [note("No bars loaded: nothing to sweep.", "warning")]
            return
        try:
            base, grid = self.choice.build(), self.grid()
            chunks = sweep_chunks(df, base, grid, _costs(self.choice.costs), self.choice.fill)
        except Exception as exc:
            self.result.objects = [error_alert(exc, "sweep")]
            return
        self.run_button.disabled = True
        self.progress.param.update(visible=True, value=0, max=1)
        loop = asyncio.get_running_loop()
        table = None
        try:
            while True:
                item = await loop.run_in_executor(None, next, chunks, None)
                if item is None:
                    break
                done, total, table = item
                self.progress.max = total
                self.progress.value = done
                self.status.object = f"Sweep: {done} / {total} combinations"
        except Exception as exc:
            self.result.objects = [error_alert(exc, "sweep")]
            return
        finally:
            self.run_button.disabled = False
        self.table = table
        n = 0 if table is None else len(table)
        self.status.object = f"Sweep done: {n} combinations run on {self.source.label}."
        self._draw()

    async def _on_run(self, _event: Any) -> None:
        await self.run_sweep()

    def _on_load(self, _event: Any = None) -> None:
        try:
            table = load_sweep(self.path.value)
        except Exception as exc:
            self.result.objects = [error_alert(exc, "stored sweep")]
            return
        self.table = table
        params = [c for c in table.columns if c in self.choice.numeric_params()]
        if len(params) >= 1:
            self.x.value = params[0]
            self.y.value = params[1] if len(params) > 1 else params[0]
        self.status.object = f"Stored sweep: {len(table)} rows from `{self.path.value}`."
        self._draw()

    def _draw(self) -> None:
        if self.table is None:
            return
        try:
            x, y = self.x.value, self.y.value
            matrix = sweep_heatmap_table(self.table, x, y, self.metric.value)
            fig = charts.heatmap_figure(
                matrix,
                f"Sweep: {self.metric.value} by {y} (rows) and {x} (columns)",
                name="sweep",
                symmetric=bool((matrix.to_numpy() < 0).any() and (matrix.to_numpy() > 0).any()),
                fmt="{:.3g}",
            )
            best = _best_rows(self.table, self.metric.value)
            self.result.objects = [
                pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
                pn.pane.DataFrame(
                    best,
                    name="sweep_best",
                    index=False,
                    float_format="{:.4g}".format,
                    sizing_mode="stretch_width",
                ),
            ]
        except Exception as exc:
            self.result.objects = [error_alert(exc, "sweep heatmap")]

    def view(self) -> pn.viewable.Viewable:
        """Return the sweep section."""
        return pn.Column(
            "### Parameter sweep",
            pn.Row(
                self.x,
                self.x_values,
                self.y,
                self.y_values,
                self.metric,
                sizing_mode="stretch_width",
            ),
            pn.Row(self.run_button, self.path, self.load_button, sizing_mode="stretch_width"),
            self.progress,
            self.status,
            self.result,
            sizing_mode="stretch_width",
        )


def _spread(v: float) -> list[str]:
    if isinstance(v, int):
        vals = sorted({max(1, round(v * f)) for f in (0.5, 0.75, 1.0, 1.5, 2.0)})
        return [str(x) for x in vals]
    return [f"{v * f:g}" for f in (0.5, 0.75, 1.0, 1.5, 2.0)]


def _content(source: FrameSource, choice: BacktestChoice) -> Any:
    df = frame_or_alert(source)
    if not isinstance(df, pd.DataFrame):
        return df
    if not choice.selection:
        return note("No strategy is registered.", "warning")
    return guard(lambda: _run_section(df, source.label, choice), "backtest")


def backtest_page(
    source: FrameSource,
    strategy: str = DEFAULT_STRATEGY,
    reports_root: str | Path = "reports",
    *,
    lazy: bool = False,
) -> pn.viewable.Viewable:
    """Return the Backtest and sweep page over ``source``.

    The stored-sweep input starts at the newest ``sweep*`` table under ``reports_root``.
    With ``lazy`` the page computes only while it is shown (the app's hidden tabs wait).
    """
    choice = BacktestChoice(strategy=strategy)
    sweep = SweepPanel(source, choice, reports_root)
    content = live_pane(
        source,
        lambda: _content(source, choice),
        choice.param.selection,
        choice.param.stop_loss,
        choice.param.costs,
        choice.param.fill,
        lazy=lazy,
    )
    page = pn.Column(choice.widgets(), content, sweep.view(), sizing_mode="stretch_width")
    page.choice, page.source, page.sweep = choice, source, sweep  # for notebooks and tests
    return page


def backtest_view(
    df: pd.DataFrame | None = None,
    strategy: str = DEFAULT_STRATEGY,
    interval: str | None = None,
) -> pn.viewable.Viewable:
    """Return the Backtest view: equity, drawdown, trades on price, stats, and a sweep.

    Parameters
    ----------
    df : pd.DataFrame, optional
        Bars; without it the view has its own data pickers (synthetic BTC by default).
    strategy : str
        Strategy kind shown first (``ma_cross``, ``ema_trend``, ``mean_reversion``,
        ``donchian_breakout``).
    interval : str, optional
        Bar interval of ``df`` (inferred when omitted).

    Returns
    -------
    panel viewable
        Display it in a notebook cell or serve it; bad input shows a message in the view.
    """
    return standalone_view(
        lambda source: backtest_page(source, strategy), df, interval, carry=("choice", "sweep")
    )
