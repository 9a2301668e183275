"""The workflow embedded in another pipeline as a Snakemake module: `module sbmljax: ... config:
config["sbmljax"]` with prefixed rule names, run from the outer pipeline's own folder, with its outputs under
a configured prefix, and an outer rule that consumes them.

The outer pipeline lives in a temporary folder, so every path the workflow owns (schemas, scripts, captions,
the report description) must resolve against the workflow's location, and every user path (models, data,
the dataset sheet) against the outer pipeline's folder. The tiny configuration is `.test/config.yaml`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from helpers import job_counts

REPO = Path(__file__).resolve().parents[1]

OUTER = """\
configfile: "config.yaml"


module sbmljax:
    snakefile:
        "{snakefile}"
    config:
        config["sbmljax"]


use rule * from sbmljax as sbmljax_*
{second}

rule all:
    default_target: True
    input:
        rules.sbmljax_all.input,
        "downstream/birth_death_summary.json",{extra}


rule downstream:
    input:
        stats=expand(rules.sbmljax_merge_simulations.output.stats, model="birth_death", method="direct"),
        fit=expand(rules.sbmljax_fit.output.json, dataset="boarding_school"),
    output:
        "downstream/birth_death_summary.json",
    run:
        import json

        import pandas as pd

        stats = pd.read_csv(input.stats[0])
        with open(input.fit[0]) as f:
            beta = json.load(f)["params"]["beta"]
        final = stats[stats["time"] == stats["time"].max()]
        with open(output[0], "w") as f:
            json.dump({{"final_mean": float(final["mean"].iloc[0]), "beta": beta}}, f)
"""

SECOND = """
module other:
    snakefile:
        "{snakefile}"
    config:
        config["other"]


use rule * from other as other_*
"""


def tiny_module_config(prefix: str) -> dict:
    """`.test/config.yaml` with its paths made absolute and the outputs under `prefix/`."""
    test = REPO / ".test"
    config = yaml.safe_load((test / "config.yaml").read_text())
    for model in config["models"].values():
        model["sbml"] = str((test / model["sbml"]).resolve())
    config["datasets"] = f"{prefix}_datasets.tsv"
    config["paths"] = {"results": f"{prefix}/results", "logs": f"{prefix}/logs", "benchmarks": f"{prefix}/bench"}
    return config


def outer_pipeline(folder: Path, *, two: bool = False) -> None:
    sheet = (REPO / ".test" / "datasets.tsv").read_text()
    problem = (REPO / "data" / "boarding_school" / "problem.yaml").resolve()
    config = {"sbmljax": tiny_module_config("sbmljax")}
    if two:
        config["other"] = {**tiny_module_config("other"), "simulate": {"n_trajectories": 6, "chunks": 3}}
    for key in config:
        (folder / f"{key}_datasets.tsv").write_text(sheet.replace("../data/boarding_school/problem.yaml", str(problem)))
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    second = SECOND.format(snakefile=REPO / "Snakefile") if two else ""
    extra = "\n        rules.other_all.input," if two else ""
    (folder / "Snakefile").write_text(OUTER.format(snakefile=REPO / "Snakefile", second=second, extra=extra))


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Snakemake in the outer pipeline's folder, with this checkout of sbmljax importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("JAX_PLATFORMS", "cpu")
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_embedded_copies_plan_side_by_side(tmp_path):
    """Two copies with their own configuration and output folders: prefixed rules, no clashing outputs."""
    outer_pipeline(tmp_path, two=True)
    out = snakemake("-n", "--cores", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    counts = job_counts(out.stdout)
    assert counts["sbmljax_simulate_chunk"] == 2 and counts["other_simulate_chunk"] == 3
    assert counts["sbmljax_fit"] == 1 and counts["other_fit"] == 1 and counts["downstream"] == 1
    assert "sbmljax/results/fit/boarding_school/fit.json" in out.stdout
    assert "other/results/simulate/birth_death/direct/chunk2.npz" in out.stdout
    assert not any(k in counts for k in ("fit", "simulate_chunk", "merge_simulations"))


def test_embedded_workflow_runs_and_feeds_the_outer_pipeline(tmp_path):
    outer_pipeline(tmp_path)
    shutil.copy(REPO / ".test" / "datasets.tsv", tmp_path / "unused.tsv")  # the module's own sheet is not read
    run = snakemake("--cores", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    summary = json.loads((tmp_path / "downstream/birth_death_summary.json").read_text())
    stats = pd.read_csv(tmp_path / "sbmljax/results/simulate/birth_death/direct/stats.csv")
    assert summary["final_mean"] == stats["mean"].iloc[-1] and summary["beta"] > 0
    assert (tmp_path / "sbmljax/results/report/boarding_school/fit.png").is_file()
    assert (tmp_path / "sbmljax/logs/fit/boarding_school.log").is_file()
    assert (tmp_path / "sbmljax/bench/fit/boarding_school.tsv").is_file()
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()

    report = snakemake("--report", "report.html", cwd=tmp_path)
    assert report.returncode == 0, report.stdout
    html = (tmp_path / "report.html").read_text()
    assert "boarding_school" in html and "birth_death" in html
    assert "the measurements (orange points)" in html  # the module's captions were found
