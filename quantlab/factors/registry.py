"""Factor specs and the registry: ``names``, ``spec``, ``compute``, ``compute_many``.

A factor is a frozen dataclass deriving from :class:`FactorSpec`; its fields are its
parameters. Class attributes describe it (``name``, ``inputs``, ``role``,
``description``, ``nan_policy``); ``warmup()`` gives the number of leading NaN bars for
the instance's parameters and ``compute()`` delegates to a numba kernel. ``@register``
adds the class to the registry by ``name`` (duplicates are refused), which is all a
notebook needs to plug in its own factor::

    import quantlab as ql
    from quantlab.factors import FactorSpec, Role, register, window

    @register
    class Range(FactorSpec):
        name = "range_mean"
        inputs = ("high", "low")
        role = Role.FILTER
        description = "Mean of high minus low over a window."
        window: int = window(20)

        def warmup(self) -> int:
            return self.window - 1

        def compute(self, high, low):
            return ql.kernels.ta.sma_nb(high - low, self.window)

    ql.factors.check("range_mean")   # the conformance suite, on synthetic bars

Conventions every factor keeps (checked by :func:`quantlab.factors.check`):

- the output is float64, one value per input row, on ``df.index``, named by the factor;
- the first ``warmup()`` values are NaN and every later value is finite;
- no look-ahead: computing on ``df[:t]`` equals the full result truncated at ``t``;
- factors work on bar *positions*: a gap in the time index is not seen by the factor
  (gaps are the business of ``ql.data.validate(gaps=...)``);
- ``nan_policy = "raise"`` (the default): a NaN or infinite value in an input column raises
  :class:`~quantlab.errors.DataError` naming the column and the first bad row;
  ``nan_policy = "propagate"``: the factor accepts missing values and documents its output.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib
import math
import os
import threading
import typing
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlab._typing import FloatArray
from quantlab.errors import ConfigError, DataError
from quantlab.registry import Registry

__all__ = [
    "FactorSpec",
    "Param",
    "Role",
    "compute",
    "compute_many",
    "get",
    "names",
    "param",
    "register",
    "spec",
    "unregister",
    "window",
]


class Role(StrEnum):
    """Default role of a factor when composed into a signal."""

    PRIMARY = "primary"
    """Gives direction."""
    CONFIRMATION = "confirmation"
    """Must agree with the primary direction."""
    FILTER = "filter"
    """Gates trading on or off."""
    OBSERVER = "observer"
    """Tracked, no influence."""


NAN_POLICIES = ("raise", "propagate")

# Field names that are window-like: positive unless the field declares its own bounds.
_WINDOW_LIKE = ("window", "period", "span", "fast", "slow", "signal", "lag", "lookback")


@dataclasses.dataclass(frozen=True)
class Param:
    """Description of one factor parameter (a dataclass field of the spec)."""

    name: str
    type: type
    default: Any
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    doc: str = ""

    def bounds_text(self) -> str:
        """Return the bounds as text, e.g. ``'> 0'`` or ``'>= 2, <= 100'``."""
        parts = []
        if self.gt is not None:
            parts.append(f"> {self.gt:g}")
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        return ", ".join(parts)


def param(
    default: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    doc: str = "",
) -> Any:
    """Declare a factor parameter with a default and optional bounds.

    Parameters
    ----------
    default
        Default value; its field annotation (``int``, ``float`` or ``bool``) is the type.
    gt, ge, le
        Bounds checked by the registry (strictly greater, greater-or-equal, less-or-equal).
    doc
        One-line description shown by :func:`spec`.
    """
    return dataclasses.field(
        default=default, metadata={"gt": gt, "ge": ge, "le": le, "doc": doc, "bounded": True}
    )


def window(default: int, *, ge: int = 1, doc: str = "number of bars in the window") -> Any:
    """Declare an integer window parameter (at least ``ge`` bars, 1 by default)."""
    return param(default, ge=ge, doc=doc)


@dataclasses.dataclass(frozen=True)
class FactorSpec:
    """Base class of every factor: a frozen dataclass whose fields are its parameters.

    Subclasses set the class attributes below, declare parameters as annotated fields
    (``int``, ``float`` or ``bool``; use :func:`window`/:func:`param` for bounds), and
    implement :meth:`warmup` and :meth:`compute`. Parameters are type-checked and
    bound-checked on construction; :meth:`validate` adds cross-parameter rules.
    """

    name: ClassVar[str] = ""
    """Registry name (a lower-case identifier)."""
    inputs: ClassVar[tuple[str, ...]] = ("close",)
    """Bar columns passed to :meth:`compute`, in order."""
    role: ClassVar[Role] = Role.OBSERVER
    """Default role when composed."""
    description: ClassVar[str] = ""
    """One-line description."""
    nan_policy: ClassVar[str] = "raise"
    """``"raise"``: NaN/inf inputs raise DataError; ``"propagate"``: the factor handles them."""
    takes_frame: ClassVar[bool] = False
    """If true, :meth:`compute` receives the whole DataFrame instead of input arrays."""
    units: ClassVar[str] = "signal"
    """What the values are: ``"signal"`` (comparable over time: oscillators, z-scores,
    returns), ``"price"`` (a price level such as a moving average), ``"price_scale"`` (a
    spread in price units, e.g. ATR) or ``"cumulative"`` (an unbounded running sum, e.g.
    OBV). Research compares levels as distances from price (:mod:`quantlab.factors.research`)."""

    def __post_init__(self) -> None:
        _coerce_and_check_params(self)
        self.validate()

    # -- to implement -----------------------------------------------------------------
    def warmup(self) -> int:
        """Return the number of leading NaN bars of the output for these parameters."""
        return 0

    def compute(self, *inputs: FloatArray) -> FloatArray:
        """Return the factor values (float64, same length as the inputs)."""
        raise NotImplementedError(f"factor {self.name!r} does not implement compute()")

    def validate(self) -> None:
        """Check cross-parameter rules; raise :class:`ConfigError` when one is broken."""

    def compute_checked(self, *inputs: FloatArray) -> tuple[FloatArray, int]:
        """Return the output and the first row with a NaN/inf input (-1: none), in one pass.

        Optional, for memory-bound kernels: ``ql.factors.compute`` then reads the input
        columns once instead of scanning them for NaN/inf first. Not overridden: the inputs
        are checked, then :meth:`compute` runs. The output must equal :meth:`compute`'s.
        """
        raise NotImplementedError

    def compute_stepwise(self, *inputs: FloatArray) -> FloatArray | None:
        """Return the output by looping the step kernel, or None if not recursive.

        Recursive factors override this so the conformance suite can check that the
        streaming (step) path equals the batch path.
        """
        return None

    # -- provided ---------------------------------------------------------------------
    @classmethod
    def parameters(cls) -> dict[str, Param]:
        """Return the parameters (name, type, default, bounds, doc) of this factor."""
        cached = _PARAMETERS.get(cls)
        if cached is None:
            cached = _PARAMETERS[cls] = cls._parameters()
        return dict(cached)

    @classmethod
    def _parameters(cls) -> dict[str, Param]:
        hints = _type_hints(cls)
        out: dict[str, Param] = {}
        for f in dataclasses.fields(cls):
            tp = hints.get(f.name, object)
            bounds = _bounds(f, tp)
            out[f.name] = Param(
                name=f.name,
                type=tp,
                default=f.default,
                gt=bounds["gt"],
                ge=bounds["ge"],
                le=bounds["le"],
                doc=f.metadata.get("doc", ""),
            )
        return out

    def params(self) -> dict[str, Any]:
        """Return this instance's parameter values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def summary(self) -> dict[str, Any]:
        """Return name, description, inputs, parameters, warm-up, role and NaN policy."""
        return {
            "name": self.name,
            "description": self.description,
            "inputs": tuple(self.inputs),
            "params": self.params(),
            "parameters": self.parameters(),
            "warmup": self.warmup(),
            "role": self.role,
            "nan_policy": self.nan_policy,
            "recursive": type(self).compute_stepwise is not FactorSpec.compute_stepwise,
        }

    def __call__(self, df: pd.DataFrame) -> pd.Series:
        """Compute on a bar frame; return a float64 Series on ``df.index``."""
        return _run(self, df, {})


