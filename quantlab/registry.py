"""One registry helper for everything looked up by name: factors, strategies, data
sources, execution backends.

A :class:`Registry` maps names to objects of one *kind*. Built-ins are registered
explicitly in one visible place per kind; other packages contribute plug-ins through an
entry-point group, loaded once, lazily, on the first lookup::

    from quantlab.registry import Registry

    SOURCES: Registry[Callable[..., pd.DataFrame]] = Registry(
        "data source", entry_point_group="quantlab.data_sources"
    )

    @SOURCES.register("synthetic")
    def _synthetic(**kw): ...

    SOURCES.register("files", load_files)      # plain call form
    SOURCES.get("synthetic")                    # the object
    SOURCES.get("nope")   # ConfigError: unknown data source 'nope'; known: files, synthetic

A plug-in package declares, in its ``pyproject.toml``::

    [project.entry-points."quantlab.data_sources"]
    my_venue = "my_pkg.sources:load_my_venue"

The entry point's object is registered under the entry point's name. An entry point that
names a *module* instead (``"my_pkg.sources"``) is imported for its side effects: the
module registers what it defines itself (with the ``register`` of the kind).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

from quantlab.errors import ConfigError

__all__ = ["Registry", "RegistryView"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> objects of one kind, with explicit built-ins and entry-point plug-ins.

    Parameters
    ----------
    kind
        What the registry holds, in words (``"factor"``, ``"strategy"``, ``"data source"``);
        used in every error message.
    entry_point_group
        Entry-point group whose entries are plug-ins of this kind (``None``: no plug-ins).
        The group is read once, on the first lookup (``get``, ``names``, ``in``, ``iter``,
        ``len``), never at import.

    Notes
    -----
    Thread-safe: registration and the one-time plug-in load hold a re-entrant lock.
    Registering the very same object again under the same name is a no-op (re-importing a
    module is harmless); a *different* object under a taken name raises
    :class:`~quantlab.errors.ConfigError` unless ``replace=True``.
    """

    def __init__(self, kind: str, *, entry_point_group: str | None = None) -> None:
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"Registry kind must be a non-empty str, got {kind!r}")
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._lock = threading.RLock()
        self._plugins_loaded = entry_point_group is None
        self._loading = False

    # -- registration ---------------------------------------------------------------------
    @overload
    def register(
        self, name: str, obj: None = None, *, replace: bool = False
    ) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T, *, replace: bool = False) -> T: ...

    def register(self, name: str, obj: T | None = None, *, replace: bool = False) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        Parameters
        ----------
        name
            A non-empty string without surrounding whitespace.
        obj
            The object; ``None`` makes this call a decorator (``@reg.register("x")``).
        replace
            Replace an existing entry of that name instead of refusing it (handy when a
            notebook cell is re-run).

        Returns
        -------
        object or callable
            ``obj`` itself, or the decorator (which returns the decorated object unchanged).

        Raises
        ------
        ConfigError
            A bad name, or a name already taken by another object (without ``replace``).
        """
        self._check_name(name)
        if obj is None:

            def decorator(o: T) -> T:
                return self.register(name, o, replace=replace)

            return decorator
        with self._lock:
            old = self._items.get(name)
            if old is not None and old is not obj and not replace:
                raise ConfigError(
                    f"{self.kind} name {name!r} is already registered (by {_describe(old)}); "
                    "choose another name or pass replace=True"
                )
            self._items[name] = obj
        return obj

    def unregister(self, name: str) -> T:
        """Remove ``name`` and return its object (unknown names raise ConfigError)."""
        with self._lock:
            obj = self.get(name)
            del self._items[name]
            return obj

    # -- lookup ---------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """Return the object registered under ``name``.

        Raises
        ------
        ConfigError
            ``unknown <kind> 'x'; known: a, b, c`` (with close matches when there are any).
        """
        self._load_plugins()
        if not isinstance(name, str):
            raise ConfigError(
                f"{self.kind} name must be a str, got {type(name).__name__} {name!r}; "
                f"known: {self._known_text()}"
            )
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._items), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}; known: {self._known_text()}{hint}"
            ) from None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        self._load_plugins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """Return ``(name, object)`` pairs sorted by name."""
        self._load_plugins()
        return sorted(self._items.items(), key=lambda kv: kv[0])

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._items)

    def __repr__(self) -> str:
        group = f", entry_point_group={self.entry_point_group!r}" if self.entry_point_group else ""
        return f"Registry({self.kind!r}{group}; {len(self._items)} registered)"

    def view(self) -> Mapping[str, T]:
        """Return a live, read-only mapping view (``name -> object``) of this registry.

        For code that reads a registry as a dict (``for k, v in view.items()``); it has no
        way to add or remove entries. A missing key raises ``KeyError`` whose message
        lists the known names.
        """
        return RegistryView(self)

    # -- plug-ins -------------------------------------------------------------------------
    def load_plugins(self) -> None:
        """Load the entry-point plug-ins now (normally done on the first lookup)."""
        self._load_plugins()

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        with self._lock:
            if self._plugins_loaded or self._loading:
                return  # a plug-in module looking names up while it registers
            self._loading = True
            try:
                eps = importlib.metadata.entry_points(group=self.entry_point_group)
                for ep in sorted(eps, key=lambda e: e.name):
                    try:
                        obj = ep.load()
                    except Exception as exc:
                        raise ConfigError(
                            f"{self.kind} plug-in {ep.name!r} (entry point {ep.value!r} of "
                            f"group {self.entry_point_group!r}) failed to load: "
                            f"{type(exc).__name__}: {exc}"
                        ) from exc
                    if not isinstance(obj, types.ModuleType):
                        self._register_plugin(ep.name, obj)
                self._plugins_loaded = True
            finally:
                self._loading = False

    def _register_plugin(self, name: str, obj: Any) -> None:
        """Register the object an entry point named (subclasses may validate or rename)."""
        self.register(name, obj)

    # -- helpers --------------------------------------------------------------------------
    def _check_name(self, name: object) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ConfigError(
                f"{self.kind} name must be a non-empty str without surrounding spaces, got {name!r}"
            )

    def _known_text(self) -> str:
        return ", ".join(sorted(self._items)) or "(none registered)"


class RegistryView(Mapping[str, T]):
    """A read-only :class:`~collections.abc.Mapping` over a :class:`Registry`."""

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry[T]) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> T:
        if name not in self._registry:
            raise KeyError(
                f"unknown {self._registry.kind} {name!r}; known: {self._registry._known_text()}"
            )
        return self._registry.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return f"RegistryView({self._registry.names()!r})"


def _describe(obj: object) -> str:
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if mod and qual:
        return f"{mod}.{qual}"
    return repr(obj)
