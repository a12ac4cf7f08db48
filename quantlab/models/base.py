"""Shared pieces of the models layer: an estimator base, result containers, input checks.

Every model is scikit-learn shaped: ``__init__`` only stores its parameters, ``fit`` returns
``self`` and sets attributes ending in ``_``. State-space models add ``filter(z)`` (a whole
series, from the prior) and ``update(z_t)`` (one live step, continuing from the last
``filter``/``update``), which call the same numba step kernel.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError

__all__ = [
    "BaseModel",
    "FilterResult",
    "IMMResult",
    "RBPFResult",
    "Step",
    "as_covariance",
    "as_matrix",
    "as_observation",
    "as_observations",
    "as_vector",
]

_SYM_RTOL = 1e-9
_PSD_RTOL = 1e-10


class BaseModel:
    """Estimator base: parameter introspection and a readable ``repr``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters as a dict (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def is_fitted(self) -> bool:
        """Return whether ``fit`` has been called (any public attribute ending in ``_``)."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _live_copy(self, name: str, item: int) -> FloatArray:
        """Return a copy of ``self._live[item]``, the live-state attribute ``name``.

        Raises AttributeError naming ``name`` while there is no live state.
        """
        live = getattr(self, "_live", None)
        if live is None:
            raise AttributeError(f"{name}: no live state yet; call filter(), update() or reset()")
        return live[item].copy()

    def __repr__(self) -> str:
        parts = []
        for name, value in self.get_params().items():
            if isinstance(value, np.ndarray):
                text = f"array(shape={value.shape})"
            elif isinstance(value, list | tuple) and len(value) > 3:
                text = f"<{len(value)} items>"
            else:
                text = repr(value)
            parts.append(f"{name}={text}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True)
class Step:
    """The outcome of one live ``update``: posterior mean, covariance, log-likelihood."""

    x: FloatArray
    P: FloatArray
    loglik: float
    mu: FloatArray | None = None


@dataclass(frozen=True)
class FilterResult:
    """Filtered posteriors over a series.

    Attributes
    ----------
    x : ndarray, shape (n, dim_x)
        Posterior means ``E[x_t | z_1..t]``.
    P : ndarray, shape (n, dim_x, dim_x)
        Posterior covariances.
    loglik_t : ndarray, shape (n,)
        Per-step log-likelihoods ``log p(z_t | z_1..t-1)`` (0 for a missing observation).
    index : pandas.Index or None
        The index of the observations when they came as a pandas object.
    state_names : tuple of str
        Names of the state components.
    """

    x: FloatArray
    P: FloatArray
    loglik_t: FloatArray
    index: pd.Index | None = None
    state_names: tuple[str, ...] = field(default=())

    @property
    def loglik(self) -> float:
        """Total log-likelihood (sum of ``loglik_t``)."""
        return float(np.sum(self.loglik_t))

    def _names(self) -> list[str]:
        n = self.x.shape[1]
        if len(self.state_names) == n:
            return list(self.state_names)
        return [f"x{i}" for i in range(n)]

    def to_frame(self) -> pd.DataFrame:
        """Return posterior means and standard deviations as a DataFrame.

        Columns are the state names and ``<name>_std``, plus ``loglik``; the index is the
        observations' index when they had one.
        """
        names = self._names()
        data: dict[str, FloatArray] = {}
        std = np.sqrt(np.clip(np.diagonal(self.P, axis1=1, axis2=2), 0.0, None))
        for i, name in enumerate(names):
            data[name] = self.x[:, i]
        for i, name in enumerate(names):
            data[f"{name}_std"] = std[:, i]
        data["loglik"] = self.loglik_t
        return pd.DataFrame(data, index=self.index)


@dataclass(frozen=True)
class IMMResult(FilterResult):
    """IMM posteriors: combined ``x``/``P`` plus regime probabilities and per-model states.

    Attributes
    ----------
    mu : ndarray, shape (n, n_models)
        Posterior regime probabilities ``P(model j | z_1..t)``.
    x_models : ndarray, shape (n, n_models, dim_x)
        Model-conditioned posterior means.
    P_models : ndarray, shape (n, n_models, dim_x, dim_x)
        Model-conditioned posterior covariances.
    """

    mu: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    x_models: FloatArray = field(default_factory=lambda: np.empty((0, 0, 0)))
    P_models: FloatArray = field(default_factory=lambda: np.empty((0, 0, 0, 0)))

    def to_frame(self) -> pd.DataFrame:
        """Return means, standard deviations, regime probabilities (``mu<j>``) and loglik."""
        df = super().to_frame()
        for j in range(self.mu.shape[1]):
            df[f"mu{j}"] = self.mu[:, j]
        return df


@dataclass(frozen=True)
class RBPFResult(FilterResult):
    """RBPF posteriors: weighted ``x``/``P`` plus regime probabilities and the ESS.

    Attributes
    ----------
    mu : ndarray, shape (n, n_models)
        Weighted fraction of particles in each regime.
    ess : ndarray, shape (n,)
        Effective sample size after each reweighting (before resampling).
    """

    mu: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    ess: FloatArray = field(default_factory=lambda: np.empty(0))

    def to_frame(self) -> pd.DataFrame:
        """Return means, standard deviations, regime probabilities, ESS and loglik."""
        df = super().to_frame()
        for j in range(self.mu.shape[1]):
            df[f"mu{j}"] = self.mu[:, j]
        df["ess"] = self.ess
        return df


# ---------------------------------------------------------------------------- input checks


def as_matrix(name: str, value: Any, shape: tuple[int | None, int | None]) -> FloatArray:
    """Return ``value`` as a finite float64 2-D array of the given shape (None = any).

    A scalar is accepted as a 1x1 matrix. Raises ConfigError naming ``name``.
    """
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: must be a numeric matrix ({exc})") from exc
    if a.ndim == 0:
        a = a.reshape(1, 1)
    if a.ndim != 2:
        raise ConfigError(f"{name}: must be a 2-D matrix, got {a.ndim} dimensions")
    for axis, want in enumerate(shape):
        if want is not None and a.shape[axis] != want:
            raise ConfigError(
                f"{name}: shape {a.shape} is incompatible; expected "
                f"{tuple('*' if s is None else s for s in shape)}"
            )
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name}: must be finite (found NaN or inf)")
    return np.ascontiguousarray(a)


def as_vector(name: str, value: Any, size: int) -> FloatArray:
    """Return ``value`` as a finite float64 vector of length ``size`` (scalar broadcast)."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: must be numeric ({exc})") from exc
    if a.ndim == 0:
        a = np.full(size, float(a))
    a = a.reshape(-1) if a.ndim == 2 and 1 in a.shape else a
    if a.ndim != 1 or a.shape[0] != size:
        raise ConfigError(f"{name}: must be a vector of length {size}, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name}: must be finite (found NaN or inf)")
    return np.ascontiguousarray(a)