# ---------------------------------------------------------------------------------------
# parameter checking

# FactorSpec subclass -> its parameters (type hints and bounds are fixed per class).
_PARAMETERS: dict[type, dict[str, Param]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # unresolvable forward refs: fall back to raw annotations
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            out.update(getattr(klass, "__annotations__", {}))
        return out


def _bounds(f: dataclasses.Field, tp: Any) -> dict[str, float | None]:
    md = f.metadata
    if md.get("bounded"):
        return {"gt": md.get("gt"), "ge": md.get("ge"), "le": md.get("le")}
    lname = f.name.lower()
    if tp in (int, float) and any(
        lname == w or lname.endswith("_" + w) or lname.startswith(w + "_") for w in _WINDOW_LIKE
    ):
        return {"gt": 0, "ge": None, "le": None}
    return {"gt": None, "ge": None, "le": None}


def _coerce(value: Any, tp: Any, where: str) -> Any:
    if tp is bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise ConfigError(f"{where} must be a bool, got {type(value).__name__} {value!r}")
    if tp is int:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise ConfigError(f"{where} must be an int, got {type(value).__name__} {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
            raise ConfigError(f"{where} must be a float, got {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a str, got {type(value).__name__} {value!r}")
        return value
    return value


def _coerce_and_check_params(obj: FactorSpec) -> None:
    cls = type(obj)
    for p in cls.parameters().values():
        where = f"factor {cls.name!r} parameter {p.name!r}"
        value = _coerce(getattr(obj, p.name), p.type, where)
        if p.gt is not None and not value > p.gt:
            raise ConfigError(f"{where} must be > {p.gt:g}, got {value!r}")
        if p.ge is not None and not value >= p.ge:
            raise ConfigError(f"{where} must be >= {p.ge:g}, got {value!r}")
        if p.le is not None and not value <= p.le:
            raise ConfigError(f"{where} must be <= {p.le:g}, got {value!r}")
        object.__setattr__(obj, p.name, value)


# ---------------------------------------------------------------------------------------
# the registry

#: Entry-point group through which other packages contribute factors: an entry point names
#: a FactorSpec subclass (registered under its ``name``) or a module that registers its own
#: factors with ``@quantlab.factors.register`` when imported.
ENTRY_POINT_GROUP = "quantlab.factors"

#: The built-in factor library: the modules of this package that define factors, imported
#: (and so registered) on the first lookup. A new factor module is added here.
BUILTIN_MODULES = (
    "quantlab.factors.classic",
    "quantlab.factors.flow",
    "quantlab.factors.momentum",
    "quantlab.factors.onchain",
    "quantlab.factors.perp",
    "quantlab.factors.regime",
    "quantlab.factors.volatility",
)

#: Packages of *later* layers whose import registers factors (this layer may not import
#: them by name in code). ``quantlab.models`` registers the model-backed factors in
#: ``quantlab.models.factors`` (imported by ``quantlab/models/__init__.py``); loading it
#: here makes ``ql.factors.names()`` list them whatever the user imported first.
CONTRIBUTING_PACKAGES = ("quantlab.models",)

_LOCK = threading.RLock()
_LIBRARY_LOADED = False
# compute_many runs factors on a thread pool from this many rows on (below, thread start-up
# costs more than it saves).
_PARALLEL_MIN_ROWS = 20_000


class _FactorRegistry(Registry[type[FactorSpec]]):
    """The factor registry: a plug-in class is registered under its own ``name``."""

    def _register_plugin(self, name: str, obj: Any) -> None:
        if not (isinstance(obj, type) and issubclass(obj, FactorSpec)):
            raise ConfigError(
                f"factor plug-in {name!r} (group {ENTRY_POINT_GROUP!r}) must name a FactorSpec "
                f"subclass or a module, got {obj!r}"
            )
        register(obj)


_FACTORS = _FactorRegistry("factor", entry_point_group=ENTRY_POINT_GROUP)


def _load_library() -> None:
    """Register every factor once: built-ins, contributing packages, then plug-ins.

    Built-ins are the modules in :data:`BUILTIN_MODULES`; the model-backed factors come
    from :data:`CONTRIBUTING_PACKAGES`; plug-ins from the ``quantlab.factors`` entry-point
    group (loaded by the registry itself).
    """
    global _LIBRARY_LOADED
    if _LIBRARY_LOADED:
        return
    with _LOCK:
        if _LIBRARY_LOADED:
            return
        _LIBRARY_LOADED = True
        for module in (*BUILTIN_MODULES, *CONTRIBUTING_PACKAGES):
            importlib.import_module(module)
        _FACTORS.load_plugins()


def register(cls: type[FactorSpec] | None = None, *, replace: bool = False) -> Any:
    """Register a factor class by its ``name`` (usable as ``@register`` or ``@register(...)``).

    The class is made a frozen dataclass if it is not one already. Its metadata and
    default parameters are checked; a name already taken raises :class:`ConfigError`
    unless ``replace=True`` (handy when re-running a notebook cell).

    Parameters
    ----------
    cls
        A subclass of :class:`FactorSpec`.
    replace
        Replace an existing registration of the same name instead of refusing it.

    Returns
    -------
    type
        The (dataclass) class, so the decorator leaves the name bound to it.
    """
    if cls is None:
        return lambda c: register(c, replace=replace)
    if not (isinstance(cls, type) and issubclass(cls, FactorSpec)) or cls is FactorSpec:
        raise ConfigError(f"register() needs a subclass of FactorSpec, got {cls!r}")
    if "__dataclass_fields__" not in cls.__dict__:
        cls = dataclasses.dataclass(frozen=True)(cls)
    elif not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise ConfigError(f"factor class {cls.__name__} must be a frozen dataclass")
    _check_class(cls)
    if not replace:
        # Built-ins first, so a user factor cannot silently shadow one loaded later.
        _load_library()
    return _FACTORS.register(cls.name, cls, replace=replace)


def _check_class(cls: type[FactorSpec]) -> None:
    label = f"factor class {cls.__name__}"
    name = cls.name
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ConfigError(f"{label}: name must be a lower-case identifier, got {name!r}")
    inputs = cls.inputs
    if (
        not isinstance(inputs, tuple)
        or not inputs
        or not all(isinstance(c, str) and c for c in inputs)
    ):
        raise ConfigError(f"{label} {name!r}: inputs must be a non-empty tuple of column names")
    if not isinstance(cls.role, Role):
        raise ConfigError(f"{label} {name!r}: role must be a quantlab.factors.Role")
    desc = cls.description
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        raise ConfigError(f"{label} {name!r}: description must be one non-empty line")
    if cls.nan_policy not in NAN_POLICIES:
        raise ConfigError(f"{label} {name!r}: nan_policy must be one of {NAN_POLICIES}")
    if cls.compute is FactorSpec.compute:
        raise ConfigError(f"{label} {name!r}: compute() is not implemented")
    hints = _type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        if tp not in (int, float, bool, str):
            raise ConfigError(
                f"{label} {name!r}: parameter {f.name!r} must be annotated int, float, bool "
                f"or str, got {tp!r}"
            )
        if f.default is dataclasses.MISSING:
            raise ConfigError(f"{label} {name!r}: parameter {f.name!r} needs a default")
    try:
        default = cls()
    except ConfigError as exc:
        raise ConfigError(f"{label} {name!r}: default parameters are invalid: {exc}") from exc
    w = default.warmup()
    if not isinstance(w, int | np.integer) or isinstance(w, bool) or w < 0:
        raise ConfigError(f"{label} {name!r}: warmup() must return an int >= 0, got {w!r}")


def unregister(name: str) -> None:
    """Remove a factor from the registry (unknown names raise :class:`ConfigError`)."""
    _load_library()
    if name not in _FACTORS:
        raise ConfigError(f"unknown factor {name!r}; cannot unregister it")
    _FACTORS.unregister(name)


def names(role: Role | str | None = None) -> list[str]:
    """Return the sorted names of registered factors, optionally of one default role."""
    _load_library()
    if role is None:
        return _FACTORS.names()
    try:
        r = Role(role)
    except ValueError:
        raise ConfigError(
            f"unknown role {role!r}; expected one of {[x.value for x in Role]}"
        ) from None
    return [n for n, c in _FACTORS.items() if c.role is r]


def get(name: str) -> type[FactorSpec]:
    """Return the registered class of a factor (unknown names raise :class:`ConfigError`)."""
    _load_library()
    if not isinstance(name, str):
        raise ConfigError(f"factor name must be a str, got {type(name).__name__} {name!r}")
    if name in _FACTORS:
        return _FACTORS.get(name)
    import difflib

    known = _FACTORS.names()
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {close}?" if close else ""
    raise ConfigError(f"unknown factor {name!r}{hint}; known: {', '.join(known)}")


def spec(name: str | FactorSpec, **params: Any) -> FactorSpec:
    """Return the factor spec instance for ``name`` with validated parameters.

    The instance shows everything about the factor: its parameters (the dataclass
    fields, defaults unless overridden), ``inputs``, ``warmup()``, default ``role``,
    ``description`` and ``nan_policy``; ``.parameters()`` lists types, defaults and
    bounds; ``.summary()`` gathers it all in a dict.

    Raises
    ------
    ConfigError
        Unknown factor, unknown parameter, wrong type or out-of-range value.
    """
    if isinstance(name, FactorSpec):
        return dataclasses.replace(name, **params) if params else name
    cls = get(name)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(
            f"factor {name!r} has no parameter {unknown[0]!r}; its parameters are "
            f"{sorted(known) or 'none'}"
        )
    return cls(**params)


def compute(name: str | FactorSpec, df: pd.DataFrame, **params: Any) -> pd.Series:
    """Compute one factor on a bar frame.

    Parameters
    ----------
    name
        Registered factor name (or a spec instance).
    df
        Bars: a DataFrame holding the factor's ``inputs`` columns.
    **params
        Parameter overrides (see :func:`spec`).

    Returns
    -------
    pd.Series
        float64 values on ``df.index``, named by the factor; NaN only in the warm-up.

    Raises
    ------
    ConfigError
        Unknown factor or parameter, bad parameter value, missing input column.
    DataError
        A NaN/inf input value for a factor whose ``nan_policy`` is ``"raise"``.
    """
    return _run(spec(name, **params), df, {})


def compute_many(
    df: pd.DataFrame,
    names: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Compute several factors on one bar frame.

    Parameters
    ----------
    df
        Bars.
    names
        Factor names (default: every registered factor, sorted).
    params
        Per-factor parameter overrides, ``{"rsi": {"window": 21}}``.

    Returns
    -------
    pd.DataFrame
        One float64 column per factor, on ``df.index``.

    Notes
    -----
    On frames of 20,000 rows or more the factors run concurrently on a thread pool of one
    thread per available core (the kernels release the GIL); the values are those of
    :func:`compute`, bit for bit, and the errors those of a sequential run in ``names``
    order. Each column keeps the array its factor returned (no copy into one 2-D block).
    """
    selected = _names_list(names)
    params = dict(params or {})
    stray = sorted(set(params) - set(selected))
    if stray:
        raise ConfigError(f"params given for factor {stray[0]!r}, which is not in names")
    specs = [spec(n, **dict(params.get(n, {}))) for n in selected]
    _check_frame(df)
    cols = _run_many(specs, df)
    return pd.DataFrame(cols, index=df.index, columns=selected, copy=False)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_many(specs: list[FactorSpec], df: pd.DataFrame) -> dict[str, FloatArray]:
    """Compute every spec; return the output columns, each an array of its own.

    Independent factors run concurrently on a thread pool (the numba kernels release the
    GIL, so on ``k`` cores up to ``k`` factors run at once). Errors are those of a
    sequential run: the input columns are read and checked first, spec after spec, up to
    the first bad one; then the specs before it run, and the first of them (in order) that
    fails raises; else the input error does. Each input column is converted and checked
    once for all the specs.
    """
    cache: dict[tuple[str, bool], FloatArray] = {}
    n_workers = min(_workers(), len(specs))
    if n_workers <= 1 or len(df) < _PARALLEL_MIN_ROWS:
        cols = {s.name: _output(s, df, _inputs(s, df, cache)) for s in specs}
        return _owned(cols, list(cache.values()))
    inputs: list[list[FloatArray]] = []
    input_error: Exception | None = None
    for s in specs:
        try:
            inputs.append(_inputs(s, df, cache))
        except Exception as exc:  # raised after the specs before it, as sequentially
            input_error = exc
            break
    cols = {}
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="quantlab-factor") as pool:
        # each task runs in a copy of the caller's context: np.errstate and other context
        # variables hold in the worker threads as they would in a sequential run
        futures = [
            pool.submit(contextvars.copy_context().run, _output, s, df, arrays)
            for s, arrays in zip(specs, inputs, strict=False)
        ]
        try:
            for s, f in zip(specs, futures, strict=False):
                cols[s.name] = f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    if input_error is not None:
        raise input_error
    return _owned(cols, list(cache.values()))


def _owned(cols: dict[str, FloatArray], inputs: list[FloatArray]) -> dict[str, FloatArray]:
    """Copy the columns that are not fresh arrays of their own, so the frame built on them
    without a copy shares memory with nothing: a read-only array (a view of a frame) or one
    overlapping an input or another column is copied; kernel outputs are taken as they are.
    """
    seen = list(inputs)
    for name, arr in cols.items():
        if not arr.flags.writeable or any(np.may_share_memory(arr, b) for b in seen):
            arr = cols[name] = arr.copy()
        seen.append(arr)
    return cols


def _names_list(names_: Iterable[str] | None) -> list[str]:
    if names_ is None:
        return names()
    if isinstance(names_, str):
        names_ = [names_]
    out = list(names_)
    seen: set[str] = set()
    for n in out:
        if n in seen:
            raise ConfigError(f"factor {n!r} is listed twice in names")
        seen.add(n)
    return out


# ---------------------------------------------------------------------------------------
# running a spec on a frame


def _check_frame(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"df must be a pandas DataFrame of bars, got {type(df).__name__}")
    _check_index(df.index)


def _check_index(index: pd.Index) -> None:
    """Raise DataError naming the first row whose index label is not after the row before.

    Factors run on bar positions, so the bars must be in time order, each once. pandas
    caches ``is_monotonic_increasing`` and ``is_unique`` on the index, so a frame already
    checked costs nothing the next time.
    """
    if isinstance(index, pd.RangeIndex) and index.step > 0:
        return
    if index.is_monotonic_increasing and index.is_unique:
        return
    try:
        values = index.to_numpy()
        bad = ~(values[1:] > values[:-1])
        i = int(np.argmax(bad)) + 1 if bad.any() else None
    except TypeError:
        i = None
    if i is None:
        raise DataError(
            "df.index must be sorted and unique (factors run on bar positions): sort the "
            "bars and drop duplicates first (ql.data.validate)"
        )
    rule = "repeats" if index[i] == index[i - 1] else "comes before"
    raise DataError(
        f"df.index must be sorted and unique (factors run on bar positions): row {i} "
        f"({index[i]}) {rule} row {i - 1} ({index[i - 1]}); sort the bars and drop "
        "duplicates first (ql.data.validate)"
    )


def _input_array(
    s: FactorSpec,
    df: pd.DataFrame,
    col: str,
    cache: dict[tuple[str, bool], FloatArray],
    check: bool | None = None,
) -> FloatArray:
    if check is None:
        check = s.nan_policy == "raise"
    key = (col, check)
    if key in cache:
        return cache[key]
    if col not in df.columns:
        raise ConfigError(
            f"factor {s.name!r} needs input column {col!r}, which the frame lacks "
            f"(columns: {list(map(str, df.columns))})"
        )
    series = df[col]
    if isinstance(series, pd.DataFrame):
        raise DataError(f"column {col!r} appears more than once in the frame")
    if series.dtype == np.float64:
        # the column's own memory (no copy); kernels only read their inputs
        arr = np.ascontiguousarray(series.to_numpy())
    else:
        try:
            arr = np.ascontiguousarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"column {col!r} (input of factor {s.name!r}) is not numeric: {exc}"
            ) from None
    if check:
        i = _first_nonfinite(arr)
        if i >= 0:
            raise DataError(
                f"column {col!r} has a non-finite value {float(arr[i])!r} at row {i} "
                f"({df.index[i]}); factor {s.name!r} refuses NaN/inf inputs "
                "(clean or validate the bars first: ql.data.validate)"
            )
    cache[key] = arr
    return arr


_FINITE_CHUNK = 1 << 15


def _first_nonfinite(arr: FloatArray) -> int:
    """Return the position of the first NaN/inf of ``arr``, or -1.

    Scans in chunks through one small reused buffer: no temporary as long as the column
    (``np.isfinite(arr)`` would allocate one), about 0.15 ms per million values.
    """
    n = arr.shape[0]
    buf = np.empty(min(_FINITE_CHUNK, n), dtype=bool)
    for start in range(0, n, _FINITE_CHUNK):
        b = buf[: min(_FINITE_CHUNK, n - start)]
        np.isfinite(arr[start : start + _FINITE_CHUNK], out=b)
        if not b.all():
            return start + int(np.argmin(b))
    return -1


def _inputs(
    s: FactorSpec, df: pd.DataFrame, cache: dict[tuple[str, bool], FloatArray]
) -> list[FloatArray]:
    _check_frame(df)
    return [_input_array(s, df, c, cache) for c in s.inputs]


def _output(
    s: FactorSpec, df: pd.DataFrame, arrays: list[FloatArray], out: Any = None
) -> FloatArray:
    """Run the spec on its input arrays (unless ``out`` is given) and check the output."""
    n = len(df)
    if out is not None:
        pass
    elif n == 0:
        out = np.empty(0, dtype=np.float64)
    else:
        out = s.compute(df) if s.takes_frame else s.compute(*arrays)
    if not isinstance(out, np.ndarray) or out.shape != (n,):
        shape = getattr(out, "shape", type(out).__name__)
        raise ConfigError(
            f"factor {s.name!r}: compute() returned {shape}, expected a float64 array of "
            f"shape ({n},)"
        )
    if out.dtype != np.float64:
        out = out.astype(np.float64)
    return out


def _fused_check(s: FactorSpec) -> bool:
    return (
        s.nan_policy == "raise"
        and not s.takes_frame
        and type(s).compute_checked is not FactorSpec.compute_checked
    )


def _run(s: FactorSpec, df: pd.DataFrame, cache: dict[tuple[str, bool], FloatArray]) -> pd.Series:
    if _fused_check(s) and isinstance(df, pd.DataFrame) and len(df) > 0:
        # the kernel checks its inputs as it reads them (one pass over the columns)
        _check_frame(df)
        arrays = [_input_array(s, df, c, cache, check=False) for c in s.inputs]
        out, first = s.compute_checked(*arrays)
        if first >= 0:
            _inputs(s, df, {})  # raises the DataError naming the column and the row
            raise DataError(f"factor {s.name!r}: a non-finite input at row {first}")
        out = _output(s, df, [], out)
    else:
        out = _output(s, df, _inputs(s, df, cache))
    return pd.Series(out, index=df.index, name=s.name, copy=False)
