"""The Snakemake workflow's logic as tested Python (the workflow in `workflow/` only calls it).

- `check_config`: the configuration validated against its JSON schema, every violation named by key, with
  the schema's defaults filled in; `schema_errors` and `with_defaults` are its two halves.
- `read_dataset_sheet`: the dataset sheet (`datasets.tsv`) → one spec per dataset; `petab_files` lists the
  files of a PEtab problem (the inputs of its fit).
- `load_problem`: a spec → `sbmljax.data.Problem`; `start_log`: a rule script's log file.
- `gradient_diagnostics`: the gradient of a problem's expected squared error with several estimators.
- `simulate_fitted`: ensembles and ODE solutions of a problem's datasets at its fitted parameters.
- `merge_chunks`: seed-chunks merged into statistics, sample paths and the ensemble, one chunk in memory at
  a time (`EnsembleSummary`); `ensemble_head` reads the first trajectories of an ensemble file.

Errors are `sbmljax.errors` types: `ConfigError` for the configuration and the sheet (naming key, or row
and column), `DataError` for chunk files.
"""

from __future__ import annotations

from ._config import check_config as check_config
from ._config import schema_errors as schema_errors
from ._config import with_defaults as with_defaults
from ._fitted import simulate_fitted as simulate_fitted
from ._gradients import gradient_diagnostics as gradient_diagnostics
from ._merge import EnsembleSummary as EnsembleSummary
from ._merge import merge_chunks as merge_chunks
from ._npz import ensemble_head as ensemble_head
from ._scripts import load_problem as load_problem
from ._scripts import start_log as start_log
from ._sheet import petab_files as petab_files
from ._sheet import read_dataset_sheet as read_dataset_sheet

__all__ = [
    "EnsembleSummary",
    "check_config",
    "ensemble_head",
    "gradient_diagnostics",
    "load_problem",
    "merge_chunks",
    "petab_files",
    "read_dataset_sheet",
    "schema_errors",
    "simulate_fitted",
    "start_log",
    "with_defaults",
]
