"""The Hyperliquid adapter: the execution port over hyperliquid-python-sdk.

Orders are built, signed and sent with the SDK's own functions (``Info`` for reads,
``order_request_to_order_wire`` / ``sign_l1_action`` / ``API.post`` for actions), against
mainnet, testnet or the local exchange (``base_url``). Around them:

- Venue rules before sending: size to ``szDecimals`` (reduce-only sizes round down),
  price to 5 significant figures and ``6 - szDecimals`` decimals, a 10 USD minimum.
  A market order is the venue's aggressive IOC limit (``slippage`` from the mid).
- A ``Cloid`` on every order, a strictly increasing nonce per signer, and
  ``expiresAfter`` on every order action, so an action lost in the network cannot be
  applied later than ``expires_after_s``.
- Faults never duplicate an order. After a timeout, a dropped connection or a 5xx, the
  outcome is unknown: the adapter waits until the action has expired, then looks the
  client order id up (``orderStatus``, ``frontendOpenOrders``, ``userFills``) until it
  has seen it, or has seen it absent ``absent_confirmations`` times in a row (a stale
  read cannot make it resend). Only then is the order sent again. When nothing can be
  established, :class:`~quantlab.errors.OrderStateUnknown` is raised.
- A 429 backs off exponentially; every request is paced by its weight (1200 per minute).
- ``meta`` and ``spotMeta`` are fetched once per URL and handed to the SDK, so building a
  client makes no further request.
- Keys come from ``HL_PRIVATE_KEY`` or a ``0600`` file outside the repository
  (:func:`quantlab.execution.keys.load_wallet`) and are never logged or shown in a repr.
- Mainnet needs ``allow_mainnet=True``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace
from typing import Any

from quantlab.errors import (
    ConfigError,
    ExecutionError,
    OrderRejected,
    OrderStateUnknown,
    VenueUnavailable,
)
from quantlab.execution.backend import ExecutionBackend
from quantlab.execution.keys import DEFAULT_KEY_ENV, load_wallet
from quantlab.execution.model import (
    Account,
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
from quantlab.execution.ratelimit import (
    WeightLimiter,
    exchange_weight,
    info_weight,
    nonce_source,
)
from quantlab.execution.venue import MIN_NOTIONAL, round_price, round_size

__all__ = ["MAINNET_URL", "TESTNET_URL", "HyperliquidBackend", "clear_meta_cache"]

log = logging.getLogger(__name__)

MAINNET_URL = "https://api.hyperliquid.xyz"
TESTNET_URL = "https://api.hyperliquid-testnet.xyz"

_META: dict[str, tuple[dict, dict]] = {}
_META_LOCK = threading.Lock()

_STATUS = {
    "open": OrderStatus.OPEN,
    "filled": OrderStatus.FILLED,
    "triggered": OrderStatus.TRIGGERED,
    "rejected": OrderStatus.REJECTED,
}


_LIMITERS: dict[str, WeightLimiter] = {}


def _shared_limiter(base_url: str) -> WeightLimiter:
    with _META_LOCK:
        lim = _LIMITERS.get(base_url)
        if lim is None:
            lim = _LIMITERS[base_url] = WeightLimiter()
        return lim


def clear_meta_cache() -> None:
    """Forget the cached ``meta``/``spotMeta`` of every URL."""
    with _META_LOCK:
        _META.clear()


class _Outcome(Exception):
    """Internal: the answer to an action never came (unknown outcome)."""

    expires_after: int | None = None


class _RateLimited(Exception):
    """Internal: HTTP 429."""


class _NotSent(Exception):
    """Internal: the request never reached the venue."""


class HyperliquidBackend(ExecutionBackend):
    """The execution port on Hyperliquid (or the local exchange).

    Parameters
    ----------
    base_url : str
        ``TESTNET_URL``, ``MAINNET_URL`` (needs ``allow_mainnet``) or a local exchange's
        ``handle.url``.
    wallet : LocalAccount, optional
        The signer; otherwise read by :func:`~quantlab.execution.keys.load_wallet` from
        ``key_file`` or the environment variable ``key_env``.
    account_address : str, optional
        The account traded (default: the signer's address).
    timeout : float
        HTTP timeout of one request, seconds.
    slippage : float
        Limit of a market order, as a fraction from the mid (the SDK's default 5 %).
    expires_after_s : float
        Order actions carry ``expiresAfter = now + expires_after_s``; after an unknown
        outcome the adapter waits that long before looking the order up, so it also bounds
        how long a lost answer blocks ``submit`` (about ``max_attempts`` times this plus the
        look-ups at worst).
    max_attempts : int
        Sends of one order at most (after confirmed-absent look-ups).
    absent_confirmations : int
        Consecutive "not there" look-ups needed before an order counts as never placed.
    lookup_attempts : int
        Look-up reads at most before giving up with ``OrderStateUnknown``.
    retry_wait_s : float
        Pause between look-ups and retries (doubles each time, capped at 1 s).
    limiter : WeightLimiter, optional
        Request pacing (default: one limiter per URL in this process, 1200 weight per
        minute, 0.5 s first back-off: the venue counts weights per IP).
    lookup_before_send : bool
        Before the first send of a client order id this client has not seen, ask the venue
        (``orderStatus``, weight 2) whether it already holds it: a restarted runner
        re-deciding a bar sends nothing twice, whether or not the venue refuses duplicate
        ids. (After an unknown outcome the look-up also reads open orders and fills.)
    """

    name = "hyperliquid"

    def __init__(
        self,
        base_url: str = TESTNET_URL,
        *,
        wallet: Any = None,
        key_env: str | None = DEFAULT_KEY_ENV,
        key_file: str | None = None,
        account_address: str | None = None,
        allow_mainnet: bool = False,
        timeout: float = 10.0,
        slippage: float = 0.05,
        expires_after_s: float = 5.0,
        max_attempts: int = 3,
        absent_confirmations: int = 2,
        lookup_attempts: int = 6,
        retry_wait_s: float = 0.25,
        limiter: WeightLimiter | None = None,
        lookup_before_send: bool = True,
    ) -> None:
        from hyperliquid.api import API

        base_url = base_url.rstrip("/")
        if base_url == MAINNET_URL and not allow_mainnet:
            raise ConfigError(
                "hyperliquid: base_url is mainnet; pass allow_mainnet=True to trade real funds"
            )
        if not (0 < slippage < 1):
            raise ConfigError(f"hyperliquid: slippage must be in (0, 1), got {slippage!r}")
        self.base_url = base_url
        self.is_mainnet = base_url == MAINNET_URL
        self._wallet = wallet if wallet is not None else load_wallet(env=key_env, path=key_file)
        self.address = (account_address or self._wallet.address).lower()
        self.timeout = float(timeout)
        self.slippage = float(slippage)
        self.expires_after_ms = int(expires_after_s * 1000)
        self.max_attempts = int(max_attempts)
        self.absent_confirmations = int(absent_confirmations)
        self.lookup_attempts = int(lookup_attempts)
        self.retry_wait_s = float(retry_wait_s)
        self.limiter = limiter or _shared_limiter(base_url)
        self.lookup_before_send = bool(lookup_before_send)
        self._nonces = nonce_source(self._wallet.address)
        self._api = API(base_url, timeout)
        self._lock = threading.RLock()
        self._known: dict[str, Order] = {}
        meta, spot_meta = self._meta()
        self.meta = meta
        self.spot_meta = spot_meta
        self._sz_decimals = {a["name"]: int(a["szDecimals"]) for a in meta["universe"]}
        self._max_leverage = {a["name"]: int(a["maxLeverage"]) for a in meta["universe"]}
        self._asset = {a["name"]: i for i, a in enumerate(meta["universe"])}
        self._coin_of_asset = {i: n for n, i in self._asset.items()}

    def __repr__(self) -> str:
        return f"<HyperliquidBackend {self.base_url} account={self.address}>"

    def close(self) -> None:
        """Close the HTTP session."""
        self._api.session.close()

    # ----------------------------------------------------------------- plumbing

    def sdk(self) -> tuple[Any, Any]:
        """Return the SDK's ``(Info, Exchange)`` built from the cached meta (no request)."""
        from hyperliquid.exchange import Exchange
        from hyperliquid.info import Info

        info = Info(self.base_url, True, self.meta, self.spot_meta, None, self.timeout)
        exchange = Exchange(self._wallet, self.base_url, meta=self.meta,
                            spot_meta=self.spot_meta, timeout=self.timeout,
                            account_address=self.address)  # fmt: skip
        return info, exchange

    def _meta(self) -> tuple[dict, dict]:
        with _META_LOCK:
            cached = _META.get(self.base_url)
        if cached is not None:
            return cached
        meta = self._info({"type": "meta"})
        spot = self._info({"type": "spotMeta"})
        if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
            raise VenueUnavailable(f"hyperliquid: meta from {self.base_url} has no universe")
        with _META_LOCK:
            _META[self.base_url] = (meta, spot)
        return meta, spot

    def _post(self, path: str, payload: dict[str, Any], weight: int) -> Any:
        """POST once (paced); map transport failures to quantlab errors or ``_Outcome``."""
        import requests
        from hyperliquid.utils.error import ClientError, ServerError

        self.limiter.acquire(weight)
        try:
            out = self._api.post(path, payload)
        except ClientError as exc:
            if exc.status_code == 429:
                raise _RateLimited() from None
            raise ExecutionError(f"hyperliquid: {path} refused ({exc.status_code}): "
                                 f"{exc.error_message}") from None  # fmt: skip
        except ServerError as exc:
            raise _Outcome(f"server error {exc.status_code}") from None
        except requests.exceptions.ConnectTimeout:
            raise _NotSent("connect timeout") from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "Connection refused" in text or "Failed to establish" in text:
                raise _NotSent("connection refused") from None
            raise _Outcome("connection lost") from None
        except requests.exceptions.Timeout:
            raise _Outcome("timeout") from None
        self.limiter.success()
        return out

    def _info(self, payload: dict[str, Any]) -> Any:
        """Read ``/info`` (safe to repeat): retry 429s, 5xx and timeouts, then give up."""
        weight = info_weight(payload.get("type"))
        last = ""
        for attempt in range(self.lookup_attempts):
            try:
                return self._post("/info", payload, weight)
            except _RateLimited:
                self.limiter.backoff()
                last = "rate limited (429)"
            except (_Outcome, _NotSent) as exc:
                last = str(exc)
                self._pause(attempt)
        raise VenueUnavailable(
            f"hyperliquid: {payload.get('type')} read failed {self.lookup_attempts} times ({last})"
        )

    def _pause(self, attempt: int) -> None:
        time.sleep(min(self.retry_wait_s * (2**attempt), 1.0))

    def _action(self, action: dict[str, Any], *, expires: bool) -> Any:
        """Sign and send one action once; 429s are retried (nothing was applied)."""
        from hyperliquid.utils.signing import sign_l1_action

        n_orders = len(action.get("orders") or action.get("cancels") or [])
        for _ in range(self.lookup_attempts):
            nonce = self._nonces.next()
            expires_after = nonce + self.expires_after_ms if expires else None
            signature = sign_l1_action(self._wallet, action, None, nonce, expires_after,
                                       self.is_mainnet)  # fmt: skip
            payload = {"action": action, "nonce": nonce, "signature": signature,
                       "vaultAddress": None, "expiresAfter": expires_after}  # fmt: skip
            log.debug("hyperliquid: %s action, nonce %d", action.get("type"), nonce)
            try:
                return self._post("/exchange", payload, exchange_weight(n_orders)), expires_after
            except _RateLimited:
                self.limiter.backoff()
            except _Outcome as exc:
                exc.expires_after = expires_after
                raise
        raise VenueUnavailable("hyperliquid: rate limited (429) on every attempt")

    # -------------------------------------------------------------- conversions

    def _coin(self, symbol: str) -> str:
        if symbol not in self._sz_decimals:
            known = ", ".join(sorted(self._sz_decimals)[:20])
            raise ConfigError(f"hyperliquid: unknown symbol {symbol!r}; listed: {known}...")
        return symbol

    def _order_from_front(self, front: dict[str, Any], status: str, ts: int) -> Order:
        orig = float(front.get("origSz", front.get("sz", 0.0)))
        left = float(front.get("sz", 0.0))
        filled = max(orig - left, 0.0)
        st = _STATUS.get(status, OrderStatus.CANCELED)
        if st is OrderStatus.OPEN and filled > 0:
            st = OrderStatus.PARTIALLY_FILLED
        if front.get("isTrigger"):
            kind = (
                TriggerKind.STOP_LOSS
                if "Stop" in front.get("orderType", "")
                else (TriggerKind.TAKE_PROFIT)
            )
            otype, trig = OrderType.TRIGGER, float(front.get("triggerPx", 0.0))
            limit = None if "Market" in front.get("orderType", "") else float(front["limitPx"])
        else:
            kind, otype, trig, limit = None, OrderType.LIMIT, None, float(front["limitPx"])
        tif = front.get("tif") or "Gtc"
        try:
            tif_enum = TimeInForce(tif)
        except ValueError:
            tif_enum = TimeInForce.GTC
        return Order(
            symbol=front["coin"], side=Side.of(front["side"]), size=orig,
            client_order_id=front.get("cloid"), oid=int(front["oid"]), status=st,
            order_type=otype, limit_px=limit, trigger_px=trig, trigger_kind=kind,
            reduce_only=bool(front.get("reduceOnly", False)), tif=tif_enum,
            filled_size=filled, time_ms=int(ts), message="" if status in _STATUS else status,
        )  # fmt: skip

    def _with_avg_px(self, order: Order) -> Order:
        if order.filled_size <= 0 or order.oid is None:
            return order
        fills = [f for f in self._raw_fills() if f.get("oid") == order.oid]
        size = sum(float(f["sz"]) for f in fills)
        if size <= 0:
            return order
        avg = sum(float(f["sz"]) * float(f["px"]) for f in fills) / size
        return replace(order, avg_px=avg)

    def _raw_fills(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        if since_ms is None:
            out = self._info({"type": "userFills", "user": self.address})
        else:
            out = self._info({"type": "userFillsByTime", "user": self.address,
                              "startTime": int(since_ms)})  # fmt: skip
        return out if isinstance(out, list) else []

    # ----------------------------------------------------------------- the port

    def _wire(self, intent: OrderIntent) -> tuple[dict[str, Any], float, float]:
        """Return the SDK order request, the rounded size and the reference price."""
        from hyperliquid.utils.types import Cloid

        coin = self._coin(intent.symbol)
        szd = self._sz_decimals[coin]
        size = round_size(intent.size, szd, down=intent.reduce_only)
        if size <= 0:
            raise OrderRejected(
                f"hyperliquid: size {intent.size} {coin} rounds to 0 at {szd} decimals",
                client_order_id=intent.client_order_id, reason="size below the lot",
            )  # fmt: skip
        is_buy = intent.side.is_buy
        if intent.order_type is OrderType.MARKET:
            mid = self.mid(coin)
            px = round_price(mid * (1 + self.slippage if is_buy else 1 - self.slippage), szd)
            order_type: dict[str, Any] = {"limit": {"tif": "Ioc"}}
            ref = mid
        elif intent.order_type is OrderType.LIMIT:
            px = round_price(intent.limit_px, szd)
            order_type = {"limit": {"tif": intent.tif.value}}
            ref = px
        else:
            trig = round_price(intent.trigger_px, szd)
            is_market = intent.limit_px is None
            if is_market:
                px = round_price(trig * (1 + self.slippage if is_buy else 1 - self.slippage), szd)
            else:
                px = round_price(intent.limit_px, szd)
            order_type = {"trigger": {"triggerPx": trig, "isMarket": is_market,
                                      "tpsl": intent.trigger_kind.value}}  # fmt: skip
            ref = trig
        if not intent.reduce_only and size * ref < MIN_NOTIONAL:
            raise OrderRejected(
                f"hyperliquid: order {intent.client_order_id} is worth {size * ref:.2f} USD "
                f"({size} {coin} at {ref}), below the venue minimum of {MIN_NOTIONAL:.0f} USD",
                client_order_id=intent.client_order_id, reason="minimum notional",
            )  # fmt: skip
        request = {"coin": coin, "is_buy": is_buy, "sz": size, "limit_px": px,
                   "order_type": order_type, "reduce_only": intent.reduce_only,
                   "cloid": Cloid(intent.client_order_id)}  # fmt: skip
        return request, size, ref

    def submit(self, intent: OrderIntent) -> Order:
        from hyperliquid.utils.signing import (
            order_request_to_order_wire,
            order_wires_to_order_action,
        )

        cloid = intent.client_order_id
        with self._lock:
            known = self._known.get(cloid)
        if known is not None:
            found = self.order_status(cloid)
            return self._remember(found) if found is not None else known
        request, size, _ = self._wire(intent)  # venue rules first: a refusal sends nothing
        if self.lookup_before_send:
            found = self.order_status(cloid)  # one light read (weight 2)
            if found is not None:
                return self._remember(found)
        wire = order_request_to_order_wire(request, self._asset[request["coin"]])
        outcome = self._send_orders(order_wires_to_order_action([wire]), cloid)
        if isinstance(outcome, Order):
            return self._remember(outcome)
        return self._remember(self._read_order_answer(intent, outcome, size))

    def submit_bracket(self, entry: OrderIntent, *protective: OrderIntent) -> list[Order]:
        """Send an entry and its reduce-only triggers in one action (``normalTpsl``).

        The triggers (stop-loss and/or take-profit of the opposite side) rest on the venue
        from the moment the entry fills, even if this process is gone: the exchange-side
        backstop, placed atomically with the entry. Returns the orders in the same order;
        a trigger waiting for its entry comes back ``open`` without an exchange id yet.
        """
        from hyperliquid.utils.signing import (
            order_request_to_order_wire,
            order_wires_to_order_action,
        )

        check_bracket(entry, protective)
        intents = [entry, *protective]
        wired = [self._wire(i) for i in intents]
        if self.lookup_before_send or entry.client_order_id in self._known:
            found = self.order_status(entry.client_order_id)
            if found is not None:
                return [self._remember(found)] + [
                    self.order_status(c.client_order_id) or found for c in protective
                ]
        wires = [order_request_to_order_wire(r, self._asset[r["coin"]]) for r, _, _ in wired]
        action = order_wires_to_order_action(wires, None, "normalTpsl")
        outcome = self._send_orders(action, entry.client_order_id)
        if isinstance(outcome, Order):
            rest = [self.order_status(c.client_order_id) for c in protective]
            return [self._remember(outcome)] + [o for o in rest if o is not None]
        statuses = (outcome.get("response") or {}).get("data", {}).get("statuses", [])
        out = []
        for k, (intent, (_, size, _)) in enumerate(zip(intents, wired, strict=True)):
            one = dict(outcome)
            if outcome.get("status") == "ok":
                one = {"status": "ok", "response": {"data": {"statuses": statuses[k : k + 1]}}}
            out.append(self._remember(self._read_order_answer(intent, one, size)))
        return out

    def _send_orders(self, action: dict[str, Any], cloid: str) -> dict[str, Any] | Order:
        """Send an order action until it is answered; return the answer or the found order.

        After an unknown outcome the client order id is looked up (``_resolve``); only an
        order confirmed absent (and expired) is sent again.
        """
        reasons = []
        for attempt in range(self.max_attempts):
            try:
                answer, _ = self._action(action, expires=True)
            except _NotSent as exc:
                reasons.append(str(exc))
                self._pause(attempt)
                continue
            except _Outcome as exc:
                log.warning("hyperliquid: order %s outcome unknown (%s); looking it up", cloid, exc)
                found = self._resolve(cloid, getattr(exc, "expires_after", None))
                if found is not None:
                    return found
                reasons.append(f"{exc}, then confirmed absent")
                continue  # confirmed never placed (and expired): send again, same client id
            if not isinstance(answer, dict) or "status" not in answer:
                # an unreadable answer (e.g. a proxy's HTML page): the outcome is unknown
                log.warning("hyperliquid: order %s answer unreadable; looking it up", cloid)
                found = self._resolve(cloid, int(time.time() * 1000) + self.expires_after_ms)
                if found is not None:
                    return found
                reasons.append("unreadable answer, then confirmed absent")
                continue
            if answer.get("status") == "err" and "nonce" in str(answer.get("response", "")):
                # refused for its nonce (another client signs with this key): not applied
                reasons.append(str(answer.get("response")))
                continue
            return answer
        # every attempt either never reached the venue or expired unplaced: nothing is there
        raise VenueUnavailable(
            f"hyperliquid: order {cloid} not placed after {self.max_attempts} attempts "
            f"({'; '.join(reasons)}); nothing is on the venue, it is safe to send it later"
        )

    def _remember(self, order: Order) -> Order:
        if order.client_order_id:
            with self._lock:
                self._known[order.client_order_id] = order
        return order

    def _read_order_answer(self, intent: OrderIntent, answer: Any, size: float) -> Order:
        cloid = intent.client_order_id
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            reason = answer.get("response") if isinstance(answer, dict) else repr(answer)
            raise OrderRejected(f"hyperliquid: order {cloid} refused: {reason}",
                                client_order_id=cloid, reason=str(reason))  # fmt: skip
        statuses = answer["response"]["data"]["statuses"]
        st = statuses[0] if statuses else {}
        now = int(time.time() * 1000)
        base = Order.from_intent(intent, size=size, oid=None, status=OrderStatus.OPEN, time_ms=now)

        if isinstance(st, dict) and "error" in st:
            raise OrderRejected(f"hyperliquid: order {cloid} rejected: {st['error']}",
                                client_order_id=cloid, reason=st["error"])  # fmt: skip
        if isinstance(st, dict) and "resting" in st:
            return replace(base, oid=int(st["resting"]["oid"]))
        if isinstance(st, dict) and "filled" in st:
            f = st["filled"]
            total = float(f["totalSz"])
            full = total >= size * (1 - 1e-9)
            # an IOC order's unfilled rest is cancelled by the venue
            status = OrderStatus.FILLED if full else OrderStatus.CANCELED
            msg = "" if full else "remainder canceled"
            return replace(base, oid=int(f["oid"]), status=status, filled_size=total,
                           avg_px=float(f["avgPx"]), message=msg)  # fmt: skip
        return base  # "waitingForFill" / "waitingForTrigger"

    def _resolve(self, cloid: str, expires_at: int | None) -> Order | None:
        """Find out whether an order whose answer was lost exists; None = never placed."""
        if expires_at is not None:
            wait = expires_at - int(time.time() * 1000)
            if wait > 0:
                time.sleep(wait / 1000.0 + 0.05)  # after expiry the venue cannot take it
        absent = 0
        for attempt in range(self.lookup_attempts):
            try:
                found = self._lookup(cloid)
            except VenueUnavailable:
                found = None
                absent = 0  # no evidence either way
                self._pause(attempt)
                continue
            if found is not None:
                return found
            absent += 1
            if absent >= self.absent_confirmations:
                return None
            self._pause(attempt)
        raise OrderStateUnknown(
            f"hyperliquid: cannot establish whether order {cloid} exists; look it up "
            "before sending it again",
            client_order_id=cloid,
        )

    def _lookup(self, cloid: str) -> Order | None:
        st = self._info({"type": "orderStatus", "user": self.address, "oid": cloid})
        if isinstance(st, dict) and st.get("status") == "order":
            o = st["order"]
            order = self._order_from_front(o["order"], o["status"], o.get("statusTimestamp", 0))
            return self._with_avg_px(order)
        for front in self._info({"type": "frontendOpenOrders", "user": self.address}) or []:
            if front.get("cloid") == cloid:
                return self._order_from_front(front, "open", front.get("timestamp", 0))
        fills = [f for f in self._raw_fills() if f.get("cloid") == cloid]
        if fills:  # the order status lags its fills: the fills prove the order exists
            size = sum(float(f["sz"]) for f in fills)
            avg = sum(float(f["sz"]) * float(f["px"]) for f in fills) / size
            f0 = fills[0]
            return Order(
                symbol=f0["coin"], side=Side.of(f0["side"]), size=size, client_order_id=cloid,
                oid=int(f0["oid"]), status=OrderStatus.FILLED, filled_size=size, avg_px=avg,
                time_ms=max(int(f["time"]) for f in fills), message="known from its fills",
            )  # fmt: skip
        return None

    def cancel(self, symbol: str, client_order_id: str) -> bool:
        coin = self._coin(symbol)
        action = {"type": "cancelByCloid",
                  "cancels": [{"asset": self._asset[coin], "cloid": client_order_id}]}  # fmt: skip
        for attempt in range(self.max_attempts):
            try:
                answer, _ = self._action(action, expires=False)
            except (_Outcome, _NotSent):
                order = self.order_status(client_order_id)
                if order is None or order.status.is_final:
                    return order is not None and order.status is OrderStatus.CANCELED
                self._pause(attempt)
                continue
            if not isinstance(answer, dict) or answer.get("status") != "ok":
                reason = answer.get("response") if isinstance(answer, dict) else answer
                raise ExecutionError(f"hyperliquid: cancel {client_order_id} refused: {reason}")
            st = answer["response"]["data"]["statuses"][0]
            return st == "success"
        raise OrderStateUnknown(
            f"hyperliquid: cancel of {client_order_id} not confirmed; look it up",
            client_order_id=client_order_id,
        )

    def order_status(self, client_order_id: str) -> Order | None:
        st = self._info({"type": "orderStatus", "user": self.address, "oid": client_order_id})
        if not isinstance(st, dict) or st.get("status") != "order":
            return None
        o = st["order"]
        order = self._order_from_front(o["order"], o["status"], o.get("statusTimestamp", 0))
        return self._with_avg_px(order)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        fronts = self._info({"type": "frontendOpenOrders", "user": self.address}) or []
        out = [self._order_from_front(f, "open", f.get("timestamp", 0)) for f in fronts]
        out = [o for o in out if symbol is None or o.symbol == symbol]
        return sorted(out, key=lambda o: (o.time_ms, o.oid or 0))

    def fills(self, since_ms: int | None = None) -> list[Fill]:
        out = []
        for f in self._raw_fills(since_ms):
            out.append(
                Fill(
                    tid=int(f.get("tid", 0)),
                    oid=int(f["oid"]),
                    client_order_id=f.get("cloid"),
                    symbol=f["coin"],
                    side=Side.of(f["side"]),
                    size=float(f["sz"]),
                    price=float(f["px"]),
                    fee=float(f["fee"]),
                    time_ms=int(f["time"]),
                    closed_pnl=float(f.get("closedPnl", 0.0)),
                    liquidity=Liquidity.TAKER if f.get("crossed") else Liquidity.MAKER,
                    reason="liquidation" if f.get("liquidation") else "",
                )
            )
        out.sort(key=lambda f: (f.time_ms, f.tid))
        return out

    def _state(self) -> dict[str, Any]:
        st = self._info({"type": "clearinghouseState", "user": self.address})
        if not isinstance(st, dict) or "marginSummary" not in st:
            raise VenueUnavailable("hyperliquid: clearinghouseState without marginSummary")
        return st

    @staticmethod
    def _positions_of(st: dict[str, Any]) -> dict[str, Position]:
        out = {}
        for ap in st.get("assetPositions", []):
            p = ap["position"]
            size = float(p["szi"])
            if size == 0.0:
                continue
            liq = p.get("liquidationPx")
            out[p["coin"]] = Position(
                symbol=p["coin"], size=size, entry_px=float(p.get("entryPx") or 0.0),
                unrealized_pnl=float(p.get("unrealizedPnl", 0.0)),
                margin_used=float(p.get("marginUsed", 0.0)),
                liquidation_px=None if liq is None else float(liq),
                leverage=float(p.get("leverage", {}).get("value", math.nan)),
            )  # fmt: skip
        return out

    def positions(self) -> dict[str, Position]:
        return self._positions_of(self._state())

    def account(self) -> Account:
        st = self._state()
        ms = st["marginSummary"]
        return Account(
            equity=float(ms["accountValue"]), withdrawable=float(st.get("withdrawable", 0.0)),
            margin_used=float(ms["totalMarginUsed"]), positions=self._positions_of(st),
            time_ms=int(st.get("time", time.time() * 1000)),
        )  # fmt: skip

    def bound_waits(self, seconds: float | None) -> None:
        self.limiter.stop_waiting_after(seconds)

    def now_ms(self) -> int:
        """Return the venue's clock (``clearinghouseState.time``)."""
        st = self._state()
        return int(st.get("time", time.time() * 1000))

    def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        coin = self._coin(symbol)
        max_lev = self._max_leverage[coin]
        if (
            isinstance(leverage, bool)
            or not isinstance(leverage, int)
            or not 1 <= leverage <= max_lev
        ):
            raise ConfigError(
                f"set_leverage: {coin} leverage must be an integer in [1, {max_lev}], "
                f"got {leverage!r}"
            )
        self._simple_action({"type": "updateLeverage", "asset": self._asset[coin],
                             "isCross": bool(cross), "leverage": leverage})  # fmt: skip

    def schedule_cancel(self, deadline_ms: int | None) -> None:
        action: dict[str, Any] = {"type": "scheduleCancel"}
        if deadline_ms is not None:
            action["time"] = int(deadline_ms)
        self._simple_action(action)

    def _simple_action(self, action: dict[str, Any]) -> None:
        # idempotent settings: resending after an unknown outcome is harmless
        for attempt in range(self.max_attempts):
            try:
                answer, _ = self._action(action, expires=False)
            except (_Outcome, _NotSent):
                self._pause(attempt)
                continue
            if not isinstance(answer, dict) or answer.get("status") != "ok":
                reason = answer.get("response") if isinstance(answer, dict) else answer
                raise ExecutionError(f"hyperliquid: {action['type']} refused: {reason}")
            return
        raise VenueUnavailable(f"hyperliquid: {action['type']} not confirmed")

    def mid(self, symbol: str) -> float:
        coin = self._coin(symbol)
        mids = self._info({"type": "allMids"})
        if not isinstance(mids, dict) or coin not in mids:
            raise VenueUnavailable(f"hyperliquid: no mid for {coin}")
        return float(mids[coin])
