"""Shared pieces of the models layer: the model contract, result containers, input checks.

Every model derives from :class:`BaseModel` and speaks one set of verbs:

``fit(data) -> self``
    Estimate what the model estimates (Kalman ``Q``/``R`` scales, GARCH and Hawkes
    parameters by maximum likelihood); online learners and filters without estimated
    parameters (Hedge, conformal trackers, accuracy weights, IMM, RBPF) *condition* their
    live state on the history instead (``fit(data)`` is ``filter(data)`` returning self).
``filter(data)``
    A whole series in one batch, from the prior (or start) state; leaves the live state at
    the end of the series.
``update(obs)``
    One live step continuing from the last ``filter``/``update`` (from the prior after
    ``reset()`` or on first use); it calls the same step kernel as ``filter``, so a stream
    of updates reproduces the batch run (checked by :mod:`quantlab.models.conformance`).
``state() -> dict``
    A snapshot (copies) of the live state; ``{}`` before any ``filter``/``update``.

The constructor only stores parameters (scikit-learn convention: ``get_params``, fitted
attributes end in ``_``); :meth:`BaseModel.check_params` validates them, the one place a
model checks its parameters (each verb calls it), raising :class:`ConfigError` as
``"<name> = <value>: must ..."``. The helpers :func:`check_int`, :func:`check_float` and
:func:`check_choice` write those checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError

__all__ = [
    "BaseModel",
    "FilterResult",
    "IMMResult",
    "LiveState",
    "RBPFResult",
    "RegimeModel",
    "StateSpaceModel",
    "Step",
    "as_covariance",
    "as_matrix",
    "as_observation",
    "as_observations",
    "as_vector",
    "check_choice",
    "check_float",
    "check_int",
]

_SYM_RTOL = 1e-9
_PSD_RTOL = 1e-10


# ------------------------------------------------------------------------ parameter checks


def check_int(name: str, value: Any, low: int | None = None, *, optional: bool = False) -> Any:
    """Return ``value`` as an int, or raise ConfigError ``"<name> = <value>: must be ..."``.

    ``optional=True`` lets ``None`` through (returned as is).
    """
    if value is None and optional:
        return None
    bound = "" if low is None else f" >= {low}"
    none = "None or " if optional else ""
    ok = isinstance(value, int | np.integer | float | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if not ok or not np.isfinite(value) or int(value) != value or (low is not None and value < low):
        raise ConfigError(f"{name} = {value!r}: must be {none}an integer{bound}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    optional: bool = False,
) -> Any:
    """Return ``value`` as a finite float within the bounds, else raise ConfigError."""
    if value is None and optional:
        return None
    rules = [f"> {gt:g}" if gt is not None else "", f">= {ge:g}" if ge is not None else ""]
    rules += [f"< {lt:g}" if lt is not None else "", f"<= {le:g}" if le is not None else ""]
    text = " and ".join(r for r in rules if r)
    what = f"must be {'None or ' if optional else ''}a finite number" + (f" {text}" if text else "")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r}: {what}") from None
    if isinstance(value, bool | np.bool_) or not np.isfinite(v):
        raise ConfigError(f"{name} = {value!r}: {what}")
    if (
        (gt is not None and not v > gt)
        or (ge is not None and not v >= ge)
        or (lt is not None and not v < lt)
        or (le is not None and not v <= le)
    ):
        raise ConfigError(f"{name} = {value!r}: {what}")
    return v


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ConfigError listing them."""
    if value not in choices:
        raise ConfigError(f"{name} = {value!r}: must be one of {sorted(choices)}")
    return value


# ------------------------------------------------------------------------ the model contract


class BaseModel:
    """Base of every model: the verbs ``fit``/``filter``/``update``/``state``/``reset``,
    parameter introspection and validation, and a readable ``repr``.

    Subclasses implement :meth:`filter`, :meth:`update` and :meth:`_validate` (their
    parameter checks, the one place they live), and override :meth:`fit` when they
    estimate something. Their live state (whatever ``update`` continues from) is reset by
    :meth:`reset` and reported by :meth:`state`.
    """

    #: Names of the live state reported by :meth:`state` (attributes, or items of the
    #: tuple ``self._live`` through :data:`_live_fields`).
    _state_attrs: ClassVar[tuple[str, ...]] = ()
    #: Live-state name -> position in ``self._live`` (state-space models keep kernel state
    #: in one tuple so ``update`` hands it to the step kernel as is).
    _live_fields: ClassVar[dict[str, int]] = {}

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

    # -- parameters -----------------------------------------------------------------------
    def _validate(self) -> Any:
        """Check the constructor parameters; return them converted (subclasses override)."""
        return None

    def check_params(self) -> BaseModel:
        """Validate the constructor parameters; return self.

        Raises
        ------
        ConfigError
            ``"<name> = <value>: must ..."`` for the first parameter breaking its rule.
        """
        self._validate()
        return self

    # -- the verbs ------------------------------------------------------------------------
    def fit(self, *data: Any) -> BaseModel:
        """Condition the live state on ``data`` (``filter(*data)``) and return self.

        Models that estimate parameters override this with their estimator.
        """
        self.filter(*data)
        return self

    def filter(self, *data: Any) -> Any:
        """Run the model over a whole series from its prior (or start) state."""
        raise NotImplementedError(f"{type(self).__name__} does not implement filter()")

    def update(self, *obs: Any) -> Any:
        """Advance the live state by one observation; return that step's output."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update()")

    def reset(self) -> BaseModel:
        """Forget the live state (the next ``update`` starts from the prior); return self."""
        self._validate()
        self._live = None
        for name in self._state_attrs:
            self.__dict__.pop(name, None)
        return self

    def state(self) -> dict[str, Any]:
        """Return a snapshot (copies) of the live state; ``{}`` when there is none yet."""
        out: dict[str, Any] = {}
        live = getattr(self, "_live", None)
        if live is not None:
            for name, item in self._live_fields.items():
                out[name] = _snapshot(live[item])
        for name in self._state_attrs:
            if name in self.__dict__:
                out[name.rstrip("_")] = _snapshot(self.__dict__[name])
        return out

    def _live_copy(self, name: str, item: int | None = None) -> FloatArray:
        """Return a copy of the live-state item behind the attribute ``name`` (``x_``...).

        Raises AttributeError naming ``name`` while there is no live state.
        """
        live = getattr(self, "_live", None)
        if live is None:
            raise AttributeError(f"{name}: no live state yet; call filter(), update() or reset()")
        if item is None:
            item = self._live_fields[name.rstrip("_")]
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


def _snapshot(value: Any) -> Any:
    """Return a copy of a live-state value (arrays, pandas objects and tuples of them)."""
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, np.ndarray | pd.Series | pd.DataFrame):
        return value.copy()
    return value


class LiveState:
    """A read-only attribute (``x_``, ``P_``, ``mu_``) giving a copy of one live-state item.

    Written once here for every state-space model: the item's position in the model's
    ``_live`` tuple comes from its ``_live_fields``.
    """

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._live_copy(self.name)


class StateSpaceModel(BaseModel):
    """A model with a Gaussian live state: ``x_`` and ``P_`` after the last step."""

    x_ = LiveState("Live posterior mean (after the last ``filter``/``update``).")
    P_ = LiveState("Live posterior covariance (after the last ``filter``/``update``).")


class RegimeModel(StateSpaceModel):
    """A regime-switching state-space model: adds the live regime probabilities ``mu_``."""

    mu_ = LiveState("Live regime probabilities (after the last ``filter``/``update``).")


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
