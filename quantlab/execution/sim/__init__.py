"""A local Hyperliquid exchange for offline tests, notebooks and the CLI.

    handle = ql.execution.sim.serve(port=0, seed=7, fund={address: 10_000})
    exchange = Exchange(wallet, base_url=handle.url)    # the unmodified SDK
    handle.advance(3600)                                # one exchange hour passes
    handle.inject("timeout_after")                      # the next action times out
    handle.stop()

The server listens on 127.0.0.1 only. Its clock starts at ``start`` (default: now, floored
to the minute) and runs ``speed`` exchange seconds per real second (0, the default for
``serve``, moves it only by :meth:`SimHandle.advance`, so tests step it deterministically).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from quantlab.errors import ConfigError
from quantlab.execution.sim.engine import COINS, SimExchange, SimOrder
from quantlab.execution.sim.faults import KINDS, Faults
from quantlab.execution.sim.server import SimServer

__all__ = ["COINS", "KINDS", "SimHandle", "serve"]

_MINUTE_MS = 60_000


class SimHandle:
    """A running local exchange: its URL, its clock and its fault switches."""

    def __init__(self, server: SimServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.exchange = server.engine
        self.faults = server.faults
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if server.speed > 0:
            # a running clock: fills, triggers, funding and the dead man's switch happen
            # as exchange time passes, whether or not anyone asks
            self._ticker = threading.Thread(target=self._tick, name="quantlab-exchange-clock",
                                            daemon=True)  # fmt: skip
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self._server.sync_clock()

    @property
    def url(self) -> str:
        """Return the base URL to hand the SDK (``http://127.0.0.1:PORT``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        """Return the TCP port."""
        return int(self._server.server_address[1])

    @property
    def now_ms(self) -> int:
        """Return the exchange clock (UTC epoch ms)."""
        self._server.sync_clock()
        return self.exchange.now_ms

    def advance(self, seconds: float) -> None:
        """Move the exchange clock forward, filling, triggering and funding on the way."""
        if not seconds >= 0:
            raise ConfigError(f"advance: seconds must be >= 0, got {seconds!r}")
        self._server.advance(seconds)

    def freeze(self) -> None:
        """Stop the clock where it is (from now on only :meth:`advance` moves it)."""
        self._server.set_speed(0.0)

    def weight_by_type(self) -> dict[str, int]:
        """Return the request weight asked so far, by info type or action type."""
        return dict(self._server.weight_by_type)

    def fund(self, address: str, usdc: float) -> None:
        """Credit ``usdc`` to ``address`` (an unfunded address cannot trade)."""
        if not (usdc > 0):
            raise ConfigError(f"fund: usdc must be > 0, got {usdc!r}")
        self.exchange.fund(address, usdc)

    def mid(self, coin: str) -> float:
        """Return the current mid price of ``coin``."""
        self._server.sync_clock()
        with self.exchange.lock:
            return self.exchange.mid(coin)

    def inject(self, kind: str, count: int = 1) -> None:
        """Arm a fault for the next ``count`` eligible requests (see :mod:`.faults`)."""
        self.faults.arm(kind, count)

    def orders(self, address: str) -> list[SimOrder]:
        """Return every order ``address`` ever placed (open, filled or cancelled)."""
        with self.exchange.lock:
            return list(self.exchange.all_orders(address))

    def orders_per_cloid(self, address: str) -> dict[str, int]:
        """Return how many orders the exchange holds per client order id."""
        counts: dict[str, int] = {}
        for o in self.orders(address):
            if o.cloid:
                counts[o.cloid] = counts.get(o.cloid, 0) + 1
        return counts

    @property
    def n_requests(self) -> int:
        """Return how many HTTP requests the server has answered."""
        return self._server.n_requests

    def stop(self) -> None:
        """Shut the server down and free its port."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SimHandle {self.url} t={self.exchange.now_ms}>"


def serve(
    port: int = 0,
    seed: int = 7,
    fund: Mapping[str, float] | None = None,
    speed: float = 0.0,
    faults: str | Mapping[str, float] | None = None,
    *,
    start: Any = None,
    delay_s: float = 1.0,
    rate_limit: bool = True,
    maker_fee: float = 0.00015,
    taker_fee: float = 0.00045,
    spread_bps: float = 1.0,
) -> SimHandle:
    """Start the local exchange on 127.0.0.1 in a background thread; return its handle.

    Parameters
    ----------
    port : int
        TCP port; 0 picks a free one (``handle.url`` tells which).
    seed : int
        Seed of the synthetic price paths and of probabilistic faults.
    fund : mapping, optional
        ``{address: usdc}`` accounts to create.
    speed : float
        Exchange seconds per real second; 0 moves the clock only by ``advance``.
    faults : str or mapping, optional
        Fault spec, e.g. ``"429:3,timeout_after:1"`` (see :mod:`.faults`).
    start : timestamp, optional
        Exchange time at the start (default: now, floored to the minute).
    delay_s : float
        How long a timeout fault holds its request.
    rate_limit : bool
        Enforce the venue's IP weight limit.
    maker_fee, taker_fee, spread_bps : float
        Fees and the bid-ask spread.
    """
    from quantlab.execution.model import to_ms

    if speed < 0:
        raise ConfigError(f"serve: speed must be >= 0, got {speed!r}")
    start_ms = int(time.time() * 1000) // _MINUTE_MS * _MINUTE_MS if start is None else to_ms(start)
    engine = SimExchange(seed, start_ms, maker_fee=maker_fee, taker_fee=taker_fee,
                         spread_bps=spread_bps)  # fmt: skip
    for address, usdc in (fund or {}).items():
        engine.fund(address, float(usdc))
    try:
        server = SimServer(engine, port, speed=speed, faults=Faults(faults, seed=seed),
                           delay_s=delay_s, rate_limit=rate_limit)  # fmt: skip
    except OSError as exc:
        raise ConfigError(f"serve: cannot listen on 127.0.0.1:{port} ({exc})") from None
    thread = threading.Thread(target=server.serve_forever, name="quantlab-exchange-sim",
                              daemon=True)  # fmt: skip
    thread.start()
    return SimHandle(server, thread)
