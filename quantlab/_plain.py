"""Plain values for JSON records, and content hashes of files and text.

Shared by every layer that writes a record (verdicts, replays, promotions): one rule for
what a numpy scalar, a timestamp or a non-finite float becomes, and one way to hash.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["file_sha256", "json_safe", "text_sha256"]


def json_safe(x: Any) -> Any:
    """Return ``x`` as plain JSON-safe values, recursively.

    Mappings become dicts with string keys, lists and tuples become lists, numpy scalars
    become Python scalars, timestamps ISO-8601 strings, and NaN or infinite floats
    ``None`` (JSON has no NaN); anything else is returned unchanged.
    """
    if isinstance(x, Mapping):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def file_sha256(path: str | Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_sha256(text: str) -> str:
    """Return the hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
