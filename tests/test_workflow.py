"""The Snakemake workflow (the README's main job): lint, the default DAG, a full tiny run with its report,
incremental re-runs, configuration errors before any job, and seed-chunk split/merge equivalence.

Every run is a `snakemake` subprocess with `PYTHONPATH` set to this repository, so the rules' scripts import
this checkout of sbmljax; runs other than the default dry run use a temporary working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import job_counts

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
BOARDING = REPO / "data" / "boarding_school" / "problem.yaml"
SHEET_HEADER = "dataset\tkind\tmodel\tdata\tfree_parameters\tnoise_sd\n"


def snakemake(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run snakemake with this checkout on PYTHONPATH; stdout and stderr together in `.stdout`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("JAX_PLATFORMS", "cpu")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(cwd), *args]
    return subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )


def write_config(workdir: Path, config: dict, sheet_rows: list[str] = ()) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (workdir / "datasets.tsv").write_text(SHEET_HEADER + "".join(r + "\n" for r in sheet_rows))


def tiny_config(**simulate) -> dict:
    """The CI configuration `.test/config.yaml` itself, its model paths made absolute, with `simulate`
    options overridden."""
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    for model in config["models"].values():
        model["sbml"] = str((REPO / ".test" / model["sbml"]).resolve())
    config["simulate"] = {**config["simulate"], **simulate}
    return config


def test_lint_is_clean():
    out = snakemake("--lint", cwd=REPO)
    assert out.returncode == 0, out.stdout
    assert "Lints for" not in out.stdout, out.stdout
    assert "Congratulations, your workflow is in a good condition!" in out.stdout


def test_default_dry_run_plans_every_job():
    with open(REPO / "config.yaml") as f:
        config = yaml.safe_load(f)
    sheet = pd.read_csv(REPO / config.get("datasets", "datasets.tsv"), sep="\t", comment="#")
    out = snakemake("-n", "--forceall", "--cores", "2", cwd=REPO)
    assert out.returncode == 0, out.stdout
    models, methods = len(config["models"]), len(config["simulate"]["methods"])
    chunks, datasets = config["simulate"]["chunks"], len(sheet)
    assert {"sir", "birth_death", "dimerisation", "vilar_oscillator", "repressilator"} <= set(config["models"])
    assert "boarding_school" in set(sheet["dataset"])
    assert job_counts(out.stdout) == {
        "import_model": models,
        "simulate_chunk": models * methods * chunks,
        "merge_simulations": models * methods,
        "reference_ode": models,
        "report_model": models * methods,
        "fit": datasets,
        "gradient_diagnostics": datasets,
        "simulate_fitted": datasets,
        "report_dataset": datasets,
        "all": 1,
        "total": 1 + models * (2 + methods * (chunks + 2)) + 4 * datasets,
    }
    # The ensemble figures need the ODE; the gradients are taken at the fitted parameters.
    assert "results/reference_ode/vilar_oscillator/ode.csv" in out.stdout
    assert "results/fit/boarding_school/fit.json" in out.stdout


def test_ci_configuration_plans_a_small_run():
    out = snakemake("-n", "--forceall", "--cores", "2", cwd=REPO / ".test")
    assert out.returncode == 0, out.stdout
    counts = job_counts(out.stdout)
    assert counts["simulate_chunk"] == 2 and counts["fit"] == 1 and counts["total"] == 11


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A full run of a tiny configuration: one model, the boarding-school PEtab problem and a CSV dataset."""
    import sbmljax

    work = tmp_path_factory.mktemp("tiny")
    model = sbmljax.load_sbml(REPO / "models" / "birth_death.xml")
    t = np.arange(1.0, 21.0)
    traj = sbmljax.simulate(model, t, n_trajectories=1, seed=11)
    pd.DataFrame({"time": t, "X": traj.counts[0, :, 0]}).to_csv(work / "bd.csv", index=False)
    config = {**tiny_config(), "check": {"paths": [str(REPO / "models" / "birth_death.xml")], "workers": 1}}
    # an opt-in profile, as small as runs (its interval is not the point here; tests/test_likelihood.py checks it)
    config["profile"] = {
        "parameters": {"bd_synthetic": ["k2"]},
        "points": 4,
        "n_particles": 16,
        "iterations": 2,
        "replicates": 2,
    }
    write_config(
        work,
        config,
        [
            f"boarding_school\tpetab\t{BOARDING}\t\t\t",
            "bd_synthetic\tcsv\tbirth_death\tbd.csv\tk1;k2=0.2\t5",
        ],
    )
    first = snakemake("--cores", "2", cwd=work)
    report = snakemake("--report", "results/report.html", cwd=work)
    second = snakemake("--cores", "2", cwd=work)
    return work, first, report, second


