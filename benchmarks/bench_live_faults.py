"""Crash safety of the live runner: SIGKILL at random points, restart, count the damage.

    python benchmarks/bench_live_faults.py [--kills 100] [--seed 7] [--speed 1200]

Runs :func:`quantlab.live.crashtest.crash_test`: the local Hyperliquid exchange with faults
on (429s, 5xx before and after applying, timeouts before and after, partial fills), the
runner as a process killed with SIGKILL ``--kills`` times and restarted, then compares the
exchange's books with the journal. Target: 0 duplicate orders, 0 orphaned positions, 0
journal-versus-exchange differences. Writes the table into RESULTS.md (``bench_live_faults``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_section

from quantlab.live.crashtest import DEFAULT_FAULTS, crash_test


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--speed", type=float, default=1200.0)
    p.add_argument("--faults", default=DEFAULT_FAULTS)
    p.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = p.parse_args()
    load = os.getloadavg()[0]
    r = crash_test(args.kills, seed=args.seed, speed=args.speed, faults=args.faults,
                   progress=True)  # fmt: skip
    print(json.dumps(r, indent=2, default=str))
    ok = (
        r["duplicates"] == 0
        and r["orphans"] == 0
        and r["differences"] == 0
        and r["killed_while_running"] == r["kills"]  # no runner died by itself
    )
    fired = ", ".join(f"{k} {v}" for k, v in sorted(r["faults_fired"].items())) or "none"
    rows = [
        ("SIGKILLs (restarts) / of which hit a running loop",
         f"{r['kills']} / {r['killed_while_running']}", "100 / 100"),
        ("duplicate orders (client order ids with > 1 order on the exchange)",
         f"**{r['duplicates']}**", "0"),
        ("orphaned positions (exchange position the journal cannot account for)",
         f"**{r['orphans']}**", "0"),
        ("journal-versus-exchange differences", f"**{r['differences']}**", "0"),
        ("orphan alerts raised during the run", r["orphan_events"], "-"),
        ("bars decided / intents / exchange orders / fills",
         f"{r['bars']} / {r['intents']} / {r['orders']} / {r['fills']}", "-"),
        ("engine re-synced to the venue (partial fills, stops the candle missed)",
         r["engine_resyncs"], "-"),
        ("faults fired by the exchange", fired, "-"),
        ("wall time", f"{r['elapsed_s']} s", "-"),
    ]  # fmt: skip
    table = "| measure | result | target |\n|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c} |" for a, b, c in rows
    )
    body = f"""
{table}

Differences in detail: {", ".join(f"{k} {v}" for k, v in r["difference_detail"].items())}.
Exchange clock at {r["speed"]:g}x real time (an hourly bar every {3600 / r["speed"]:.1f} s),
fault spec `{r["faults"]}`, seed {r["seed"]}; each runner lives U(0, 4) s after its first
heartbeat before SIGKILL (so kills land in start-up, reconciliation, bar processing and
order sending). Load average {load:.1f} on the shared 2-core machine at the start.
Verdict: {"PASS" if ok else "FAIL"}.
"""
    if not args.no_write:
        write_section(Path(__file__).with_name("RESULTS.md"), "bench_live_faults",
                      "Live runner: SIGKILL crash safety", body)  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
