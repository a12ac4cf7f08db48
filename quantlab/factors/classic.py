"""Classic technical factors, equal to TA-Lib (see :mod:`quantlab.kernels.ta`).

Names, parameters and warm-ups follow TA-Lib's functions with their default unstable
period of 0; the parity tests compare every factor with ``talib`` at relative 1e-9.
All refuse NaN/inf inputs (``nan_policy = "raise"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError
from quantlab.factors.registry import FactorSpec, Role, register, window
from quantlab.kernels import ta

__all__ = [
    "ADX",
    "ATR",
    "CCI",
    "EMA",
    "KAMA",
    "MFI",
    "NATR",
    "OBV",
    "RSI",
    "SMA",
    "BBandsZ",
    "MACDHist",
    "StdDev",
]


def _loop(step: Callable, init: Callable, n: int, args: Callable[[int], tuple]) -> FloatArray:
    """Loop a step kernel over ``n`` bars from Python (the streaming path)."""
    out = np.empty(n)
    state = init()
    for i in range(n):
        state, out[i] = step(state, *args(i))
    return out


@register
@dataclass(frozen=True)
class SMA(FactorSpec):
    """Simple moving average of the close (``talib.SMA``)."""

    name = "sma"
    units = "price"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Simple moving average of the close over `window` bars (TA-Lib SMA)."
    window: int = window(20)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.sma_nb(close, self.window)


@register
@dataclass(frozen=True)
class EMA(FactorSpec):
    """Exponential moving average of the close (``talib.EMA``, SMA-seeded)."""

    name = "ema"
    units = "price"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Exponential moving average of the close, seeded with the SMA (TA-Lib EMA)."
    window: int = window(20)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.ema_nb(close, self.window)

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        w = self.window
        return _loop(ta.ema_step_nb, ta.ema_init_nb, len(close), lambda i: (close[i], w))


@register
@dataclass(frozen=True)
class KAMA(FactorSpec):
    """Kaufman adaptive moving average of the close (``talib.KAMA``)."""

    name = "kama"
    units = "price"
    inputs = ("close",)
    role = Role.OBSERVER
    description = "Kaufman adaptive moving average of the close (TA-Lib KAMA)."
    window: int = window(10, ge=2)

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.kama_nb(close, self.window)

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        w = self.window
        return _loop(
            ta.kama_step_nb,
            ta.kama_init_nb,
            len(close),
            lambda i: (close[i], close[i - w] if i >= w else np.nan, w),
        )


@register
@dataclass(frozen=True)
class StdDev(FactorSpec):
    """Rolling population standard deviation of the close (``talib.STDDEV``)."""

    name = "stddev"
    units = "price_scale"
    inputs = ("close",)
    role = Role.FILTER
    description = "Population standard deviation of the close over `window` bars (TA-Lib STDDEV)."
    window: int = window(20, ge=2)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.stddev_nb(close, self.window)


@register
@dataclass(frozen=True)
class BBandsZ(FactorSpec):
    """Position of the close in its Bollinger bands, in standard deviations."""

    name = "bb_z"
    inputs = ("close",)
    role = Role.PRIMARY
    description = "Close minus the SMA over the population stddev of the window (TA-Lib BBANDS)."
    window: int = window(20, ge=2)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.bb_z_nb(close, self.window)


@register
@dataclass(frozen=True)
class RSI(FactorSpec):
    """Wilder's relative strength index of the close (``talib.RSI``)."""

    name = "rsi"
    inputs = ("close",)
    role = Role.CONFIRMATION
    description = "Wilder's relative strength index of the close, 0-100 (TA-Lib RSI)."
    window: int = window(14, ge=2)

    def warmup(self) -> int:
        return self.window

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.rsi_nb(close, self.window)

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        w = self.window
        return _loop(ta.rsi_step_nb, ta.rsi_init_nb, len(close), lambda i: (close[i], w))


@register
@dataclass(frozen=True)
class MACDHist(FactorSpec):
    """MACD histogram of the close (``talib.MACD(...)[2]``)."""

    name = "macd_hist"
    inputs = ("close",)
    role = Role.PRIMARY
    description = "MACD line minus its signal line (TA-Lib MACD histogram)."
    fast: int = window(12, ge=2, doc="fast EMA window")
    slow: int = window(26, ge=2, doc="slow EMA window (> fast)")
    signal: int = window(9, ge=1, doc="signal EMA window")

    def validate(self) -> None:
        if self.fast >= self.slow:
            raise ConfigError(
                f"factor 'macd_hist': fast ({self.fast}) must be smaller than slow ({self.slow})"
            )

    def warmup(self) -> int:
        return self.slow + self.signal - 2

    def compute(self, close: FloatArray) -> FloatArray:
        return ta.macd_hist_nb(close, self.fast, self.slow, self.signal)

    def compute_stepwise(self, close: FloatArray) -> FloatArray:
        f, s, g = self.fast, self.slow, self.signal
        return _loop(ta.macd_step_nb, ta.macd_init_nb, len(close), lambda i: (close[i], f, s, g))


