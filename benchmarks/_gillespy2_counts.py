"""GillesPy2 on the system sbmljax simulates: a model in molecule counts, for a like-for-like benchmark.

GillesPy2's SBML importer converts no units: on a model written in concentrations (BIOMD0000000009: µM in a
4·10^-12 L compartment) it takes each initial concentration verbatim as a molecule count and simulates a system
of a few molecules. This module translates sbmljax's unit-converted model instead, in two halves that run in
two Python environments (GillesPy2 is never a dependency of sbmljax):

- `count_model_spec(model)` (sbmljax's environment): a JSON-able description of the compiled network: every
  species with its initial count (`CompiledNetwork.initial_state`, molecules), every propensity channel (a split
  reversible reaction gives two) with its stoichiometry row and its propensity in molecules per time unit as a
  Python expression: the kinetic law with each species symbol replaced by `count × species_scale` (count →
  the amount or concentration the law reads), assignment rules inlined, parameters and compartment sizes as
  numbers, times the extent factor (extent → molecules), exactly what `CompiledNetwork.propensities`
  evaluates.
- `python benchmarks/_gillespy2_counts.py SPEC.json N T_END POINTS SOLVER` (GillesPy2's environment): builds
  a `gillespy2.Model` from the spec, with each channel's count-level propensity as a custom
  `propensity_function` (also its ODE propensity, as sbmljax's hybrid method uses one law for both) and
  every species `dynamic` (GillesPy2's own partition), runs `SOLVER` (`tau_hybrid` or `ode`) and prints one
  JSON line: wall and CPU seconds, and the mean counts over the trajectories at each output time.

Models with events, rate rules, compartments whose size changes or delays are refused (`ValueError`): their
translation is not written.
"""

from __future__ import annotations

import json
import math
import sys

_PY_FUNCS = {  # MathML operator -> a function of Python's math module (GillesPy2 evaluates with it)
    "exp": "exp",
    "ln": "log",
    "abs": "fabs",
    "floor": "floor",
    "ceiling": "ceil",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "min": "min",
    "max": "max",
}
_INFIX = {"plus": "+", "times": "*", "divide": "/"}
_RELATIONS = {"eq": "==", "neq": "!=", "gt": ">", "geq": ">=", "lt": "<", "leq": "<="}


def _num(v: float) -> str:
    return repr(float(v))


def to_python(expr, names: dict[str, str], constants: dict[str, float] | None = None) -> str:
    """Python text of an sbmljax expression tree, with symbols replaced by `names` (a KeyError names a symbol
    the translation does not know). `piecewise` becomes GillesPy2's `piecewise(v1, c1, …, otherwise)`.

    A sub-expression that reads only `constants` (parameters, sizes) and not time is evaluated here and written
    as a number: GillesPy2's `ODESolver` evaluates propensities without the `math` functions (its
    `TauHybridSolver` has them), so `log(2) / 2` must reach it as a number."""
    from sbmljax._expr import Bool, Call, Num, Piecewise, Sym, Time, evaluate, symbols, uses_time

    if constants is not None and isinstance(expr, Call | Piecewise):
        if symbols(expr) <= constants.keys() and not uses_time(expr):
            return _num(float(evaluate(expr, constants)))
    if isinstance(expr, Num):
        return _num(expr.value)
    if isinstance(expr, Bool):
        return "True" if expr.value else "False"
    if isinstance(expr, Sym):
        return names[expr.name]
    if isinstance(expr, Time):
        return "t"
    if isinstance(expr, Piecewise):
        parts = [x for v, c in expr.pieces for x in (to_python(v, names, constants), to_python(c, names, constants))]
        if expr.otherwise is not None:
            parts.append(to_python(expr.otherwise, names, constants))
        return "piecewise(" + ", ".join(parts) + ")"
    if isinstance(expr, Call):
        args = [to_python(a, names, constants) for a in expr.args]
        op = expr.op
        if op in _INFIX:
            unit = "0.0" if op == "plus" else "1.0"
            return "(" + f" {_INFIX[op]} ".join(args) + ")" if args else unit
        if op == "minus":
            return f"(-{args[0]})" if len(args) == 1 else f"({args[0]} - {args[1]})"
        if op == "power":
            return f"pow({args[0]}, {args[1]})"
        if op == "root":
            return f"pow({args[1]}, 1.0 / {args[0]})"
        if op == "log":
            return f"(log({args[1]}) / log({args[0]}))"
        if op in _RELATIONS:
            return "(" + " and ".join(f"({a} {_RELATIONS[op]} {b})" for a, b in zip(args[:-1], args[1:])) + ")"
        if op in ("and", "or"):
            return "(" + f" {op} ".join(f"bool({a})" for a in args) + ")"
        if op == "not":
            return f"(not {args[0]})"
        if op in _PY_FUNCS:
            return f"{_PY_FUNCS[op]}(" + ", ".join(args) + ")"
        raise ValueError(f"no Python translation of the MathML operator '{op}'")
    raise TypeError(f"not an expression node: {expr!r}")


def count_model_spec(model) -> dict:
    """The count-level network of an sbmljax `Model` as a JSON-able dict (see the module docstring)."""
    import jax

    with jax.enable_x64(True):  # as sbmljax's entry points: the compiled network is cached per model
        return _count_model_spec(model)