def expected_outputs(datasets=("boarding_school", "bd_synthetic")) -> list[str]:
    out = [
        "results/import/birth_death/summary.json",
        "results/simulate/birth_death/direct/stats.csv",
        "results/simulate/birth_death/direct/samples.csv",
        "results/simulate/birth_death/direct/ensemble.npz",
        "results/reference_ode/birth_death/ode.csv",
        "results/report/birth_death/ensemble_direct.png",
        "logs/import_model/birth_death.log",
        "benchmarks/workflow/simulate_chunk/birth_death/direct/chunk0.tsv",
        "benchmarks/workflow/simulate_chunk/birth_death/direct/chunk1.tsv",
        "results/check/checks.tsv",
        "results/check/checks.html",
    ]
    for d in datasets:
        out += [
            f"results/fit/{d}/fit.json",
            f"results/fit/{d}/parameters.tsv",
            f"results/gradient_diagnostics/{d}/gradients.tsv",
            f"results/simulate_fitted/{d}/index.tsv",
            f"results/simulate_fitted/{d}/fit_0.npz",
            f"results/simulate_fitted/{d}/filtered_0.csv",  # fit.loss auto: both have a noise model
            f"results/simulate_fitted/{d}/smoothed_0.csv",
            *(f"results/report/{d}/{f}.png" for f in ("fit", "means", "loss", "parameters", "gradients")),
            f"results/report/{d}/estimates.tsv",
            f"logs/fit/{d}.log",
            f"benchmarks/workflow/fit/{d}.tsv",
        ]
    if "bd_synthetic" in datasets:
        out += [
            "results/profile/bd_synthetic/k2.json",
            "results/profile/bd_synthetic/k2.tsv",
            "results/report/bd_synthetic/profile_k2.png",
        ]
    return out


# The tests that read `tiny_run` share one xdist group: the fixture is module-scoped, but `--dist loadgroup` sends
# ungrouped tests to any worker, and each worker would run the whole workflow again (5.5 min each under load).
@pytest.mark.xdist_group("tiny_run")
def test_tiny_run_produces_every_output_and_a_report(tiny_run):
    work, first, report, _ = tiny_run
    assert first.returncode == 0, first.stdout
    missing = [p for p in expected_outputs() if not (work / p).is_file()]
    assert not missing, f"missing outputs: {missing}\n{first.stdout}"
    # Seed-chunks are temporary: merged, then removed.
    assert not list((work / "results/simulate/birth_death/direct").glob("chunk*.npz"))

    stats = pd.read_csv(work / "results/simulate/birth_death/direct/stats.csv")
    assert {"time", "species", "n", "mean", "sd", "q0.05", "q0.5", "q0.95"} <= set(stats.columns)
    assert (stats["n"] == 12).all() and len(stats) == 11
    fit = json.loads((work / "results/fit/boarding_school/fit.json").read_text())
    assert set(fit["params"]) == {"beta", "gamma"} and fit["iterations"] == 4
    assert fit["loss"] == "likelihood" and fit["loglik"] is not None  # fit.loss auto: one series, noise model
    profile = json.loads((work / "results/profile/bd_synthetic/k2.json").read_text())
    assert profile["parameter"] == "k2" and len(profile["loglik"]) == 4
    assert set(fit["ode_fit"]["params"]) == {"beta", "gamma"}
    table = pd.read_csv(work / "results/fit/boarding_school/parameters.tsv", sep="\t")
    assert np.isclose(table.set_index("parameterId").loc["beta", "nominalValue"], fit["params"]["beta"])
    csv_fit = json.loads((work / "results/fit/bd_synthetic/fit.json").read_text())
    assert set(csv_fit["params"]) == {"k1", "k2"} and csv_fit["start"]["k2"] == pytest.approx(0.2)
    grads = pd.read_csv(work / "results/gradient_diagnostics/boarding_school/gradients.tsv", sep="\t")
    assert len(grads) == 8  # 4 estimators x 2 parameters
    assert set(grads["estimator"]) == {"score", "cfd", "fd_crn", "tau_pathwise"}
    assert np.isfinite(grads["grad"]).all() and (grads["stderr"] > 0).all()
    summary = json.loads((work / "results/import/birth_death/summary.json").read_text())
    assert summary["refused_by"] == {"exact": [], "tau_leap": []}
    checks = pd.read_csv(work / "results/check/checks.tsv", sep="\t")
    assert list(checks["verdict"]) == ["exact"]
    bench = pd.read_csv(work / "benchmarks/workflow/fit/boarding_school.tsv", sep="\t")
    assert bench["s"].iloc[0] > 0

    assert report.returncode == 0, report.stdout
    html = (work / "results/report.html").read_text()
    assert len(html) > 100_000
    assert "boarding_school" in html and "bd_synthetic" in html and "birth_death" in html
    assert "the measurements (orange points)" in html  # a caption was rendered


