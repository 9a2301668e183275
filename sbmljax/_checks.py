"""One checking path: what a simulation request must pass before it runs, as structured findings.

Each check returns `Finding`s: the construct of the support table (`sbmljax._support`) it concerns, the
SBML element, the reason, the way out, and the error type. `prepare` (the ensemble layer) raises the first
finding as an exception whose fields (`element`, `reaction`, `species`, `time`, `state`, `construct`) a
program can read; `sbmljax check` reports the same findings in its table. A rule is therefore written once,
and the message a user gets from `simulate` is the one the checker shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from . import errors
from ._compile._network import CompiledNetwork
from ._model import Model, Scope
from ._support import CONSTRUCTS

MAX_EXACT_COUNT = 2.0**53
"""Counts above this are not exactly representable in float64; exact simulation refuses them."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One reason a request cannot run as asked.

    - `construct`: the support table's key (`""` for checks of the request rather than of the model).
    - `element`: the SBML element, as `sbmljax check` lists it (`"reaction 'r' kineticLaw"`).
    - `text`: the sentence `simulate` raises, without the model's source.
    - `error`: the `sbmljax.errors` type raised.
    - `scope`: `"exact"` if only the exact methods refuse it, else `"stochastic"`.
    - `reaction`, `species`, `time`, `state`: what the exception carries as fields.
    """

    construct: str
    element: str
    text: str
    error: str = "UnsupportedSBMLFeatureError"
    scope: Scope = "stochastic"
    reaction: str | None = None
    species: str | None = None
    time: float | None = None
    state: dict[str, float] | None = None

    def exception(self, source: str) -> errors.SbmlJaxError:
        """The exception `prepare` raises for this finding, with its fields set."""
        return getattr(errors, self.error)(
            f"{source}: {self.text}",
            construct=self.construct or None,
            element=self.element,
            reaction=self.reaction,
            species=self.species,
            time=self.time,
            state=self.state,
        )


def format_state(species: Sequence[str], x) -> str:
    """`A=1, B=2, …` (the first 8 species) for error messages."""
    x = np.asarray(x)
    items = [f"{s}={v:g}" for s, v in zip(species, x)]
    return ", ".join(items[:8]) + (", …" if len(items) > 8 else "")


def _time_dependent_text(reactions: Sequence[str]) -> str:
    c = CONSTRUCTS["time_dependent_propensity"]
    names = ", ".join(repr(r) for r in reactions)
    return f"the propensity of reaction(s) {names} depends on time; {c.why()} ({c.fix})"


def time_dependent_propensities(net: CompiledNetwork) -> list[Finding]:
    """Reactions whose propensity depends on time, one finding each (exact methods refuse them)."""
    rids = dict.fromkeys(net.channel_of_reaction(k) for k, dep in enumerate(net.plan.time_dependent) if dep)
    return [
        Finding(
            "time_dependent_propensity",
            f"reaction '{rid}' kineticLaw",
            _time_dependent_text([rid]),
            scope="exact",
            reaction=rid,
        )
        for rid in rids
    ]


def join_time_dependent(findings: list[Finding]) -> Finding:
    """One finding naming every time-dependent reaction (what `simulate` raises)."""
    reactions = sorted(f.reaction or "" for f in findings)
    return dataclasses.replace(findings[0], text=_time_dependent_text(reactions))


def initial_counts(
    model: Model, net: CompiledNetwork, x0: np.ndarray, *, exact: bool
) -> tuple[list[Finding], list[str]]:
    """Initial values no simulator here can start from, and notes on counts rounded after a unit conversion.

    `x0` is changed in place where a converted count is rounded (`notes` says which). Values are checked in
    species order: non-finite, negative, more than float64 counts exactly (exact methods), not an integer.
    """
    findings: list[Finding] = []
    notes: list[str] = []
    # Rules set these, not reactions (rate-rule species are continuous: only the hybrid method runs them).
    rule_species = set(net.plan.rule_species) | {v for v, _ in model.rate_rules}
    for s, v in zip(model.species, np.array(x0)):
        if s.id in rule_species:
            continue
        element = f"species '{s.id}' initial value"
        if not math.isfinite(v):
            findings.append(
                Finding(
                    "",
                    element,
                    f"species '{s.id}' has a non-finite initial value ({v})",
                    "InitialStateError",
                    species=s.id,
                )
            )
        elif v < 0:
            c = CONSTRUCTS["negative_counts"]
            text = f"species '{s.id}' {c.why()} ({v:g})"
            findings.append(Finding(c.key, element, text, "InitialStateError", species=s.id))
        elif exact and v > MAX_EXACT_COUNT:
            c = CONSTRUCTS["huge_counts"]
            text = f"species '{s.id}' starts with {v:.3g} molecules ({s.substance_units}); {c.why()}. {c.fix}"
            findings.append(Finding(c.key, element, text, "InfeasibleSimulationError", "exact", species=s.id))
        elif v != round(v):  # every simulator here fires whole reactions
            if s.count_factor != 1.0:
                notes.append(
                    f"initial count of '{s.id}' rounded from {v:.6g} to {round(v)} molecules (unit conversion)"
                )
                x0[net.plan.species_index[s.id]] = round(v)
            else:
                c = CONSTRUCTS["non_integer_counts"]
                text = f"species '{s.id}' starts with {v:g} molecules, not an integer; {c.why()} ({c.fix})"
                findings.append(Finding(c.key, f"{element} (not an integer)", text, "InitialStateError", species=s.id))
    return findings, notes


def bad_propensities(model: Model, net: CompiledNetwork, a: np.ndarray, x0, t0: float) -> list[Finding]:
    """Channels whose propensity `a` in the initial state is negative or not finite."""
    out = []
    for k, v in enumerate(a):
        if not (v >= 0 and math.isfinite(v)):
            rid = net.channel_of_reaction(k)
            state = dict(zip(model.species_ids, (float(v) for v in np.asarray(x0))))
            text = (
                f"reaction '{rid}' has propensity {v:g} at t={t0:g} in the initial state "
                f"({format_state(model.species_ids, x0)})"
            )
            out.append(
                Finding("", f"reaction '{rid}' kineticLaw", text, "SimulationError", reaction=rid, time=t0, state=state)
            )
    return out