def as_covariance(name: str, value: Any, dim: int) -> FloatArray:
    """Return ``value`` as a symmetric positive semi-definite ``dim`` x ``dim`` matrix.

    Raises ConfigError naming ``name`` when the matrix is not square of size ``dim``, not
    symmetric (relative tolerance 1e-9) or has a negative eigenvalue (beyond round-off).
    """
    a = as_matrix(name, value, (dim, dim))
    scale = max(float(np.max(np.abs(a))), 1e-300)
    asym = float(np.max(np.abs(a - a.T)))
    if asym > _SYM_RTOL * scale:
        raise ConfigError(
            f"{name}: covariance must be symmetric (max |{name} - {name}.T| = {asym:.3g})"
        )
    a = 0.5 * (a + a.T)
    low = float(np.min(np.linalg.eigvalsh(a)))
    if low < -_PSD_RTOL * scale:
        raise ConfigError(
            f"{name}: covariance must be positive semi-definite (smallest eigenvalue {low:.3g} < 0)"
        )
    return np.ascontiguousarray(a)


def as_observations(z: Any, dim_z: int) -> tuple[FloatArray, pd.Index | None]:
    """Return observations as a contiguous (n, dim_z) float64 array and their pandas index.

    A 1-D input is one observation per row when ``dim_z == 1``. NaN marks a missing
    observation; +-inf is rejected with a DataError naming the row.
    """
    index = z.index if isinstance(z, pd.Series | pd.DataFrame) else None
    try:
        a = np.array(z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"z: observations must be numeric ({exc})") from exc
    if a.ndim == 1:
        if dim_z != 1:
            raise DataError(f"z: 1-D observations need dim_z == 1, the model has dim_z={dim_z}")
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] != dim_z:
        raise DataError(f"z: observations must have shape (n, {dim_z}), got {a.shape}")
    bad = np.isinf(a).any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        label = index[row] if index is not None else row
        raise DataError(f"z: observation at row {label!r} is infinite (use NaN for missing)")
    return np.ascontiguousarray(a), index


def as_observation(z: Any, dim_z: int) -> FloatArray:
    """Return one live observation as a float64 vector of length ``dim_z`` (NaN = missing).

    The checks are those of :func:`as_observations` on a single row.
    """
    zz, _ = as_observations(np.reshape(np.asarray(z, dtype=np.float64), (1, -1)), dim_z)
    return zz[0]
