"""One libRoadRunner instance per model: loading, local-parameter promotion, and a stateless solve.

libRoadRunner 2.10 does not expose reaction-local parameters (`rr["Birth.Lambda"]` is an invalid
selection), so the document is copied and its local parameters promoted to global ones with libsbml's
`promoteLocalParameters` conversion; `reaction.param` is then mapped to the promoted id.

RoadRunner objects are stateful in ways that leak between calls: an `init(p)` value set once survives
`resetAll()`, and setting a parameter's *current* value then calling `reset()` re-evaluates initial
assignments inconsistently (a species' initial assignment saw the new value, a parameter's did not). So
for a model with initial assignments every solve makes the `init(...)` value of *every* user-settable
parameter (not only the overridden ones) equal to the requested one, which makes each call independent of
the previous one. Setting an `init(...)` value costs tens of milliseconds, so it is done only where the
value changes; a model without initial assignments takes the cheap path: `resetAll()` restores every
parameter, then the current values are set.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping

import libsbml
import numpy as np

from .._model import Model
from ..errors import SBMLReadError, SimulationError
from ..sbml._mathml import ASTNode

MAX_STEPS = 1_000_000
"""CVODE's step limit per output interval (roadrunner's default of 20,000 is hit by stiff models at tight
tolerances)."""


def _pair_names(before: ASTNode, after: ASTNode, local: set[str], out: dict[str, str]) -> None:
    # The conversion only renames identifiers, so the two trees have the same shape: walking them in
    # parallel tells exactly which new id replaced each local one, whatever suffix libsbml chose to
    # avoid a clash with an existing global id.
    # isName() and the definition URL, not getType(): see sbmljax.sbml._mathml on the SWIG enum problem.
    if before.isName() and not before.getDefinitionURLString() and before.getName() in local:
        out[before.getName()] = after.getName()
    for i in range(min(before.getNumChildren(), after.getNumChildren())):
        _pair_names(before.getChild(i), after.getChild(i), local, out)


def promote_local_parameters(sbml: str, label: str) -> tuple[str, dict[str, str | None]]:
    """Promote reaction-local parameters to global ones.

    **Arguments:**

    - `sbml`: the SBML text.
    - `label`: the model's source, for messages.

    **Returns:** `(text, mapping)`: the converted SBML, and `reaction.param` → promoted global id (`None` for a
    local parameter that its rate law never reads, so that no value of it can matter).

    **Raises:** `SBMLReadError` if libsbml cannot convert the document.
    """
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise SBMLReadError(f"{label}: the document has no <model> element")
    before: dict[str, tuple[libsbml.ASTNode, set[str]]] = {}
    for r in model.getListOfReactions():
        kl = r.getKineticLaw()
        if kl is None or kl.getMath() is None:
            continue
        locals_ = kl.getListOfLocalParameters() if model.getLevel() >= 3 else kl.getListOfParameters()
        ids = {p.getId() for p in locals_}
        if ids:
            before[r.getId()] = (kl.getMath().deepCopy(), ids)
    if not before:
        return sbml, {}
    props = libsbml.ConversionProperties()
    props.addOption("promoteLocalParameters", True)
    if doc.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLReadError(f"{label}: libsbml could not promote the local parameters to global ones")
    converted = doc.getModel()
    mapping: dict[str, str | None] = {}
    for rid, (ast, ids) in before.items():
        pairs: dict[str, str] = {}
        _pair_names(ast, converted.getReaction(rid).getKineticLaw().getMath(), ids, pairs)
        for pid in ids:
            mapping[f"{rid}.{pid}"] = pairs.get(pid)
    return libsbml.writeSBMLToString(doc), mapping


class Runner:
    """A loaded RoadRunner for one model, with the id maps; `solve` is stateless from the caller's view."""

    def __init__(self, model: Model):
        import roadrunner

        # No reference to `model` itself: the cache below is keyed weakly on it, and a value that refers
        # to its key would keep both alive forever.
        self.species_ids = model.species_ids
        self.source = model.source
        text, self.promoted = promote_local_parameters(model.sbml, model.source)
        try:
            self.rr = roadrunner.RoadRunner(text)
        except Exception as e:  # roadrunner raises bare RuntimeErrors
            raise SBMLReadError(f"{model.source}: libRoadRunner cannot load the model: {e}") from None
        self.lock = threading.Lock()
        self.initial_assignments = bool(model.initial_assignments)
        # CVODE's state: floating species not set by rules, and rate-rule variables, in this order.
        n_state = len(self.rr.getIntegrator().getAbsoluteToleranceVector())
        factors = {sp.id: sp.count_factor for sp in model.species}
        self.state_factors = np.array(
            [factors.get(self.rr.model.getStateVectorId(i), 1.0) for i in range(n_state)], dtype=np.float64
        )

    def rr_parameter(self, name: str) -> str | None:
        """RoadRunner's id for a parameter of ours (`None`: a local parameter no rate law reads)."""
        return self.promoted.get(name, name) if "." in name else name

    def _set_tolerances(self, rtol: float, atol: float) -> None:
        # CVODE integrates amounts (substance units); `atol` is in molecules. roadrunner scales a scalar
        # absolute tolerance per state variable (by its initial amount, or its compartment's size when that
        # is zero) and re-scales it whenever initial values change. Its per-variable setter
        # (`setIndividualTolerance`) is unusable in 2.10: with species set by assignment rules, the next
        # `init(...)` assignment fails inside it. So: read the scaling roadrunner applies to a tolerance of
        # 1 in the current state, and choose the scalar so that no species gets more than `atol` molecules.
        integ = self.rr.getIntegrator()
        integ.relative_tolerance = rtol
        integ.maximum_num_steps = MAX_STEPS
        integ.absolute_tolerance = 1.0
        w = np.asarray(integ.getAbsoluteToleranceVector(), dtype=np.float64) * self.state_factors
        worst = float(np.max(w)) if w.size else 0.0
        integ.absolute_tolerance = atol / worst if worst > 0 else atol

    def solve(
        self,
        params: Mapping[str, float],
        initial_amounts: Mapping[str, float],
        grid: np.ndarray,
        *,
        rtol: float,
        atol: float,
    ) -> np.ndarray:
        """Amounts of every species (model order) at the strictly increasing times `grid` (`grid[0]` is t0).

        `params` must hold every user-settable parameter (see the module docstring for why).
        """
        rr = self.rr
        ids = list(self.species_ids)
        with self.lock:
            rr.resetAll()
            for name, value in params.items():
                rid = self.rr_parameter(name)
                if rid is None:
                    continue
                if not self.initial_assignments:
                    rr[rid] = float(value)  # resetAll restored every parameter; this is cheap
                elif rr[f"init({rid})"] != float(value):
                    rr[f"init({rid})"] = float(value)  # slow (tens of ms): only when it changes
            rr.reset()
            # Overrides go on the current state after the initial assignments ran, as in `simulate`:
            # other initial values do not see them.
            for sid, amount in initial_amounts.items():
                rr[sid] = float(amount)
            self._set_tolerances(rtol, atol)
            if grid.size == 1:
                return np.array([[rr[s] for s in ids]], dtype=np.float64)
            try:
                out = rr.simulate(times=grid.tolist(), selections=ids)
            except RuntimeError as e:
                shown = ", ".join(f"{k}={v:g}" for k, v in list(params.items())[:8])
                raise SimulationError(
                    f"{self.source}: CVODE failed on t={grid[0]:g}..{grid[-1]:g} with {shown}: {e}"
                ) from None
            return np.asarray(out, dtype=np.float64).reshape(grid.size, len(ids))


_RUNNERS: weakref.WeakKeyDictionary[Model, Runner] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def runner_for(model: Model) -> Runner:
    """The cached `Runner` of `model` (loading compiles the model with LLVM, which is slow)."""
    with _CACHE_LOCK:
        r = _RUNNERS.get(model)
        if r is None:
            r = _RUNNERS[model] = Runner(model)
        return r
