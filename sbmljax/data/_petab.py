"""PEtab (v1) problems: `load_petab` → `Problem` (`write_parameter_table` is in `_parameter_table`).

Reading runs three layers of checks, so that a malformed problem fails with the file (and, where known,
the row and column): sbmljax's cell checks of each table (`_petab_tables`), petab's own loader, and
`petab.v1.lint_problem`, whose findings (logged, not raised, by petab) are collected and raised as one
`DataError` naming the table's file.

Reference: L. Schmiester et al., "PEtab — Interoperable specification of parameter estimation problems in
systems biology", PLoS Comput. Biol. 17:e1008646 (2021).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import cast

import numpy as np

from .._expr import Expr, Num, Sym, substitute
from .._petab_layout import invalid_problem, problem_files
from ..errors import DataError, ParameterError
from ..sbml import load_sbml
from ._dataset import Dataset
from ._formula import COUNT_DISTRIBUTIONS, NoiseDistribution, Observable, Transformation
from ._petab_tables import Table, check_measurements, check_observables, check_parameters, read_table
from ._problem import EstimatedParameter, Problem, Scale

_LINT_TABLES = {
    "model": "sbml",
    "condition": "condition",
    "observable": "observable",
    "measurement": "measurement",
    "parameter": "parameter",
}


@contextlib.contextmanager
def _quiet_petab():
    # petab 0.8 calls pandas APIs that pandas deprecates; those warnings are not the user's to act on.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"petab(\.|$)")
        yield


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _lint(petab_problem, files: dict[str, list[Path]], yaml_path: Path) -> list[str]:
    """Run `petab.v1.lint_problem`; raise its errors as one `DataError`, return its warnings."""
    import petab.v1

    logger = logging.getLogger("petab")
    handler, level, propagate = _Collect(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the findings are raised or returned, not printed
    try:
        with _quiet_petab():
            petab.v1.lint_problem(petab_problem)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    errors, warnings, table = [], [], "model"
    for rec in handler.records:
        msg = " ".join(rec.getMessage().split())
        if msg.startswith("Checking ") and rec.levelno == logging.INFO:
            table = msg[len("Checking ") :].split()[0].rstrip(".")
            continue
        label = ", ".join(str(p) for p in files.get(_LINT_TABLES.get(table, ""), [])) or str(yaml_path)
        if rec.levelno >= logging.ERROR and msg != "Not OK":
            errors.append(f"{label}: {msg}")
        elif rec.levelno == logging.WARNING and "not available" not in msg:
            warnings.append(f"{label}: {msg}")
    if errors:
        raise DataError(f"{yaml_path}: PEtab lint found {len(errors)} error(s): " + "; ".join(errors))
    return warnings


def _hide_count_models(petab_problem) -> None:
    """Show petab's linter `normal` where the table names one of sbmljax's count models (an extension of
    PEtab v1, which knows normal and laplace only); sbmljax reads the distributions from its own copy."""
    df = petab_problem.observable_df
    col = "noiseDistribution"
    if df is not None and col in df.columns:
        df[col] = [("normal" if str(v) in COUNT_DISTRIBUTIONS else v) for v in df[col]]


def _files(yaml_path: Path) -> dict[str, list[Path]]:
    """The problem's files (`problem_files`), after validating the YAML against PEtab's schema."""
    import petab.v1

    files = problem_files(yaml_path)
    try:
        with _quiet_petab():
            petab.v1.validate(str(yaml_path))  # the YAML schema
    except Exception as e:  # jsonschema and petab raise their own types
        raise invalid_problem(yaml_path, e) from None
    return files


def _substitutions(meas: list[Table], observables: dict[str, Observable], column: str, prefix: str, numeric_rows: bool):
    """Resolve `{prefix}{k}_{obs}` placeholders from the measurement tables' `column`.

    Entries the same in every row of an observable are substituted into its formula (a number or a
    parameter id); different numbers per row are returned per row when `numeric_rows` (noise parameters).
    """
    per_obs: dict[str, list[tuple[Table, int, str]]] = {}
    for t in meas:
        for r in range(1, len(t.rows) + 1):
            per_obs.setdefault(t.cell(r, "observableId"), []).append((t, r, t.cell(r, column)))
    rowwise: dict[tuple[str, int], list[float]] = {}
    for oid, entries in per_obs.items():
        distinct = {e for _, _, e in entries}
        if len(distinct) == 1:
            parts = [p.strip() for p in next(iter(distinct)).split(";")] if next(iter(distinct)) else []
            mapping: dict[str, Expr] = {}
            for k, p in enumerate(parts, start=1):
                try:
                    mapping[f"{prefix}{k}_{oid}"] = Num(float(p))
                except ValueError:
                    mapping[f"{prefix}{k}_{oid}"] = Sym(p)
            o = observables.get(oid)
            if o is not None and mapping:
                observables[oid] = Observable(
                    o.id,
                    o.formula,
                    substitute(o.expr, mapping),
                    o.noise_formula,
                    substitute(o.noise, mapping) if o.noise is not None else None,
                    o.distribution,
                    o.transformation,
                )
            continue
        for t, r, e in entries:
            try:
                values = [float(p) for p in e.split(";")] if e else []
            except ValueError:
                values = None
            if not numeric_rows:
                raise DataError(
                    f"{t.where(r, column)}: {e!r}: {column} must be the same in every measurement of observable "
                    f"'{oid}' (measurement-specific values are not supported)"
                )
            if values is None:
                raise DataError(
                    f"{t.where(r, column)}: {e!r}: {column} that differ between measurements of observable "
                    f"'{oid}' must be numbers"
                )
            rowwise[(str(t.path), r)] = values
    return rowwise


def _conditions(tables: list[Table], model) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """conditionId → (initial counts, parameter values); empty cells keep the model's values."""
    species = {s.id: s for s in model.species}
    sizes = {c.id: c.size for c in model.compartments}
    params = set(model.parameter_values())
    out = {}
    for t in tables:
        for r in range(1, len(t.rows) + 1):
            initial, values = {}, {}
            for col in t.columns:
                if col in ("conditionId", "conditionName") or t.cell(r, col) == "" or t.cell(r, col).lower() == "nan":
                    continue
                try:
                    v = float(t.cell(r, col))
                except ValueError:
                    raise DataError(
                        f"{t.where(r, col)}: {t.cell(r, col)!r}: only numeric condition values are supported"
                    ) from None
                if col in species:
                    s = species[col]
                    # PEtab's species value is SBML's: an amount (hasOnlySubstanceUnits) or a concentration.
                    volume = 1.0 if s.has_only_substance_units else sizes.get(s.compartment)
                    if volume is None:
                        raise DataError(
                            f"{t.where(r, col)}: compartment '{s.compartment}' of species '{col}' has no size"
                        )
                    initial[col] = v * volume * s.count_factor
                elif col in params:
                    values[col] = v
                else:
                    raise DataError(
                        f"{t.where(r, col)}: '{col}' is not a species or settable parameter of model '{model.id}'"
                    )
            out[t.cell(r, "conditionId")] = (initial, values)
    return out


