"""How a backtest is run, as one frozen object: costs, fill, starting cash, interval, gaps.

::

    opts = ql.backtest.RunOptions(costs=0.0005, fill="close")
    ql.backtest.run(df, strategy, opts)                 # or options=opts
    ql.backtest.sweep(df, strategy, grid, options=opts)
    ql.backtest.run(df, strategy, options=opts, fill="next_open")   # a keyword wins

Every function of the backtest wing that takes these five settings accepts them as this
object (``options=`` or in the ``costs`` position) or as the keywords they always were.
The default costs are the venue's (:meth:`Costs.hyperliquid`): zero costs only when asked
(``costs=0``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, get_args

from quantlab._typing import Fill, Gaps
from quantlab.backtest.costs import Costs, make_costs
from quantlab.errors import ConfigError

__all__ = ["RunOptions", "resolve_options"]

_FILLS = get_args(Fill)
_GAPS = get_args(Gaps)


@dataclass(frozen=True)
class RunOptions:
    """The settings of a backtest run, validated once.

    Attributes
    ----------
    costs : Costs
        Fees, slippage and funding; built from a fee rate, a mapping or None (the venue's
        :meth:`~quantlab.backtest.costs.Costs.hyperliquid` costs). ``0`` is zero costs.
    fill : {"next_open", "close"}
        Orders decided at a close fill at the next bar's open (no look-ahead) or at that
        close (vectorbt ``from_signals`` parity).
    init_cash : float
        Starting equity (positive).
    interval : str, optional
        Bar interval (``"1h"``); inferred from the index when None.
    gaps : {"error", "ffill", "allow"}
        Missing bars: refuse, forward-fill, or accept (:func:`quantlab.data.validate`).
    """

    costs: Costs = field(default_factory=Costs.hyperliquid)
    fill: Fill = "next_open"
    init_cash: float = 10_000.0
    interval: str | None = None
    gaps: Gaps = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "costs", make_costs(self.costs))
        if self.fill not in _FILLS:
            raise ConfigError(f"fill: must be one of {list(_FILLS)}, got {self.fill!r}")
        if self.gaps not in _GAPS:
            raise ConfigError(f"gaps: must be one of {list(_GAPS)}, got {self.gaps!r}")
        cash = self.init_cash
        if (
            isinstance(cash, bool)
            or not isinstance(cash, int | float)
            or not (math.isfinite(cash) and cash > 0)
        ):
            raise ConfigError(f"init_cash: must be a positive number, got {cash!r}")
        object.__setattr__(self, "init_cash", float(cash))
        if self.interval is not None:
            from quantlab.data.intervals import interval_seconds

            if not isinstance(self.interval, str):
                raise ConfigError(f"interval: expected a string like '1h', got {self.interval!r}")
            interval_seconds(self.interval)  # raises on a bad interval

    def replace(self, **changes: Any) -> RunOptions:
        """Return a copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def describe_costs(self) -> str:
        """Return the costs in one line, for printed tables and reports."""
        return describe_costs(self.costs)


def describe_costs(costs: Costs) -> str:
    """Return the costs in one line: ``"maker 0.015%, taker 0.045%, slippage 1 bp, funding on"``.

    Zero fees and slippage read ``"ZERO costs (...)"`` so a flattering table says so.
    """
    parts = [
        f"maker {costs.maker_fee * 100:.4g}%",
        f"taker {costs.taker_fee * 100:.4g}%",
        f"slippage {costs.slippage_bps:g} bp",
    ]
    if costs.vol_slippage:
        parts.append(f"vol slippage {costs.vol_slippage:g}x")
    if costs.impact:
        parts.append(f"impact {costs.impact:g}")
    parts.append("funding on" if costs.funding else "funding off")
    text = ", ".join(parts)
    paid = (costs.maker_fee, costs.taker_fee, costs.slippage_bps, costs.vol_slippage, costs.impact)
    return text if any(paid) else f"ZERO costs ({text})"


def resolve_options(
    options: RunOptions | None = None,
    /,
    *,
    costs: Any = None,
    fill: Fill | None = None,
    init_cash: float | None = None,
    interval: str | None = None,
    gaps: Gaps | None = None,
) -> RunOptions:
    """Return ``options`` with the keywords that were given (not None) applied over it.

    ``costs`` may itself be a :class:`RunOptions` (the object passed in the ``costs``
    position); keywords still win over it.
    """
    if isinstance(costs, RunOptions):
        if options is not None and options is not costs:
            raise ConfigError("options: given twice (in the costs position and as options=)")
        options, costs = costs, None
    if options is not None and not isinstance(options, RunOptions):
        raise ConfigError(f"options: expected a RunOptions, got {type(options).__name__}")
    base = options if options is not None else RunOptions()
    changes = {
        k: v
        for k, v in (
            ("costs", costs),
            ("fill", fill),
            ("init_cash", init_cash),
            ("interval", interval),
            ("gaps", gaps),
        )
        if v is not None
    }
    return base.replace(**changes) if changes else base
