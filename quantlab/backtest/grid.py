"""Parameter grids: parse them, validate each axis once, expand them lazily in chunks.

::

    plan = plan_grid(ql.backtest.ma_cross(), {"fast": range(2, 102), "slow": range(20, 320, 5)})
    plan.n_combinations, plan.n_valid, plan.invalid_by_rule   # without expanding anything
    for idx in plan.chunks(65_536):                            # (axes, k) int64 index rows
        columns = plan.columns(idx)                            # the parameter values

Grid keys are strategy fields (``fast``), dotted nested fields (``"sizing.fraction"``),
stop shortcuts (``stop_loss`` for ``stops.stop_loss``) or cost fields (``taker_fee`` or
``"costs.taker_fee"``). Combinations follow the Cartesian product of the strategy keys (in
grid order), the cost keys varying fastest.

Each value is checked once, against its field's own rule (pydantic, the field alone): a
bad value anywhere in the grid is an error naming the key, the value and the rule, never a
silently skipped combination. Rules across fields (``fast < slow``, ``trail_activation``
needs ``trail_distance``) are the configs' :attr:`~quantlab.config.FrozenConfig.grid_rules`,
applied to whole arrays of values; combinations that break one are skipped and counted per
rule. Nothing per combination is a Python object: a chunk is a matrix of axis indices.

Where a config has a cross-field validator without a vectorised rule, a dotted key reaches
into a mapping, or a strategy overrides what the batch kernels assume, :attr:`GridPlan.fast`
is False and callers build one validated config per combination (:meth:`GridPlan.pairs`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, TypeAdapter, ValidationError

from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.errors import ConfigError
from quantlab.risk import Stops

__all__ = [
    "Axis",
    "GridPlan",
    "parse_grid",
    "parse_value",
    "plan_grid",
    "resolve_key",
]

#: Strategy blocks that hold risk rules (not part of the signal).
RISK_BLOCKS = ("sizing", "stops", "limits", "breaker", "edge")
#: Most values one range spec may expand to.
MAX_RANGE_VALUES = 1_000_000


# ------------------------------------------------------------------ text -> grid


def parse_value(text: str) -> Any:
    """Return a grid value typed from text: int, float, bool, None or the string itself.

    Examples
    --------
    >>> [parse_value(t) for t in ("5", "0.02", "none", "true", "long")]
    [5, 0.02, None, True, 'long']
    """
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _parse_range(spec: str, text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"grid spec {spec!r}: a range is START:STOP or START:STOP:STEP")
    nums = [parse_value(p) for p in parts]
    bad = [p for p, x in zip(parts, nums, strict=True) if not _is_number(x)]
    if len(nums) == 2:
        nums.append(1)
    if bad:
        raise ConfigError(
            f"grid spec {spec!r}: {bad[0].strip()!r} is not a number "
            "(a range is START:STOP:STEP of numbers)"
        )
    start, stop, step = nums
    if not step > 0 or stop < start:
        raise ConfigError(
            f"grid spec {spec!r}: need STEP > 0 and STOP >= START (got start {start}, "
            f"stop {stop}, step {step})"
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise ConfigError(
            f"grid spec {spec!r}: {count:,} values is more than {MAX_RANGE_VALUES:,}; "
            "use a larger step"
        )
    if all(isinstance(x, int) for x in nums):
        return [start + i * step for i in range(count)]
    return [round(start + i * step, 12) for i in range(count)]


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_grid(specs: Sequence[str] | str) -> dict[str, list[Any]]:
    """Parse command-line grid specs into a sweep grid.

    ``"fast=5:50:5"`` is the inclusive range 5, 10, ..., 50; ``"stop_loss=0.01,0.02"`` a
    list; ``"fast=10"`` a single value. Values are read by :func:`parse_value`.

    Examples
    --------
    >>> parse_grid(["fast=5:15:5", "stop_loss=0.01,0.02", "direction=long"])
    {'fast': [5, 10, 15], 'stop_loss': [0.01, 0.02], 'direction': ['long']}
    """
    if isinstance(specs, str):
        specs = [specs]
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, text = str(spec).partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ConfigError(
                f"grid spec {spec!r}: expected NAME=START:STOP:STEP or NAME=V1,V2,..."
            )
        if name in grid:
            raise ConfigError(f"grid spec {spec!r}: {name!r} is given twice")
        if ":" in text:
            grid[name] = _parse_range(spec, text)
        else:
            grid[name] = [parse_value(v) for v in text.split(",") if v.strip()]
        if not grid[name]:
            raise ConfigError(f"grid spec {spec!r}: no values")
    return grid


def grid_values(key: str, v: Any) -> list[Any]:
    """Return the values of one grid key as a list of plain Python values."""
    if isinstance(v, str | Mapping):
        raise ConfigError(f"grid[{key!r}]: expected a non-empty list of values, got {v!r}")
    if isinstance(v, Iterable):
        out = [x.item() if isinstance(x, np.generic) else x for x in v]
    else:
        out = [v.item() if isinstance(v, np.generic) else v]
    if not out:
        raise ConfigError(f"grid[{key!r}]: expected a non-empty list of values, got {v!r}")
    return out


# ------------------------------------------------------------------------- axes


@dataclass(frozen=True)
class Axis:
    """One key of a grid: where it goes and its validated values."""

    key: str  #: as the user wrote it (``stop_loss``)
    path: str  #: dotted path: ``stops.stop_loss``, ``fast`` or ``costs.taker_fee``
    values: tuple[Any, ...]

    @property
    def on_costs(self) -> bool:
        """Whether the key is a cost field."""
        return self.path.startswith("costs.")

    @property
    def field_path(self) -> str:
        """The path inside its config (the strategy or the costs)."""
        return self.path[len("costs.") :] if self.on_costs else self.path

    @property
    def is_signal(self) -> bool:
        """Whether the key is part of the signal (not a risk block, not a cost)."""
        return not self.on_costs and self.path.split(".")[0] not in RISK_BLOCKS

    def array(self) -> np.ndarray:
        """Return the values as a numpy array: bool, int64, float64 (None as NaN among
        numbers) or object."""
        vals = self.values
        if all(isinstance(v, bool) for v in vals):
            return np.asarray(vals, dtype=bool)
        numbers = [v for v in vals if v is not None]
        if numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            if len(numbers) == len(vals) and all(isinstance(v, int) for v in vals):
                return np.asarray(vals, dtype=np.int64)
            return np.asarray([np.nan if v is None else v for v in vals], dtype=np.float64)
        out = np.empty(len(vals), dtype=object)
        out[:] = list(vals)
        return out


def resolve_key(strategy: StrategyBase, key: str) -> str:
    """Return the dotted path a grid key names (``stop_loss`` -> ``stops.stop_loss``)."""
    fields = type(strategy).model_fields
    if key.startswith("costs."):
        name = key[len("costs.") :]
        if name not in Costs.model_fields:
            raise ConfigError(
                f"grid key {key!r}: unknown cost field {name!r}; known: "
                f"{sorted(Costs.model_fields)}"
            )
        return key
    if "." in key or key in fields:
        if key.split(".")[0] not in fields or key == "kind":
            raise ConfigError(
                f"grid key {key!r}: unknown parameter {key!r}; not a parameter of "
                f"{type(strategy).__name__} "
                f"({sorted(k for k in fields if k != 'kind')})"
            )
        return key
    if key in Stops.model_fields:
        return f"stops.{key}"
    if key in Costs.model_fields:
        return f"costs.{key}"
    raise ConfigError(
        f"grid key {key!r}: unknown parameter {key!r}; not a parameter of "
        f"{type(strategy).__name__} ({sorted(k for k in fields if k != 'kind')}), a stop "
        f"({sorted(Stops.model_fields)}) or a cost ({sorted(Costs.model_fields)})"
    )


def _owner(root: type[BaseModel], path: str) -> tuple[type[BaseModel], str] | None:
    """Return the config class holding the last part of ``path`` and the field name."""
    cls: Any = root
    parts = path.split(".")
    for part in parts[:-1]:
        info = cls.model_fields.get(part)
        ann = info.annotation if info is not None else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        cls = ann
    if parts[-1] not in cls.model_fields:
        return None
    return cls, parts[-1]


@lru_cache(maxsize=512)
def _adapter(cls: type[BaseModel], name: str) -> TypeAdapter:
    info = cls.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])


def _rule_text(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return str(err.get("msg", exc)).replace("Input should be", "must be")


def _covered(cls: type[BaseModel]) -> bool:
    """Whether every cross-field validator of ``cls`` has a vectorised grid rule."""
    validators = set(cls.__pydantic_decorators__.model_validators)
    rules = getattr(cls, "grid_rules", ())
    return validators <= {r.validator for r in rules}


def _subtree_models(cls: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type]]:
    yield prefix, cls
    for name, info in cls.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _subtree_models(ann, f"{prefix}{name}.")


# ------------------------------------------------------------------------- plan


@dataclass
class GridPlan:
    """A validated grid: its axes, which combinations are valid, how to expand them.

    Build one with :func:`plan_grid`. Index rows (``idx``: shape ``(n_axes, k)``) address
    combinations; :meth:`chunks` yields them lazily in grid order (C order over
    :attr:`axes`), valid ones only.
    """

    strategy: StrategyBase
    costs: Costs
    axes: tuple[Axis, ...]
    fast: bool
    #: joint validity over the rule axes (``rule_axes``), or None when all are valid
    valid_mask: np.ndarray | None = None
    rule_axes: tuple[int, ...] = ()
    invalid_by_rule: dict[str, int] = field(default_factory=dict)
    why_slow: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """Values per axis."""
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_combinations(self) -> int:
        """All combinations of the grid, valid or not."""
        return math.prod(self.shape)

    @property
    def n_valid(self) -> int:
        """Combinations every rule accepts."""
        if self.valid_mask is None:
            return self.n_combinations
        free = math.prod(s for i, s in enumerate(self.shape) if i not in self.rule_axes)
        return int(self.valid_mask.sum()) * free

    @property
    def n_invalid(self) -> int:
        """Combinations some rule refuses."""
        return self.n_combinations - self.n_valid

    def chunks(self, size: int, order: Sequence[int] | None = None) -> Iterator[np.ndarray]:
        """Yield ``(n_axes, k)`` int64 index rows of valid combinations, ``k <= size``.

        ``order`` lists the axes from slowest to fastest varying (default: grid order).
        """
        shape = self.shape
        perm = list(range(len(shape))) if order is None else list(order)
        pshape = tuple(shape[i] for i in perm)
        total = self.n_combinations
        if not shape:
            yield np.zeros((0, 1), dtype=np.int64)
            return
        pending: list[np.ndarray] = []
        n_pending = 0
        block = max(size, 4096)
        for a in range(0, total, block):
            flat = np.arange(a, min(a + block, total), dtype=np.int64)
            pidx = np.unravel_index(flat, pshape)
            idx = np.empty((len(shape), flat.size), dtype=np.int64)
            for j, ax in enumerate(perm):
                idx[ax] = pidx[j]
            if self.valid_mask is not None:
                sub = np.ravel_multi_index(
                    tuple(idx[i] for i in self.rule_axes), self.valid_mask.shape
                )
                idx = idx[:, self.valid_mask.ravel()[sub]]
            pending.append(idx)
            n_pending += idx.shape[1]
            while n_pending >= size:
                cat = np.concatenate(pending, axis=1)
                yield cat[:, :size]
                rest = cat[:, size:]
                pending, n_pending = [rest], rest.shape[1]
        if n_pending:
            yield np.concatenate(pending, axis=1)

    def columns(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Return the parameter columns (one per grid key) of index rows ``idx``."""
        return {a.key: a.array()[idx[i]] for i, a in enumerate(self.axes)}

    def position(self, idx: np.ndarray) -> np.ndarray:
        """Return the flat grid-order position of each combination (among all)."""
        if not self.axes:
            return np.zeros(idx.shape[1], dtype=np.int64)
        return np.ravel_multi_index(tuple(idx), self.shape)

    def configs(self, values: Mapping[str, Any]) -> tuple[StrategyBase, Costs]:
        """Return the strategy and costs with some axis values (by path) applied, unvalidated.

        The values were validated field by field and the grid rules hold for them, so a
        copy (``model_copy(update=...)``) is the config pydantic would build.
        """
        strat_up: dict[str, Any] = {}
        cost_up: dict[str, Any] = {}
        for path, v in values.items():
            if path.startswith("costs."):
                cost_up[path[len("costs.") :]] = v
            else:
                strat_up[path] = v
        return _updated(self.strategy, strat_up), self.costs.model_copy(update=cost_up)

    def config_at(self, idx_row: Sequence[int]) -> tuple[StrategyBase, Costs]:
        """Return the configs of one combination (index row)."""
        return self.configs(
            {a.path: a.values[int(i)] for a, i in zip(self.axes, idx_row, strict=True)}
        )

    def pairs(self) -> tuple[list[tuple[StrategyBase, Costs]], np.ndarray]:
        """Return one fully validated ``(strategy, costs)`` per valid combination and their
        index rows (the per-object path, for grids the array path does not cover)."""
        out: list[tuple[StrategyBase, Costs]] = []
        rows: list[np.ndarray] = []
        base = self.strategy.model_dump()
        cost_base = self.costs.model_dump()
        cls = type(self.strategy)
        invalid = 0
        first_error = ""
        for idx in self.chunks(65_536):
            for col in idx.T:
                d = _deep_copy(base)
                cd = dict(cost_base)
                for a, i in zip(self.axes, col, strict=True):
                    if a.on_costs:
                        cd[a.field_path] = a.values[int(i)]
                    else:
                        _set_dotted(d, a.path, a.values[int(i)])
                try:
                    pair = (cls(**d), Costs(**cd))
                except ConfigError as exc:
                    invalid += 1
                    first_error = first_error or str(exc)
                    continue
                out.append(pair)
                rows.append(col)
        if invalid:
            self.invalid_by_rule = {**self.invalid_by_rule, "validation": invalid}
        if not out:
            raise ConfigError(
                f"grid: none of the {self.n_combinations} combinations is a valid "
                f"{cls.__name__} ({first_error})"
            )
        idx = np.stack(rows, axis=1) if rows else np.zeros((len(self.axes), 0), dtype=np.int64)
        return out, idx


