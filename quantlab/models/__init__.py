"""Prediction models: Kalman / IMM / RBPF, Hawkes, GARCH, conformal intervals, Hedge, accuracy.

Every model derives from :class:`~quantlab.models.base.BaseModel` and speaks one set of
verbs: ``fit(data)`` returns the model (estimating its parameters, or conditioning its live
state on the history when it has none to estimate), ``filter(data)`` runs a whole series,
``update(obs)`` one live step through the same numba step kernel (so streaming equals
batch), ``state()`` snapshots the live state and ``reset()`` forgets it. Models are
scikit-learn shaped: ``__init__`` stores parameters, ``check_params()`` validates them,
fitted attributes end in ``_``. :mod:`quantlab.models.conformance` checks the contract on
every model (the test suite runs it); the model-backed factors register in
:mod:`quantlab.models.factors`.
"""

from __future__ import annotations

from quantlab._lazy import lazy_submodules
from quantlab.models.accuracy import (
    AccuracyTracker,
    directional_accuracy,
    gaussian_pit,
    interval_coverage,
    mean_absolute_error,
    pit_histogram,
)
from quantlab.models.base import FilterResult, IMMResult, RBPFResult, Step
from quantlab.models.capital_flow import CapitalFlowModel
from quantlab.models.conformal import (
    AdaptiveConformal,
    QuantileTracker,
    aci_levels,
    conformal_interval,
    coverage,
    interval_width,
    rolling_coverage,
    rolling_width,
    split_conformal_threshold,
)
from quantlab.models.garch import Garch, garch_volatility
from quantlab.models.hawkes import Hawkes
from quantlab.models.hedge import Hedge, hedge_optimal_eta
from quantlab.models.imm import IMM, regime_accuracy
from quantlab.models.kalman import KalmanFilter, white_noise_cov
from quantlab.models.rbpf import RBPF
from quantlab.models.tuning import MLEResult, fit_mle

__all__ = [
    "IMM",
    "RBPF",
    "AccuracyTracker",
    "AdaptiveConformal",
    "CapitalFlowModel",
    "FilterResult",
    "Garch",
    "Hawkes",
    "Hedge",
    "IMMResult",
    "KalmanFilter",
    "MLEResult",
    "QuantileTracker",
    "RBPFResult",
    "Step",
    "aci_levels",
    "conformal_interval",
    "coverage",
    "directional_accuracy",
    "fit_mle",
    "garch_volatility",
    "gaussian_pit",
    "hedge_optimal_eta",
    "interval_coverage",
    "interval_width",
    "mean_absolute_error",
    "pit_histogram",
    "regime_accuracy",
    "rolling_coverage",
    "rolling_width",
    "split_conformal_threshold",
    "white_noise_cov",
]

# The model-backed factors register here, in one place (quantlab.factors' registry imports
# this package on its first lookup: see quantlab.factors.registry.CONTRIBUTING_PACKAGES).
from quantlab.models import factors as _model_factors  # noqa: F401

__getattr__ = lazy_submodules(__name__, globals())
