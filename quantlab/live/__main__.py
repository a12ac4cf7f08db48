"""``python -m quantlab.live SPEC.json``: run a paper or local-exchange runner from a spec.

The spec is a JSON object of :func:`quantlab.live.main.run_process` arguments. This entry
serves harnesses and tests on the local exchange (``benchmarks/bench_live_faults.py``); it
refuses ``testnet`` and ``mainnet``, which start only through ``quantlab live run`` (with
its lifecycle permission check).
"""

from __future__ import annotations

import json
import sys

from quantlab.errors import ConfigError, QuantlabError


def main(argv: list[str] | None = None) -> int:
    """Run the runner described by the JSON file ``argv[0]``; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m quantlab.live SPEC.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as fh:
            spec = json.load(fh)
        if spec.get("mode", "paper") not in ("paper", "sim"):
            raise ConfigError(
                "python -m quantlab.live runs paper and sim only; use quantlab live run"
            )
        from quantlab.live.main import run_process
        from quantlab.live.strategy_source import parse_costs

        if "costs" in spec:
            spec["costs"] = parse_costs(spec["costs"])
        run_process(**spec)
    except (QuantlabError, OSError, ValueError) as exc:
        print(f"quantlab.live: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
