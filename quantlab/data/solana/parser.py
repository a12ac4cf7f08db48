"""The swap parser: ``parse_swaps(tx)`` reads who swapped what from a ``getTransaction`` result.

A swap is read from the balances the transaction changed, not from instruction data, so one
parser covers Jupiter routes, Raydium, Orca, Pump.fun and Serum alike:

1. Token balances are paired by ``(accountIndex, mint)`` between ``preTokenBalances`` and
   ``postTokenBalances`` (never by list position: the two lists need not line up; an
   account missing on one side held zero).
2. Each token account is given to its owner: the ``owner`` field where the RPC sends it,
   otherwise what the parsed instructions say (``initializeAccount``, associated-account
   ``create``, ``approve``, ``transfer`` authorities, ``closeAccount``), otherwise the
   account positions of the Serum swap and SPL token-swap instructions.
3. Native SOL is folded into wrapped SOL: a trader's SOL change is its lamport change,
   plus the transaction fee when it paid it, plus rent it moved into new accounts of its
   own (token accounts, accounts it created with ``createAccount``) or got back from token
   accounts it closed, plus the change of its wrapped-SOL token accounts.
4. A mint the trader received that also flowed *into* another account is the middle leg
   of a route (USDC in SOL -> USDC -> X) and is dropped; what is left must be exactly one
   mint paid and one mint received, or the transaction is not a swap (liquidity adds pay
   two mints, removes receive two, transfers move one).

Failed transactions, transactions where no known DEX program runs (see
:mod:`quantlab.data.solana.programs`) and non-swaps give an empty list.

Notes
-----
The SOL leg is what the trader parted with or received, net of the network fee and of
rent deposits: priority tips and bot fees paid in the same transaction are part of its
cost. A Pump.fun ``create`` that buys in the same transaction reports the creator's whole
SOL outlay (bonding-curve rent and creation fee included) as the buy's input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from quantlab.data.solana.programs import (
    AGGREGATORS,
    PROGRAMS,
    SERUM_SWAP,
    SOL_DECIMALS,
    SOL_MINT,
    TOKEN_SWAP_PROGRAMS,
)
from quantlab.errors import DataError

__all__ = ["Swap", "parse_swaps"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_DEX_IDS = frozenset(PROGRAMS)


@dataclass(frozen=True, slots=True)
class Swap:
    """One swap by one wallet.

    Attributes
    ----------
    signature : str
        Transaction signature (base58).
    instruction : int
        Index of the top-level instruction that ran the DEX (with ``signature`` the key).
    wallet : str
        The trader (owner of the token accounts that paid and received).
    time : int
        Block time, seconds since the epoch (UTC).
    slot : int
        Slot of the block.
    program : str
        ``"jupiter"``, ``"raydium"``, ``"orca"``, ``"pumpfun"`` or ``"serum"``.
    mint_in, mint_out : str
        Mint paid and mint received (SOL as the wrapped-SOL mint).
    amount_in, amount_out : float
        Amounts in token units (decimals applied).
    fee : float
        Network fee in SOL paid by ``wallet`` (0 when another account paid it).
    """

    signature: str
    instruction: int
    wallet: str
    time: int
    slot: int
    program: str
    mint_in: str
    amount_in: float
    mint_out: str
    amount_out: float
    fee: float

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a dict."""
        return asdict(self)


