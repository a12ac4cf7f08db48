"""Promotions on evidence: ``ql.lifecycle.promote(strategy, to=...)`` and friends.

Each step of the road needs its own evidence, checked here and recorded with its hashes
in the :class:`~quantlab.lifecycle.registry.PromotionRegistry`:

=========================  ================================================================
transition                 evidence
=========================  ================================================================
candidate -> validated     a ``validation.json`` whose hashes match the strategy and whose
                           verdict is ``pass`` (:func:`quantlab.backtest.verdict.read_verdict`)
validated -> paper         the ``validated`` record (the file re-checked when still there)
paused -> paper            the ``validation.json`` again, checked afresh
paper -> live_small        the runner's journal, started after the promotion to ``paper``:
                           its track record passes the paper gates (trades or days, profit
                           factor, drawdown, no kill, slippage, replay diff)
live_small -> live_full    the runner's mainnet journal at the current step: the minimum
live_full -> live_full     time at the step, no kill, no auto-pause rule tripped; each
                           promotion moves the size one ramp step (25 -> 50 -> 100 %)
-> paused, -> retired      a reason (always allowed from the states that lead there)
=========================  ================================================================

:func:`evaluate` judges without recording; :func:`promote` records or raises
:class:`~quantlab.errors.PromotionRefused` listing every rule the evidence broke.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantlab._plain import file_sha256
from quantlab.backtest.strategy import StrategyBase
from quantlab.backtest.verdict import GateConfig, read_verdict, strategy_config, strategy_hash
from quantlab.errors import ConfigError, DataError, PromotionRefused
from quantlab.lifecycle.gates import LifecycleConfig, auto_pause, paper_gates, ramp_gates
from quantlab.lifecycle.registry import PromotionRegistry, Record, open_registry
from quantlab.lifecycle.states import State, as_state, check_transition

__all__ = ["Decision", "evaluate", "pause", "promote", "resolve_strategy", "retire"]

StrategyLike = StrategyBase | Mapping[str, Any] | str | Path

_HASH = re.compile(r"^[0-9a-f]{64}$")
_PAPER_MODES = ("paper", "sim", "testnet")


@dataclass(frozen=True)
class Decision:
    """The judgement of one transition: allowed or not, why, and the evidence checked.

    Attributes
    ----------
    strategy_hash : str
    from_state, to_state : State
    allowed : bool
    reasons : list of str
        Every rule the evidence broke (empty when allowed).
    gates : list of dict
        Gate records (name, metric, value, op, threshold, passed), when gates applied.
    evidence : dict
        What was checked, with its hashes (stored with the transition).
    size_fraction : float
        The size the target state grants.
    step : int
        Ramp step of the target state (0 outside ``live_full``).
    """

    strategy_hash: str
    from_state: State
    to_state: State
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    size_fraction: float = 0.0
    step: int = 0
    strategy: dict[str, Any] | None = None

    def table(self) -> pd.DataFrame:
        """Return the gates as a table (one row per gate)."""
        cols = ["name", "metric", "value", "op", "threshold", "passed"]
        return pd.DataFrame([{c: g.get(c) for c in cols} for g in self.gates], columns=cols)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        verdict = "allowed" if self.allowed else "REFUSED"
        head = (
            f"<b>{self.from_state.value} -> {self.to_state.value}: {verdict}</b> "
            f"(strategy {self.strategy_hash[:12]}, size {self.size_fraction:.0%})"
        )
        why = "".join(f"<li>{r}</li>" for r in self.reasons)
        return head + (f"<ul>{why}</ul>" if why else "") + self.table().to_html(index=False)


# ----------------------------------------------------------------------------- helpers


def _is_validation_file(x: Any) -> bool:
    if not isinstance(x, str | Path):
        return False
    p = Path(x)
    return (p.suffix == ".json" and p.is_file()) or (
        p.is_dir() and (p / "validation.json").is_file()
    )


def resolve_strategy(
    strategy: StrategyLike, registry: PromotionRegistry | None = None
) -> tuple[str, dict[str, Any] | None, Path | None]:
    """Return ``(strategy_hash, configuration, validation file)`` for any way of naming one.

    A strategy may be a :class:`~quantlab.backtest.strategy.StrategyBase`, a mapping, a
    YAML path, a registered kind, a ``validation.json`` (or its folder: the strategy it
    validated) or a 64-hex strategy hash the registry knows.
    """
    if isinstance(strategy, str) and _HASH.match(strategy):
        config = None
        if registry is not None:
            for rec in reversed(registry.records(strategy)):
                if rec.strategy is not None:
                    config = rec.strategy
                    break
        return strategy, config, None
    if _is_validation_file(strategy):
        p = Path(strategy)
        p = p / "validation.json" if p.is_dir() else p
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"validation file {p}: unreadable ({exc})") from None
        if not isinstance(doc, dict) or "strategy" not in doc:
            raise DataError(f"validation file {p}: no 'strategy' field")
        config = strategy_config(doc["strategy"])
        return strategy_hash(config), config, p
    config = strategy_config(strategy)
    return strategy_hash(config), config, None


def _relaxed(gate_config: Mapping[str, Any]) -> list[str]:
    """Return the validation gates that are looser than quantlab's defaults."""
    default = GateConfig().model_dump(mode="json")
    out = []
    for key, base in default.items():
        val = gate_config.get(key, base)
        if base is None or key == "stress_multiplier":
            if key == "stress_multiplier" and val is not None and val < base:
                out.append(f"{key} {val} < default {base}")
            continue
        if val is None:
            out.append(f"{key} switched off (default {base})")
        elif (key.startswith("min_") and val < base) or (key.startswith("max_") and val > base):
            out.append(f"{key} {val} looser than default {base}")
    return out


