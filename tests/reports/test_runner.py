"""The papermill batch runner: dated run folders, metadata, HTML, index, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

import quantlab as ql
from quantlab.cli import main
from quantlab.reports import list_runs, run_reports


def _notebook(path: Path, body: str, params: str = "x = 1") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path: Path) -> dict[str, Path]:
    good = _notebook(
        tmp_path / "a_good.ipynb",
        "import pandas as pd\n"
        "from conftest import random_bars\n"
        "from quantlab.reports import data_card\n"
        "df = random_bars(48)\n"
        "print('x is', x)\n"
        "from quantlab.reports import artifact_path\n"
        "artifact_path('table.csv').write_text('a,b\\n1,2\\n')\n"
        "data_card(df, source='test', symbol='BTC', interval='1h', x=x)",
    )
    bad = _notebook(tmp_path / "b_bad.ipynb", "raise ValueError(f'broken on purpose {x}')")
    return {"good": good, "bad": bad}


@pytest.fixture(autouse=True)
def _tests_on_kernel_path(monkeypatch):
    # the kernel must import tests/conftest.py's random_bars
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))


def test_run_writes_ipynb_html_metadata_and_index(tmp_path, notebooks):
    out = tmp_path / "reports"
    run = run_reports([notebooks["good"]], {"x": 5}, output_root=out, run_id="r1")
    assert run.status == "ok"
    run_dir = run.run_dir
    assert run_dir.parent.parent == out and run_dir.name == "r1"
    assert len(run_dir.parent.name) == 10  # YYYY-MM-DD
    assert (run_dir / "a_good.ipynb").is_file()
    html = (run_dir / "a_good.html").read_text()
    assert "x is 5" in html
    meta = json.loads((run_dir / "run_metadata.json").read_text())
    assert meta["status"] == "ok"
    assert meta["parameters"] == {"x": 5}
    nb = meta["notebooks"][0]
    assert nb["status"] == "ok" and nb["parameters"] == {"x": 5} and nb["duration_s"] > 0
    card = nb["data"][0]
    assert card["source"] == "test" and card["rows"] == 48 and card["x"] == 5
    assert card["start"].startswith("2024-01-01T00:00:00")
    assert meta["git_commit"] is None or len(meta["git_commit"]) == 40
    index = (out / "index.html").read_text()
    assert "r1" in index and f"{run_dir.parent.name}/r1/a_good.html" in index
    # what the notebook wrote through artifact_path lands in its run folder, listed
    assert (run_dir / "table.csv").read_text() == "a,b\n1,2\n"
    assert meta["artifacts"] == ["table.csv"] and run.artifacts == ["table.csv"]
    assert f"{run_dir.parent.name}/r1/table.csv" in index
    assert "QUANTLAB_REPORT_DIR" not in os.environ


def test_failing_notebook_is_named_and_others_still_run(tmp_path, notebooks):
    out = tmp_path / "reports"
    with pytest.raises(ql.ReportError, match=r"b_bad.ipynb: ValueError: broken on purpose 1"):
        run_reports([notebooks["bad"], notebooks["good"]], output_root=out, run_id="r2")
    runs = list_runs(out)
    assert len(runs) == 1
    statuses = {Path(nb["notebook"]).name: nb["status"] for nb in runs[0]["notebooks"]}
    assert statuses == {"b_bad.ipynb": "failed", "a_good.ipynb": "ok"}
    assert runs[0]["status"] == "failed"
    # the failed notebook's partial output is still exported for reading
    assert (out / runs[0]["path"] / "b_bad.html").is_file()
    assert "FAILED" in (out / "index.html").read_text()


def test_cli_report_exit_code_and_message(tmp_path, notebooks, capsys):
    out = tmp_path / "reports"
    code = main(["report", str(notebooks["bad"]), "--output", str(out), "-p", "x", "[1, 2]"])
    assert code == 1
    captured = capsys.readouterr()
    assert "b_bad.ipynb" in captured.err and "failed" in captured.err
    assert "broken on purpose [1, 2]" in captured.out


def test_unknown_parameter_is_refused(tmp_path, notebooks):
    with pytest.raises(ql.ConfigError, match=r"\['y'\] are declared by none"):
        run_reports([notebooks["good"]], {"y": 1}, output_root=tmp_path / "r")


def test_missing_notebook(tmp_path):
    with pytest.raises(ql.ConfigError, match="does not exist"):
        run_reports([tmp_path / "nope.ipynb"], output_root=tmp_path / "r")


def test_batch_on_a_dask_cluster(tmp_path, notebooks):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "reports"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        run = run_reports(
            [notebooks["good"], notebooks["bad"]],
            {"x": 3},
            output_root=out,
            run_id="dask",
            scheduler=cluster,
            raise_on_failure=False,
        )
    statuses = {Path(nb.notebook).name: (nb.status, nb.error) for nb in run.notebooks}
    assert statuses == {
        "a_good.ipynb": ("ok", None),
        "b_bad.ipynb": ("failed", "ValueError: broken on purpose 3"),
    }
    assert "x is 3" in (run.run_dir / "a_good.html").read_text()
    meta = json.loads((run.run_dir / "run_metadata.json").read_text())
    assert [Path(nb["notebook"]).name for nb in meta["notebooks"]] == [
        "a_good.ipynb",
        "b_bad.ipynb",
    ]


def test_cli_parameters_keep_dates_as_strings(tmp_path):
    from quantlab.cli import _parse_value

    assert _parse_value("2024-01-01") == "2024-01-01"
    assert _parse_value("2024-01-01 10:00:00") == "2024-01-01 10:00:00"
    assert _parse_value("[1, 4]") == [1, 4]
    assert _parse_value("0.5") == 0.5
    assert _parse_value("null") is None
    assert _parse_value("ETH") == "ETH"


def test_artifact_path_interactive_and_bad_names(tmp_path, monkeypatch):
    from quantlab.reports import artifact_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUANTLAB_REPORT_DIR", raising=False)
    assert artifact_path("x.json") == Path("reports/interactive/x.json")
    assert (tmp_path / "reports" / "interactive").is_dir()
    monkeypatch.setenv("QUANTLAB_REPORT_DIR", str(tmp_path / "run"))
    assert artifact_path("x.json") == tmp_path / "run" / "x.json"
    for bad in ("", "../x.json", "a/b.json"):
        with pytest.raises(ql.ConfigError, match="plain file name"):
            artifact_path(bad)
