# Configuration: validation against the JSON schemas, the dataset sheet, wildcards and the target list.
# Everything here runs when the workflow is parsed, so a bad config.yaml or datasets.tsv stops the run
# before any job starts, with a message naming the key (or the sheet's row and column).

import io
import math
import os
import re

import jsonschema
import pandas as pd
import yaml

from snakemake.utils import validate


class ConfigError(ValueError):
    """A problem with config.yaml or the dataset sheet, named by key (or row and column)."""


def schema_errors(instance, schema_file, where, key_word=""):
    """One line per JSON-schema violation, naming the key, e.g. `config.yaml: simulate.seed: ...`.

    snakemake.utils.validate (called afterwards, to fill in the defaults) reports only the first violation,
    followed by the whole schema; this names every offending key on a line of its own.
    """
    with open(os.path.join(workflow.basedir, "workflow", "schemas", schema_file)) as f:
        schema = yaml.safe_load(f)
    lines = []
    validator = jsonschema.Draft202012Validator(schema)
    for e in sorted(
        validator.iter_errors(instance), key=lambda e: list(map(str, e.path))
    ):
        key = ".".join(str(k) for k in e.path)
        if e.validator == "required":
            missing = re.match(r"^'(.+)' is a required property$", e.message)
            kind = e.instance.get("kind") if isinstance(e.instance, dict) else None
            key = (
                ".".join([key, missing.group(1)] if key else [missing.group(1)])
                if missing
                else key
            )
            message = "missing (required" + (f" for kind {kind!r})" if kind else ")")
        elif e.validator == "not" and "required" in (e.validator_value or {}):
            kind = e.instance.get("kind") if isinstance(e.instance, dict) else None
            message = f"{', '.join(e.validator_value['required'])} must be empty for kind {kind!r}"
        else:
            message = e.message
        if key_word:
            lines.append(
                f"{where}, {key_word}{key}: {message}" if key else f"{where}: {message}"
            )
        else:
            lines.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
    return lines


_errors = schema_errors(config, "config.schema.yaml", "config.yaml")
if _errors:
    raise ConfigError("invalid configuration:\n" + "\n".join(_errors))
validate(config, "../schemas/config.schema.yaml")  # fills in the schema's defaults

for _model_id, _spec in config["models"].items():
    if not os.path.isfile(_spec["sbml"]):
        raise ConfigError(
            f"config.yaml: models.{_model_id}.sbml: no such file {_spec['sbml']!r}"
        )
    _spec.setdefault("n_trajectories", config["simulate"]["n_trajectories"])
    if config["simulate"]["chunks"] > _spec["n_trajectories"]:
        raise ConfigError(
            f"config.yaml: simulate.chunks ({config['simulate']['chunks']}) exceeds "
            f"models.{_model_id}.n_trajectories ({_spec['n_trajectories']}): every chunk needs a trajectory"
        )
_q = config["report"]["quantiles"]
if not _q[0] < _q[1]:
    raise ConfigError(f"config.yaml: report.quantiles must be increasing, got {_q}")
for _path in config["check"]["paths"]:
    if not os.path.exists(_path):
        raise ConfigError(f"config.yaml: check.paths: no such file or folder {_path!r}")

MODELS = list(config["models"])
METHODS = config["simulate"]["methods"]
CHUNKS = list(range(config["simulate"]["chunks"]))


# ---------------------------------------------------------------- dataset sheet (datasets.tsv)

_SHEET = config["datasets"]
if not os.path.isfile(_SHEET):
    raise ConfigError(f"config.yaml: datasets: no such file {_SHEET!r}")
_FREE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:=(.+))?$")


def _read_sheet(path):
    """The sheet as strings (empty cells NaN), with noise_sd converted to a number."""
    with open(path, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    frame = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, skip_blank_lines=True)
    frame.columns = [c.strip() for c in frame.columns]
    if "noise_sd" in frame.columns:
        values = []
        for i, cell in enumerate(frame["noise_sd"]):
            if pd.isna(cell) or not str(cell).strip():
                values.append(float("nan"))
                continue
            try:
                values.append(float(cell))
            except ValueError:
                raise ConfigError(
                    f"{path}: row {i} (dataset {frame['dataset'].iloc[i]!r}), column noise_sd: {cell!r} is not a number"
                ) from None
        frame["noise_sd"] = values
    return frame


def _petab_files(problem_yaml):
    """The PEtab YAML and every file it lists (so that changing any of them re-runs the fit)."""
    with open(problem_yaml) as f:
        spec = yaml.safe_load(f)
    base = os.path.dirname(problem_yaml)
    files = [problem_yaml]
    params = spec.get("parameter_file") if isinstance(spec, dict) else None
    files += [params] if isinstance(params, str) else list(params or [])
    for problem in (spec.get("problems") or []) if isinstance(spec, dict) else []:
        for key in (
            "sbml_files",
            "condition_files",
            "measurement_files",
            "observable_files",
        ):
            files += problem.get(key) or []
    return [files[0]] + [os.path.join(base, f) for f in files[1:]]


