"""Request weight a live runner spends per minute against the venue's IP budget.

    python benchmarks/bench_live_weight.py [--seconds 60] [--interval 1m]

Hyperliquid allows 1,200 request weight per minute per IP. This starts the local
Hyperliquid exchange at real-time speed, runs one ``sim`` runner process (default options,
then ``reconcile_every_s: 5``), lets it start, and counts the weight it asks for during
``--seconds``, by request type. Writes the table into RESULTS.md (``bench_live_weight``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_section

#: The venue's request weight per minute and IP.
BUDGET = 1200
STRATEGY = {"kind": "ema_trend", "fast": 2, "slow": 3, "gate": 4, "direction": "both",
            "stops": {"stop_loss": 0.02}}  # fmt: skip


def measure(options: dict, *, interval: str, seconds: float, warmup_s: float) -> dict[str, int]:
    """Run one runner process; return the weight it asked for in ``seconds``, by type."""
    from eth_account import Account

    from quantlab.execution.sim import serve

    acct = Account.create()
    sim = serve(seed=7, fund={acct.address: 100_000.0}, speed=1.0)
    tmp = Path(tempfile.mkdtemp(prefix="quantlab-weight-"))
    (tmp / "strategy.yaml").write_text(yaml.safe_dump(STRATEGY))
    spec = tmp / "runner.json"
    spec.write_text(json.dumps({
        "strategy": str(tmp / "strategy.yaml"), "mode": "sim", "exchange_url": sim.url,
        "run_dir": str(tmp / "run"), "interval": interval, "options": options,
    }))  # fmt: skip
    env = {**os.environ, "QUANTLAB_HL_KEY": acct.key.hex()}
    proc = subprocess.Popen([sys.executable, "-m", "quantlab.live", str(spec)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(warmup_s)  # start-up: meta, history, the first reconciliation
        before = sim.weight_by_type()
        time.sleep(seconds)
        after = sim.weight_by_type()
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        sim.stop()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--interval", default="1m")
    p.add_argument("--warmup", type=float, default=20.0)
    p.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = p.parse_args()
    cases = [("defaults (`reconcile_every_s` 15)", {}),
             ("`reconcile_every_s: 5`", {"reconcile_every_s": 5.0})]  # fmt: skip
    rows = []
    for label, options in cases:
        w = measure(options, interval=args.interval, seconds=args.seconds, warmup_s=args.warmup)
        per_min = sum(w.values()) * 60.0 / args.seconds
        detail = ", ".join(f"{k} {v}" for k, v in sorted(w.items(), key=lambda kv: -kv[1]))
        rows.append((label, per_min, detail))
        print(f"{label}: {per_min:.0f} weight/min ({detail})")
    table = "| runner options | weight per minute | budget / weight | by request type |\n"
    table += "|---|---:|---:|---|\n" + "\n".join(
        f"| {label} | {per_min:.0f} | {BUDGET / per_min:.1f} | {detail} |"
        for label, per_min, detail in rows
    )
    body = f"""
One `sim` runner process (`ema_trend`, {args.interval} bars) against the local exchange at
real-time speed; the weight it asked for during {args.seconds:.0f} s after a {args.warmup:.0f} s
start-up, scaled to a minute. The venue allows {BUDGET:,} per minute per IP.

{table}
"""
    if not args.no_write:
        write_section(Path(__file__).with_name("RESULTS.md"), "bench_live_weight",
                      "Live runner: request weight per minute", body)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
