"""The registry of promotions: an append-only, hash-chained JSON-lines file.

Every transition of every strategy is one line: its sequence number, UTC time, the
strategy hash (and configuration), ``from`` and ``to`` states, the size fraction it
grants, who or what made it, why, and the evidence with its hashes. Each line carries the
SHA-256 of its own canonical JSON and of the line before it, so an edited, dropped or
reordered line is detected on the next read (:class:`~quantlab.errors.DataError` naming
the line). Appends hold an exclusive lock on the file and re-check the state under it,
so a runner pausing a strategy and a user promoting it cannot interleave.

The file survives restarts; its default place is ``$QUANTLAB_LIFECYCLE_REGISTRY`` or
``data/lifecycle/promotions.jsonl``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import getpass
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab._plain import text_sha256
from quantlab.errors import ConfigError, DataError, PromotionRefused
from quantlab.lifecycle.states import State, as_state

__all__ = [
    "DEFAULT_PATH",
    "REGISTRY_ENV",
    "PromotionRegistry",
    "Record",
    "default_actor",
    "open_registry",
]

REGISTRY_ENV = "QUANTLAB_LIFECYCLE_REGISTRY"
DEFAULT_PATH = Path("data") / "lifecycle" / "promotions.jsonl"
SCHEMA = "quantlab.lifecycle/1"
GENESIS = "0" * 64


def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def default_actor() -> str:
    """Return ``user@host`` of this process (who made a transition by hand)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@dataclass(frozen=True)
class Record:
    """One transition of one strategy, as stored on one line of the registry."""

    seq: int
    time: str
    strategy_hash: str
    from_state: str
    to_state: str
    size_fraction: float
    step: int
    actor: str
    reason: str
    evidence: dict[str, Any]
    strategy: dict[str, Any] | None
    prev_hash: str
    hash: str
    schema: str = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> State:
        return State(self.to_state)

    @property
    def timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = tuple(Record.__dataclass_fields__)


