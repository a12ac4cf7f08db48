"""The promotion registry: append-only, hash-chained, survives restarts, refuses tampering."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from quantlab.errors import ConfigError, DataError, PromotionRefused
from quantlab.lifecycle import PromotionRegistry, State

H1, H2 = "a" * 64, "b" * 64


def _fill(reg):
    reg.append(
        H1,
        expect="candidate",
        to="validated",
        size_fraction=0.0,
        reason="r1",
        evidence={"kind": "validation", "sha256": "f" * 64},
    )
    reg.append(H2, expect="candidate", to="validated", size_fraction=0.0)
    reg.append(H1, expect="validated", to="paper", size_fraction=1.0, actor="tester")


def test_records_survive_a_new_process(tmp_path):
    path = tmp_path / "reg.jsonl"
    _fill(PromotionRegistry(path))
    code = (
        "from quantlab.lifecycle import PromotionRegistry;"
        f"r = PromotionRegistry({str(path)!r});"
        f"print(r.state({H1!r}).value, r.state({H2!r}).value, r.state({'c' * 64!r}).value)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NUMBA_DISABLE_JIT": "0"},
    )
    assert out.stdout.split() == ["paper", "validated", "candidate"]


def test_record_fields_and_chain(tmp_path):
    reg = PromotionRegistry(tmp_path / "reg.jsonl")
    _fill(reg)
    recs = reg.records()
    assert [r.seq for r in recs] == [1, 2, 3]
    assert recs[0].prev_hash == "0" * 64 and recs[1].prev_hash == recs[0].hash
    assert recs[2].from_state == "validated" and recs[2].to_state == "paper"
    assert recs[2].actor == "tester" and "@" in recs[0].actor
    assert reg.since(H1, State.VALIDATED).seq == 1
    assert list(reg.history(H1)["to_state"]) == ["validated", "paper"]
    table = reg.table().set_index("strategy_hash")
    assert table.loc[H1, "state"] == "paper" and table.loc[H1, "size_fraction"] == 1.0


def _rewrite(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def test_an_edited_line_is_detected(tmp_path):
    path = tmp_path / "reg.jsonl"
    _fill(PromotionRegistry(path))

    def edit(lines):
        doc = json.loads(lines[1])
        doc["to_state"] = "live_full"
        lines[1] = json.dumps(doc)
        return lines

    _rewrite(path, edit)
    with pytest.raises(DataError, match="line 2: hash does not match"):
        PromotionRegistry(path).state(H2)


def test_a_removed_line_is_detected(tmp_path):
    path = tmp_path / "reg.jsonl"
    _fill(PromotionRegistry(path))
    _rewrite(path, lambda lines: [lines[0], lines[2]])
    with pytest.raises(DataError, match="line 2: prev_hash does not match"):
        PromotionRegistry(path).records()


def test_an_interrupted_write_is_reported_not_skipped(tmp_path):
    path = tmp_path / "reg.jsonl"
    _fill(PromotionRegistry(path))
    with path.open("a") as f:
        f.write('{"seq": 4, "ti')
    with pytest.raises(DataError, match="line 4 is incomplete"):
        PromotionRegistry(path).records()


def test_a_concurrent_change_is_not_overwritten(tmp_path):
    reg = PromotionRegistry(tmp_path / "reg.jsonl")
    _fill(reg)
    # someone paused it meanwhile: a promotion judged on 'paper' must not land
    reg.append(H1, expect="paper", to="paused", size_fraction=0.0, actor="runner")
    with pytest.raises(PromotionRefused, match="is paused, not paper"):
        reg.append(H1, expect="paper", to="live_small", size_fraction=0.25)
    assert reg.state(H1) is State.PAUSED


def test_bad_hash_and_non_json_evidence_are_refused(tmp_path):
    reg = PromotionRegistry(tmp_path / "reg.jsonl")
    with pytest.raises(ConfigError, match="64 hex"):
        reg.append("abc", expect="candidate", to="validated", size_fraction=0)
    with pytest.raises(ConfigError, match="not plain JSON"):
        reg.append(
            H1, expect="candidate", to="validated", size_fraction=0, evidence={"x": float("nan")}
        )
    assert reg.records() == []


def test_default_path_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTLAB_LIFECYCLE_REGISTRY", str(tmp_path / "env.jsonl"))
    assert PromotionRegistry().path == tmp_path / "env.jsonl"
