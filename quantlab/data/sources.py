"""Data sources by name: the one registry ``ql.data.load`` looks a source up in.

Each source is a :class:`DataSource`: a function that reads raw data, the kind of frame
it gives (:data:`SOURCE_KINDS`: ``"bars"``, validated against the bar schema by the
loader; ``"swaps"``, on-chain swaps validated by the source itself), the options it
accepts (anything else is a :class:`~quantlab.errors.ConfigError` naming the source and
listing its options), its default symbol and interval. The built-ins are registered at
the bottom of this module, in one place; a plug-in package adds its own through the
``quantlab.data_sources`` entry-point group::

    [project.entry-points."quantlab.data_sources"]
    my_venue = "my_pkg.sources:MY_VENUE"    # a DataSource

Files are not a named source: ``ql.data.load("path/to/bars.csv")`` reads any ``.csv`` or
``.parquet`` path (see :mod:`quantlab.data.files`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab.data.files import SUPPORTED_SUFFIXES
from quantlab.errors import ConfigError
from quantlab.registry import Registry

#: The kind name of file paths in a per-source options mapping (``{"file": {...}}``).
FILE_SOURCE = "file"

#: Reads raw data: ``read(symbol, interval, start, end, **options) -> DataFrame``.
Reader = Callable[..., pd.DataFrame]

#: What a source gives: ``"bars"`` (OHLCV bars, validated by ``ql.data.load`` against the
#: bar schema, offered by every bar picker) or ``"swaps"`` (on-chain swaps, a validated
#: swap frame, see :func:`quantlab.data.solana.load_swaps`).
SOURCE_KINDS = ("bars", "swaps")


@dataclass(frozen=True)
class DataSource:
    """A named source of data, the kind of frame it gives and the options it accepts.

    Attributes
    ----------
    name : str
        The name ``ql.data.load`` takes (``"synthetic"``).
    read : callable
        ``read(symbol, interval, start, end, **options)`` returning raw bars (validated
        afterwards by the loader); ``interval`` may be ``None`` where
        ``default_interval`` is ``None`` (the source then finds it). For a source of
        another ``kind``, the finished frame (the loader passes it on as it is).
    options : tuple of str, or a callable returning one
        Option names the source accepts; any other is refused before ``read`` runs (a
        callable is called on first use, so that registering stays import-light).
    default_symbol : str, optional
        Used when no symbol is given; ``None`` makes the symbol required.
    default_interval : str, optional
        Used when no interval is given; ``None``: the source finds it (e.g. the only
        interval stored for the symbol).
    description : str
        One line for listings and error messages.
    kind : {"bars", "swaps"}
        What ``read`` gives (:data:`SOURCE_KINDS`); only ``"bars"`` sources feed bar
        pickers, ``ql.data.check`` and anything else that needs bars.

    Raises
    ------
    ConfigError
        ``kind`` is not one of :data:`SOURCE_KINDS`.
    """

    name: str
    read: Reader
    options: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    default_symbol: str | None = None
    default_interval: str | None = "1h"
    description: str = ""
    kind: str = "bars"

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ConfigError(
                f"DataSource {self.name!r}: kind {self.kind!r} is not one of "
                f"{', '.join(SOURCE_KINDS)}"
            )

    def accepted(self) -> tuple[str, ...]:
        """Return the option names this source accepts."""
        return tuple(self.options() if callable(self.options) else self.options)

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ConfigError if ``options`` holds a name this source does not accept."""
        accepted = self.accepted()
        unknown = sorted(set(options) - set(accepted))
        if not unknown:
            return
        owners = [
            other.name
            for _, other in SOURCES.items()
            if other.name != self.name and set(unknown) <= set(other.accepted())
        ]
        hint = f" (an option of source {' or '.join(map(repr, owners))})" if owners else ""
        raise ConfigError(
            f"load: unknown option(s) {unknown} for source {self.name!r}{hint}; it accepts: "
            f"{', '.join(accepted) or 'none'}. In a notebook give per-source options, e.g. "
            f"options={{'{self.name}': {{...}}}}, or none: options={{}}"
        )


SOURCES: Registry[DataSource] = Registry("data source", entry_point_group="quantlab.data_sources")


def source_names(kind: str | None = None) -> list[str]:
    """Return the registered source names, sorted; only those of ``kind`` if given.

    ``source_names("bars")`` is what a bar picker offers (no swap source).

    Raises
    ------
    ConfigError
        ``kind`` is not one of :data:`SOURCE_KINDS`.
    """
    if kind is None:
        return SOURCES.names()
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"kind: {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    return [name for name, src in SOURCES.items() if src.kind == kind]


def is_path(source: Any) -> bool:
    """Return True if ``source`` names a bars file rather than a registered source."""
    if isinstance(source, Path):
        return True
    return isinstance(source, str) and source.lower().endswith(SUPPORTED_SUFFIXES)


def get_source(name: Any) -> DataSource:
    """Return the registered source ``name``.

    Raises
    ------
    ConfigError
        Unknown name: the message lists the registered sources and the file suffixes.
    """
    if not isinstance(name, str) or name not in SOURCES:
        raise ConfigError(
            f"load: unknown source {name!r}; use one of {', '.join(SOURCES.names())} or the "
            f"path of a file ending in {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return SOURCES.get(name)


def source_kind(source: Any) -> str:
    """Return ``"file"`` for a path, else the source name itself."""
    return FILE_SOURCE if is_path(source) else str(source)


def source_options(source: Any, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the options that apply to ``source`` out of a notebook's ``options``.

    ``options`` is either per source, keyed by source name (``"file"`` for paths)::

        {"synthetic": {"seed": 7}, "hyperliquid": {"funding": "optional"}}

    and then only the chosen source's entry is used (none: no options), or flat
    (``{"seed": 7}``), and then it is meant for the chosen source and checked against it
    by :func:`quantlab.data.load`.

    Raises
    ------
    ConfigError
        ``options`` is not a mapping, or a per-source entry is not one.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(
            f"options: expected a mapping such as {{'synthetic': {{'seed': 7}}}}, got "
            f"{type(options).__name__} {options!r}"
        )
    kinds = {*SOURCES.names(), FILE_SOURCE}
    if options and all(key in kinds for key in options):
        chosen = options.get(source_kind(source), {})
        if chosen is None:
            return {}
        if not isinstance(chosen, Mapping):
            raise ConfigError(
                f"options[{source_kind(source)!r}]: expected a mapping of option names to "
                f"values, got {chosen!r}"
            )
        return dict(chosen)
    return dict(options)


# ------------------------------------------------------------------ built-in sources


def _read_synthetic(
    symbol: str, interval: str, start: Any, end: Any, **options: Any
) -> pd.DataFrame:
    from quantlab.data.synthetic import synthetic_bars

    return synthetic_bars(symbol=symbol, interval=interval, start=start, end=end, **options)


def _read_hyperliquid(
    symbol: str, interval: str, start: Any, end: Any, **options: Any
) -> pd.DataFrame:
    from quantlab.data.hyperliquid import load_hyperliquid

    return load_hyperliquid(symbol, interval, start, end, **options)


def _read_store(
    symbol: str,
    interval: str | None,
    start: Any,
    end: Any,
    *,
    root: Any = "data",
    origin: str = "hyperliquid",
) -> pd.DataFrame:
    from quantlab.data.store import Store

    store = Store(root)
    if interval is None:
        interval = store.only_interval(origin, symbol)
    df = store.read(origin, symbol, interval, start=start, end=end)
    df.attrs = {"interval": interval}
    return df


def _read_solana(
    symbol: str | None, interval: str | None, start: Any, end: Any, **options: Any
) -> pd.DataFrame:
    from quantlab.data.solana import load_swaps

    if interval is not None:
        raise ConfigError(
            f"load('solana'): interval={interval!r} does not apply; the source gives swaps, "
            "not bars (make bars with ql.data.solana.flow_bars(swaps, token, interval))"
        )
    if symbol is not None:
        options.setdefault("token", symbol)
    return load_swaps(start=start, end=end, **options)


def _solana_options() -> tuple[str, ...]:
    import inspect

    from quantlab.data.solana import simulate

    market = [p for p in inspect.signature(simulate).parameters if p not in ("seed", "start")]
    return ("wallets", "token", "root", "seed", *market)


def _synthetic_options() -> tuple[str, ...]:
    from quantlab.data.synthetic import MarketParams

    return ("seed", "n_bars", *MarketParams.field_names())


def _hyperliquid_options() -> tuple[str, ...]:
    from quantlab.data.hyperliquid import BARS_OPTIONS, CLIENT_OPTIONS

    return (*CLIENT_OPTIONS, *BARS_OPTIONS)


def _register_builtins() -> None:
    """Register the built-in sources: synthetic, hyperliquid, store, solana (the one place)."""
    SOURCES.register(
        "synthetic",
        DataSource(
            "synthetic",
            _read_synthetic,
            options=_synthetic_options,
            default_symbol="BTC",
            default_interval="1h",
            description="the embedded, seeded market simulator (offline)",
        ),
    )
    SOURCES.register(
        "hyperliquid",
        DataSource(
            "hyperliquid",
            _read_hyperliquid,
            options=_hyperliquid_options,
            default_interval="1h",
            description="Hyperliquid perp candles and funding (network)",
        ),
    )
    SOURCES.register(
        "store",
        DataSource(
            "store",
            _read_store,
            options=("root", "origin"),
            default_interval=None,
            description="the local Parquet archive written by `quantlab data fetch`",
        ),
    )
    SOURCES.register(
        "solana",
        DataSource(
            "solana",
            _read_solana,
            options=_solana_options,
            default_interval=None,
            description="on-chain swaps: stored by `quantlab solana fetch`, or seed= for "
            "the embedded on-chain market",
            kind="swaps",
        ),
    )


_register_builtins()
