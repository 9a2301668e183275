"""The file layout of a PEtab v1 problem: which tables and model a problem YAML lists.

Kept apart from `sbmljax.data` (and free of JAX and of the `petab` package) because the Snakemake workflow
reads it while parsing, to declare a fit's input files: every job on a cluster re-parses the workflow, and
importing JAX and petab there costs seconds per job. The schema validation and the lint of the tables run
when the problem is loaded (`sbmljax.data.load_petab`).

**Reference:** PEtab v1 problem file format, https://petab.readthedocs.io/en/latest/v1/documentation_data_format.html
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import DataError

#: The kinds of file a PEtab v1 problem lists, in the order `petab_files` reports them.
KINDS = ("parameter", "sbml", "condition", "measurement", "observable")


def invalid_problem(yaml_path: Path, e: Exception) -> DataError:
    """The error for a problem YAML that does not parse or validate, with the parser's or validator's reason."""
    return DataError(f"{yaml_path}: not a valid PEtab problem file: {' '.join(str(e).split())[:500]}")


def problem_files(yaml_path: Path) -> dict[str, list[Path]]:
    """Every file the PEtab v1 problem at `yaml_path` lists, by kind, as paths joined to the YAML's folder.

    **Raises:** `DataError` for a YAML that is not a PEtab v1 problem with exactly one problem and one SBML
    file, or that lists no file of some kind, or a file that does not exist."""
    try:
        with open(yaml_path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise invalid_problem(yaml_path, e) from None
    if not isinstance(config, dict):
        raise DataError(f"{yaml_path}: not a valid PEtab problem file: expected a mapping at the top level")
    if str(config.get("format_version", "")).split(".")[0] != "1":
        raise DataError(
            f"{yaml_path}: format_version {config.get('format_version')!r}: only PEtab v1 problems are supported"
        )
    problems = config.get("problems") or []
    if len(problems) != 1 or not isinstance(problems[0], dict) or len(problems[0].get("sbml_files") or []) != 1:
        raise DataError(f"{yaml_path}: exactly one problem with one SBML file is supported")
    base = yaml_path.parent
    pfiles = config.get("parameter_file") or []
    p0 = problems[0]
    out = {
        "parameter": [base / f for f in (pfiles if isinstance(pfiles, list) else [pfiles])],
        "sbml": [base / p0["sbml_files"][0]],
    }
    for kind in ("measurement", "condition", "observable"):
        out[kind] = [base / f for f in p0.get(f"{kind}_files") or []]
    for kind, paths in out.items():
        if not paths:
            raise DataError(f"{yaml_path}: no {kind} file listed")
        for path in paths:
            if not path.is_file():
                raise DataError(f"{path}: no such file (the {kind} file listed in {yaml_path})")
    return out
