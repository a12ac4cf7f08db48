"""The papermill batch runner: notebooks in, dated reports out.

A run executes each notebook with papermill into ``reports/<YYYY-MM-DD>/<run-id>/``, writes
the executed ``.ipynb``, an HTML export and ``run_metadata.json`` (git commit, parameters,
data source and range, duration and status per notebook), then rebuilds
``reports/index.html``. A failing notebook is recorded with its error and the others
still run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantlab._typing import PathLikeStr
from quantlab.errors import ConfigError, ReportError
from quantlab.provenance import git_commit as _git_commit
from quantlab.reports.artifacts import REPORT_DIR_ENV
from quantlab.reports.cards import DATA_CARD_MIME
from quantlab.reports.index import write_index

DEFAULT_NOTEBOOK_DIR = Path("notebooks")
DEFAULT_OUTPUT_ROOT = Path("reports")
METADATA_FILE = "run_metadata.json"
_EXECUTION_LOCK = threading.Lock()

#: A run id is one plain folder name: letters, digits, ``.``, ``_``, ``-`` (no path).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class NotebookRun:
    """The outcome of one notebook in a run."""

    notebook: str
    status: str = "pending"
    parameters: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    output_ipynb: str | None = None
    output_html: str | None = None
    data: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class ReportRun:
    """A batch of notebooks executed together into one run folder."""

    run_id: str
    run_dir: Path
    started_at: str
    git_commit: str | None
    git_dirty: bool | None
    parameters: dict[str, Any]
    notebooks: list[NotebookRun]
    duration_s: float = 0.0
    artifacts: list[str] = field(default_factory=list)
    state: str = "running"
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    error: str | None = None

    @property
    def failed(self) -> list[NotebookRun]:
        return [nb for nb in self.notebooks if nb.status != "ok"]

    @property
    def status(self) -> str:
        """``running`` (metadata written before the first notebook), ``interrupted``,
        ``ok`` or ``failed``; a run whose process died shows ``killed`` in the index."""
        if self.state != "finished":
            return self.state
        return "ok" if not self.failed else "failed"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_dir"] = str(self.run_dir)
        out["status"] = self.status
        return out


def default_notebooks(notebook_dir: PathLikeStr = DEFAULT_NOTEBOOK_DIR) -> list[Path]:
    """Return the notebooks a plain ``quantlab report`` runs, in name order."""
    folder = Path(notebook_dir)
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("_"))


def git_commit(cwd: PathLikeStr = ".") -> tuple[str | None, bool | None]:
    """Return ``(commit, dirty)`` of the repository at ``cwd``; ``(None, None)`` outside git."""
    return _git_commit(cwd)


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it is one plain folder name, else raise ConfigError."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise ConfigError(
            f"report: run id {run_id!r} is not a plain name; use letters, digits, '.', '_' "
            "and '-' (starting with a letter or digit, at most 100): the run folder is always "
            "<output>/<YYYY-MM-DD>/<run-id>"
        )
    return run_id


def new_run_id(now: datetime | None = None) -> str:
    """Return a sortable, unique-enough run id such as ``20261122T101500Z-3f9a``."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + f"-{time.perf_counter_ns() % 0xFFFF:04x}"


def declared_parameters(notebook: PathLikeStr) -> dict[str, Any]:
    """Return the parameters a notebook declares in its cell tagged ``parameters``."""
    import papermill

    return {
        name: spec.get("default")
        for name, spec in papermill.inspect_notebook(str(notebook)).items()
    }