def _datasets(meas: list[Table], observables: dict[str, Observable], conditions, noise_rows) -> list[Dataset]:
    # One dataset per (condition, replicateId); a repeated (observable, time) within it is a further replicate.
    groups: dict[tuple[str, str, int], list[tuple[Table, int]]] = {}
    seen: dict[tuple[str, str, str, float], int] = {}
    for t in meas:
        for r in range(1, len(t.rows) + 1):
            cond, rep, oid = t.cell(r, "simulationConditionId"), t.cell(r, "replicateId"), t.cell(r, "observableId")
            key = (cond, rep, oid, t.number(r, "time"))
            k = seen[key] = seen.get(key, -1) + 1
            groups.setdefault((cond, rep, k), []).append((t, r))
    k_noise = max((len(v) for v in noise_rows.values()), default=0)
    out = []
    for (cond, rep, k), rows in groups.items():
        obs_ids = list(dict.fromkeys(t.cell(r, "observableId") for t, r in rows))
        times = np.unique([t.number(r, "time") for t, r in rows])
        values = np.full((times.size, len(obs_ids)), np.nan)
        npar = np.full((times.size, len(obs_ids), k_noise), np.nan)
        for t, r in rows:
            i, j = int(np.searchsorted(times, t.number(r, "time"))), obs_ids.index(t.cell(r, "observableId"))
            values[i, j] = t.number(r, "measurement")
            given = noise_rows.get((str(t.path), r), [])
            npar[i, j, : len(given)] = given
        initial, params = conditions[cond]
        name = cond + (f"/{rep}" if rep else "") + (f"#{k + 1}" if k else "")
        source = ", ".join(dict.fromkeys(str(t.path) for t, _ in rows))
        out.append(Dataset(name, times, tuple(observables[o] for o in obs_ids), values, npar, initial, params, source))
    return out


