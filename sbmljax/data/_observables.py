"""Observable and noise functions of simulated counts, in JAX (differentiable in the parameters).

Species symbols in observable and noise formulas mean **molecule counts** here, whatever the model's
units and `hasOnlySubstanceUnits`: sbmljax fits counts (the stochastic simulators' state), so an observable
`I` compares the number of `I` molecules with the data. (PEtab's own reading is SBML's — amounts or
concentrations; for models in `item` units with `hasOnlySubstanceUnits`, as the bundled ones, the two agree.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax.numpy as jnp
import numpy as np

from .._config import x64
from .._expr import Expr, evaluate
from .._model import Model
from ..errors import DataError, ParameterError
from ._dataset import Dataset

ObservableFn = Callable[..., jnp.ndarray]


def _noise_parameters(dataset: Dataset) -> np.ndarray:
    """The `(T, O, K)` placeholder values (`Dataset.__post_init__` replaces `None` by an empty array)."""
    assert dataset.noise_parameters is not None
    return dataset.noise_parameters


def _placeholders(dataset: Dataset) -> dict[str, tuple[int, int]]:
    k = _noise_parameters(dataset).shape[2]
    return {f"noiseParameter{j + 1}_{o.id}": (i, j) for i, o in enumerate(dataset.observables) for j in range(k)}


def check_symbols(dataset: Dataset, model: Model, extra: frozenset[str] = frozenset()) -> None:
    """Check that every symbol of the dataset's formulas is a species, compartment, parameter or placeholder.

    **Arguments:**

    - `dataset`, `model`: the data and the model they belong to.
    - `extra`: further parameter ids that will be supplied (e.g. a problem's noise or scale parameters).

    **Raises:** `DataError` naming the dataset, the observable and the symbol.
    """
    rule_params = model.rule_targets() - set(model.species_ids)
    known = (
        set(model.species_ids)
        | {c.id for c in model.compartments}
        | set(model.parameter_values())
        | set(dataset.params)
        | set(extra)
        | set(_placeholders(dataset))
        | {"time"}
    )
    variable = {c.id for c in model.compartments if not c.constant}
    for o in dataset.observables:
        for sym in sorted(o.symbols()):
            if sym in variable:  # the formulas read compartment sizes as the model's constants
                raise DataError(
                    f"{dataset.source or dataset.name}: observable '{o.id}' reads compartment '{sym}', whose size "
                    "changes during a run; observables read compartment sizes as constants (observe counts instead)"
                )
            if sym in rule_params:
                raise DataError(
                    f"{dataset.source or dataset.name}: observable '{o.id}' reads '{sym}', which an assignment rule "
                    "defines; observables may read species, compartments and parameters only"
                )
            if sym not in known:
                raise DataError(
                    f"{dataset.source or dataset.name}: observable '{o.id}' reads '{sym}', which is not a species, "
                    f"compartment or parameter of model '{model.id}' nor a parameter of the problem"
                )


def _env(dataset: Dataset, model: Model, counts, params: Mapping[str, object]) -> dict:
    env: dict = dict(model.parameter_values())
    env.update({c.id: c.size for c in model.compartments if c.size is not None})
    env.update(dataset.params)
    env.update(params)
    for i, sid in enumerate(model.species_ids):
        env[sid] = counts[..., i]
    env["time"] = jnp.asarray(dataset.times)
    for name, (i, j) in _placeholders(dataset).items():
        env[name] = jnp.asarray(_noise_parameters(dataset)[:, i, j])
    return env


def _evaluate_all(exprs: list[Expr], names: list[str], env: dict, shape: tuple[int, ...], where: str) -> jnp.ndarray:
    out = []
    for e, name in zip(exprs, names):
        try:
            v = evaluate(e, env, env["time"])
        except KeyError as err:
            raise ParameterError(f"{where}: '{name}' needs a value for {err.args[0]!r}; pass it in params") from None
        out.append(jnp.broadcast_to(jnp.asarray(v, dtype=jnp.float64), shape))
    return jnp.stack(out, axis=-1)


@x64
def observables(dataset: Dataset, model: Model) -> ObservableFn:
    """The dataset's observables as a JAX function of simulated counts and parameters.

    Species symbols in the formulas are molecule counts (see the module docstring). Parameters not passed
    take the dataset's condition values, then the model's.

    **Arguments:**

    - `dataset`: the dataset whose observable formulas to evaluate.
    - `model`: the model the counts come from (species order of its state).

    **Returns:** `f(counts, params) -> (..., T, O)`: `counts` is `(..., T, S)` (e.g. `Trajectories.counts`
    `(N, T, S)` or `OdeSolution.values`), `params` a mapping id → value (JAX scalars allowed, so `jax.grad`
    through it works). Traceable under `jit`, `vmap` and `grad`.

    **Raises:** `DataError` (at construction) for a formula symbol that is not a species, compartment or
    parameter; `ParameterError` (at call) when a parameter the formulas need has no value.
    """
    exprs = [o.expr for o in dataset.observables]
    return _formulas_fn(dataset, model, exprs, [f"observable {o.id}" for o in dataset.observables])


def _formulas_fn(dataset: Dataset, model: Model, exprs: list[Expr], names: list[str]) -> ObservableFn:
    """`f(counts, params) -> (..., T, O)` evaluating one formula per observable."""
    # Parameters outside the model (e.g. a `scale`) arrive at call time, so only symbols no call can supply
    # are refused here; `Problem` checks every symbol against its parameter table.
    check_symbols(dataset, model, frozenset().union(*(o.symbols() for o in dataset.observables)))

    @x64
    def fn(counts, params: Mapping[str, object] | None = None) -> jnp.ndarray:
        counts = jnp.asarray(counts, dtype=jnp.float64)  # counts built outside the x64 scope arrive as float32
        env = _env(dataset, model, counts, params or {})
        return _evaluate_all(exprs, names, env, counts.shape[:-1], dataset.source or dataset.name)

    return fn


@x64
def noise_model(dataset: Dataset, model: Model) -> ObservableFn:
    """The measurement-noise standard deviations as a JAX function of counts and parameters.

    **Arguments:**

    - `dataset`, `model`: as in `observables`.

    **Returns:** `f(counts, params) -> (..., T, O)` standard deviations (the noise formulas may read parameters,
    species counts and the `noiseParameter{k}_{id}` values of each measurement).

    **Raises:** `DataError` if an observable's noise is unknown (`noise_formula` is `None`).
    """
    unknown = [o.id for o in dataset.observables if o.noise is None]
    if unknown:
        raise DataError(f"{dataset.source or dataset.name}: the noise of observable(s) {', '.join(unknown)} is unknown")
    exprs = [o.noise for o in dataset.observables if o.noise is not None]
    return _formulas_fn(dataset, model, exprs, [f"noise formula of {o.id}" for o in dataset.observables])
