"""The execution pipeline: OrderSizer -> SlippageEstimator -> ProfitabilityFilter ->
ExecutionBackend -> PostTradeValidator.

Each stage is a small object with a typed, frozen config and can be swapped on its own.
:meth:`ExecutionPipeline.decide` turns a target direction into an :class:`OrderIntent` or a
refusal that carries its reason; :meth:`ExecutionPipeline.execute` sends the intent and
checks what came back. A breach of the post-trade checks is returned as a
:class:`Breach` event for the runner to act on; nothing is raised for it.

The sizing rules are those of :mod:`quantlab.risk` (the backtest engine's own kernels)
and the cost estimate is the backtest's slippage function, so a decision here is the
decision the backtest made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from quantlab.backtest.costs import Costs
from quantlab.config import FrozenConfig
from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.model import Order, OrderIntent, OrderStatus, Side
from quantlab.execution.slippage import SlippageEstimate, SlippageEstimator
from quantlab.kernels import risk as _rk
from quantlab.risk.sizing import Edge, Sizing

__all__ = [
    "Breach",
    "Decision",
    "ExecutionPipeline",
    "ExecutionResult",
    "OrderSizer",
    "PostTradeConfig",
    "PostTradeValidator",
    "ProfitabilityConfig",
    "ProfitabilityFilter",
    "SizerConfig",
]


# ------------------------------------------------------------------------ sizing


class SizerConfig(FrozenConfig):
    """How the OrderSizer sizes an entry: the strategy's sizing rule, edge and cap."""

    sizing: Sizing = Sizing()
    edge: Edge = Edge()
    max_leverage: float = Field(1.0, gt=0.0, le=100.0)


@dataclass(frozen=True, slots=True)
class SizeDecision:
    """Fraction of equity and size in coins; ``reason`` says why it is 0."""

    fraction: float
    size: float
    reason: str = ""


class OrderSizer:
    """Size an entry with the rules of :mod:`quantlab.risk` (the engine's kernels).

    ``fixed``: the configured fraction; ``kelly``: fractional Kelly from the measured (or
    prior) win rate and payoff, 0 without an edge; ``vol_target``: target over realised
    volatility. A regime probability scales the fraction; the exposure cap clips it; the
    size is ``f E / (P (1 + fee))`` (:func:`quantlab.risk.sizing.position_size`).
    """

    def __init__(self, config: SizerConfig | dict | None = None) -> None:
        self.config = SizerConfig.from_dict(config)
        sz = self.config.sizing
        self._kind = sz.kind
        self._p = (sz.fraction, sz.kelly_scale, sz.min_fraction, sz.max_fraction,
                   sz.target_vol, sz.regime_floor)  # fmt: skip

    def fraction(
        self,
        *,
        win_rate: float | None = None,
        payoff: float | None = None,
        realized_vol: float = math.nan,
        regime: float = math.nan,
    ) -> tuple[float, str]:
        """Return ``(fraction of equity, reason if 0)``."""
        fraction, kelly_scale, kmin, kmax, target_vol, floor = self._p
        edge = self.config.edge
        if self._kind == "kelly":
            p = edge.win_rate if win_rate is None else win_rate
            b = edge.payoff if payoff is None else payoff
            if p is None or b is None:
                return 0.0, "kelly: no win rate/payoff measured or given"
            f = float(_rk.kelly_fraction_nb(float(p), float(b), kelly_scale, kmin, kmax))
            if f <= 0.0:
                return 0.0, f"kelly: no edge (win rate {p:.3f}, payoff {b:.3f})"
        elif self._kind == "vol_target":
            f = float(_rk.vol_target_fraction_nb(target_vol, float(realized_vol), fraction))
            if f <= 0.0:
                return 0.0, "vol_target: realised volatility unknown"
        else:
            f = fraction
        if not math.isnan(regime):
            f = float(_rk.regime_scale_nb(f, float(regime), floor))
        f = float(_rk.cap_exposure_nb(f, self.config.max_leverage))
        return f, "" if f > 0 else "regime scaling left nothing"

    def size(self, equity: float, price: float, fee: float = 0.0, **kwargs: Any) -> SizeDecision:
        """Return the entry size for ``equity`` at ``price`` (coins), or 0 with a reason."""
        if not (equity > 0):
            return SizeDecision(0.0, 0.0, f"equity {equity!r} is not positive")
        if not (price > 0 and math.isfinite(price)):
            return SizeDecision(0.0, 0.0, f"price {price!r} is not a positive number")
        f, reason = self.fraction(**kwargs)
        if f <= 0:
            return SizeDecision(0.0, 0.0, reason)
        return SizeDecision(f, f * equity / (price * (1.0 + fee)))


