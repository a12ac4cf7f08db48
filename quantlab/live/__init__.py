"""The live runner: the backtest's decisions, journaled, reconciled, launched as a process.

    import quantlab as ql
    runner = ql.live.launch("reports/.../validation.json", symbol="BTC", interval="1h",
                            mode="paper")
    runner.status(); runner.positions(); runner.fills(); runner.equity(); runner.logs()
    runner.kill("close_only"); runner.clear_kill(); runner.stop()

Modules: :mod:`~quantlab.live.decision` (the engine's step, bar by bar),
:mod:`~quantlab.live.journal` (SQLite WAL), :mod:`~quantlab.live.reconcile`,
:mod:`~quantlab.live.runner` (the loop, kill switch, orders), :mod:`~quantlab.live.feed`,
:mod:`~quantlab.live.guards`, :mod:`~quantlab.live.alerts`, :mod:`~quantlab.live.safety`,
:mod:`~quantlab.live.handle` (``launch`` and the handle), :mod:`~quantlab.live.replay`
(``ql.live.replay(journal)``: the runner's bars through the backtester, diffed fill by fill).
"""

from __future__ import annotations

from quantlab.live.cloid import client_order_id
from quantlab.live.decision import DecisionEngine
from quantlab.live.handle import RunnerHandle, launch
from quantlab.live.journal import Journal
from quantlab.live.replay import ReplayResult, replay, write_replay

__all__ = [
    "DecisionEngine",
    "Journal",
    "ReplayResult",
    "RunnerHandle",
    "client_order_id",
    "launch",
    "replay",
    "write_replay",
]
