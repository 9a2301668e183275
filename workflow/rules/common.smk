# Configuration, dataset sheet, wildcards and targets. The checks are sbmljax.workflow's (tested Python); they
# run when the workflow is parsed, so a bad config or sheet stops the run before any job starts. Paths the
# workflow owns resolve against this file (workflow.source_path), so it also runs embedded as a module; user
# paths (models, data, the sheet) are relative to the running pipeline's working directory.

import os
import re

from sbmljax.workflow import check_config, read_dataset_sheet

_checked = check_config(config, workflow.source_path("../schemas/config.schema.yaml"))
config.clear()
config.update(_checked)  # defaults filled in, for the rules and the report's templates
DATASET_SPECS = read_dataset_sheet(
    config["datasets"],
    workflow.source_path("../schemas/datasets.schema.yaml"),
    config["models"],
)
MODELS = list(config["models"])
METHODS = config["simulate"]["methods"]
CHUNKS = list(range(config["simulate"]["chunks"]))
DATASETS = list(DATASET_SPECS)
PROFILES = config["profile"]["parameters"]
if set(PROFILES) - set(DATASETS):
    raise ValueError(
        f"config.yaml: profile.parameters names unknown dataset(s) {sorted(set(PROFILES) - set(DATASETS))}; "
        f"datasets: {DATASETS}"
    )
# What a seed-chunk of a model needs, in one lookup per job: thousands of chunks plan in seconds.
SIMULATIONS = {
    m: {k: spec[k] for k in ("t_end", "points", "substance_units", "n_trajectories")}
    | {k: config["simulate"][k] for k in ("chunks", "seed", "tau_leap")}
    for m, spec in config["models"].items()
}


def results(path):
    """An output path under paths.results (two embedded copies of the workflow can differ here)."""
    return os.path.join(config["paths"]["results"], path)


def logs(path):
    return os.path.join(config["paths"]["logs"], path)


def benchmarks(path):
    return os.path.join(config["paths"]["benchmarks"], path)


def _alternatives(ids):
    """A wildcard constraint matching exactly these ids (or nothing, for an empty list)."""
    return "|".join(re.escape(i) for i in ids) if ids else "(?!x)x"


wildcard_constraints:
    model=_alternatives(MODELS),
    method=_alternatives(METHODS),
    dataset=_alternatives(DATASETS),
    chunk=r"\d+",
    parameter=r"[A-Za-z_][A-Za-z0-9_]*",


def dataset_inputs(wildcards):
    """The files a dataset's fit reads: the PEtab YAML and its tables, or the SBML and the CSV files."""
    return DATASET_SPECS[wildcards.dataset]["inputs"]


def gradient_point(wildcards):
    """The fit result when gradient_diagnostics runs at the fitted parameters, else nothing."""
    if config["gradient_diagnostics"]["at"] == "fitted":
        return {"fit": results(f"fit/{wildcards.dataset}/fit.json")}
    return {}


def all_outputs():
    out = expand(results("import/{model}/summary.json"), model=MODELS)
    out += expand(
        results("simulate/{model}/{method}/stats.csv"), model=MODELS, method=METHODS
    )
    out += expand(results("reference_ode/{model}/ode.csv"), model=MODELS)
    out += expand(
        results("report/{model}/ensemble_{method}.png"), model=MODELS, method=METHODS
    )
    out += expand(results("fit/{dataset}/fit.json"), dataset=DATASETS)
    out += expand(
        results("gradient_diagnostics/{dataset}/gradients.tsv"), dataset=DATASETS
    )
    figures = ["fit", "loss", "parameters", "gradients"]
    out += expand(
        results("report/{dataset}/{figure}.png"), dataset=DATASETS, figure=figures
    )
    for dataset, parameters in PROFILES.items():
        out += expand(
            results("report/{dataset}/profile_{parameter}.png"),
            dataset=dataset,
            parameter=parameters,
        )
    if config["check"]["paths"]:
        out += [results("check/checks.tsv"), results("check/checks.html")]
    return out