# ------------------------------------------------------------------ profitability


class ProfitabilityConfig(FrozenConfig):
    """When an order pays for itself.

    Attributes
    ----------
    min_edge_multiple : float
        The expected edge must be at least this multiple of the round-trip cost (two taker
        fees and two expected slippages); 0 turns the check off.
    validate_tp_sl : bool
        Refuse an entry whose take-profit:stop-loss cannot pay for its win rate after
        costs (:func:`quantlab.risk.stops.validate_tp_sl`).
    """

    min_edge_multiple: float = Field(1.0, ge=0.0)
    validate_tp_sl: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of a check: ``ok`` or the ``reason`` it failed."""

    ok: bool
    reason: str = ""


class ProfitabilityFilter:
    """Refuse orders whose expected edge does not pay their fees and expected slippage."""

    def __init__(self, config: ProfitabilityConfig | dict | None = None) -> None:
        self.config = ProfitabilityConfig.from_dict(config)

    def check(
        self,
        round_trip_cost: float,
        *,
        expected_edge: float | None = None,
        win_rate: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
    ) -> Verdict:
        """Return whether an entry passes (fractions of price)."""
        m = self.config.min_edge_multiple
        if m > 0 and expected_edge is not None and not expected_edge > m * round_trip_cost:
            return Verdict(
                False,
                f"expected edge {expected_edge:.5f} does not pay {m:g} x the round-trip "
                f"cost {round_trip_cost:.5f}",
            )
        tpsl = self.config.validate_tp_sl and take_profit and stop_loss and win_rate is not None
        if tpsl and not _rk.tp_sl_valid_nb(
            float(win_rate), take_profit, stop_loss, round_trip_cost
        ):
            return Verdict(
                False,
                f"TP:SL {take_profit:.4f}:{stop_loss:.4f} cannot pay for win rate "
                f"{win_rate:.3f} after costs {round_trip_cost:.5f}",
            )
        return Verdict(True)


# --------------------------------------------------------------------- post-trade


class PostTradeConfig(FrozenConfig):
    """Tolerances of the post-trade checks.

    Attributes
    ----------
    max_price_deviation_bps : float
        A fill price worse than the estimate by more than this is a ``price`` breach.
    size_tolerance : float
        Relative shortfall of the filled size against the intent that is a ``size``
        breach (a partial fill of a market order).
    position_tolerance : float
        Absolute difference of the position against the expectation (coins).
    """

    max_price_deviation_bps: float = Field(25.0, gt=0.0)
    size_tolerance: float = Field(1e-6, ge=0.0)
    position_tolerance: float = Field(1e-9, ge=0.0)


@dataclass(frozen=True, slots=True)
class Breach:
    """A post-trade check that failed: the runner decides what to do about it."""

    kind: str  # "price", "size", "position", "rejected"
    client_order_id: str | None
    expected: float
    actual: float
    message: str


class PostTradeValidator:
    """Compare what happened with what was intended and estimated."""

    def __init__(self, config: PostTradeConfig | dict | None = None) -> None:
        self.config = PostTradeConfig.from_dict(config)

    def check(
        self,
        intent: OrderIntent,
        order: Order,
        estimate: SlippageEstimate | None = None,
        *,
        expected_position: float | None = None,
        actual_position: float | None = None,
    ) -> list[Breach]:
        """Return the breaches of one executed intent (empty when all is well)."""
        c = self.config
        out: list[Breach] = []
        cloid = intent.client_order_id
        if order.status is OrderStatus.REJECTED:
            out.append(Breach("rejected", cloid, intent.size, 0.0, order.message or "rejected"))
            return out
        done = order.filled_size > 0
        if estimate is not None and done and order.filled_size > 0 and order.avg_px > 0:
            worse = intent.side.sign * (order.avg_px - estimate.fill_price) / estimate.fill_price
            if worse * 1e4 > c.max_price_deviation_bps:
                out.append(Breach(
                    "price", cloid, estimate.fill_price, order.avg_px,
                    f"{intent.symbol} {intent.side.value} filled at {order.avg_px:.6g}, "
                    f"{worse * 1e4:.1f} bps worse than the estimate {estimate.fill_price:.6g}",
                ))  # fmt: skip
        if done and order.filled_size < intent.size * (1 - c.size_tolerance):
            out.append(Breach(
                "size", cloid, intent.size, order.filled_size,
                f"{intent.symbol}: filled {order.filled_size:g} of {intent.size:g}",
            ))  # fmt: skip
        known = expected_position is not None and actual_position is not None
        if known and abs(actual_position - expected_position) > c.position_tolerance:
            out.append(Breach(
                    "position", cloid, expected_position, actual_position,
                    f"{intent.symbol}: position {actual_position:g}, expected "
                    f"{expected_position:g}",
                ))  # fmt: skip
        return out


# ------------------------------------------------------------------------ pipeline


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pipeline decided: an intent to send, or a refusal with its reason."""

    intent: OrderIntent | None
    reason: str = ""
    fraction: float = 0.0
    estimate: SlippageEstimate | None = None

    @property
    def refused(self) -> bool:
        """Return True when nothing is to be sent."""
        return self.intent is None


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """The order the backend returned and the breaches the validator found."""

    order: Order | None
    breaches: list[Breach] = field(default_factory=list)
    error: str = ""


