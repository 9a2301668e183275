"""Data for parameter estimation: datasets, PEtab problems, and observables as JAX functions.

- `Dataset`: one experiment (times, observables, measured values, noise, condition overrides);
  `Dataset.from_csv` reads the quick form (a `time` column and one column per species).
- `Problem`: model + datasets + estimated and fixed parameters; `load_petab` reads a PEtab v1 problem,
  `problem_from_csv` builds one from CSV files, `write_parameter_table` writes fitted values back.
- `observables(dataset, model)` / `noise_model(dataset, model)`: `f(counts, params)` in JAX, with species
  symbols read as molecule counts.
"""

from __future__ import annotations

from ._dataset import Dataset as Dataset
from ._formula import Observable as Observable
from ._formula import parse_formula as parse_formula
from ._observables import noise_model as noise_model
from ._observables import observables as observables
from ._parameter_table import write_parameter_table as write_parameter_table
from ._petab import load_petab as load_petab
from ._problem import EstimatedParameter as EstimatedParameter
from ._problem import Problem as Problem
from ._problem import problem_from_csv as problem_from_csv

__all__ = [
    "Dataset",
    "EstimatedParameter",
    "Observable",
    "Problem",
    "load_petab",
    "noise_model",
    "observables",
    "parse_formula",
    "problem_from_csv",
    "write_parameter_table",
]
