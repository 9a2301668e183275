"""libsbml `Model` → [`Model`][sbmljax.Model] intermediate representation.

Every construct is either represented, or recorded in `Model.unsupported` with the element and the reason
(the simulators then refuse the model naming it), never dropped silently.
"""

from __future__ import annotations

import dataclasses
import math

import libsbml

from .._expr import (
    DependencyCycle,
    Expr,
    Num,
    dependency_order,
    evaluate,
    substitute,
    symbols,
    times,
    to_string,
    uses_time,
)
from .._model import (
    Compartment,
    Event,
    EventAssignment,
    Model,
    Parameter,
    Reaction,
    Species,
    Unsupported,
)
from .._support import CONSTRUCTS
from ..errors import NetworkError
from . import _units
from ._mathml import UnsupportedMath, convert, convert_function_definition
from ._read import required_packages
from ._reversible import NOT_A_DIFFERENCE, read_reversible


def _num(getter_isset: bool, value: float) -> float | None:
    if not getter_isset or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _topological(assignments: list[tuple[str, Expr]], what: str, label: str) -> tuple[tuple[str, Expr], ...]:
    """Order assignments so each comes after those it reads; a cycle is an algebraic loop."""
    try:
        return dependency_order(assignments)
    except DependencyCycle as e:
        cycle = ", ".join(e.names)
        raise NetworkError(f"{label}: {what} {CONSTRUCTS['algebraic_loop'].why()} among {cycle}") from None