def _validation_evidence(path: Path, shash: str) -> tuple[dict[str, Any], list[str], list]:
    """Check a ``validation.json`` for a strategy; return (evidence, reasons, gates)."""
    reasons: list[str] = []
    try:
        doc = read_verdict(path)
    except DataError as exc:
        return {"kind": "validation", "path": str(path)}, [str(exc)], []
    evidence = {
        "kind": "validation",
        "path": str(path.resolve()),
        "sha256": file_sha256(path),
        "content_hash": doc["content_hash"],
        "strategy_hash": doc["strategy_hash"],
        "verdict": doc.get("verdict"),
        "created_at": doc.get("created_at"),
        "data": doc.get("data"),
        "gate_config": doc.get("gate_config"),
        "relaxed_gates": _relaxed(doc.get("gate_config") or {}),
        "git_commit": doc.get("git_commit"),
    }
    if doc["strategy_hash"] != shash:
        reasons.append(
            f"validation file {path}: it validated strategy {doc['strategy_hash'][:12]}, not "
            f"{shash[:12]} (a different configuration)"
        )
    if not doc["passed"]:
        failed = [g for g in doc["gates"] if g.get("applicable", True) and not g.get("passed")]
        for g in failed:
            reasons.append(
                f"validation gate {g['name']}: {g['metric']} = {g.get('value')} is not "
                f"{g['op']} {g['threshold']}"
            )
        if not failed:
            reasons.append(f"validation file {path}: verdict is {doc.get('verdict')!r}")
    return evidence, reasons, list(doc["gates"])


