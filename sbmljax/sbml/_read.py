"""Read an SBML document with libsbml and check it.

Malformed XML and libsbml consistency errors (severity error or fatal) are raised as one `SBMLReadError`
whose message lists `file:line: message` for each, on one line. Unit-consistency and modelling-practice
checks are off: they warn about models that simulate fine, and units are handled by `_units`.
"""

from __future__ import annotations

import os
from pathlib import Path

import libsbml

from ..errors import SBMLReadError

# Packages whose content only decorates the model (diagrams, annotations); anything else that a document
# marks required changes the meaning of the model and is refused by the IR builder.
IGNORABLE_PACKAGES = frozenset({"layout", "render"})
_MAX_LISTED = 3

# Consistency "errors" that do not change what the model means, so common in published models that
# refusing them would refuse working models. They are kept as notes on the model.
TOLERATED = {
    21121: "a species read by a kinetic law is not declared as a reactant, product or modifier",
}


def _errors(doc: libsbml.SBMLDocument, label: str, min_severity: int, tolerated: list[str] | None = None) -> list[str]:
    out = []
    for i in range(doc.getNumErrors()):
        e = doc.getError(i)
        if e.getSeverity() >= min_severity:
            if tolerated is not None and e.getErrorId() in TOLERATED:
                tolerated.append(
                    f"line {e.getLine()}: {TOLERATED[e.getErrorId()]} (libsbml {e.getErrorId()}; tolerated)"
                )
                continue
            msg = " ".join(e.getMessage().split())
            out.append(f"{label}:{e.getLine()}: {msg}")
    return out


def _raise(problems: list[str], what: str) -> None:
    shown = "; ".join(problems[:_MAX_LISTED])
    more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
    raise SBMLReadError(f"{what}: {shown}{more}")


def read_document(
    source: str | os.PathLike,
    label: str | None = None,
) -> tuple[libsbml.SBMLDocument, str, str, list[str], tuple[int, int]]:
    """Parse and check an SBML file or XML string.

    **Arguments:**

    - `source`: a path, or a string holding the XML itself (recognised by a leading `<`).
    - `label`: what messages call an XML string (default `<string>`).

    **Returns:** `(document, label, text, notes, (level, version))`: the libsbml document (converted to L2V4 if it
    was Level 1), a label for messages (the path, or `<string>`), the XML text, tolerated consistency findings,
    and the level and version the file itself declares (reports show that, not the converted one).

    **Raises:** `SBMLReadError` for a missing or empty file, malformed XML, a document without a model, or
    consistency errors.
    """
    if isinstance(source, str) and source.lstrip().startswith("<"):
        text, label = source, label or "<string>"
    else:
        path = Path(source)
        label = str(path)
        if not path.is_file():
            raise SBMLReadError(f"{label}: no such file")
        text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise SBMLReadError(f"{label}: the file is empty")
    doc = libsbml.readSBMLFromString(text)
    problems = _errors(doc, label, libsbml.LIBSBML_SEV_ERROR)
    if problems:
        _raise(problems, f"{label}: not valid SBML")
    model = doc.getModel()
    if model is None:
        raise SBMLReadError(f"{label}: the document has no <model> element (is this SBML?)")
    declared = (int(doc.getLevel()), int(doc.getVersion()))
    if doc.getLevel() == 1:
        # Level 1 has no csymbols or units worth keeping; libsbml converts it losslessly.
        if not doc.setLevelAndVersion(2, 4, False):
            raise SBMLReadError(f"{label}: SBML Level 1 could not be converted to Level 2")
        model = doc.getModel()
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_MODELING_PRACTICE, False)
    doc.checkConsistency()
    notes: list[str] = []
    problems = _errors(doc, label, libsbml.LIBSBML_SEV_ERROR, notes)
    if problems:
        _raise(problems, f"{label}: SBML consistency errors")
    if declared[0] == 1:
        notes.append(f"SBML Level 1 Version {declared[1]} was converted to Level 2 Version 4 before import")
    return doc, label, text, notes, declared


def required_packages(doc: libsbml.SBMLDocument) -> list[str]:
    """Names of SBML Level 3 packages the document declares required and that change its meaning."""
    names = []
    ns = doc.getSBMLNamespaces().getNamespaces()
    for i in range(ns.getLength()):
        prefix = ns.getPrefix(i)
        if prefix and doc.isSetPackageRequired(prefix) and doc.getPackageRequired(prefix):
            if prefix not in IGNORABLE_PACKAGES:
                names.append(prefix)
    return names
