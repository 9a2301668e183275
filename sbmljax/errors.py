"""Exception types raised by sbmljax.

Every error a user can provoke with bad input derives from [`SbmlJaxError`][sbmljax.errors.SbmlJaxError],
so a caller (the CLI, a workflow script) can catch one type and print one line. Messages name the file,
the SBML element id and the reason, and where there is one, the way out.
"""

from __future__ import annotations

__all__ = [
    "SbmlJaxError",
    "SBMLReadError",
    "UnsupportedSBMLFeatureError",
    "NetworkError",
    "ParameterError",
    "InitialStateError",
    "InfeasibleSimulationError",
    "SimulationError",
    "DataError",
    "ConfigError",
    "EstimatorError",
    "FitError",
    "LikelihoodError",
]


class SbmlJaxError(Exception):
    """Base class of every error sbmljax raises on purpose.

    Besides the message, an error carries what a program may want to act on, where it applies (`None`
    otherwise): `construct` (the key of the SBML support table, `sbmljax._support.CONSTRUCTS`),
    `element` (the SBML element, e.g. `"reaction 'r' kineticLaw"`), `reaction`, `species`, `time` and
    `state` (species id → count, for a failure at run time or in the initial state).
    """

    def __init__(
        self,
        *args: object,
        construct: str | None = None,
        element: str | None = None,
        reaction: str | None = None,
        species: str | None = None,
        time: float | None = None,
        state: dict[str, float] | None = None,
    ):
        super().__init__(*args)
        self.construct = construct
        self.element = element
        self.reaction = reaction
        self.species = species
        self.time = time
        self.state = state


class SBMLReadError(SbmlJaxError):
    """The document is not readable SBML: malformed XML, or libsbml consistency errors.

    The message lists each problem as `file:line: message`.
    """


class UnsupportedSBMLFeatureError(SbmlJaxError):
    """The model uses a construct the requested simulation cannot honour.

    The message names the SBML element (its id, or its kind and position) and why it is refused.
    """


class NetworkError(SbmlJaxError):
    """The reaction network is inconsistent (e.g. a reaction refers to a missing species)."""


class ParameterError(SbmlJaxError, KeyError):
    """An unknown parameter name, or a value that cannot be used (NaN, derived by a rule)."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class InitialStateError(SbmlJaxError):
    """Initial counts cannot be simulated exactly (non-integer or negative)."""


class InfeasibleSimulationError(SbmlJaxError):
    """The requested exact simulation would take far too long (too many molecules or events)."""


class SimulationError(SbmlJaxError):
    """A failure at run time: a negative or NaN propensity, or a step limit reached."""


class DataError(SbmlJaxError):
    """A dataset or PEtab file is malformed (the message names file, row and column)."""


class ConfigError(SbmlJaxError):
    """A bad option value or configuration key."""


class EstimatorError(SbmlJaxError):
    """A gradient estimator cannot be used for the request (e.g. an unsupported loss)."""


class FitError(SbmlJaxError):
    """A fit cannot go on (e.g. the loss or its gradient became non-finite at some iteration)."""


class LikelihoodError(SbmlJaxError):
    """The particle filter cannot go on: every particle's weight vanished at an observation (the model
    cannot reach the data, or the noise is too small for the number of particles); `time` names it."""