@pytest.mark.xdist_group("tiny_run")
def test_second_run_does_nothing(tiny_run):
    _, _, _, second = tiny_run
    assert second.returncode == 0, second.stdout
    assert "Nothing to be done" in second.stdout, second.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"simulate": {"n_trajectory": 5}},
            "config.yaml: simulate: Additional properties are not allowed ('n_trajectory'",
        ),
        (
            {"simulate": {"n_trajectories": "many"}},
            "config.yaml: simulate.n_trajectories: 'many' is not of type 'integer'",
        ),
        ({"fit": {"loss": "sse"}}, "config.yaml: fit.loss: 'sse' is not one of"),
        ({"fitt": {}}, "config.yaml: Additional properties are not allowed ('fitt' was unexpected)"),
        (
            {"models": {"foo": {"sbml": "missing.xml", "t_end": 1}}},
            "config.yaml: models.foo.sbml: no such file 'missing.xml'",
        ),
        (
            {"models": {"bd": {"sbml": str(REPO / "models/birth_death.xml")}}},
            "config.yaml: models.bd.t_end: missing (required)",
        ),
        ({"datasets": "nowhere.tsv"}, "config.yaml: datasets: no such file 'nowhere.tsv'"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, change, message):
    write_config(tmp_path, {**tiny_config(), **change})
    out = snakemake("--cores", "1", cwd=tmp_path)
    assert out.returncode != 0
    assert message in out.stdout, out.stdout
    assert "rule " not in out.stdout and not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "x\tcsv\tnot_a_model\tbd.csv\tk1\t",
            "datasets.tsv: row 0 (dataset 'x'), column model: 'not_a_model' is not a model",
        ),
        (
            "x\tcsv\tbirth_death\tbd.csv\t\t",
            "datasets.tsv: row 0 (dataset 'x'), column free_parameters: missing (required for kind 'csv')",
        ),
        (
            "x\tcsv\tbirth_death\tnone.csv\tk1\t",
            "datasets.tsv: row 0 (dataset 'x'), column data: no such file 'none.csv'",
        ),
        (
            "x\tcsv\tbirth_death\tbd.csv\tk1\tloud",
            "datasets.tsv: row 0 (dataset 'x'), column noise_sd: 'loud' is not a number",
        ),
        (f"x\tpetab\t{BOARDING}\t\t\t3", "datasets.tsv: row 0 (dataset 'x'): noise_sd must be empty for kind 'petab'"),
        ("x\tsbml\tbirth_death\tbd.csv\tk1\t", "datasets.tsv: row 0 (dataset 'x'), column kind: 'sbml' is not one of"),
    ],
)
def test_invalid_dataset_sheet_fails_before_any_job(tmp_path, row, message):
    (tmp_path / "bd.csv").write_text("time,X\n1,3\n2,5\n")
    write_config(tmp_path, tiny_config(), [row])
    out = snakemake("--cores", "1", cwd=tmp_path)
    assert out.returncode != 0
    assert message in out.stdout, out.stdout
    assert "rule " not in out.stdout and not (tmp_path / "results").exists()


def test_profiles_parse():
    slurm = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert slurm["executor"] == "slurm" and slurm["latency-wait"] > 0 and slurm["jobs"] > 0
    # no partition by default: the cluster's default partition (the profile runs as shipped without one)
    assert {"mem_mb", "runtime", "cpus_per_task"} <= set(slurm["default-resources"])
    assert "slurm_partition" not in slurm["default-resources"] and slurm["slurm-status-command"] == "squeue"
    assert set(slurm["set-resources"]) <= {
        "import_model",
        "simulate_chunk",
        "merge_simulations",
        "reference_ode",
        "fit",
        "gradient_diagnostics",
        "simulate_fitted",
        "report_model",
        "report_dataset",
        "check",
    }
    local = yaml.safe_load((REPO / "profiles/local/config.yaml").read_text())
    assert local["cores"] == 2


def test_split_and_merge_equal_one_job(tmp_path):
    """Three seed-chunks merged give exactly the ensemble (and statistics) of one job with the same seed."""
    outputs = {}
    for chunks in (1, 3):
        work = tmp_path / f"chunks{chunks}"
        work.mkdir()
        write_config(work, tiny_config(chunks=chunks, n_trajectories=10))
        out = snakemake("--cores", "2", "results/simulate/birth_death/direct/stats.csv", cwd=work)
        assert out.returncode == 0, out.stdout
        assert job_counts(out.stdout)["simulate_chunk"] == chunks
        outputs[chunks] = work / "results/simulate/birth_death/direct"
    one, three = outputs[1], outputs[3]
    pd.testing.assert_frame_equal(pd.read_csv(one / "stats.csv"), pd.read_csv(three / "stats.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(one / "samples.csv"), pd.read_csv(three / "samples.csv"))
    np.testing.assert_array_equal(np.load(one / "ensemble.npz")["counts"], np.load(three / "ensemble.npz")["counts"])
