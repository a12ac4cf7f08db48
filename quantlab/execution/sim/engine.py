"""The matching engine and the accounts of the local Hyperliquid exchange.

Pure Python state behind a lock; :mod:`quantlab.execution.sim.server` puts HTTP, signature
checks and faults in front of it. Answers use the real API's JSON shapes (numbers as
decimal strings, sides ``"B"``/``"A"``), checked against recorded responses in the tests.

Market model
------------
Prices follow each coin's synthetic minute path (:mod:`.market`); the mid at time ``t`` is
the open of the minute that contains ``t``; the book is ``mid * (1 -/+ spread / 2)``.
An order that crosses the book fills at once at the touch, as taker; a resting limit fills
at its price (or at the open of a minute that gaps through it), as maker, when a later
minute's range reaches it; a trigger order fires when a minute's range reaches its trigger
price (a stop-market fills at the trigger, or at the gapped open, minus half the spread;
a trigger with a limit price becomes a resting limit). Funding is paid at every UTC hour
from the path's hourly rate; an account whose value falls below its maintenance margin is
liquidated at the mark.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from quantlab.execution.sim.market import MINUTE_MS, Path
from quantlab.execution.venue import MIN_NOTIONAL, price_ok, round_price, size_ok, to_wire

__all__ = ["COINS", "SimAccount", "SimExchange", "SimOrder"]

#: The listed perps: name, szDecimals, maxLeverage.
COINS: tuple[tuple[str, int, int], ...] = (
    ("BTC", 5, 50),
    ("ETH", 4, 50),
    ("SOL", 2, 20),
)

HOUR_MS = 3_600_000


@dataclass
class SimOrder:
    """One order on the exchange (every order ever placed is kept)."""

    oid: int
    user: str
    coin: str
    is_buy: bool
    limit_px: float
    orig_sz: float
    sz: float  # remaining
    reduce_only: bool
    tif: str | None  # Gtc / Ioc / Alo; None for triggers
    trigger_px: float | None = None
    is_market: bool = False
    tpsl: str | None = None
    cloid: str | None = None
    timestamp: int = 0
    status: str = "open"
    status_ts: int = 0
    triggered: bool = False
    parent: int | None = None  # normalTpsl child waiting for its parent's fill
    children: list[int] = field(default_factory=list)
    filled_sz: float = 0.0
    notional_filled: float = 0.0

    @property
    def is_trigger(self) -> bool:
        """Return True for a trigger (stop/take-profit) order."""
        return self.trigger_px is not None

    @property
    def order_type(self) -> str:
        """Return the venue's order type label (``Limit``, ``Stop Market``...)."""
        if not self.is_trigger:
            return "Limit"
        kind = "Stop" if self.tpsl == "sl" else "Take Profit"
        return f"{kind} {'Market' if self.is_market else 'Limit'}"


@dataclass
class SimAccount:
    """A funded perp account (cross margin)."""

    address: str
    cash: float  # deposited USDC + realised P&L - fees - funding
    positions: dict[str, list[float]] = field(default_factory=dict)  # coin -> [szi, entry]
    leverage: dict[str, tuple[int, bool]] = field(default_factory=dict)
    cum_funding: dict[str, float] = field(default_factory=dict)
    cancel_at: int | None = None
    n_requests: int = 0
    cum_volume: float = 0.0


