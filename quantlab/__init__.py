"""quantlab: a notebook-first quant research workbench for crypto.

Subpackages load lazily on first attribute access, so ``import quantlab`` stays fast::

    import quantlab as ql
    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    ql.data.validate(df)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"quantlab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'quantlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
