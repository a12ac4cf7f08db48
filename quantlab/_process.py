"""Whether a process of this machine is still running: one rule for every layer that
records a process (report runs, live runners)."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int | None) -> bool:
    """Return whether process ``pid`` of this machine runs (a zombie does not).

    ``None`` or 0 is not alive; a process owned by another user (``PermissionError``) is.
    """
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
