"""Helpers shared by the rules' scripts (imported from the scripts' folder, which Snakemake puts on sys.path)."""

import logging

import sbmljax
from sbmljax.data import EstimatedParameter, load_petab, problem_from_csv


def start_log(path: str) -> None:
    """Log to the rule's log file (INFO and up; JAX's backend probing only from WARNING up)."""
    logging.basicConfig(filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    logging.getLogger("jax").setLevel(logging.WARNING)
    logging.captureWarnings(True)


def load_problem(spec: dict):
    """The `sbmljax.data.Problem` of one dataset-sheet row (`params.spec`, built in common.smk) and the fit's
    start-value overrides (id -> value)."""
    if spec["kind"] == "petab":
        problem = load_petab(spec["problem"])
        starts = {k: float(v) for k, v in spec["free_parameters"].items()}
    else:
        model = sbmljax.load_sbml(spec["sbml"], substance_units=spec["substance_units"])
        free = [k if v is None else EstimatedParameter.around(k, v) for k, v in spec["free_parameters"].items()]
        problem = problem_from_csv(model, spec["data"], free, noise_sd=spec["noise_sd"])
        starts = {}
    for note in problem.notes:
        logging.info("problem note: %s", note)
    logging.info("%r", problem)
    return problem, starts