def _journal_evidence(
    journal: Any, shash: str, modes: tuple[str, ...], since: Record | None, cfg: LifecycleConfig
):
    """Check a runner journal for a strategy; return (record, evidence, reasons)."""
    from quantlab.lifecycle.track import track_record  # reads live journals (lazy: sqlite)

    if journal is None or not isinstance(journal, str | Path):
        return (
            None,
            {"kind": "journal"},
            ["evidence: pass the runner's journal (evidence=PATH to its SQLite file)"],
        )
    p = Path(journal)
    if not p.is_file():
        return None, {"kind": "journal", "path": str(p)}, [f"journal {p}: file does not exist"]
    try:
        record = track_record(p)
    except (DataError, ConfigError) as exc:
        return None, {"kind": "journal", "path": str(p)}, [str(exc)]
    reasons = []
    if record.strategy_hash != shash:
        reasons.append(
            f"journal {p}: it traded strategy {record.strategy_hash[:12]}, not {shash[:12]}"
        )
    if record.mode not in modes:
        reasons.append(f"journal {p}: mode {record.mode!r} is not one of {', '.join(modes)}")
    created = record.source.get("created_ms")
    if since is not None and created is not None:
        started = pd.Timestamp(int(created), unit="ms", tz="UTC")
        if started < since.timestamp:
            reasons.append(
                f"journal {p}: started {started.isoformat()}, before the strategy entered "
                f"{since.to_state} ({since.time}); only trading since then counts"
            )
    evidence = {
        "kind": "journal",
        "path": str(p.resolve()),
        "sha256": record.source.get("sha256") or file_sha256(p),
        "mode": record.mode,
        "metrics": {
            k: (None if isinstance(v, float) and v != v else v)
            for k, v in record.metrics().items()
            if k != "profit_factor"
        }
        | {"profit_factor": _pf_json(record.metrics()["profit_factor"])},
        "replay": record.source.get("replay"),
    }
    return record, evidence, reasons


def _pf_json(pf: float) -> float | str | None:
    if pf != pf:
        return None
    return "inf" if pf == float("inf") else pf


# ------------------------------------------------------------------------------ public


