"""The runner's journal: one SQLite file in WAL mode, written before anything is acted on.

Schema (version 1; stable, read by the handle, the dashboards and replay)
-------------------------------------------------------------------------
``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``schema_version`` (``"1"``), ``strategy_hash``, ``strategy`` (canonical JSON of the
    configuration), ``symbol``, ``interval``, ``mode``, ``init_cash``, ``created_ms``, the
    kill switch (``kill_mode``, ``kill_reason``, ``kill_ms``; absent or empty when
    clear; ``kill_until_ms`` when a daily-loss trip expires), ``heartbeat`` (JSON:
    time_ms, pid, phase, reconciled, bars, last_bar, position, equity), ``stopped`` (JSON:
    time_ms, reason) and ``adopted:<symbol>`` (position taken over from, or given up to,
    the venue outside the runner's own fills).
``bars(symbol, time_ms, open, high, low, close, volume, funding_rate)``
    Every closed bar the runner decided on, keyed by ``(symbol, time_ms)`` (bar open time,
    epoch ms). ``ql.live.replay`` backtests these.
``decisions(symbol, time_ms, bar_index, target, equity, position, state)``
    One row per symbol and bar: the engine step's output and its account state (JSON list
    in the ``S_*`` layout of :mod:`quantlab.kernels.backtest`), the checkpoint a restart
    resumes from.
``intents(client_order_id PK, symbol, bar_ms, action, side, size, order_type, limit_px,
trigger_px, reduce_only, tif, reason, status, created_ms, updated_ms, error, impact_size)``
    An order the runner decided to send, written *before* it is sent. ``UNIQUE(symbol,
    bar_ms, action)``: one entry per symbol, bar and action. ``status``: ``pending``
    (written, not yet known to be on the exchange), ``sent``, ``rejected``, ``canceled``,
    ``filled``, ``unknown`` (answer lost; resolved by reconciliation), ``skipped``.
    ``impact_size`` (NULL unless the cost model's impact term is on): an entry's size
    before costs, on which a paper account measures its impact (``OrderIntent.impact_size``);
    added to version 1 as a nullable last column (an older file gains it when opened for
    writing).
``orders(client_order_id PK, oid, symbol, side, size, order_type, limit_px, trigger_px,
reduce_only, status, filled, avg_px, source, updated_ms)``
    The exchange's view of each order; ``source`` is ``runner`` or ``adopted``.
``fills(tid PK, oid, client_order_id, symbol, side, size, price, fee, time_ms, closed_pnl,
liquidity)``
    Fills, de-duplicated by the exchange's fill id ``tid``.
``positions(symbol PK, size, entry_px, updated_ms)``
    The position last confirmed by the exchange.
``equity(symbol, time_ms, equity, cash, position, price)``
    The account at each bar close (the runner's engine state), keyed by ``(symbol,
    time_ms)``.
``events(id PK, time_ms, level, kind, message, data)``
    Everything that happened, in order (``data`` is JSON).
``control(id PK, time_ms, command, arg, done_ms)``
    Requests from the handle or the CLI (``kill``, ``clear_kill``, ``stop``), executed by
    the runner in order.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantlab.errors import ConfigError, DataError

__all__ = ["INTENT_STATUSES", "SCHEMA_VERSION", "Journal", "now_ms"]

SCHEMA_VERSION = "1"

INTENT_STATUSES = ("pending", "sent", "rejected", "canceled", "filled", "unknown", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL, time_ms INTEGER NOT NULL, open REAL, high REAL, low REAL,
    close REAL, volume REAL, funding_rate REAL, PRIMARY KEY (symbol, time_ms));
CREATE TABLE IF NOT EXISTS decisions (
    symbol TEXT NOT NULL, time_ms INTEGER NOT NULL, bar_index INTEGER NOT NULL,
    target REAL, equity REAL, position REAL, state TEXT NOT NULL,
    PRIMARY KEY (symbol, time_ms));
CREATE TABLE IF NOT EXISTS intents (
    client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, bar_ms INTEGER NOT NULL,
    action TEXT NOT NULL, side TEXT NOT NULL, size REAL NOT NULL, order_type TEXT NOT NULL,
    limit_px REAL, trigger_px REAL, reduce_only INTEGER NOT NULL, tif TEXT, reason TEXT,
    status TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    error TEXT, impact_size REAL, UNIQUE (symbol, bar_ms, action));
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, oid INTEGER, symbol TEXT NOT NULL, side TEXT,
    size REAL, order_type TEXT, limit_px REAL, trigger_px REAL, reduce_only INTEGER,
    status TEXT NOT NULL, filled REAL, avg_px REAL, source TEXT NOT NULL,
    updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    tid TEXT PRIMARY KEY, oid INTEGER, client_order_id TEXT, symbol TEXT NOT NULL,
    side TEXT NOT NULL, size REAL NOT NULL, price REAL NOT NULL, fee REAL, time_ms INTEGER,
    closed_pnl REAL, liquidity TEXT);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY, size REAL NOT NULL, entry_px REAL, updated_ms INTEGER);
CREATE TABLE IF NOT EXISTS equity (
    symbol TEXT NOT NULL, time_ms INTEGER NOT NULL, equity REAL, cash REAL, position REAL,
    price REAL, PRIMARY KEY (symbol, time_ms));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, level TEXT NOT NULL,
    kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, command TEXT NOT NULL,
    arg TEXT, done_ms INTEGER);
"""

