"""quantlab: a notebook-first quant research workbench for crypto.

Subpackages load lazily on first attribute access, so ``import quantlab`` stays fast::

    import quantlab as ql
    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    ql.data.validate(df)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantlab._lazy import lazy_submodules
from quantlab.errors import (
    ConfigError,
    DataError,
    QuantlabError,
    ReportError,
    SourceError,
)

__version__ = "0.1.0"

_SUBPACKAGES = (
    "kernels",
    "data",
    "wallets",
    "factors",
    "models",
    "risk",
    "backtest",
    "execution",
    "live",
    "lifecycle",
    "reports",
    "dashboards",
    "config",
    "cli",
)

__all__ = [
    "ConfigError",
    "DataError",
    "QuantlabError",
    "ReportError",
    "SourceError",
    "__version__",
    *_SUBPACKAGES,
]

if TYPE_CHECKING:  # pragma: no cover
    from quantlab import backtest, config, data, factors, kernels, models, reports, risk  # noqa: F401


__getattr__ = lazy_submodules(__name__, globals(), _SUBPACKAGES)


def __dir__() -> list[str]:
    return sorted(__all__)
