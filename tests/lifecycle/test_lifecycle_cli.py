"""``quantlab promote``, ``quantlab lifecycle ...`` and ``quantlab live replay``."""

from __future__ import annotations

import json

from journal_builder import write_journal

from quantlab.cli import main


def test_promote_refused_prints_the_gates_and_records_nothing(failing_validation, registry, capsys):
    code = main(
        ["promote", str(failing_validation), "--to", "validated", "--registry", str(registry.path)]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "REFUSED" in out and "validation gate dsr" in out
    assert "nothing recorded" in err
    assert registry.records() == []


def test_promote_dry_run_then_for_real(validation, registry, capsys):
    args = ["promote", str(validation), "--to", "validated", "--registry", str(registry.path)]
    assert main([*args, "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out and registry.records() == []
    assert main([*args, "--reason", "04 passed"]) == 0
    assert "recorded #1" in capsys.readouterr().out
    assert registry.records()[0].reason == "04 passed"


def test_a_disallowed_transition_is_one_line(validation, registry, capsys):
    code = main(["promote", str(validation), "--to", "paper", "--registry", str(registry.path)])
    err = capsys.readouterr().err
    assert code == 1 and "candidate -> paper is not allowed" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_promote_without_evidence_is_refused(strategy, registry, capsys):
    code = main(["promote", "ma_cross", "--to", "validated", "--registry", str(registry.path)])
    assert code == 1 and "a validation.json is needed" in capsys.readouterr().out


def test_status_history_pause_retire(validation, registry, capsys):
    reg = ["--registry", str(registry.path)]
    main(["promote", str(validation), "--to", "validated", *reg])
    main(["promote", str(validation), "--to", "paper", *reg])
    capsys.readouterr()
    assert main(["lifecycle", "status", *reg]) == 0
    assert "paper" in capsys.readouterr().out
    assert main(["lifecycle", "pause", str(validation), "--reason", "review", *reg]) == 0
    assert "paper -> paused" in capsys.readouterr().out
    assert main(["lifecycle", "retire", str(validation), "--reason", "gone", *reg]) == 0
    assert main(["lifecycle", "history", *reg]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") >= 5 and "retired" in out


def test_live_replay_writes_the_artefact(tmp_path, strategy, costs, bars, capsys):
    journal = tmp_path / "j.sqlite"
    write_journal(journal, bars, strategy, costs)
    out = tmp_path / "replay.json"
    assert main(["live", "replay", str(journal), "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "quantlab.replay/1" and doc["summary"]["missing"] == 0
    assert abs(doc["summary"]["diff_total"]) < 1e-6
    assert len(doc["fills"]) == doc["summary"]["matched"] > 0
    assert "replay written to" in capsys.readouterr().out
