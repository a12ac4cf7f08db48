"""Alpha factors: specs, the registry and the factor library.

    import quantlab as ql
    ql.factors.names()                        # registered factor names
    ql.factors.spec("rsi")                    # RSI(window=14): inputs, warmup(), role, ...
    ql.factors.compute("rsi", df, window=14)  # pd.Series on df.index
    ql.factors.compute_many(df)               # pd.DataFrame, one column per factor
    ql.factors.check("my_factor")             # the conformance suite on one factor
    ql.factors.compose(df, spec)              # role-based signal in [-1, 1] + contributions
    ql.factors.research.ic_summary(...)       # IC / rank IC, decay, quantiles, turnover

Built-in factors live in the modules of this package listed in
``registry.BUILTIN_MODULES`` and register on the registry's first lookup, with the
model-backed factors of ``quantlab.models.factors`` (``registry.CONTRIBUTING_PACKAGES``)
and plug-ins of the ``quantlab.factors`` entry-point group; a notebook registers its own
with ``@ql.factors.register``.
"""

from __future__ import annotations

from typing import Any

from quantlab.factors import research
from quantlab.factors.compose import (
    ComposeResult,
    ComposeSpec,
    Condition,
    FactorEntry,
    Normalizer,
    compose,
)
from quantlab.factors.registry import (
    FactorSpec,
    Param,
    Role,
    compute,
    compute_many,
    get,
    names,
    param,
    register,
    spec,
    unregister,
    window,
)

__all__ = [
    "ComposeResult",
    "ComposeSpec",
    "Condition",
    "FactorEntry",
    "FactorSpec",
    "Normalizer",
    "Param",
    "Role",
    "check",
    "compose",
    "compute",
    "compute_many",
    "get",
    "names",
    "param",
    "register",
    "research",
    "spec",
    "unregister",
    "window",
]


def check(name: str | FactorSpec, df: Any = None, *, checks: Any = None, **params: Any) -> None:
    """Run the factor conformance checks on one factor; raise ConformanceError on failure.

    See :func:`quantlab.factors.conformance.check`.
    """
    from quantlab.factors.conformance import check as _check

    _check(name, df, checks=checks, **params)