def _count_model_spec(model) -> dict:
    import numpy as np

    from sbmljax._compile._network import compile_network
    from sbmljax._expr import substitute

    if model.events or model.rate_rules:
        raise ValueError(f"{model.source}: events or rate rules: no GillesPy2 translation written")
    net = compile_network(model)
    plan = net.plan
    if plan.variable_compartments or plan.amount_keys:
        raise ValueError(f"{model.source}: a compartment whose size changes: no GillesPy2 translation written")
    x0, p = net.initial_state(net.p_default)
    x0, p = np.asarray(x0), np.asarray(p)
    species = {sid: f"S_{sid}" for sid in plan.species_ids}
    names: dict[str, str] = {sid: f"({species[sid]} * {_num(plan.species_scale[sid])})" for sid in species}
    constants = {n: float(p[j]) for n, j in plan.param_index.items()} | dict(plan.compartment_sizes)
    names.update({n: _num(v) for n, v in constants.items()})
    # Assignment rules, inlined in dependency order (each rule's text reads only earlier ones).
    inlined: dict = {}
    for v, e in plan.rules:
        inlined[v] = substitute(e, inlined)
    reactions = []
    for k, cid in enumerate(plan.channel_ids):
        law = substitute(plan.channel_laws[k], inlined)
        row = plan.stoich[k]
        if np.any(row != np.round(row)):
            raise ValueError(f"{model.source}: channel '{cid}' has non-integer stoichiometry, which GillesPy2 refuses")
        reactions.append(
            {
                "name": f"R{k}_{cid}",
                "reactants": {species[s]: int(-row[i]) for i, s in enumerate(plan.species_ids) if row[i] < 0},
                "products": {species[s]: int(row[i]) for i, s in enumerate(plan.species_ids) if row[i] > 0},
                "propensity": f"{_num(model.extent_factor)} * {to_python(law, names, constants)}",
            }
        )
    return {
        "source": model.source,
        "species": [{"name": species[s], "id": s, "initial": float(x0[i])} for i, s in enumerate(plan.species_ids)],
        "reactions": reactions,
    }


def _run_peer(spec_path: str, n: int, t_end: float, points: int, solver_name: str, rtol: float, atol: float) -> dict:
    """GillesPy2's side: build the model from the spec, run it, time it."""
    import time
    import warnings

    warnings.filterwarnings("ignore")
    import gillespy2
    import numpy as np

    with open(spec_path) as f:
        spec = json.load(f)
    model = gillespy2.Model(name="counts")
    for s in spec["species"]:
        # Every species GillesPy2's `dynamic` (its own population-based partition, Sanft et al. 2015's rule),
        # as sbmljax's hybrid method partitions every species by population itself.
        # GillesPy2 takes only whole initial counts for a species that may be discrete: rounded (sbmljax starts
        # from the unrounded value, at most half a molecule away). The ODE check takes them unrounded.
        if solver_name == "ode":
            species = gillespy2.Species(name=s["name"], initial_value=s["initial"], mode="continuous")
        else:
            species = gillespy2.Species(name=s["name"], initial_value=round(s["initial"]), mode="dynamic")
        model.add_species(species)
    for r in spec["reactions"]:
        model.add_reaction(
            gillespy2.Reaction(
                name=r["name"],
                reactants={k: v for k, v in r["reactants"].items()},
                products={k: v for k, v in r["products"].items()},
                propensity_function=r["propensity"],
            )
        )
    model.timespan(np.linspace(0.0, t_end, points))
    kwargs: dict = {"seed": 1}
    if solver_name == "tau_hybrid":
        solver = gillespy2.TauHybridSolver
        kwargs["number_of_trajectories"] = n
        if rtol > 0:
            kwargs["integrator_options"] = {"rtol": rtol, "atol": atol}
    elif solver_name == "ode":
        solver = gillespy2.ODESolver
        # Its default tolerances; rtol = atol = 1e-10 made scipy's integrator stop early without an error.
        if rtol > 0:
            kwargs["integrator_options"] = {"rtol": rtol, "atol": atol}
        del kwargs["seed"]
    else:
        raise ValueError(f"solver must be tau_hybrid or ode, not {solver_name!r}")
    start, cpu = time.perf_counter(), time.process_time()
    results = model.run(solver=solver, **kwargs)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    names = [s["name"] for s in spec["species"]]
    trajs = results if isinstance(results, list) else list(results)
    mean = np.mean([[np.asarray(tr[nm]) for nm in names] for tr in trajs], axis=0)  # species × times
    return {"seconds": elapsed, "cpu": cpu, "species": names, "mean": mean.T.tolist(), "n": len(trajs)}


def main() -> None:
    """Command line of the GillesPy2 side: SPEC N T_END POINTS SOLVER [RTOL ATOL] (0 = GillesPy2's default)."""
    spec_path, n, t_end, points, solver = (
        sys.argv[1],
        int(sys.argv[2]),
        float(sys.argv[3]),
        int(sys.argv[4]),
        sys.argv[5],
    )
    rtol = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    atol = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    out = _run_peer(spec_path, n, t_end, points, solver, rtol, atol)
    if not all(math.isfinite(v) for row in out["mean"] for v in row):
        out["nonfinite"] = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
