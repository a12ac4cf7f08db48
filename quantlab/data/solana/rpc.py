"""Swaps from a Solana RPC node: wallet signatures, transactions, the parser, the store.

Built on solana-py's :class:`solana.rpc.async_api.AsyncClient` (pinned: ``solana==0.41.*``,
``solders==0.29.*``; the client API broke between releases):

- ``getSignaturesForAddress`` paged backwards with ``before`` (up to ``page_size`` per
  call) until the block time falls before ``since`` or the ``until`` signature is met;
- ``getTransaction`` with ``encoding="jsonParsed"`` and
  ``max_supported_transaction_version=0`` (version-0 transactions with lookup tables);
- a request rate cap (the client's own limiter), and retries with exponential back-off on
  transport errors, HTTP 429/5xx and RPC errors, after which :class:`SourceError` names
  the method and the wallet or signature.

No network is touched at import; tests point ``endpoint`` at a local fake on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from quantlab.data.solana.parser import Swap, parse_swaps
from quantlab.errors import ConfigError, SourceError

__all__ = ["FetchReport", "SolanaRPC", "fetch_swaps", "read_wallets"]

T = TypeVar("T")

DEFAULT_ENDPOINT = "https://api.mainnet-beta.solana.com"


def read_wallets(path: Any) -> list[str]:
    """Return the wallet addresses of a file: one per line, ``#`` comments, blank lines.

    Raises
    ------
    ConfigError
        The file is missing, empty, or a line is not a base58 public key (the message
        names the line).
    """
    from pathlib import Path

    from solders.pubkey import Pubkey

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"wallets: file {p} does not exist")
    out: list[str] = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            Pubkey.from_string(text)
        except Exception:
            raise ConfigError(
                f"wallets: {p} line {n}: {text!r} is not a base58 Solana address"
            ) from None
        if text not in out:
            out.append(text)
    if not out:
        raise ConfigError(f"wallets: {p} lists no wallet")
    return out


@dataclass
class FetchReport:
    """What :func:`fetch_swaps` did."""

    wallets: int
    signatures: int
    transactions: int
    swaps: list[Swap]
    written: int


class SolanaRPC:
    """An async RPC session with rate limiting, retries and paging.

    Parameters
    ----------
    endpoint : str
        HTTP(S) JSON-RPC URL.
    rate_limit : float
        Requests per second at most (0: no cap).
    max_retries : int
        Retries per request after the first attempt.
    backoff : float
        First retry delay in seconds (doubles each retry).
    timeout : float
        Per-request timeout in seconds.
    page_size : int
        Signatures per ``getSignaturesForAddress`` call (at most 1000).
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        rate_limit: float = 8.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30.0,
        page_size: int = 1000,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"rpc: endpoint {endpoint!r} must be an http(s) URL")
        if not 1 <= page_size <= 1000:
            raise ConfigError(f"rpc: page_size must be in 1..1000, got {page_size}")
        if max_retries < 0 or backoff < 0 or rate_limit < 0:
            raise ConfigError("rpc: max_retries, backoff and rate_limit must be >= 0")
        self.endpoint = endpoint
        self.rate_limit = rate_limit
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.page_size = page_size
        self._client: Any = None

    async def __aenter__(self) -> SolanaRPC:
        from solana.rpc.async_api import AsyncClient

        self._client = AsyncClient(
            self.endpoint,
            timeout=self.timeout,
            rate_limit=self.rate_limit,
            http2=False,
            max_transport_retries=0,
        )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _retry(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            try:
                return await call()
            except Exception as exc:  # transport, HTTP status, RPC error: all retried
                if attempt == self.max_retries:
                    raise SourceError(
                        f"rpc {what}: failed after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}: {str(exc)[:200]}"
                    ) from exc
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def signatures(
        self, wallet: str, *, since: float | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the wallet's signatures, newest first, back to ``since`` or ``until``.

        Parameters
        ----------
        wallet : str
            Base58 address.
        since : float, optional
            Epoch seconds: stop at the first signature whose block time is earlier.
        until : str, optional
            Stop before this signature (the newest one already seen).
        """
        from solders.pubkey import Pubkey
        from solders.signature import Signature

        if self._client is None:
            raise ConfigError("rpc: use `async with SolanaRPC(...) as rpc`")
        key = Pubkey.from_string(wallet)
        stop = Signature.from_string(until) if until else None
        out: list[dict[str, Any]] = []
        before = None
        while True:
            resp = await self._retry(
                f"getSignaturesForAddress({wallet})",
                lambda b=before: self._client.get_signatures_for_address(
                    key, before=b, until=stop, limit=self.page_size
                ),
            )
            page = json.loads(resp.to_json())["result"]
            done = False
            for item in page:
                bt = item.get("blockTime")
                if since is not None and bt is not None and bt < since:
                    done = True
                    break
                out.append(item)
            if done or len(page) < self.page_size:
                return out
            before = Signature.from_string(page[-1]["signature"])

    async def transaction(self, signature: str) -> dict[str, Any] | None:
        """Return the ``getTransaction`` result (jsonParsed, version 0), None if unknown."""
        from solders.signature import Signature

        if self._client is None:
            raise ConfigError("rpc: use `async with SolanaRPC(...) as rpc`")
        sig = Signature.from_string(signature)
        resp = await self._retry(
            f"getTransaction({signature[:16]}...)",
            lambda: self._client.get_transaction(
                sig, encoding="jsonParsed", max_supported_transaction_version=0
            ),
        )
        return json.loads(resp.to_json())["result"]

    async def swaps_of(
        self, wallets: Iterable[str], *, since: float | None = None, until: dict | None = None
    ) -> tuple[int, int, list[Swap]]:
        """Return (signatures, transactions, swaps) of the wallets since ``since``.

        ``until`` maps a wallet to the newest signature already seen (a backfill stops
        there). Failed transactions are skipped before they are fetched.
        """
        wallets = list(wallets)
        n_sig = n_tx = 0
        seen: set[str] = set()
        swaps: list[Swap] = []
        for wallet in wallets:
            sigs = await self.signatures(wallet, since=since, until=(until or {}).get(wallet))
            n_sig += len(sigs)
            for item in reversed(sigs):  # oldest first
                sig = item["signature"]
                if item.get("err") is not None or sig in seen:
                    continue
                seen.add(sig)
                tx = await self.transaction(sig)
                n_tx += 1
                swaps.extend(parse_swaps(tx, wallets=wallets))
        uniq = {(s.signature, s.instruction, s.wallet): s for s in swaps}
        return n_sig, n_tx, sorted(uniq.values(), key=lambda s: (s.time, s.signature))


def fetch_swaps(
    wallets: Iterable[str],
    days: float,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    root: Any = "data",
    now: float | None = None,
    **rpc_options: Any,
) -> FetchReport:
    """Fetch the wallets' swaps of the last ``days`` and merge them into the store.

    Parameters
    ----------
    wallets : iterable of str
        Wallet addresses.
    days : float
        Look-back in days (> 0).
    endpoint : str
        RPC URL.
    root : path
        Store root (:class:`quantlab.data.solana.SwapStore`).
    now : float, optional
        Epoch seconds of "now" (tests).
    **rpc_options
        :class:`SolanaRPC` options (``rate_limit``, ``max_retries``, ``backoff`` ...).
    """
    from quantlab.data.solana.store import SwapStore

    if not days > 0:
        raise ConfigError(f"fetch: --days must be > 0, got {days!r}")
    wallets = list(wallets)
    since = (time.time() if now is None else now) - days * 86_400.0

    async def run() -> tuple[int, int, list[Swap]]:
        async with SolanaRPC(endpoint, **rpc_options) as rpc:
            return await rpc.swaps_of(wallets, since=since)

    n_sig, n_tx, swaps = asyncio.run(run())
    written = SwapStore(root).write(swaps) if swaps else 0
    return FetchReport(len(wallets), n_sig, n_tx, swaps, written)
