"""The binomial circuit breaker: pause when a losing streak is improbable.

Under a win rate ``p``, ``k`` losses in a row happen with probability ``(1 - p)^k``. When
that is below ``threshold``, the streak is evidence that the edge is gone (or the market
changed), and trading pauses for ``pause_bars`` bars; the streak then restarts from zero.
"""

from __future__ import annotations

from pydantic import Field

from quantlab.config import FrozenConfig, check_range
from quantlab.kernels import risk as _k

__all__ = ["Breaker", "breaker_tripped", "losing_streak_probability"]


class Breaker(FrozenConfig):
    """Binomial circuit breaker settings (off when ``threshold`` is None).

    The win rate comes from :class:`~quantlab.risk.sizing.Edge`: the prior until
    ``min_trades`` trades have closed, then the measured one.
    """

    threshold: float | None = Field(None, gt=0.0, lt=1.0)
    pause_bars: int = Field(24, ge=1)


def losing_streak_probability(win_rate: float, streak: int) -> float:
    """Return ``(1 - win_rate) ** streak``, the probability of ``streak`` losses in a row."""
    p = check_range("win_rate", win_rate, 0.0, 1.0)
    k = int(check_range("streak", streak, 0.0))
    return float(_k.losing_streak_probability_nb(p, k))


def breaker_tripped(win_rate: float, streak: int, threshold: float = 0.01) -> bool:
    """Tell whether ``P(streak losses in a row | win_rate) < threshold``."""
    p = check_range("win_rate", win_rate, 0.0, 1.0)
    k = int(check_range("streak", streak, 0.0))
    th = check_range("threshold", threshold, 0.0, 1.0, low_open=True)
    return bool(_k.breaker_tripped_nb(p, k, th))
