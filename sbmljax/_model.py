"""The immutable intermediate representation of an SBML reaction network.

`sbmljax.load_sbml` builds a [`Model`][sbmljax.Model]; every simulator, estimator and the ODE reference
read it. It is plain data: frozen dataclasses of tuples and expression trees, hashable, with no libsbml
objects inside, so it can be cached, pickled and sent to worker processes.

Quantities keep SBML's meaning: species initial values are in the model's substance units (amounts) or
concentrations; `Species.count_factor` converts one substance unit into molecules (1 for `item`,
`N_A × scale` for mole-based units), fixed at import by the `substance_units` policy.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from ._expr import Expr, to_string


@dataclasses.dataclass(frozen=True)
class Compartment:
    """A compartment; `size` is `None` when the model leaves it unset."""

    id: str
    name: str
    size: float | None
    spatial_dimensions: float
    constant: bool


@dataclasses.dataclass(frozen=True)
class Species:
    """A species. Exactly one of `initial_amount` / `initial_concentration` is set unless an initial
    assignment or assignment rule defines it.

    `count_factor` is molecules per substance unit (see the module docstring).
    """

    id: str
    name: str
    compartment: str
    initial_amount: float | None
    initial_concentration: float | None
    has_only_substance_units: bool
    boundary_condition: bool
    constant: bool
    substance_units: str
    count_factor: float


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A global parameter (`id`) or a reaction-local one (`id == "reaction.param"`, `reaction` set)."""

    id: str
    name: str
    value: float | None
    constant: bool
    reaction: str | None = None


@dataclasses.dataclass(frozen=True)
class Reaction:
    """A reaction with its stoichiometry and rate law.

    `rate` is the kinetic law as written. `forward`/`backward` are the two propensity laws of a reversible
    reaction whose net law was split (`forward − backward`); for an irreversible one `forward is rate` and
    `backward is None`.
    """

    id: str
    name: str
    reactants: tuple[tuple[str, float], ...]
    products: tuple[tuple[str, float], ...]
    modifiers: tuple[str, ...]
    rate: Expr
    reversible: bool
    forward: Expr
    backward: Expr | None = None

    def net_change(self) -> dict[str, float]:
        """Net stoichiometric change per firing, species id → change (zero entries dropped)."""
        change: dict[str, float] = {}
        for sid, s in self.reactants:
            change[sid] = change.get(sid, 0.0) - s
        for sid, s in self.products:
            change[sid] = change.get(sid, 0.0) + s
        return {k: v for k, v in change.items() if v != 0.0}

    def equation(self) -> str:
        """`A + 2 B -> C` style text."""

        def side(terms: tuple[tuple[str, float], ...]) -> str:
            if not terms:
                return "∅"
            return " + ".join((f"{s:g} {sid}" if s != 1 else sid) for sid, s in terms)

        arrow = "<->" if self.reversible else "->"
        return f"{side(self.reactants)} {arrow} {side(self.products)}"


@dataclasses.dataclass(frozen=True)
class EventAssignment:
    """`variable := math` when the event fires."""

    variable: str
    math: Expr


@dataclasses.dataclass(frozen=True)
class Event:
    """An SBML event (see the events section of the docs for the semantics honoured)."""

    id: str
    trigger: Expr
    assignments: tuple[EventAssignment, ...]
    initial_value: bool = True
    persistent: bool = True
    use_values_from_trigger_time: bool = True
    priority: Expr | None = None
    delay: Expr | None = None


