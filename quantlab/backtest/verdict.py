"""The validation verdict: gates with typed thresholds and the ``validation.json`` file.

A strategy moves from ``candidate`` to ``validated`` only on evidence. This module turns
validation metrics into gates (each with its value, threshold and outcome), writes them
with the strategy configuration, its hash, the data range and provenance into
``validation.json``, and reads such a file back with its hashes checked, for the
promotion step::

    v = ql.backtest.verdict.run_validation(df, strategy, grid, costs=costs,
            train_size=2000, test_size=500, data={"source": "hyperliquid", "symbol": "BTC"})
    ql.backtest.verdict.write_verdict(v, "reports/.../validation.json")
    v = ql.backtest.verdict.read_verdict(path, strategy=strategy)   # raises on a mismatch

The strategy hash is the SHA-256 of the canonical JSON of its configuration (keys
sorted, no whitespace, UTF-8, no NaN): the same configuration always hashes the same.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field

from quantlab._plain import json_safe, text_sha256
from quantlab.backtest.costs import Costs, make_costs
from quantlab.backtest.engine import PreparedBars, run
from quantlab.backtest.overfitting import deflated_sharpe, pbo
from quantlab.backtest.stats import periods_per_year
from quantlab.backtest.strategy import StrategyBase, load_strategy
from quantlab.backtest.validation import candidate_returns, walk_forward
from quantlab.config import FrozenConfig
from quantlab.errors import ConfigError, DataError
from quantlab.provenance import git_commit

__all__ = [
    "SCHEMA",
    "GateConfig",
    "Verdict",
    "canonical_json",
    "evaluate_gates",
    "make_verdict",
    "read_verdict",
    "run_validation",
    "strategy_config",
    "strategy_hash",
    "write_verdict",
]

SCHEMA = "quantlab.validation/1"
FILENAME = "validation.json"


class GateConfig(FrozenConfig):
    """Thresholds of the validation gates; ``None`` switches a gate off.

    Attributes
    ----------
    min_dsr : float
        Deflated Sharpe Ratio at least this (probability the true Sharpe is > 0 after
        the selection among all trials).
    max_pbo : float
        Probability of Backtest Overfitting (CSCV) at most this. 0.5 is what pure noise
        gives; the default 0.2 is deliberately strict.
    min_oos_sharpe : float
        Annualised Sharpe of the stitched walk-forward out-of-sample equity.
    min_trades : int
        Out-of-sample trades at least this (fewer say little about a win rate).
    stress_multiplier : float
        Cost multiplier of the stress gate.
    min_stress_return : float
        Out-of-sample total return with costs times ``stress_multiplier`` must exceed
        this (0: still profitable).
    max_drawdown : float
        Out-of-sample maximum drawdown (a fraction) at most this.
    """

    min_dsr: float | None = Field(0.95, ge=0.0, le=1.0)
    max_pbo: float | None = Field(0.2, ge=0.0, le=1.0)
    min_oos_sharpe: float | None = 0.5
    min_trades: int | None = Field(30, ge=0)
    stress_multiplier: float = Field(2.0, ge=1.0)
    min_stress_return: float | None = 0.0
    max_drawdown: float | None = Field(0.3, gt=0.0, le=1.0)


# (gate name, metric key, config field, operator)
_GATES = (
    ("dsr", "dsr", "min_dsr", ">="),
    ("pbo", "pbo", "max_pbo", "<="),
    ("oos_sharpe", "oos_sharpe", "min_oos_sharpe", ">="),
    ("min_trades", "oos_trades", "min_trades", ">="),
    ("stress", "stress_total_return", "min_stress_return", ">"),
    ("max_drawdown", "oos_max_drawdown", "max_drawdown", "<="),
)


def evaluate_gates(
    metrics: Mapping[str, Any], config: GateConfig | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return one record per gate: name, metric, value, op, threshold, passed, applicable.

    Parameters
    ----------
    metrics : mapping
        Needs ``dsr``, ``pbo``, ``oos_sharpe``, ``oos_trades``, ``stress_total_return``
        and ``oos_max_drawdown``.
    config : GateConfig or mapping, optional

    Notes
    -----
    A missing, None or NaN metric fails its gate, except ``pbo`` which is not applicable
    (``applicable = False``, ``passed = None``) when ``metrics["n_trials"] == 1``: with a
    single configuration there is no selection to overfit. A gate whose threshold is None
    is left out.
    """
    cfg = config if isinstance(config, GateConfig) else GateConfig.from_dict(config)
    out = []
    for name, key, field, op in _GATES:
        threshold = getattr(cfg, field)
        if threshold is None:
            continue
        raw = metrics.get(key)
        value = None if raw is None else float(raw)
        if value is not None and not math.isfinite(value):
            value = None
        rec: dict[str, Any] = {
            "name": name,
            "metric": key,
            "value": value,
            "op": op,
            "threshold": float(threshold),
            "applicable": True,
        }
        if name == "stress":
            rec["cost_multiplier"] = cfg.stress_multiplier
        if name == "pbo" and metrics.get("n_trials") == 1:
            rec.update(applicable=False, passed=None, note="one configuration: no selection")
        elif value is None:
            rec.update(passed=False, note=f"metric {key!r} missing or not finite")
        else:
            rec["passed"] = bool(
                {
                    ">=": value >= threshold,
                    "<=": value <= threshold,
                    ">": value > threshold,
                }[op]
            )
        out.append(rec)
    return out