def _b58_first_byte(data: str) -> int | None:
    """Return the first byte of base58 ``data`` (None if empty or not base58)."""
    n = 0
    try:
        for c in data:
            n = n * 58 + _B58_INDEX[c]
    except KeyError:
        return None
    zeros = len(data) - len(data.lstrip("1"))
    if zeros:
        return 0
    if n == 0:
        return None
    return n >> (8 * ((n.bit_length() - 1) // 8))


def _result(tx: Any) -> Mapping[str, Any] | None:
    if tx is None:
        return None
    if type(tx) is not dict and not isinstance(tx, Mapping):
        to_json = getattr(tx, "to_json", None)
        if to_json is None:
            raise DataError(
                f"parse_swaps: expected a getTransaction result (a mapping), got "
                f"{type(tx).__name__}"
            )
        import json

        tx = json.loads(to_json())
    if "result" in tx and "transaction" not in tx:
        return _result(tx["result"])
    if "meta" not in tx:
        update = tx.get("transaction")
        info = update.get("transaction") if type(update) is dict else None
        if type(info) is dict and "meta" in info and "transaction" in info:
            return _from_geyser(update, info)
    return tx


def _from_geyser(update: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Geyser (Yellowstone) transaction update in ``getTransaction`` form.

    Geyser carries no block time (``blockTime`` None: the swap's ``time`` is 0) and names
    loaded lookup-table addresses ``loadedWritableAddresses``/``loadedReadonlyAddresses``.
    """
    meta = dict(info["meta"])
    if "loadedAddresses" not in meta:
        meta["loadedAddresses"] = {
            "writable": list(meta.get("loadedWritableAddresses") or ()),
            "readonly": list(meta.get("loadedReadonlyAddresses") or ()),
        }
    meta.setdefault("err", None)
    return {
        "slot": update.get("slot", 0),
        "blockTime": None,
        "transaction": info["transaction"],
        "meta": meta,
    }


def _keys(tx: Mapping[str, Any]) -> tuple[list[str], set[int]]:
    """Return every account key (static, then loaded writable/readonly) and the signers."""
    try:
        message = tx["transaction"]["message"]
        raw = message["accountKeys"]
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"parse_swaps: field transaction.message.accountKeys is missing ({exc!r}); "
            "expected a getTransaction result"
        ) from None
    keys: list[str] = []
    signers: set[int] = set()
    if raw and isinstance(raw[0], dict):
        for i, k in enumerate(raw):
            keys.append(k["pubkey"])
            if k.get("signer"):
                signers.add(i)
    else:
        keys = list(raw)
        n_sig = int((message.get("header") or {}).get("numRequiredSignatures", 1))
        signers = set(range(n_sig))
    loaded = tx["meta"].get("loadedAddresses") or {}
    keys += list(loaded.get("writable") or ()) + list(loaded.get("readonly") or ())
    return keys, signers


def _program(ix: Mapping[str, Any], keys: list[str]) -> str:
    pid = ix.get("programId")
    if pid is None:
        pid = keys[ix["programIdIndex"]]
    return pid


def _accounts(ix: Mapping[str, Any], keys: list[str]) -> list[str]:
    accs = ix.get("accounts") or ()
    if accs and isinstance(accs[0], int):
        return [keys[a] for a in accs]
    return list(accs)


class _Scan:
    """What the instructions tell: DEX instruction, owners, created and closed accounts."""

    __slots__ = ("closed_to", "created", "dex_index", "dex_label", "owner_of")

    def __init__(self) -> None:
        self.dex_index = -1
        self.dex_label = ""
        self.owner_of: dict[str, str] = {}
        self.created: dict[str, tuple[str, int]] = {}  # account -> (funder, lamports)
        self.closed_to: dict[str, str] = {}  # account -> destination

    def see(self, ix: Mapping[str, Any], keys: list[str], top: int) -> None:
        pid = _program(ix, keys)
        label = PROGRAMS.get(pid)
        if label is not None:
            if (pid in AGGREGATORS and self.dex_label != "jupiter") or self.dex_index < 0:
                self.dex_index, self.dex_label = top, label
            self._layout(pid, ix, keys)
            return
        parsed = ix.get("parsed")
        if type(parsed) is not dict:
            return
        info = parsed.get("info")
        if type(info) is not dict:
            return
        kind = parsed.get("type")
        owner = self.owner_of
        if kind in ("initializeAccount", "initializeAccount2", "initializeAccount3"):
            if "account" in info and "owner" in info:
                owner[info["account"]] = info["owner"]
        elif kind in ("create", "createIdempotent") and "wallet" in info:
            owner[info["account"]] = info["wallet"]
        elif kind in ("approve", "approveChecked"):
            if "source" in info and "owner" in info:
                owner.setdefault(info["source"], info["owner"])
        elif kind in ("transfer", "transferChecked", "burn", "burnChecked"):
            auth = info.get("authority") or info.get("owner") or info.get("multisigAuthority")
            src = info.get("source") or info.get("account")
            if auth is not None and src is not None and "lamports" not in info:
                owner.setdefault(src, auth)
        elif kind == "closeAccount":
            if "owner" in info:
                owner.setdefault(info["account"], info["owner"])
            self.closed_to[info["account"]] = info.get("destination", "")
        elif kind in ("createAccount", "createAccountWithSeed"):
            self.created[info["newAccount"]] = (info.get("source", ""), int(info["lamports"]))

    def _layout(self, pid: str, ix: Mapping[str, Any], keys: list[str]) -> None:
        """Owners named by instruction account positions (owner-less old transactions)."""
        accs = _accounts(ix, keys)
        if pid == SERUM_SWAP:
            if len(accs) >= 27:  # swapTransitive: from (11), to (11), authority, pc_wallet
                auth = accs[22]
                for i in (6, 10, 21, 23):
                    self.owner_of.setdefault(accs[i], auth)
            elif len(accs) >= 13:  # swap: market (10), coin_wallet, authority, pc_wallet
                auth = accs[11]
                for i in (6, 10, 12):
                    self.owner_of.setdefault(accs[i], auth)
        elif pid in TOKEN_SWAP_PROGRAMS and len(accs) >= 7 and accs[6] not in self.owner_of:
            src_owner = self.owner_of.get(accs[3])
            data = ix.get("data")
            if src_owner is not None and isinstance(data, str) and _b58_first_byte(data) == 1:
                self.owner_of[accs[6]] = src_owner  # Swap: destination owned like source


def _token_amounts(
    balances: Iterable[Mapping[str, Any]] | None,
) -> dict[tuple[int, str], tuple[int, int, str | None]]:
    out: dict[tuple[int, str], tuple[int, int, str | None]] = {}
    for b in balances or ():
        ui = b["uiTokenAmount"]
        out[(int(b["accountIndex"]), b["mint"])] = (
            int(ui["amount"]),
            int(ui["decimals"]),
            b.get("owner"),
        )
    return out


def parse_swaps(tx: Any, wallets: Iterable[str] | None = None) -> list[Swap]:
    """Return the swaps in one transaction (one per trading wallet; usually zero or one).

    Parameters
    ----------
    tx : mapping
        A ``getTransaction`` result (``jsonParsed`` or ``json`` encoding, legacy or
        version-0 message), the whole JSON-RPC response holding it, or a Geyser
        (Yellowstone) transaction update; ``None`` (a transaction the node no longer
        has) gives no swap.
    wallets : iterable of str, optional
        Only report swaps of these wallets (default: any signer of the transaction).

    Returns
    -------
    list of Swap
        Empty for failed transactions, transactions without a known DEX program and
        non-swaps (transfers, liquidity adds and removes, account housekeeping).

    Raises
    ------
    DataError
        ``tx`` is not shaped like a ``getTransaction`` result (the message names the
        missing field).
    """
    tx = _result(tx)
    if tx is None:
        return []
    meta = tx.get("meta")
    if type(meta) is not dict and not isinstance(meta, Mapping):
        raise DataError("parse_swaps: field 'meta' is missing; expected a getTransaction result")
    if meta.get("err") is not None:
        return []
    keys, signers = _keys(tx)
    if _DEX_IDS.isdisjoint(keys):  # program ids are static account keys: no DEX, no swap
        return []
    message = tx["transaction"]["message"]
    scan = _Scan()
    top = message.get("instructions") or ()
    for i, ix in enumerate(top):
        scan.see(ix, keys, i)
    for group in meta.get("innerInstructions") or ():
        idx = int(group["index"])
        for ix in group["instructions"]:
            scan.see(ix, keys, idx)
    if scan.dex_index < 0:
        return []

    pre = _token_amounts(meta.get("preTokenBalances"))
    post = _token_amounts(meta.get("postTokenBalances"))
    pre_l = meta["preBalances"]
    post_l = meta["postBalances"]
    n = len(pre_l)
    if len(post_l) != n or n > len(keys):
        raise DataError(
            f"parse_swaps: preBalances ({n}) and postBalances ({len(post_l)}) do not match "
            f"the {len(keys)} account keys"
        )

    # per token account: owner, mint, raw delta, decimals
    owner_of = scan.owner_of
    accounts: dict[int, tuple[str, int, int, int, int]] = {}  # idx -> mint, d, dec, pre, post
    account_owner: dict[int, str | None] = {}
    for k in pre.keys() | post.keys():
        a0, dec0, own0 = pre.get(k, (0, -1, None))
        a1, dec1, own1 = post.get(k, (0, -1, None))
        idx, mint = k
        dec = dec1 if dec1 >= 0 else dec0
        accounts[idx] = (mint, a1 - a0, dec, a0, a1)
        account_owner[idx] = own1 or own0 or owner_of.get(keys[idx])

    if wallets is None:
        candidates = [keys[i] for i in sorted(signers)]
    else:
        wanted = set(wallets)
        candidates = [k for k in keys if k in wanted]
    fee = int(meta.get("fee") or 0)
    payer = keys[0]
    signature = tx["transaction"].get("signatures", [""])[0]
    block_time = int(tx.get("blockTime") or 0)
    slot = int(tx.get("slot") or 0)

    owned: dict[str, list[int]] = {}
    for idx, own in account_owner.items():
        if own is not None:
            owned.setdefault(own, []).append(idx)

    swaps: list[Swap] = []
    for wallet in dict.fromkeys(candidates):
        mine = owned.get(wallet)
        if not mine:  # every swap moves at least one token account of the trader
            continue
        w_idx = keys.index(wallet)
        if w_idx >= n:
            continue
        delta: dict[str, int] = {}
        decimals: dict[str, int] = {SOL_MINT: SOL_DECIMALS}
        sol = post_l[w_idx] - pre_l[w_idx] + (fee if wallet == payer else 0)
        for idx in mine:
            mint, d, dec, a0, a1 = accounts[idx]
            if mint == SOL_MINT:
                sol += d
                wsol_pre, wsol_post = a0, a1
            else:
                if d:
                    delta[mint] = delta.get(mint, 0) + d
                    decimals[mint] = dec
                wsol_pre = wsol_post = 0
            if idx < n and idx != w_idx:
                if pre_l[idx] == 0 and post_l[idx] > 0:  # rent into its new token account
                    sol += post_l[idx] - wsol_post
                elif pre_l[idx] > 0 and post_l[idx] == 0:  # rent back from one closed
                    sol -= pre_l[idx] - wsol_pre
        for acc, (funder, lamports) in scan.created.items():
            if funder != wallet or acc not in keys:
                continue
            idx = keys.index(acc)
            if idx < n and idx not in accounts and pre_l[idx] == 0 and post_l[idx] == lamports:
                sol += lamports  # e.g. a Serum open-orders account: a deposit, not a cost
        if sol:
            delta[SOL_MINT] = delta.get(SOL_MINT, 0) + sol
        paid = [m for m, d in delta.items() if d < 0]
        got = [m for m, d in delta.items() if d > 0]
        if len(got) > 1:  # drop the middle legs of a route: mints that also flowed to others
            got = [
                m
                for m in got
                if not any(
                    d > 0 and a[0] == m and account_owner[i] != wallet
                    for i, a in accounts.items()
                    for d in (a[1],)
                )
            ]
        if len(paid) != 1 or len(got) != 1:
            continue
        m_in, m_out = paid[0], got[0]
        swaps.append(
            Swap(
                signature=signature,
                instruction=scan.dex_index,
                wallet=wallet,
                time=block_time,
                slot=slot,
                program=scan.dex_label,
                mint_in=m_in,
                amount_in=-delta[m_in] / 10.0 ** decimals[m_in],
                mint_out=m_out,
                amount_out=delta[m_out] / 10.0 ** decimals[m_out],
                fee=(fee if wallet == payer else 0) / 10.0**SOL_DECIMALS,
            )
        )
    return swaps
