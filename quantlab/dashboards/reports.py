"""Reports page: the runs under ``reports/`` with status, parameters and report links."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import panel as pn

from quantlab._typing import PathLikeStr
from quantlab.dashboards._common import error_alert, note

__all__ = ["reports_table_html", "reports_view"]

_STYLE = """
<style>
table.ql-runs { border-collapse: collapse; width: 100%; font-size: 90%; }
table.ql-runs th, table.ql-runs td { border-bottom: 1px solid #ddd; padding: 4px 6px;
  text-align: left; vertical-align: top; }
table.ql-runs .ok { color: #1b7f3b; font-weight: bold; }
table.ql-runs .failed, table.ql-runs .unreadable { color: #b00020; font-weight: bold; }
table.ql-runs ul { margin: 0; padding-left: 1.1em; }
table.ql-runs .err { color: #b00020; font-family: monospace; }
</style>
"""


def _href(root: Path, run_path: str, name: str, link_prefix: str | None) -> str:
    if link_prefix is not None:
        return f"{link_prefix.rstrip('/')}/{run_path}/{name}"
    return (root / run_path / name).resolve().as_uri()


def _notebooks(root: Path, run: dict[str, Any], link_prefix: str | None) -> str:
    items = []
    for nb in run.get("notebooks", []) or []:
        name = Path(str(nb.get("notebook", "?"))).name
        status = str(nb.get("status", "?"))
        label = html.escape(name)
        if nb.get("output_html"):
            href = _href(root, run["path"], str(nb["output_html"]), link_prefix)
            label = f"<a href='{html.escape(href)}' target='_blank'>{label}</a>"
        took = nb.get("duration_s")
        took_text = f" ({float(took):.1f} s)" if isinstance(took, int | float) else ""
        error = f"<div class='err'>{html.escape(str(nb['error']))}</div>" if nb.get("error") else ""
        items.append(
            f"<li>{label} <span class='{html.escape(status)}'>{html.escape(status)}</span>"
            f"{took_text}{error}</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else ""


def reports_table_html(
    runs: list[dict[str, Any]], root: PathLikeStr = "reports", link_prefix: str | None = None
) -> str:
    """Return the HTML table of ``runs`` (as :func:`quantlab.reports.list_runs` gives them)."""
    root = Path(root)
    rows = []
    for run in runs:
        status = str(run.get("status", "?"))
        params = json.dumps(run.get("parameters", {}) or {}, default=str, sort_keys=True)
        commit = str(run.get("git_commit") or "?")[:10]
        if run.get("git_dirty"):
            commit += " (dirty)"
        error = (
            f"<div class='err'>{html.escape(str(run['error']))}</div>" if run.get("error") else ""
        )
        rows.append(
            "<tr class='ql-run'>"
            f"<td>{html.escape(str(run.get('started_at') or '')[:19])}</td>"
            f"<td>{html.escape(str(run.get('run_id', '')))}{error}</td>"
            f"<td class='{html.escape(status)}'>{html.escape(status)}</td>"
            f"<td>{_notebooks(root, run, link_prefix)}</td>"
            f"<td><code>{html.escape(params)}</code></td>"
            f"<td><code>{html.escape(commit)}</code></td>"
            "</tr>"
        )
    return (
        _STYLE + "<table class='ql-runs'><thead><tr><th>started (UTC)</th><th>run</th>"
        "<th>status</th><th>notebooks (reports)</th><th>parameters</th><th>commit</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _listing(root: Path, link_prefix: str | None) -> pn.viewable.Viewable:
    from quantlab.reports import list_runs

    if not root.is_dir():
        return note(
            f"No reports folder at `{root}` yet: run `make reports` (or `quantlab report`) "
            "to execute the notebooks into dated reports."
        )
    try:
        runs = list_runs(root)
    except Exception as exc:
        return error_alert(exc, f"listing runs under {root}")
    if not runs:
        return note(f"No runs under `{root}` yet: run `make reports`.")
    failed = sum(1 for r in runs if r.get("status") != "ok")
    summary = f"{len(runs)} run(s) under `{root}`" + (f", {failed} not ok." if failed else ".")
    return pn.Column(
        pn.pane.Markdown(summary),
        pn.pane.HTML(
            reports_table_html(runs, root, link_prefix),
            name="runs",
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )


def reports_view(root: PathLikeStr = "reports", *, link_prefix: str | None = None) -> pn.Column:
    """Return the Reports view: every run under ``root``, newest first, with links.

    Parameters
    ----------
    root : path
        Reports folder written by ``quantlab report`` (``reports/<date>/<run-id>/``).
    link_prefix : str, optional
        URL under which ``root`` is served (``quantlab dashboard`` uses ``/reports``);
        without it the links are ``file://`` URIs.

    Returns
    -------
    panel.Column
        A refresh button above the table of runs (status, parameters, commit, and a link
        to each notebook's HTML report).
    """
    root = Path(root)
    refresh = pn.widgets.Button(label="Refresh", color="primary", width=100)
    listing = pn.Column(_listing(root, link_prefix), sizing_mode="stretch_width")

    def _refresh(_event: Any = None) -> None:
        listing.objects = [_listing(root, link_prefix)]

    refresh.on_click(_refresh)
    return pn.Column("### Report runs", refresh, listing, sizing_mode="stretch_width")
