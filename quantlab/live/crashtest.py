"""The SIGKILL harness: kill a runner at random points of its loop, restart it, count damage.

:func:`crash_test` starts the local Hyperliquid exchange (faults on: 429s, 5xx before and
after applying, timeouts before and after, partial fills), then ``kills`` times: starts
``quantlab live run --mode sim`` as a process, lets it run a random time, and kills it with
SIGKILL (no clean-up of any kind). A last runner then runs a few bars, at least until
the journal holds an order intent (so a slow machine, where every killed runner was still
starting, cannot make the run vacuous), and stops cleanly. Measured against the
exchange's own books:

- **duplicates**: client order ids the exchange holds more than one order for;
- **orphans**: the exchange position the journal cannot account for (by the journal's own
  fills), and the orphan events the runner raised while being killed;
- **differences**: fills on the exchange missing from the journal (or the reverse),
  orders the exchange holds under a client order id the journal never wrote, open orders
  the journal thinks closed (or the reverse).

The key of the throw-away account travels to the runner in ``QUANTLAB_HL_KEY``, never on
the command line.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from quantlab.errors import VenueUnavailable
from quantlab.live.journal import Journal
from quantlab.live.reconcile import journal_position

__all__ = ["DEFAULT_FAULTS", "crash_test"]

#: Probabilities per eligible request (seeded by the exchange).
#: How long the last runner may take to stop after SIGTERM: its final reconciliation may
#: wait for the venue's one-minute request-weight window, which the restarts before it spent.
SIGTERM_GRACE_S = 180.0

DEFAULT_FAULTS = (
    "429:0.02,5xx:0.02,5xx_after:0.02,timeout_before:0.02,timeout_after:0.02,partial:0.05"
)

#: A strategy that trades nearly every few bars on the synthetic path, with a stop.
STRATEGY = {
    "kind": "ema_trend",
    "fast": 2,
    "slow": 3,
    "gate": 4,
    "direction": "both",
    "stops": {"stop_loss": 0.02, "trail_activation": 0.005, "trail_distance": 0.01},
}


def _wait_heartbeat(journal: Path, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file():
            try:
                with Journal(journal, readonly=True) as j:
                    beat = j.get_meta("heartbeat")
                    if beat and json.loads(beat).get("pid") == proc.pid:
                        return True
            except Exception:
                pass
        time.sleep(0.05)
    return False


def _wait_for_intent(journal: Path, proc: subprocess.Popen, least: float, most: float) -> None:
    """Sleep ``least`` seconds, then until the journal holds an intent (``most`` in all)."""
    t0 = time.monotonic()
    time.sleep(least)
    while time.monotonic() - t0 < most and proc.poll() is None:
        try:
            with Journal(journal, readonly=True) as j:
                if j.intents():
                    return
        except Exception:  # the runner may be writing: read again
            pass
        time.sleep(0.25)


def crash_test(
    kills: int = 100,
    *,
    seed: int = 7,
    speed: float = 1200.0,
    faults: str = DEFAULT_FAULTS,
    min_run_s: float = 0.0,
    max_run_s: float = 4.0,
    final_s: float = 8.0,
    final_max_s: float = 120.0,
    workdir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the SIGKILL harness; return the counts (see the module docstring).

    Parameters
    ----------
    kills : int
        How many times the runner is killed with SIGKILL.
    seed : int
        Seeds the exchange (prices, faults) and the kill times.
    speed : float
        Exchange seconds per real second (1200: an hourly bar every 3 s).
    faults : str
        The exchange's fault spec.
    min_run_s, max_run_s : float
        A runner lives ``U(min_run_s, max_run_s)`` seconds after its first heartbeat
        (0: killed while starting or reconciling).
    final_s, final_max_s : float
        The last, cleanly stopped runner runs at least ``final_s`` seconds and then until
        the journal holds an intent, at most ``final_max_s`` seconds.
    """
    from eth_account import Account

    from quantlab.execution.hyperliquid import HyperliquidBackend
    from quantlab.execution.sim import serve

    rng = random.Random(seed)
    acct = Account.create()
    sim = serve(seed=seed, fund={acct.address: 100_000.0}, speed=speed, faults=faults)
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="quantlab-crash-"))
    run_dir = tmp / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    strategy = tmp / "strategy.yaml"
    strategy.write_text(yaml.safe_dump(STRATEGY))
    env = {**os.environ, "QUANTLAB_HL_KEY": acct.key.hex()}
    env.pop("QUANTLAB_DISCORD_WEBHOOK", None)
    env.pop("QUANTLAB_TELEGRAM_WEBHOOK", None)
    options = {
        "reconcile_every_s": 2.0,
        "dead_man_s": 30 * 3600.0,
        "max_history": 500,
        "stop_grace_s": SIGTERM_GRACE_S - 15.0,
    }  # the final reconcile must finish
    spec = tmp / "runner.json"
    spec.write_text(json.dumps({
        "strategy": str(strategy), "mode": "sim", "exchange_url": sim.url,
        "run_dir": str(run_dir), "options": options,
    }))  # fmt: skip
    cmd = [sys.executable, "-m", "quantlab.live", str(spec)]
    journal_path = run_dir / "journal.sqlite"
    t0 = time.monotonic()
    started = killed_running = 0
    log = open(tmp / "runner-output.log", "ab")  # noqa: SIM115 - shared by the children
    try:
        for k in range(kills + 1):
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)  # fmt: skip
            up = _wait_heartbeat(journal_path, proc, 60.0)
            started += up
            if k == kills:  # the last one runs a while and stops cleanly
                _wait_for_intent(journal_path, proc, final_s, final_max_s)
                sim.freeze()  # nothing may fill after its last reconciliation
                time.sleep(0.5)
                proc.send_signal(signal.SIGTERM)
                # a clean stop reconciles once more; when the runners before it spent the
                # venue's request-weight window, that waits for the window (up to a minute)
                proc.wait(timeout=SIGTERM_GRACE_S)
                break
            time.sleep(rng.uniform(min_run_s, max_run_s))
            killed_running += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if progress:
                print(f"kill {k + 1}/{kills}", file=sys.stderr)
        elapsed = time.monotonic() - t0
        sim.faults.clear()
        result = None
        for _ in range(24):  # the runners may have spent the IP's weight budget: wait
            try:
                backend = HyperliquidBackend(sim.url, wallet=acct)
                result = _measure(sim, acct, backend, journal_path)
                break
            except VenueUnavailable:
                time.sleep(5.0)
        if result is None:
            raise VenueUnavailable("crash test: the exchange stayed rate-limited for 2 minutes")
    finally:
        log.close()
        sim.stop()
    result.update(
        kills=kills,
        started=started,
        killed_while_running=killed_running,
        elapsed_s=round(elapsed, 1),
        speed=speed,
        faults=faults,
        seed=seed,
        faults_fired=dict(sim.faults.fired),
        workdir=str(tmp),
    )
    return result


