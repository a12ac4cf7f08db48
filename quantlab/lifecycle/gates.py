"""Typed, configurable gates of the promotions past ``paper``, and the auto-pause rules.

A :class:`TrackRecord` is what a runner's journal says about a period of trading: closed
trades, the equity curve, kill-switch trips, realised against estimated slippage, and the
replay diff. Gates turn it into records (name, metric, value, op, threshold, passed), the
same shape as the validation gates of :mod:`quantlab.backtest.verdict`::

    cfg = LifecycleConfig()                          # the issue's defaults
    gates = paper_gates(record, cfg.paper)           # paper -> live_small
    pause, why = auto_pause(record, cfg.auto_pause)  # the runner's own check

Defaults (all configurable, ``None`` switches a gate off): paper -> live_small needs at
least 20 closed trades *or* 7 days of trading, profit factor >= 1.2, maximum drawdown
< 10 %, no kill-switch trip, realised slippage within the cost model's estimate, and the
replay's unexplained P&L within 0.1 % of the starting equity. A trading strategy pauses
itself when its last 30 closed trades have profit factor < 1.0 or its drawdown passes
15 %. ``live_small -> live_full`` ramps the size 25 % -> 50 % -> 100 %, at least 3 days at
each step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from quantlab.config import FrozenConfig

__all__ = [
    "AutoPauseConfig",
    "LifecycleConfig",
    "PaperGateConfig",
    "RampConfig",
    "TrackRecord",
    "auto_pause",
    "max_drawdown",
    "paper_gates",
    "profit_factor",
    "ramp_gates",
]


class PaperGateConfig(FrozenConfig):
    """Thresholds of the ``paper -> live_small`` gates; ``None`` switches a gate off.

    Attributes
    ----------
    min_trades, min_days : int, float
        The track record is long enough with at least ``min_trades`` closed trades *or*
        ``min_days`` days of trading.
    min_profit_factor : float
        Gross profit over gross loss of the closed trades, at least this.
    max_drawdown : float
        Peak-to-trough drawdown of the equity curve (a fraction), strictly below this.
    no_kill : bool
        No kill-switch trip during the track record.
    max_slippage_ratio : float
        Realised slippage (bps, mean over fills) at most this times the cost model's
        estimate (1.0: within the estimate).
    max_replay_diff : float
        Unexplained P&L of the replay (live against the backtest of the same bars and
        decisions, after price slippage, fees, funding and latency are accounted for), as
        a fraction of the starting equity, at most this.
    """

    min_trades: int | None = Field(20, ge=0)
    min_days: float | None = Field(7.0, ge=0.0)
    min_profit_factor: float | None = Field(1.2, ge=0.0)
    max_drawdown: float | None = Field(0.10, gt=0.0, le=1.0)
    no_kill: bool = True
    max_slippage_ratio: float | None = Field(1.0, ge=0.0)
    max_replay_diff: float | None = Field(1e-3, ge=0.0)


class AutoPauseConfig(FrozenConfig):
    """When a trading strategy pauses itself.

    Attributes
    ----------
    window : int
        The profit-factor rule looks at the last ``window`` closed trades (and only once
        there are that many).
    min_profit_factor : float
        Pause when the profit factor of the last ``window`` trades is below this.
    max_drawdown : float
        Pause when the drawdown of the equity since the current state began passes this.
    """

    window: int = Field(30, ge=1)
    min_profit_factor: float | None = Field(1.0, ge=0.0)
    max_drawdown: float | None = Field(0.15, gt=0.0, le=1.0)


class RampConfig(FrozenConfig):
    """The size ramp of real-money trading.

    Attributes
    ----------
    steps : tuple of float
        Size fractions, strictly increasing, in (0, 1], the last 1.0. ``live_small``
        trades at the first; each promotion to ``live_full`` moves one step up.
    min_days_per_step : float
        Minimum time at a step before the next.
    """

    steps: tuple[float, ...] = (0.25, 0.5, 1.0)
    min_days_per_step: float = Field(3.0, ge=0.0)

    @field_validator("steps")
    @classmethod
    def _check_steps(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) < 2:
            raise ValueError("needs at least two steps (live_small, then live_full)")
        if any(not (0.0 < x <= 1.0) for x in v):
            raise ValueError(f"every step must lie in (0, 1], got {list(v)}")
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError(f"steps must increase strictly, got {list(v)}")
        if v[-1] != 1.0:
            raise ValueError(f"the last step must be 1.0 (full size), got {v[-1]}")
        return v


class LifecycleConfig(FrozenConfig):
    """Every threshold of the lifecycle: ``paper`` gates, ``auto_pause`` rules, ``ramp``.

    Load it from YAML with ``LifecycleConfig.from_dict(yaml.safe_load(text))``; an unknown
    key is an error.
    """

    paper: PaperGateConfig = Field(default_factory=PaperGateConfig)
    auto_pause: AutoPauseConfig = Field(default_factory=AutoPauseConfig)
    ramp: RampConfig = Field(default_factory=RampConfig)


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class TrackRecord:
    """What a runner's journal says about a period of trading.

    Attributes
    ----------
    strategy_hash : str
        Hash of the strategy that traded (:func:`quantlab.backtest.verdict.strategy_hash`).
    mode : str
        ``paper``, ``sim``, ``testnet`` or ``mainnet``.
    start, end : pd.Timestamp
        UTC wall-clock span of the trading.
    trade_pnl : np.ndarray
        Net P&L of each closed trade, in closing order.
    equity : pd.Series
        Equity over time (UTC index).
    kill_trips : int
        Kill-switch trips (by hand or by a limit) in the period.
    slippage_bps, slippage_estimate_bps : float or None
        Mean realised slippage of the fills and the cost model's estimate for them.
    replay_diff : float or None
        Unexplained replay P&L difference as a fraction of the starting equity.
    source : dict
        Where the record came from (journal path, its SHA-256, ...).
    """

    strategy_hash: str
    mode: str
    start: pd.Timestamp
    end: pd.Timestamp
    trade_pnl: np.ndarray
    equity: pd.Series
    kill_trips: int = 0
    slippage_bps: float | None = None
    slippage_estimate_bps: float | None = None
    replay_diff: float | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def n_trades(self) -> int:
        return len(self.trade_pnl)

    @property
    def days(self) -> float:
        return float((self.end - self.start) / pd.Timedelta(days=1))

    def metrics(self) -> dict[str, Any]:
        """Return the metrics the gates read, as plain values."""
        pf = profit_factor(self.trade_pnl)
        return {
            "n_trades": self.n_trades,
            "days": self.days,
            "profit_factor": pf,
            "max_drawdown": max_drawdown(self.equity),
            "kill_trips": int(self.kill_trips),
            "slippage_bps": self.slippage_bps,
            "slippage_estimate_bps": self.slippage_estimate_bps,
            "replay_diff": self.replay_diff,
            "total_pnl": float(np.sum(self.trade_pnl)) if self.n_trades else 0.0,
        }


def profit_factor(pnl: np.ndarray | pd.Series | list[float]) -> float:
    """Return gross profit over gross loss (inf without losses, NaN without trades).

    Notes
    -----
    :math:`PF = \\sum_{p_i > 0} p_i / \\left| \\sum_{p_i < 0} p_i \\right|`; a run of only
    winners has :math:`PF = \\infty` and a run of zero-P&L trades :math:`PF = 0`.
    """
    p = np.asarray(pnl, dtype=np.float64)
    if p.size == 0:
        return math.nan
    gain = float(p[p > 0].sum())
    loss = float(-p[p < 0].sum())
    if loss == 0.0:
        return math.inf if gain > 0.0 else 0.0
    return gain / loss


def max_drawdown(equity: pd.Series | np.ndarray) -> float:
    """Return the largest peak-to-trough fall of an equity curve, as a fraction (>= 0)."""
    e = np.asarray(equity, dtype=np.float64)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return 0.0
    peak = np.maximum.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, 1.0 - e / peak, 0.0)
    return float(max(dd.max(), 0.0))


def _gate(
    name: str, metric: str, value: Any, op: str, threshold: Any, passed: bool, **extra: Any
) -> dict[str, Any]:
    v = value
    if isinstance(v, float) and not math.isfinite(v):
        extra.setdefault("note", "no losing trades" if v > 0 else "not finite")
        v = None if math.isnan(value) else "inf"
    return {
        "name": name,
        "metric": metric,
        "value": v,
        "op": op,
        "threshold": threshold,
        "passed": bool(passed),
        **extra,
    }


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def paper_gates(
    record: TrackRecord, config: PaperGateConfig | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return the ``paper -> live_small`` gate records of a track record.

    A missing metric (no slippage estimate, no replay) fails its gate, never passes it.
    """
    cfg = PaperGateConfig.from_dict(config)
    m = record.metrics()
    out: list[dict[str, Any]] = []
    if cfg.min_trades is not None or cfg.min_days is not None:
        enough_trades = cfg.min_trades is not None and m["n_trades"] >= cfg.min_trades
        enough_days = cfg.min_days is not None and m["days"] >= cfg.min_days
        out.append(
            _gate(
                "track_record_length",
                "n_trades | days",
                {"n_trades": m["n_trades"], "days": round(m["days"], 6)},
                ">= (either)",
                {"n_trades": cfg.min_trades, "days": cfg.min_days},
                enough_trades or enough_days,
            )
        )
    if cfg.min_profit_factor is not None:
        pf = m["profit_factor"]
        ok = (not math.isnan(pf)) and pf >= cfg.min_profit_factor
        out.append(_gate("profit_factor", "profit_factor", pf, ">=", cfg.min_profit_factor, ok))
    if cfg.max_drawdown is not None:
        dd = m["max_drawdown"]
        out.append(
            _gate("max_drawdown", "max_drawdown", dd, "<", cfg.max_drawdown, dd < cfg.max_drawdown)
        )
    if cfg.no_kill:
        k = m["kill_trips"]
        out.append(_gate("no_kill", "kill_trips", k, "==", 0, k == 0))
    if cfg.max_slippage_ratio is not None:
        real = _finite_or_none(m["slippage_bps"])
        est = _finite_or_none(m["slippage_estimate_bps"])
        known = real is not None and est is not None
        limit = est * cfg.max_slippage_ratio if known else None
        extra = (
            {"estimate_bps": est}
            if known
            else {"note": "realised slippage or its estimate is unknown"}
        )
        ok = known and real <= limit + 1e-9
        out.append(_gate("slippage", "slippage_bps", real, "<=", limit, ok, **extra))
    if cfg.max_replay_diff is not None:
        diff = _finite_or_none(m["replay_diff"])
        out.append(
            _gate(
                "replay_diff",
                "replay_diff",
                diff,
                "<=",
                cfg.max_replay_diff,
                diff is not None and abs(diff) <= cfg.max_replay_diff,
                **({} if diff is not None else {"note": "no replay diff"}),
            )
        )
    return out


