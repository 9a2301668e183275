"""The workflow's dataset sheet (`datasets.tsv`): read, validated row by row against its JSON schema, and
turned into one spec per dataset — what the `fit`, `gradient_diagnostics`, `simulate_fitted` and
`report_dataset` rules receive as `params.spec` and what `load_problem` turns into a `Problem`.

A spec is a plain dict (Snakemake passes it to the rules' scripts):

- `dataset`, `kind` (`"petab"` or `"csv"`), `problem` (the PEtab YAML, or `None`);
- `model_id`, `sbml`, `substance_units` (kind csv: the model of `config.yaml`; `None`/`"auto"` for PEtab);
- `data` (CSV paths), `free_parameters` (id → start value or `None`), `noise_sd` (float or `None`),
  `loss` (a loss name overriding `fit.loss`, or `None`);
- `inputs`: every file the fit reads (so changing any of them re-runs it).
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from .._petab_layout import KINDS, problem_files
from ..errors import ConfigError, DataError
from ._config import schema_errors, with_defaults

_FREE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:=(.+))?$")


def _rows(path: str) -> list[dict]:
    """The sheet's rows as dicts of non-empty cells (strings; `noise_sd` converted to a number)."""
    import pandas as pd

    with open(path, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.lstrip().startswith("#"))
    frame = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, skip_blank_lines=True)
    frame.columns = [c.strip() for c in frame.columns]
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        row = {k: v for k, v in record.items() if not pd.isna(v)}
        cell = row.pop("noise_sd", "")
        if cell.strip():
            try:
                row["noise_sd"] = float(cell)
            except ValueError:
                raise ConfigError(
                    f"{path}: row {i} (dataset {row.get('dataset')!r}), column noise_sd: {cell!r} is not a number"
                ) from None
        rows.append(row)
    return rows


def petab_files(problem_yaml: str | os.PathLike) -> list[str]:
    """The PEtab problem's YAML and every file it lists (parameter, SBML, condition, measurement and
    observable tables), as paths joined to the YAML's folder. **Raises:** `DataError` for a file that is not
    a supported PEtab v1 problem or lists a missing file."""
    listed = problem_files(Path(problem_yaml))
    return [str(problem_yaml)] + [str(p) for kind in KINDS for p in listed[kind]]


def _free_parameters(cell: str, where: str) -> dict[str, float | None]:
    free: dict[str, float | None] = {}
    for item in (p.strip() for p in cell.split(";")):
        if not item:
            continue
        m = _FREE.match(item)
        if m is None:
            raise ConfigError(f"{where}, column free_parameters: {item!r} is not `id` or `id=start`")
        start = None
        if m.group(2) is not None:
            try:
                start = float(m.group(2))
            except ValueError:
                raise ConfigError(
                    f"{where}, column free_parameters: start of {m.group(1)!r} is not a number: {m.group(2)!r}"
                ) from None
        free[m.group(1)] = start
    return free


def _spec(row: dict, where: str, models: Mapping[str, Mapping]) -> dict:
    data = [p.strip() for p in row["data"].split(";") if p.strip()]
    free = _free_parameters(row["free_parameters"], where)
    noise = row.get("noise_sd")
    noise = None if noise is None or math.isnan(noise) else float(noise)
    if row["kind"] == "petab":
        if not os.path.isfile(row["model"]):
            raise ConfigError(f"{where}, column model: no such PEtab problem file {row['model']!r}")
        if any(v is None for v in free.values()):
            raise ConfigError(f"{where}, column free_parameters: a PEtab problem takes start values only (`id=start`)")
        try:
            inputs = petab_files(row["model"])
        except DataError as e:
            raise ConfigError(f"{where}, column model: {e}") from None
        sbml, substance_units, model_id = None, "auto", None
    else:
        if row["model"] not in models:
            raise ConfigError(
                f"{where}, column model: {row['model']!r} is not a model in config.yaml (models: {', '.join(models)})"
            )
        for path in data:
            if not os.path.isfile(path):
                raise ConfigError(f"{where}, column data: no such file {path!r}")
        model = models[row["model"]]
        sbml, substance_units, model_id = model["sbml"], model["substance_units"], row["model"]
        inputs = [sbml, *data]
    return {
        "dataset": row["dataset"],
        "kind": row["kind"],
        "problem": row["model"] if row["kind"] == "petab" else None,
        "model_id": model_id,
        "sbml": sbml,
        "substance_units": substance_units,
        "data": data,
        "free_parameters": free,
        "noise_sd": noise,
        "loss": row.get("loss") or None,
        "inputs": inputs,
    }


def read_dataset_sheet(
    path: str | os.PathLike, schema: str | os.PathLike | Mapping, models: Mapping[str, Mapping]
) -> dict[str, dict]:
    """The dataset sheet as specs, dataset id → spec (see the module docstring), in the sheet's order.

    **Arguments:**

    - `path`: the sheet (tab-separated; lines starting with `#` are comments; empty cells take the schema's
      defaults). Paths in it are relative to the working directory.
    - `schema`: `workflow/schemas/datasets.schema.yaml` (path or mapping), the schema of one row.
    - `models`: the checked configuration's `models` (see `check_config`), which `csv` rows refer to.

    **Raises:** `ConfigError` naming the row and column: every schema violation at once, otherwise the first
    other problem (an unknown model, a missing file, a repeated id, a malformed `free_parameters`).
    """
    path = str(path)
    rows = _rows(path)
    errors = []
    for i, row in enumerate(rows):
        errors += schema_errors(row, schema, f"{path}: row {i} (dataset {row.get('dataset')!r})", column=True)
    if errors:
        raise ConfigError("invalid dataset sheet:\n" + "\n".join(errors))
    specs: dict[str, dict] = {}
    for i, row in enumerate(rows):
        where = f"{path}: row {i} (dataset {row['dataset']!r})"
        if row["dataset"] in specs:
            raise ConfigError(f"{where}: dataset id repeats")
        specs[row["dataset"]] = _spec(with_defaults(row, schema), where, models)
    return specs
