"""Reports: the papermill batch runner, the runs index and notebook display helpers."""

from __future__ import annotations

from quantlab.reports import figures
from quantlab.reports.artifacts import artifact_path, report_dir
from quantlab.reports.cards import DataCard, data_card
from quantlab.reports.index import list_runs, write_index
from quantlab.reports.runner import (
    NotebookRun,
    ReportRun,
    declared_parameters,
    default_notebooks,
    run_reports,
)

__all__ = [
    "DataCard",
    "NotebookRun",
    "ReportRun",
    "artifact_path",
    "data_card",
    "declared_parameters",
    "default_notebooks",
    "figures",
    "list_runs",
    "report_dir",
    "run_reports",
    "write_index",
]