def auto_pause(
    record: TrackRecord, config: AutoPauseConfig | Mapping[str, Any] | None = None
) -> tuple[bool, list[str]]:
    """Return ``(pause, reasons)``: whether the runner must pause the strategy, and why.

    Notes
    -----
    The profit-factor rule looks at the last ``window`` closed trades and applies only
    once there are ``window`` of them; the drawdown rule at the whole equity curve of the
    record (the current state's period).
    """
    cfg = AutoPauseConfig.from_dict(config)
    reasons = []
    pnl = np.asarray(record.trade_pnl, dtype=np.float64)
    if cfg.min_profit_factor is not None and pnl.size >= cfg.window:
        pf = profit_factor(pnl[-cfg.window :])
        if pf < cfg.min_profit_factor:
            reasons.append(
                f"profit factor of the last {cfg.window} trades is {pf:.4g} "
                f"< {cfg.min_profit_factor:g}"
            )
    if cfg.max_drawdown is not None:
        dd = max_drawdown(record.equity)
        if dd > cfg.max_drawdown:
            reasons.append(f"drawdown {dd:.2%} passes {cfg.max_drawdown:.0%}")
    return bool(reasons), reasons


def ramp_gates(
    record: TrackRecord,
    *,
    days_at_step: float,
    config: LifecycleConfig | Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return the gate records of one ramp step up (``live_small -> live_full`` and on).

    The step needs ``min_days_per_step`` at the current size, no kill-switch trip and no
    auto-pause rule tripped by the record of the current step.
    """
    cfg = LifecycleConfig.from_dict(config)
    out = [
        _gate(
            "time_at_step",
            "days",
            round(days_at_step, 6),
            ">=",
            cfg.ramp.min_days_per_step,
            days_at_step >= cfg.ramp.min_days_per_step,
        ),
        _gate("no_kill", "kill_trips", record.kill_trips, "==", 0, record.kill_trips == 0),
    ]
    pause, reasons = auto_pause(record, cfg.auto_pause)
    out.append(
        _gate(
            "auto_pause_rules",
            "auto_pause",
            "; ".join(reasons) or "clear",
            "==",
            "clear",
            not pause,
        )
    )
    return out
