"""Local fakes of a Solana node for tests: JSON-RPC over HTTP and a logs websocket.

Both listen on 127.0.0.1 only and serve recorded ``getTransaction`` results (the shared
fixtures). The HTTP fake pages ``getSignaturesForAddress`` like a node (newest first,
``before``/``until``/``limit``), can answer HTTP 429 a given number of times, and
records every request. The websocket fake confirms ``logsSubscribe`` per wallet, sends
``logsNotification`` frames on demand and can drop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeRPC:
    """A JSON-RPC node on 127.0.0.1 serving recorded transactions."""

    def __init__(self) -> None:
        self.txs: dict[str, dict] = {}
        self.history: dict[str, list[str]] = {}  # wallet -> signatures, oldest first
        self.requests: list[tuple[str, list]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append((body["method"], body.get("params", [])))
                    if fake.fail_next > 0:
                        fake.fail_next -= 1
                        self.send_response(429)
                        self.end_headers()
                        self.wfile.write(b"Too Many Requests")
                        return
                    result = fake.answer(body["method"], body.get("params", []))
                out = json.dumps({"jsonrpc": "2.0", "result": result, "id": body["id"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, tx: dict, wallets: list[str]) -> str:
        """Serve ``tx`` (a getTransaction result) and list it for ``wallets``; return its sig."""
        tx = tx.get("result", tx) if "transaction" not in tx else tx
        sig = tx["transaction"]["signatures"][0]
        with self.lock:
            self.txs[sig] = tx
            for w in wallets:
                self.history.setdefault(w, []).append(sig)
                self.history[w].sort(key=lambda s: self.txs[s].get("blockTime") or 0)
        return sig

    def answer(self, method: str, params: list) -> Any:
        if method == "getTransaction":
            return self.txs.get(params[0])
        if method == "getSignaturesForAddress":
            opts = params[1] if len(params) > 1 else {}
            sigs = list(reversed(self.history.get(params[0], [])))  # newest first
            if opts.get("before"):
                sigs = sigs[sigs.index(opts["before"]) + 1 :]
            if opts.get("until") and opts["until"] in sigs:
                sigs = sigs[: sigs.index(opts["until"])]
            sigs = sigs[: opts.get("limit", 1000)]
            return [
                {
                    "signature": s,
                    "slot": self.txs[s].get("slot", 0),
                    "err": self.txs[s]["meta"].get("err"),
                    "memo": None,
                    "blockTime": self.txs[s].get("blockTime"),
                    "confirmationStatus": "finalized",
                }
                for s in sigs
            ]
        raise AssertionError(f"fake RPC: unexpected method {method}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeLogsSocket:
    """A websocket node on 127.0.0.1: logsSubscribe per wallet, notifications on demand."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.subscriptions: dict[int, str] = {}
        self.connections: list[Any] = []
        self.subscribed = threading.Event()
        self.n_wallets = 0
        self._next = 100
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self.loop)

        async def handler(ws: Any) -> None:
            self.connections.append(ws)
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("method") == "logsSubscribe":
                    self._next += 1
                    wallet = msg["params"][0]["mentions"][0]
                    self.subscriptions[self._next] = wallet
                    await ws.send(
                        json.dumps({"jsonrpc": "2.0", "result": self._next, "id": msg["id"]})
                    )
                    mine = [w for w in self.subscriptions.values()]
                    if len(mine) >= self.n_wallets:
                        self.subscribed.set()

        async def main() -> None:
            self.server = await serve(handler, "127.0.0.1", 0)
            self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
            ready.set()
            await self.server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(main())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def notify(self, wallet: str, signature: str, err: Any = None) -> None:
        """Send a logsNotification for ``wallet``'s newest subscription."""
        sub = max(k for k, w in self.subscriptions.items() if w == wallet)
        frame = {
            "jsonrpc": "2.0",
            "method": "logsNotification",
            "params": {
                "result": {
                    "context": {"slot": 1},
                    "value": {"signature": signature, "err": err, "logs": []},
                },
                "subscription": sub,
            },
        }
        self._call(self.connections[-1].send(json.dumps(frame)))

    def drop(self) -> None:
        """Close the current connection abruptly (the client must reconnect)."""
        self.subscribed.clear()
        self.subscriptions.clear()
        self._call(self.connections[-1].close(code=1011, reason="test drop"))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
