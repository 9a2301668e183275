"""IF2's settings turned into arrays and keys: random-walk SDs on the estimation scale, the chains' start
values, the panel units' parameter masks and root keys, and the refusal of an estimated parameter that an SBML
event assigns (Ionides et al. 2015; Bretó, Ionides & King 2020 for the panel units).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..errors import ConfigError, UnsupportedSBMLFeatureError


def rw_sds(problem, rw_sd: float | Mapping[str, float]) -> np.ndarray:
    ids = problem.estimated_ids
    if isinstance(rw_sd, Mapping):
        unknown = sorted(set(rw_sd) - set(ids))
        if unknown:
            raise ConfigError(f"rw_sd names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        sd = np.array([float(rw_sd.get(k, 0.0)) for k in ids])
    else:
        sd = np.full(len(ids), float(rw_sd))
    if np.any(~np.isfinite(sd)) or np.any(sd < 0):
        raise ConfigError(f"rw_sd must be finite and ≥ 0, got {rw_sd!r}")
    # `rw_sd` is a relative step (natural-log units, as pomp's rw.sd on log-transformed rates): divide by
    # ln 10 on a log10 scale; a lin-scale parameter steps by `rw_sd` × a tenth of its bounds' width (for a
    # probability in [0.05, 1] about pomp's logit step near 0.9)
    for i, p in enumerate(problem.estimated):
        if p.scale == "log10":
            sd[i] /= math.log(10.0)
        elif p.scale == "lin":
            sd[i] *= (p.upper - p.lower) / 10.0
    return sd


def chain_starts(problem, start, starts, chains, seed) -> list[dict[str, float]] | None:
    """The start values of each chain (linear scale), or None for the classic single chain."""
    if chains is not None and (not isinstance(chains, (int, np.integer)) or chains < 1):
        raise ConfigError(f"chains must be a positive integer, got {chains!r}")
    if starts is None:
        return None if chains in (None, 1) else [dict(start) for _ in range(int(chains))]
    ids = problem.estimated_ids
    est = {p.id: p for p in problem.estimated}
    if isinstance(starts, Mapping):  # a box
        unknown = sorted(set(starts) - set(ids))
        if unknown:
            raise ConfigError(f"starts names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        if chains is None:
            raise ConfigError("starts is a box (id → (low, high)): give chains, the number of starts to draw")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 23]))
        lo_hi = {}
        for k, bounds in starts.items():
            p = est[k]
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise ConfigError(f"starts['{k}'] must be (low, high), got {bounds!r}") from None
            if not (p.lower <= lo <= hi <= p.upper):
                raise ConfigError(
                    f"starts['{k}'] = ({lo:g}, {hi:g}) must lie within the bounds [{p.lower:g}, {p.upper:g}] of '{k}'"
                )
            lo_hi[k] = (p.to_scale(lo), p.to_scale(hi))
        out = []
        for _ in range(int(chains)):
            draw = {k: est[k].from_scale(float(rng.uniform(a, b))) for k, (a, b) in lo_hi.items()}
            out.append({**start, **draw})
        return out
    items = list(starts)
    if not items or not all(isinstance(x, Mapping) for x in items):
        raise ConfigError("starts must be a list of start values (id → value) or a box (id → (low, high))")
    if chains is not None and chains != len(items):
        raise ConfigError(f"chains = {chains} but {len(items)} starts are given")
    out = []
    for x in items:
        unknown = sorted(set(x) - set(ids))
        if unknown:
            raise ConfigError(f"starts names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        v = {**start, **{k: float(val) for k, val in x.items()}}
        off = [k for k in x if not est[k].lower <= v[k] <= est[k].upper]
        if off:
            raise ConfigError(f"start values {[(k, v[k]) for k in off]} are outside their bounds")
        out.append(v)
    return out


def unit_masks(problem) -> list[np.ndarray]:
    """Which estimated parameters each dataset's likelihood depends on: every model parameter (the
    simulation reads it) and the parameters of that dataset's observable and noise formulas. A parameter
    only one dataset reads is that unit's specific parameter in the sense of panel IF2: it is perturbed
    only while that dataset is filtered (Bretó, Ionides & King 2020)."""
    model_params = set(problem.model.parameter_values())
    out = []
    for d in problem.datasets:
        read = set().union(*(o.symbols() for o in d.observables))
        out.append(np.array([k in model_params or k in read for k in problem.estimated_ids]))
    return out


def unit_roots(seed: int, n_units: int) -> list[PRNGKeyArray]:
    """Each dataset's root key (iteration `m` folds in `m`): the first dataset's is the seed's own, so that
    one dataset draws exactly the stream it always did; the others are independent streams."""
    roots = [jax.random.key(int(seed))]
    for u in range(1, n_units):
        roots.append(jax.random.key(int(np.random.SeedSequence([int(seed), 29, u]).generate_state(1)[0])))
    return roots


def refuse_assigned_estimates(model, ids) -> None:
    """IF2 perturbs each estimated parameter per particle before every interval; a parameter an SBML event
    assigns is the particle's state once the event fired, and the two cannot both hold."""
    for ev in model.events:
        hit = sorted({a.variable for a in ev.assignments} & set(ids))
        if hit:
            raise UnsupportedSBMLFeatureError(
                f"{model.source}: event '{ev.id}' assigns the estimated parameter(s) {hit}; IF2 perturbs estimated "
                "parameters as each particle's own, which an event assignment would overwrite. Estimate another "
                "parameter (e.g. the one the event's assigned value is computed from)"
            )
