"""What a runner trades: a ``validation.json``, a strategy YAML, an object or a name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.strategy import STRATEGIES, StrategyBase, load_strategy
from quantlab.backtest.verdict import read_verdict
from quantlab.errors import ConfigError

__all__ = ["load_runner_strategy"]


def load_runner_strategy(source: Any) -> tuple[StrategyBase, dict[str, Any]]:
    """Return the strategy and what is known about its validation.

    Parameters
    ----------
    source : path, StrategyBase, mapping or str
        A ``validation.json`` (or a folder holding one: its hashes are checked and its
        strategy and costs used), a strategy YAML, a strategy object or mapping, or a
        registered strategy kind (its defaults).

    Returns
    -------
    strategy, info
        ``info`` holds ``validated`` (bool: a passing verdict), ``costs`` (a
        :class:`Costs` or None) and ``verdict_path``.
    """
    info: dict[str, Any] = {"validated": False, "costs": None, "verdict_path": None}
    if isinstance(source, StrategyBase):
        return source, info
    if isinstance(source, Mapping):
        return load_strategy(dict(source)), info
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir() and (path / "validation.json").is_file():
            path = path / "validation.json"
        if path.suffix == ".json" and path.is_file():
            doc = read_verdict(path)
            info["validated"] = bool(doc.get("passed"))
            info["verdict_path"] = str(path)
            costs = (doc.get("extra") or {}).get("costs")
            info["costs"] = make_costs(costs) if costs is not None else None
            return load_strategy(dict(doc["strategy"])), info
        if path.is_file():
            return load_strategy(path), info
        if isinstance(source, str) and source in STRATEGIES:
            return load_strategy({"kind": source}), info
        raise ConfigError(
            f"--strategy: {str(source)!r} is neither a file (validation.json or YAML) nor a "
            f"strategy kind ({', '.join(sorted(STRATEGIES))})"
        )
    raise ConfigError(f"strategy: cannot run a {type(source).__name__}")


def parse_costs(text: str | None) -> Costs | None:
    """Return costs from a CLI value: ``hyperliquid``, a fee rate or a JSON mapping."""
    if text is None:
        return None
    if text == "hyperliquid":
        return Costs.hyperliquid()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"--costs: {text!r} is not 'hyperliquid', a number or JSON") from None
    return make_costs(value)
