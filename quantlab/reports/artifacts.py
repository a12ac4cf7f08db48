"""Files a notebook writes next to its report (sweep tables, ``validation.json``, ...).

The batch runner tells the notebook's kernel where its run folder is through the
environment variable ``QUANTLAB_REPORT_DIR``; :func:`artifact_path` resolves a file name
there, so ``quantlab report`` keeps a run's artefacts with its executed notebooks and
dashboards can find them. Run interactively, the files go to ``reports/interactive/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from quantlab.errors import ConfigError

REPORT_DIR_ENV = "QUANTLAB_REPORT_DIR"
INTERACTIVE_DIR = Path("reports") / "interactive"


def report_dir() -> Path:
    """Return the folder of the report run executing this code (or the interactive one)."""
    folder = os.environ.get(REPORT_DIR_ENV)
    return Path(folder) if folder else INTERACTIVE_DIR


def artifact_path(name: str) -> Path:
    """Return where a notebook should write the artefact ``name``; create the folder.

    Parameters
    ----------
    name : str
        A plain file name such as ``"sweep.parquet"`` (no folders).
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ConfigError(f"artifact_path: {name!r} must be a plain file name")
    folder = report_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
