"""What `fit` minimises: an objective that, at given parameter values, returns a value and its gradient.

`fit`'s loop (`sbmljax._fit`) knows nothing about ensembles, losses or estimators: each iteration it asks an
`AbstractObjective` for an `Evaluation` at the current values and hands the gradient to an optax optimiser.
A new objective (moment losses through a gradient estimator, `sbmljax._moment_objective`; the particle-filter
likelihood) is one class behind this interface, in the spirit of optax's small composable pieces.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One noisy evaluation of an objective.

    - `value`: the objective to minimise, summed over datasets.
    - `stderr`: its Monte Carlo standard error (`None` where the estimate gives none, e.g. a plug-in value).
    - `grad`: d value / d parameter on the **linear** scale, for every estimated parameter id.
    - `n_simulations`: trajectories simulated for this evaluation (for the cost report).
    """

    value: float
    stderr: float | None
    grad: dict[str, float]
    n_simulations: int


class AbstractObjective(abc.ABC):
    """A stochastic objective of the estimated parameters of a `Problem` (see the module docstring)."""

    name: str  # recorded as `FitResult.loss`
    estimator: str = ""  # how the gradient is estimated, recorded as `FitResult.estimator`

    @abc.abstractmethod
    def evaluate(self, values: Mapping[str, float], seed: int, iteration: int) -> Evaluation:
        """The objective and its gradient at `values` (estimated id → linear value), with fresh random numbers
        derived from `(seed, iteration)` so that a seeded fit is reproducible."""
