"""``reports/index.html``: one page that links every report run."""

from __future__ import annotations

import html
import json
import socket
from pathlib import Path
from typing import Any

from quantlab._process import pid_alive
from quantlab._typing import PathLikeStr

METADATA_FILE = "run_metadata.json"


def list_runs(root: PathLikeStr = "reports") -> list[dict[str, Any]]:
    """Return the metadata of every run under ``root``, newest first.

    Each entry is the run's ``run_metadata.json`` plus ``path`` (its folder relative to
    ``root``). Unreadable metadata is listed with status ``"unreadable"``; a run still
    marked ``"running"`` whose process is gone (same host) is listed as ``"killed"``.
    """
    root = Path(root)
    runs = []
    for meta in root.glob(f"*/*/{METADATA_FILE}"):
        rel = meta.parent.relative_to(root).as_posix()
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            data = {"run_id": meta.parent.name, "status": "unreadable", "error": str(exc)}
        data["path"] = rel
        if data.get("status") == "running" and not _alive(data):
            data["status"] = "killed"
            data["error"] = data.get("error") or (
                "the run stopped before it finished (process killed or crashed); "
                f"{len(data.get('notebooks', []))} notebook(s) recorded"
            )
        runs.append(data)
    runs.sort(key=lambda r: (r.get("started_at") or "", r["path"]), reverse=True)
    return runs


def _alive(run: dict[str, Any]) -> bool:
    """Return False when a "running" run's process is known to be gone."""
    pid = run.get("pid")
    if not isinstance(pid, int) or run.get("host") != socket.gethostname():
        return True  # another machine's run: cannot tell
    return pid_alive(pid)


def _notebook_cell(run: dict[str, Any], nb: dict[str, Any]) -> str:
    name = html.escape(Path(nb.get("notebook", "?")).name)
    status = nb.get("status", "?")
    mark = "ok" if status == "ok" else "FAILED"
    link = name
    if nb.get("output_html"):
        link = f"<a href='{html.escape(run['path'])}/{html.escape(nb['output_html'])}'>{name}</a>"
    error = f"<div class='err'>{html.escape(nb['error'])}</div>" if nb.get("error") else ""
    took = f"{nb.get('duration_s', 0):.1f} s"
    return f"<li class='{html.escape(status)}'>{link} <b>{mark}</b> ({took}){error}</li>"


def render_index(runs: list[dict[str, Any]]) -> str:
    """Return the HTML of the runs index."""
    rows = []
    for run in runs:
        notebooks = "".join(_notebook_cell(run, nb) for nb in run.get("notebooks", []))
        notebooks += "".join(
            f"<li class='artifact'><a href='{html.escape(run['path'])}/{html.escape(a)}'>"
            f"{html.escape(a)}</a></li>"
            for a in run.get("artifacts", [])
        )
        params = html.escape(json.dumps(run.get("parameters", {}), default=str))
        status = html.escape(run.get("status", ""))
        error = f"<div class='err'>{html.escape(run['error'])}</div>" if run.get("error") else ""
        commit = html.escape((run.get("git_commit") or "?")[:10])
        if run.get("git_dirty"):
            commit += " (dirty)"
        rows.append(
            "<tr>"
            f"<td>{html.escape(run.get('started_at', '')[:19])}</td>"
            f"<td><a href='{html.escape(run['path'])}/{METADATA_FILE}'>"
            f"{html.escape(run.get('run_id', ''))}</a></td>"
            f"<td class='{status}'>{status}{error}</td>"
            f"<td><ul>{notebooks}</ul></td>"
            f"<td><code>{params}</code></td>"
            f"<td><code>{commit}</code></td>"
            "</tr>"
        )
    body = (
        "\n".join(rows)
        or "<tr><td colspan='6'>No runs yet: run <code>make reports</code>.</td></tr>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>quantlab reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 6px; text-align: left; vertical-align: top; }}
td.failed, td.killed, td.interrupted, li.failed b {{ color: #b00020; }}
td.running {{ color: #8a6d00; }} td.ok, li.ok b {{ color: #1b7f3b; }}
.err {{ color: #b00020; font-family: monospace; font-size: 90%; }}
ul {{ margin: 0; padding-left: 1.2em; }}
</style></head><body>
<h1>quantlab reports</h1>
<p>{len(runs)} run(s). Each run folder holds the executed notebooks, their HTML and
<code>{METADATA_FILE}</code>.</p>
<table><thead><tr><th>started (UTC)</th><th>run</th><th>status</th><th>notebooks</th>
<th>parameters</th><th>commit</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def write_index(root: PathLikeStr = "reports") -> Path:
    """Rebuild ``<root>/index.html`` from every run's metadata and return its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "index.html"
    path.write_text(render_index(list_runs(root)), encoding="utf-8")
    return path
