"""Hyperliquid's order rules: tick and lot rounding, minimum notional, wire numbers.

Applied by the adapter before anything is sent and checked by the local exchange on
everything it receives, so both sides read the rules from one place.

- Size: at most ``szDecimals`` decimals (the asset's lot).
- Price (perps): at most 5 significant figures and at most ``6 - szDecimals`` decimals;
  an integer price is always valid, whatever its number of figures.
- Minimum order value: 10 USD (size times limit price).
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from quantlab.errors import ConfigError

__all__ = [
    "MAX_DECIMALS_PERP",
    "MIN_NOTIONAL",
    "price_ok",
    "round_price",
    "round_size",
    "size_ok",
    "to_wire",
]

MAX_DECIMALS_PERP = 6
MIN_NOTIONAL = 10.0


def round_size(size: float, sz_decimals: int, *, down: bool = False) -> float:
    """Return ``size`` rounded to the asset's lot (``sz_decimals`` decimals).

    ``down=True`` truncates toward zero (never more than asked, e.g. a reduce-only close).
    """
    if not math.isfinite(size):
        raise ConfigError(f"size: must be finite, got {size!r}")
    q = Decimal(1).scaleb(-sz_decimals)
    mode = ROUND_DOWN if down else ROUND_HALF_EVEN
    return float(Decimal(repr(float(size))).quantize(q, rounding=mode))


def round_price(price: float, sz_decimals: int, *, max_decimals: int = MAX_DECIMALS_PERP) -> float:
    """Return ``price`` rounded to 5 significant figures and ``max_decimals - sz_decimals``.

    Prices of 100,000 and more round to an integer (an integer price is always valid).
    """
    if not (math.isfinite(price) and price > 0):
        raise ConfigError(f"price: must be a finite number > 0, got {price!r}")
    if price >= 1e5:
        return float(round(price))
    decimals = max(max_decimals - sz_decimals, 0)
    out = round(float(f"{price:.5g}"), decimals)
    if out <= 0:
        raise ConfigError(
            f"price: {price!r} is below the smallest tick of this asset (1e-{decimals})"
        )
    return out


def _decimals(text: str) -> int:
    d = Decimal(text).normalize()
    return max(-d.as_tuple().exponent, 0)  # type: ignore[operator]


def price_ok(text: str, sz_decimals: int, *, max_decimals: int = MAX_DECIMALS_PERP) -> bool:
    """Tell whether a wire price string obeys the tick rules."""
    try:
        d = Decimal(text)
    except ArithmeticError:
        return False
    if not d.is_finite() or d <= 0:
        return False
    if d == d.to_integral_value():
        return True
    if _decimals(text) > max(max_decimals - sz_decimals, 0):
        return False
    digits = d.normalize().as_tuple().digits
    return len(digits) <= 5


def size_ok(text: str, sz_decimals: int) -> bool:
    """Tell whether a wire size string obeys the lot (``sz_decimals``) and is positive."""
    try:
        d = Decimal(text)
    except ArithmeticError:
        return False
    return d.is_finite() and d > 0 and _decimals(text) <= sz_decimals


def to_wire(x: float) -> str:
    """Return the venue's decimal string of a number (8 decimals at most, no trailing 0s)."""
    text = f"{x:.8f}"
    d = Decimal(text).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN).normalize()
    out = f"{d:f}"
    return "0" if out in ("-0", "") else out
