"""SBML import: libsbml document → checked `Model` IR."""

from __future__ import annotations

import os

from .._config import x64
from .._model import Model
from ..errors import ConfigError
from ._read import read_document
from ._to_ir import build_model
from ._units import SubstancePolicy


@x64
def load_sbml(source: str | os.PathLike, *, substance_units: SubstancePolicy = "auto") -> Model:
    """Read an SBML file (or XML string) into a checked, immutable [`Model`][sbmljax.Model].

    The document is validated with libsbml (XML and consistency errors are raised with line numbers). Every
    construct is either represented or listed in `Model.unsupported` with the element id and the reason;
    simulation then refuses the model naming it. SBML Level 2 (V1–V5) and Level 3 (V1–V2) are supported,
    Level 1 is converted to Level 2.

    **Arguments:**

    - `source`: a path, or the XML text itself.
    - `substance_units`: how amounts become molecule counts: `"auto"` (the model's declared units; undeclared
      units are read as counts), `"item"` (every number is a count) or `"mole"` (undeclared units are moles,
      the SBML Level 2 default). See the units section of the docs.

    **Returns:** the `Model`.

    **Raises:** `SBMLReadError` (unreadable or inconsistent SBML), `NetworkError` (references to missing
    symbols, cyclic rules).

    **Reference:** M. Hucka et al., "The Systems Biology Markup Language (SBML): language specification for
    Level 3 Version 2 Core", J. Integr. Bioinform. 15:20170081 (2018).
    """
    if substance_units not in ("auto", "item", "mole"):
        raise ConfigError(f"substance_units must be 'auto', 'item' or 'mole', not {substance_units!r}")
    doc, label, text, notes, declared = read_document(source)
    return build_model(doc, label, text, substance_units, notes, declared)


__all__ = ["load_sbml"]
