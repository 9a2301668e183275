"""SBML import: libsbml document → checked `Model` IR."""

from __future__ import annotations

import os

import libsbml

from .._config import x64
from .._model import Model
from ..errors import ConfigError, SBMLReadError
from . import _units
from ._read import read_document
from ._to_ir import build_model
from ._units import SubstancePolicy


def _sbml_of(source: object) -> tuple[str | os.PathLike, str | None]:
    """`(path or XML text, label)` for any source `load_sbml` accepts (label `None`: the reader's own)."""
    if isinstance(source, (str, os.PathLike)):
        return source, None
    if isinstance(source, libsbml.SBMLDocument):
        return libsbml.writeSBMLToString(source), "<libsbml document>"
    get_sbml = getattr(source, "getSBML", None)
    if callable(get_sbml):  # roadrunner.RoadRunner, and tellurium's te.loada/te.loads models (a subclass)
        return get_sbml(), f"<{type(source).__name__} model>"
    raise ConfigError(
        f"load_sbml needs a path, SBML text, a libsbml.SBMLDocument or a RoadRunner/tellurium model, not "
        f"{type(source).__name__}"
    )


def load_sbml(
    source: str | os.PathLike | object,
    *,
    substance_units: SubstancePolicy = "auto",
    system_size: float | None = None,
) -> Model:
    """Read an SBML file (or XML string) into a checked, immutable [`Model`][sbmljax.Model].

    The document is validated with libsbml (XML and consistency errors are raised with line numbers). Every
    construct is either represented or listed in `Model.unsupported` with the element id and the reason;
    simulation then refuses the model naming it. SBML Level 2 (V1–V5) and Level 3 (V1–V2) are supported,
    Level 1 is converted to Level 2.

    **Arguments:**

    - `source`: a path, the XML text itself, a `libsbml.SBMLDocument`, or a libRoadRunner/tellurium model
      (`te.loada(...)`, `roadrunner.RoadRunner(...)`), whose SBML as loaded (`getSBML()`) is read: values
      changed on that object afterwards are not carried over (pass `params=`/`initial=` to `simulate`).
    - `substance_units`: how amounts become molecule counts: `"auto"` (the model's declared units; undeclared
      units are read as counts), `"item"` (every number is a count) or `"mole"` (undeclared units are moles,
      the SBML Level 2 default). See the units section of the docs.
    - `system_size`: `Ω`, molecules per unit of the model's substance (reaction extent), for models whose
      numbers are concentrations or fractions of a molecule: amounts become `value × Ω` molecules and
      propensities `Ω ×` the kinetic laws, so that the ensemble mean divided by `Ω` tends to the model's ODE as
      `Ω` grows. Replaces the conversion `substance_units` would make. See "System size" in the units docs.

    **Returns:** the `Model`.

    **Raises:** `SBMLReadError` (unreadable or inconsistent SBML), `NetworkError` (references to missing
    symbols, cyclic rules).

    **Reference:** M. Hucka et al., "The Systems Biology Markup Language (SBML): language specification for
    Level 3 Version 2 Core", J. Integr. Bioinform. 15:20170081 (2018).
    """
    source, label = _sbml_of(source)
    return _load(source, label, substance_units, system_size)


@x64
def _load(
    source: str | os.PathLike, label: str | None, substance_units: SubstancePolicy, system_size: float | None = None
) -> Model:
    # options before reading: a bad option is reported before a bad file
    _units.check_policy(substance_units)
    omega = _units.check_system_size(system_size)
    doc, read_label, text, notes, declared = read_document(source, label)
    return build_model(doc, read_label, text, substance_units, notes, declared, omega)


def load_antimony(text: str, *, substance_units: SubstancePolicy = "auto", system_size: float | None = None) -> Model:
    """Build a [`Model`][sbmljax.Model] from Antimony text, as tellurium's `te.loada` does.

    The text is translated to SBML by the `antimony` package (which tellurium installs) and read by
    `load_sbml`. Antimony writes `->` reactions with `reversible="true"`; see the SBML support page for how
    such laws are read (split only when they are a genuine net rate, else simulated as written).

    **Arguments:**

    - `text`: the Antimony model (its main module is used).
    - `substance_units`: as for `load_sbml`. Antimony declares no units unless told, so `"auto"` reads
      the numbers as molecule counts.
    - `system_size`: as for `load_sbml`.

    **Returns:** the `Model`.

    **Raises:** `SBMLReadError` with antimony's message if the text does not translate, and whatever
    `load_sbml` raises for the SBML it gives.

    **Reference:** L. P. Smith et al., "Antimony: a modular model definition language", Bioinformatics
    25:2452 (2009).
    """
    if not isinstance(text, str):
        raise ConfigError(f"load_antimony needs the Antimony text as a string, not {type(text).__name__}")
    try:
        import antimony
    except ImportError as e:  # pragma: no cover (antimony comes with tellurium, a dependency)
        raise SBMLReadError("load_antimony needs the 'antimony' package (pip install antimony)") from e
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        message = " ".join((antimony.getLastError() or "unknown error").split())
        raise SBMLReadError(f"<antimony>: the text does not translate to SBML: {message}")
    sbml = antimony.getSBMLString(antimony.getMainModuleName())
    if not sbml:
        raise SBMLReadError(f"<antimony>: no SBML for the main module: {antimony.getLastError()}")
    return _load(sbml, "<antimony>", substance_units, system_size)


__all__ = ["load_antimony", "load_sbml"]
