"""The Live page: every runner, its lifecycle state, health, money and kill switch.

A view over :mod:`quantlab.lifecycle.monitor` (read-only journals and the promotion
registry), refreshed every ``refresh_ms``. The only action is the kill switch
(``close_only`` or ``halt_all``), behind a confirmation and only for a browser on this
machine (loopback); it sends the same request as ``runner.kill(mode)``. Nothing here
promotes a strategy: promotions need evidence, through ``ql.lifecycle.promote`` or
``quantlab promote``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn

from quantlab.dashboards._common import error_alert, note
from quantlab.dashboards.charts import area_figure, line_figure

__all__ = ["LIVE_DIR_ENV", "LivePage", "live_page"]

LIVE_DIR_ENV = "QUANTLAB_LIVE_DIR"
KILL_MODES = ("close_only", "halt_all")


def _client_address() -> str | None:
    """Return the address of the browser of this session (None outside a server)."""
    try:
        ctx = pn.state.curdoc.session_context if pn.state.curdoc is not None else None
        request = getattr(ctx, "request", None) if ctx is not None else None
        return getattr(request, "remote_ip", None) if request is not None else None
    except Exception:  # no session: a notebook or a test building the page
        return None


class LivePage:
    """The Live page's widgets and their refresh.

    Parameters
    ----------
    root : path, optional
        Folder of run folders (default ``$QUANTLAB_LIVE_DIR`` or ``data/live``).
    registry : path, optional
        Promotion registry (default ``$QUANTLAB_LIFECYCLE_REGISTRY`` or its default).
    refresh_ms : int
        Refresh period while served (0: no periodic refresh).
    allow_kill : bool, optional
        Override the loopback check (None: allowed only for a loopback browser, or when
        built outside a server).
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        registry: str | Path | None = None,
        refresh_ms: int = 2000,
        allow_kill: bool | None = None,
    ) -> None:
        from quantlab.lifecycle.monitor import is_loopback

        self.root = Path(root or os.environ.get(LIVE_DIR_ENV) or Path("data") / "live")
        self.registry = registry
        address = _client_address()
        self.kill_allowed = (
            allow_kill if allow_kill is not None else (address is None or is_loopback(address))
        )
        self.header = pn.pane.Markdown(sizing_mode="stretch_width")
        self.table = pn.pane.DataFrame(
            pd.DataFrame(), index=False, sizing_mode="stretch_width", name="live_overview"
        )
        self.select = pn.widgets.Select(name="Runner", options=[], width=420)
        self.select.param.watch(lambda _e: self.refresh_detail(), "value")
        self.status = pn.pane.Markdown(sizing_mode="stretch_width", name="live_status")
        self.equity = pn.pane.Bokeh(sizing_mode="stretch_width")
        self.drawdown = pn.pane.Bokeh(sizing_mode="stretch_width")
        frame = {"index": False, "sizing_mode": "stretch_width", "max_rows": 20}
        self.positions = pn.pane.DataFrame(pd.DataFrame(), **frame)
        self.orders = pn.pane.DataFrame(pd.DataFrame(), **frame)
        self.fills = pn.pane.DataFrame(pd.DataFrame(), **frame)
        self.alerts = pn.pane.DataFrame(pd.DataFrame(), **frame)
        self.message = pn.Column(sizing_mode="stretch_width")
        self.judge = pn.widgets.Button(label="Gates of the next promotion", width=240)
        self.judge.on_click(lambda _e: self.show_gates())
        self.gates = pn.Column(sizing_mode="stretch_width")
        self.kill_buttons = [
            pn.widgets.Button(label=f"Kill: {m}", button_type="danger", width=170)
            for m in KILL_MODES
        ]
        self.confirm = pn.widgets.Button(label="Confirm", button_type="danger", width=120)
        self.cancel = pn.widgets.Button(label="Cancel", width=100)
        self.confirm_row = pn.Row(pn.pane.Markdown(""), self.confirm, self.cancel, visible=False)
        self._pending: str | None = None
        for mode, button in zip(KILL_MODES, self.kill_buttons, strict=True):
            button.disabled = not self.kill_allowed
            button.on_click(lambda _e, mode=mode: self.ask(mode))
        self.confirm.on_click(lambda _e: self.do_kill())
        self.cancel.on_click(lambda _e: self.ask(None))
        self.refresh()

    # ---------------------------------------------------------------- refresh
    def refresh(self) -> None:
        """Re-read every runner (the overview) and the selected one (the detail)."""
        from quantlab.lifecycle.monitor import overview

        try:
            table = overview(self.root, registry=self.registry)
        except Exception as exc:
            self.message.objects = [error_alert(exc, "Live")]
            return
        shown = table.copy()
        for col in ("equity", "heartbeat_age_s"):
            shown[col] = shown[col].map(lambda x: None if x is None else round(float(x), 2))
        shown["drawdown"] = shown["drawdown"].map(
            lambda x: None if x is None or pd.isna(x) else f"{float(x):.2%}"
        )
        self.table.object = shown
        runs = list(table["run"])
        self.header.object = (
            f"**{len(runs)} runner(s)** under `{self.root}`; refreshed "
            f"{pd.Timestamp.now(tz='UTC'):%H:%M:%S} UTC"
            + ("" if runs else " — start one with `ql.live.launch(...)` or `quantlab live run`")
        )
        if runs != list(self.select.options):
            current = self.select.value
            self.select.options = runs
            self.select.value = current if current in runs else (runs[0] if runs else None)
        self.refresh_detail()

    def refresh_detail(self) -> None:
        """Re-read the selected runner."""
        from quantlab.lifecycle.monitor import detail

        run = self.select.value
        if not run:
            self.status.object = "No runner selected."
            return
        try:
            d = detail(self.run_dir, registry=self.registry)
        except Exception as exc:
            self.message.objects = [error_alert(exc, f"runner {run}")]
            return
        s = d["status"]
        kill = s.get("kill")
        pos = (s.get("position") or {}).get(s.get("symbol"), 0.0)
        self.status.object = (
            f"### {run}\n"
            f"lifecycle **{s.get('lifecycle')}** (size {s.get('size_fraction')}) · mode "
            f"**{s.get('mode')}** · {s.get('phase')} · alive {s.get('alive')} · heartbeat "
            f"{s.get('heartbeat_age_s')} s ago · bars {s.get('bars')} (last {s.get('last_bar')})"
            f" · equity {s.get('equity')} · position {pos} · breaker {d.get('breaker')}"
            " · kill switch "
            f"**{kill['mode'] if kill else 'clear'}**"
            + (f" ({kill.get('reason')})" if kill else "")
        )
        if len(d["equity"]):
            self.equity.object = line_figure(
                d["equity"], f"{run}: equity", name="live_equity", height=220
            )
            self.drawdown.object = area_figure(
                d["drawdown"] * 100, "drawdown (%)", name="live_drawdown",
                x_range=self.equity.object.x_range, height=140,
            )  # fmt: skip
        self.positions.object = d["positions"]
        self.orders.object = d["open_orders"]
        self.fills.object = d["fills"]
        self.alerts.object = d["alerts"]

    @property
    def run_dir(self) -> Path:
        from quantlab.lifecycle.monitor import run_dirs

        for p in run_dirs(self.root):
            if p.name == self.select.value:
                return p
        return self.root / str(self.select.value)

    # ----------------------------------------------------------------- gates
    def show_gates(self) -> None:
        """Judge the selected runner's journal for the next promotion (records nothing)."""
        from quantlab.lifecycle import evaluate, open_registry
        from quantlab.lifecycle.monitor import next_state

        try:
            shash = self._status().get("strategy_hash")
            reg = open_registry(self.registry)
            target = next_state(reg, shash)
            if target is None:
                state = reg.state(shash).value if shash else "unknown"
                self.gates.objects = [note(f"{state}: no promotion to judge on a journal")]
                return
            journal = self.run_dir / "journal.sqlite"
            d = evaluate(shash, to=target, evidence=journal, registry=self.registry)
        except Exception as exc:
            self.gates.objects = [error_alert(exc, "gates")]
            return
        verdict = "would be allowed" if d.allowed else "refused"
        why = "".join(f"\n- {r}" for r in d.reasons)
        self.gates.objects = [
            pn.pane.Markdown(
                f"**{d.from_state.value} -> {d.to_state.value}: {verdict}** on this journal "
                f"(judged only; promotions go through `quantlab promote`){why}"
            ),
            pn.pane.DataFrame(d.table(), index=False, sizing_mode="stretch_width"),
        ]

    def _status(self) -> dict[str, Any]:
        from quantlab.live.handle import read_status

        return read_status(self.run_dir)

    # ------------------------------------------------------------------ kill
    def ask(self, mode: str | None) -> None:
        """Show (or hide, ``mode=None``) the confirmation of a kill."""
        self._pending = mode
        if mode is None or not self.kill_allowed:
            self.confirm_row.visible = False
            return
        self.confirm_row[0].object = (
            f"Trip the kill switch **{mode}** on **{self.select.value}**? "
            + (
                "It closes the position and opens nothing new."
                if mode == "close_only"
                else "It sends nothing more, and leaves the position as it is."
            )
        )
        self.confirm_row.visible = True

    def do_kill(self) -> None:
        """Send the confirmed kill request to the selected runner."""
        from quantlab.live.handle import RunnerHandle

        mode, self._pending = self._pending, None
        self.confirm_row.visible = False
        if mode is None or not self.select.value:
            return
        if not self.kill_allowed:
            self.message.objects = [note("The kill switch works only from this machine.", "danger")]
            return
        try:
            RunnerHandle(self.run_dir).kill(mode)
        except Exception as exc:
            self.message.objects = [error_alert(exc, "kill")]
            return
        self.message.objects = [
            note(
                f"kill {mode} requested for {self.select.value}; the runner applies it "
                "on its next loop (sticky until cleared by command)",
                "warning",
            )
        ]
        self.refresh()

    # ---------------------------------------------------------------- layout
    def view(self) -> pn.Column:
        kill_help = (
            "Kill switch (sticky until `quantlab live kill --clear`):"
            if self.kill_allowed
            else "Kill switch: only from a browser on this machine."
        )
        return pn.Column(
            self.header,
            self.table,
            self.message,
            pn.Row(self.select),
            self.status,
            pn.Row(pn.pane.Markdown(kill_help), *self.kill_buttons),
            self.confirm_row,
            pn.Row(self.judge),
            self.gates,
            self.equity,
            self.drawdown,
            pn.Row(
                pn.Column("#### Positions", self.positions, "#### Open orders", self.orders),
                pn.Column("#### Recent fills", self.fills),
                sizing_mode="stretch_width",
            ),
            "#### Alerts",
            self.alerts,
            sizing_mode="stretch_width",
        )


def live_page(
    root: str | Path | None = None,
    *,
    registry: str | Path | None = None,
    refresh_ms: int = 2000,
    allow_kill: bool | None = None,
) -> pn.Column:
    """Return the Live page (see :class:`LivePage`), refreshing itself while served."""
    page = LivePage(root, registry=registry, refresh_ms=refresh_ms, allow_kill=allow_kill)
    layout = page.view()
    layout.live_page = page  # type: ignore[attr-defined]  # tests and notebooks reach it
    if refresh_ms and pn.state.curdoc is not None and pn.state.curdoc.session_context:
        pn.state.add_periodic_callback(page.refresh, period=int(refresh_ms))
    return layout
