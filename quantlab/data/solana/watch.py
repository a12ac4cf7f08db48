"""Watch wallets live: one ``logsSubscribe`` per wallet, reconnect with a REST backfill.

``watch(wallets, ws_endpoint=..., endpoint=...)`` opens solana-py's websocket client,
subscribes to the logs that mention each wallet, and for every notification of a
successful transaction fetches it (``getTransaction``, jsonParsed, version 0), parses
the swaps and merges them into the store. On connect, and again after every dropped
connection, it first backfills over REST what it may have missed: each wallet's
signatures since the newest one already seen (since ``backfill_days`` on the first
connect), so a reconnect loses nothing; the store's key makes the overlap harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from quantlab.data.solana.parser import Swap, parse_swaps
from quantlab.data.solana.rpc import DEFAULT_ENDPOINT, SolanaRPC
from quantlab.errors import ConfigError, SourceError

__all__ = ["WatchReport", "watch"]


@dataclass
class WatchReport:
    """What a :func:`watch` session did."""

    connects: int = 0
    notifications: int = 0
    backfilled: int = 0
    swaps: list[Swap] = field(default_factory=list)
    written: int = 0


async def _watch(
    wallets: list[str],
    ws_endpoint: str,
    endpoint: str,
    root: Any,
    *,
    backfill_days: float,
    max_swaps: int | None,
    max_reconnects: int | None,
    reconnect_delay: float,
    on_swap: Callable[[Swap], None] | None,
    now: float | None,
    rpc_options: dict[str, Any],
) -> WatchReport:
    import time

    from solana.rpc.commitment import Confirmed
    from solana.rpc.websocket_api import SolanaWsClient
    from solders.pubkey import Pubkey
    from solders.rpc.config import RpcTransactionLogsFilterMentions

    from quantlab.data.solana.store import SwapStore

    store = SwapStore(root)
    report = WatchReport()
    newest: dict[str, str] = {}
    since = (time.time() if now is None else now) - backfill_days * 86_400.0

    def keep(swaps: list[Swap]) -> bool:
        fresh = [s for s in swaps if s not in report.swaps]
        if fresh:
            report.written += store.write(fresh)
            report.swaps.extend(fresh)
            for s in fresh:
                if on_swap is not None:
                    on_swap(s)
        return max_swaps is not None and len(report.swaps) >= max_swaps

    async with SolanaRPC(endpoint, **rpc_options) as rpc:

        async def backfill() -> bool:
            done = False
            for wallet in wallets:
                sigs = await rpc.signatures(
                    wallet, since=None if wallet in newest else since, until=newest.get(wallet)
                )
                if sigs:
                    newest[wallet] = sigs[0]["signature"]
                for item in reversed(sigs):
                    if item.get("err") is not None:
                        continue
                    report.backfilled += 1
                    tx = await rpc.transaction(item["signature"])
                    done = keep(parse_swaps(tx, wallets=wallets)) or done
            return done

        failures = 0
        while True:
            try:
                async with SolanaWsClient(ws_endpoint) as ws:
                    report.connects += 1
                    subs: dict[int, str] = {}
                    for wallet in wallets:
                        mention = RpcTransactionLogsFilterMentions(Pubkey.from_string(wallet))
                        sub = await ws.logs_subscribe(filter_=mention, commitment=Confirmed)
                        subs[sub.subscription_id] = wallet
                    if await backfill():
                        return report
                    failures = 0
                    async for note in ws:
                        wallet = subs.get(note.subscription)
                        value = note.result.value
                        if wallet is None or value.err is not None:
                            continue
                        report.notifications += 1
                        sig = str(value.signature)
                        newest[wallet] = sig
                        tx = await rpc.transaction(sig)
                        if keep(parse_swaps(tx, wallets=wallets)):
                            return report
                    raise ConnectionError("the websocket closed")
            except (TimeoutError, OSError, ConnectionError) as exc:
                failures += 1
                if max_reconnects is not None and failures > max_reconnects:
                    raise SourceError(
                        f"watch: websocket {ws_endpoint} failed {failures} time(s) in a row: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                await asyncio.sleep(reconnect_delay)
            except Exception as exc:
                from websockets.exceptions import ConnectionClosed

                if not isinstance(exc, ConnectionClosed):
                    raise
                failures += 1
                if max_reconnects is not None and failures > max_reconnects:
                    raise SourceError(
                        f"watch: websocket {ws_endpoint} closed {failures} time(s) in a row"
                    ) from exc
                await asyncio.sleep(reconnect_delay)


def watch(
    wallets: Iterable[str],
    *,
    ws_endpoint: str = "wss://api.mainnet-beta.solana.com",
    endpoint: str = DEFAULT_ENDPOINT,
    root: Any = "data",
    backfill_days: float = 1.0,
    max_swaps: int | None = None,
    max_reconnects: int | None = None,
    reconnect_delay: float = 1.0,
    on_swap: Callable[[Swap], None] | None = None,
    now: float | None = None,
    **rpc_options: Any,
) -> WatchReport:
    """Watch the wallets' swaps live into the store (blocks; Ctrl-C stops it).

    Parameters
    ----------
    wallets : iterable of str
        Wallet addresses (one ``logsSubscribe`` each).
    ws_endpoint, endpoint : str
        Websocket and HTTP RPC URLs.
    root : path
        Store root.
    backfill_days : float
        Look-back of the first REST backfill.
    max_swaps : int, optional
        Return once this many swaps were stored (tests, one-shot runs).
    max_reconnects : int, optional
        Give up (SourceError) after this many failed connections in a row (default:
        never).
    reconnect_delay : float
        Seconds between reconnects.
    on_swap : callable, optional
        Called with each new swap.
    now : float, optional
        Epoch seconds of "now" (tests).
    **rpc_options
        :class:`~quantlab.data.solana.rpc.SolanaRPC` options.
    """
    wallets = list(dict.fromkeys(wallets))
    if not wallets:
        raise ConfigError("watch: no wallet to watch")
    if not ws_endpoint.startswith(("ws://", "wss://")):
        raise ConfigError(f"watch: ws_endpoint {ws_endpoint!r} must be a ws(s) URL")
    return asyncio.run(
        _watch(
            wallets,
            ws_endpoint,
            endpoint,
            root,
            backfill_days=backfill_days,
            max_swaps=max_swaps,
            max_reconnects=max_reconnects,
            reconnect_delay=reconnect_delay,
            on_swap=on_swap,
            now=now,
            rpc_options=rpc_options,
        )
    )
