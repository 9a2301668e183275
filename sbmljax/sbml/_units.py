"""Substance units → molecules per unit.

Stochastic simulation needs molecule counts. An SBML amount `n` in substance unit `u` is
`n × count_factor(u)` molecules, with `count_factor(mole) = N_A`, `count_factor(item) = 1`, times the unit's
`(multiplier × 10^scale)^exponent`. The same factor turns a kinetic law's value (extent per time) into a
propensity (events per time).

Policy for `substance_units` (an argument of `load_sbml`):

- `"auto"`: use the units the model declares. A model that declares none — no species or model
  `substanceUnits` and, in Level 2, no redefinition of the built-in `substance` — is read as counting
  molecules (factor 1), although SBML Level 2's default substance unit is the mole: such models almost
  always mean numbers of molecules (BioModels' mass-action stochastic models do), and a mole reading would
  give ~10^23 molecules. The model's `notes` say so; pass `"mole"` to insist on the SBML default.
- `"item"`: every number is a molecule count, whatever the units say.
- `"mole"`: like `"auto"`, but undeclared units are the SBML default, the mole.

A **system size** `Ω` (`system_size=` of `load_sbml`) replaces the conversion for models whose numbers are not
amounts of molecules (dimensionless concentrations, fractions of a molecule): one unit of the model's reaction
extent is `Ω` molecules, so an amount `n` becomes `n × Ω` molecules (a species declared in another substance
unit scales by that unit's ratio to the extent unit) and a kinetic law's value `v` becomes the propensity `Ω v`.
Species symbols in kinetic laws still read the model's own quantities (`count / Ω`), so the deterministic
limit is unchanged: the ensemble mean divided by `Ω` tends to the model's ODE solution as `Ω` grows (van Kampen's
system-size expansion; Kurtz's law of large numbers for density-dependent Markov chains).

**References:** N. G. van Kampen, *Stochastic Processes in Physics and Chemistry*, 3rd ed., ch. X (2007);
T. G. Kurtz, "The relationship between stochastic and deterministic models for chemical reactions",
J. Chem. Phys. 57:2976 (1972).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import libsbml

from .._expr import AVOGADRO
from .._support import CONSTRUCTS
from ..errors import ConfigError

SubstancePolicy = Literal["auto", "item", "mole"]
SUBSTANCE_POLICIES: tuple[str, ...] = ("auto", "item", "mole")
"""The values of `substance_units=` (and `--substance-units`), in the order the docs give them."""


def check_system_size(system_size: object) -> float | None:
    """`system_size` as a float if it is a positive finite number (or `None`: no system size).

    **Raises:** `ConfigError` otherwise.
    """
    if system_size is None:
        return None
    try:
        omega = float(system_size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        omega = float("nan")
    if not (math.isfinite(omega) and omega > 0):
        raise ConfigError(f"system_size must be a positive number of molecules per substance unit, not {system_size!r}")
    return omega


def check_policy(policy: object) -> SubstancePolicy:
    """`policy` if it is one of `SUBSTANCE_POLICIES`. **Raises:** `ConfigError` otherwise."""
    if policy not in SUBSTANCE_POLICIES:
        raise ConfigError(f"substance_units must be 'auto', 'item' or 'mole', not {policy!r}")
    return policy  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class UnitResolution:
    """The outcome of resolving one substance unit reference.

    When the unit cannot be converted, `problem` says why and `problem_key` is the support-table entry.
    """

    factor: float | None
    label: str
    declared: bool
    problem: str | None = None
    problem_key: str = ""

    @property
    def problem_and_fix(self) -> str | None:
        """`problem` followed by the support table's way out (`None` if there is no problem)."""
        if self.problem is None:
            return None
        fix = CONSTRUCTS[self.problem_key].fix
        return f"{self.problem}; {fix}" if fix else self.problem


def _problem(label: str, key: str, unit: str) -> UnitResolution:
    return UnitResolution(None, label, True, CONSTRUCTS[key].why(unit=unit), key)


def _unit_text(kind: str, multiplier: float, scale: int, exponent: float) -> str:
    prefix = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k"}.get(scale, f"1e{scale} ")
    text = f"{prefix}{kind}"
    if multiplier != 1:
        text = f"{multiplier:g}×{text}"
    if exponent != 1:
        text = f"({text})^{exponent:g}"
    return text


def _from_kind(kind: str, multiplier: float = 1.0, scale: int = 0, exponent: float = 1.0) -> UnitResolution:
    magnitude = (multiplier * 10.0**scale) ** exponent
    label = _unit_text(kind, multiplier, scale, exponent)
    if kind == "mole" and exponent == 1:
        return UnitResolution(AVOGADRO * magnitude, label, True)
    if kind in ("item", "dimensionless") and exponent == 1:
        return UnitResolution(magnitude, label, True)
    if kind == "avogadro" and exponent == 1:  # L3 unit kind: 1 avogadro = N_A items
        return UnitResolution(AVOGADRO * magnitude, label, True)
    if kind in ("gram", "kilogram"):
        return _problem(label, "mass_units", label)
    return _problem(label, "non_amount_units", label)


def _litres(kind: str, multiplier: float, scale: int, exponent: float) -> float | None:
    """Litres in one unit of `(multiplier × 10^scale × kind)^exponent` if that is a volume (else `None`)."""
    base = multiplier * 10.0**scale
    if kind == "litre" and exponent == 1:
        return base
    if kind == "metre" and exponent == 3:
        return base**3 * 1000.0
    return None


