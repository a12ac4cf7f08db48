"""Swaps in the local Parquet archive: ``<root>/solana/swaps/<YYYY-MM>.parquet``.

Writing merges into the month files it touches, keyed by ``(signature, instruction,
wallet)``: re-fetching an overlapping range replaces rows instead of duplicating them.
Files are written to a temporary name and renamed over the old one under a lock (the
bar store's helpers), so a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab._typing import PathLikeStr
from quantlab.data.intervals import to_utc
from quantlab.data.solana.frame import KEY, RAW_COLUMNS, empty_swaps, filter_swaps, swaps_frame
from quantlab.data.store import Store

__all__ = ["SwapStore"]

_SUFFIX = ".parquet"


class SwapStore:
    """The folder of stored swaps.

    Parameters
    ----------
    root : str or PathLike
        The archive root (the same ``data`` folder as the bar store).
    """

    def __init__(self, root: PathLikeStr = "data") -> None:
        self.root = Path(root)
        self.folder = self.root / "solana" / "swaps"

    def __repr__(self) -> str:
        return f"SwapStore({str(self.root)!r})"

    def files(self) -> list[Path]:
        """Return the month files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob(f"*{_SUFFIX}") if p.name[0] != ".")

    def write(self, swaps: Any) -> int:
        """Merge swaps into the archive; return the number of rows new to it.

        Parameters
        ----------
        swaps
            A swap frame, or anything :func:`~quantlab.data.solana.frame.swaps_frame`
            takes (parsed :class:`~quantlab.data.solana.parser.Swap` objects).
        """
        df = swaps if isinstance(swaps, pd.DataFrame) else swaps_frame(swaps)
        df = swaps_frame(df[list(RAW_COLUMNS)])
        if df.empty:
            return 0
        months = df["time"].dt.strftime("%Y-%m").to_numpy()
        added = 0
        store = Store(self.root)
        with store.locked(self.folder):
            for month in pd.unique(months):
                part = df[months == month][list(RAW_COLUMNS)]
                path = self.folder / f"{month}{_SUFFIX}"
                if path.exists():
                    old = store.read_file(path)
                    keys_old = old.set_index(KEY).index
                    keys_new = part.set_index(KEY).index
                    added += int((~keys_new.isin(keys_old)).sum())
                    old = old[~keys_old.isin(keys_new)]
                    part = pd.concat([old, part], ignore_index=True)
                else:
                    added += len(part)
                part = part.sort_values(["time", *KEY], kind="stable").reset_index(drop=True)
                store.write_file(part, path)
        return added

    def read(
        self,
        wallets: Iterable[str] | str | None = None,
        token: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Return the stored swaps, filtered, as a validated swap frame.

        Parameters
        ----------
        wallets
            Keep swaps of these wallets (default all).
        token
            Keep swaps paying or receiving this mint (or any of these mints).
        start, end
            Half-open range of block times ``[start, end)``; naive values are UTC.
        """
        lo = to_utc(start, "start") if start is not None else None
        hi = to_utc(end, "end") if end is not None else None
        parts = []
        store = Store(self.root)
        for path in self.files():
            month = pd.Timestamp(path.stem + "-01", tz="UTC")
            if hi is not None and month >= hi:
                continue
            if lo is not None and month + pd.DateOffset(months=1) <= lo:
                continue
            parts.append(store.read_file(path))
        if not parts:
            return empty_swaps()
        df = swaps_frame(pd.concat(parts, ignore_index=True))
        return filter_swaps(df, wallets, token, lo, hi)
