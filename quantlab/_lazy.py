"""Lazy submodules: a package's ``__getattr__`` that imports a submodule on first access.

``import quantlab`` stays fast because heavy subpackages and modules load only when a
notebook first touches them (``ql.data.store.Store()`` in a fresh process)::

    __getattr__ = lazy_submodules(__name__, globals())
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, MutableMapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_submodules"]


def lazy_submodules(
    package: str, namespace: MutableMapping[str, Any], names: Iterable[str] | None = None
) -> Callable[[str], ModuleType]:
    """Return a module ``__getattr__`` that imports ``package``'s submodules on demand.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    namespace : mutable mapping
        The package's ``globals()``; an imported submodule is stored there, so the next
        access is a plain attribute read.
    names : iterable of str, optional
        The only submodule names served; ``None``: any public name that is a submodule
        (found by :func:`importlib.util.find_spec`, without importing it).

    Returns
    -------
    callable
        ``__getattr__(name)`` returning the submodule, or raising :class:`AttributeError`
        ("module 'pkg' has no attribute 'name'") for anything else, as Python would.
    """
    allowed = None if names is None else frozenset(names)

    def __getattr__(name: str) -> ModuleType:
        if allowed is not None:
            found = name in allowed
        else:
            found = (
                not name.startswith("_")
                and importlib.util.find_spec(f"{package}.{name}") is not None
            )
        if found:
            module = importlib.import_module(f"{package}.{name}")
            namespace[name] = module
            return module
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    __getattr__.__doc__ = f"Import a submodule of {package} on first access."
    return __getattr__
