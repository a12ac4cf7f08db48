"""The multi-page dashboard app and ``serve`` (what ``quantlab dashboard`` runs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from quantlab._typing import PathLikeStr
from quantlab.dashboards._common import DataControls, FrameSource, guard

__all__ = ["PAGES", "app", "serve"]

#: Page titles in tab order, with the ``?page=`` key each one answers to.
PAGES = {
    "data": "Data",
    "factors": "Factors",
    "models": "Models",
    "backtest": "Backtest and sweep",
    "onchain": "On-chain",
    "reports": "Reports",
    "live": "Live",
}

REPORTS_ROUTE = "reports"


def _builders(root: PathLikeStr, link_prefix: str | None) -> dict[str, Callable[..., Any]]:
    from quantlab.dashboards.backtest import backtest_page
    from quantlab.dashboards.data import data_page
    from quantlab.dashboards.factors import factors_page
    from quantlab.dashboards.live import live_page
    from quantlab.dashboards.models import models_page
    from quantlab.dashboards.onchain import onchain_page
    from quantlab.dashboards.reports import reports_view

    return {
        "data": lambda source: data_page(source, lazy=True),
        "factors": lambda source: factors_page(source, lazy=True),
        "models": lambda source: models_page(source, lazy=True),
        "backtest": lambda source: backtest_page(source, reports_root=root, lazy=True),
        "onchain": lambda source: onchain_page(source, lazy=True),
        "reports": lambda _source: reports_view(root, link_prefix=link_prefix),
        "live": lambda _source: live_page(),
    }


def app(
    root: PathLikeStr = "reports",
    *,
    source: FrameSource | None = None,
    link_prefix: str | None = None,
) -> pn.template.BaseTemplate:
    """Build the multi-page dashboard: shared data pickers in the sidebar, one tab per page.

    Parameters
    ----------
    root : path
        Reports folder listed by the Reports page.
    source : FrameSource, optional
        Where the pages read bars from (default: new :class:`DataControls`, whose pickers
        go to the sidebar).
    link_prefix : str, optional
        URL prefix of the report files (``serve`` publishes ``root`` under ``/reports``).

    Returns
    -------
    panel.template.BaseTemplate
        Servable; the active tab follows the URL's ``?page=`` (``data``, ``factors``,
        ``models``, ``backtest``, ``reports``).
    """
    source = source if source is not None else DataControls()
    builders = _builders(root, link_prefix)
    tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width", name="pages")
    for key, title in PAGES.items():
        tabs.append((title, guard(lambda key=key: builders[key](source), f"{title} page")))
    sidebar: list[Any] = ["## Data"]
    widgets = source.widgets()
    if widgets is not None:
        sidebar.append(widgets)
    sidebar.append(
        pn.pane.Markdown(
            "Every page is a view over the same quantlab functions the notebooks call "
            "(`ql.data`, `ql.factors`, `ql.models`, `ql.backtest`, `ql.reports`).",
            styles={"font-size": "85%", "color": "#555"},
        )
    )
    template = pn.template.BootstrapTemplate(
        title="quantlab", sidebar=sidebar, main=[tabs], sidebar_width=300
    )
    keys = list(PAGES)

    def _page_to_tab(page: str) -> None:
        if page in PAGES:
            tabs.active = keys.index(page)

    if pn.state.location is not None:
        query = pn.state.session_args.get("page") if pn.state.session_args else None
        if query:
            _page_to_tab(query[0].decode())
        tabs.param.watch(
            lambda event: setattr(pn.state.location, "search", f"?page={keys[event.new]}"),
            "active",
        )
    return template


def _origins(address: str, port: int) -> list[str] | None:
    if not port:
        return None
    return list(dict.fromkeys([f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]))


def serve(
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    *,
    root: PathLikeStr = "reports",
    threaded: bool = False,
    start: bool = True,
    websocket_origin: str | list[str] | None = None,
) -> Any:
    """Serve the dashboard app on ``address:port`` (localhost by default).

    Parameters
    ----------
    port : int
        TCP port (0 picks a free one).
    address : str
        Interface to listen on; ``127.0.0.1`` keeps it on this machine.
    show : bool
        Open a browser tab.
    root : path
        Reports folder: listed by the Reports page and published under ``/reports/``.
    threaded, start
        Passed to :func:`panel.serve` (``threaded=True`` returns a stoppable thread).
    websocket_origin : str or list of str, optional
        Hosts allowed to open the app's websocket (default: ``address:port``,
        ``localhost:port`` and ``127.0.0.1:port``); set it when serving on another
        interface, e.g. ``"myhost:5006"``.

    Returns
    -------
    Server or StoppableThread
        What :func:`panel.serve` returns (it blocks until stopped when ``start`` and not
        ``threaded``).
    """
    root_path = Path(root)
    static_dirs = {REPORTS_ROUTE: str(root_path.resolve())} if root_path.is_dir() else {}
    prefix = f"/{REPORTS_ROUTE}" if static_dirs else None
    return pn.serve(
        lambda: app(root_path, link_prefix=prefix),
        port=port,
        address=address,
        show=show,
        start=start,
        threaded=threaded,
        title="quantlab",
        static_dirs=static_dirs,
        websocket_origin=websocket_origin or _origins(address, port),
        verbose=True,
    )
