"""Write one benchmark's table into benchmarks/RESULTS.md between its markers."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

HEADER = "# Benchmark results\n\nWritten by the scripts in `benchmarks/` (`make bench`).\n"


def write_section(path: Path, key: str, title: str, body: str) -> None:
    """Replace (or append) the section ``key`` of ``path`` with ``body``."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    section = (
        f"<!-- {key}:start -->\n## {title}\n\n_{stamp}, {machine}_\n\n{body.strip()}\n"
        f"<!-- {key}:end -->"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(rf"<!-- {key}:start -->.*?<!-- {key}:end -->", re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    path.write_text(text, encoding="utf-8")