class _Builder:
    def __init__(
        self,
        doc: libsbml.SBMLDocument,
        label: str,
        text: str,
        policy: _units.SubstancePolicy,
        system_size: float | None = None,
    ):
        self.doc = doc
        self.system_size = system_size
        self.m: libsbml.Model = doc.getModel()
        self.label = label
        self.text = text
        self.policy = policy
        self.unsupported: list[Unsupported] = []
        self.notes: list[str] = []
        self.declared: tuple[int, int] | None = None  # the file's own (level, version), if converted
        self.functions: dict[str, tuple[tuple[str, ...], Expr]] = {}
        self.refused_references: set[str] = set()  # speciesReference ids whose stoichiometry a rule/event sets
        self.rate_rules: list[tuple[str, Expr]] = []

    def refuse(self, element: str, key: str, reason: str | None = None, **fields: object) -> None:
        """Record construct `key` of the support table at `element`; the reason is the table's (with `fields`
        filled in) unless a more specific `reason` is given."""
        construct = CONSTRUCTS[key]
        self.unsupported.append(Unsupported(element, reason or construct.why(**fields), construct.scope, key))

    def math(self, node, element: str, rename=None) -> Expr | None:
        try:
            return convert(node, self.functions, rename)
        except UnsupportedMath as e:
            self.refuse(f"{element} ({e.construct})", e.key, e.reason)
            return None

    def build(self) -> Model:
        m = self.m
        for pkg in required_packages(self.doc):
            self.refuse(f"package '{pkg}'", "package", package=pkg)

        for i in range(m.getNumFunctionDefinitions()):
            fd = m.getFunctionDefinition(i)
            try:
                self.functions[fd.getId()] = convert_function_definition(fd, self.functions)
            except UnsupportedMath as e:
                self.refuse(f"functionDefinition '{fd.getId()}' ({e.construct})", e.key, e.reason)

        compartments = self.compartments()
        species = self.species(compartments)
        parameters = self.parameters()
        rules = self.rules()
        initial = self.initial_assignments()
        compartments = self.resolve_compartment_sizes(compartments, initial, rules)
        self.variable_compartment_species(compartments, species)
        reactions = self.reactions({s.id for s in species})
        rules, initial = self.inline_reaction_rates(reactions, rules, initial)
        events = self.events()
        compartments = self.sizes_nothing_reads(compartments, species, reactions, rules, initial, events)
        self.check_symbols(species, compartments, parameters, reactions, rules, initial, events)

        extent = _units.resolve(m, _units.extent_unit_id(m), self.policy)
        extent_factor = extent.factor if extent.factor is not None else 1.0
        mass_extent = extent.problem_key == "mass_units" and self.system_size is not None
        if extent.problem and not mass_extent:
            self.refuse("model extentUnits", extent.problem_key, extent.problem_and_fix)
        if self.system_size is not None:
            species, extent_factor = self.scale_to_system_size(species, extent_factor, extent.label, mass_extent)
        reactions = self.convert_mixed_units(species, reactions, extent_factor, extent.label)
        if self.system_size is None and any(not sp_declared for sp_declared in self._declared):
            self.notes.append(
                "the model declares no substance units; SBML Level 2's default is the mole, but "
                "substance_units='auto' reads the numbers as molecule counts (pass substance_units='mole' "
                "to convert from moles)"
                if self.policy == "auto"
                else f"undeclared substance units read as {('moles' if self.policy == 'mole' else 'counts')}"
            )

        time_units = m.getTimeUnits() if (m.getLevel() >= 3 and m.isSetTimeUnits()) else "time"
        if m.getLevel() < 3:
            ud = m.getUnitDefinition("time")
            if ud is not None and ud.getNumUnits() == 1:
                u = ud.getUnit(0)
                mult = u.getMultiplier() * 10.0 ** u.getScale()
                time_units = {60.0: "minute", 3600.0: "hour", 86400.0: "day", 1.0: "second"}.get(mult, f"{mult:g} s")
            else:
                time_units = "second (SBML default)"
        return Model(
            id=m.getId() or "model",
            name=m.getName() or m.getId() or "model",
            level=self.declared[0] if self.declared else self.doc.getLevel(),
            version=self.declared[1] if self.declared else self.doc.getVersion(),
            source=self.label,
            compartments=tuple(compartments),
            species=tuple(species),
            parameters=tuple(parameters),
            reactions=tuple(reactions),
            assignment_rules=rules,
            initial_assignments=initial,
            events=tuple(events),
            unsupported=tuple(self.unsupported),
            notes=tuple(dict.fromkeys(self.notes)),
            time_units=time_units,
            substance_units=extent.label,
            extent_factor=extent_factor,
            sbml=self.text,
            rate_rules=tuple(self.rate_rules),
        )

    # -- components -------------------------------------------------------------------------------------
    def compartments(self) -> list[Compartment]:
        out = []
        for c in self.m.getListOfCompartments():
            size = _num(c.isSetSize(), c.getSize())
            if size is None and self.m.getLevel() < 3 and not c.isSetSize() and c.isSetVolume():
                size = float(c.getVolume())
            dims = float(c.getSpatialDimensionsAsDouble()) if c.isSetSpatialDimensions() else 3.0
            constant = bool(c.getConstant())
            if not constant and not self.changed(c.getId()):
                # `constant="false"` that no rule or event acts on: the size never changes (BIOMD0000000355).
                self.notes.append(
                    f"compartment '{c.getId()}' is declared constant=\"false\" but no rule or event changes its size: "
                    "it is simulated with its constant size"
                )
                constant = True
            out.append(Compartment(c.getId(), c.getName() or c.getId(), size, dims, constant))
        return out

    def changed(self, sid: str) -> bool:
        """Whether a rule (assignment or rate) or an event assignment sets symbol `sid` during a run."""
        m = self.m
        rule = m.getRule(sid)
        if rule is not None and not rule.isAlgebraic():
            return True
        return any(ea.getVariable() == sid for ev in m.getListOfEvents() for ea in ev.getListOfEventAssignments())

    def variable_compartment_species(self, compartments: list[Compartment], species: list[Species]) -> None:
        """Species given as concentrations in a compartment whose size changes: their amount is a count and
        reactions move it, the concentration in math is `amount / V(t)`. What that cannot honour is refused.

        A rate rule on such a species gives `d[S]/dt`, so its amount moves at `V d[S]/dt + [S] dV/dt` (the
        product rule, SBML L3V2 §4.11.7's note on species in variable compartments); and an event assignment
        gives `[S]` at the event, so its amount is `[S] × V` at that instant. Neither is implemented: both are
        refused, naming the species.
        """
        variable = {c.id for c in compartments if not c.constant}
        if not variable:
            return
        rated = {v for v, _ in self.rate_rules}
        assigned = {ea.getVariable() for ev in self.m.getListOfEvents() for ea in ev.getListOfEventAssignments()}
        for s in species:
            if s.compartment not in variable or s.has_only_substance_units:
                continue
            if s.id in rated:
                self.refuse(f"rateRule '{s.id}'", "variable_compartment_rate_rule", compartment=s.compartment)
            if s.id in assigned:
                self.refuse(f"species '{s.id}'", "variable_compartment_event", compartment=s.compartment)

    def convert_mixed_units(
        self, species: list[Species], reactions: list[Reaction], extent_factor: float, extent_label: str
    ) -> list[Reaction]:
        """Reactions moving species whose substance unit differs from the extent unit, converted exactly.

        Without a `conversionFactor`, SBML's math says the amount of each species, in its own substance unit,
        changes at `stoichiometry × rate` (the numbers as written; libRoadRunner and COPASI integrate that).
        A firing of such a reaction is taken as the extent change `1/f_min`, `f_min` the smallest
        molecules-per-unit among the species it moves: species `s` (`f_s` molecules per unit) then changes by
        `stoichiometry × f_s / f_min` molecules, a whole number when the units differ by powers of ten or
        integer multipliers (`mmol` beside `mol`, `item` beside `mole`), and the propensity is
        `rate × f_min` (the kinetic law times `f_min / f_extent`, the extent factor applying as usual). So the
        deterministic limit is SBML's, and a reaction whose species share the extent unit is unchanged. A
        change that is not a whole number of molecules is refused, naming the reaction and the species.
        """
        factor = {s.id: s.count_factor for s in species}
        units = {s.id: s.substance_units for s in species}
        movable = {s.id for s in species if not s.boundary_condition and not s.constant and s.count_factor is not None}
        out = []
        for r in reactions:
            moved = [sid for sid in r.net_change() if sid in movable]
            if all(math.isclose(factor[sid], extent_factor, rel_tol=1e-12) for sid in moved):
                out.append(r)
                continue
            f_min = min(factor[sid] for sid in moved)
            sides: list[tuple[tuple[str, float], ...]] = []
            for terms in (r.reactants, r.products):
                side = []
                for sid, st in terms:
                    if sid in movable:
                        v = st * factor[sid] / f_min
                        whole = math.isclose(v, round(v), rel_tol=1e-9, abs_tol=1e-9)
                        if not whole:
                            self.refuse(
                                f"reaction '{r.id}' species '{sid}'",
                                "mixed_units",
                                unit=units[sid],
                                extent=extent_label,
                                reaction=r.id,
                                change=v,
                            )
                        # A fraction of a molecule stays as it is: the hybrid method keeps such a species
                        # continuous (and accepts this construct); the counting methods refuse it above.
                        st = float(round(v)) if whole else v
                    side.append((sid, st))
                sides.append(tuple(side))
            reactants, products = sides
            ratio = Num(f_min / extent_factor)
            out.append(
                dataclasses.replace(
                    r,
                    reactants=reactants,
                    products=products,
                    forward=times(ratio, r.forward),
                    backward=times(ratio, r.backward) if r.backward is not None else None,
                )
            )
            shown = ", ".join(f"{sid} in {units[sid]}" for sid in moved)
            self.notes.append(
                f"reaction '{r.id}' moves species in substance units other than the extent unit ({extent_label}): "
                f"{shown}; one firing is 1/{f_min:.6g} {extent_label}, i.e. one molecule of its finest unit, so its "
                f"stoichiometry is in molecules ({_equation(reactants, products)}) and its propensity is the kinetic "
                f"law × {f_min:.6g} events per {extent_label}"
            )
        return out

    def scale_to_system_size(
        self, species: list[Species], extent_factor: float, extent_label: str, mass_extent: bool = False
    ) -> tuple[list[Species], float]:
        """One extent unit is `Ω` molecules: every species' factor becomes `Ω` times its unit's ratio to the
        extent unit, and kinetic laws are multiplied by `Ω` (see `sbmljax.sbml._units`).

        A mass (a species in `gram`, or the extent itself) has no ratio to an amount without a molar mass; it is
        read as SBML's equations read a species without a conversion factor, numerically: one unit of it per
        unit of extent, so `Ω` per unit and the model's ODE is the deterministic limit as for any species."""
        omega = float(self.system_size)  # type: ignore[arg-type]
        scaled = [
            dataclasses.replace(
                s, count_factor=omega if (mass_extent or s.id in self._mass) else omega * s.count_factor / extent_factor
            )
            for s in species
        ]
        self.notes.append(
            f"system size Ω = {omega:g}: one {extent_label} is {omega:g} molecules and propensities are Ω × the "
            "kinetic laws, so the ensemble mean / Ω tends to the model's ODE solution as Ω grows"
        )
        masses = sorted(self._mass) + (["the reaction extent"] if mass_extent else [])
        if masses:
            shown = ", ".join(masses[:10]) + (" …" if len(masses) > 10 else "")
            self.notes.append(
                f"mass units ({shown}): no molecule count without a molar mass, so under the system size a mass is "
                f"read as the model's equations read it, numerically: one unit is {omega:g} counts, like one "
                f"{extent_label}"
            )
        return scaled, omega

    def species(self, compartments: list[Compartment]) -> list[Species]:
        out = []
        self._declared: list[bool] = []
        self._mass: set[str] = set()  # species in a mass unit, accepted under a system size
        for s in self.m.getListOfSpecies():
            res = _units.resolve(
                self.m,
                _units.species_unit_id(self.m, s),
                self.policy,
                compartment_litres=_units.volume_litres(self.m, self.m.getCompartment(s.getCompartment())),
                concentration=not s.getHasOnlySubstanceUnits(),
            )
            self._declared.append(res.declared)
            if res.problem and res.problem_key == "mass_units" and self.system_size is not None:
                self._mass.add(s.getId())  # the system size gives the count scale (`scale_to_system_size`)
            elif res.problem:
                self.refuse(f"species '{s.getId()}'", res.problem_key, res.problem_and_fix)
            if s.isSetConversionFactor() or self.m.isSetConversionFactor():
                cf = s.getConversionFactor() or self.m.getConversionFactor()
                self.refuse(f"species '{s.getId()}'", "conversion_factor", factor=cf)
            out.append(
                Species(
                    id=s.getId(),
                    name=s.getName() or s.getId(),
                    compartment=s.getCompartment(),
                    initial_amount=_num(s.isSetInitialAmount(), s.getInitialAmount()),
                    initial_concentration=_num(s.isSetInitialConcentration(), s.getInitialConcentration()),
                    has_only_substance_units=bool(s.getHasOnlySubstanceUnits()),
                    boundary_condition=bool(s.getBoundaryCondition()),
                    constant=bool(s.getConstant()),
                    substance_units=res.label,
                    count_factor=res.factor if res.factor is not None else 1.0,
                )
            )
        return out

    def parameters(self) -> list[Parameter]:
        out = [
            Parameter(p.getId(), p.getName() or p.getId(), _num(p.isSetValue(), p.getValue()), bool(p.getConstant()))
            for p in self.m.getListOfParameters()
        ]
        for r in self.m.getListOfReactions():
            kl = r.getKineticLaw()
            if kl is None:
                continue
            locals_ = kl.getListOfLocalParameters() if self.m.getLevel() >= 3 else kl.getListOfParameters()
            for p in locals_:
                out.append(
                    Parameter(
                        f"{r.getId()}.{p.getId()}",
                        p.getName() or p.getId(),
                        _num(p.isSetValue(), p.getValue()),
                        True,
                        r.getId(),
                    )
                )
        return out

    def rules(self) -> tuple[tuple[str, Expr], ...]:
        assigned = []
        for rule in self.m.getListOfRules():
            var = rule.getVariable() if not rule.isAlgebraic() else ""
            if rule.isAlgebraic():
                self.refuse("algebraicRule", "algebraic_rule")
                continue
            if rule.isRate():
                self.refuse(f"rateRule '{var}'", "rate_rule")  # jump processes refuse it; the hybrid method runs it
                rate = self.math(rule.getMath(), f"rateRule '{var}'")
                if rate is not None:
                    self.rate_rules.append((var, rate))
                continue
            e = self.math(rule.getMath(), f"assignmentRule '{var}'")
            if e is not None:
                assigned.append((var, e))
        return _topological(assigned, "assignment rules", self.label)

    def initial_assignments(self) -> tuple[tuple[str, Expr], ...]:
        out = []
        for ia in self.m.getListOfInitialAssignments():
            e = self.math(ia.getMath(), f"initialAssignment '{ia.getSymbol()}'")
            if e is not None:
                out.append((ia.getSymbol(), e))
        return _topological(out, "initial assignments", self.label)

    def resolve_compartment_sizes(self, compartments, initial, rules) -> list[Compartment]:
        """Compartment sizes are fixed at import: evaluate initial assignments to them now."""
        ia = dict(initial)
        env = {p.getId(): p.getValue() for p in self.m.getListOfParameters() if p.isSetValue()}
        env.update({c.id: c.size for c in compartments if c.size is not None})
        out = []
        rule_vars = {v for v, _ in rules}
        for c in compartments:
            if c.id in ia and c.id not in rule_vars:  # an assignment rule holds at t0 too: it sets the size
                try:
                    size = float(evaluate(ia[c.id], env))
                except KeyError as e:
                    self.refuse(f"initialAssignment '{c.id}'", "compartment_size_not_constant", symbol=e)
                    size = c.size
                c = Compartment(c.id, c.name, size, c.spatial_dimensions, c.constant)
            out.append(c)
        return out

    def stoichiometry_math(self, sr: libsbml.SpeciesReference, element: str) -> float:
        """A Level 2 `stoichiometryMath` that is a constant (numbers and constant parameters that no rule,
        initial assignment or event sets) is its value; one that can change during a run is refused."""
        sm = sr.getStoichiometryMath()
        expr = self.math(sm.getMath(), element) if sm is not None and sm.isSetMath() else None
        if expr is None:
            self.refuse(element, "stoichiometry_math", "stoichiometryMath without math")
            return 1.0
        values = {}
        for name in sorted(symbols(expr)):
            p = self.m.getParameter(name)
            changed = (
                p is None
                or not p.getConstant()
                or self.m.getRule(name) is not None
                or self.m.getInitialAssignment(name) is not None
            )
            if changed:
                self.refuse(element, "stoichiometry_math", CONSTRUCTS["stoichiometry_math"].why(symbol=name))
                return 1.0
            values[name] = p.getValue()
        if uses_time(expr):
            self.refuse(element, "stoichiometry_math", CONSTRUCTS["stoichiometry_math"].why(symbol="time"))
            return 1.0
        return float(evaluate(expr, values))

    def reactions(self, species_ids: set[str]) -> list[Reaction]:
        out = []
        as_written: list[str] = []  # reversible-flagged laws that are no difference at all
        for r in self.m.getListOfReactions():
            rid = r.getId()
            if r.isSetFast() and r.getFast():
                self.refuse(f"reaction '{rid}'", "fast_reaction")
            refs = []
            for role, lst in (("reactant", r.getListOfReactants()), ("product", r.getListOfProducts())):
                terms = []
                for sr in lst:
                    if sr.getSpecies() not in species_ids:
                        raise NetworkError(
                            f"{self.label}: reaction '{rid}' refers to unknown species '{sr.getSpecies()}'"
                        )
                    if self.m.getLevel() < 3 and sr.isSetStoichiometryMath():
                        stoich = self.stoichiometry_math(sr, f"reaction '{rid}' {role} '{sr.getSpecies()}'")
                    else:
                        stoich = sr.getStoichiometry()
                        if stoich is None or math.isnan(stoich):
                            self.refuse(f"reaction '{rid}' {role} '{sr.getSpecies()}'", "unset_stoichiometry")
                            stoich = 1.0
                    if (
                        self.m.getLevel() >= 3
                        and sr.isSetId()
                        and (
                            self.m.getRule(sr.getId()) is not None
                            or self.m.getInitialAssignment(sr.getId()) is not None
                            or any(
                                ea.getVariable() == sr.getId()
                                for ev in self.m.getListOfEvents()
                                for ea in ev.getListOfEventAssignments()
                            )
                        )
                    ):
                        self.refuse(f"speciesReference '{sr.getId()}'", "variable_stoichiometry")
                        self.refused_references.add(sr.getId())
                    if not float(stoich).is_integer():
                        c = CONSTRUCTS["non_integer_stoichiometry"]
                        self.refuse(
                            f"reaction '{rid}' {role} '{sr.getSpecies()}'",
                            c.key,
                            f"{c.why(stoichiometry=stoich)} ({c.fix})",
                        )
                    terms.append((sr.getSpecies(), float(stoich)))
                refs.append(tuple(terms))
            modifiers = tuple(mr.getSpecies() for mr in r.getListOfModifiers())
            kl = r.getKineticLaw()
            if kl is None or kl.getMath() is None:
                self.refuse(f"reaction '{rid}'", "no_kinetic_law")
                rate: Expr = Num(0.0)
            else:
                locals_ = kl.getListOfLocalParameters() if self.m.getLevel() >= 3 else kl.getListOfParameters()
                rename = {p.getId(): f"{rid}.{p.getId()}" for p in locals_}
                rate = self.math(kl.getMath(), f"reaction '{rid}' kineticLaw", rename) or Num(0.0)
            reversible = bool(r.getReversible())
            forward, backward = rate, None
            if reversible:
                reading = read_reversible(rate, {s for s, _ in refs[0]}, {s for s, _ in refs[1]})
                forward, backward = reading.forward, reading.backward
                if backward is None and reading.why == NOT_A_DIFFERENCE:
                    as_written.append(rid)
                elif backward is None:
                    self.notes.append(
                        f"reaction '{rid}' is flagged reversible, but its law {to_string(rate)} is not a net rate of "
                        f"this reaction ({reading.why}): it is simulated as written, as one forward propensity"
                    )
            out.append(
                Reaction(rid, r.getName() or rid, refs[0], refs[1], modifiers, rate, reversible, forward, backward)
            )
        if as_written:
            shown = ", ".join(f"'{rid}'" for rid in as_written[:10]) + (" …" if len(as_written) > 10 else "")
            self.notes.append(
                f"{len(as_written)} reaction(s) flagged reversible have laws that are not a difference forward − "
                f"backward, so each is simulated as written, as one forward propensity: {shown}"
            )
        return out

    def events(self) -> list[Event]:
        out = []
        for i, ev in enumerate(self.m.getListOfEvents()):
            eid = ev.getId() or f"event{i}"
            trig = ev.getTrigger()
            if trig is None or trig.getMath() is None:
                self.refuse(f"event '{eid}'", "event_no_trigger")
                continue
            trigger = self.math(trig.getMath(), f"event '{eid}' trigger")
            delay = None
            if ev.isSetDelay():
                delay = self.math(ev.getDelay().getMath(), f"event '{eid}' delay")
                if delay is not None and _is_constant_zero(delay):
                    # No delay "is assumed a delay of zero" (SBML L2V4 §4.14.4, L3V2 §4.12.4): the two are one
                    # event, so a literal zero delay (written by model exporters, e.g. BIOMD0000000408) runs as
                    # an event without delay, with its useValuesFromTriggerTime and persistent unchanged.
                    delay = None
                else:
                    self.refuse(f"event '{eid}'", "event_delay")
            priority = None
            if ev.isSetPriority():
                priority = self.math(ev.getPriority().getMath(), f"event '{eid}' priority")
            assignments = []
            for ea in ev.getListOfEventAssignments():
                e = self.math(ea.getMath(), f"event '{eid}' assignment to '{ea.getVariable()}'")
                if e is not None:
                    assignments.append(EventAssignment(ea.getVariable(), e))
            initial_value = bool(trig.getInitialValue()) if trig.isSetInitialValue() else True
            persistent = bool(trig.getPersistent()) if trig.isSetPersistent() else True
            uvftt = bool(ev.getUseValuesFromTriggerTime()) if ev.isSetUseValuesFromTriggerTime() else True
            if trigger is not None:
                out.append(Event(eid, trigger, tuple(assignments), initial_value, persistent, uvftt, priority, delay))
        return out

    def sizes_nothing_reads(self, compartments, species, reactions, rules, initial, events) -> list[Compartment]:
        """A compartment left without a size that no result depends on gets size 1, with a note.

        That is the case when no math reads the compartment's id, no reaction moves a species in it given as a
        concentration (a firing's change of concentration is extent / size), and no initial value converts
        between amount and concentration in it (`initialAmount` of a concentration species or the reverse):
        then every concentration, and every amount, evolves the same whatever the size. The concentrations
        are reported as amounts in that unit size (a curated model of rate rules on concentrations in a
        compartment without a size, BIOMD0000000368, is such a case). Otherwise the size stays unset, and
        compiling the model refuses it where it is needed.
        """
        unsized = {c.id for c in compartments if c.size is None}
        if not unsized:
            return compartments
        read: set[str] = set()
        for e in [r.rate for r in reactions] + [e for _, e in list(rules) + list(initial) + self.rate_rules]:
            read |= symbols(e)
        for ev in events:
            read |= symbols(ev.trigger) | {s for a in ev.assignments for s in symbols(a.math)}
            for extra in (ev.priority, ev.delay):
                read |= symbols(extra) if extra is not None else set()
        moved = {sid for r in reactions for sid, _ in r.reactants + r.products}
        needs = set(unsized & read)
        for s in species:
            if s.compartment not in unsized:
                continue
            conc = not s.has_only_substance_units
            if (conc and s.id in moved) or (conc and s.initial_amount is not None and s.initial_amount != 0):
                needs.add(s.compartment)
            if not conc and s.initial_concentration is not None and s.initial_concentration != 0:
                needs.add(s.compartment)
        free = sorted(unsized - needs)
        if free:
            self.notes.append(
                f"compartment(s) {', '.join(repr(c) for c in free)} have no size, and nothing in the model depends "
                "on one (no math reads it, no reaction moves a concentration in it): size 1 is taken, so the "
                "concentrations in it are reported as amounts per unit size"
            )
        return [dataclasses.replace(c, size=1.0) if c.id in free else c for c in compartments]

    def inline_reaction_rates(self, reactions, rules, initial):
        """A reaction's id in a rule or an initial assignment stands for its rate, the value of its kinetic law
        (SBML L3V2 §4.11.7; L2V4 §4.13.8): replaced by that law as written, which reads the model's quantities
        in the model's units as the rule does. The rate is a function of the state whatever the method (in a
        jump process, the expected rate of firings). A law that itself reads a reaction's id is left alone (and
        refused by `check_symbols`). Assignment rules are put back in dependency order: the laws read other
        variables."""
        ids = {r.id for r in reactions}
        laws = {r.id: r.rate for r in reactions if not (symbols(r.rate) & ids)}
        if not laws:
            return rules, initial

        def inline(pairs):
            return [(v, substitute(e, laws)) if symbols(e) & laws.keys() else (v, e) for v, e in pairs]

        self.rate_rules = inline(self.rate_rules)
        return (
            _topological(inline(rules), "assignment rules", self.label),
            _topological(inline(initial), "initial assignments", self.label),
        )

    def check_symbols(self, species, compartments, parameters, reactions, rules, initial, events) -> None:
        known = {s.id for s in species} | {c.id for c in compartments} | {p.id for p in parameters}
        known |= self.refused_references  # already refused: not an unknown symbol
        reaction_ids = {r.id for r in reactions}
        for r in reactions:
            for sym in symbols(r.rate):
                if sym in reaction_ids:
                    self.refuse(f"reaction '{r.id}' kineticLaw", "reaction_rate_symbol", reaction=sym)
                elif sym not in known:
                    raise NetworkError(f"{self.label}: reaction '{r.id}': kinetic law refers to unknown symbol '{sym}'")
        for var, e in list(rules) + list(initial):
            if var not in known and var not in reaction_ids:
                raise NetworkError(f"{self.label}: rule or initial assignment to unknown symbol '{var}'")
            for sym in symbols(e):
                if sym in reaction_ids:
                    self.refuse(f"rule for '{var}'", "reaction_rate_symbol", reaction=sym)
                elif sym not in known:
                    raise NetworkError(f"{self.label}: the rule for '{var}' refers to unknown symbol '{sym}'")
        for ev in events:
            for a in ev.assignments:
                if a.variable not in known:
                    raise NetworkError(f"{self.label}: event '{ev.id}' assigns unknown symbol '{a.variable}'")
        for p in parameters:
            if p.value is None and p.id not in {v for v, _ in rules} | {v for v, _ in initial}:
                raise NetworkError(
                    f"{self.label}: parameter '{p.id}' has no value and no rule or initial assignment sets it"
                )