class SimExchange:
    """The exchange state: markets, accounts, orders and fills, advanced by a clock.

    Parameters
    ----------
    seed : int
        Seed of the synthetic price paths.
    start_ms : int
        Exchange time at the start (UTC epoch ms).
    maker_fee, taker_fee : float
        Fee rates (Hyperliquid base tier: 0.015 % and 0.045 %).
    spread_bps : float
        Full bid-ask spread around the path's price.
    """

    def __init__(
        self,
        seed: int = 7,
        start_ms: int = 0,
        *,
        maker_fee: float = 0.00015,
        taker_fee: float = 0.00045,
        spread_bps: float = 1.0,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.start_ms = start_ms
        self.now_ms = start_ms
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.half_spread = spread_bps * 1e-4 / 2.0
        self.coins = {name: (i, szd, lev) for i, (name, szd, lev) in enumerate(COINS)}
        self.asset_coin = {i: name for name, (i, _, _) in self.coins.items()}
        self.paths = {name: Path(name, seed, start_ms) for name in self.coins}
        self.accounts: dict[str, SimAccount] = {}
        self.orders: dict[int, SimOrder] = {}
        self.fills: dict[str, list[dict[str, Any]]] = {}
        self.funding_ledger: dict[str, list[dict[str, Any]]] = {}
        self._next_oid = 1_000_000
        self._next_tid = 5_000_000
        self._partial: list[float] = []  # armed partial-fill fractions (faults)
        self._bar = self.paths["BTC"].index(start_ms)  # last processed minute index

    # ------------------------------------------------------------------ accounts

    def fund(self, address: str, usdc: float) -> None:
        """Credit ``usdc`` to ``address`` (creating the account)."""
        with self.lock:
            key = address.lower()
            acct = self.accounts.get(key)
            if acct is None:
                self.accounts[key] = SimAccount(key, float(usdc))
            else:
                acct.cash += float(usdc)

    def account(self, address: str) -> SimAccount | None:
        """Return the account of ``address``, None when it was never funded."""
        return self.accounts.get(address.lower())

    # --------------------------------------------------------------------- clock

    def advance_to(self, t_ms: int) -> None:
        """Move the clock to ``t_ms``, processing every minute completed on the way."""
        with self.lock:
            if t_ms <= self.now_ms:
                return
            path0 = self.paths["BTC"]
            last = path0.index(t_ms)  # minute containing t: bars before it are complete
            for k in range(self._bar, last):
                self._process_minute(k)
            self._bar = max(self._bar, last)
            self.now_ms = t_ms
            self._check_cancel_deadlines()

    def mid(self, coin: str) -> float:
        """Return the mid price of ``coin`` at the exchange clock."""
        return self.paths[coin].price(self.now_ms)

    def _process_minute(self, k: int) -> None:
        t_open = self.start_ms + k * MINUTE_MS
        t_close = t_open + MINUTE_MS
        self.now_ms = max(self.now_ms, t_open)
        for coin, path in self.paths.items():
            path.ensure(k)
            o, h, lo = float(path.open[k]), float(path.high[k]), float(path.low[k])
            self._match_resting(coin, o, h, lo, t_open + MINUTE_MS - 1)
        if t_close % HOUR_MS == 0:
            self._pay_funding(k, t_close)
        self.now_ms = max(self.now_ms, t_close - 1)
        self._check_liquidations(t_close - 1)
        self._check_cancel_deadlines(t_close - 1)

    # -------------------------------------------------------------- order entry

    def new_oid(self) -> int:
        """Return a fresh exchange order id."""
        self._next_oid += 1
        return self._next_oid

    def arm_partial(self, fraction: float, count: int = 1) -> None:
        """Make the next ``count`` immediate fills fill only ``fraction`` of their size."""
        with self.lock:
            self._partial.extend([fraction] * count)

    def disarm_partial(self) -> None:
        """Drop partial-fill faults the last action did not use."""
        with self.lock:
            self._partial.clear()

    def place(self, user: str, wire: dict[str, Any], grouping: str = "na",
              parent: SimOrder | None = None) -> dict[str, Any]:  # fmt: skip
        """Place one order from its wire form; return its status entry."""
        acct = self.accounts[user]
        asset = wire.get("a")
        coin = self.asset_coin.get(asset) if isinstance(asset, int) else None
        if coin is None:
            return {"error": f"Invalid asset {asset!r}."}
        _, szd, _ = self.coins[coin]
        p_text, s_text = str(wire.get("p", "")), str(wire.get("s", ""))
        if not price_ok(p_text, szd):
            return {"error": f"Order has invalid price. asset={asset}"}
        if not size_ok(s_text, szd):
            return {"error": f"Order has invalid size. asset={asset}"}
        px, sz = float(p_text), float(s_text)
        is_buy, reduce_only = bool(wire.get("b")), bool(wire.get("r"))
        t = wire.get("t") or {}
        cloid = wire.get("c")
        trig = t.get("trigger")
        order = SimOrder(
            oid=self.new_oid(), user=user, coin=coin, is_buy=is_buy, limit_px=px, orig_sz=sz,
            sz=sz, reduce_only=reduce_only, tif=None if trig else t.get("limit", {}).get("tif"),
            cloid=cloid, timestamp=self.now_ms, status_ts=self.now_ms,
        )  # fmt: skip
        if trig:
            tp_text = str(trig.get("triggerPx", ""))
            if not price_ok(tp_text, szd):
                return {"error": f"Order has invalid trigger price. asset={asset}"}
            order.trigger_px = float(tp_text)
            order.is_market = bool(trig.get("isMarket"))
            order.tpsl = trig.get("tpsl")
            if order.tpsl not in ("tp", "sl"):
                return {"error": "Invalid trigger order: tpsl must be tp or sl."}
        elif order.tif not in ("Gtc", "Ioc", "Alo"):
            return {"error": "Invalid TIF."}
        ref = order.trigger_px if trig and order.is_market else px
        if sz * ref < MIN_NOTIONAL and not reduce_only:
            return {"error": f"Order must have minimum value of ${MIN_NOTIONAL:.0f}. asset={asset}"}
        szi = acct.positions.get(coin, [0.0, 0.0])[0]
        grows = szi == 0.0 or (szi > 0) == is_buy
        if reduce_only and not trig and parent is None and grows:
            return {"error": f"Reduce only order would increase position. asset={asset}"}
        if not reduce_only and not self._margin_ok(acct, coin, is_buy, sz, ref):
            return {"error": f"Insufficient margin to place order. asset={asset}"}
        self.orders[order.oid] = order
        out_id = {"oid": order.oid} | ({"cloid": cloid} if cloid else {})
        if parent is not None:
            order.parent = parent.oid
            parent.children.append(order.oid)
            if parent.filled_sz <= 0.0:
                return "waitingForFill"
            return "waitingForTrigger"
        if trig:
            return {"resting": out_id}
        # limit order: cross now, rest, or refuse
        mid = self.mid(coin)
        touch = mid * (1 + self.half_spread) if is_buy else mid * (1 - self.half_spread)
        crosses = px >= touch if is_buy else px <= touch
        if crosses and order.tif == "Alo":
            del self.orders[order.oid]
            return {"error": f"Post only order would have immediately matched, bbo was "
                             f"{to_wire(touch)}. asset={asset}"}  # fmt: skip
        if crosses:
            fraction = self._partial.pop(0) if self._partial else 1.0
            size = order.sz * fraction
            if fraction < 1.0:
                _, szd, _ = self.coins[coin]
                size = float(f"{size:.{szd}f}")
            self._execute(order, size, touch, taker=True)
            if order.sz > 0 and order.tif == "Ioc":
                self._set_status(order, "canceled")
            if order.status == "open":
                return {"resting": out_id}
            if order.filled_sz <= 0:
                return {"error": f"Order could not immediately match. asset={asset}"}
            avg = order.notional_filled / order.filled_sz
            filled = {"totalSz": to_wire(order.filled_sz), "avgPx": to_wire(avg), "oid": order.oid}
            return {"filled": filled | ({"cloid": cloid} if cloid else {})}
        if order.tif == "Ioc":
            self._set_status(order, "canceled")
            return {"error": f"Order could not immediately match against any resting orders. "
                             f"asset={asset}"}  # fmt: skip
        return {"resting": out_id}

    def _margin_ok(self, acct: SimAccount, coin: str, is_buy: bool, sz: float, px: float) -> bool:
        szi = acct.positions.get(coin, [0.0, 0.0])[0]
        new = szi + (sz if is_buy else -sz)
        if abs(new) <= abs(szi):
            return True
        lev = self.leverage_of(acct, coin)
        extra = (abs(new) - abs(szi)) * px / lev
        resting = sum(
            o.sz * o.limit_px / self.leverage_of(acct, o.coin)
            for o in self.orders.values()
            if o.user == acct.address and o.status == "open" and not o.reduce_only
            and not o.is_trigger
        )  # fmt: skip
        available = self.account_value(acct) - self.margin_used(acct) - resting
        return extra <= available + 1e-9

    def leverage_of(self, acct: SimAccount, coin: str) -> int:
        """Return the account's leverage on ``coin`` (default: min(20, max))."""
        default = min(20, self.coins[coin][2])
        return acct.leverage.get(coin, (default, True))[0]

    def cancel(self, user: str, oid: int | None = None, cloid: str | None = None) -> bool:
        """Cancel the user's live order by oid or cloid; return whether it was live."""
        order = self.find(user, oid=oid, cloid=cloid)
        if order is None or order.status not in ("open", "triggered"):
            return False
        self._set_status(order, "canceled")
        return True

    def find(self, user: str, oid: int | None = None, cloid: str | None = None) -> SimOrder | None:
        """Return the user's latest order with this oid or cloid."""
        if oid is not None:
            o = self.orders.get(oid)
            return o if o is not None and o.user == user else None
        hits = [o for o in self.orders.values() if o.user == user and o.cloid == cloid]
        return hits[-1] if hits else None

    def modify(self, user: str, ident: int | str, wire: dict[str, Any]) -> dict[str, Any]:
        """Replace a resting order in place (same oid); return its status entry."""
        order = (
            self.find(user, oid=ident) if isinstance(ident, int) else self.find(user, cloid=ident)
        )
        if order is None or order.status != "open":
            return {"error": "Cannot modify canceled or filled order"}
        keep_cloid = order.cloid
        self._set_status(order, "canceled")
        del self.orders[order.oid]  # replaced in place: one order per client id
        wire = dict(wire)
        if keep_cloid and not wire.get("c"):
            wire["c"] = keep_cloid
        status = self.place(user, wire)
        new = self.find(user, cloid=wire.get("c")) if wire.get("c") else None
        if new is None:  # the new order was refused: restore the old one
            self.orders[order.oid] = order
            order.status = "open"
            return status
        # keep the exchange id stable, as the venue's modify does
        del self.orders[new.oid]
        new.oid = order.oid
        self.orders[new.oid] = new
        if isinstance(status, dict):
            for v in status.values():
                if isinstance(v, dict) and "oid" in v:
                    v["oid"] = new.oid
        return status

    def schedule_cancel(self, user: str, t: int | None) -> str | None:
        """Arm (``t``) or disarm (None) the dead man's switch; return an error text."""
        acct = self.accounts[user]
        if t is None:
            acct.cancel_at = None
            return None
        if t < self.now_ms + 5_000:
            return "Scheduled cancel time too early, must be at least 5 seconds from now."
        acct.cancel_at = int(t)
        return None

    def update_leverage(self, user: str, asset: int, is_cross: bool, leverage: int) -> str | None:
        """Set the leverage of ``asset``; return an error text when refused."""
        coin = self.asset_coin.get(asset)
        if coin is None:
            return f"Invalid asset {asset!r}."
        max_lev = self.coins[coin][2]
        if (
            not isinstance(leverage, int)
            or isinstance(leverage, bool)
            or not 1 <= leverage <= max_lev
        ):
            return "Invalid leverage value"
        acct = self.accounts[user]
        old = acct.leverage.get(coin)
        acct.leverage[coin] = (leverage, bool(is_cross))
        if self.margin_used(acct) > self.account_value(acct) + 1e-9:
            if old is None:
                del acct.leverage[coin]
            else:
                acct.leverage[coin] = old
            return "Insufficient margin for leverage update"
        return None

    # -------------------------------------------------------------- matching

    def _set_status(self, order: SimOrder, status: str) -> None:
        order.status = status
        order.status_ts = self.now_ms
        if status not in ("open", "triggered"):
            for child in order.children:
                c = self.orders.get(child)
                if c is not None and c.status == "open" and order.filled_sz <= 0:
                    self._set_status(c, "canceled")

    def _active(self, o: SimOrder) -> bool:
        if o.status not in ("open", "triggered"):
            return False
        if o.parent is not None:
            parent = self.orders.get(o.parent)
            return parent is not None and parent.filled_sz > 0
        return True

    def _match_resting(self, coin: str, o: float, h: float, lo: float, t: int) -> None:
        for order in sorted(
            (x for x in self.orders.values() if x.coin == coin and self._active(x)),
            key=lambda x: (x.timestamp, x.oid),
        ):
            if not self._active(order):
                continue
            if order.is_trigger and not order.triggered:
                up = order.tpsl == ("sl" if order.is_buy else "tp")  # fires on a rise
                tp = order.trigger_px
                if up and h >= tp:
                    ref = max(o, tp)
                elif not up and lo <= tp:
                    ref = min(o, tp)
                else:
                    continue
                order.triggered = True
                self._set_status(order, "triggered")
                if order.is_market:
                    px = (
                        ref * (1 + self.half_spread)
                        if order.is_buy
                        else ref * (1 - self.half_spread)
                    )
                    self._execute(order, order.sz, px, taker=True, t=t)
                    continue
            # resting limit (or a triggered stop-limit)
            lp = order.limit_px
            if order.is_buy and lo <= lp:
                self._execute(order, order.sz, min(o, lp), taker=False, t=t)
            elif not order.is_buy and h >= lp:
                self._execute(order, order.sz, max(o, lp), taker=False, t=t)

    def _execute(self, order: SimOrder, size: float, px: float, *, taker: bool,
                 t: int | None = None, liquidation: bool = False) -> None:  # fmt: skip
        acct = self.accounts[order.user]
        coin = order.coin
        pos = acct.positions.get(coin, [0.0, 0.0])
        szi, entry = pos
        if order.reduce_only:
            if szi == 0.0 or (szi > 0) == order.is_buy:
                self._set_status(order, "reduceOnlyCanceled")
                return
            size = min(size, abs(szi))
        if size <= 0:
            return
        t = self.now_ms if t is None else t
        dq = size if order.is_buy else -size
        fee = size * px * (self.taker_fee if taker else self.maker_fee)
        closed = 0.0
        if szi != 0.0 and (szi > 0) != (dq > 0):
            closed = min(size, abs(szi)) * (px - entry) * (1.0 if szi > 0 else -1.0)
        new = szi + dq
        if abs(new) < 1e-12:
            new = 0.0
        if new == 0.0:
            acct.positions.pop(coin, None)
        else:
            if szi == 0.0 or (szi > 0) != (new > 0):
                entry = px
            elif abs(new) > abs(szi):
                entry = (entry * abs(szi) + px * size) / abs(new)
            acct.positions[coin] = [new, entry]
        acct.cash += closed - fee
        acct.cum_volume += size * px
        order.sz = max(order.sz - size, 0.0)
        if order.sz < 1e-12:
            order.sz = 0.0
        order.filled_sz += size
        order.notional_filled += size * px
        if order.sz == 0.0:
            self._set_status(order, "filled")
        self._next_tid += 1
        if szi == 0.0:
            direction = "Open Long" if dq > 0 else "Open Short"
        elif (szi > 0) == (dq > 0):
            direction = "Open Long" if szi > 0 else "Open Short"
        elif abs(dq) > abs(szi):
            direction = "Long > Short" if szi > 0 else "Short > Long"
        else:
            direction = "Close Long" if szi > 0 else "Close Short"
        fill = {
            "closedPnl": to_wire(closed),
            "coin": coin,
            "crossed": taker,
            "dir": direction,
            "fee": to_wire(fee),
            "feeToken": "USDC",
            "hash": "0x" + f"{self._next_tid:064x}",
            "oid": order.oid,
            "px": to_wire(px),
            "side": "B" if order.is_buy else "A",
            "startPosition": to_wire(szi),
            "sz": to_wire(size),
            "tid": self._next_tid,
            "time": t,
        }
        if order.cloid:
            fill["cloid"] = order.cloid
        if liquidation:
            fill["liquidation"] = {"markPx": to_wire(px), "method": "market"}
        self.fills.setdefault(order.user, []).append(fill)

    def _pay_funding(self, k: int, t: int) -> None:
        for acct in self.accounts.values():
            for coin, (szi, _) in list(acct.positions.items()):
                path = self.paths[coin]
                rate = float(path.funding[k])
                mark = float(path.close[k])
                pay = szi * mark * rate
                acct.cash -= pay
                acct.cum_funding[coin] = acct.cum_funding.get(coin, 0.0) + pay
                self.funding_ledger.setdefault(acct.address, []).append(
                    {"time": t, "coin": coin, "usdc": -pay, "szi": szi, "fundingRate": rate}
                )

    def _check_liquidations(self, t: int) -> None:
        for acct in self.accounts.values():
            if not acct.positions:
                continue
            if self.account_value(acct) >= self.maintenance_margin(acct):
                continue
            for order in self.orders.values():
                if order.user == acct.address and order.status in ("open", "triggered"):
                    self._set_status(order, "liquidatedCanceled")
            for coin, (szi, _) in list(acct.positions.items()):
                liq = SimOrder(self.new_oid(), acct.address, coin, szi < 0, 0.0, abs(szi),
                               abs(szi), True, "Ioc", timestamp=t)  # fmt: skip
                self.orders[liq.oid] = liq
                self._execute(liq, abs(szi), self.mid(coin), taker=True, t=t, liquidation=True)

    def _check_cancel_deadlines(self, t: int | None = None) -> None:
        t = self.now_ms if t is None else t
        for acct in self.accounts.values():
            if acct.cancel_at is not None and t >= acct.cancel_at:
                acct.cancel_at = None
                for order in self.orders.values():
                    if order.user == acct.address and order.status in ("open", "triggered"):
                        self._set_status(order, "scheduledCancel")

    # ------------------------------------------------------------- valuations

    def mark(self, coin: str) -> float:
        """Return the mark price of ``coin`` (the mid)."""
        return self.mid(coin)

    def unrealized(self, acct: SimAccount) -> float:
        """Return the account's unrealised P&L at the marks."""
        return sum(s * (self.mark(c) - e) for c, (s, e) in acct.positions.items())

    def account_value(self, acct: SimAccount) -> float:
        """Return cash plus unrealised P&L."""
        return acct.cash + self.unrealized(acct)

    def margin_used(self, acct: SimAccount) -> float:
        """Return the initial margin of the open positions."""
        return sum(
            abs(s) * self.mark(c) / self.leverage_of(acct, c)
            for c, (s, _) in acct.positions.items()
        )

    def maintenance_margin(self, acct: SimAccount) -> float:
        """Return the maintenance margin (half the initial margin at max leverage)."""
        return sum(
            abs(s) * self.mark(c) / (2.0 * self.coins[c][2]) for c, (s, _) in acct.positions.items()
        )

    # ------------------------------------------------------------------ info

    def snapshot(self) -> SimExchange:
        """Return a deep copy of the state (what a stale read serves)."""
        with self.lock:
            lock, self.lock = self.lock, None  # type: ignore[assignment]
            paths = self.paths
            self.paths = {}
            try:
                snap = copy.deepcopy(self)
            finally:
                self.lock, self.paths = lock, paths
            snap.lock = threading.RLock()
            snap.paths = paths
            return snap

    def meta(self) -> dict[str, Any]:
        """Return the ``meta`` answer: the listed perps."""
        return {
            "universe": [
                {"maxLeverage": lev, "name": name, "szDecimals": szd} for name, szd, lev in COINS
            ]
        }

    @staticmethod
    def spot_meta() -> dict[str, Any]:
        """Return the ``spotMeta`` answer (USDC only, no spot pairs)."""
        return {
            "tokens": [
                {
                    "name": "USDC",
                    "szDecimals": 8,
                    "weiDecimals": 8,
                    "index": 0,
                    "tokenId": "0x" + "0" * 32,
                    "isCanonical": True,
                }
            ],
            "universe": [],
        }

    def all_mids(self) -> dict[str, str]:
        """Return the ``allMids`` answer."""
        return {coin: to_wire(self.mid(coin)) for coin in self.coins}

    def clearinghouse_state(self, user: str) -> dict[str, Any]:
        """Return the ``clearinghouseState`` answer of ``user``."""
        acct = self.account(user)
        positions = []
        value = margin = ntl = 0.0
        if acct is not None:
            value = self.account_value(acct)
            margin = self.margin_used(acct)
            for coin, (szi, entry) in acct.positions.items():
                mark = self.mark(coin)
                lev = self.leverage_of(acct, coin)
                pos_value = abs(szi) * mark
                ntl += pos_value
                upnl = szi * (mark - entry)
                pm = pos_value / lev
                liq = self._liquidation_px(acct, coin)
                positions.append(
                    {
                        "position": {
                            "coin": coin,
                            "cumFunding": {
                                "allTime": to_wire(acct.cum_funding.get(coin, 0.0)),
                                "sinceChange": to_wire(acct.cum_funding.get(coin, 0.0)),
                                "sinceOpen": to_wire(acct.cum_funding.get(coin, 0.0)),
                            },
                            "entryPx": to_wire(entry),
                            "leverage": {"type": "cross", "value": lev},
                            "liquidationPx": None if liq is None else to_wire(liq),
                            "marginUsed": to_wire(pm),
                            "maxLeverage": self.coins[coin][2],
                            "maxTradeSzs": [to_wire(0.0), to_wire(0.0)],
                            "positionValue": to_wire(pos_value),
                            "returnOnEquity": to_wire(upnl / pm if pm else 0.0),
                            "szi": to_wire(szi),
                            "unrealizedPnl": to_wire(upnl),
                        },
                        "type": "oneWay",
                    }
                )
        summary = {
            "accountValue": to_wire(value),
            "totalMarginUsed": to_wire(margin),
            "totalNtlPos": to_wire(ntl),
            "totalRawUsd": to_wire(acct.cash if acct else 0.0),
        }
        return {
            "assetPositions": positions,
            "crossMaintenanceMarginUsed": to_wire(self.maintenance_margin(acct) if acct else 0.0),
            "crossMarginSummary": dict(summary),
            "marginSummary": summary,
            "time": self.now_ms,
            "withdrawable": to_wire(max(value - margin, 0.0)),
        }

    def _liquidation_px(self, acct: SimAccount, coin: str) -> float | None:
        szi, entry = acct.positions[coin]
        mark = self.mark(coin)
        others = self.account_value(acct) - acct.cash - szi * (mark - entry)
        # account value at price P: base + szi * P; maintenance: |szi| * P * mmr
        base = acct.cash + others - szi * entry
        mmr = 1.0 / (2.0 * self.coins[coin][2])
        denom = abs(szi) * mmr - szi
        if denom == 0:
            return None
        px = base / denom
        return px if px > 0 else None

    def _order_json(self, o: SimOrder, frontend: bool) -> dict[str, Any]:
        base = {
            "coin": o.coin,
            "limitPx": to_wire(o.limit_px),
            "oid": o.oid,
            "side": "B" if o.is_buy else "A",
            "sz": to_wire(o.sz),
            "timestamp": o.timestamp,
        }
        if not frontend:
            return base | {"origSz": to_wire(o.orig_sz), "cloid": o.cloid}
        if o.is_trigger:
            rising = o.tpsl == ("sl" if o.is_buy else "tp")
            cond = f"Price {'above' if rising else 'below'} {to_wire(o.trigger_px or 0.0)}"
        else:
            cond = "N/A"
        return base | {
            "children": [
                self._order_json(self.orders[c], True) for c in o.children if c in self.orders
            ],
            "cloid": o.cloid,
            "isPositionTpsl": False,
            "isTrigger": o.is_trigger,
            "orderType": o.order_type,
            "origSz": to_wire(o.orig_sz),
            "reduceOnly": o.reduce_only,
            "tif": o.tif,
            "triggerCondition": cond,
            "triggerPx": to_wire(o.trigger_px or 0.0),
        }

    def open_orders(self, user: str, frontend: bool = False) -> list[dict[str, Any]]:
        """Return the ``openOrders`` (or ``frontendOpenOrders``) answer, newest first."""
        user = user.lower()
        live = [
            o for o in self.orders.values()
            if (o.user == user and o.status in ("open", "triggered") and o.parent is None)
            or (o.user == user and o.parent is not None and self._active(o))
        ]  # fmt: skip
        live.sort(key=lambda o: (o.timestamp, o.oid), reverse=True)
        return [self._order_json(o, frontend) for o in live]

    def order_status(self, user: str, ident: int | str) -> dict[str, Any]:
        """Return the ``orderStatus`` answer for an oid or a cloid."""
        user = user.lower()
        o = self.find(user, oid=ident) if isinstance(ident, int) else self.find(user, cloid=ident)
        if o is None:
            return {"status": "unknownOid"}
        return {
            "status": "order",
            "order": {
                "order": self._order_json(o, True),
                "status": o.status,
                "statusTimestamp": o.status_ts,
            },
        }

    def user_fills(self, user: str, start: int | None = None, end: int | None = None) -> list:
        """Return the ``userFills`` / ``userFillsByTime`` answer, newest first."""
        fills = self.fills.get(user.lower(), [])
        out = [
            f for f in fills
            if (start is None or f["time"] >= start) and (end is None or f["time"] <= end)
        ]  # fmt: skip
        return sorted(out, key=lambda f: (f["time"], f["tid"]), reverse=True)[:2000]

    def candles(self, coin: str, interval: str, start: int, end: int) -> list[dict[str, Any]]:
        """Return the ``candleSnapshot`` answer from the minute path up to now."""
        from quantlab.data.intervals import interval_seconds

        step = int(interval_seconds(interval) * 1000)
        path = self.paths[coin]
        out = []
        t = max(start // step * step, self.start_ms // step * step)
        end = min(end, self.now_ms)
        while t <= end:
            k0 = max((t - self.start_ms) // MINUTE_MS, 0)
            k1 = min(
                (t + step - self.start_ms) // MINUTE_MS,
                (self.now_ms - self.start_ms) // MINUTE_MS + 1,
            )
            if k1 > k0:
                path.ensure(k1)
                sl = slice(k0, k1)
                out.append(
                    {
                        "T": t + step - 1,
                        "c": to_wire(float(path.close[k1 - 1])),
                        "h": to_wire(float(path.high[sl].max())),
                        "i": interval,
                        "l": to_wire(float(path.low[sl].min())),
                        "n": int(path.trades[sl].sum()),
                        "o": to_wire(float(path.open[k0])),
                        "s": coin,
                        "t": t,
                        "v": to_wire(float(path.volume[sl].sum())),
                    }
                )
            t += step
        return out[-5000:]

    def funding_history(self, coin: str, start: int, end: int | None) -> list[dict[str, Any]]:
        """Return the ``fundingHistory`` answer: one rate per exchange hour."""
        path = self.paths[coin]
        out = []
        end = self.now_ms if end is None else min(end, self.now_ms)
        first = max(start, self.start_ms)
        t = -(-first // HOUR_MS) * HOUR_MS
        while t <= end and len(out) < 500:
            k = (t - self.start_ms) // MINUTE_MS - 1
            if k >= 0:
                path.ensure(k)
                out.append(
                    {
                        "coin": coin,
                        "fundingRate": to_wire(float(path.funding[k])),
                        "premium": to_wire(float(path.funding[k]) * 8.0 - 0.0001),
                        "time": t,
                    }
                )
            t += HOUR_MS
        return out

    def l2_book(self, coin: str, depth: int = 20) -> dict[str, Any]:
        """Return a synthetic book around the mid: ``depth`` levels a side, one spread apart.

        The book is a view for clients (the matching model fills at the touch); level
        sizes follow the coin's recent minute volume.
        """
        path = self.paths[coin]
        k = path.index(self.now_ms)
        mid = self.mid(coin)
        szd = self.coins[coin][1]
        step = max(self.half_spread * 2.0, 1e-5)
        vol = float(path.volume[max(k - 60, 0) : k + 1].mean()) if k > 0 else 1.0

        def side(sign: int) -> list[dict[str, Any]]:
            out = []
            for i in range(depth):
                px = round_price(mid * (1 + sign * (self.half_spread + i * step)), szd)
                sz = round(vol / depth * (1 + 0.25 * i), szd) or 10.0**-szd
                out.append({"n": 1 + i // 5, "px": to_wire(px), "sz": to_wire(sz)})
            return out

        return {"coin": coin, "levels": [side(-1), side(+1)], "time": self.now_ms}

    def rate_limit(self, user: str) -> dict[str, Any]:
        """Return the ``userRateLimit`` answer."""
        acct = self.account(user)
        used = acct.n_requests if acct else 0
        vlm = acct.cum_volume if acct else 0.0
        return {"cumVlm": to_wire(vlm), "nRequestsUsed": used, "nRequestsCap": 10_000 + int(vlm)}

    def all_orders(self, user: str) -> list[SimOrder]:
        """Every order the user ever placed (the test of "one order per client id")."""
        user = user.lower()
        return [o for o in self.orders.values() if o.user == user]