def evaluate(
    strategy: StrategyLike,
    to: State | str,
    *,
    evidence: str | Path | None = None,
    registry: PromotionRegistry | str | Path | None = None,
    config: LifecycleConfig | Mapping[str, Any] | None = None,
    now: _dt.datetime | None = None,
) -> Decision:
    """Judge a transition on its evidence without recording anything.

    Parameters
    ----------
    strategy : StrategyBase, mapping, YAML path, kind, validation.json or strategy hash
        The strategy (see :func:`resolve_strategy`). A ``validation.json`` is also the
        evidence of ``-> validated`` and ``paused -> paper``.
    to : State or str
        The target state.
    evidence : path, optional
        ``validation.json`` (``-> validated``, ``paused -> paper``) or the runner's
        journal (``-> live_small``, ``-> live_full``).
    registry : PromotionRegistry or path, optional
        Default ``$QUANTLAB_LIFECYCLE_REGISTRY`` or ``data/lifecycle/promotions.jsonl``.
    config : LifecycleConfig or mapping, optional
        Gate thresholds (default: the issue's defaults).
    now : datetime, optional
        The time of the decision (default now, UTC).

    Returns
    -------
    Decision

    Raises
    ------
    ConfigError
        An unknown state, or a transition the lifecycle does not allow.
    """
    reg = open_registry(registry)
    cfg = LifecycleConfig.from_dict(config)
    shash, conf, vfile = resolve_strategy(strategy, reg)
    current = reg.state(shash)
    src, dst = check_transition(current, as_state(to, field="to"))
    when = pd.Timestamp(now or _dt.datetime.now(_dt.UTC)).tz_convert("UTC")
    reasons: list[str] = []
    gates: list[dict[str, Any]] = []
    ev: dict[str, Any] = {}
    fraction, step = 0.0, 0
    steps = cfg.ramp.steps

    if dst == State.VALIDATED or (src == State.PAUSED and dst == State.PAPER):
        path = Path(evidence) if evidence is not None else vfile
        if path is None and src == State.PAUSED:
            last = reg.since(shash, State.VALIDATED)
            recorded = (last.evidence or {}).get("path") if last else None
            path = Path(recorded) if recorded else None
        if path is not None and path.is_dir():
            path = path / "validation.json"
        if path is None:
            reasons.append(
                "evidence: a validation.json is needed (evidence=PATH, or pass the file as "
                "the strategy)"
            )
        elif not path.is_file():
            reasons.append(f"validation file {path}: does not exist")
        else:
            ev, more, gates = _validation_evidence(path, shash)
            reasons.extend(more)
        fraction = 1.0 if dst == State.PAPER else 0.0
    elif dst == State.PAPER:  # validated -> paper
        rec = reg.since(shash, State.VALIDATED)
        ev = {"kind": "validated_record", "seq": rec.seq, "hash": rec.hash} if rec else {}
        vpath = (rec.evidence or {}).get("path") if rec else None
        if vpath and Path(vpath).is_file():
            sha = file_sha256(Path(vpath))
            if sha != rec.evidence.get("sha256"):
                reasons.append(
                    f"validation file {vpath}: changed since the strategy was validated "
                    f"(sha256 {sha[:12]}, recorded {str(rec.evidence.get('sha256'))[:12]})"
                )
        fraction = 1.0
    elif dst == State.LIVE_SMALL:  # paper -> live_small
        since = reg.since(shash, State.PAPER)
        record, ev, more = _journal_evidence(evidence, shash, _PAPER_MODES, since, cfg)
        reasons.extend(more)
        if record is not None:
            gates = paper_gates(record, cfg.paper)
            for g in gates:
                if not g["passed"]:
                    reasons.append(
                        f"paper gate {g['name']}: {g['metric']} = {g['value']} is not "
                        f"{g['op']} {g['threshold']}" + (f" ({g['note']})" if g.get("note") else "")
                    )
        fraction, step = steps[0], 0
    elif dst == State.LIVE_FULL:  # a ramp step
        cur = reg.current(shash)
        at = cur.step if (cur is not None and src == State.LIVE_FULL) else 0
        if src == State.LIVE_FULL and at + 1 >= len(steps):
            raise ConfigError(
                f"lifecycle: strategy {shash[:12]} already trades at full size "
                f"({steps[-1]:.0%}); there is no further ramp step"
            )
        step = at + 1
        fraction = steps[step]
        days = (when - cur.timestamp) / pd.Timedelta(days=1) if cur is not None else 0.0
        since = reg.since(shash, State.LIVE_SMALL)
        record, ev, more = _journal_evidence(evidence, shash, ("mainnet",), since, cfg)
        reasons.extend(more)
        if record is not None:
            gates = ramp_gates(record, days_at_step=float(days), config=cfg)
            for g in gates:
                if not g["passed"]:
                    reasons.append(
                        f"ramp gate {g['name']}: {g['metric']} = {g['value']} is not "
                        f"{g['op']} {g['threshold']}"
                    )
        ev = {**ev, "ramp": {"from": steps[at], "to": fraction, "days_at_step": float(days)}}
    elif dst in (State.PAUSED, State.RETIRED):
        fraction = 0.0
        ev = {"kind": "manual"}
    if not shash or not _HASH.match(shash):  # pragma: no cover - hashes come from sha256
        reasons.append(f"strategy hash {shash!r} is not a SHA-256")
    return Decision(
        strategy_hash=shash,
        from_state=src,
        to_state=dst,
        allowed=not reasons,
        reasons=reasons,
        gates=gates,
        evidence=ev,
        size_fraction=float(fraction),
        step=int(step),
        strategy=conf,
    )


def promote(
    strategy: StrategyLike,
    to: State | str,
    *,
    evidence: str | Path | None = None,
    registry: PromotionRegistry | str | Path | None = None,
    config: LifecycleConfig | Mapping[str, Any] | None = None,
    actor: str | None = None,
    reason: str = "",
    now: _dt.datetime | None = None,
) -> Record:
    """Move a strategy to ``to`` on its evidence and record the transition.

    Parameters are those of :func:`evaluate`, plus ``actor`` (who or what: default
    ``user@host``) and ``reason`` (free text kept with the record).

    Returns
    -------
    Record
        The registry line written.

    Raises
    ------
    PromotionRefused
        The evidence is missing or fails a rule; ``.reasons`` lists each, ``.gates`` the
        gate records. Nothing is recorded.
    ConfigError
        A transition the lifecycle does not allow (e.g. ``candidate -> paper``).

    Examples
    --------
    >>> ql.lifecycle.promote("reports/2026-12-04/r1/validation.json", to="validated")
    >>> ql.lifecycle.promote("reports/2026-12-04/r1/validation.json", to="paper")
    >>> ql.lifecycle.promote(strategy, to="live_small", evidence="runs/btc/journal.sqlite")
    """
    reg = open_registry(registry)
    d = evaluate(strategy, to, evidence=evidence, registry=reg, config=config, now=now)
    if not d.allowed:
        raise PromotionRefused(
            f"lifecycle: {d.from_state.value} -> {d.to_state.value} refused for strategy "
            f"{d.strategy_hash[:12]}: " + "; ".join(d.reasons),
            reasons=d.reasons,
            gates=d.gates,
        )
    return reg.append(
        d.strategy_hash,
        expect=d.from_state,
        to=d.to_state,
        size_fraction=d.size_fraction,
        step=d.step,
        actor=actor,
        reason=reason,
        evidence={**d.evidence, "gates": d.gates} if d.gates else d.evidence,
        strategy=d.strategy,
        now=now,
    )