def _measure(sim: Any, acct: Any, backend: Any, journal_path: Path) -> dict[str, Any]:
    """Compare the exchange's books with the journal."""
    per_cloid = sim.orders_per_cloid(acct.address)
    exch_orders = sim.orders(acct.address)
    with Journal(journal_path, readonly=True) as j:
        intents = {i["client_order_id"]: i for i in j.intents()}
        jorders = {o["client_order_id"]: o for o in j.orders()}
        jfills = {f["tid"] for f in j.fills()}
        owned = journal_position(j, "BTC")
        orphan_events = len(j.events("orphan"))
        n_bars = len(j.frame("decisions"))
        engine_syncs = [e for e in j.events("engine_sync") if e["level"] == "warning"]
        event_kinds = Counter(e["kind"] for e in j.events())
    efills = {str(f.tid) for f in backend.fills() if f.symbol == "BTC"}
    position = backend.position("BTC")
    open_ids = {o.client_order_id for o in backend.open_orders("BTC")}
    unknown = [o.cloid for o in exch_orders if o.cloid and o.cloid not in intents]
    no_cloid = [o.oid for o in exch_orders if not o.cloid]
    open_mismatch = [
        c for c in set(jorders) | open_ids
        if (c in open_ids) != (jorders.get(c, {}).get("status") in ("open", "triggered",
                                                                   "partially_filled"))
    ]  # fmt: skip
    differences = {
        "fills_missing_in_journal": len(efills - jfills),
        "fills_not_on_exchange": len(jfills - efills),
        "orders_not_in_journal": len(unknown) + len(no_cloid),
        "open_orders_disagree": len(open_mismatch),
        "position_differs": int(abs(position - owned) > 1e-9 * max(abs(position), 1.0)),
    }
    return {
        "duplicates": sum(1 for n in per_cloid.values() if n > 1),
        "orders": len(exch_orders),
        "client_order_ids": len(per_cloid),
        "orphans": int(abs(position - owned) > 1e-9 * max(abs(position), 1.0)),
        "orphan_events": orphan_events,
        "differences": sum(differences.values()),
        "difference_detail": differences,
        "bars": n_bars,
        "intents": len(intents),
        "fills": len(efills),
        "exchange_position": position,
        "journal_position": owned,
        "engine_resyncs": len(engine_syncs),
        "events": dict(event_kinds),
    }
