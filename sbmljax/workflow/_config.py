"""The workflow's configuration: JSON-schema validation with every violation named by key, schema defaults
filled in, and the checks a schema cannot express (files exist, chunks fit the ensemble).

Used by `workflow/rules/common.smk` when Snakemake parses the workflow, so a bad `config.yaml` stops the run
before any job starts; the schemas live with the workflow (`workflow/schemas/`), which passes their paths.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError


def load_schema(schema: str | os.PathLike | Mapping) -> dict:
    """A JSON schema given as a YAML/JSON file path, or as a mapping (returned as a copy)."""
    if isinstance(schema, Mapping):
        return copy.deepcopy(dict(schema))
    import yaml

    with open(schema, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _validator(schema: dict, *, defaults: bool):
    import jsonschema

    base = jsonschema.Draft202012Validator
    if not defaults:
        return base(schema)
    properties = base.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, subschema):
        # jsonschema's FAQ recipe (as snakemake.utils.validate): fill a default before descending into it,
        # so nested defaults (e.g. simulate.tau_leap.step) are filled too.
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from properties(validator, props, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})(schema)


def schema_errors(instance: Any, schema: str | os.PathLike | Mapping, where: str, *, column: bool = False) -> list[str]:
    """Every JSON-schema violation of `instance`, one line each naming the key.

    **Arguments:**

    - `instance`: the configuration (or one dataset-sheet row as a dict).
    - `schema`: the schema (path or mapping).
    - `where`: the prefix of each line, e.g. `"config.yaml"` or `"datasets.tsv: row 0 (dataset 'x')"`.
    - `column`: name keys as sheet columns (`where, column key: ...`) instead of `where: key: ...`.

    **Returns:** the lines, sorted by key (empty when `instance` is valid). Unlike
    `snakemake.utils.validate`, which reports the first violation followed by the whole schema.
    """
    lines = []
    validator = _validator(load_schema(schema), defaults=False)
    for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        key = ".".join(str(k) for k in e.path)
        kind = e.instance.get("kind") if isinstance(e.instance, dict) else None
        if e.validator == "required":
            missing = re.match(r"^'(.+)' is a required property$", e.message)
            if missing:
                key = f"{key}.{missing.group(1)}" if key else missing.group(1)
            message = "missing (required" + (f" for kind {kind!r})" if kind else ")")
        elif e.validator == "not" and "required" in (e.validator_value or {}):
            message = f"{', '.join(e.validator_value['required'])} must be empty for kind {kind!r}"
        else:
            message = e.message
        if not key:
            lines.append(f"{where}: {message}")
        elif column:
            lines.append(f"{where}, column {key}: {message}")
        else:
            lines.append(f"{where}: {key}: {message}")
    return lines


def with_defaults(instance: Mapping, schema: str | os.PathLike | Mapping) -> dict:
    """A copy of a valid `instance` with the schema's defaults filled in (nested ones too)."""
    out = copy.deepcopy(dict(instance))
    _validator(load_schema(schema), defaults=True).validate(out)
    return out


def check_config(config: Mapping, schema: str | os.PathLike | Mapping, *, where: str = "config.yaml") -> dict:
    """The workflow configuration, validated, with defaults filled in and each model's `n_trajectories` set.

    Paths in it (`models.*.sbml`, `datasets`, `check.paths`) are relative to the working directory of the
    running pipeline and must exist.

    **Arguments:**

    - `config`: the configuration as loaded (`config.yaml`, or an outer pipeline's `config["sbmljax"]`).
    - `schema`: `workflow/schemas/config.schema.yaml` (path or mapping).
    - `where`: the name messages give the configuration.

    **Returns:** a new dict; `config` is not modified.

    **Raises:** `ConfigError` listing every problem, one line each naming the key.
    """
    errors = schema_errors(dict(config), schema, where)
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join(errors))
    config = with_defaults(config, schema)
    simulate = config["simulate"]
    for model_id, spec in config["models"].items():
        if not os.path.isfile(spec["sbml"]):
            raise ConfigError(f"{where}: models.{model_id}.sbml: no such file {spec['sbml']!r}")
        spec.setdefault("n_trajectories", simulate["n_trajectories"])
        if simulate["chunks"] > spec["n_trajectories"]:
            raise ConfigError(
                f"{where}: simulate.chunks ({simulate['chunks']}) exceeds models.{model_id}.n_trajectories "
                f"({spec['n_trajectories']}): every chunk needs a trajectory"
            )
    q = config["report"]["quantiles"]
    if not q[0] < q[1]:
        raise ConfigError(f"{where}: report.quantiles must be increasing, got {q}")
    for path in config["check"]["paths"]:
        if not os.path.exists(path):
            raise ConfigError(f"{where}: check.paths: no such file or folder {path!r}")
    if not os.path.isfile(config["datasets"]):
        raise ConfigError(f"{where}: datasets: no such file {config['datasets']!r}")
    return config