def _updated(model: BaseModel, update: Mapping[str, Any]) -> Any:
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, v in update.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = v
        else:
            top[head] = v
    for head, sub in nested.items():
        top[head] = _updated(getattr(model, head), sub)
    return model.model_copy(update=top) if top else model


def _set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = d
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


def _duplicates(values: list[Any]) -> list[str]:
    """Return the values given more than once (as text), in linear time when hashable."""
    seen: set[Any] = set()
    out: set[str] = set()
    for v in values:
        try:
            key = (type(v), v)
            hash(key)
        except TypeError:
            key = (type(v), repr(v))
        if key in seen:
            out.add(_value_text(v))
        seen.add(key)
    return sorted(out)


def _value_text(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def plan_grid(
    strategy: StrategyBase | Mapping | str,
    grid: Mapping[str, Any] | None = None,
    costs: Costs | float | dict | None = None,
) -> GridPlan:
    """Validate a grid axis by axis and apply the cross-field rules to whole arrays.

    Parameters
    ----------
    strategy : StrategyBase, mapping, YAML path or registered name
        The base configuration.
    grid : mapping of parameter name to values, optional
        See the module docstring.
    costs : Costs, float or mapping, optional
        The base costs (cost keys of the grid replace their fields).

    Returns
    -------
    GridPlan

    Raises
    ------
    ConfigError
        An unknown key, an empty axis, any value its field refuses (all of them are listed,
        each with its key and rule), or a grid in which no combination is valid (naming
        the rule that refused them).
    """
    base = load_strategy(strategy)
    base_costs = make_costs(costs)
    if grid is not None and not isinstance(grid, Mapping):
        raise ConfigError(f"grid: expected a mapping of parameter -> values, got {grid!r}")
    resolved: list[tuple[str, str, list[Any]]] = []
    seen: dict[str, str] = {}
    for key, v in (grid or {}).items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"grid: parameter names must be strings, got {key!r}")
        path = resolve_key(base, key)
        if path in seen:
            raise ConfigError(f"grid: {key!r} and {seen[path]!r} name the same parameter")
        seen[path] = key
        resolved.append((key, path, grid_values(key, v)))
    # strategy keys in grid order, then cost keys in grid order (costs vary fastest)
    resolved = [r for r in resolved if not r[1].startswith("costs.")] + [
        r for r in resolved if r[1].startswith("costs.")
    ]
    fast = True
    why = ""
    errors: list[str] = []
    axes: list[Axis] = []
    for key, path, values in resolved:
        root: type[BaseModel] = Costs if path.startswith("costs.") else type(base)
        inner = path[len("costs.") :] if path.startswith("costs.") else path
        owner = _owner(root, inner)
        if owner is None:
            fast, why = False, f"{key!r} reaches inside a mapping"
            axes.append(Axis(key, path, tuple(values)))
            continue
        cls, name = owner
        if cls.__pydantic_decorators__.field_validators:
            fast, why = False, f"{cls.__name__} has field validators"
        adapter = _adapter(cls, name)
        checked = []
        for v in values:
            try:
                checked.append(adapter.validate_python(v))
            except ValidationError as exc:
                errors.append(f"{key}={_value_text(v)}: {_rule_text(exc)}")
        axes.append(Axis(key, path, tuple(checked)))
    if errors:
        raise ConfigError(
            f"grid: {len(errors)} value(s) break their field's rule: " + "; ".join(errors)
        )
    for key, _, values in resolved:
        dupes = _duplicates(values)
        if dupes:
            raise ConfigError(f"grid[{key!r}]: value(s) {', '.join(dupes)} given more than once")
    plan = GridPlan(strategy=base, costs=base_costs, axes=tuple(axes), fast=fast, why_slow=why)
    _apply_rules(plan)
    if plan.fast and plan.n_valid == 0:
        rules = "; ".join(f"{r} ({n:,})" for r, n in plan.invalid_by_rule.items())
        raise ConfigError(
            f"grid: none of the {plan.n_combinations:,} combinations is a valid "
            f"{type(base).__name__}: every one breaks {rules}"
        )
    return plan