CONTROL_COMMANDS = ("kill", "clear_kill", "stop")


def now_ms() -> int:
    """Return the wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not np.isfinite(x):
        return None
    if isinstance(x, np.floating | np.integer):
        return _jsonable(x.item())
    return x


class Journal:
    """The runner's SQLite journal (WAL mode, one writer, many readers).

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder when missing, unless ``readonly``).
    readonly : bool
        Open an existing journal for reading only (the handle, dashboards, replay).
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.is_file():
                raise ConfigError(f"journal: file {str(self.path)!r} does not exist")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._con = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
            columns = {r[1] for r in self._con.execute("PRAGMA table_info(intents)")}
            if "impact_size" not in columns:  # a journal written before the column
                self._con.execute("ALTER TABLE intents ADD COLUMN impact_size REAL")
            self._con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        self._con.execute("PRAGMA busy_timeout=30000")
        self._con.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if readonly:
            version = self.get_meta("schema_version")
            if version != SCHEMA_VERSION:
                raise DataError(
                    f"journal {self.path}: schema_version {version!r}, expected {SCHEMA_VERSION!r}"
                )

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one immediate transaction (all or nothing)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _write(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.readonly:
            raise ConfigError(f"journal {self.path}: opened read-only")
        with self._lock:
            return self._con.execute(sql, tuple(_jsonable(a) for a in args))

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._con.execute(sql, tuple(args)).fetchall()]

    def frame(self, table: str, where: str = "", args: Sequence[Any] = ()) -> pd.DataFrame:
        """Return a whole table (optionally filtered by a ``WHERE`` clause) as a frame."""
        if table not in (
            "bars",
            "decisions",
            "intents",
            "orders",
            "fills",
            "positions",
            "equity",
            "events",
            "control",
        ):
            raise ConfigError(f"journal: unknown table {table!r}")
        sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "")
        with self._lock:
            return pd.read_sql_query(sql, self._con, params=tuple(args))

    # ---------------------------------------------------------------------- meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """Return a meta value (text) or ``default``."""
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a meta value (``None`` deletes it)."""
        if value is None:
            self._write("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def meta(self) -> dict[str, str]:
        """Return every meta value."""
        return {r["key"]: r["value"] for r in self._rows("SELECT key, value FROM meta")}

    def bind(
        self,
        *,
        strategy_hash: str,
        strategy_json: str,
        symbol: str,
        interval: str,
        mode: str,
        init_cash: float,
    ) -> None:
        """Tie the journal to one strategy, symbol, interval and mode (checked on reuse).

        Raises
        ------
        ConfigError
            The journal already belongs to another strategy hash, symbol, interval or
            mode: a runner never resumes someone else's orders.
        """
        wanted = {
            "strategy_hash": strategy_hash,
            "symbol": symbol,
            "interval": interval,
            "mode": mode,
        }
        with self.transaction() as con:
            have = {r[0]: r[1] for r in con.execute("SELECT key, value FROM meta").fetchall()}
            for key, value in wanted.items():
                if key in have and have[key] != value:
                    raise ConfigError(
                        f"journal {self.path}: {key} is {have[key]!r}, this runner has "
                        f"{value!r}; use another --journal"
                    )
            for key, value in {
                **wanted,
                "strategy": strategy_json,
                "init_cash": repr(float(init_cash)),
            }.items():
                con.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            con.execute("INSERT OR IGNORE INTO meta VALUES ('created_ms', ?)", (str(now_ms()),))

    # ---------------------------------------------------------------------- bars
    def add_bar(self, symbol: str, time_ms: int, bar: Mapping[str, float]) -> None:
        """Journal a closed bar (a repeated bar must be identical)."""
        self._write(
            "INSERT OR IGNORE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                symbol,
                int(time_ms),
                float(bar["open"]),
                float(bar["high"]),
                float(bar["low"]),
                float(bar["close"]),
                float(bar.get("volume", 0.0)),
                float(bar.get("funding_rate", 0.0)),
            ),
        )

    def bars(self, symbol: str | None = None) -> pd.DataFrame:
        """Return the journaled bars of a symbol (default: the bound one) as a bar frame."""
        symbol = symbol or self.get_meta("symbol")
        df = self.frame("bars", "symbol = ? ORDER BY time_ms", (symbol,))
        index = pd.DatetimeIndex(pd.to_datetime(df["time_ms"], unit="ms", utc=True), name="time")
        cols = ["open", "high", "low", "close", "volume", "funding_rate"]
        return pd.DataFrame(df[cols].to_numpy(dtype=np.float64), index=index, columns=cols)

    # ----------------------------------------------------------------- decisions
    def save_decision(
        self,
        symbol: str,
        time_ms: int,
        bar_index: int,
        target: float,
        state: np.ndarray,
        *,
        price: float,
    ) -> None:
        """Journal one engine step (its state is the checkpoint) and the bar's equity."""
        equity = float(state[14])  # S_EQUITY
        position = float(state[1])  # S_QTY
        cash = float(state[0])  # S_CASH
        blob = json.dumps([None if not np.isfinite(v) else float(v) for v in state])
        with self.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (symbol, int(time_ms), int(bar_index), float(target), equity, position, blob),
            )
            con.execute(
                "INSERT OR REPLACE INTO equity VALUES (?, ?, ?, ?, ?, ?)",
                (symbol, int(time_ms), equity, cash, position, float(price)),
            )

    def last_decision(self, symbol: str) -> dict[str, Any] | None:
        """Return the latest decision row of a symbol, its ``state`` as an array, or None."""
        rows = self._rows(
            "SELECT * FROM decisions WHERE symbol = ? ORDER BY time_ms DESC LIMIT 1", (symbol,)
        )
        if not rows:
            return None
        row = rows[0]
        row["state"] = np.array(
            [np.nan if v is None else v for v in json.loads(row["state"])], dtype=np.float64
        )
        return row

    # ------------------------------------------------------------------- intents
    def record_intent(self, intent: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Write an intent before it is sent; return ``(new, row)``.

        ``new`` is False when the same client order id (or the same symbol, bar and
        action) is already journaled: the caller must not send it again.
        """
        t = now_ms()
        fields = (
            intent["client_order_id"],
            intent["symbol"],
            int(intent["bar_ms"]),
            intent["action"],
            intent["side"],
            float(intent["size"]),
            intent["order_type"],
            intent.get("limit_px"),
            intent.get("trigger_px"),
            int(bool(intent.get("reduce_only", False))),
            intent.get("tif"),
            intent.get("reason", ""),
            intent.get("status", "pending"),
            t,
            t,
            None,
            intent.get("impact_size"),
        )
        with self.transaction() as con:
            cur = con.execute(
                "INSERT OR IGNORE INTO intents (client_order_id, symbol, bar_ms, action, "
                "side, size, order_type, limit_px, trigger_px, reduce_only, tif, reason, "
                "status, created_ms, updated_ms, error, impact_size) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(_jsonable(f) for f in fields),
            )
            new = cur.rowcount == 1
            row = con.execute(
                "SELECT * FROM intents WHERE client_order_id = ? OR "
                "(symbol = ? AND bar_ms = ? AND action = ?)",
                (
                    intent["client_order_id"],
                    intent["symbol"],
                    int(intent["bar_ms"]),
                    intent["action"],
                ),
            ).fetchone()
        return new, dict(row)

    def set_intent_status(self, cloid: str, status: str, error: str | None = None) -> None:
        """Update an intent's status (one of :data:`INTENT_STATUSES`)."""
        if status not in INTENT_STATUSES:
            raise ConfigError(f"intent status {status!r} is not one of {INTENT_STATUSES}")
        self._write(
            "UPDATE intents SET status = ?, updated_ms = ?, error = COALESCE(?, error) "
            "WHERE client_order_id = ?",
            (status, now_ms(), error, cloid),
        )

    def intent(self, cloid: str) -> dict[str, Any] | None:
        """Return one intent row or None."""
        rows = self._rows("SELECT * FROM intents WHERE client_order_id = ?", (cloid,))
        return rows[0] if rows else None

    def intents(self, status: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Return intents (optionally of some statuses), oldest first."""
        if status:
            marks = ",".join("?" * len(status))
            return self._rows(
                f"SELECT * FROM intents WHERE status IN ({marks}) ORDER BY created_ms, rowid",
                tuple(status),
            )
        return self._rows("SELECT * FROM intents ORDER BY created_ms, rowid")

    # -------------------------------------------------------------------- orders
    def upsert_order(self, order: Mapping[str, Any], *, source: str = "runner") -> None:
        """Record the exchange's view of an order (keyed by client order id)."""
        self._write(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(client_order_id) DO UPDATE SET oid = COALESCE(excluded.oid, oid), "
            "status = excluded.status, filled = excluded.filled, avg_px = excluded.avg_px, "
            "trigger_px = COALESCE(excluded.trigger_px, trigger_px), "
            "updated_ms = excluded.updated_ms",
            (
                order["client_order_id"],
                order.get("oid"),
                order["symbol"],
                order.get("side"),
                order.get("size"),
                order.get("order_type"),
                order.get("limit_px"),
                order.get("trigger_px"),
                int(bool(order.get("reduce_only", False))),
                order["status"],
                order.get("filled", 0.0),
                order.get("avg_px"),
                source,
                now_ms(),
            ),
        )

    def orders(self, status: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Return journaled orders (optionally of some statuses)."""
        if status:
            marks = ",".join("?" * len(status))
            return self._rows(
                f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY rowid", tuple(status)
            )
        return self._rows("SELECT * FROM orders ORDER BY rowid")

    # --------------------------------------------------------------------- fills
    def add_fill(self, fill: Mapping[str, Any]) -> bool:
        """Journal a fill; return False when its exchange id ``tid`` is already there."""
        cur = self._write(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(fill["tid"]),
                fill.get("oid"),
                fill.get("client_order_id"),
                fill["symbol"],
                fill["side"],
                float(fill["size"]),
                float(fill["price"]),
                float(fill.get("fee", 0.0)),
                int(fill.get("time_ms", 0)),
                float(fill.get("closed_pnl", 0.0)),
                fill.get("liquidity"),
            ),
        )
        return cur.rowcount == 1

    def fills(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Return the journaled fills in time order."""
        if symbol:
            return self._rows(
                "SELECT * FROM fills WHERE symbol = ? ORDER BY time_ms, rowid", (symbol,)
            )
        return self._rows("SELECT * FROM fills ORDER BY time_ms, rowid")

    def last_fill_ms(self) -> int | None:
        """Return the time of the latest journaled fill (epoch ms) or None."""
        rows = self._rows("SELECT MAX(time_ms) AS t FROM fills")
        return None if rows[0]["t"] is None else int(rows[0]["t"])

    # ----------------------------------------------------------------- positions
    def set_position(self, symbol: str, size: float, entry_px: float | None) -> None:
        """Record the position the exchange confirmed."""
        self._write(
            "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)",
            (symbol, float(size), entry_px, now_ms()),
        )

    def positions(self) -> dict[str, dict[str, Any]]:
        """Return the confirmed positions by symbol."""
        return {r["symbol"]: r for r in self._rows("SELECT * FROM positions")}

    # -------------------------------------------------------------------- events
    def event(
        self, kind: str, message: str, *, level: str = "info", data: Mapping[str, Any] | None = None
    ) -> None:
        """Append an event (``level``: debug, info, warning, error, critical)."""
        text = json.dumps(dict(data or {}), default=str, allow_nan=False) if data else None
        self._write(
            "INSERT INTO events (time_ms, level, kind, message, data) VALUES (?, ?, ?, ?, ?)",
            (now_ms(), level, kind, message, text),
        )

    def events(self, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Return events, oldest first (the last ``limit`` when given)."""
        where = "WHERE kind = ?" if kind else ""
        args: tuple[Any, ...] = (kind,) if kind else ()
        sql = f"SELECT * FROM events {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(reversed(self._rows(sql, args)))

    # ------------------------------------------------------------------- control
    def request(self, command: str, arg: str | None = None) -> int:
        """Queue a control request for the runner; return its id."""
        if command not in CONTROL_COMMANDS:
            raise ConfigError(f"control command {command!r} is not one of {CONTROL_COMMANDS}")
        cur = self._write(
            "INSERT INTO control (time_ms, command, arg) VALUES (?, ?, ?)",
            (now_ms(), command, arg),
        )
        return int(cur.lastrowid or 0)

    def pending_requests(self) -> list[dict[str, Any]]:
        """Return control requests not yet executed, oldest first."""
        return self._rows("SELECT * FROM control WHERE done_ms IS NULL ORDER BY id")

    def mark_done(self, request_id: int) -> None:
        """Mark a control request executed."""
        self._write("UPDATE control SET done_ms = ? WHERE id = ?", (now_ms(), int(request_id)))

    # --------------------------------------------------------------- kill switch
    def kill_state(self) -> dict[str, Any] | None:
        """Return ``{"mode", "reason", "since_ms"}`` while the kill switch is on, else None."""
        m = self.meta()
        mode = m.get("kill_mode")
        if not mode:
            return None
        return {"mode": mode, "reason": m.get("kill_reason", ""), "since_ms": int(m["kill_ms"])}

    def set_kill(self, mode: str, reason: str) -> None:
        """Trip the kill switch (sticky: only :meth:`clear_kill` turns it off)."""
        with self.transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES ('kill_mode', ?)", (mode,))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('kill_reason', ?)", (reason,))
            con.execute("INSERT OR REPLACE INTO meta VALUES ('kill_ms', ?)", (str(now_ms()),))

    def clear_kill(self) -> None:
        """Turn the kill switch off."""
        with self.transaction() as con:
            con.execute("DELETE FROM meta WHERE key IN ('kill_mode', 'kill_reason', 'kill_ms')")
