"""The HTTP face of the local exchange: ``POST /info`` and ``POST /exchange`` on 127.0.0.1.

Every ``/exchange`` action is authenticated as the venue does it: the signer is recovered
from the EIP-712 signature of the L1 action (the phantom agent over the msgpack hash of the
action, nonce, vault and expiry; ``source = "b"``, as for any non-mainnet URL), the nonce
must be new for that signer (the last 100 are kept; no older than two days, no later than a
day ahead), ``expiresAfter`` must not have passed, and the signer must have an account
(``fund``); an unknown signer gets the venue's ``"User or API Wallet ... does not exist."``.

Request weights follow the venue's IP limit (1200 per minute): an exchange action weighs
``1 + floor(n / 40)`` for ``n`` orders, ``allMids``, ``clearinghouseState``,
``orderStatus`` and ``l2Book`` weigh 2, ``userRole`` 60 and every other info type 20.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from quantlab.execution.sim.engine import SimExchange
from quantlab.execution.sim.faults import Faults

__all__ = ["SimServer", "request_weight"]

_LIGHT = {"allMids", "clearinghouseState", "orderStatus", "l2Book", "spotClearinghouseState",
          "exchangeStatus"}  # fmt: skip
_DAY_MS = 86_400_000
WEIGHT_PER_MINUTE = 1200


def request_weight(path: str, body: dict[str, Any]) -> int:
    """Return the venue's weight of one request (its IP rate limit counts weights)."""
    if path == "/exchange":
        action = body.get("action") or {}
        n = len(action.get("orders") or action.get("cancels") or action.get("modifies") or [])
        return 1 + n // 40
    kind = body.get("type")
    if kind in _LIGHT:
        return 2
    if kind == "userRole":
        return 60
    return 20