class PromotionRegistry:
    """The promotions of every strategy, read from and appended to one JSON-lines file.

    Parameters
    ----------
    path : str or Path, optional
        The file (created on the first append). Default ``$QUANTLAB_LIFECYCLE_REGISTRY``
        or ``data/lifecycle/promotions.jsonl``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            path = os.environ.get(REGISTRY_ENV) or DEFAULT_PATH
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"PromotionRegistry({str(self.path)!r})"

    # ---------------------------------------------------------------------- reading

    def records(self, strategy_hash: str | None = None) -> list[Record]:
        """Return every record (of one strategy), oldest first, with the chain verified."""
        out = self._read()
        if strategy_hash is not None:
            out = [r for r in out if r.strategy_hash == strategy_hash]
        return out

    def _read(self) -> list[Record]:
        if not self.path.exists():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"lifecycle registry {self.path}: unreadable ({exc})") from None
        records: list[Record] = []
        prev = GENESIS
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            raise DataError(
                f"lifecycle registry {self.path}: line {len(lines)} is incomplete (no newline;"
                " a write was interrupted); inspect and repair the file by hand"
            )
        for lineno, line in enumerate(lines, start=1):
            where = f"lifecycle registry {self.path}, line {lineno}"
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(doc, dict) or set(doc) != set(_FIELDS):
                got = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
                raise DataError(f"{where}: expected the fields {sorted(_FIELDS)}, got {got}")
            body = {k: v for k, v in doc.items() if k != "hash"}
            if text_sha256(_canonical(body)) != doc["hash"]:
                raise DataError(f"{where}: hash does not match the line's content (edited?)")
            if doc["prev_hash"] != prev:
                raise DataError(
                    f"{where}: prev_hash does not match the line before (a line was removed, "
                    "inserted or reordered)"
                )
            if doc["seq"] != lineno:
                raise DataError(f"{where}: seq {doc['seq']} is not {lineno}")
            records.append(Record(**doc))
            prev = doc["hash"]
        return records

    def current(self, strategy_hash: str) -> Record | None:
        """Return the latest record of a strategy, or None if it was never promoted."""
        recs = self.records(strategy_hash)
        return recs[-1] if recs else None

    def state(self, strategy_hash: str) -> State:
        """Return a strategy's state (``candidate`` when the registry has never seen it)."""
        rec = self.current(strategy_hash)
        return rec.state if rec is not None else State.CANDIDATE

    def since(self, strategy_hash: str, state: State | str) -> Record | None:
        """Return the latest record that moved the strategy into ``state``, or None."""
        s = as_state(state)
        for rec in reversed(self.records(strategy_hash)):
            if rec.to_state == s.value:
                return rec
        return None

    def history(self, strategy_hash: str | None = None) -> pd.DataFrame:
        """Return the transitions (of one strategy) as a table, oldest first."""
        cols = [
            "seq",
            "time",
            "strategy_hash",
            "from_state",
            "to_state",
            "size_fraction",
            "step",
            "actor",
            "reason",
        ]
        rows = [{c: getattr(r, c) for c in cols} for r in self.records(strategy_hash)]
        frame = pd.DataFrame(rows, columns=cols)
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def table(self) -> pd.DataFrame:
        """Return one row per strategy: its current state, size fraction and since when."""
        latest: dict[str, Record] = {}
        for r in self.records():
            latest[r.strategy_hash] = r
        rows = [
            {
                "strategy_hash": h,
                "kind": (r.strategy or {}).get("kind"),
                "state": r.to_state,
                "size_fraction": r.size_fraction,
                "since": pd.Timestamp(r.time),
                "actor": r.actor,
                "reason": r.reason,
            }
            for h, r in latest.items()
        ]
        cols = ["strategy_hash", "kind", "state", "size_fraction", "since", "actor", "reason"]
        return pd.DataFrame(rows, columns=cols)

    # ---------------------------------------------------------------------- writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def append(
        self,
        strategy_hash: str,
        *,
        expect: State | str,
        to: State | str,
        size_fraction: float,
        step: int = 0,
        actor: str | None = None,
        reason: str = "",
        evidence: Mapping[str, Any] | None = None,
        strategy: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        now: _dt.datetime | None = None,
    ) -> Record:
        """Append one transition; refuse it if the strategy is no longer in ``expect``.

        The caller checks the transition and its evidence first; this re-reads the state
        under the file lock so that a concurrent transition is never overwritten.
        """
        expect_s, to_s = as_state(expect, field="from"), as_state(to, field="to")
        if not isinstance(strategy_hash, str) or len(strategy_hash) != 64:
            raise ConfigError(f"strategy_hash: expected 64 hex characters, got {strategy_hash!r}")
        when = (now or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
        with self._locked():
            records = self._read()
            mine = [r for r in records if r.strategy_hash == strategy_hash]
            state = mine[-1].state if mine else State.CANDIDATE
            if state != expect_s:
                raise PromotionRefused(
                    f"lifecycle: strategy {strategy_hash[:12]} is {state.value}, not "
                    f"{expect_s.value} (changed meanwhile); nothing recorded",
                    reasons=[f"state is {state.value}"],
                )
            body: dict[str, Any] = {
                "schema": SCHEMA,
                "seq": len(records) + 1,
                "time": when.isoformat(),
                "strategy_hash": strategy_hash,
                "from_state": state.value,
                "to_state": to_s.value,
                "size_fraction": float(size_fraction),
                "step": int(step),
                "actor": actor or default_actor(),
                "reason": str(reason),
                "evidence": dict(evidence or {}),
                "strategy": dict(strategy) if strategy is not None else None,
                "prev_hash": records[-1].hash if records else GENESIS,
                "extra": dict(extra or {}),
            }
            try:
                body["hash"] = text_sha256(_canonical(body))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"lifecycle: evidence is not plain JSON ({exc})") from None
            line = (_canonical(body) + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            return Record(**body)


def open_registry(registry: PromotionRegistry | str | Path | None = None) -> PromotionRegistry:
    """Return ``registry`` as a :class:`PromotionRegistry` (a path or None: the default)."""
    if isinstance(registry, PromotionRegistry):
        return registry
    return PromotionRegistry(registry)