def _dataset_specs(frame):
    """Checked dataset rows, dataset id -> dict (what the scripts receive as params.spec)."""
    specs = {}
    for i, row in enumerate(frame.to_dict("records")):
        where = f"{_SHEET}: row {i} (dataset {row['dataset']!r})"
        if row["dataset"] in specs:
            raise ConfigError(f"{where}: dataset id repeats")
        data = [p.strip() for p in row["data"].split(";") if p.strip()]
        free = {}
        for item in (p.strip() for p in row["free_parameters"].split(";")):
            if not item:
                continue
            m = _FREE.match(item)
            if m is None:
                raise ConfigError(
                    f"{where}, column free_parameters: {item!r} is not `id` or `id=start`"
                )
            start = None
            if m.group(2) is not None:
                try:
                    start = float(m.group(2))
                except ValueError:
                    raise ConfigError(
                        f"{where}, column free_parameters: start of {m.group(1)!r} is not a number: {m.group(2)!r}"
                    ) from None
            free[m.group(1)] = start
        noise = row.get("noise_sd")
        noise = None if noise is None or math.isnan(noise) else float(noise)
        if row["kind"] == "petab":
            if not os.path.isfile(row["model"]):
                raise ConfigError(
                    f"{where}, column model: no such PEtab problem file {row['model']!r}"
                )
            if any(v is None for v in free.values()):
                raise ConfigError(
                    f"{where}, column free_parameters: a PEtab problem takes start values only (`id=start`)"
                )
            inputs = _petab_files(row["model"])
            missing = [f for f in inputs if not os.path.isfile(f)]
            if missing:
                raise ConfigError(
                    f"{where}: the PEtab problem lists missing file(s) {missing}"
                )
            sbml, substance_units, model_id = None, "auto", None
        else:
            if row["model"] not in config["models"]:
                raise ConfigError(
                    f"{where}, column model: {row['model']!r} is not a model in config.yaml "
                    f"(models: {', '.join(MODELS)})"
                )
            for path in data:
                if not os.path.isfile(path):
                    raise ConfigError(f"{where}, column data: no such file {path!r}")
            model_spec = config["models"][row["model"]]
            sbml, substance_units, model_id = (
                model_spec["sbml"],
                model_spec["substance_units"],
                row["model"],
            )
            inputs = [sbml] + data
        specs[row["dataset"]] = {
            "dataset": row["dataset"],
            "kind": row["kind"],
            "problem": row["model"] if row["kind"] == "petab" else None,
            "model_id": model_id,
            "sbml": sbml,
            "substance_units": substance_units,
            "data": data,
            "free_parameters": free,
            "noise_sd": noise,
            "loss": (
                row.get("loss")
                if isinstance(row.get("loss"), str) and row.get("loss")
                else None
            ),
            "inputs": inputs,
        }
    return specs


_sheet = _read_sheet(_SHEET)
_errors = []
for _i, _row in enumerate(_sheet.to_dict("records")):
    _row = {k: v for k, v in _row.items() if not pd.isna(v)}
    _errors += schema_errors(
        _row,
        "datasets.schema.yaml",
        f"{_SHEET}: row {_i} (dataset {_row.get('dataset')!r})",
        "column ",
    )
if _errors:
    raise ConfigError("invalid dataset sheet:\n" + "\n".join(_errors))
validate(_sheet, "../schemas/datasets.schema.yaml")  # fills in the schema's defaults
DATASET_SPECS = _dataset_specs(_sheet)
DATASETS = list(DATASET_SPECS)


def _alternatives(ids):
    """A wildcard constraint matching exactly these ids (or nothing, for an empty list)."""
    return "|".join(re.escape(i) for i in ids) if ids else "(?!x)x"


wildcard_constraints:
    model=_alternatives(MODELS),
    method=_alternatives(METHODS),
    dataset=_alternatives(DATASETS),
    chunk=r"\d+",


# ---------------------------------------------------------------- input functions and targets


def dataset_inputs(wildcards):
    """The files a dataset's fit reads: the PEtab YAML and its tables, or the SBML and the CSV files."""
    return DATASET_SPECS[wildcards.dataset]["inputs"]


def gradient_point(wildcards):
    """The fit result when gradient_diagnostics runs at the fitted parameters, else nothing."""
    if config["gradient_diagnostics"]["at"] == "fitted":
        return {"fit": f"results/fit/{wildcards.dataset}/fit.json"}
    return {}


def check_outputs():
    if not config["check"]["paths"]:
        return []
    return ["results/check/checks.tsv", "results/check/checks.html"]


def all_outputs():
    out = expand("results/import/{model}/summary.json", model=MODELS)
    out += expand(
        "results/simulate/{model}/{method}/stats.csv", model=MODELS, method=METHODS
    )
    out += expand("results/reference_ode/{model}/ode.csv", model=MODELS)
    out += expand(
        "results/report/{model}/ensemble_{method}.png", model=MODELS, method=METHODS
    )
    out += expand("results/fit/{dataset}/fit.json", dataset=DATASETS)
    out += expand(
        "results/gradient_diagnostics/{dataset}/gradients.tsv", dataset=DATASETS
    )
    out += expand(
        "results/report/{dataset}/{figure}.png",
        dataset=DATASETS,
        figure=["fit", "loss", "parameters", "gradients"],
    )
    out += check_outputs()
    return out