class ExecutionPipeline:
    """OrderSizer -> SlippageEstimator -> ProfitabilityFilter -> backend -> PostTradeValidator.

    Parameters
    ----------
    backend : ExecutionBackend
        Where orders go.
    costs : Costs, float or mapping
        The backtest's cost model (fees, slippage).
    sizer, profitability, validator : stage or config, optional
        The stages (or their configs); defaults otherwise.
    """

    def __init__(
        self,
        backend: ExecutionBackend,
        costs: Costs | float | dict | None = None,
        *,
        sizer: OrderSizer | SizerConfig | dict | None = None,
        slippage: SlippageEstimator | None = None,
        profitability: ProfitabilityFilter | ProfitabilityConfig | dict | None = None,
        validator: PostTradeValidator | PostTradeConfig | dict | None = None,
    ) -> None:
        self.backend = backend
        self.slippage = slippage or SlippageEstimator(costs)
        self.sizer = sizer if isinstance(sizer, OrderSizer) else OrderSizer(sizer)
        self.profitability = (
            profitability
            if isinstance(profitability, ProfitabilityFilter)
            else ProfitabilityFilter(profitability)
        )
        self.validator = (
            validator
            if isinstance(validator, PostTradeValidator)
            else PostTradeValidator(validator)
        )

    def decide(
        self,
        strategy_id: str,
        symbol: str,
        direction: int,
        *,
        price: float,
        equity: float,
        decision_bar: Any = None,
        expected_edge: float | None = None,
        win_rate: float | None = None,
        payoff: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        realized_vol: float = math.nan,
        regime: float = math.nan,
        reason: str = "signal",
    ) -> Decision:
        """Return the entry intent for ``direction`` (+1 long, -1 short), or a refusal."""
        if direction not in (1, -1):
            return Decision(None, f"direction {direction!r}: nothing to enter")
        fee = self.slippage.costs.taker_fee
        sized = self.sizer.size(equity, price, fee, win_rate=win_rate, payoff=payoff,
                                realized_vol=realized_vol, regime=regime)  # fmt: skip
        if sized.size <= 0:
            return Decision(None, f"sizer: {sized.reason}")
        # the engine measures an entry's impact on its size before costs, f E / P
        impact_size = sized.fraction * equity / price
        est = self.slippage.estimate(symbol, direction, sized.size, price, impact_size=impact_size)
        round_trip = 2.0 * est.cost_frac
        verdict = self.profitability.check(round_trip, expected_edge=expected_edge,
                                           win_rate=win_rate, take_profit=take_profit,
                                           stop_loss=stop_loss)  # fmt: skip
        if not verdict.ok:
            return Decision(None, f"profitability: {verdict.reason}", sized.fraction, est)
        side = Side.BUY if direction > 0 else Side.SELL
        intent = OrderIntent(strategy_id, symbol, side, sized.size, decision_bar=decision_bar,
                             reason=reason, impact_size=impact_size)  # fmt: skip
        return Decision(intent, "", sized.fraction, est)

    def execute(
        self, decision: Decision, *, expected_position: float | None = None
    ) -> ExecutionResult:
        """Send a decided intent and validate the outcome (refusals pass through)."""
        from quantlab.errors import OrderRejected

        if decision.intent is None:
            return ExecutionResult(None, [], decision.reason)
        intent = decision.intent
        try:
            order = self.backend.submit(intent)
        except OrderRejected as exc:
            breach = Breach("rejected", intent.client_order_id, intent.size, 0.0, exc.reason)
            return ExecutionResult(None, [breach], str(exc))
        actual = None
        if expected_position is not None and order.filled_size > 0:
            actual = self.backend.position(intent.symbol)
        breaches = self.validator.check(intent, order, decision.estimate,
                                        expected_position=expected_position,
                                        actual_position=actual)  # fmt: skip
        return ExecutionResult(order, breaches)
