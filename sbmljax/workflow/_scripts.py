"""What the workflow's rule scripts share: their log file, and the `Problem` of one dataset-sheet spec."""

from __future__ import annotations

import logging
from collections.abc import Mapping


def start_log(path: str) -> None:
    """Log to a rule's log file (INFO and up; JAX's backend probing only from WARNING up), warnings included."""
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    logging.getLogger("jax").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # Every rule is a fresh process: without a persistent cache each one compiles the same model's runner again.
    from .._config import enable_compilation_cache

    enable_compilation_cache()


def load_problem(spec: Mapping):
    """The `sbmljax.data.Problem` of one dataset spec (see `read_dataset_sheet`) and the fit's start-value
    overrides (id → value; empty for a CSV dataset, whose starts are in the problem).

    A CSV dataset's free parameter given with a start value gets the default bounds of
    `EstimatedParameter.around` (three decades either side, log10); one without takes the model's value.
    """
    from .. import load_sbml
    from ..data import EstimatedParameter, load_petab, problem_from_csv

    if spec["kind"] == "petab":
        problem = load_petab(spec["problem"])
        starts = {k: float(v) for k, v in spec["free_parameters"].items()}
    else:
        model = load_sbml(spec["sbml"], substance_units=spec["substance_units"])
        free = [k if v is None else EstimatedParameter.around(k, v) for k, v in spec["free_parameters"].items()]
        problem = problem_from_csv(model, spec["data"], free, noise_sd=spec["noise_sd"])
        starts = {}
    for note in problem.notes:
        logging.info("problem note: %s", note)
    logging.info("%r", problem)
    return problem, starts
