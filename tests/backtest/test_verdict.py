"""The validation verdict: gates, the ``validation.json`` document, its hashes and reader.

Oracles: ``hashlib.sha256`` of ``json.dumps(sort_keys=True, separators=(",", ":"))``
computed here independently; ``git rev-parse HEAD``; the validation functions called
directly (walk-forward, candidate returns, PBO, DSR) for the pipeline's metrics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.backtest import overfitting as of
from quantlab.backtest import validation as val
from quantlab.backtest import verdict as vd
from quantlab.errors import ConfigError, DataError

GOOD = {
    "dsr": 0.97,
    "pbo": 0.1,
    "oos_sharpe": 1.4,
    "oos_trades": 45,
    "stress_total_return": 0.08,
    "oos_max_drawdown": 0.12,
    "n_trials": 12,
}
WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_strategy_hash_is_sha256_of_canonical_json(tmp_path):
    s = ql.backtest.ma_cross(fast=10, slow=30, stop_loss=0.02)
    by_hand = hashlib.sha256(
        json.dumps(
            s.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()
    assert vd.strategy_hash(s) == by_hand
    # the same configuration by every route hashes the same
    y = tmp_path / "s.yaml"
    y.write_text("slow: 30\nkind: ma_cross\nstops: {stop_loss: 0.02}\nfast: 10\n")
    assert vd.strategy_hash(y) == by_hand
    assert vd.strategy_hash({"kind": "ma_cross", "stops": {"stop_loss": 0.02}}) == by_hand
    assert vd.strategy_hash(ql.backtest.ma_cross(fast=11, slow=30, stop_loss=0.02)) != by_hand
    assert vd.canonical_json({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'
    with pytest.raises(ConfigError, match="canonical JSON"):
        vd.canonical_json({"x": float("nan")})


def test_gates_thresholds_and_edges():
    gates = {g["name"]: g for g in vd.evaluate_gates(GOOD)}
    assert list(gates) == ["dsr", "pbo", "oos_sharpe", "min_trades", "stress", "max_drawdown"]
    assert all(g["passed"] for g in gates.values())
    assert gates["dsr"] == {
        "name": "dsr",
        "metric": "dsr",
        "value": 0.97,
        "op": ">=",
        "threshold": 0.95,
        "applicable": True,
        "passed": True,
    }
    cfg = vd.GateConfig(min_dsr=0.97, max_pbo=0.1, min_trades=46, max_drawdown=None)
    gates = {g["name"]: g for g in vd.evaluate_gates(GOOD, cfg)}
    assert gates["dsr"]["passed"] and gates["pbo"]["passed"]  # bounds are inclusive
    assert not gates["min_trades"]["passed"]
    assert "max_drawdown" not in gates
    # "still profitable" is strict: a zero return under stress fails
    flat = {**GOOD, "stress_total_return": 0.0}
    assert not {g["name"]: g for g in vd.evaluate_gates(flat)}["stress"]["passed"]
    # missing and NaN metrics fail, with a note
    broken = {**GOOD, "oos_sharpe": float("nan")}
    del broken["dsr"]
    gates = {g["name"]: g for g in vd.evaluate_gates(broken)}
    assert gates["dsr"]["passed"] is False and "missing" in gates["dsr"]["note"]
    assert gates["oos_sharpe"]["passed"] is False and gates["oos_sharpe"]["value"] is None
    # one configuration: PBO does not apply
    one = {g["name"]: g for g in vd.evaluate_gates({**GOOD, "n_trials": 1, "pbo": None})}
    assert one["pbo"]["applicable"] is False and one["pbo"]["passed"] is None
    with pytest.raises(ConfigError, match="unknown key"):
        vd.GateConfig(min_sharpe=1.0)
    with pytest.raises(ConfigError, match="max_pbo"):
        vd.GateConfig(max_pbo=1.5)


def test_make_verdict_contents():
    s = ql.backtest.ma_cross(fast=10, slow=30)
    data = {"source": "synthetic", "symbol": "BTC", "interval": "1h"}
    v = vd.make_verdict(s, GOOD, data=data, created_at=WHEN)
    assert v["passed"] is True and v["verdict"] == "pass" and v["status"] == "validated"
    assert v["strategy"] == s.model_dump(mode="json")
    assert v["strategy_hash"] == vd.strategy_hash(s)
    assert v["data"] == data and v["metrics"] == GOOD
    assert v["created_at"] == "2024-05-01T12:00:00+00:00"
    assert v["quantlab_version"] == ql.__version__
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(ql.__file__).parent, capture_output=True, text=True
    )
    if head.returncode == 0:
        assert v["git_commit"] == head.stdout.strip()
        assert isinstance(v["git_dirty"], bool)
    bad = vd.make_verdict(s, {**GOOD, "oos_max_drawdown": 0.5}, created_at=WHEN)
    assert bad["passed"] is False and bad["verdict"] == "fail" and bad["status"] == "candidate"
    assert [g["name"] for g in bad["gates"] if not g["passed"]] == ["max_drawdown"]
    with pytest.raises(ConfigError, match="every gate is switched off"):
        vd.make_verdict(
            s, GOOD, gates={k: None for k in vd.GateConfig.model_fields if k != "stress_multiplier"}
        )


def test_write_and_read_round_trip(tmp_path):
    s = ql.backtest.ma_cross(fast=10, slow=30)
    v = vd.make_verdict(s, GOOD, data=random_bars(50), created_at=WHEN)
    assert v["data"]["n_bars"] == 50
    path = vd.write_verdict(v, tmp_path)
    assert path == tmp_path / "validation.json"
    back = vd.read_verdict(tmp_path, strategy=s)
    assert back == json.loads(json.dumps(v))
    assert vd.read_verdict(path)["status"] == "validated"
    with pytest.raises(DataError, match="not the configuration that was validated"):
        vd.read_verdict(path, strategy=ql.backtest.ma_cross(fast=12, slow=30))


def _tamper(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_reader_refuses_tampered_files(tmp_path):
    s = ql.backtest.ma_cross(fast=10, slow=30)
    bad = vd.make_verdict(s, {**GOOD, "dsr": 0.5}, created_at=WHEN)
    path = vd.write_verdict(bad, tmp_path / "a" / "validation.json")
    # an edited strategy no longer matches its hash
    _tamper(path, lambda d: d["strategy"].update(fast=9))
    with pytest.raises(DataError, match="strategy_hash"):
        vd.read_verdict(path)
    # an edited metric (hash of the strategy still fine) breaks the content hash
    path = vd.write_verdict(bad, tmp_path / "b.json")
    _tamper(path, lambda d: d["metrics"].update(dsr=0.99))
    with pytest.raises(DataError, match="content_hash"):
        vd.read_verdict(path)

    # a status flipped to validated with a recomputed content hash contradicts the gates
    def promote(d):
        d.update(passed=True, status="validated", verdict="pass")
        d["content_hash"] = vd._content_hash(d)

    path = vd.write_verdict(bad, tmp_path / "c.json")
    _tamper(path, promote)
    with pytest.raises(DataError, match="disagree with the gates"):
        vd.read_verdict(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        vd.read_verdict(path)
    _tamper(vd.write_verdict(bad, path), lambda d: d.pop("gates"))
    with pytest.raises(DataError, match="missing field 'gates'"):
        vd.read_verdict(path)
    _tamper(vd.write_verdict(bad, path), lambda d: d.update(schema="other/9"))
    with pytest.raises(DataError, match="schema"):
        vd.read_verdict(path)
    with pytest.raises(DataError, match="does not exist"):
        vd.read_verdict(tmp_path / "nope.json")
    with pytest.raises(DataError, match="content_hash"):
        vd.write_verdict({**bad, "passed": True}, tmp_path / "d.json")


def test_run_validation_metrics_match_the_parts(tmp_path):
    df = random_bars(1200, seed=8)
    s = ql.backtest.ma_cross(fast=10, slow=40)
    grid = {"fast": [5, 10], "slow": [20, 40]}
    v = vd.run_validation(
        df,
        s,
        grid,
        costs=0.0005,
        train_size=400,
        test_size=200,
        n_partitions=8,
        data={"source": "synthetic", "symbol": "BTC"},
    )
    m = v["metrics"]
    wf = val.walk_forward(df, s, grid, train_size=400, test_size=200, costs=0.0005, stress=(2.0,))
    assert m["oos_sharpe"] == wf.stats["sharpe"]
    assert m["oos_trades"] == wf.stats["n_trades"]
    assert m["stress_total_return"] == wf.stress.loc[2.0, "total_return"]
    mat = val.candidate_returns(df, s, grid, 0.0005)
    assert m["pbo"] == of.pbo(mat, 8).pbo
    full = ql.backtest.run(df, s, 0.0005)
    dsr = of.deflated_sharpe(
        full.returns, mat.attrs["stats"]["sharpe"], n_trials=4, periods_per_year=8760
    )
    assert m["dsr"] == pytest.approx(dsr.dsr, rel=1e-12) and m["n_trials"] == 4
    assert v["data"]["interval"] == "1h" and v["data"]["symbol"] == "BTC"
    assert v["data"]["n_bars"] == 1200
    assert len(v["extra"]["walk_forward"]["folds"]) == len(wf.folds)
    # a larger real trial count raises the bar
    v2 = vd.run_validation(
        df, s, grid, costs=0.0005, train_size=400, test_size=200, n_partitions=8, n_trials=400
    )
    assert v2["metrics"]["dsr"] < m["dsr"]
    path = vd.write_verdict(v, tmp_path)
    assert vd.read_verdict(path, strategy=s)["passed"] == v["passed"]
    assert not math.isnan(m["psr"])


def test_run_validation_without_a_grid():
    df = random_bars(800, seed=2)
    s = ql.backtest.ma_cross(fast=5, slow=20)
    v = vd.run_validation(df, s, costs=0.0005, test_size=100, train_size=300)
    assert v["metrics"]["n_trials"] == 1 and v["metrics"]["pbo"] is None
    pbo_gate = next(g for g in v["gates"] if g["name"] == "pbo")
    assert pbo_gate["applicable"] is False
    full = ql.backtest.run(df, s, 0.0005)
    sr, g3, g4 = of.sharpe_moments(full.returns)
    assert v["metrics"]["dsr"] == pytest.approx(
        of.probabilistic_sharpe_ratio(sr, 800, skew=g3, kurtosis=g4)
    )
    with pytest.raises(ConfigError, match="need the grid"):
        vd.run_validation(df, s, test_size=100, train_size=300, n_trials=10)
    assert np.isfinite(v["metrics"]["oos_sharpe"])
