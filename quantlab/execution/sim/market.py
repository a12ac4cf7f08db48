"""The price path of the local exchange: the synthetic market's one-minute bars.

Each coin follows :func:`quantlab.data.synthetic.synthetic_bars` at one minute (seeded,
deterministic); the path is generated a day at a time ahead of the clock and regenerated
longer when the clock passes its end (the synthetic market's first ``n`` bars are the same
in any longer run, so the path never changes under the exchange's feet).
"""

from __future__ import annotations

import numpy as np

from quantlab.data.synthetic import synthetic_bars

__all__ = ["MINUTE_MS", "Path"]

MINUTE_MS = 60_000
_CHUNK = 1_440  # one day of minute bars


class Path:
    """One coin's minute bars from ``start_ms``, extended on demand."""

    def __init__(self, coin: str, seed: int, start_ms: int) -> None:
        self.coin = coin
        self.seed = seed
        self.start_ms = start_ms
        self._n = 0
        self.open = self.high = self.low = self.close = self.volume = self.funding = np.empty(0)
        self.trades = np.empty(0)
        self._extend(_CHUNK)

    def _extend(self, n: int) -> None:
        import pandas as pd

        df = synthetic_bars(
            symbol=self.coin,
            interval="1m",
            start=pd.Timestamp(self.start_ms, unit="ms", tz="UTC"),
            n_bars=n,
            seed=self.seed,
        )
        self.open = df["open"].to_numpy()
        self.high = df["high"].to_numpy()
        self.low = df["low"].to_numpy()
        self.close = df["close"].to_numpy()
        self.volume = df["volume"].to_numpy()
        self.funding = df["funding_rate"].to_numpy()
        self.trades = df["trades"].to_numpy() if "trades" in df else np.zeros(n)
        self._n = n

    def ensure(self, index: int) -> None:
        """Make bar ``index`` available."""
        if index >= self._n:
            n = self._n
            while n <= index:
                n *= 2
            self._extend(n)

    def index(self, t_ms: int) -> int:
        """Return the index of the minute bar that contains ``t_ms``."""
        k = max((t_ms - self.start_ms) // MINUTE_MS, 0)
        self.ensure(k)
        return int(k)

    def price(self, t_ms: int) -> float:
        """Return the price at ``t_ms``: the open of the minute bar that contains it."""
        return float(self.open[self.index(t_ms)])