def _select_parameters(
    notebook: Path, parameters: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    declared = declared_parameters(notebook)
    chosen = {k: v for k, v in parameters.items() if k in declared}
    return chosen, set(chosen)


def _data_cards(executed: Path) -> list[dict[str, Any]]:
    """Collect the data cards (source, symbol, interval, range) a notebook displayed."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    cards = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(DATA_CARD_MIME)
            if payload is not None:
                cards.append(payload if isinstance(payload, dict) else json.loads(payload))
    return cards


def _export_html(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def _error_line(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


def _run_one(
    notebook: Path,
    run_dir: Path,
    parameters: dict[str, Any],
    kernel_name: str | None,
    cwd: Path,
    timeout_s: float | None,
) -> NotebookRun:
    import papermill

    record = NotebookRun(notebook=str(notebook), parameters=parameters)
    executed = run_dir / notebook.name
    started = time.perf_counter()
    # the kernel inherits this: ql.reports.artifact_path() writes into the run folder
    # (the same value for every notebook of a run; run_reports restores the old one)
    os.environ[REPORT_DIR_ENV] = str(run_dir.resolve())
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(cwd),
            execution_timeout=timeout_s,
        )
        record.status = "ok"
    except Exception as exc:  # every failure is recorded; the batch goes on
        record.status = "failed"
        record.error = _error_line(exc)
    record.duration_s = round(time.perf_counter() - started, 3)
    if executed.exists():
        record.output_ipynb = executed.name
        try:
            record.data = _data_cards(executed)
            record.output_html = _export_html(executed).name
        except Exception as exc:  # a broken export must not hide the run
            record.error = (record.error or "") + f" [HTML export failed: {_error_line(exc)}]"
    return record


def _run_job(
    job: tuple[Path, dict[str, Any]],
    *,
    run_dir: Path,
    kernel_name: str | None,
    cwd: Path,
    timeout_s: float | None,
) -> NotebookRun:
    """Run one ``(notebook, parameters)`` job; the unit of work on a cluster.

    Jupyter's client drives each kernel from an asyncio loop that two threads of one
    process cannot share, so a worker process runs its notebooks one at a time; the
    cluster runs them in parallel across worker processes.
    """
    path, parameters = job
    with _EXECUTION_LOCK:
        return _run_one(path, run_dir, parameters, kernel_name, cwd, timeout_s)


def _execute_all(
    run: ReportRun,
    paths: list[Path],
    chosen: dict[Path, tuple[dict[str, Any], set[str]]],
    scheduler: Any,
    kernel_name: str | None,
    timeout_s: float | None,
) -> None:
    """Execute every notebook of ``run``, in order here or in parallel on a cluster."""
    run_dir = run.run_dir
    if scheduler is None:
        for path in paths:
            run.notebooks.append(
                _run_one(path, run_dir, chosen[path][0], kernel_name, Path.cwd(), timeout_s)
            )
            _write_metadata(run)
    else:
        from quantlab.parallel import map_on_cluster

        jobs = [(path.resolve(), chosen[path][0]) for path in paths]
        run.notebooks.extend(
            map_on_cluster(
                _run_job,
                jobs,
                scheduler,
                run_dir=run_dir.resolve(),
                kernel_name=kernel_name,
                cwd=Path.cwd(),
                timeout_s=timeout_s,
            )
        )


def run_reports(
    notebooks: Sequence[PathLikeStr] | None = None,
    parameters: Mapping[str, Any] | None = None,
    *,
    output_root: PathLikeStr = DEFAULT_OUTPUT_ROOT,
    notebook_dir: PathLikeStr = DEFAULT_NOTEBOOK_DIR,
    run_id: str | None = None,
    kernel_name: str | None = "python3",
    timeout_s: float | None = 1800,
    raise_on_failure: bool = True,
    scheduler: Any = None,
) -> ReportRun:
    """Execute notebooks with papermill into a dated run folder and update the index.

    Parameters
    ----------
    notebooks : sequence of paths, optional
        Notebooks to run; default every ``notebooks/*.ipynb`` in name order.
    parameters : mapping, optional
        Parameter overrides; each notebook receives those it declares in its cell tagged
        ``parameters``. A name no notebook declares is an error.
    output_root : path
        The reports folder (``reports/``).
    notebook_dir : path
        Where the default notebooks live.
    run_id : str, optional
        Name of the run folder (default: UTC time plus a short suffix): one plain name
        (letters, digits, ``.``, ``_``, ``-``), never a path.
    kernel_name : str, optional
        Jupyter kernel (default ``python3``, the environment running quantlab).
    timeout_s : float, optional
        Per-cell execution timeout.
    raise_on_failure : bool
        Raise :class:`ReportError` naming the failed notebooks after the whole batch ran.
    scheduler : str or dask Client, optional
        ``tcp://host:port`` of a dask.distributed scheduler (or a Client/cluster): the
        notebooks run in parallel on its workers, which must share this filesystem.

    Returns
    -------
    ReportRun
        What ran, where the outputs are, and each notebook's status.
    """
    if run_id is not None:
        check_run_id(run_id)
    paths = [Path(p) for p in notebooks] if notebooks else default_notebooks(notebook_dir)
    if not paths:
        raise ConfigError(f"report: no notebooks found in {notebook_dir}")
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"report: notebook {path} does not exist")
    parameters = dict(parameters or {})
    chosen = {p: _select_parameters(p, parameters) for p in paths}
    used = set().union(*(names for _, names in chosen.values()))
    unused = sorted(set(parameters) - used)
    if unused:
        raise ConfigError(
            f"report: parameter(s) {unused} are declared by none of {[p.name for p in paths]}"
        )

    now = datetime.now(UTC)
    run_id = run_id or new_run_id(now)
    root = Path(output_root)
    run_dir = root / now.strftime("%Y-%m-%d") / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise ConfigError(
            f"report: run folder {run_dir} exists already; choose another --run-id"
        ) from None
    commit, dirty = git_commit()
    run = ReportRun(
        run_id=run_id,
        run_dir=run_dir,
        started_at=now.isoformat(),
        git_commit=commit,
        git_dirty=dirty,
        parameters=parameters,
        notebooks=[],
    )
    # listed as "running" before any notebook runs: a killed run stays in the index
    _write_metadata(run)
    write_index(root)
    started = time.perf_counter()
    previous_dir = os.environ.get(REPORT_DIR_ENV)
    try:
        _execute_all(run, paths, chosen, scheduler, kernel_name, timeout_s)
        run.state = "finished"
    except BaseException as exc:  # Ctrl-C, a cluster failure: record it, then re-raise
        run.state = "interrupted"
        run.error = _error_line(exc)
        run.duration_s = round(time.perf_counter() - started, 3)
        _write_metadata(run)
        write_index(root)
        raise
    finally:
        if previous_dir is None:
            os.environ.pop(REPORT_DIR_ENV, None)
        else:
            os.environ[REPORT_DIR_ENV] = previous_dir
    run.duration_s = round(time.perf_counter() - started, 3)
    outputs = {METADATA_FILE} | {
        name for nb in run.notebooks for name in (nb.output_ipynb, nb.output_html) if name
    }
    run.artifacts = sorted(p.name for p in run_dir.iterdir() if p.name not in outputs)
    _write_metadata(run)
    write_index(root)
    if raise_on_failure and run.failed:
        details = "; ".join(f"{Path(nb.notebook).name}: {nb.error}" for nb in run.failed)
        raise ReportError(f"report: {len(run.failed)} notebook(s) failed in {run_dir}: {details}")
    return run


def _write_metadata(run: ReportRun) -> None:
    path = run.run_dir / METADATA_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.to_dict(), indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
