"""Where a result came from: the git commit (and whether the tree was dirty) of the code."""

from __future__ import annotations

import subprocess
from pathlib import Path

from quantlab._typing import PathLikeStr

__all__ = ["git_commit"]


def git_commit(cwd: PathLikeStr | None = None) -> tuple[str | None, bool | None]:
    """Return ``(commit, dirty)`` of the git repository at ``cwd``.

    ``cwd`` defaults to the folder of the installed package (the code that ran). Tracked
    changes make ``dirty`` True; untracked files do not count. Outside git, or without a
    ``git`` executable, both are None. Each command has a 5 s timeout.
    """
    where = Path(__file__).resolve().parent if cwd is None else Path(cwd)
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty
