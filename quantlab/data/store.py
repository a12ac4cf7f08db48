"""The local archive of bars: Parquet files per series, DuckDB to query across them.

Layout::

    <root>/<source>/<symbol>/<interval>/<partition>.parquet

one file per calendar year (``2024.parquet``) for intervals of an hour or more, per month
(``2024-05.parquet``) below. Each file is a frame of bars (the ``time`` index stored as a
UTC timestamp column). Writing merges into the partitions it touches: rows at a timestamp
already stored replace it (newest wins), so appending an overlapping range never creates a
duplicate. Every file is written to a temporary name and renamed over the old one (atomic
on POSIX), under a per-series lock, so a reader never sees half a file.

    store = Store("data")
    store.write(df, "hyperliquid", "BTC", "1h")
    store.read("hyperliquid", "BTC", "1h", start="2024-01-01")
    store.coverage()
    store.query("SELECT symbol, count(*) FROM bars GROUP BY symbol")
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab._typing import PathLikeStr
from quantlab.data.intervals import interval_seconds, to_utc
from quantlab.data.schema import BAR_COLUMNS, INDEX_NAME, OPTIONAL_COLUMNS, run_checks
from quantlab.errors import ConfigError, DataError, SourceError

COVERAGE_COLUMNS = ("source", "symbol", "interval", "start", "end", "rows")
_SUFFIX = ".parquet"


def _check_name(field: str, value: object) -> str:
    """Return ``value`` if it is safe as one directory name, else raise ConfigError."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{field}: expected a non-empty name, got {value!r}")
    bad = [c for c in ("/", "\\", "\0", ":") if c in value]
    if bad or value.startswith(".") or value != value.strip():
        raise ConfigError(
            f"{field}: {value!r} cannot name a store folder (no '/', '\\', ':', NUL, "
            "leading '.' or surrounding spaces)"
        )
    return value


def _partition_key(index: pd.DatetimeIndex, interval: str) -> np.ndarray:
    """Return the partition name (``"2024"`` or ``"2024-05"``) of each timestamp."""
    if interval_seconds(interval) >= 3600:
        return index.year.astype(str).to_numpy(dtype=object)
    return np.asarray(index.strftime("%Y-%m"), dtype=object)