def strategy_config(strategy: StrategyBase | Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Return a strategy's full configuration as plain JSON values (every default filled)."""
    s = load_strategy(dict(strategy) if isinstance(strategy, Mapping) else strategy)
    return s.model_dump(mode="json")


def canonical_json(obj: Any) -> str:
    """Return the canonical JSON text: sorted keys, no whitespace, UTF-8, no NaN."""
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ConfigError(f"configuration is not canonical JSON: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"configuration holds a value JSON cannot encode: {exc}") from None


def strategy_hash(strategy: StrategyBase | Mapping[str, Any] | str | Path) -> str:
    """Return the SHA-256 (hex) of the canonical JSON of the strategy's full configuration."""
    return text_sha256(canonical_json(strategy_config(strategy)))


def _version() -> str:
    """Return the version of the running quantlab package (always imported by now)."""
    return str(getattr(sys.modules["quantlab"], "__version__", "unknown"))


def _content_hash(doc: Mapping[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "content_hash"}
    return text_sha256(canonical_json(body))


def _data_info(data: Mapping[str, Any] | pd.DataFrame | PreparedBars | None) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, PreparedBars):
        data = data.df
    if isinstance(data, pd.DataFrame):
        idx = data.index
        return {"start": idx[0].isoformat(), "end": idx[-1].isoformat(), "n_bars": len(idx)}
    return json_safe(dict(data))


def _interval_name(seconds: float) -> str:
    sec = round(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if sec % size == 0:
            return f"{sec // size}{unit}"
    return f"{sec}s"


class Verdict(dict):
    """A validation verdict: the ``validation.json`` document, with typed accessors.

    It is the plain JSON mapping (``verdict["gates"]``, ``json.dumps(verdict)`` and every
    reader of the file keep working) plus attributes that say what a verdict holds.
    """

    @property
    def passed(self) -> bool:
        """Whether every applicable gate passed."""
        return bool(self["passed"])

    @property
    def status(self) -> str:
        """``"validated"`` or ``"candidate"``."""
        return str(self["status"])

    @property
    def strategy_hash(self) -> str:
        """SHA-256 of the strategy's canonical configuration."""
        return str(self["strategy_hash"])

    @property
    def strategy(self) -> dict[str, Any]:
        """The validated configuration."""
        return dict(self["strategy"])

    @property
    def metrics(self) -> dict[str, Any]:
        """The validation metrics the gates read."""
        return dict(self["metrics"])

    @property
    def gates(self) -> list[dict[str, Any]]:
        """One row per gate: name, value, threshold, applicable, passed."""
        return list(self["gates"])

    @property
    def failed_gates(self) -> list[str]:
        """Names of the applicable gates that failed."""
        return [str(g["name"]) for g in self["gates"] if g["applicable"] and not g["passed"]]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of everything else."""
        return str(self["content_hash"])

    def __repr__(self) -> str:
        return (
            f"Verdict({self.get('verdict')!r}, status={self.get('status')!r}, "
            f"strategy_hash={str(self.get('strategy_hash'))[:12]!r}..., "
            f"failed={self.failed_gates if 'gates' in self else '?'})"
        )


def make_verdict(
    strategy: StrategyBase | Mapping[str, Any] | str | Path,
    metrics: Mapping[str, Any],
    *,
    data: Mapping[str, Any] | pd.DataFrame | None = None,
    gates: GateConfig | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    created_at: _dt.datetime | None = None,
) -> Verdict:
    """Return the verdict document that :func:`write_verdict` saves as ``validation.json``.

    Parameters
    ----------
    strategy : StrategyBase, mapping or YAML path
        The configuration being validated (hashed with :func:`strategy_hash`).
    metrics : mapping
        Validation metrics (see :func:`evaluate_gates` for the keys the gates read).
    data : mapping or DataFrame, optional
        ``source``, ``symbol``, ``interval``, ``start``, ``end``, ``n_bars`` (a frame
        gives its range and length).
    gates : GateConfig or mapping, optional
    extra : mapping, optional
        Anything else worth keeping (walk-forward folds, costs...), JSON-able.
    created_at : datetime, optional
        Timestamp of the verdict (default now, UTC).

    Returns
    -------
    dict
        ``schema``, ``created_at``, ``strategy``, ``strategy_hash``, ``data``,
        ``metrics``, ``gate_config``, ``gates``, ``passed``, ``verdict``
        (``"pass"``/``"fail"``), ``status`` (``"validated"`` or ``"candidate"``),
        ``quantlab_version``, ``git_commit``, ``git_dirty``, ``extra`` and
        ``content_hash`` (SHA-256 of the canonical JSON of everything else).
    """
    cfg = gates if isinstance(gates, GateConfig) else GateConfig.from_dict(gates)
    config = strategy_config(strategy)
    gate_list = evaluate_gates(metrics, cfg)
    applicable = [g for g in gate_list if g["applicable"]]
    if not applicable:
        raise ConfigError("gates: every gate is switched off; nothing to decide on")
    passed = all(g["passed"] for g in applicable)
    commit, dirty = git_commit()
    when = created_at or _dt.datetime.now(_dt.UTC)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "created_at": when.astimezone(_dt.UTC).isoformat(),
        "strategy": config,
        "strategy_hash": text_sha256(canonical_json(config)),
        "data": _data_info(data),
        "metrics": json_safe(dict(metrics)),
        "gate_config": cfg.model_dump(mode="json"),
        "gates": gate_list,
        "passed": passed,
        "verdict": "pass" if passed else "fail",
        "status": "validated" if passed else "candidate",
        "quantlab_version": _version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "extra": json_safe(dict(extra or {})),
    }
    canonical_json(doc)  # refuse anything JSON cannot hold, before hashing
    doc["content_hash"] = _content_hash(doc)
    return Verdict(doc)


def write_verdict(verdict: Mapping[str, Any], path: str | Path) -> Path:
    """Write a verdict as JSON; a directory gets ``validation.json`` inside it.

    Returns the path written. The file is written to a temporary name and renamed, so a
    reader never sees half a file.
    """
    p = Path(path)
    if p.is_dir():
        p = p / FILENAME
    if verdict.get("content_hash") != _content_hash(verdict):
        raise DataError("verdict: content_hash does not match its content; rebuild it")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(
        json.dumps(verdict, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    tmp.replace(p)
    return p


_REQUIRED = ("schema", "strategy", "strategy_hash", "gates", "passed", "status", "content_hash")


def read_verdict(
    path: str | Path, *, strategy: StrategyBase | Mapping[str, Any] | str | Path | None = None
) -> Verdict:
    """Read a ``validation.json`` and check it; return the verdict document.

    Parameters
    ----------
    path : str or Path
        The file, or a directory holding ``validation.json``.
    strategy : optional
        The configuration about to be promoted: its hash must equal the file's.

    Raises
    ------
    DataError
        Unreadable JSON, a missing field, an unknown schema, a strategy hash that does
        not match the stored configuration (or ``strategy``), a content hash that does
        not match the document (edited by hand), or ``passed``/``status`` that disagree
        with the gates.
    """
    p = Path(path)
    if p.is_dir():
        p = p / FILENAME
    if not p.is_file():
        raise DataError(f"verdict: file {str(p)!r} does not exist")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"verdict {p}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DataError(f"verdict {p}: expected a JSON object, got {type(doc).__name__}")
    for key in _REQUIRED:
        if key not in doc:
            raise DataError(f"verdict {p}: missing field {key!r}")
    if doc["schema"] != SCHEMA:
        raise DataError(f"verdict {p}: schema {doc['schema']!r} is not {SCHEMA!r}")
    stored = text_sha256(canonical_json(doc["strategy"]))
    if stored != doc["strategy_hash"]:
        raise DataError(
            f"verdict {p}: strategy_hash {doc['strategy_hash']!r} does not match the stored "
            f"strategy configuration (sha256 {stored!r})"
        )
    if strategy is not None:
        given = strategy_hash(strategy)
        if given != doc["strategy_hash"]:
            raise DataError(
                f"verdict {p}: the strategy given hashes to {given!r}, the validated one to "
                f"{doc['strategy_hash']!r}; it is not the configuration that was validated"
            )
    if doc["content_hash"] != _content_hash(doc):
        raise DataError(f"verdict {p}: content_hash does not match the document (edited?)")
    applicable = [g for g in doc["gates"] if g.get("applicable", True)]
    passed = bool(applicable) and all(g.get("passed") is True for g in applicable)
    status = "validated" if passed else "candidate"
    if doc["passed"] is not passed or doc["status"] != status:
        raise DataError(
            f"verdict {p}: passed={doc['passed']!r}, status={doc['status']!r} disagree with "
            f"the gates (which say passed={passed})"
        )
    return Verdict(doc)


# ------------------------------------------------------------------------- pipeline


def run_validation(
    df: pd.DataFrame,
    strategy: StrategyBase | Mapping[str, Any] | str | Path,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    costs: Costs | float | dict | None = None,
    train_size: int | float | None = None,
    test_size: int | float = 0.1,
    expanding: bool = False,
    gap: int = 0,
    metric: str = "sharpe",
    n_trials: int | None = None,
    n_partitions: int = 16,
    gates: GateConfig | Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    fill: str = "next_open",
    init_cash: float = 10_000.0,
    interval: str | None = None,
) -> Verdict:
    """Validate a strategy end to end and return its verdict document.

    Parameters
    ----------
    df : pd.DataFrame
        Bars.
    strategy : StrategyBase, mapping or YAML path
        The configuration to validate (the one the verdict's hash names).
    grid : mapping, optional
        The search that produced it: its candidates are the trials of the Deflated
        Sharpe Ratio, the columns of the PBO matrix and the choices re-made on every
        walk-forward train window. None: no search (one trial, PBO not applicable, the
        walk-forward evaluates ``strategy`` itself).
    costs : Costs, float or mapping, optional
    train_size, test_size, expanding, gap, metric
        Walk-forward layout and selection metric (:func:`walk_forward`); ``train_size``
        defaults to three test windows (rolling) unless ``expanding``.
    n_trials : int, optional
        The real number of trials of the search, when larger than the grid (e.g. a
        Bayesian search that tried more).
    n_partitions : int
        CSCV partitions of the PBO (even); reduced to fit short data.
    gates : GateConfig or mapping, optional
    data : mapping, optional
        ``source``, ``symbol``, ``interval``... merged with the frame's range.
    fill, init_cash, interval
        As in :func:`quantlab.backtest.run`.

    Returns
    -------
    dict
        The verdict (:func:`make_verdict`); ``extra`` holds the walk-forward folds, the
        stress table and the costs.

    Notes
    -----
    Metrics: ``dsr`` of the full-sample returns of ``strategy`` against the grid's trial
    Sharpe ratios (:func:`~quantlab.backtest.overfitting.deflated_sharpe`); ``pbo`` by
    CSCV over the grid's per-bar returns; ``oos_*`` from the stitched walk-forward
    out-of-sample equity; ``stress_total_return`` the same out-of-sample path with costs
    times ``gates.stress_multiplier`` (same choices).
    """
    cfg = gates if isinstance(gates, GateConfig) else GateConfig.from_dict(gates)
    s = load_strategy(dict(strategy) if isinstance(strategy, Mapping) else strategy)
    if train_size is None and not expanding:
        train_size = 3 * test_size if isinstance(test_size, int) else min(0.9, 3 * test_size)
    wf = walk_forward(
        df,
        s,
        grid,
        train_size=train_size,
        test_size=test_size,
        expanding=expanding,
        gap=gap,
        metric=metric,
        costs=costs,
        stress=(cfg.stress_multiplier,),
        fill=fill,  # type: ignore[arg-type]
        init_cash=init_cash,
        interval=interval,
    )
    full = run(df, s, costs, fill=fill, init_cash=init_cash, interval=interval)  # type: ignore[arg-type]
    ppy = periods_per_year(full.bar_seconds)
    metrics: dict[str, Any] = {}
    if grid:
        mat = candidate_returns(
            df,
            s,
            grid,
            costs,
            fill=fill,
            init_cash=init_cash,
            interval=interval,  # type: ignore[arg-type]
        )
        trial_sharpes = mat.attrs["stats"]["sharpe"].to_numpy()
        trials = mat.shape[1] if n_trials is None else n_trials
        dsr = deflated_sharpe(full.returns, trial_sharpes, n_trials=trials, periods_per_year=ppy)
        parts = n_partitions
        while parts > 2 and mat.shape[0] // parts < 2:
            parts -= 2
        res = pbo(mat, parts) if mat.shape[1] >= 2 else None
        metrics["pbo"] = None if res is None else res.pbo
        metrics["pbo_partitions"] = parts
        metrics["pbo_prob_oos_loss"] = None if res is None else res.prob_oos_loss
        metrics["n_invalid"] = mat.attrs["n_invalid"]
    else:
        if n_trials not in (None, 1):
            raise ConfigError(
                f"n_trials: {n_trials} trials need the grid that was searched (its trial "
                "Sharpe ratios set the Deflated Sharpe Ratio's bar)"
            )
        trials = 1
        dsr = deflated_sharpe(full.returns, n_trials=1, sr_variance=0.0)
        metrics["pbo"] = None
    if trials == 1:
        metrics["pbo"] = None
    stressed = wf.stress.loc[cfg.stress_multiplier] if cfg.stress_multiplier != 1.0 else wf.stats
    metrics.update(
        {
            "n_trials": int(trials),
            "dsr": dsr.dsr,
            "psr": dsr.psr,
            "sr0_annualized": dsr.sr0 * math.sqrt(ppy),
            "sharpe_full": float(full.stats["sharpe"]),
            "total_return_full": float(full.stats["total_return"]),
            "oos_sharpe": float(wf.stats["sharpe"]),
            "oos_total_return": float(wf.stats["total_return"]),
            "oos_max_drawdown": float(wf.stats["max_drawdown"]),
            "oos_trades": int(wf.stats["n_trades"]),
            "oos_bars": len(wf.returns),
            "stress_multiplier": cfg.stress_multiplier,
            "stress_total_return": float(stressed["total_return"]),
            "stress_sharpe": float(stressed["sharpe"]),
        }
    )
    info = {**_data_info(df), "interval": interval or _interval_name(full.bar_seconds)}
    info.update(json_safe(dict(data or {})))
    folds = wf.folds.reset_index()
    extra = {
        "walk_forward": {
            "metric": wf.metric,
            "folds": [
                {k: json_safe(v) for k, v in row.items()} for row in folds.to_dict(orient="records")
            ],
        },
        "stress": {
            str(m): {k: json_safe(v) for k, v in row.items()}
            for m, row in wf.stress[["total_return", "sharpe", "fees_paid"]].iterrows()
        },
        "costs": json_safe(make_costs(costs).model_dump(mode="json")),
        "grid": json_safe({k: list(v) for k, v in (grid or {}).items()}),
    }
    return make_verdict(s, metrics, data=info, gates=cfg, extra=extra)