def load_petab(problem_yaml: str | os.PathLike) -> Problem:
    """Load and lint a PEtab v1 problem into a `Problem`.

    Supported: one SBML model; measurements at finite times; observables with `noiseFormula` a number, a
    parameter or a formula of parameters, species and `noiseParameter` placeholders (numbers per
    measurement, or one value for all measurements of an observable); `lin`, `log` and `log10`
    transformations with `normal` or `laplace` noise, and, as an sbmljax extension, the count models
    `poisson`, `negative_binomial` and `binomial` (see `Observable`; only `sbmljax.log_likelihood` and
    `fit(loss="likelihood")` read anything but linear normal observables); numeric condition values for
    species (initial amounts or concentrations, converted to molecule counts) and parameters. Refused with a
    `DataError` naming file, row and column: pre-equilibration, steady-state times, objective priors.

    **Arguments:**

    - `problem_yaml`: the PEtab problem YAML file.

    **Returns:** the `Problem` (`parameter_table` holds petab's parameter table for `write_parameter_table`).

    **Raises:** `DataError` for a malformed or unsupported problem (with petab's lint findings), and the
    errors of `load_sbml` for the model.

    **Reference:** Schmiester et al., PLoS Comput. Biol. 17:e1008646 (2021).
    """
    import petab.v1

    yaml_path = Path(problem_yaml)
    if not yaml_path.is_file():
        raise DataError(f"{yaml_path}: no such file")
    files = _files(yaml_path)
    tables = {
        kind: [read_table(p, kind, yaml_path) for p in files[kind]]
        for kind in ("measurement", "observable", "parameter", "condition")
    }
    for t in tables["measurement"]:
        check_measurements(t)
    for t in tables["observable"]:
        check_observables(t)
    notes = [n for t in tables["parameter"] for n in check_parameters(t)]
    try:
        with _quiet_petab():
            petab_problem = petab.v1.Problem.from_yaml(str(yaml_path))
    except Exception as e:  # petab raises assertion, value and key errors on malformed tables
        raise DataError(f"{yaml_path}: petab cannot load the problem: {type(e).__name__}: {e}") from None
    _hide_count_models(petab_problem)
    notes += _lint(petab_problem, files, yaml_path)
    model = load_sbml(files["sbml"][0])

    observables: dict[str, Observable] = {}
    for t in tables["observable"]:
        for r in range(1, len(t.rows) + 1):
            oid = t.cell(r, "observableId")
            observables[oid] = Observable.parse(
                oid,
                t.cell(r, "observableFormula"),
                t.cell(r, "noiseFormula"),
                where=f"{t.path}: row {r} (line {r + 1})",
                # the table's text; Observable checks it is one of the names (a clear DataError otherwise)
                distribution=cast(NoiseDistribution, t.cell(r, "noiseDistribution") or "normal"),
                transformation=cast(Transformation, t.cell(r, "observableTransformation") or "lin"),
            )
    _substitutions(tables["measurement"], observables, "observableParameters", "observableParameter", False)
    noise_rows = _substitutions(tables["measurement"], observables, "noiseParameters", "noiseParameter", True)
    datasets = _datasets(tables["measurement"], observables, _conditions(tables["condition"], model), noise_rows)

    estimated, fixed = [], {}
    for t in tables["parameter"]:
        for r in range(1, len(t.rows) + 1):
            pid, nominal = t.cell(r, "parameterId"), t.number(r, "nominalValue", allow_empty=True)
            if t.cell(r, "estimate") == "1":
                try:
                    estimated.append(
                        EstimatedParameter(
                            pid,
                            nominal,
                            t.number(r, "lowerBound"),
                            t.number(r, "upperBound"),
                            cast(Scale, t.cell(r, "parameterScale")),  # check_parameters validated it
                        )
                    )
                except ParameterError as e:
                    raise DataError(f"{t.path}: row {r} (line {r + 1}): {e}") from None
            else:
                fixed[pid] = nominal
    return Problem(
        model, tuple(datasets), tuple(estimated), fixed, str(yaml_path), petab_problem.parameter_df, tuple(notes)
    )
