"""The swap frame: one row per swap, validated like bars are.

Columns (in this order)::

    time        datetime64[ns, UTC]   block time
    signature   str                   transaction signature
    instruction int64                 top-level instruction index of the DEX
    wallet      str                   trader
    program     str                   jupiter / raydium / orca / pumpfun / serum / amm
    mint_in     str                   mint paid (SOL as the wrapped-SOL mint)
    amount_in   float64               > 0
    mint_out    str                   mint received
    amount_out  float64               > 0
    fee         float64               network fee in SOL paid by the wallet, >= 0
    token       str                   the non-SOL mint of the swap (mint_out if neither is SOL)
    side        int8                  +1 buys token with SOL, -1 sells it for SOL, 0 other
    sol         float64               SOL leg (0 when neither leg is SOL)
    qty         float64               token leg
    price       float64               SOL per token (NaN when neither leg is SOL)

The key is ``(signature, instruction, wallet)``: a frame holds each key once, and the
store never writes a key twice. Rows are sorted by ``time`` (stable).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from quantlab.data.solana.parser import Swap
from quantlab.data.solana.programs import SOL_MINT
from quantlab.errors import DataError

__all__ = [
    "KEY",
    "RAW_COLUMNS",
    "SWAP_COLUMNS",
    "empty_swaps",
    "filter_swaps",
    "swaps_frame",
    "validate_swaps",
]

RAW_COLUMNS = (
    "time",
    "signature",
    "instruction",
    "wallet",
    "program",
    "mint_in",
    "amount_in",
    "mint_out",
    "amount_out",
    "fee",
)
DERIVED_COLUMNS = ("token", "side", "sol", "qty", "price")
SWAP_COLUMNS = RAW_COLUMNS + DERIVED_COLUMNS
KEY = ["signature", "instruction", "wallet"]
_STR = ("signature", "wallet", "program", "mint_in", "mint_out")
_POS = ("amount_in", "amount_out")


def empty_swaps() -> pd.DataFrame:
    """Return an empty, valid swap frame."""
    return swaps_frame([])


def _derive(df: pd.DataFrame) -> pd.DataFrame:
    buy = (df["mint_in"] == SOL_MINT).to_numpy()
    sell = (df["mint_out"] == SOL_MINT).to_numpy() & ~buy
    a_in = df["amount_in"].to_numpy(dtype=np.float64)
    a_out = df["amount_out"].to_numpy(dtype=np.float64)
    df["token"] = np.where(sell, df["mint_in"], df["mint_out"]).astype(object)
    df["side"] = np.where(buy, 1, np.where(sell, -1, 0)).astype(np.int8)
    sol = np.where(buy, a_in, np.where(sell, a_out, 0.0))
    qty = np.where(sell, a_in, a_out)
    df["sol"] = sol
    df["qty"] = qty
    with np.errstate(divide="ignore", invalid="ignore"):
        df["price"] = np.where(buy | sell, sol / qty, np.nan)
    return df


def swaps_frame(swaps: Iterable[Swap | dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Return the validated swap frame of parsed swaps (or of a frame with the raw columns).

    Parameters
    ----------
    swaps
        :class:`~quantlab.data.solana.parser.Swap` objects, dicts with the raw fields
        (``time`` as epoch seconds or timestamps), or a DataFrame holding the raw columns.

    Raises
    ------
    DataError
        A rule of :func:`validate_swaps` is broken.
    """
    if isinstance(swaps, pd.DataFrame):
        raw = swaps.reset_index(drop=True)
    else:
        rows = [s.as_dict() if isinstance(s, Swap) else dict(s) for s in swaps]
        raw = pd.DataFrame(rows, columns=[c for c in Swap.__dataclass_fields__])
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"swaps: missing column(s) {missing}; a swap frame needs {RAW_COLUMNS}")
    df = raw[list(RAW_COLUMNS)].copy()
    t = df["time"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(pd.to_numeric(t, errors="coerce"), unit="s", utc=True)
    elif t.dt.tz is None:
        t = t.dt.tz_localize("UTC")
    df["time"] = t.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    for c in _STR:
        df[c] = df[c].astype(object)
    df["instruction"] = pd.to_numeric(df["instruction"], errors="coerce")
    for c in (*_POS, "fee"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(np.float64)
    _check_raw(df)
    df["instruction"] = df["instruction"].astype(np.int64)
    df = df.sort_values("time", kind="stable").reset_index(drop=True)
    return validate_swaps(_derive(df))


def _row(df: pd.DataFrame, mask: np.ndarray) -> str:
    i = int(np.flatnonzero(mask)[0])
    sig = df["signature"].iloc[i]
    return f"row {i} (signature {str(sig)[:16]}...)"


def _check_raw(df: pd.DataFrame) -> None:
    bad = df["time"].isna().to_numpy()
    if bad.any():
        raise DataError(f"swaps: column 'time' breaks rule 'a block time' at {_row(df, bad)}")
    for c in _STR:
        bad = ~df[c].map(lambda v: isinstance(v, str) and len(v) > 0).to_numpy(dtype=bool)
        if bad.any():
            raise DataError(
                f"swaps: column {c!r} breaks rule 'non-empty string' at {_row(df, bad)}: "
                f"{df[c].to_numpy()[bad][0]!r}"
            )
    ins = df["instruction"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(ins) | (ins < 0) | (ins != np.floor(ins))
    if bad.any():
        raise DataError(
            f"swaps: column 'instruction' breaks rule 'integer >= 0' at {_row(df, bad)}"
        )
    for c in _POS:
        v = df[c].to_numpy()
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            raise DataError(
                f"swaps: column {c!r} breaks rule 'finite and > 0' at {_row(df, bad)}: "
                f"{v[bad][0]!r}"
            )
    v = df["fee"].to_numpy()
    bad = ~(np.isfinite(v) & (v >= 0))
    if bad.any():
        raise DataError(f"swaps: column 'fee' breaks rule 'finite and >= 0' at {_row(df, bad)}")
    same = (df["mint_in"] == df["mint_out"]).to_numpy()
    if same.any():
        raise DataError(
            f"swaps: columns 'mint_in'/'mint_out' break rule 'two different mints' at "
            f"{_row(df, same)}"
        )


def validate_swaps(df: pd.DataFrame) -> pd.DataFrame:
    """Check a swap frame; return it unchanged.

    Rules: every column of :data:`SWAP_COLUMNS`; UTC block times sorted ascending;
    non-empty strings; amounts finite and positive; fee finite and non-negative; two
    different mints; each key ``(signature, instruction, wallet)`` once.

    Raises
    ------
    DataError
        Naming the column, the row (and its signature) and the rule broken.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"swaps: expected a DataFrame, got {type(df).__name__}")
    missing = [c for c in SWAP_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"swaps: missing column(s) {missing}; a swap frame has {SWAP_COLUMNS}")
    t = df["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype) or str(t.dt.tz) != "UTC":
        raise DataError(f"swaps: column 'time' breaks rule 'UTC timestamps' (dtype {t.dtype})")
    _check_raw(df)
    tv = t.to_numpy(dtype="datetime64[ns]")
    back = np.zeros(len(df), dtype=bool)
    back[1:] = tv[1:] < tv[:-1]
    if back.any():
        raise DataError(f"swaps: column 'time' breaks rule 'sorted ascending' at {_row(df, back)}")
    dup = df.duplicated(KEY).to_numpy()
    if dup.any():
        raise DataError(
            f"swaps: columns {KEY} break rule 'each swap once' at {_row(df, dup)} "
            f"(instruction {df['instruction'].to_numpy()[dup][0]})"
        )
    return df


def filter_swaps(
    df: pd.DataFrame,
    wallets: Any = None,
    token: Any = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Return the rows of a swap frame by wallet(s), token mint(s) and ``[start, end)``."""
    from quantlab.data.intervals import to_utc

    mask = np.ones(len(df), dtype=bool)
    if wallets is not None:
        wanted = {wallets} if isinstance(wallets, str) else set(wallets)
        mask &= df["wallet"].isin(wanted).to_numpy()
    if token is not None:
        mints = {token} if isinstance(token, str) else set(token)
        mask &= (df["mint_in"].isin(mints) | df["mint_out"].isin(mints)).to_numpy()
    if start is not None:
        mask &= (df["time"] >= to_utc(start, "start")).to_numpy()
    if end is not None:
        mask &= (df["time"] < to_utc(end, "end")).to_numpy()
    return validate_swaps(df[mask].reset_index(drop=True))