def volume_litres(model: libsbml.Model, compartment: libsbml.Compartment | None) -> float | None:
    """Litres in one unit of a compartment's size (litre when the model does not say; `None` if the unit
    is not a volume)."""
    uid = ""
    if compartment is not None and compartment.isSetUnits():
        uid = compartment.getUnits()
    elif model.getLevel() >= 3:
        uid = model.getVolumeUnits() if model.isSetVolumeUnits() else ""
    else:
        uid = "volume"
    if not uid or uid in ("volume", "litre"):
        ud = model.getUnitDefinition(uid) if uid == "volume" else None
        if ud is None:
            return 1.0  # undeclared or the L2 built-in: the SBML default, the litre
    ud = model.getUnitDefinition(uid)
    if ud is None:
        return _litres(uid, 1.0, 0, 3.0 if uid == "metre" else 1.0) if uid in ("litre", "metre") else None
    if ud.getNumUnits() != 1:
        return None
    u = ud.getUnit(0)
    return _litres(libsbml.UnitKind_toString(u.getKind()), u.getMultiplier(), u.getScale(), u.getExponentAsDouble())


def _concentration(
    unit_id: str, units: list, compartment_litres: float | None, concentration: bool
) -> UnitResolution | None:
    """A unit definition "substance per volume" (e.g. nmol/L) on a species given as a concentration: the
    amount `c × V` is in the substance part times (compartment unit / the definition's volume unit).
    `None` if the definition is not of that shape."""
    kinds = [libsbml.UnitKind_toString(u.getKind()) for u in units]
    amount = [u for u, k in zip(units, kinds) if k in ("mole", "item", "avogadro") and u.getExponentAsDouble() == 1]
    per = [
        (u, _litres(k, u.getMultiplier(), u.getScale(), -u.getExponentAsDouble()))
        for u, k in zip(units, kinds)
        if k in ("litre", "metre")
    ]
    if len(units) != 2 or len(amount) != 1 or len(per) != 1 or per[0][1] is None:
        return None
    u = amount[0]
    res = _from_kind(libsbml.UnitKind_toString(u.getKind()), u.getMultiplier(), u.getScale(), 1.0)
    if not concentration:
        return _problem(unit_id, "concentration_units", unit_id)
    if compartment_litres is None or res.factor is None:
        return _problem(unit_id, "concentration_units", unit_id)
    factor = res.factor * compartment_litres / per[0][1]
    return UnitResolution(factor, f"{unit_id} = {res.label}/({per[0][1]:g} L)", True)


def resolve(
    model: libsbml.Model,
    unit_id: str,
    policy: SubstancePolicy,
    *,
    compartment_litres: float | None = None,
    concentration: bool = False,
) -> UnitResolution:
    """Resolve a substance-unit reference (`""` = undeclared) to molecules per unit, under `policy`.

    A species whose substance unit is a concentration (substance per volume, e.g. `nanoMolar`; found in
    curated models although SBML asks for a substance unit) and whose quantity is a concentration
    (`concentration=True`) is converted with its compartment's unit (`compartment_litres`, litres per unit of
    size): `count = c × V × N_A × 10^scale × (compartment unit / the definition's volume unit)`.
    """
    level = model.getLevel()
    if policy == "item":
        return UnitResolution(1.0, "item (forced)", bool(unit_id))
    undeclared = not unit_id
    if level < 3 and unit_id == "substance" and model.getUnitDefinition("substance") is None:
        undeclared = True  # the L2 built-in, not redefined: the model never said what it means
    if undeclared:
        if policy == "mole":
            return UnitResolution(AVOGADRO, "mole (SBML default)", False)
        return UnitResolution(1.0, "item (undeclared)", False)
    ud = model.getUnitDefinition(unit_id)
    if ud is None:
        if libsbml.UnitKind_isValidUnitKindString(unit_id, level, model.getVersion()):
            return _from_kind(unit_id)
        return _problem(unit_id, "undefined_units", unit_id)
    units = [ud.getUnit(i) for i in range(ud.getNumUnits())]
    # A definition may carry a dimensionless factor beside its one substance unit.
    core = [u for u in units if libsbml.UnitKind_toString(u.getKind()) != "dimensionless"] or units
    if len(core) != 1:
        per_volume = _concentration(unit_id, core, compartment_litres, concentration)
        if per_volume is not None:
            return per_volume
        return _problem(unit_id, "compound_units", unit_id)
    u = core[0]
    res = _from_kind(libsbml.UnitKind_toString(u.getKind()), u.getMultiplier(), u.getScale(), u.getExponentAsDouble())
    extra = 1.0
    for d in units:
        if d is not u:
            extra *= (d.getMultiplier() * 10.0 ** d.getScale()) ** d.getExponentAsDouble()
    factor = res.factor * extra if res.factor is not None else None
    return dataclasses.replace(res, factor=factor, label=f"{unit_id} = {res.label}")


def species_unit_id(model: libsbml.Model, species: libsbml.Species) -> str:
    """The substance-unit id a species' amounts are in ("" if undeclared)."""
    if species.isSetSubstanceUnits():
        return species.getSubstanceUnits()
    if model.getLevel() >= 3:
        return model.getSubstanceUnits() if model.isSetSubstanceUnits() else ""
    return "substance"


def extent_unit_id(model: libsbml.Model) -> str:
    """The unit of reaction extent (kinetic laws are extent per time) ("" if undeclared)."""
    if model.getLevel() >= 3:
        if model.isSetExtentUnits():
            return model.getExtentUnits()
        return model.getSubstanceUnits() if model.isSetSubstanceUnits() else ""
    return "substance"