def build_model(
    doc: libsbml.SBMLDocument,
    label: str,
    text: str,
    policy: _units.SubstancePolicy,
    notes: list[str] | None = None,
    declared: tuple[int, int] | None = None,
    system_size: float | None = None,
) -> Model:
    """Build the IR from a checked document (see `sbmljax.load_sbml`).

    `notes` are kept on the model; `declared` is the file's own (level, version), which the model reports even
    when the document was converted (Level 1 is read through Level 2 Version 4).
    """
    builder = _Builder(doc, label, text, policy, system_size)  # `load_sbml` has checked both
    builder.notes.extend(notes or [])
    builder.declared = declared
    return builder.build()


def _equation(reactants: tuple[tuple[str, float], ...], products: tuple[tuple[str, float], ...]) -> str:
    def side(terms: tuple[tuple[str, float], ...]) -> str:
        return " + ".join((f"{st:g} {sid}" if st != 1 else sid) for sid, st in terms) or "∅"

    return f"{side(reactants)} -> {side(products)}"


def _is_constant_zero(expr: Expr) -> bool:
    """Whether `expr` reads no symbol and no time and evaluates to exactly zero (an event delay of `0`, `0.0`,
    `2 - 2`): such a delay is no delay (SBML L3V2 §4.12.4). A delay that reads a parameter is not folded, as
    rules, initial assignments or events could change the parameter's value."""
    if symbols(expr) or uses_time(expr):
        return False
    try:
        return float(evaluate(expr, {})) == 0.0
    except (ValueError, TypeError, ArithmeticError):
        return False
