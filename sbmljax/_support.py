"""The SBML support matrix: every construct sbmljax honours, honours in part, or refuses, and why.

This table is the one source of truth for refusals. The importer (`_to_ir`, `_mathml`, `_units`), the event
compiler and `simulate` build their refusal messages from the entries' `reason` (and `fix`), and the
documentation's support matrix (`docs/sbml-support.md`) is generated from it at build time, so the two
cannot drift. `tests/test_support.py` checks that every entry is exercised by a test (or says why not).

An entry's `reason` may hold `{fields}` that the caller fills in (`CONSTRUCTS["rate_rule"].why()`,
`CONSTRUCTS["package"].why(package="comp")`); the docs show them as `‹field›`.

This module is plain data and imports nothing from sbmljax, so tools (the docs build) can read it cheaply.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

Status = Literal["supported", "partial", "refused"]
Scope = Literal["stochastic", "exact"]

CATEGORIES = (
    "Document",
    "Math",
    "Compartments",
    "Species and units",
    "Parameters and rules",
    "Reactions",
    "Events",
    "Simulation limits",
)


@dataclasses.dataclass(frozen=True)
class Construct:
    """One row of the support matrix.

    **Attributes:**

    - `key`: a stable identifier, used by the code that refuses the construct and by the tests.
    - `category`: the section of the matrix (one of `CATEGORIES`).
    - `name`: the construct as the docs name it.
    - `status`: `"supported"`, `"partial"` (honoured with a restriction, the rest refused or adjusted) or
      `"refused"`.
    - `scope`: which simulators the status concerns: `"stochastic"` for every sbmljax simulator,
      `"exact"` for the exact methods only (direct and NRM; tau-leaping runs the model).
    - `reason`: the refusal reason exactly as error messages give it (`""` for a supported construct).
    - `fix`: the way out, appended to messages where the code gives one (`""` if none).
    - `note`: what is honoured and how (for the docs).
    - `error`: the `sbmljax.errors` type raised when the construct is refused (`""` when supported).
    """

    key: str
    category: str
    name: str
    status: Status
    scope: Scope
    reason: str
    note: str
    fix: str = ""
    error: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"construct {self.key!r}: unknown category {self.category!r}")
        if self.status == "refused" and not (self.reason and self.error):
            raise ValueError(f"construct {self.key!r}: a refused construct needs a reason and an error type")
        if self.status == "supported" and (self.reason or self.error):
            raise ValueError(f"construct {self.key!r}: a supported construct has no refusal reason")

    @property
    def fields(self) -> tuple[str, ...]:
        """The `{fields}` the reason and fix need."""
        return tuple(dict.fromkeys(re.findall(r"\{(\w+)(?:![rs])?(?::[^}]*)?\}", self.reason + self.fix)))

    def why(self, **fields: object) -> str:
        """The reason with its fields filled in."""
        return self.reason.format(**fields)

    def why_and_fix(self, **fields: object) -> str:
        """`reason; fix` with the fields filled in (just the reason when there is no fix)."""
        text = self.reason + (f"; {self.fix}" if self.fix else "")
        return text.format(**fields)


_ITEM_FIX = "pass substance_units='item' to read the numbers as molecule counts"
_UNSUPPORTED = "UnsupportedSBMLFeatureError"

_TABLE: tuple[Construct, ...] = (
    # -- Document --------------------------------------------------------------------------------------------
    Construct(
        key="levels",
        category="Document",
        name="SBML Level 2 (V1–V5) and Level 3 (V1–V2)",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Read and validated by python-libsbml; XML and consistency errors are raised as `SBMLReadError` "
            "with line numbers. Level 1 documents are converted to Level 2 Version 4 first; the model still reports "
            "the level the file declares and records the conversion in `notes`."
        ),
    ),
    Construct(
        key="layout_render",
        category="Document",
        name="`layout` and `render` packages",
        status="supported",
        scope="stochastic",
        reason="",
        note="Ignored: they only decorate the model (diagrams), so they do not change what is simulated.",
    ),
    Construct(
        key="package",
        category="Document",
        name="Other Level 3 packages marked required (`comp`, `fbc`, `distrib`, `multi`, …)",
        status="refused",
        scope="stochastic",
        reason="the document requires the SBML package '{package}', which is not supported",
        note=(
            "A package the document marks `required` changes the model's meaning; sbmljax refuses rather than "
            "guess. Packages marked not required are ignored, as SBML allows."
        ),
        error=_UNSUPPORTED,
    ),
    # -- Math ------------------------------------------------------------------------------------------------
    Construct(
        key="math",
        category="Math",
        name=(
            "MathML: arithmetic, powers, roots, logarithms, trigonometry, `piecewise`, logic and relations, "
            "`e`, `pi`, `avogadro`, `time`"
        ),
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Compiled to pure JAX functions (no string evaluation); parameters stay traced inputs, so rate "
            "laws are differentiable in them."
        ),
    ),
    Construct(
        key="function_definition",
        category="Math",
        name="Function definitions",
        status="supported",
        scope="stochastic",
        reason="",
        note="Inlined by substitution at import, so the compiled laws refer only to model symbols.",
    ),
    Construct(
        key="missing_math",
        category="Math",
        name="Elements without `<math>` (optional in L3V2)",
        status="refused",
        scope="stochastic",
        reason="the element has no <math>",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="delay",
        category="Math",
        name="`delay(x, d)` csymbol",
        status="refused",
        scope="stochastic",
        reason=(
            "delay(x, d) reads the state at an earlier time, which needs the path's history; no simulator here keeps "
            "it (a delay stochastic simulation algorithm, e.g. Barrio et al. 2006, is not implemented)"
        ),
        note=(
            "Refused by every simulator, naming the element (`reaction 'r' kineticLaw (delay)`). A rate law that "
            "reads past values makes the process non-Markovian; the jump-process and hybrid simulators here keep "
            "only the present state. The delay SSA (Barrio, Burrage, Leier & Tian, PLoS Comput. Biol. 2:e117, "
            "2006), which fires delayed reactions from a queue of pending completions, is the method for "
            "such models and is not implemented."
        ),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="rate_of",
        category="Math",
        name="`rateOf(x)` csymbol (L3V2)",
        status="refused",
        scope="stochastic",
        reason="the rate of change of a variable is not defined for a jump process",
        note="Counts change by jumps, so a rate of change is zero or undefined.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="distrib_math",
        category="Math",
        name="`distrib` functions in math (`normal`, `uniform`, …)",
        status="refused",
        scope="stochastic",
        reason="drawing from distributions (SBML 'distrib' package) is not supported",
        note=("Cases 00040–00100 of the SBML stochastic test suite use them; they are refused naming the function."),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="unknown_function",
        category="Math",
        name="Calls to an undefined function",
        status="refused",
        scope="stochastic",
        reason="it is not a function definition of this model",
        note="Normally caught by libsbml's consistency check first.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="function_arity",
        category="Math",
        name="Function calls with the wrong number of arguments",
        status="refused",
        scope="stochastic",
        reason="called with {given} arguments, defined with {expected}",
        note="Normally caught by libsbml's consistency check first.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="function_not_lambda",
        category="Math",
        name="Function definitions whose math is not a `lambda`",
        status="refused",
        scope="stochastic",
        reason="its math is not a lambda",
        note="Normally caught by libsbml's consistency check first.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="lambda",
        category="Math",
        name="`lambda` outside a function definition",
        status="refused",
        scope="stochastic",
        reason="a lambda is only allowed as the body of a function definition",
        note="Not valid SBML; guarded in case a document slips past validation.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="csymbol",
        category="Math",
        name="Unknown `csymbol` functions",
        status="refused",
        scope="stochastic",
        reason="an unknown csymbol function",
        note="Any csymbol other than `time`, `avogadro`, `delay` and `rateOf`.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="mathml_other",
        category="Math",
        name="MathML outside SBML's subset",
        status="refused",
        scope="stochastic",
        reason="not part of the SBML math subset",
        note="Not valid SBML; guarded in case a document slips past validation.",
        error=_UNSUPPORTED,
    ),
    # -- Compartments ----------------------------------------------------------------------------------------
    Construct(
        key="compartment",
        category="Compartments",
        name="Compartments of constant size (also set by an initial assignment of constants)",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Sizes are fixed at import; an initial assignment to a size is evaluated then. A species in "
            "concentration (`hasOnlySubstanceUnits=false`) counts `concentration × size` molecules."
        ),
    ),
    Construct(
        key="variable_compartment",
        category="Compartments",
        name="Compartments whose size changes (`constant=false`; a rate rule or event assignment on the size)",
        status="partial",
        scope="stochastic",
        reason="",
        note=(
            "A species' amount (its count) changes only by reactions; a concentration in math reads `amount / V(t)` "
            "(SBML L3V2 §4.11.7). A size set by a rate rule is a continuous variable of the hybrid method (the exact "
            "methods and tau-leaping refuse rate rules); one set by events changes at the events, for every method. "
            "A compartment declared `constant=false` that no rule or event changes keeps its size (noted). Rate "
            "rules and event assignments on a concentration in such a compartment are refused (below)."
        ),
    ),
    Construct(
        key="compartment_rule",
        category="Compartments",
        name="Assignment rules to a compartment size",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "The size is the rule's value at every instant; concentrations in the compartment read "
            "`amount / V(t)`. A size that depends on time makes those propensities time-dependent: extrande "
            "(thinning, with an interval bound of `V(t)` over each window) and the hybrid method run them, direct "
            "and NRM refuse them. A rule whose size reads a concentration in the same compartment is an algebraic "
            "loop and refused."
        ),
    ),
    Construct(
        key="variable_compartment_rate_rule",
        category="Compartments",
        name="Rate rule on a concentration in a compartment whose size changes",
        status="refused",
        scope="stochastic",
        reason=(
            "a rate rule on a concentration in compartment '{compartment}', whose size changes, moves the amount at "
            "V·d[S]/dt + [S]·dV/dt, which is not implemented"
        ),
        note="Give the species `hasOnlySubstanceUnits=true` (the rule is then on its amount), or keep the size constant.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="variable_compartment_event",
        category="Compartments",
        name="Event assignment to a concentration in a compartment whose size changes",
        status="refused",
        scope="stochastic",
        reason=(
            "an event assignment to a concentration in compartment '{compartment}', whose size changes, needs the "
            "size at the event, which is not implemented"
        ),
        note="Assign the amount (`hasOnlySubstanceUnits=true`) instead.",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="compartment_size_not_constant",
        category="Compartments",
        name="Initial assignments to a compartment size that read non-constant symbols",
        status="refused",
        scope="stochastic",
        reason="the compartment size depends on {symbol}, which is not a constant",
        note="Sizes must be computable at import from parameter and compartment values.",
        error=_UNSUPPORTED,
    ),
    # -- Species and units -----------------------------------------------------------------------------------
    Construct(
        key="substance_units",
        category="Species and units",
        name=(
            "Substance units `item`, `dimensionless`, `mole`, `avogadro`, with multiplier, scale and extra "
            "dimensionless factors"
        ),
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Amounts become molecule counts exactly: `count = amount × N_A × scale` for mole-based units (N_A "
            "= 6.02214179e23, SBML's `avogadro`), `amount × scale` for items. See [Units](units.md)."
        ),
    ),
    Construct(
        key="undeclared_units",
        category="Species and units",
        name="Models that declare no substance units",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Read as molecule counts under `substance_units='auto'` (the model's notes say so); "
            "`substance_units='mole'` applies SBML Level 2's default, the mole."
        ),
    ),
    Construct(
        key="species_kinds",
        category="Species and units",
        name="Boundary, constant and `hasOnlySubstanceUnits` species",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Boundary and constant species are never changed by reactions (events and rules may set boundary "
            "species). A species symbol in math is its amount when `hasOnlySubstanceUnits` is true, else its "
            "concentration."
        ),
    ),
    Construct(
        key="rounded_counts",
        category="Species and units",
        name="Initial counts obtained by a unit conversion",
        status="partial",
        scope="exact",
        reason="",
        note=(
            "Rounded to the nearest molecule for exact methods; each rounding is listed in the trajectories' "
            "`notes`. Tau-leaping keeps the converted value."
        ),
    ),
    Construct(
        key="mass_units",
        category="Species and units",
        name="Mass substance units (`gram`, `kilogram`)",
        status="refused",
        scope="stochastic",
        reason="substance unit {unit!r} is a mass; molecule counts need a molar mass",
        note=(
            "Accepted under a system size (`system_size=Ω`): the count scale is then `Ω` per unit of the model's "
            "numbers, and a mass is read as SBML's equations read a species without a conversion factor, "
            "numerically (one unit of it per unit of reaction extent), so the deterministic limit is the model's ODE."
        ),
        fix=(
            "pass system_size=Ω to read the model's numbers on a scale of Ω per unit (the mass read as the model's "
            "equations read it), or substance_units='item' to read the numbers as molecule counts"
        ),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="non_amount_units",
        category="Species and units",
        name="Other substance units (`litre`, `metre`, …, or a non-unit exponent)",
        status="refused",
        scope="stochastic",
        reason="substance unit {unit!r} cannot be read as an amount of molecules",
        note="",
        fix=_ITEM_FIX,
        error=_UNSUPPORTED,
    ),
    Construct(
        key="compound_units",
        category="Species and units",
        name="Substance unit definitions made of several base units",
        status="refused",
        scope="stochastic",
        reason="unit definition {unit!r} is not a single substance unit",
        note="",
        fix=_ITEM_FIX,
        error=_UNSUPPORTED,
    ),
    Construct(
        key="concentration_units",
        category="Species and units",
        name="Concentration unit definitions as substance units (e.g. `nanoMolar` = nmol/L)",
        status="partial",
        scope="stochastic",
        reason=(
            "unit definition {unit!r} is a concentration (substance per volume); it converts only for a species "
            "given as a concentration, in a compartment whose size unit is a volume"
        ),
        note=(
            "SBML asks for a substance unit, but curated models often give a concentration unit such as "
            "`nanoMolar`. For a species given as a concentration (not `hasOnlySubstanceUnits`) it is read as "
            "what it says: `count = c × V × N_A × scale × (compartment unit / the definition's volume unit)`. "
            "On an amount-only species, or in a compartment whose size unit is not a volume, it is refused."
        ),
        fix=_ITEM_FIX,
        error=_UNSUPPORTED,
    ),
    Construct(
        key="undefined_units",
        category="Species and units",
        name="References to undefined units",
        status="refused",
        scope="stochastic",
        reason="unit {unit!r} is not defined in the model",
        note="Normally caught by libsbml's consistency check first.",
        fix=_ITEM_FIX,
        error=_UNSUPPORTED,
    ),
    Construct(
        key="mixed_units",
        category="Species and units",
        name="Species whose substance unit differs from the extent unit",
        status="partial",
        scope="stochastic",
        reason=(
            "its substance unit ({unit}) differs from the reaction extent unit ({extent}), and one firing of "
            "reaction '{reaction}' would change it by {change:.6g} molecules, not a whole number"
        ),
        note=(
            "Converted exactly with SBML's numeric semantics (no `conversionFactor`: each species' amount, in its "
            "own unit, changes at stoichiometry × rate): a firing is one molecule of the finest unit among the "
            "species the reaction moves, the other species change by the units' ratio (`mol` beside `mmol`: "
            "1000 molecules), and the propensity is the law times that unit's molecules per extent unit; "
            "`model.notes` lists each converted reaction. A change that is not a whole number of molecules is "
            "refused by the exact methods and tau-leaping; the hybrid method keeps such a species continuous, as "
            "for a non-integer stoichiometry."
        ),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="conversion_factor",
        category="Species and units",
        name="`conversionFactor` (species or model)",
        status="refused",
        scope="stochastic",
        reason="conversionFactor '{factor}' is not supported",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="non_integer_counts",
        category="Species and units",
        name="Non-integer initial counts (without a unit conversion)",
        status="refused",
        scope="stochastic",
        reason="stochastic simulation counts molecules, so initial counts must be integers",
        note=(
            "Counts that come from a unit conversion are rounded to the nearest molecule instead (with a note). "
            "Tau-leaping refuses fractional counts too: its increments are whole firings, and a fractional "
            "remainder can never be used up. `sbmljax check` calls a model whose counts are far from integers "
            "(e.g. concentrations of order one) `refused` with that explanation."
        ),
        fix=(
            "set an integer amount (or initial= counts), check substance_units, or, for a model written in "
            "concentrations, give a system size (system_size=Ω: molecules per substance unit)"
        ),
        error="InitialStateError",
    ),
    Construct(
        key="negative_counts",
        category="Species and units",
        name="Negative initial counts",
        status="refused",
        scope="stochastic",
        reason="starts with a negative count",
        note="",
        error="InitialStateError",
    ),
    # -- Parameters and rules --------------------------------------------------------------------------------
    Construct(
        key="parameters",
        category="Parameters and rules",
        name="Global parameters and local (reaction) parameters",
        status="supported",
        scope="stochastic",
        reason="",
        note=('Overridable at simulation time with `params=`; a local parameter `k` of reaction `r` is `"r.k"`.'),
    ),
    Construct(
        key="assignment_rules",
        category="Parameters and rules",
        name="Assignment rules (species and parameters)",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Evaluated in dependency order whenever they are read; a species set by a rule is reported at the "
            "output times. Parameters set by a rule cannot be overridden with `params=`."
        ),
    ),
    Construct(
        key="initial_assignments",
        category="Parameters and rules",
        name="Initial assignments",
        status="supported",
        scope="stochastic",
        reason="",
        note="Evaluated once at `t0`, after `params=` overrides, in dependency order.",
    ),
    Construct(
        key="rate_rule",
        category="Parameters and rules",
        name="Rate rules",
        status="partial",
        scope="stochastic",
        reason="a continuously changing variable cannot be part of a jump process",
        note=(
            "Run by the hybrid method (`method='hybrid'`) as continuous variables of its ODE (species and "
            "parameters; not compartments); the jump-process methods refuse them."
        ),
        fix="use method='hybrid'",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="algebraic_rule",
        category="Parameters and rules",
        name="Algebraic rules",
        status="refused",
        scope="stochastic",
        reason="algebraic rules define the state implicitly; no simulator here solves them",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="algebraic_loop",
        category="Parameters and rules",
        name="Assignment rules or initial assignments that form a cycle",
        status="refused",
        scope="stochastic",
        reason="form a cycle (an algebraic loop)",
        note="Not valid SBML.",
        error="NetworkError",
    ),
    Construct(
        key="reaction_rate_symbol",
        category="Parameters and rules",
        name="A reaction id used in math (its rate)",
        status="partial",
        scope="stochastic",
        reason=(
            "it refers to the rate of reaction '{reaction}', which is supported in rules and initial assignments "
            "only, and where that reaction's own law reads no reaction's rate"
        ),
        note=(
            "In rules and initial assignments the id stands for the value of the reaction's kinetic law as written "
            "(in a jump process, the expected rate of firings), inlined at import; in a kinetic law (or a law "
            "that reads another reaction's id) it is refused."
        ),
        error=_UNSUPPORTED,
    ),
    # -- Reactions -------------------------------------------------------------------------------------------
    Construct(
        key="kinetic_laws",
        category="Reactions",
        name="Kinetic laws (mass action or any supported math), modifiers",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "A law's value (extent per time) times the extent factor is the propensity. Product-form laws take "
            "a fast path; the NRM updates only the propensities a firing changes. Two forms are fluxes of the "
            "reaction-rate equations, not propensities (`sbmljax._flux`): a net rate `forward − backward` in a "
            "reaction flagged irreversible, and a law that does not read a reactant it consumes (`g -> 0` at a "
            "constant `F`). The exact methods stop at run time where such a law is negative or drives a count "
            "below zero, naming the reaction; the hybrid method runs these reactions in its ODE at all times, and "
            "`method='auto'` chooses it for a model that has one."
        ),
    ),
    Construct(
        key="reversible",
        category="Reactions",
        name='Reversible reactions (`reversible="true"`)',
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Split into a forward and a backward channel only when the law is a net rate: a difference "
            "`forward − backward` of non-negative terms, possibly under common non-negative factors or divisors "
            "(`compartment*(kf*A*B - kr*C)`, `(kf*A - kr*B)/V`), whose forward term reads a reactant (if the "
            "reaction has any) and whose backward term reads a product. Any other law (`kd*P*(P-1)/2`, Hill and "
            "Michaelis–Menten forms, `piecewise`, `k1*A - k2` without products) is the forward propensity as "
            "written, as libRoadRunner and GillesPy2 simulate it, with a note on the model; in the exact methods a "
            "law that turns negative at run time stops the simulation naming the reaction, the time and the "
            "state. Such a law that does not read a reactant it consumes is a flux (see kinetic laws): the hybrid "
            "method runs it in its ODE."
        ),
    ),
    Construct(
        key="time_dependent_propensity",
        category="Reactions",
        name="Propensities that depend on `time`",
        status="partial",
        scope="exact",
        reason="the direct method and the NRM assume propensities constant between events",
        note=(
            "Simulated exactly by extrande (`method='extrande'`, thinning against an interval-arithmetic bound of "
            "the rate law over a look-ahead window; `method='auto'` chooses it), which refuses a law it cannot "
            "bound (naming the reaction and the sub-expression). The direct method and the NRM refuse them; "
            "tau-leaping evaluates them at the start of each leap; the hybrid method (`method='hybrid'`) fires "
            "them at exact times (integrated hazard)."
        ),
        fix="use method='extrande' (exact, by thinning) or method='auto'",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="no_kinetic_law",
        category="Reactions",
        name="Reactions without a kinetic law",
        status="refused",
        scope="stochastic",
        reason="it has no kinetic law, so its propensity is undefined",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="fast_reaction",
        category="Reactions",
        name="Fast reactions (`fast=true`)",
        status="refused",
        scope="stochastic",
        reason="fast reactions (rapid-equilibrium assumption) are not supported",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="stoichiometry_math",
        category="Reactions",
        name="`stoichiometryMath` (Level 2)",
        status="partial",
        scope="stochastic",
        reason="stoichiometryMath that can change during a run (it reads {symbol!r}) is not supported",
        note=(
            "A `stoichiometryMath` made of numbers and constant parameters (no rule or initial assignment sets "
            "them) is evaluated when the model is read and used as the stoichiometry; it must then be an "
            "integer, as any stoichiometry. One that reads a species, a variable or time is refused."
        ),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="variable_stoichiometry",
        category="Reactions",
        name="Stoichiometry set by a rule, initial assignment or event (Level 3)",
        status="refused",
        scope="stochastic",
        reason="stoichiometry set by a rule or event is not supported",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="unset_stoichiometry",
        category="Reactions",
        name="Species references without a stoichiometry (Level 3)",
        status="refused",
        scope="stochastic",
        reason="stoichiometry is not set",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="non_integer_stoichiometry",
        category="Reactions",
        name="Non-integer stoichiometry (e.g. `1.5 X`)",
        status="partial",
        scope="stochastic",
        reason=(
            "stoichiometry {stoichiometry:g} is not an integer; exact methods and tau-leaping count molecules, so "
            "a firing must change each count by a whole number"
        ),
        note=(
            "Run by the hybrid method (`method='hybrid'`, and so `method='auto'`), which keeps every species that a "
            "reaction changes by a non-integer amount continuous at all times; it refuses the model where such a "
            "species is read by a state-triggered event. The exact methods and tau-leaping refuse it."
        ),
        fix="use method='hybrid', or scale the reaction to integer stoichiometries, and its rate law with it",
        error=_UNSUPPORTED,
    ),
    # -- Events ----------------------------------------------------------------------------------------------
    Construct(
        key="events",
        category="Events",
        name="Events with state or time triggers",
        status="supported",
        scope="stochastic",
        reason="",
        note=(
            "Fire when the trigger goes from false to true; time thresholds (`time >= 25`) are hit exactly. "
            "See [Events](events.md) for the semantics."
        ),
    ),
    Construct(
        key="event_attributes",
        category="Events",
        name="`priority`, `initialValue`, `persistent`, `useValuesFromTriggerTime`",
        status="supported",
        scope="stochastic",
        reason="",
        note="As SBML L3V2 §4.12 specifies; simultaneous events of equal priority run in document order.",
    ),
    Construct(
        key="event_delay",
        category="Events",
        name="Delayed events",
        status="refused",
        scope="stochastic",
        reason=(
            "delayed events are not supported: executing them needs a queue of pending assignments, as in the delay "
            "SSA (Barrio et al. 2006), which is not implemented"
        ),
        note=(
            "Refused by every simulator, naming the event (`event 'e'`); an event without `<delay>` (or with none "
            "set) runs, and so does one whose delay is a constant zero (`<cn>0</cn>`: SBML assumes a zero delay "
            "when none is given, so the two are the same event). Events whose assignments happen after a delay would need the delay SSA's queue of pending "
            "completions (Barrio, Burrage, Leier & Tian 2006), not implemented here."
        ),
        error=_UNSUPPORTED,
    ),
    Construct(
        key="event_no_trigger",
        category="Events",
        name="Events without a trigger (L3V2)",
        status="refused",
        scope="stochastic",
        reason="it has no trigger",
        note="",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="event_time_trigger",
        category="Events",
        name="Triggers using `time` other than as `time <op> expression`",
        status="partial",
        scope="stochastic",
        reason=(
            "it uses time other than in a comparison `time <op> expression`, so its firing time cannot be "
            "computed exactly"
        ),
        note=(
            "Run by the hybrid method (`method='hybrid'`, and `auto` when the exact methods refuse), which locates "
            "each comparison `a <op> b` of the trigger by root-finding during its ODE solve (e.g. `sin(time) > "
            "0.5`); the jump-process methods refuse them, and the hybrid method refuses time or a moving value "
            "used outside a comparison."
        ),
        fix="use method='hybrid'",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="event_time_rule_trigger",
        category="Events",
        name="Triggers reading a time-dependent assignment rule",
        status="partial",
        scope="stochastic",
        reason=("it reads an assignment rule that depends on time, so its firing time cannot be computed exactly"),
        note=(
            "Run by the hybrid method (`method='hybrid'`, and `auto` when the exact methods refuse), which locates "
            "the trigger's comparisons by root-finding during its ODE solve; the jump-process methods refuse them."
        ),
        fix="use method='hybrid'",
        error=_UNSUPPORTED,
    ),
    Construct(
        key="event_non_integer",
        category="Events",
        name="Event assignments giving a non-integer count",
        status="refused",
        scope="exact",
        reason="an event assigned a non-integer molecule count (exact methods need integers)",
        note="Detected at run time: the trajectory stops and `simulate` raises.",
        error="SimulationError",
    ),
    # -- Simulation limits -----------------------------------------------------------------------------------
    Construct(
        key="huge_counts",
        category="Simulation limits",
        name="More than 2^53 molecules of a species",
        status="refused",
        scope="exact",
        reason="an exact method cannot count that many",
        note="float64 counts are exact only up to 2^53.",
        fix=(
            "Use method='tau_leap', load with substance_units='item' if the numbers are already counts, or "
            "model a smaller volume"
        ),
        error="InfeasibleSimulationError",
    ),
    Construct(
        key="event_budget",
        category="Simulation limits",
        name="More estimated reaction events than `max_events` (default 2e10)",
        status="refused",
        scope="exact",
        reason="over the budget of max_events={max_events:.2g}",
        note=("A mean-field estimate of the events per trajectory times the ensemble size, checked before running."),
        fix=(
            "Use method='tau_leap', fewer trajectories or a shorter time span, load with substance_units='item' "
            "if the amounts are really counts, or raise max_events"
        ),
        error="InfeasibleSimulationError",
    ),
)

CONSTRUCTS: dict[str, Construct] = {c.key: c for c in _TABLE}
"""Every construct by key, in table order."""

if len(CONSTRUCTS) != len(_TABLE):  # pragma: no cover (a duplicate key is a programming error)
    raise ValueError("duplicate keys in the SBML support table")

_STATUS_LABEL = {"supported": "supported", "partial": "partial", "refused": "refused"}


def _scope_label(c: Construct) -> str:
    if c.scope == "stochastic":
        return "all"
    return "exact methods only" if c.status != "supported" else "exact methods"


def _cell(text: str) -> str:
    """Table-cell text: placeholders as ‹field›, pipes escaped, `<` and `>` escaped outside code, one line."""
    text = re.sub(r"\{(\w+)(![rs])?(:[^}]*)?\}", r"‹\1›", text)
    parts = text.split("`")
    parts[::2] = [p.replace("<", "&lt;").replace(">", "&gt;") for p in parts[::2]]
    return " ".join("`".join(parts).replace("|", "\\|").split())


def render_markdown() -> str:
    """The support matrix as Markdown: one table per category (what `docs/sbml-support.md` shows)."""
    out: list[str] = []
    counts = {s: sum(c.status == s for c in _TABLE) for s in _STATUS_LABEL}
    out.append(
        f"{len(_TABLE)} constructs: {counts['supported']} supported, {counts['partial']} partially supported, "
        f"{counts['refused']} refused."
    )
    for category in CATEGORIES:
        rows = [c for c in _TABLE if c.category == category]
        if not rows:
            continue
        out += ["", f"### {category}", ""]
        out.append("| Construct | Status | Simulators | Notes | Refusal (error type: message) |")
        out.append("|---|---|---|---|---|")
        for c in rows:
            refusal = ""
            if c.reason:
                refusal = f"`{c.error}`: {_cell(c.reason)}" + (f"; {_cell(c.fix)}" if c.fix else "")
            out.append(
                f"| {_cell(c.name)} | {_STATUS_LABEL[c.status]} | {_scope_label(c)} | {_cell(c.note)} | {refusal} |"
            )
    return "\n".join(out) + "\n"
