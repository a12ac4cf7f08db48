"""Structured logs: one JSON object per line (time, level, event, message, fields).

The runner logs through :func:`get_logger`; :func:`read_logs` parses the file back for the
handle and ``quantlab live status``. Nothing secret is ever passed to the logger.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["JsonFormatter", "get_logger", "read_logs"]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; ``extra={"fields": {...}}`` adds fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def get_logger(
    path: str | os.PathLike[str] | None, name: str = "quantlab.live.runner"
) -> logging.Logger:
    """Return a logger writing JSON lines to ``path`` (and nowhere else); None: no file."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    else:
        logger.addHandler(logging.NullHandler())
    return logger


def read_logs(path: str | os.PathLike[str], tail: int | None = 200) -> list[dict[str, Any]]:
    """Return the last ``tail`` JSON log lines of a file (all when None), parsed."""
    p = Path(path)
    if not p.is_file():
        return []
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    if tail is not None:
        lines = lines[-tail:]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"level": "raw", "message": line})
    return out