@register
@dataclass(frozen=True)
class CCI(FactorSpec):
    """Commodity channel index (``talib.CCI``)."""

    name = "cci"
    inputs = ("high", "low", "close")
    role = Role.CONFIRMATION
    description = "Commodity channel index of the typical price (TA-Lib CCI)."
    window: int = window(14, ge=2)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        return ta.cci_nb(high, low, close, self.window)


@register
@dataclass(frozen=True)
class MFI(FactorSpec):
    """Money flow index (``talib.MFI``)."""

    name = "mfi"
    inputs = ("high", "low", "close", "volume")
    role = Role.CONFIRMATION
    description = "Money flow index, a volume-weighted RSI of the typical price (TA-Lib MFI)."
    window: int = window(14, ge=2)

    def warmup(self) -> int:
        return self.window

    def compute(
        self, high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
    ) -> FloatArray:
        return ta.mfi_nb(high, low, close, volume, self.window)


@register
@dataclass(frozen=True)
class ATR(FactorSpec):
    """Wilder's average true range (``talib.ATR``)."""

    name = "atr"
    units = "price_scale"
    inputs = ("high", "low", "close")
    role = Role.FILTER
    description = "Wilder's average true range, in price units (TA-Lib ATR)."
    window: int = window(14)

    def warmup(self) -> int:
        return self.window

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        return ta.atr_nb(high, low, close, self.window)

    def compute_checked(
        self, high: FloatArray, low: FloatArray, close: FloatArray
    ) -> tuple[FloatArray, int]:
        return ta.atr_checked_nb(high, low, close, self.window)

    def compute_stepwise(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        w = self.window
        return _loop(
            ta.atr_step_nb, ta.atr_init_nb, len(close), lambda i: (high[i], low[i], close[i], w)
        )


@register
@dataclass(frozen=True)
class NATR(FactorSpec):
    """Average true range in percent of the close (``talib.NATR``)."""

    name = "natr"
    inputs = ("high", "low", "close")
    role = Role.FILTER
    description = "Average true range in percent of the close (TA-Lib NATR)."
    # window >= 2: TA-Lib's NATR(period=1) returns the raw true range, not a percentage
    window: int = window(14, ge=2)

    def warmup(self) -> int:
        return self.window

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        return ta.natr_nb(high, low, close, self.window)

    def compute_checked(
        self, high: FloatArray, low: FloatArray, close: FloatArray
    ) -> tuple[FloatArray, int]:
        return ta.natr_checked_nb(high, low, close, self.window)

    def compute_stepwise(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        atr = ATR(window=self.window).compute_stepwise(high, low, close)
        return np.where(close == 0.0, 0.0, (atr / np.where(close == 0.0, 1.0, close)) * 100.0)


@register
@dataclass(frozen=True)
class ADX(FactorSpec):
    """Wilder's average directional index (``talib.ADX``)."""

    name = "adx"
    inputs = ("high", "low", "close")
    role = Role.FILTER
    description = "Wilder's average directional index, trend strength 0-100 (TA-Lib ADX)."
    window: int = window(14, ge=2)

    def warmup(self) -> int:
        return 2 * self.window - 1

    def compute(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        return ta.adx_nb(high, low, close, self.window)

    def compute_checked(
        self, high: FloatArray, low: FloatArray, close: FloatArray
    ) -> tuple[FloatArray, int]:
        return ta.adx_checked_nb(high, low, close, self.window)

    def compute_stepwise(self, high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
        w = self.window
        return _loop(
            ta.adx_step_nb, ta.adx_init_nb, len(close), lambda i: (high[i], low[i], close[i], w)
        )


@register
@dataclass(frozen=True)
class OBV(FactorSpec):
    """On-balance volume (``talib.OBV``, seeded with the first bar's volume)."""

    name = "obv"
    units = "cumulative"
    inputs = ("close", "volume")
    role = Role.OBSERVER
    description = "On-balance volume, seeded with the first bar's volume (TA-Lib OBV)."

    def warmup(self) -> int:
        return 0

    def compute(self, close: FloatArray, volume: FloatArray) -> FloatArray:
        return ta.obv_nb(close, volume)

    def compute_checked(self, close: FloatArray, volume: FloatArray) -> tuple[FloatArray, int]:
        return ta.obv_checked_nb(close, volume)

    def compute_stepwise(self, close: FloatArray, volume: FloatArray) -> FloatArray:
        return _loop(ta.obv_step_nb, ta.obv_init_nb, len(close), lambda i: (close[i], volume[i]))