def _partition_bounds(name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the half-open time span ``[lo, hi)`` a partition file covers."""
    if len(name) == 4:
        lo = pd.Timestamp(f"{name}-01-01", tz="UTC")
        return lo, lo + pd.DateOffset(years=1)
    lo = pd.Timestamp(f"{name}-01", tz="UTC")
    return lo, lo + pd.DateOffset(months=1)


class Store:
    """A folder of Parquet bars, one series per (source, symbol, interval).

    Parameters
    ----------
    root : str or PathLike
        The archive folder (created on the first write).

    Notes
    -----
    A series has one set of columns, fixed by its first write (e.g. with or without
    ``funding_rate``); writing other columns into it is a :class:`DataError`. One writer
    per series at a time is enforced with a lock file where the platform has ``fcntl``.
    """

    def __init__(self, root: PathLikeStr = "data") -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ------------------------------------------------------------------------- layout

    def path(self, source: str, symbol: str, interval: str) -> Path:
        """Return the folder of one series (it may not exist yet)."""
        _check_name("source", source)
        _check_name("symbol", symbol)
        _check_name("interval", interval)
        interval_seconds(interval)  # raises ConfigError for an unknown interval
        return self.root / source / symbol / interval

    def _files(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.endswith(_SUFFIX) and p.is_file())

    def _all_files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.glob(f"*/*/*/*{_SUFFIX}") if p.is_file() and p.name[0] != "."
        )

    @contextlib.contextmanager
    def locked(self, folder: Path) -> Iterator[None]:
        """Hold the exclusive write lock of a partition folder (every store writer takes it)."""
        folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        with open(folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def read_file(path: Path) -> pd.DataFrame:
        """Read one partition file; a damaged file is a :class:`SourceError` naming it."""
        try:
            df = pd.read_parquet(path, engine="pyarrow")
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise SourceError(f"store: cannot read {path}: {type(exc).__name__}: {exc}") from exc
        df.attrs = {}
        return df

    @staticmethod
    def _read_times(path: Path) -> pd.DatetimeIndex:
        """Return only the ``time`` column of a partition file."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path, columns=[INDEX_NAME])
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise SourceError(f"store: cannot read {path}: {type(exc).__name__}: {exc}") from exc
        return pd.DatetimeIndex(table.column(INDEX_NAME).to_pandas(), name=INDEX_NAME)

    @staticmethod
    def write_file(df: pd.DataFrame, path: Path) -> None:
        """Write one partition file atomically (a temporary file, fsync, rename)."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as handle:
                df.to_parquet(handle, engine="pyarrow", index=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    # -------------------------------------------------------------------------- write

    @staticmethod
    def _check_bars(df: pd.DataFrame, where: str, interval: str) -> list[str]:
        """Check the bar rules (missing bars allowed) and return the canonical columns."""
        for check in run_checks(df, interval):
            if not check.ok and check.rule not in ("no gaps", "at least one bar"):
                raise DataError(f"{where}: {check.message()}")
        allowed = (*BAR_COLUMNS, *OPTIONAL_COLUMNS)
        extra = [c for c in df.columns if c not in allowed]
        if extra:
            raise DataError(
                f"{where}: column(s) {extra} are not bar columns; the store keeps {list(allowed)}"
            )
        return [c for c in allowed if c in df.columns]

    def _stored_columns(self, files: list[Path]) -> list[str] | None:
        if not files:
            return None
        import pyarrow.parquet as pq

        names = pq.read_schema(files[-1]).names
        return [c for c in (*BAR_COLUMNS, *OPTIONAL_COLUMNS) if c in names]

    def write(self, df: pd.DataFrame, source: str, symbol: str, interval: str) -> int:
        """Merge bars into the archive; return the number of rows written.

        Parameters
        ----------
        df : pd.DataFrame
            Bars (the schema's rules hold; missing bars are allowed).
        source, symbol, interval : str
            The series, e.g. ``("hyperliquid", "BTC", "1h")``.

        Returns
        -------
        int
            ``len(df)``: rows inserted or replacing the stored row at the same time.

        Raises
        ------
        DataError
            ``df`` breaks a bar rule (among them: its spacing is not ``interval``, e.g. 1h
            bars written as a 15m series), has a non-bar column, or its columns differ
            from the series' stored ones.
        ConfigError
            A name cannot be a folder, or the interval does not parse.
        """
        folder = self.path(source, symbol, interval)
        where = f"store {source}/{symbol}/{interval}"
        columns = self._check_bars(df, where, interval)
        if df.empty:
            return 0
        new = df[columns].copy()
        new.attrs = {}
        keys = _partition_key(new.index, interval)
        with self.locked(folder):
            stored = self._stored_columns(self._files(folder))
            if stored is not None and stored != columns:
                missing = [c for c in stored if c not in columns]
                extra = [c for c in columns if c not in stored]
                raise DataError(
                    f"{where}: columns differ from the stored series {stored}: "
                    f"missing {missing}, extra {extra}; a series keeps one set of columns"
                )
            for key in pd.unique(keys):
                part = new[keys == key]
                path = folder / f"{key}{_SUFFIX}"
                if path.exists():
                    old = self.read_file(path)
                    part = pd.concat([old[~old.index.isin(part.index)], part]).sort_index()
                self._check_bars(part, f"{where} ({path.name} after merging)", interval)
                self.write_file(part, path)
        return len(new)

    # --------------------------------------------------------------------------- read

    def read(
        self,
        source: str,
        symbol: str,
        interval: str,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Return the stored bars of one series in ``[start, end)``.

        Parameters
        ----------
        source, symbol, interval : str
            The series.
        start, end : str, datetime, Timestamp or int (epoch ms), optional
            Half-open range of bar open times; naive values are UTC.

        Returns
        -------
        pd.DataFrame
            Bars sorted by time, columns in the canonical order; empty (with the series'
            columns) when nothing is stored in the range.

        Raises
        ------
        SourceError
            Nothing is stored for the series.
        """
        folder = self.path(source, symbol, interval)
        files = self._files(folder)
        if not files:
            series = self.coverage()[["source", "symbol", "interval"]]
            known = ", ".join("/".join(row) for row in series.itertuples(index=False))
            raise SourceError(
                f"store: no bars for {source}/{symbol}/{interval} under {self.root} "
                f"(stored: {known or 'nothing'}); fetch them with `quantlab data fetch`"
            )
        lo = to_utc(start, "start") if start is not None else None
        hi = to_utc(end, "end") if end is not None else None
        frames = []
        for path in files:
            p_lo, p_hi = _partition_bounds(path.name[: -len(_SUFFIX)])
            if (lo is not None and p_hi <= lo) or (hi is not None and p_lo >= hi):
                continue
            frames.append(self.read_file(path))
        if not frames:
            frames = [self.read_file(files[-1]).iloc[:0]]
        df = pd.concat(frames) if len(frames) > 1 else frames[0]
        df = df.sort_index()
        if lo is not None:
            df = df[df.index >= lo]
        if hi is not None:
            df = df[df.index < hi]
        df.index.name = INDEX_NAME
        return df

    def intervals(self, source: str, symbol: str) -> list[str]:
        """Return the intervals stored for one symbol of a source (folders holding bars)."""
        _check_name("source", source)
        _check_name("symbol", symbol)
        folder = self.root / source / symbol
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and self._files(p)]
        return sorted(found, key=lambda name: (interval_seconds(name), name))

    def only_interval(self, source: str, symbol: str) -> str:
        """Return the one interval stored for a symbol (what ``interval=None`` means).

        Raises
        ------
        SourceError
            Nothing is stored for the symbol.
        ConfigError
            Several intervals are stored: the message lists them.
        """
        found = self.intervals(source, symbol)
        if not found:
            series = self.coverage()[["source", "symbol", "interval"]]
            known = ", ".join("/".join(row) for row in series.itertuples(index=False))
            raise SourceError(
                f"store: no bars for {source}/{symbol} under {self.root} "
                f"(stored: {known or 'nothing'}); fetch them with `quantlab data fetch`"
            )
        if len(found) > 1:
            raise ConfigError(
                f"interval: {source}/{symbol} is stored at {', '.join(found)}; pick one, "
                f"e.g. interval='{found[0]}'"
            )
        return found[0]

    def last(self, source: str, symbol: str, interval: str) -> pd.Timestamp | None:
        """Return the open time of the latest stored bar of a series (None if empty)."""
        files = self._files(self.path(source, symbol, interval))
        for path in reversed(files):
            index = self._read_times(path)
            if len(index):
                return index.max()
        return None

    # ----------------------------------------------------------------- across series

    def coverage(self) -> pd.DataFrame:
        """Return one row per stored series: ``source symbol interval start end rows``."""
        rows = []
        for folder in sorted({p.parent for p in self._all_files()}):
            times = [self._read_times(p) for p in self._files(folder)]
            times = [t for t in times if len(t)]
            if not times:
                continue
            rows.append(
                {
                    "source": folder.parent.parent.name,
                    "symbol": folder.parent.name,
                    "interval": folder.name,
                    "start": min(t.min() for t in times),
                    "end": max(t.max() for t in times),
                    "rows": sum(len(t) for t in times),
                }
            )
        if not rows:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERAGE_COLUMNS})
        return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))

    def connect(self) -> Any:
        """Return an in-memory DuckDB connection with a view ``bars`` over the archive.

        ``bars`` has columns ``source, symbol, interval, time`` (UTC) and the bar columns
        (NULL where a series has no such column). The session time zone is UTC.
        """
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        files = [str(p) for p in self._all_files()]
        if not files:
            nulls = ", ".join(
                f"CAST(NULL AS DOUBLE) AS {c}" for c in (*BAR_COLUMNS, *OPTIONAL_COLUMNS)
            )
            con.execute(
                "CREATE VIEW bars AS SELECT CAST(NULL AS VARCHAR) AS source, "
                "CAST(NULL AS VARCHAR) AS symbol, CAST(NULL AS VARCHAR) AS interval, "
                f"CAST(NULL AS TIMESTAMPTZ) AS time, {nulls} WHERE false"
            )
            return con
        con.read_parquet(files, filename=True, union_by_name=True).create_view("_bar_files")
        present = {row[0] for row in con.execute("DESCRIBE _bar_files").fetchall()}
        values = ", ".join(
            c if c in present else f"CAST(NULL AS DOUBLE) AS {c}"
            for c in (*BAR_COLUMNS, *OPTIONAL_COLUMNS)
        )
        sep = r"[/\\]"
        part = r"([^/\\]+)"
        pattern = f"{part}{sep}{part}{sep}{part}{sep}[^/\\\\]+$"
        con.execute(
            "CREATE VIEW bars AS SELECT "
            f"regexp_extract(filename, '{pattern}', 1) AS source, "
            f"regexp_extract(filename, '{pattern}', 2) AS symbol, "
            f"regexp_extract(filename, '{pattern}', 3) AS interval, "
            f"CAST(time AS TIMESTAMPTZ) AS time, {values} FROM _bar_files"
        )
        return con

    def query(self, sql: str, params: Any = None) -> pd.DataFrame:
        """Run DuckDB SQL over every stored series (view ``bars``) and return a DataFrame.

        Parameters
        ----------
        sql : str
            E.g. ``"SELECT symbol, avg(close) FROM bars WHERE interval = '1h' GROUP BY 1"``.
        params : sequence or dict, optional
            Prepared-statement parameters (``?`` or ``$name``).

        Raises
        ------
        ConfigError
            The SQL does not run (syntax, unknown column), with DuckDB's message.
        """
        import duckdb

        con = self.connect()
        try:
            relation = con.sql(sql, params=params)
            # via Arrow: DuckDB's own .df() trips pandas 3 deprecation warnings
            return pd.DataFrame() if relation is None else relation.to_arrow_table().to_pandas()
        except duckdb.Error as exc:
            raise ConfigError(f"store query: {type(exc).__name__}: {exc}") from exc
        finally:
            con.close()
