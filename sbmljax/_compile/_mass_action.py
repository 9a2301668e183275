"""Product-form propensities and the reaction dependency graph, for per-event cost independent of `R`.

Most stochastic models use laws that are a parameter-only factor times a product of factors each linear in
one species: `k*A*B`, `k1*P*(P-1)/2`, `0.5*k*(100-2*P2)*(99-2*P2)`, `V*k*A` with `A` a concentration. Such a
channel's propensity is

    a_k = C_k(p) · Π_j (α_kj + β_kj · x[s_kj])            (j < W, padded with α = 1, β = 0)

so the propensities of any subset of channels are a gather and a product: after channel `μ` fires, only
the channels whose factors read a species that `μ` changed are recomputed (Gibson & Bruck 2000's
dependency graph). Channels of any other form ("generic") are re-evaluated in full after every event.

The graph and the sparse stoichiometry are computed once per model, at compile time.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._expr import Call, Expr, Num, Sym, evaluate, symbols, uses_time
from ._network import CompiledNetwork

_Linear = tuple[str, float, float]  # (species id, alpha, beta): alpha + beta * [species value in the law]


def _constant(e: Expr, species: set[str], rule_vars: dict[str, Expr]) -> bool:
    """Whether `e` depends on neither species nor time (through rules too)."""
    if uses_time(e):
        return False
    for s in symbols(e):
        if s in species:
            return False
        if s in rule_vars and not _constant(rule_vars[s], species, rule_vars):
            return False
    return True


def _linear(e: Expr, species: set[str]) -> _Linear | None:
    """`e` as `alpha + beta * S` for one species symbol `S` with numeric alpha, beta; else `None`."""
    if isinstance(e, Sym) and e.name in species:
        return (e.name, 0.0, 1.0)
    if isinstance(e, Call) and e.op in ("plus", "minus") and e.args:
        if e.op == "minus" and len(e.args) == 1:
            inner = _linear(e.args[0], species)
            return (inner[0], -inner[1], -inner[2]) if inner else None
        terms = list(e.args)
        signs = [1.0] + [(-1.0 if e.op == "minus" else 1.0)] * (len(terms) - 1)
        sid, alpha, beta = None, 0.0, 0.0
        for sign, term in zip(signs, terms):
            if isinstance(term, Num):
                alpha += sign * term.value
                continue
            lin = _linear(term, species)
            if lin is None or (sid is not None and lin[0] != sid):
                return None
            sid, alpha, beta = lin[0], alpha + sign * lin[1], beta + sign * lin[2]
        return (sid, alpha, beta) if sid is not None else None
    if isinstance(e, Call) and e.op == "times" and len(e.args) == 2:
        a, b = e.args
        if isinstance(a, Num):
            a, b = b, a
        if isinstance(b, Num):
            lin = _linear(a, species)
            return (lin[0], lin[1] * b.value, lin[2] * b.value) if lin else None
    return None


def product_form(law: Expr, species: set[str], rule_vars: dict[str, Expr]) -> tuple[list[Expr], list[_Linear]] | None:
    """Split `law` into (constant factors, linear factors), or `None` if it is not of product form."""
    consts: list[Expr] = []
    linear: list[_Linear] = []

    def visit(e: Expr, inverse: bool) -> bool:
        if _constant(e, species, rule_vars):
            consts.append(Call("divide", (Num(1.0), e)) if inverse else e)
            return True
        if inverse:
            return False  # a species in a denominator is not product form
        if isinstance(e, Call) and e.op == "times":
            return all(visit(a, False) for a in e.args)
        if isinstance(e, Call) and e.op == "divide" and len(e.args) == 2:
            return visit(e.args[0], False) and visit(e.args[1], True)
        if isinstance(e, Call) and e.op == "power" and isinstance(e.args[1], Num):
            n = e.args[1].value
            lin = _linear(e.args[0], species)
            if lin is not None and float(n).is_integer() and 1 <= n <= 4:
                linear.extend([lin] * int(n))
                return True
            return False
        lin = _linear(e, species)
        if lin is not None:
            linear.append(lin)
            return True
        return False

    return (consts, linear) if visit(law, False) else None


@dataclasses.dataclass(frozen=True, eq=False)
class _GraphPlan:
    constants: tuple[tuple[Expr, ...], ...]  # per channel (empty for generic channels)
    generic: tuple[int, ...]  # channels evaluated in full after every event


class ReactionGraph(eqx.Module):
    """Sparse stoichiometry, product-form propensities and the dependency graph of a network.

    - `change_idx`, `change_val` `(R, C)`: species changed by each channel and by how much (padding index `S`).
    - `dep_idx` `(R, D)`: product-form channels to recompute after each channel fires (padding index `R`).
    - `fac_species`, `fac_alpha`, `fac_beta` `(R, W)`: linear factors (padding `α=1, β=0`).
    - `product`: whether each channel is of product form.
    """

    change_idx: Int[Array, "channels C"]
    change_val: Float[Array, "channels C"]
    dep_idx: Int[Array, "channels D"]
    fac_species: Int[Array, "channels W"]
    fac_alpha: Float[Array, "channels W"]
    fac_beta: Float[Array, "channels W"]
    product: Array
    plan: _GraphPlan = eqx.field(static=True)

    @property
    def generic(self) -> tuple[int, ...]:
        """Channels not of product form (re-evaluated in full after every event)."""
        return self.plan.generic

    def constants(self, net: CompiledNetwork, p: Float[Array, " params"]) -> Float[Array, " channels"]:
        """`C_k(p)` for every channel (1 for generic channels), times the extent factor."""
        env = net.plan.env(jnp.zeros(len(net.species_ids)), p, jnp.asarray(0.0))
        out = []
        for consts in self.plan.constants:
            c = jnp.asarray(1.0)
            for e in consts:
                c = c * evaluate(e, env)
            out.append(c)
        return jnp.stack(out) * net.plan.model.extent_factor if out else jnp.zeros((0,))

    def propensities_of(
        self, x: Float[Array, " species"], consts: Float[Array, " channels"], idx: Int[Array, " n"]
    ) -> Float[Array, " n"]:
        """Product-form propensities of channels `idx` (indices `>= R` give padding values)."""
        i = jnp.minimum(idx, consts.shape[0] - 1)
        xs = x[self.fac_species[i]]
        factors = self.fac_alpha[i] + self.fac_beta[i] * xs
        return consts[i] * jnp.prod(factors, axis=-1)

    def apply(self, x: Float[Array, " species"], k) -> Float[Array, " species"]:
        """`x` after channel `k` fires once (sparse update)."""
        return x.at[self.change_idx[k]].add(self.change_val[k], mode="drop")


def build_graph(net: CompiledNetwork) -> ReactionGraph:
    """Analyse the network once: product forms, sparse stoichiometry and the dependency graph (cached per
    model)."""
    return net.plan.memo("reaction_graph", lambda: _build_graph(net))  # type: ignore[return-value]


def _build_graph(net: CompiledNetwork) -> ReactionGraph:
    plan = net.plan
    model = plan.model
    species = set(plan.species_ids)
    rule_vars = dict(model.assignment_rules)
    R, S = len(plan.channel_ids), len(plan.species_ids)
    # A law that reads a compartment size that changes is not a fixed product of counts (`amount / V(t)`).
    forms = [
        None if sized else product_form(law, species, rule_vars)
        for law, sized in zip(plan.channel_laws, plan.reads_variable_size)
    ]
    width = max([len(f[1]) for f in forms if f is not None] + [1])
    fac_s = np.zeros((R, width), dtype=np.int32)
    fac_a = np.ones((R, width))
    fac_b = np.zeros((R, width))
    constants: list[tuple[Expr, ...]] = []
    for k, f in enumerate(forms):
        if f is None:
            constants.append(())
            continue
        consts, linear = f
        constants.append(tuple(consts))
        for j, (sid, alpha, beta) in enumerate(linear):
            # The law sees the species' value in SBML terms; the state holds counts: value = count * scale.
            fac_s[k, j] = plan.species_index[sid]
            fac_a[k, j] = alpha
            fac_b[k, j] = beta * plan.species_scale[sid]
    generic = tuple(k for k, f in enumerate(forms) if f is None)

    stoich = np.asarray(plan.stoich)
    nz = [np.nonzero(stoich[k])[0] for k in range(R)]
    C = max([len(z) for z in nz] + [1])
    change_idx = np.full((R, C), S, dtype=np.int32)
    change_val = np.zeros((R, C))
    for k, z in enumerate(nz):
        change_idx[k, : len(z)] = z
        change_val[k, : len(z)] = stoich[k, z]
    reads = plan.channel_reads
    deps = [sorted(j for j in range(R) if forms[j] is not None and reads[j] & set(nz[k].tolist())) for k in range(R)]
    D = max([len(d) for d in deps] + [1])
    dep_idx = np.full((R, D), R, dtype=np.int32)
    for k, d in enumerate(deps):
        dep_idx[k, : len(d)] = d
    return ReactionGraph(
        change_idx=jnp.asarray(change_idx),
        change_val=jnp.asarray(change_val),
        dep_idx=jnp.asarray(dep_idx),
        fac_species=jnp.asarray(fac_s),
        fac_alpha=jnp.asarray(fac_a),
        fac_beta=jnp.asarray(fac_b),
        product=jnp.asarray([f is not None for f in forms]),
        plan=_GraphPlan(tuple(constants), generic),
    )
