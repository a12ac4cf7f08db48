"""The session and replay figures draw what the journal holds."""

from __future__ import annotations

from journal_builder import write_journal

import quantlab as ql
from quantlab.lifecycle import plots
from quantlab.live.handle import RunnerHandle


def test_figures_from_a_journal(tmp_path, strategy, costs, bars):
    res = write_journal(tmp_path / "run" / "journal.sqlite", bars, strategy, costs, mode="sim")
    handle = RunnerHandle(tmp_path / "run")
    fig = plots.session_figure(handle, title="t")
    price, position, equity = fig.axes[:3]
    assert price.get_title() == "t"
    buys = price.collections[0].get_offsets()
    assert len(buys) == int((res.trades["size"] > 0).sum())  # one marker per long entry
    assert position.lines[0].get_ydata().max() > 0  # the engine's position over time
    assert len(equity.lines[0].get_xdata()) == len(bars)
    rep = ql.live.replay(handle.paths["journal"])
    fig = plots.replay_figure(rep)
    assert "total" in fig.axes[1].get_title() and len(fig.axes[0].lines) == 2