class _Handler(BaseHTTPRequestHandler):
    server: SimServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answers go out at once (no 40 ms delayed-ACK stalls)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (tests and notebooks read their own output)."""
        return  # quiet: tests and notebooks read their own output

    def _send(self, status: int, payload: Any, *, raw: bool = False) -> None:
        data = (payload if raw else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """Serve one POST, with the armed faults applied."""
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, "Failed to deserialize the JSON body", raw=True)
            return
        if self.path not in ("/info", "/exchange") or not isinstance(body, dict):
            self._send(404, "Not Found", raw=True)
            return
        srv.n_requests += 1
        weight = request_weight(self.path, body)
        action = body.get("action") or {}
        kind = action.get("type") if self.path == "/exchange" else body.get("type")
        srv.weight_by_type[str(kind)] += weight
        faults = srv.faults
        if faults.take("429") or not srv.admit(weight):
            self._send(429, "Too many requests", raw=True)
            return
        if faults.take("5xx"):
            self._send(502, "Bad Gateway", raw=True)
            return
        srv.sync_clock()
        if self.path == "/info":
            status, payload = srv.info(body)
            self._send(status, payload, raw=isinstance(payload, str))
            return
        if faults.take("timeout_before"):
            # the request is stuck on its way in past the client's timeout, then arrives:
            # the venue applies it unless its expiresAfter has passed by then
            time.sleep(srv.delay_s)
            srv.sync_clock()
            srv.exchange(body)
            self.close_connection = True
            return
        status, payload = srv.exchange(body)
        if faults.take("5xx_after"):
            self._send(500, "Internal Server Error", raw=True)
            return
        if faults.take("timeout_after"):
            time.sleep(srv.delay_s)
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self._send(status, payload, raw=isinstance(payload, str))


class SimServer(ThreadingHTTPServer):
    """The local Hyperliquid exchange over HTTP (see the module docstring).

    Parameters
    ----------
    engine : SimExchange
        The exchange state.
    port : int
        TCP port on 127.0.0.1; 0 picks a free one.
    speed : float
        Exchange seconds per real second (0: the clock moves only by ``advance``).
    faults : Faults
        Armed faults.
    delay_s : float
        How long a timeout fault holds a request.
    rate_limit : bool
        Enforce the venue's IP weight limit (1200 per minute).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        engine: SimExchange,
        port: int = 0,
        *,
        speed: float = 0.0,
        faults: Faults | None = None,
        delay_s: float = 1.0,
        rate_limit: bool = True,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.engine = engine
        self.speed = float(speed)
        self.faults = faults or Faults()
        self.delay_s = float(delay_s)
        self.rate_limit = rate_limit
        self.n_requests = 0
        self.weight_by_type: Counter[str] = Counter()  # every request asked, admitted or not
        self._t0_real = time.monotonic()
        self._t0_sim = engine.now_ms
        self._offset_ms = 0
        self._clock_lock = threading.Lock()
        self._weights: deque[tuple[float, int]] = deque()
        self._nonces: dict[str, list[int]] = {}
        self._before_last: SimExchange | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client vanished mid-request (a killed runner); report the rest."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    # --------------------------------------------------------------- clock / limits

    def sim_time_ms(self) -> int:
        """Return the exchange clock now (start + speed * elapsed + manual advances)."""
        elapsed = (time.monotonic() - self._t0_real) * self.speed
        return int(self._t0_sim + elapsed * 1000.0 + self._offset_ms)

    def sync_clock(self) -> None:
        """Advance the exchange to the clock's current time."""
        with self._clock_lock:
            self.engine.advance_to(self.sim_time_ms())

    def advance(self, seconds: float) -> None:
        """Move the exchange clock forward by ``seconds`` and process what happens."""
        with self._clock_lock:
            self._offset_ms += round(seconds * 1000.0)
            self.engine.advance_to(self.sim_time_ms())

    def set_speed(self, speed: float) -> None:
        """Run the clock at ``speed`` from now on; the exchange time stays continuous."""
        with self._clock_lock:
            now = self.sim_time_ms()
            self.speed = float(speed)
            self._t0_real = time.monotonic()
            self._offset_ms = now - self._t0_sim
            self.engine.advance_to(now)

    def admit(self, weight: int) -> bool:
        """Account ``weight`` against the IP limit; False when it would exceed it."""
        if not self.rate_limit:
            return True
        now = time.monotonic()
        with self._clock_lock:
            while self._weights and now - self._weights[0][0] >= 60.0:
                self._weights.popleft()
            used = sum(w for _, w in self._weights)
            if used + weight > WEIGHT_PER_MINUTE:
                return False
            self._weights.append((now, weight))
            return True

    # ------------------------------------------------------------------------ info

    def info(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Answer one ``/info`` request: ``(HTTP status, JSON or text)``."""
        eng = self.engine
        stale = self.faults.active("stale") and self._before_last is not None
        if stale and self.faults.take("stale"):
            eng = self._before_last
        kind = body.get("type")
        user = str(body.get("user", "")).lower()
        with self.engine.lock:
            try:
                if kind == "meta":
                    return 200, eng.meta()
                if kind == "spotMeta":
                    return 200, eng.spot_meta()
                if kind == "allMids":
                    return 200, eng.all_mids()
                if kind == "clearinghouseState":
                    return 200, eng.clearinghouse_state(user)
                if kind == "openOrders":
                    return 200, eng.open_orders(user)
                if kind == "frontendOpenOrders":
                    return 200, eng.open_orders(user, frontend=True)
                if kind == "orderStatus":
                    oid = body.get("oid")
                    return 200, eng.order_status(user, oid if isinstance(oid, int) else str(oid))
                if kind == "userFills":
                    return 200, eng.user_fills(user)
                if kind == "userFillsByTime":
                    return 200, eng.user_fills(user, body.get("startTime"), body.get("endTime"))
                if kind == "l2Book" and body.get("coin") in eng.coins:
                    return 200, eng.l2_book(body["coin"])
                if kind == "userRateLimit":
                    return 200, eng.rate_limit(user)
                if kind == "candleSnapshot":
                    req = body.get("req") or {}
                    coin = req.get("coin")
                    if coin not in eng.coins:
                        return 422, "Failed to deserialize the JSON body into the target type"
                    return 200, eng.candles(
                        coin, req.get("interval", "1h"), int(req["startTime"]), int(req["endTime"])
                    )
                if kind == "fundingHistory":
                    coin = body.get("coin")
                    if coin not in eng.coins:
                        return 422, "Failed to deserialize the JSON body into the target type"
                    return 200, eng.funding_history(
                        coin, int(body["startTime"]), body.get("endTime")
                    )
            except (KeyError, TypeError, ValueError):
                pass
        return 422, "Failed to deserialize the JSON body into the target type"

    # -------------------------------------------------------------------- exchange

    def _check_nonce(self, signer: str, nonce: Any) -> str | None:
        if not isinstance(nonce, int) or isinstance(nonce, bool):
            return "Invalid nonce"
        now = int(time.time() * 1000)
        if nonce < now - 2 * _DAY_MS or nonce > now + _DAY_MS:
            return f"Invalid nonce: {nonce} is outside the allowed time window"
        seen = self._nonces.setdefault(signer, [])
        if nonce in seen:
            return "Invalid nonce: duplicate nonce"
        if len(seen) >= 100 and nonce < min(seen):
            return "Invalid nonce: nonce too low"
        seen.append(nonce)
        if len(seen) > 100:
            seen.remove(min(seen))
        return None

    def exchange(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Authenticate and apply one ``/exchange`` action: ``(HTTP status, JSON)``."""
        from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

        action = body.get("action")
        sig = body.get("signature")
        nonce = body.get("nonce")
        if not isinstance(action, dict) or not isinstance(sig, dict):
            return 422, "Failed to deserialize the JSON body into the target type"
        if body.get("vaultAddress"):
            return 200, {"status": "err", "response": "Vault trading is not supported here."}
        expires = body.get("expiresAfter")
        try:
            signer = recover_agent_or_user_from_l1_action(
                action, sig, None, int(nonce), expires, False
            ).lower()
        except Exception:
            return 200, {"status": "err", "response": "Invalid signature."}
        if expires is not None and int(expires) < int(time.time() * 1000):
            return 200, {"status": "err", "response": "Action expired."}
        with self.engine.lock:
            if signer not in self.engine.accounts:
                return 200, {
                    "status": "err",
                    "response": f"User or API Wallet {signer} does not exist.",
                }
            problem = self._check_nonce(signer, nonce)
            if problem:
                return 200, {"status": "err", "response": problem}
            if self.faults.active("stale"):
                self._before_last = self.engine.snapshot()
            self.engine.accounts[signer].n_requests += 1
            return 200, self._apply(signer, action)

    def _apply(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        eng = self.engine
        kind = action.get("type")
        if kind == "order":
            orders = action.get("orders") or []
            grouping = action.get("grouping", "na")
            if self.faults.take("reject"):
                statuses = [{"error": "Order rejected by the exchange (injected fault)."}] * len(
                    orders
                )
                return _ok("order", statuses)
            if self.faults.take("partial"):
                eng.arm_partial(0.5)
            statuses = []
            parent = None
            for k, wire in enumerate(orders):
                if grouping == "normalTpsl" and k > 0:
                    if parent is None:
                        statuses.append({"error": "Grouped order's parent was not placed."})
                    else:
                        statuses.append(eng.place(user, wire, grouping, parent=parent))
                    continue
                status = eng.place(user, wire, grouping)
                statuses.append(status)
                if grouping == "normalTpsl" and k == 0 and isinstance(status, dict):
                    info = status.get("resting") or status.get("filled")
                    parent = eng.orders.get(info["oid"]) if info else None
            eng.disarm_partial()
            return _ok("order", statuses)
        if kind in ("cancel", "cancelByCloid"):
            statuses = []
            for c in action.get("cancels") or []:
                asset = c.get("a", c.get("asset"))
                if kind == "cancel":
                    done = eng.cancel(user, oid=c.get("o"))
                else:
                    done = eng.cancel(user, cloid=c.get("cloid"))
                statuses.append(
                    "success"
                    if done
                    else {
                        "error": "Order was never placed, already canceled, or filled. "
                        f"asset={asset}"
                    }
                )
            return _ok("cancel", statuses)
        if kind == "batchModify":
            statuses = [eng.modify(user, m.get("oid"), m.get("order") or {})
                        for m in action.get("modifies") or []]  # fmt: skip
            return _ok("order", statuses)
        if kind == "scheduleCancel":
            problem = eng.schedule_cancel(user, action.get("time"))
            if problem:
                return {"status": "err", "response": problem}
            return {"status": "ok", "response": {"type": "default"}}
        if kind == "updateLeverage":
            problem = eng.update_leverage(
                user, action.get("asset"), action.get("isCross", True), action.get("leverage")
            )
            if problem:
                return {"status": "err", "response": problem}
            return {"status": "ok", "response": {"type": "default"}}
        return {"status": "err", "response": f"Unknown action type {kind!r}."}


def _ok(kind: str, statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}
