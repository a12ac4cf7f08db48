"""Evidence files: re-judging a ``validation.json`` under other, recorded thresholds.

:func:`rejudge` reads a verdict (its hashes checked), applies other gate thresholds to
its *unchanged* metrics and writes a new verdict that names the file it came from, that
file's content hash and the thresholds it was first judged by. The lifecycle records
which gates are looser than quantlab's defaults with every promotion made on such a file
(``evidence.relaxed_gates``), so a demonstration threshold can never pass for the real
one. The metrics themselves cannot be changed: they are the research's evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quantlab.backtest.verdict import GateConfig, make_verdict, read_verdict, write_verdict

__all__ = ["rejudge"]


def rejudge(
    validation: str | Path,
    gates: GateConfig | Mapping[str, Any] | None,
    output: str | Path,
) -> Path:
    """Return the path of ``validation`` re-judged with ``gates`` (``None``: unchanged).

    Parameters
    ----------
    validation : path
        A ``validation.json`` (or its folder).
    gates : GateConfig or mapping or None
        The thresholds to apply; ``None`` returns ``validation`` itself.
    output : path
        Where to write the re-judged verdict.
    """
    if gates is None:
        p = Path(validation)
        return p / "validation.json" if p.is_dir() else p
    doc = read_verdict(validation)
    extra = dict(doc.get("extra") or {})
    extra["rejudged_from"] = {
        "path": str(Path(validation).resolve()),
        "content_hash": doc["content_hash"],
        "gate_config": doc["gate_config"],
        "verdict": doc["verdict"],
    }
    new = make_verdict(doc["strategy"], doc["metrics"], data=doc["data"], gates=gates, extra=extra)
    return write_verdict(new, output)