def _stop(
    strategy: StrategyLike,
    to: State,
    reason: str,
    registry: PromotionRegistry | str | Path | None,
    actor: str | None,
    evidence: Mapping[str, Any] | None,
    now: _dt.datetime | None,
) -> Record:
    if not str(reason).strip():
        raise ConfigError(f"lifecycle: a reason is needed to move a strategy to {to.value}")
    reg = open_registry(registry)
    shash, conf, _ = resolve_strategy(strategy, reg)
    src, dst = check_transition(reg.state(shash), to)
    return reg.append(
        shash,
        expect=src,
        to=dst,
        size_fraction=0.0,
        actor=actor,
        reason=reason,
        evidence={"kind": "manual" if evidence is None else "rules", **dict(evidence or {})},
        strategy=conf,
        now=now,
    )


def pause(
    strategy: StrategyLike,
    *,
    reason: str,
    registry: PromotionRegistry | str | Path | None = None,
    actor: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    now: _dt.datetime | None = None,
) -> Record:
    """Pause a trading strategy (``paper``, ``live_small`` or ``live_full``).

    A paused strategy cannot trade until a new promotion to ``paper``. The runner calls
    this itself when :func:`~quantlab.lifecycle.gates.auto_pause` says so (``actor`` is
    then the runner, ``evidence`` the rules that fired).
    """
    return _stop(strategy, State.PAUSED, reason, registry, actor, evidence, now)


def retire(
    strategy: StrategyLike,
    *,
    reason: str,
    registry: PromotionRegistry | str | Path | None = None,
    actor: str | None = None,
    now: _dt.datetime | None = None,
) -> Record:
    """Retire a strategy for good (from any state but ``retired``)."""
    return _stop(strategy, State.RETIRED, reason, registry, actor, None, now)


def check_auto_pause(
    journal: str | Path,
    *,
    registry: PromotionRegistry | str | Path | None = None,
    config: LifecycleConfig | Mapping[str, Any] | None = None,
    actor: str = "runner",
) -> Record | None:
    """Pause the journal's strategy if its record trips an auto-pause rule; return the record.

    Returns None when no rule fires, the strategy is not in a trading state, or the
    journal is of another kind of trading than the state's (a paper run does not pause a
    live strategy; a mainnet journal is what ``live_small`` and ``live_full`` answer to).
    """
    from quantlab.lifecycle.track import track_record

    cfg = LifecycleConfig.from_dict(config)
    reg = open_registry(registry)
    record = track_record(journal, with_replay=False)
    state = reg.state(record.strategy_hash)
    if state not in (State.PAPER, State.LIVE_SMALL, State.LIVE_FULL):
        return None
    # a journal speaks for the state it trades in: paper modes for paper, mainnet for live
    if record.mode not in (("mainnet",) if state != State.PAPER else _PAPER_MODES):
        return None
    fire, why = auto_pause(record, cfg.auto_pause)
    if not fire:
        return None
    return pause(
        record.strategy_hash,
        reason="auto-pause: " + "; ".join(why),
        registry=reg,
        actor=actor,
        evidence={"journal": str(Path(journal).resolve()), "rules": why},
    )