def _apply_rules(plan: GridPlan) -> None:
    """Evaluate every grid rule on the axes it reads; set the joint validity mask."""
    roots: list[tuple[str, type[BaseModel], BaseModel]] = [
        ("", type(plan.strategy), plan.strategy),
        ("costs.", Costs, plan.costs),
    ]
    by_path = {a.path: i for i, a in enumerate(plan.axes)}
    masks: list[tuple[tuple[int, ...], np.ndarray]] = []
    for root_prefix, root_cls, root_obj in roots:
        for prefix, cls in _subtree_models(root_cls):
            full = root_prefix + prefix
            # a validator may read its whole subtree: any axis below it needs its rules
            below = [
                p for p in by_path if p.startswith(full) and (root_prefix or p[:6] != "costs.")
            ]
            if not below:
                continue
            if not _covered(cls):
                plan.fast = False
                plan.why_slow = f"{cls.__name__} has a cross-field validator without a grid rule"
                return
            obj: Any = root_obj
            for part in prefix.rstrip(".").split(".") if prefix else []:
                obj = getattr(obj, part)
            for rule in getattr(cls, "grid_rules", ()):
                axes_of = sorted(by_path[full + f] for f in rule.fields if full + f in by_path)
                if not axes_of:
                    continue
                shape = tuple(len(plan.axes[i].values) for i in axes_of)
                args = []
                for f in rule.fields:
                    i = by_path.get(full + f)
                    if i is None:
                        args.append(getattr(obj, f))
                    else:
                        arr = np.empty(len(plan.axes[i].values), dtype=object)
                        arr[:] = list(plan.axes[i].values)
                        view = [1] * len(axes_of)
                        view[axes_of.index(i)] = arr.size
                        args.append(arr.reshape(view))
                ok = np.broadcast_to(np.asarray(rule.check(*args), dtype=bool), shape)
                n_bad = int((~ok).sum())
                if n_bad:
                    free = plan.n_combinations // math.prod(shape)
                    plan.invalid_by_rule[f"{full}{rule.text}"] = n_bad * free
                masks.append((tuple(axes_of), ok))
    if not masks:
        return
    union = tuple(sorted({i for axes_of, _ in masks for i in axes_of}))
    joint = np.ones(tuple(len(plan.axes[i].values) for i in union), dtype=bool)
    for axes_of, ok in masks:
        view = [1] * len(union)
        for j, i in enumerate(axes_of):
            view[union.index(i)] = ok.shape[j]
        joint &= ok.reshape(view)
    if not joint.all():
        plan.valid_mask = joint
        plan.rule_axes = union
