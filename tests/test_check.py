"""`sbmljax check` / `check_models`: verdicts on curated models, bad files, time limits, outputs, CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import DATA, REPO
from helpers import sbml_model

import sbmljax
from sbmljax._check import find_sbml_files, summary_html
from sbmljax._check_model import COLUMNS, CheckSettings, check_model
from sbmljax.errors import ConfigError

BIOMODELS = DATA / "biomodels"
SUITE = DATA / "sbml-stochastic"


def suite_case(number: str):
    return SUITE / number / f"{number}-sbml-l3v1.xml"


def bad_folder(root):
    """A folder of files that are not loadable SBML (plus a non-SBML file the scan must skip)."""
    folder = root / "bad"
    (folder / "nested").mkdir(parents=True)
    (folder / "malformed.xml").write_text('<?xml version="1.0"?>\n<sbml>\n  <model id="m">\n</sbml>\n')
    (folder / "empty.xml").write_text("")
    (folder / "nested" / "page.sbml").write_text("<html/>\n")
    (folder / "notes.txt").write_text("not a model")
    return folder


# The tests that read `table` share one xdist group: the fixture is module-scoped, but `--dist loadgroup` sends
# ungrouped tests to any worker, and each worker would check the models again (68 s each under load).
SHARES_TABLE = pytest.mark.xdist_group("check_table")


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pd.DataFrame:
    bad = bad_folder(tmp_path_factory.mktemp("check"))
    paths = [BIOMODELS] + [suite_case(c) for c in ("00001", "00028", "00040")] + [bad]
    frame = sbmljax.check_models(paths, workers=2, t_end=100.0, timeout=120)
    return frame.set_index(frame["file"].map(lambda f: os.path.basename(f)))


@SHARES_TABLE
def test_one_row_per_file_with_every_column(table) -> None:
    assert list(table.columns) == list(COLUMNS)
    assert list(table.index) == [
        "BIOMD0000000005.xml",
        "BIOMD0000000009.xml",
        "BIOMD0000000012.xml",
        "BIOMD0000000035.xml",
        "00001-sbml-l3v1.xml",
        "00028-sbml-l3v1.xml",
        "00040-sbml-l3v1.xml",
        "empty.xml",
        "malformed.xml",
        "page.sbml",
    ]
    assert (table["seconds"] >= 0).all() and (table["reason"].str.len() > 0).all()


@SHARES_TABLE
@pytest.mark.parametrize(
    "name", ["BIOMD0000000035.xml", "BIOMD0000000012.xml", "00001-sbml-l3v1.xml", "00028-sbml-l3v1.xml"]
)
def test_exact_models(table, name) -> None:
    row = table.loc[name]
    assert row.verdict == "exact" and row.loads and row.refused_constructs == ""
    assert "confirmation run" in row.reason
    assert 0 < row.estimated_events < 1e7
    assert row.auto_method == "direct" and row.auto_run.startswith("ran: "), row.auto_run  # the same run


@SHARES_TABLE
def test_biomodels_metadata(table) -> None:
    row = table.loc["BIOMD0000000035.xml"]
    assert (row.model_id, row.sbml, row.species, row.reactions, row.time_units) == (
        "vilarOscillator",
        "L2V3",
        10,
        16,
        "hour",
    )
    assert table.loc["BIOMD0000000012.xml", "max_initial_count"] == 20


@SHARES_TABLE
def test_micromolar_mapk_cascade_is_tau_leap_only(table) -> None:
    row = table.loc["BIOMD0000000009.xml"]
    assert row.verdict == "tau_leap_only" and row.loads
    assert 2e6 < row.max_initial_count < 4e6  # 1.2 µM in 4e-12 L
    assert 1e9 < row.estimated_events < 1e11
    assert "reaction events per trajectory" in row.reason
    assert row.auto_method == "hybrid" and row.auto_run, row.auto_run  # ran, or timed out keeping the verdict


@SHARES_TABLE
def test_dimensionless_concentrations_are_refused(table) -> None:
    # Initial values 0.75 and 0.25 are not molecule counts: no stochastic simulation can start from them
    # (tau-leaping would jump by whole molecules on quantities of order one), so the verdict is `refused`.
    row = table.loc["BIOMD0000000005.xml"]
    assert row.verdict == "refused" and row.loads
    assert "'CP'" in row.refused_constructs and "'pM'" in row.refused_constructs
    assert "not molecule counts" in row.reason


@SHARES_TABLE
def test_distrib_and_rate_rule_are_refused(table) -> None:
    row = table.loc["00040-sbml-l3v1.xml"]
    assert row.verdict == "refused" and row.loads
    constructs = row.refused_constructs.split("; ")
    assert "package 'distrib'" in constructs and "rateRule 't'" in constructs


@SHARES_TABLE
def test_bad_files_are_errors_and_the_scan_goes_on(table) -> None:
    rows = table.loc[["empty.xml", "malformed.xml", "page.sbml"]]
    assert (rows["verdict"] == "error").all() and not rows["loads"].any()
    assert "empty" in rows.loc["empty.xml", "reason"]
    assert "malformed.xml:4:" in rows.loc["malformed.xml", "reason"]
    assert "root element is <html>" in rows.loc["page.sbml", "reason"]
    assert rows["species"].isna().all()


def test_time_limit_kills_the_model_and_continues(tmp_path) -> None:
    # JIT compilation alone takes longer than 0.5 s; the second file needs a replacement worker.
    shutil.copy(BIOMODELS / "BIOMD0000000035.xml", tmp_path / "copy.xml")
    frame = sbmljax.check_models([BIOMODELS / "BIOMD0000000035.xml", tmp_path / "copy.xml"], workers=1, timeout=0.5)
    assert list(frame["verdict"]) == ["error", "error"]
    for row in frame.itertuples():
        assert row.reason.startswith("timed out after 0.5 s")
        if "analysing" in row.reason:  # what was found before the limit is kept
            assert row.loads and row.species == 10
        assert row.seconds < 30


def test_workers_are_recycled(tmp_path, monkeypatch) -> None:
    import sbmljax._check_pool as pool

    started = []
    init = pool._Worker.__init__

    def counting_init(self, *args, **kwargs):
        started.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(pool, "TASKS_PER_WORKER", 1)
    monkeypatch.setattr(pool._Worker, "__init__", counting_init)
    bad = bad_folder(tmp_path)
    frame = sbmljax.check_models([bad / "empty.xml", suite_case("00028"), bad / "malformed.xml"], workers=1)
    assert list(frame["verdict"]) == ["error", "exact", "error"]
    assert len(started) == 3  # a fresh worker for every model


# -- the classification itself, in this process ----------------------------------------------------------
@pytest.mark.parametrize(
    "species,reactions,verdict,construct",
    [
        ({"X": 5}, [("d", "X -> 0", "k*X*time")], "exact", ""),
        ({"X": 5}, [("d", "X -> 0", "k*X/(0.01 - time)")], "tau_leap_only", "reaction 'd' kineticLaw"),
        ({"X": 1234.5}, [("d", "X -> 0", "k*X")], "refused", "species 'X' initial value (not an integer)"),
        ({"X": -3}, [("d", "X -> 0", "k*X")], "refused", "species 'X' initial value"),
        ({"X": 0}, [("b", "0 -> X", "5"), ("d", "X -> 0", "k*(3 - X)")], "refused", "reaction 'd' kineticLaw"),
        ({"X": 1e17}, [("d", "X -> 0", "k*X")], "tau_leap_only", ""),
    ],
    ids=[
        "time-dependent",
        "time-dependent-unbounded",
        "near-integer",
        "negative",
        "negative-propensity-at-run-time",
        "too-many-molecules",
    ],
)
def test_classification(tmp_path, species, reactions, verdict, construct) -> None:
    path = tmp_path / "m.xml"
    path.write_text(sbml_model(species, {"k": 0.1}, reactions))
    row = check_model(str(path), CheckSettings(t_end=10.0))
    assert (row["verdict"], row["refused_constructs"]) == (verdict, construct), row["reason"]


def test_check_reports_the_method_auto_chooses_and_its_run(tmp_path) -> None:
    timed = tmp_path / "timed.xml"
    timed.write_text(sbml_model({"X": 5}, {"k": 0.1}, [("d", "X -> 0", "k*X*time")]))
    row = check_model(str(timed), CheckSettings(t_end=10.0))
    assert (row["verdict"], row["auto_method"]) == ("exact", "extrande") and "(extrande)" in row["reason"]
    assert row["auto_run"].startswith("ran: reached t=10"), row["auto_run"]
    row = check_model(str(timed), CheckSettings(t_end=10.0, confirm_steps=0))
    assert (row["auto_method"], row["auto_run"]) == ("extrande", "not run (confirm_steps=0)")
    negative = tmp_path / "negative.xml"
    negative.write_text(sbml_model({"X": -3}, {"k": 0.1}, [("d", "X -> 0", "k*X")]))
    row = check_model(str(negative), CheckSettings(t_end=10.0))
    assert row["auto_method"] == "refused" and "negative" in row["auto_run"], row["auto_run"]


def test_event_budget_and_no_confirmation_run() -> None:
    path = str(suite_case("00001"))
    assert check_model(path, CheckSettings(max_events=10.0))["verdict"] == "tau_leap_only"
    row = check_model(path, CheckSettings(confirm_steps=0))
    assert row["verdict"] == "exact" and "accepted" in row["reason"]


def test_finding_files_and_bad_options(tmp_path) -> None:
    bad = bad_folder(tmp_path)
    found = find_sbml_files([bad, bad / "empty.xml", bad / "notes.txt"])
    assert [os.path.basename(f) for f in found] == ["empty.xml", "malformed.xml", "page.sbml", "notes.txt"]
    with pytest.raises(ConfigError, match="no such file"):
        find_sbml_files([tmp_path / "missing"])
    (tmp_path / "void").mkdir()
    with pytest.raises(ConfigError, match="no \\*.xml or \\*.sbml files"):
        find_sbml_files(tmp_path / "void")
    for kw in ({"t_end": 0}, {"timeout": -1}, {"workers": 0}, {"substance_units": "gram"}):
        with pytest.raises(ConfigError):
            sbmljax.check_models(bad, **kw)


def test_html_escapes_content() -> None:
    frame = pd.DataFrame([{c: None for c in COLUMNS} | {"file": "<b>&.xml", "verdict": "error", "reason": "x < y"}])
    page = summary_html(frame)
    assert "&lt;b&gt;&amp;.xml" in page and "x &lt; y" in page and "<b>" not in page


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "sbmljax", "check", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_writes_table_and_html(tmp_path) -> None:
    bad = bad_folder(tmp_path)
    out, page = tmp_path / "res" / "checks.tsv", tmp_path / "res" / "summary.html"
    r = run_cli(
        str(suite_case("00001")),
        str(bad),
        "--out",
        str(out),
        "--html",
        str(page),
        "--t-end",
        "10",
        "--workers",
        "2",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "checked 4 file(s): 1 exact, 0 tau_leap_only, 0 refused, 3 error" in r.stdout
    frame = pd.read_csv(out, sep="\t")
    assert list(frame.columns) == list(COLUMNS) and list(frame["verdict"]) == ["exact", "error", "error", "error"]
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and '<td class="n">3</td>' in text and "BirthDeath01" in text
    assert sorted(p.name for p in out.parent.iterdir()) == ["checks.tsv", "summary.html"]  # no temporary files


def test_cli_usage_errors_exit_1_without_output(tmp_path) -> None:
    out = tmp_path / "checks.tsv"
    for args in (["nope.xml"], [str(BIOMODELS), "--timeout", "0"]):
        r = run_cli(*args, "--out", str(out))
        assert r.returncode == 1 and r.stderr.startswith("sbmljax: error: ") and len(r.stderr.splitlines()) == 1
        assert not out.exists()
