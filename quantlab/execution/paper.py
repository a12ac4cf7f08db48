"""The paper backend: fills orders against a bar feed with the backtest's own cost model.

A paper account follows the event engine's timeline (:mod:`quantlab.kernels.backtest`), so
a paper run over historical bars equals the backtest of those bars:

1. :meth:`PaperBackend.on_bar` receives a closed bar. Market orders waiting for the next
   price (``fill="next_open"``) fill at its open, as taker, with
   :func:`~quantlab.kernels.backtest.slippage_frac_nb` (the engine's function); the
   impact term's participation is measured on the intent's ``impact_size`` when it has
   one (an entry sized as the engine sizes it: its size before costs), else on the size
   filled, as the engine measures an exit's.
2. Resting orders are checked against the bar: a stop (trigger ``sl``) fills at its level,
   or at the open when the bar gaps through it (the engine's ``stop_fill_price_nb``),
   plus slippage, as taker; a limit order (a take-profit) fills at its price, or at the
   open when the bar opens beyond it (``target_fill_price_nb``), as maker without
   slippage. When a stop and a target both lie inside the bar the stop goes first (the
   engine's pessimistic default; ``optimistic=True`` reverses it). A reduce-only order
   never opens or grows a position: it is clipped, or cancelled when flat.
3. Funding: a position held through the bar pays ``qty * close * rate * hours``.
4. With ``fill="close"`` a market order submitted after the bar fills at its close.

Sizes are coins; the account is one USD cross-margin account (``equity = cash + sum qty *
mark``), like the engine's.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field

from quantlab.backtest.costs import Costs, make_costs
from quantlab.config import FrozenConfig
from quantlab.errors import ConfigError, OrderRejected
from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.model import (
    Account,
    Bar,
    Fill,
    Liquidity,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    TriggerKind,
    check_bracket,
)
from quantlab.execution.slippage import SlippageEstimator
from quantlab.kernels.risk import liquidation_price_nb, stop_fill_price_nb, target_fill_price_nb

__all__ = ["PaperBackend", "PaperConfig"]


class PaperConfig(FrozenConfig):
    """Settings of a paper account.

    Attributes
    ----------
    fill : {"next_open", "close"}
        When a market order fills: at the open of the next bar (default) or at the close
        of the last bar (the engine's ``fill`` argument).
    init_cash : float
        Starting USD.
    max_leverage : float
        Default leverage of every symbol (``set_leverage`` changes it); an order whose
        resulting margin exceeds the equity is refused.
    maintenance_margin : float
        Maintenance margin rate: a position is liquidated at the engine's liquidation
        price (``None`` disables it).
    min_notional : float
        Smallest order notional in USD (Hyperliquid: 10); 0 disables the check.
    optimistic : bool
        Take the target before the stop when both lie inside one bar.
    bar_seconds : float or None
        Bar length for funding and order times; inferred from the feed when None.
    """

    fill: Literal["next_open", "close"] = "next_open"
    init_cash: float = Field(10_000.0, gt=0.0)
    max_leverage: float = Field(20.0, gt=0.0, le=200.0)
    maintenance_margin: float | None = Field(None, ge=0.0, lt=1.0)
    min_notional: float = Field(0.0, ge=0.0)
    optimistic: bool = False
    bar_seconds: float | None = Field(None, gt=0.0)


@dataclass(slots=True)
class _Book:
    """Mutable state of one order inside the paper backend."""

    order: Order
    seq: int
    triggered: bool = False
    parent: str | None = None  # a grouped trigger waits for this entry's first fill
    impact_size: float | None = None  # coins the impact term is measured on (None: filled)


class PaperBackend(ExecutionBackend):
    """Paper trading against a bar feed (see the module docstring for the timeline).

    Parameters
    ----------
    costs : Costs, float, mapping or None
        The backtest's fees and slippage model (``Costs.hyperliquid()`` for the venue's
        base-tier fees).
    config : PaperConfig or mapping, optional
        Settings; keyword arguments override its fields.
    """

    name = "paper"

    def __init__(
        self,
        costs: Costs | float | dict | None = None,
        config: PaperConfig | dict | None = None,
        **overrides: object,
    ) -> None:
        base = PaperConfig.from_dict(config)
        self.config = base.model_copy(update=overrides) if overrides else base
        if overrides:
            PaperConfig(**self.config.model_dump())  # validate the overrides
        self.costs = make_costs(costs)
        self.slippage = SlippageEstimator(self.costs)
        self._lock = threading.RLock()
        self._cash = float(self.config.init_cash)
        self._qty: dict[str, float] = {}
        self._entry: dict[str, float] = {}
        self._leverage: dict[str, float] = {}
        self._last: dict[str, Bar] = {}
        self._books: dict[str, _Book] = {}  # by client order id, every order ever
        self._live: dict[int, _Book] = {}  # live orders by sequence number
        self._fills: list[Fill] = []
        self._pending_market: list[str] = []
        self._close_inputs: dict[str, tuple[float, float]] = {}
        self._seq = 0
        self._oid = 0
        self._tid = 0
        self._now_ms = 0
        self._bar_ms: dict[str, int] = {}
        self._deadline_ms: int | None = None
        self.fees_paid = 0.0
        self.funding_paid = 0.0

    # ------------------------------------------------------------------ the feed

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Process one closed bar: pending market orders, resting orders, funding.

        Returns the fills the bar produced. Bars of one symbol must arrive in time order.
        """
        with self._lock:
            sym = bar.symbol
            prev = self._last.get(sym)
            t0 = bar.time_ms
            if prev is not None:
                if t0 <= prev.time_ms:
                    raise ConfigError(
                        f"on_bar: bar of {sym} at {bar.time} is not after the last one "
                        f"({prev.time}); bars must arrive in time order"
                    )
                self._bar_ms.setdefault(sym, t0 - prev.time_ms)
            bar_ms = self._bar_length_ms(sym)
            t_close = t0 + bar_ms
            n_before = len(self._fills)
            self._now_ms = max(self._now_ms, t0)
            # 1. the open: queued market orders of this symbol
            bar_vol, volume_ref = self.slippage.inputs(sym)
            self._close_inputs[sym] = (bar_vol, volume_ref)
            for cloid in [c for c in self._pending_market if self._books[c].order.symbol == sym]:
                self._pending_market.remove(cloid)
                self._store(self._books[cloid], self._books[cloid].order)
                self._fill_taker(self._books[cloid], bar.open, bar_vol, volume_ref, t0)
            # 2. intrabar: stops, targets, limits, liquidation
            self._intrabar(bar, bar_vol, volume_ref, t_close)
            # 3. funding on the position held through the bar
            qty = self._qty.get(sym, 0.0)
            if qty != 0.0 and self.costs.funding and not math.isnan(bar.funding_rate):
                pay = qty * bar.close * bar.funding_rate * (bar_ms / 3_600_000.0)
                self._cash -= pay
                self.funding_paid += pay
            # 4. the close
            self._last[sym] = bar
            self.slippage.update(sym, bar.close, bar.volume)
            self._now_ms = max(self._now_ms, t_close)
            if self._deadline_ms is not None and self._now_ms >= self._deadline_ms:
                self._deadline_ms = None
                for book in self._live_books():
                    self._set_status(book, OrderStatus.CANCELED, "scheduled cancel")
            return self._fills[n_before:]

    def on_bars(self, bars: object, symbol: str) -> list[Fill]:
        """Feed every row of a bar frame (``open high low close volume [funding_rate]``)."""
        import pandas as pd

        if not isinstance(bars, pd.DataFrame):
            raise ConfigError(f"on_bars: expected a DataFrame, got {type(bars).__name__}")
        out: list[Fill] = []
        funding = bars.get("funding_rate", None)
        for k, (t, row) in enumerate(bars.iterrows()):
            fr = float(funding.iloc[k]) if funding is not None else float("nan")
            out.extend(
                self.on_bar(Bar(symbol, t, row.open, row.high, row.low, row.close, row.volume, fr))
            )
        return out

    def _bar_length_ms(self, sym: str) -> int:
        if self.config.bar_seconds is not None:
            return round(self.config.bar_seconds * 1000)
        return self._bar_ms.get(sym, 3_600_000)

    # ------------------------------------------------------------------- the port

    def submit(self, intent: OrderIntent) -> Order:
        with self._lock:
            known = self._books.get(intent.client_order_id)
            if known is not None:
                return known.order
            sym = intent.symbol
            last = self._last.get(sym)
            if last is None:
                raise ConfigError(
                    f"paper: unknown symbol {sym!r}: feed its bars (on_bar) before trading it"
                )
            self._check(intent, last.close)
            self._oid += 1
            self._seq += 1
            order = Order.from_intent(
                intent, oid=self._oid, status=OrderStatus.OPEN, time_ms=self._now_ms
            )
            book = _Book(order, self._seq, impact_size=intent.impact_size)
            self._books[intent.client_order_id] = book
            self._store(book, order)
            if intent.order_type is OrderType.MARKET:
                if self.config.fill == "close":
                    bar_vol, volume_ref = self._inputs_at_close(sym)
                    self._fill_taker(book, last.close, bar_vol, volume_ref, self._now_ms)
                else:
                    self._pending_market.append(intent.client_order_id)
                    self._store(book, book.order)
            elif intent.order_type is OrderType.LIMIT:
                crosses = (intent.side.is_buy and intent.limit_px >= last.close) or (
                    not intent.side.is_buy and intent.limit_px <= last.close
                )
                if crosses and intent.tif is TimeInForce.ALO:
                    self._set_status(
                        book, OrderStatus.REJECTED, "post-only order would have matched"
                    )
                    raise OrderRejected(
                        f"paper: post-only {intent.side.value} at {intent.limit_px} would cross "
                        f"the last price {last.close} of {sym}",
                        client_order_id=intent.client_order_id,
                        reason="post-only order would have matched",
                    )
                if crosses:
                    bar_vol, volume_ref = self._inputs_at_close(sym)
                    self._fill_taker(book, last.close, bar_vol, volume_ref, self._now_ms)
                elif intent.tif is TimeInForce.IOC:
                    self._set_status(book, OrderStatus.CANCELED, "IOC order could not match")
            return self._books[intent.client_order_id].order

    def _inputs_at_close(self, sym: str) -> tuple[float, float]:
        # An order filled at the close of bar i uses bar i's inputs (known before bar i),
        # as the engine does with fill="close": the estimator has already seen bar i.
        return self._close_inputs.get(sym, (float("nan"), float("nan")))

    def _check(self, intent: OrderIntent, price: float) -> None:
        cloid = intent.client_order_id
        ref = intent.limit_px or intent.trigger_px or price
        if self.config.min_notional > 0 and intent.size * ref < self.config.min_notional:
            raise OrderRejected(
                f"paper: order {cloid} of {intent.size} {intent.symbol} at {ref} is worth "
                f"{intent.size * ref:.2f} USD, below the minimum notional "
                f"{self.config.min_notional} USD",
                client_order_id=cloid,
                reason="minimum notional",
            )
        qty = self._qty.get(intent.symbol, 0.0)
        grows = qty == 0.0 or (qty > 0) == intent.side.is_buy
        if intent.reduce_only and intent.order_type is not OrderType.TRIGGER and grows:
            raise OrderRejected(
                f"paper: reduce-only {intent.side.value} {intent.symbol} would increase "
                f"the position ({qty})",
                client_order_id=cloid,
                reason="reduce only order would increase position",
            )
        if not intent.reduce_only:
            new_qty = qty + intent.signed_size
            lev = self._leverage.get(intent.symbol, self.config.max_leverage)
            margin = self._margin_used(exclude=intent.symbol) + abs(new_qty) * ref / lev
            equity = self._equity()
            if abs(new_qty) > abs(qty) and margin > equity * (1.0 + 1e-12):
                raise OrderRejected(
                    f"paper: insufficient margin for {cloid}: {margin:.2f} USD needed at "
                    f"{lev:g}x, equity {equity:.2f} USD",
                    client_order_id=cloid,
                    reason="insufficient margin",
                )

    def submit_bracket(self, entry: OrderIntent, *protective: OrderIntent) -> list[Order]:
        """Submit an entry and reduce-only triggers that wake up at its first fill.

        The paper twin of Hyperliquid's ``normalTpsl`` grouping: the triggers are not live
        (nor listed as open) until the entry has filled, and are cancelled with an entry
        that is cancelled unfilled. With ``fill="next_open"`` an entry filling at the open
        arms its triggers for the rest of that bar.
        """
        check_bracket(entry, protective)
        with self._lock:
            if entry.client_order_id in self._books:
                return [self._books[entry.client_order_id].order] + [
                    self._books[c.client_order_id].order
                    for c in protective
                    if c.client_order_id in self._books
                ]
            first = self.submit(entry)
            out = [first]
            for child in protective:
                out.append(self.submit(child))
                self._books[child.client_order_id].parent = entry.client_order_id
            return out

    def _waiting(self, book: _Book) -> bool:
        """Tell whether a grouped trigger still waits for its entry (cancel it if orphaned)."""
        if book.parent is None:
            return False
        parent = self._books[book.parent].order
        if parent.filled_size > 0:
            return False
        if parent.status.is_final or (
            parent.order_type is OrderType.MARKET
            and parent.client_order_id not in self._pending_market
        ):
            self._set_status(book, OrderStatus.CANCELED, "entry canceled unfilled")
        return True

    def cancel(self, symbol: str, client_order_id: str) -> bool:
        with self._lock:
            book = self._books.get(client_order_id)
            if book is None or book.order.symbol != symbol or not book.order.status.is_live:
                return False
            if client_order_id in self._pending_market:
                self._pending_market.remove(client_order_id)
            self._set_status(book, OrderStatus.CANCELED, "canceled")
            for child in self._live_books():
                if child.parent == client_order_id:
                    self._waiting(child)  # cancelled with an entry that never filled
            return True

    def order_status(self, client_order_id: str) -> Order | None:
        with self._lock:
            book = self._books.get(client_order_id)
            return None if book is None else book.order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        with self._lock:
            return [
                b.order
                for b in self._live_books()
                if (symbol is None or b.order.symbol == symbol)
                and b.order.client_order_id not in self._pending_market
                and not self._waiting(b)
            ]

    def fills(self, since_ms: int | None = None) -> list[Fill]:
        with self._lock:
            if since_ms is None:
                return list(self._fills)
            return [f for f in self._fills if f.time_ms >= since_ms]

    def positions(self) -> dict[str, Position]:
        with self._lock:
            out = {}
            for sym, qty in self._qty.items():
                if qty == 0.0:
                    continue
                mark = self._mark(sym)
                lev = self._leverage.get(sym, self.config.max_leverage)
                out[sym] = Position(
                    sym,
                    qty,
                    self._entry[sym],
                    qty * (mark - self._entry[sym]),
                    abs(qty) * mark / lev,
                    self._liq_price(sym),
                    lev,
                )
            return out

    def account(self) -> Account:
        with self._lock:
            equity = self._equity()
            margin = self._margin_used()
            return Account(
                equity, max(equity - margin, 0.0), margin, self.positions(), self._now_ms
            )

    def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
            raise ConfigError(f"set_leverage: leverage must be an integer >= 1, got {leverage!r}")
        with self._lock:
            self._leverage[symbol] = float(leverage)

    def schedule_cancel(self, deadline_ms: int | None) -> None:
        with self._lock:
            self._deadline_ms = None if deadline_ms is None else int(deadline_ms)

    def mid(self, symbol: str) -> float:
        with self._lock:
            bar = self._last.get(symbol)
            if bar is None:
                raise ConfigError(
                    f"paper: unknown symbol {symbol!r}: no bar of it was fed (on_bar)"
                )
            return bar.close

    def now_ms(self) -> int:
        """Return the paper clock: the close time of the last bar fed."""
        return self._now_ms

    @property
    def cash(self) -> float:
        """Return the account's cash (USD, after fees and funding)."""
        return self._cash

    # ----------------------------------------------------------------- internals

    def _mark(self, sym: str) -> float:
        bar = self._last.get(sym)
        return bar.close if bar is not None else self._entry.get(sym, 0.0)

    def _equity(self) -> float:
        return self._cash + sum(q * self._mark(s) for s, q in self._qty.items())

    def _margin_used(self, exclude: str | None = None) -> float:
        return sum(
            abs(q) * self._mark(s) / self._leverage.get(s, self.config.max_leverage)
            for s, q in self._qty.items()
            if s != exclude
        )

    def _liq_price(self, sym: str) -> float | None:
        mmr = self.config.maintenance_margin
        qty = self._qty.get(sym, 0.0)
        if mmr is None or qty == 0.0:
            return None
        other = sum(q * self._mark(s) for s, q in self._qty.items() if s != sym)
        px = float(liquidation_price_nb(self._cash + other, qty, mmr))
        return None if math.isnan(px) else px

    def _store(self, book: _Book, order: Order) -> None:
        """Set a book's order and keep the index of live orders in step."""
        book.order = order
        live = order.status.is_live and (
            order.order_type is not OrderType.MARKET
            or order.client_order_id in self._pending_market
        )
        if live:
            self._live[book.seq] = book
        else:
            self._live.pop(book.seq, None)

    def _live_books(self) -> list[_Book]:
        return [self._live[k] for k in sorted(self._live)]

    def _set_status(self, book: _Book, status: OrderStatus, message: str = "") -> None:
        self._store(book, replace(book.order, status=status, message=message, time_ms=self._now_ms))

    def _intrabar(self, bar: Bar, bar_vol: float, volume_ref: float, t_close: int) -> None:
        sym = bar.symbol
        while True:
            qty = self._qty.get(sym, 0.0)
            events = []  # (priority, level order key, seq, kind, book, price)
            d = 1.0 if qty > 0 else -1.0
            liq = self._liq_price(sym)
            if liq is not None:
                px = float(stop_fill_price_nb(liq, d, bar.open, bar.low, bar.high))
                if not math.isnan(px):
                    events.append((px, "liq", None))
            for book in self._live_books():
                o = book.order
                if o.symbol != sym or o.client_order_id in self._pending_market:
                    continue
                if self._waiting(book):
                    continue
                if o.order_type is OrderType.TRIGGER and not book.triggered:
                    # a stop for a long sells below: direction of the position it protects
                    pd_ = -o.side.sign
                    if o.trigger_kind is TriggerKind.STOP_LOSS:
                        px = float(
                            stop_fill_price_nb(o.trigger_px, pd_, bar.open, bar.low, bar.high)
                        )
                        kind = "stop" if o.limit_px is None else "stop_limit"
                    else:
                        px = float(
                            target_fill_price_nb(o.trigger_px, pd_, bar.open, bar.low, bar.high)
                        )
                        kind = "tp_market" if o.limit_px is None else "tp_limit"
                    if not math.isnan(px):
                        events.append((px, kind, book))
                elif o.limit_px is not None:
                    pd_ = -o.side.sign  # a sell limit above the market: target of a long
                    px = float(target_fill_price_nb(o.limit_px, pd_, bar.open, bar.low, bar.high))
                    if not math.isnan(px):
                        events.append((px, "limit", book))
            if not events:
                return
            ev = self._first_event(events, bar)
            px, kind, book = ev
            if kind == "liq":
                self._liquidate(sym, px, bar_vol, volume_ref, t_close)
            elif kind in ("stop", "tp_market"):
                book.triggered = True
                self._set_status(book, OrderStatus.TRIGGERED)
                self._fill_taker(book, px, bar_vol, volume_ref, t_close)
            elif kind in ("stop_limit", "tp_limit"):
                book.triggered = True
                self._set_status(book, OrderStatus.TRIGGERED)
            else:
                self._fill_maker(book, px, t_close)

    def _first_event(self, events: list, bar: Bar) -> tuple:
        """Return the event the bar's path reaches first (the engine's ordering)."""

        def is_stop(e: tuple) -> bool:
            return e[1] in ("liq", "stop", "stop_limit")

        def key(e: tuple) -> tuple:
            seq = e[2].seq if e[2] is not None else -1
            return (abs(e[0] - bar.open), seq)

        at_open = [e for e in events if e[0] == bar.open]
        if at_open:
            stops = [e for e in at_open if is_stop(e)]
            return min(stops or at_open, key=key)
        stops = [e for e in events if is_stop(e)]
        others = [e for e in events if not is_stop(e)]
        pool = (others if self.config.optimistic else stops) if stops and others else events
        return min(pool, key=key)

    def _liquidate(self, sym: str, px: float, bar_vol: float, volume_ref: float, t: int) -> None:
        qty = self._qty[sym]
        self._oid += 1
        self._seq += 1
        intent_side = Side.SELL if qty > 0 else Side.BUY
        order = Order(
            sym,
            intent_side,
            abs(qty),
            None,
            self._oid,
            OrderStatus.OPEN,
            OrderType.MARKET,
            reduce_only=True,
            time_ms=t,
            message="liquidation",
        )
        book = _Book(order, self._seq)
        self._books[f"liq-{self._oid}"] = book
        self._store(book, order)
        self._fill_taker(book, px, bar_vol, volume_ref, t, reason="liquidation")

    def _clip_reduce_only(self, book: _Book) -> float:
        o = book.order
        size = o.remaining
        if not o.reduce_only:
            return size
        qty = self._qty.get(o.symbol, 0.0)
        if qty == 0.0 or (qty > 0) == o.side.is_buy:
            self._set_status(
                book, OrderStatus.CANCELED, "reduce only order would increase position"
            )
            return 0.0
        return min(size, abs(qty))

    def _fill_taker(
        self,
        book: _Book,
        ref_price: float,
        bar_vol: float,
        volume_ref: float,
        t: int,
        reason: str = "",
    ) -> None:
        size = self._clip_reduce_only(book)
        if size <= 0.0:
            return
        o = book.order
        impact = size if book.impact_size is None else book.impact_size
        s = self.slippage.slippage_frac(impact, bar_vol, volume_ref)
        price = ref_price * (1.0 + o.side.sign * s)
        if o.order_type is OrderType.LIMIT and o.limit_px is not None:
            worse = price > o.limit_px if o.side.is_buy else price < o.limit_px
            if worse:
                self._set_status(book, OrderStatus.CANCELED, "would fill beyond the limit price")
                return
        self._execute(book, size, price, self.costs.taker_fee, Liquidity.TAKER, t, reason)

    def _fill_maker(self, book: _Book, price: float, t: int) -> None:
        size = self._clip_reduce_only(book)
        if size <= 0.0:
            return
        self._execute(book, size, price, self.costs.maker_fee, Liquidity.MAKER, t, "")

    def _execute(
        self,
        book: _Book,
        size: float,
        price: float,
        fee_rate: float,
        liq: Liquidity,
        t: int,
        reason: str,
    ) -> None:
        o = book.order
        sym = o.symbol
        dq = o.side.sign * size
        qty = self._qty.get(sym, 0.0)
        entry = self._entry.get(sym, 0.0)
        fee = size * price * fee_rate
        closed = 0.0
        if qty != 0.0 and (qty > 0) != (dq > 0):
            n_close = min(abs(dq), abs(qty))
            closed = n_close * (price - entry) * (1.0 if qty > 0 else -1.0)
        new_qty = qty + dq
        if o.reduce_only and abs(size - abs(qty)) <= 1e-12 * max(abs(qty), 1.0):
            new_qty = 0.0  # exact flat, whatever the rounding (as the engine does)
        if new_qty == 0.0:
            self._entry.pop(sym, None)
        elif qty == 0.0 or (qty > 0) != (new_qty > 0):
            self._entry[sym] = price
        elif abs(new_qty) > abs(qty):
            self._entry[sym] = (entry * abs(qty) + price * size) / abs(new_qty)
        self._cash -= dq * price + fee
        self.fees_paid += fee
        self._qty[sym] = new_qty
        if new_qty == 0.0:
            del self._qty[sym]
        self._tid += 1
        fill = Fill(
            self._tid,
            o.oid,
            o.client_order_id,
            sym,
            o.side,
            size,
            price,
            fee,
            t,
            closed,
            liq,
            reason,
        )
        self._fills.append(fill)
        filled = o.filled_size + size
        avg = (
            price if o.filled_size == 0.0 else ((o.avg_px * o.filled_size + price * size) / filled)
        )
        status = (
            OrderStatus.FILLED if filled >= o.size * (1 - 1e-12) else OrderStatus.PARTIALLY_FILLED
        )
        self._store(book, replace(o, filled_size=filled, avg_px=avg, status=status, time_ms=t))
        if status is OrderStatus.PARTIALLY_FILLED and o.order_type is OrderType.MARKET:
            # a market order does not rest: its unfilled (reduce-only) remainder is
            # cancelled, as a venue cancels the rest of an IOC order
            if o.client_order_id in self._pending_market:
                self._pending_market.remove(o.client_order_id)
            self._store(
                book,
                replace(book.order, status=OrderStatus.CANCELED, message="remainder canceled"),
            )