Scope = Literal["stochastic", "exact"]


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """A construct the model uses that some or all simulations cannot honour.

    `scope` is `"exact"` (exact SSA methods refuse it; tau-leaping may not) or `"stochastic"` (every sbmljax
    simulator refuses it). The ODE reference is libRoadRunner's and judges the SBML on its own.
    """

    element: str
    reason: str
    scope: Scope = "stochastic"
    key: str = ""  # the support table's construct, where known (a simulator may accept some: see `refusals`)

    def message(self) -> str:
        """One line: the element and the reason."""
        return f"{self.element}: {self.reason}"


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """An SBML reaction network, imported and checked (see `sbmljax.load_sbml`).

    Fields are plain data; use the methods for derived views. Models compare and hash by identity, so a
    compiled form can be cached per model without hashing its expression trees.
    """

    id: str
    name: str
    level: int
    version: int
    source: str
    compartments: tuple[Compartment, ...]
    species: tuple[Species, ...]
    parameters: tuple[Parameter, ...]
    reactions: tuple[Reaction, ...]
    assignment_rules: tuple[tuple[str, Expr], ...]
    initial_assignments: tuple[tuple[str, Expr], ...]
    events: tuple[Event, ...]
    unsupported: tuple[Unsupported, ...]
    notes: tuple[str, ...]
    time_units: str
    substance_units: str
    extent_factor: float
    sbml: str = dataclasses.field(repr=False, compare=False)
    rate_rules: tuple[tuple[str, Expr], ...] = ()  # `d(variable)/dt = math`; only the hybrid method runs them

    @property
    def species_ids(self) -> tuple[str, ...]:
        """Species ids in state-vector order (every species, boundary ones included)."""
        return tuple(s.id for s in self.species)

    @property
    def reaction_ids(self) -> tuple[str, ...]:
        """Reaction ids in document order."""
        return tuple(r.id for r in self.reactions)

    def rule_targets(self) -> frozenset[str]:
        """Symbols whose value an assignment rule sets at all times."""
        return frozenset(v for v, _ in self.assignment_rules)

    def parameter_values(self) -> dict[str, float]:
        """Parameters a user may set through `params=`: id → value in the model.

        Global parameters not set by an assignment rule or initial assignment, and local parameters as
        `reaction.param`.
        """
        derived = self.rule_targets() | {v for v, _ in self.initial_assignments}
        return {p.id: p.value for p in self.parameters if p.id not in derived and p.value is not None}

    def species_by_id(self, sid: str) -> Species:
        """The species with this id (`KeyError` if absent)."""
        for s in self.species:
            if s.id == sid:
                return s
        raise KeyError(sid)

    def compartment_by_id(self, cid: str) -> Compartment:
        """The compartment with this id (`KeyError` if absent)."""
        for c in self.compartments:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def refusals(self, method_exact: bool, accepts: frozenset[str] = frozenset()) -> tuple[Unsupported, ...]:
        """The unsupported constructs that refuse a stochastic simulation (exact or not), less the support
        table's constructs in `accepts` (those a simulator honours itself, e.g. rate rules in the hybrid one)."""
        scopes = {"stochastic"} | ({"exact"} if method_exact else set())
        return tuple(u for u in self.unsupported if u.scope in scopes and u.key not in accepts)

    def summary(self) -> dict:
        """A JSON-serialisable description: species, reactions, parameters, rules, events, refusals."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "sbml": f"L{self.level}V{self.version}",
            "time_units": self.time_units,
            "substance_units": self.substance_units,
            "compartments": [
                {"id": c.id, "size": c.size, "spatial_dimensions": c.spatial_dimensions} for c in self.compartments
            ],
            "species": [
                {
                    "id": s.id,
                    "compartment": s.compartment,
                    "initial_amount": s.initial_amount,
                    "initial_concentration": s.initial_concentration,
                    "has_only_substance_units": s.has_only_substance_units,
                    "boundary_condition": s.boundary_condition,
                    "constant": s.constant,
                    "substance_units": s.substance_units,
                    "molecules_per_unit": s.count_factor,
                }
                for s in self.species
            ],
            "reactions": [
                {
                    "id": r.id,
                    "equation": r.equation(),
                    "rate": to_string(r.rate),
                    "propensities": [to_string(r.forward)] + ([to_string(r.backward)] if r.backward else []),
                }
                for r in self.reactions
            ],
            "parameters": self.parameter_values(),
            "assignment_rules": {v: to_string(e) for v, e in self.assignment_rules},
            "initial_assignments": {v: to_string(e) for v, e in self.initial_assignments},
            "events": [e.id for e in self.events],
            "unsupported": [{"element": u.element, "reason": u.reason, "scope": u.scope} for u in self.unsupported],
            "notes": list(self.notes),
        }

    def info(self) -> str:
        """A human-readable report of the model (what `sbmljax info` prints)."""
        s = self.summary()
        lines = [f"model {self.id!r} ({self.name}) — SBML {s['sbml']}, from {self.source}"]
        lines.append(f"  time units: {self.time_units}; substance units: {self.substance_units}")
        lines.append(f"species ({len(self.species)}):")
        for sp in self.species:
            init = (
                f"amount {sp.initial_amount:g}"
                if sp.initial_amount is not None
                else (
                    f"concentration {sp.initial_concentration:g}"
                    if sp.initial_concentration is not None
                    else "set by a rule"
                )
            )
            flags = [f for f, on in (("boundary", sp.boundary_condition), ("constant", sp.constant)) if on]
            if sp.count_factor != 1.0:
                flags.append(f"{sp.count_factor:.6g} molecules/unit")
            lines.append(f"  {sp.id:<16} in {sp.compartment}: {init}" + (f" [{', '.join(flags)}]" if flags else ""))
        lines.append(f"reactions ({len(self.reactions)}):")
        for r in self.reactions:
            lines.append(f"  {r.id:<16} {r.equation()}    rate = {to_string(r.rate)}")
            if r.backward is not None:
                lines.append(f"  {'':<16} split: forward {to_string(r.forward)}; backward {to_string(r.backward)}")
        lines.append(f"parameters ({len(s['parameters'])}):")
        for k, v in s["parameters"].items():
            lines.append(f"  {k} = {v:g}")
        for v, e in self.assignment_rules:
            lines.append(f"rule: {v} := {to_string(e)}")
        for v, e in self.initial_assignments:
            lines.append(f"initial assignment: {v} := {to_string(e)}")
        for ev in self.events:
            lines.append(f"event {ev.id}: when {to_string(ev.trigger)}")
        if self.unsupported:
            lines.append("unsupported:")
            for u in self.unsupported:
                lines.append(f"  [{u.scope}] {u.message()}")
        else:
            lines.append("unsupported: nothing")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)
