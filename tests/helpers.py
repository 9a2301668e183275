"""Shared test helpers: the simulators and estimators to parametrise over, and small networks with
analytic answers.

The lists of methods and estimators come from the registries (`sbmljax._simulator.SIMULATORS`,
`sbmljax._estimator.ESTIMATORS`), so a new simulator or estimator is tested wherever they are used; one
that needs options, or that a kind of test does not apply to, says so here with the reason."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator

import jaxtyping
import numpy as np

import sbmljax
from sbmljax._estimator import ESTIMATORS
from sbmljax._simulator import SIMULATORS

METHOD_OPTIONS: dict[str, dict] = {"tau_leap": {"epsilon": 0.03}, "binomial_leap": {"tau": 0.01}}
"""Options the tests run a method with, where it needs some (a new simulator that needs options fails
loudly in every test that runs all methods until it is given them here)."""

ALL_EXACT_METHODS = [name for name, cls in SIMULATORS.items() if cls.exact]
"""Every exact simulator's `method=` string, from the registry (each must pass the SBML stochastic suite)."""

ALL_METHODS = [(name, METHOD_OPTIONS.get(name, {})) for name in SIMULATORS]
"""`(method, options)` for every registered simulator, so that a new one is tested wherever this is used."""

ESTIMATOR_OPTIONS: dict[str, dict] = {"tau_pathwise": {"noise": "gaussian", "tau": 0.02}}
"""Options the tests run an estimator with by default (tau_pathwise: Gaussian increments, whose noise
amplitude follows θ, and a step small enough that its bias stays within the tests' allowances)."""

NOT_FOR_COUNT_LOSSES: dict[str, str] = {
    "nrm_pathwise": "its derivative of counts at fixed times misses the jump term (tested on its own)",
}
"""Estimators that do not estimate the gradient of a loss of counts, with the reason."""

ALL_ESTIMATORS = [(name, ESTIMATOR_OPTIONS.get(name, {})) for name in ESTIMATORS if name not in NOT_FOR_COUNT_LOSSES]
"""`(estimator, options)` for every registered estimator of gradients of count losses, so that a new one is
tested wherever this is used."""


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Call the package without its run-time type checks (the jaxtyping/beartype hook the tests install).

    For tests that pass an argument outside its annotation on purpose (a float seed, an unknown
    `substance_units`), to check the package's own error for it: that error is what a user gets.
    """
    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)


def sbml_model(
    species: dict[str, float],
    params: dict[str, float],
    reactions: list[tuple[str, str, str]],
    *,
    compartment_size: float = 1.0,
    hosu: bool = True,
    extra: str = "",
    level: int = 3,
) -> str:
    """A small SBML L3V2 document: `reactions` are `(id, "A + B -> 2 C", rate law)`."""
    sp = "\n".join(
        f'<species id="{s}" compartment="c" initialAmount="{v}" hasOnlySubstanceUnits="{str(hosu).lower()}" '
        f'boundaryCondition="false" constant="false"/>'
        for s, v in species.items()
    )
    ps = "\n".join(f'<parameter id="{k}" value="{v}" constant="true"/>' for k, v in params.items())

    def side(text: str) -> str:
        refs = []
        for term in [t.strip() for t in text.split("+") if t.strip() and t.strip() != "0"]:
            parts = term.split()
            st, sid = (float(parts[0]), parts[1]) if len(parts) == 2 else (1.0, parts[0])
            refs.append(f'<speciesReference species="{sid}" stoichiometry="{st}" constant="true"/>')
        return "\n".join(refs)

    import libsbml

    rx = []
    for rid, eq, law in reactions:
        lhs, rhs = eq.split("->")
        math_xml = libsbml.writeMathMLToString(libsbml.parseL3Formula(law))
        math_xml = math_xml[math_xml.index("<math") :]  # drop the XML declaration
        rx.append(
            f'<reaction id="{rid}" reversible="false"><listOfReactants>{side(lhs)}</listOfReactants>'
            f"<listOfProducts>{side(rhs)}</listOfProducts><kineticLaw>{math_xml}</kineticLaw></reaction>"
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
<model id="test" substanceUnits="item" extentUnits="item" timeUnits="second">
<listOfCompartments><compartment id="c" size="{compartment_size}" spatialDimensions="3" constant="true"/></listOfCompartments>
<listOfSpecies>{sp}</listOfSpecies>
{f"<listOfParameters>{ps}</listOfParameters>" if ps else ""}
{extra}
<listOfReactions>{"".join(rx)}</listOfReactions>
</model></sbml>"""


def birth_death_moments(x0: float, k1: float, k2: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the immigration-death process 0 → X (k1), X → 0 (k2 X) from X(0) = x0.

    X(t) is Binomial(x0, e^{-k2 t}) + Poisson((k1/k2)(1 − e^{-k2 t})), independent parts.
    """
    q = np.exp(-k2 * t)
    mean = x0 * q + (k1 / k2) * (1 - q)
    var = x0 * q * (1 - q) + (k1 / k2) * (1 - q)
    return mean, var


def z_scores(samples: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """`(sample mean − mean) / standard error` per column (0 where the sample has no spread and agrees)."""
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    diff = samples.mean(axis=0) - mean
    return np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(np.isclose(diff, 0), 0.0, np.inf))


def load(text_or_path) -> sbmljax.Model:
    return sbmljax.load_sbml(text_or_path)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake run or dry run: rule -> number of jobs."""
    lines = output[output.index("Job stats:") :].splitlines()
    counts = {}
    for line in lines[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def master_equation_step(Q) -> Callable[[np.ndarray, float], np.ndarray]:
    """`(p, dt) ↦ p · exp(Q dt)` (clipped at 0) for a finite-state generator `Q` (sparse or dense, rows sum
    to 0): the forward algorithm's propagation of the chemical master equation between observation times.

    Each distinct `dt` costs one dense matrix exponential (`scipy.linalg.expm`, scaling and squaring, whose
    cost grows only with `log ‖Q dt‖`), reused for every interval of that length. The exact tests' state
    spaces are small (≤ 81 states), so this is ~1 ms per interval length, where `expm_multiply` (cost
    proportional to `‖Q dt‖`) took seconds per likelihood once an optimiser walked up a ridge to large rates
    (tests/test_likelihood_events.py's switch model: its likelihood rises towards infinite rates)."""
    import scipy.linalg

    QT = np.asarray(Q.toarray() if hasattr(Q, "toarray") else Q, dtype=np.float64).T
    cache: dict[float, np.ndarray] = {}

    def step(p: np.ndarray, dt: float) -> np.ndarray:
        dt = float(dt)
        if dt not in cache:
            cache[dt] = scipy.linalg.expm(QT * dt)
        return np.clip(cache[dt] @ p, 0.0, None)

    return step
