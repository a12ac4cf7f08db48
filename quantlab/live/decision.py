"""The runner's decisions: the backtest engine's own step, one closed bar at a time.

:class:`DecisionEngine` holds one account state in the engine's ``S_*`` layout and, at each
bar close, calls :func:`quantlab.kernels.backtest.backtest_step_nb` with the parameter row
of :func:`quantlab.backtest.build_params` and the per-bar inputs of
:func:`quantlab.backtest.build_inputs` computed on the bars seen so far (causal by the
strategies' prefix property). Nothing about sizing, stops, breakers or limits is
re-implemented here: the runner only turns the engine's decisions into orders.

With ``fill = "next_open"`` (the default) the step at bar ``i``'s close leaves a pending
exit and/or entry; :meth:`DecisionEngine.preview_open` runs the engine's own open-orders
code (``close_position_nb``, ``open_position_nb``) on a copy of the state at the next price to
learn the exact orders the engine will execute at the next open (the entry size is the
engine's own ``fraction * equity / (fill price * (1 + fee))``, its stop and target levels
and the size its impact is measured on).

What a paper run over historical bars reproduces exactly, and what a live one cannot
-------------------------------------------------------------------------------------
The engine fills an entry at the open of bar ``i + 1`` and checks its protective level
inside that same bar, at a level computed from the *fill price*: the hard stop ``fill *
(1 - d stop)``, the ATR stop, and a trailing stop ``fill * (1 - d distance)`` when its
activation is 0 (with an activation above 0 the trail cannot be active in the entry bar,
whose extreme is the fill). With slippage wider than the stop, that level lies beyond the
open and the engine stops the entry out at the open it entered at. The runner reproduces
all of it by sending, at the close of bar ``i``, the entry and a reduce-only stop trigger
at the level :meth:`~DecisionEngine.preview_open` computes from the engine's modelled fill
at the price the feed gives for the boundary; being reduce-only, the trigger acts only
once the entry has filled, and the paper backend checks it against the rest of the bar
(every price of which comes after the open's fill) as the engine does. Replaying
historical bars, the boundary price is the next bar's open and the paper fill is the
modelled fill, so the level, the fills and the equity equal the backtest's (tested to
1e-9 with every slippage term on). Live, the boundary price is the mid, not the next open,
and the venue's fill is not the model's: the entry-bar stop sits at the level modelled for
the mid (the engine keeps its own modelled entry, so later levels follow it too), so a
venue stop inside the entry bar may differ from the engine's by that gap. The position
itself is the venue's: :meth:`quantlab.live.runner.Runner._sync_engine` adopts it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import build_inputs, build_params
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.data.intervals import interval_seconds
from quantlab.errors import DataError
from quantlab.kernels import backtest as _bt
from quantlab.kernels.risk import tighter_stop_nb, trailing_stop_price_nb

__all__ = ["BAR_COLUMNS", "DecisionEngine", "OpenOrders", "StepResult"]

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "funding_rate")


@dataclass(frozen=True)
class StepResult:
    """What one engine step at a bar close decided.

    Attributes
    ----------
    index, time : int, Timestamp
        Bar position (engine clock) and bar open time.
    target : float
        The strategy's target direction at this close.
    equity, position, cash : float
        The account at the close (engine state).
    trades : list of dict
        Trades the step closed in this bar (engine records: entry/exit price, size,
        fees, funding, pnl, exit reason).
    pending_exit : bool
        ``fill = next_open``: the position is to be closed at the next open.
    pending_entry : int
        ``fill = next_open``: direction of the entry at the next open (0: none).
    killed, day_halt : bool
        The drawdown kill switch / daily loss limit flags after this close.
    exit_reason : str
        Reason of the pending exit (signal, kill_switch, daily_loss).
    """

    index: int
    time: pd.Timestamp
    target: float
    equity: float
    position: float
    cash: float
    trades: list[dict[str, Any]] = field(default_factory=list)
    pending_exit: bool = False
    pending_entry: int = 0
    killed: bool = False
    day_halt: bool = False
    exit_reason: str = "signal"


@dataclass(frozen=True)
class OpenOrders:
    """The orders the engine will execute at the next open, at reference price ``price``.

    ``exit_size`` is the signed quantity to trade to close the position (0: none);
    ``entry_size`` the signed quantity of the new position (0: none); ``stop`` and
    ``take_profit`` the new position's protective levels in its entry bar (NaN: none):
    ``stop`` is the tightest of the hard, ATR and trailing stops, the level the engine
    checks inside the entry bar. ``entry_impact_size`` is the size the engine measures
    the entry's market impact on (``fraction * equity / price``, before costs; NaN when
    the impact term is off or there is no entry): the entry intent's ``impact_size``.
    """

    price: float
    exit_size: float
    entry_size: float
    stop: float
    take_profit: float
    exit_reason: str
    entry_impact_size: float = math.nan


class DecisionEngine:
    """Step the backtest engine one closed bar at a time from a state it holds.

    Parameters
    ----------
    strategy : StrategyBase, mapping or YAML path
    costs : Costs, float or mapping, optional
        The cost model of the backtest being matched.
    interval : str
        Bar interval (``"1h"``).
    init_cash : float
        Starting equity of a fresh state.
    fill : {"next_open", "close"}
    max_history : int, optional
        Keep at most this many bars for the strategy's inputs (None: all; a parity run
        keeps all so that recursive indicators equal the whole-frame backtest).
    """

    def __init__(
        self,
        strategy: StrategyBase | Mapping[str, Any] | str,
        costs: Costs | float | Mapping[str, Any] | None = None,
        *,
        interval: str = "1h",
        init_cash: float = 10_000.0,
        fill: str = "next_open",
        max_history: int | None = None,
    ) -> None:
        self.strategy = load_strategy(dict(strategy) if isinstance(strategy, Mapping) else strategy)
        self.costs = make_costs(dict(costs) if isinstance(costs, Mapping) else costs)
        self.interval = interval
        self.bar_seconds = float(interval_seconds(interval))
        self.fill = fill
        self.init_cash = float(init_cash)
        self.params = build_params(
            self.strategy,
            self.costs,
            fill=fill,  # type: ignore[arg-type]
            init_cash=init_cash,
            bar_seconds=self.bar_seconds,
        )
        self.max_history = max_history
        self.state = _bt.init_state_nb(self.params)
        self._trades = np.zeros((16, _bt.N_TRADE_FIELDS))
        self.index = -1
        self._bars: list[dict[str, float]] = []
        self._times: list[pd.Timestamp] = []

    # ------------------------------------------------------------------ history
    @property
    def last_time(self) -> pd.Timestamp | None:
        """Open time of the last bar stepped (None before the first)."""
        return self._times[-1] if self._times else None

    def history(self) -> pd.DataFrame:
        """Return the bars the engine holds, as a bar frame."""
        index = pd.DatetimeIndex(self._times, name="time")
        if len(index) and index.tz is None:
            index = index.tz_localize("UTC")
        return pd.DataFrame(self._bars, index=index, columns=list(BAR_COLUMNS), dtype=np.float64)

    def restore(self, bars: pd.DataFrame, state: np.ndarray, index: int) -> None:
        """Resume from a checkpoint: the bars seen, the state after bar ``index``."""
        if state.shape != (_bt.N_STATE,):
            raise DataError(f"checkpoint: state has shape {state.shape}, expected ({_bt.N_STATE},)")
        self.state = np.array(state, dtype=np.float64)
        self.index = int(index)
        self._bars = []
        self._times = []
        for t, row in bars.iterrows():
            self._append(pd.Timestamp(t), row)
        self._trim()

    def preload(self, bars: pd.DataFrame) -> None:
        """Take warm-up history without trading it: the bars advance the engine clock only."""
        for t, row in bars.iterrows():
            ts = pd.Timestamp(t)
            if self.last_time is not None and ts <= self.last_time:
                continue
            self._append(ts, row)
            self.index += 1
        self._trim()

    def _append(self, t: pd.Timestamp, bar: Mapping[str, Any]) -> None:
        rec = {}
        for c in BAR_COLUMNS:
            v = bar.get(c, 0.0) if c in ("volume", "funding_rate") else bar[c]
            v = 0.0 if v is None else float(v)
            if c != "funding_rate" and not math.isfinite(v):
                raise DataError(f"bar {t}: column {c!r} is {v!r}; must be finite")
            rec[c] = v
        for c in ("open", "high", "low", "close"):
            if not rec[c] > 0:
                raise DataError(f"bar {t}: column {c!r} is {rec[c]!r}; prices must be positive")
        if rec["high"] < max(rec["open"], rec["close"], rec["low"]) or rec["low"] > min(
            rec["open"], rec["close"]
        ):
            raise DataError(f"bar {t}: high/low do not contain open and close ({rec})")
        self._bars.append(rec)
        self._times.append(t)

    def _trim(self) -> None:
        if self.max_history is not None and len(self._bars) > self.max_history:
            cut = len(self._bars) - self.max_history
            del self._bars[:cut]
            del self._times[:cut]

    # --------------------------------------------------------------------- step
    def step(self, time: pd.Timestamp, bar: Mapping[str, Any]) -> StepResult:
        """Run the engine's step for the closed bar opening at ``time``.

        Raises
        ------
        DataError
            The bar is not after the last one, or breaks the bar schema.
        """
        t = pd.Timestamp(time)
        if t.tzinfo is None:
            t = t.tz_localize("UTC")
        last = self.last_time
        if last is not None and t <= last:
            raise DataError(f"bar {t}: not after the last bar stepped ({last})")
        self._append(t, bar)
        self._trim()
        df = self.history()
        inputs = build_inputs(df, self.strategy, self.costs, self.bar_seconds)
        j = len(df) - 1
        i = self.index + 1
        n_before = int(self.state[_bt.S_N_RECORDS])
        if n_before + 4 > self._trades.shape[0]:  # (a restored state counts from its past)
            rows = max(2 * self._trades.shape[0], n_before + 16)
            grown = np.zeros((rows, _bt.N_TRADE_FIELDS))
            grown[: self._trades.shape[0]] = self._trades
            self._trades = grown
        target = float(inputs["target"][j])
        _, equity = _bt.backtest_step_nb(
            self.state,
            self.params,
            i,
            float(inputs["open_"][j]),
            float(inputs["high"][j]),
            float(inputs["low"][j]),
            float(inputs["close"][j]),
            float(inputs["funding_rate"][j]),
            int(inputs["day"][j]),
            target,
            float(inputs["atr"][j]),
            float(inputs["realized_vol"][j]),
            float(inputs["regime"][j]),
            float(inputs["bar_vol"][j]),
            float(inputs["volume_ref"][j]),
            self._trades,
        )
        self.index = i
        s = self.state
        new = [self._trade_record(k) for k in range(n_before, int(s[_bt.S_N_RECORDS]))]
        return StepResult(
            index=i,
            time=t,
            target=target,
            equity=float(equity),
            position=float(s[_bt.S_QTY]),
            cash=float(s[_bt.S_CASH]),
            trades=new,
            pending_exit=bool(s[_bt.S_PEND_EXIT] > 0),
            pending_entry=int(s[_bt.S_PEND_ENTRY]),
            killed=bool(s[_bt.S_KILLED] > 0),
            day_halt=bool(s[_bt.S_DAY_HALT] > 0),
            exit_reason=_bt.EXIT_REASONS[int(s[_bt.S_PEND_REASON])],
        )

    def _trade_record(self, k: int) -> dict[str, Any]:
        r = self._trades[k]
        return {
            "entry_idx": int(r[_bt.T_ENTRY_IDX]),
            "exit_idx": int(r[_bt.T_EXIT_IDX]),
            "size": float(r[_bt.T_SIZE]),
            "entry_price": float(r[_bt.T_ENTRY_PRICE]),
            "exit_price": float(r[_bt.T_EXIT_PRICE]),
            "entry_fee": float(r[_bt.T_ENTRY_FEE]),
            "exit_fee": float(r[_bt.T_EXIT_FEE]),
            "funding": float(r[_bt.T_FUNDING]),
            "pnl": float(r[_bt.T_PNL]),
            "exit_reason": _bt.EXIT_REASONS[int(r[_bt.T_REASON])],
        }

    # ------------------------------------------------------------------ preview
    def preview_open(self, price: float) -> OpenOrders:
        """Return the orders the engine executes at the next open if it opens at ``price``.

        Runs the engine's own orders at the open on a copy of the state, as step 2 of
        :func:`~quantlab.kernels.backtest.backtest_step_nb` runs them: the pending exit
        (``close_position_nb``), then the pending entry (``open_position_nb``), at reference
        price ``price`` with the next bar's cost inputs; the state held is not touched.
        Nothing else of the bar is run, so an entry whose stop lies at or beyond the open
        (slippage wider than the stop) is still previewed: the engine stops it out at that
        open, and so does the stop trigger sent with it.
        """
        if not (math.isfinite(price) and price > 0):
            raise DataError(f"preview: price {price!r} must be a positive number")
        s = self.state.copy()
        qty0 = float(s[_bt.S_QTY])
        if self.fill == "close" or (s[_bt.S_PEND_EXIT] == 0 and s[_bt.S_PEND_ENTRY] == 0):
            return OpenOrders(price, 0.0, 0.0, math.nan, math.nan, "signal")
        p = self.params
        reason = _bt.EXIT_REASONS[int(s[_bt.S_PEND_REASON])]
        exit_size = -qty0 if (s[_bt.S_PEND_EXIT] > 0 and qty0 != 0) else 0.0
        nxt = self.index + 1
        bar_vol, volume_ref = self.next_cost_inputs()
        trades = np.zeros((int(s[_bt.S_N_RECORDS]) + 2, _bt.N_TRADE_FIELDS))
        if exit_size != 0.0:
            _bt.close_position_nb(
                s, p, trades, nxt, price, int(s[_bt.S_PEND_REASON]), False, bar_vol, volume_ref
            )
        direction = float(s[_bt.S_PEND_ENTRY])
        entry_size, stop, tp, impact_size = 0.0, math.nan, math.nan, math.nan
        if direction != 0.0 and s[_bt.S_QTY] == 0.0:
            flat = s.copy()
            frac, atr = float(s[_bt.S_PEND_FRAC]), float(s[_bt.S_PEND_ATR])
            _bt.open_position_nb(s, p, nxt, direction, price, frac, atr, bar_vol, volume_ref)
            if s[_bt.S_QTY] != 0.0:
                entry_size = float(s[_bt.S_QTY])
                stop = _stop_level(s, p)
                tp = float(s[_bt.S_TP])
                if p[_bt.P_SLIP_IMPACT] > 0.0:
                    # the size the engine measures the impact on, notional / price: its own
                    # entry without fees and slippage trades exactly that
                    free = p.copy()
                    for k in (_bt.P_TAKER_FEE, _bt.P_SLIP_FIXED, _bt.P_SLIP_VOL, _bt.P_SLIP_IMPACT):
                        free[k] = 0.0
                    _bt.open_position_nb(flat, free, nxt, direction, price, frac, atr, bar_vol,
                                       volume_ref)  # fmt: skip
                    impact_size = abs(float(flat[_bt.S_QTY]))
        return OpenOrders(
            price=float(price),
            exit_size=float(exit_size),
            entry_size=entry_size,
            stop=stop,
            take_profit=tp,
            exit_reason=reason,
            entry_impact_size=impact_size,
        )

    def next_cost_inputs(self) -> tuple[float, float]:
        """Return ``(bar_vol, volume_ref)`` of the next bar: the backtest's cost inputs.

        Both are known at the last close (:meth:`Costs.bar_volatility` is shifted by one
        bar, the volume reference is the previous bar's volume), so they are computed on
        the history with one placeholder bar appended.
        """
        if not self._bars:
            return math.nan, math.nan
        close = np.array([b["close"] for b in self._bars] + [math.nan])
        volume = np.array([b["volume"] for b in self._bars] + [math.nan])
        bar_vol = float(self.costs.bar_volatility(close)[-1])
        volume_ref = float(self.costs.volume_reference(volume)[-1])
        return bar_vol, volume_ref

    # ----------------------------------------------------------------- levels
    def protective_stop(self) -> float:
        """Return the tightest of the held position's hard/ATR and trailing stops (NaN: none).

        The level the engine checks in the next bar: the exchange-side backstop is moved
        there after every close.
        """
        return _stop_level(self.state, self.params)

    def take_profit(self) -> float:
        """Return the held position's take-profit level (NaN: none)."""
        return float(self.state[_bt.S_TP]) if self.state[_bt.S_QTY] != 0 else math.nan


def _stop_level(s: np.ndarray, p: np.ndarray) -> float:
    """Return the protective level the engine checks next for state ``s`` (NaN: none).

    The tightest of the fixed stop (hard / ATR) and the trailing stop, as the engine's
    intrabar check builds it (liquidation aside).
    """
    qty = s[_bt.S_QTY]
    if qty == 0:
        return math.nan
    d = 1.0 if qty > 0 else -1.0
    trail = trailing_stop_price_nb(
        s[_bt.S_ENTRY_PRICE], d, s[_bt.S_EXTREME], p[_bt.P_TRAIL_ACT], p[_bt.P_TRAIL_DIST]
    )
    return float(tighter_stop_nb(s[_bt.S_STOP], trail, d))
