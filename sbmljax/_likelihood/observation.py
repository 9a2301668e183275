"""Measurement densities `log g(y | x, θ)` of one dataset, as a JAX function of one particle's counts.

Each observable `j` has a formula `h_j(x, θ)`, a noise formula `s_j(x, θ)`, a distribution and a
transformation (see `sbmljax.data.Observable`). The log-density of a measurement `y` is

- `normal`: `−½ log(2π s²) − (y' − h')² / (2 s²)`, `laplace`: `−log(2 s) − |y' − h'| / s`, where `y' = y`,
  `h' = h` on the `lin` scale and `y' = log y`, `h' = log h` (or `log10`) on the log scales, plus the
  Jacobian `−log y` (`−log(y ln 10)`), so that the density is one of `y` itself, as PEtab's objective
  (Schmiester et al. 2021) defines it;
- `poisson`: `y log h − h − log y!` (mean `h`; the noise formula is not used);
- `negative_binomial`: mean `h`, size `k = s` (variance `h + h²/k`);
- `binomial`: `y` of `n = h` trials, each reported with probability `s`.

Missing measurements (NaN) contribute 0. Species symbols are molecule counts, as everywhere in `sbmljax.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy
from jaxtyping import Array, Bool, Float

from .._compile._network import CompiledNetwork
from .._expr import evaluate
from .._model import Model
from ..data import Dataset
from ..data._formula import COUNT_DISTRIBUTIONS
from ..data._observables import check_symbols
from ..errors import DataError, ParameterError


def log_density(distribution: str, transformation: str, y, h, s) -> jax.Array:
    """`log g(y | h, s)` of one measurement (see the module docstring); `-inf` where `y` is impossible."""
    if distribution == "poisson":
        return jnp.where((h == 0) & (y == 0), 0.0, xlogy(y, h) - h - gammaln(y + 1.0))
    if distribution == "negative_binomial":
        k = s
        return (
            gammaln(y + k)
            - gammaln(k)
            - gammaln(y + 1.0)
            + k * (jnp.log(k) - jnp.log(k + h))
            + xlogy(y, h)
            - xlogy(y, k + h)
        )
    if distribution == "binomial":
        n = jnp.round(h)
        ok = (y <= n) & (n >= 0)
        n_safe = jnp.where(ok, n, y)
        value = (
            gammaln(n_safe + 1.0)
            - gammaln(y + 1.0)
            - gammaln(n_safe - y + 1.0)
            + xlogy(y, s)
            + xlogy(n_safe - y, 1.0 - s)
        )
        return jnp.where(ok, value, -jnp.inf)
    jac: float | jax.Array = 0.0
    if transformation != "lin":
        base = 1.0 if transformation == "log" else math.log(10.0)
        jac = -jnp.log(y * base)
        y, h = jnp.log(y) / base, jnp.log(h) / base
    if distribution == "normal":
        return jac - 0.5 * jnp.log(2.0 * jnp.pi * s**2) - 0.5 * ((y - h) / s) ** 2
    if distribution == "laplace":
        return jac - jnp.log(2.0 * s) - jnp.abs(y - h) / s
    raise ValueError(f"unknown distribution {distribution!r}")


def _noise_check(distribution: str, s) -> jax.Array:
    """Whether a noise value is usable: an SD, scale or size must be positive, a probability in (0, 1]."""
    if distribution == "poisson":
        return jnp.asarray(True)
    if distribution == "binomial":
        return (s > 0) & (s <= 1)
    return (s > 0) & jnp.isfinite(s)


class ObservationModel(eqx.Module):
    """`log g(y_k | x, θ)` for every observation time `k` of one dataset.

    A pytree: measurements and constants are leaves, formulas and settings static, so that the filter
    compiles once per model and data layout (build it with `observation_model`).
    """

    net: CompiledNetwork
    times: Float[Array, " T"]
    y: Float[Array, "T O"]
    mask: Bool[Array, "T O"]
    noise_parameters: Float[Array, "T O K"]
    constant_values: Float[Array, " C"]
    constant_names: tuple[str, ...] = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)
    species_ids: tuple[str, ...] = eqx.field(static=True)
    exprs: tuple = eqx.field(static=True)
    noises: tuple = eqx.field(static=True)
    distributions: tuple[str, ...] = eqx.field(static=True)
    transformations: tuple[str, ...] = eqx.field(static=True)
    observable_ids: tuple[str, ...] = eqx.field(static=True)
    placeholders: tuple[tuple[str, int, int], ...] = eqx.field(static=True)

    def _env(self, x, p, k, theta) -> dict:
        t = self.times[k]
        x = self.net.observe(x, p, t)
        env: dict = {n: self.constant_values[i] for i, n in enumerate(self.constant_names)}
        env.update({n: theta[i] for i, n in enumerate(self.names)})
        for i, sid in enumerate(self.species_ids):
            env[sid] = x[i]
        env["time"] = t
        for name, j, q in self.placeholders:
            env[name] = self.noise_parameters[k, j, q]
        return env

    def terms(self, x, p, k, theta) -> tuple[jax.Array, jax.Array]:
        """Per-observable log-densities at time index `k` (0 where not measured) and whether each noise value
        is usable (True where not measured)."""
        env = self._env(x, p, k, theta)
        out, ok = [], []
        for j, dist in enumerate(self.distributions):
            h = jnp.asarray(evaluate(self.exprs[j], env, env["time"]), dtype=jnp.float64)
            noise = self.noises[j]
            s = jnp.asarray(evaluate(noise, env, env["time"]), dtype=jnp.float64) if noise is not None else 1.0
            m = self.mask[k, j]
            good = _noise_check(dist, s)
            s_safe = jnp.where(good, s, 1.0)
            y = jnp.where(m, self.y[k, j], 1.0)
            v = log_density(dist, self.transformations[j], y, h, s_safe)
            out.append(jnp.where(m, v, 0.0))
            ok.append(~m | good)
        return jnp.stack(out), jnp.stack(ok)

    def log_g(self, x, p, k, theta) -> tuple[jax.Array, jax.Array]:
        """`log g(y_k | x, θ)` summed over the observables measured at `k`, and whether every noise value
        was usable."""
        v, ok = self.terms(x, p, k, theta)
        return jnp.sum(v), jnp.all(ok)


def observation_model(
    dataset: Dataset,
    model: Model,
    net: CompiledNetwork,
    names: Sequence[str],
    constants: Mapping[str, float],
) -> ObservationModel:
    """The `ObservationModel` of a dataset, checked.

    **Arguments:**

    - `dataset`, `model`, `net`: the data, the model and its compiled network (for rule-defined species).
    - `names`: the parameters passed at call time as the vector `theta` (differentiable).
    - `constants`: values of the other parameters the formulas may read (problem-fixed, condition).

    **Raises:** `DataError` for a formula symbol without a value, count data that are negative or not
    whole, log-transformed data that are not positive, or a missing noise formula.
    """
    where = dataset.source or dataset.name
    names = tuple(names)
    check_symbols(dataset, model, frozenset(names) | frozenset(constants))
    env: dict = dict(model.parameter_values())
    env.update({c.id: c.size for c in model.compartments if c.size is not None})
    env.update(dataset.params)
    env.update(constants)
    consts = {k: float(v) for k, v in env.items() if k not in names}
    y = dataset.values
    for j, o in enumerate(dataset.observables):
        col = y[:, j]
        bad_rows: np.ndarray = np.zeros(0, dtype=int)
        what = ""
        if o.distribution in COUNT_DISTRIBUTIONS:
            bad_rows = np.nonzero(~np.isnan(col) & ((col < 0) | (col != np.round(col))))[0]
            what = f"a {o.distribution} count model needs whole counts ≥ 0"
        elif o.transformation != "lin":
            bad_rows = np.nonzero(~np.isnan(col) & (col <= 0))[0]
            what = f"a {o.transformation} transformation needs positive values"
        if len(bad_rows):
            r = int(bad_rows[0])
            raise DataError(
                f"{where}: observable '{o.id}' at time {dataset.times[r]:g} (row {r + 1}): value {col[r]:g}; {what}"
            )
        if o.noise is None and o.distribution != "poisson":
            raise DataError(
                f"{where}: the noise of observable '{o.id}' is unknown; a likelihood needs it (give noise_sd= "
                "for the quick form, or a noise formula)"
            )
        for sym in o.symbols():
            if sym not in consts and sym not in names and sym not in model.species_ids and sym != "time":
                if not sym.startswith("noiseParameter"):
                    raise ParameterError(f"{where}: observable '{o.id}' needs a value for '{sym}'")
    obs = dataset.observables
    npar = dataset.noise_parameters
    assert npar is not None  # Dataset.__post_init__ fills (T, O, 0) when none are given
    return ObservationModel(
        net=net,
        times=jnp.asarray(dataset.times),
        y=jnp.asarray(np.nan_to_num(y)),
        mask=jnp.asarray(~np.isnan(y)),
        noise_parameters=jnp.asarray(np.nan_to_num(npar)),
        constant_values=jnp.asarray(list(consts.values()), dtype=jnp.float64),
        constant_names=tuple(consts),
        names=names,
        species_ids=tuple(model.species_ids),
        exprs=tuple(o.expr for o in obs),
        noises=tuple(o.noise for o in obs),
        distributions=tuple(o.distribution for o in obs),
        transformations=tuple(o.transformation for o in obs),
        observable_ids=tuple(o.id for o in obs),
        placeholders=tuple(
            (f"noiseParameter{q + 1}_{o.id}", j, q) for j, o in enumerate(obs) for q in range(npar.shape[2])
        ),
    )
