"""Model IR → a compiled network: pure JAX functions of the state, the parameters and time.

The state `x` holds molecule counts of every species (float64 arrays holding integers for the exact
methods, so pathwise estimators can differentiate). Parameters are one flat vector `p` (see
`CompiledNetwork.param_names`), a traced input everywhere: nothing a user may change is baked in as a
constant, because the gradient estimators differentiate with respect to it.

Symbol meaning follows SBML: a species symbol in math is its amount (substance units) when
`hasOnlySubstanceUnits` is true, else its concentration (amount / compartment size); amounts are counts
divided by `count_factor`. A kinetic law's value (extent per time) times the extent factor is the
propensity in events per time (Gillespie 1977's hazard).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._expr import Call, DependencyCycle, Expr, Sym, dependency_order, evaluate, symbols, uses_time
from .._model import Model
from ..errors import NetworkError, UnsupportedSBMLFeatureError


class _Plan:
    """Everything static about a compiled model. Hashed by identity so `jit` caches per model cheaply; one plan per
    model content (`_compile_cached` interns them), so a model loaded again reuses the compiled programs."""

    def __init__(self, model: Model):
        self.model = model
        self._memo: dict[str, object] = {}
        sizes = {c.id: c.size for c in model.compartments}
        rule_vars = model.rule_targets()
        ia_vars = {v for v, _ in model.initial_assignments}
        self.species_ids = model.species_ids
        self.species_index = {s: i for i, s in enumerate(self.species_ids)}
        free = model.parameter_values()
        self.free_names: tuple[str, ...] = tuple(free)
        self.ia_param_names: tuple[str, ...] = tuple(
            p.id for p in model.parameters if p.id in ia_vars and p.id not in rule_vars
        )
        # Compartments whose size changes: one set by an assignment rule is evaluated with the rules; one set by
        # a rate rule or by events is an entry of the parameter vector after the free parameters (the hybrid
        # method integrates rate-rule entries, and events assign entries), not a value a user sets.
        self.variable_compartments = tuple(c.id for c in model.compartments if not c.constant)
        self.size_param_names = tuple(c for c in self.variable_compartments if c not in rule_vars)
        self.param_names = self.free_names + self.ia_param_names + self.size_param_names
        self.param_index = {n: i for i, n in enumerate(self.param_names)}
        self.p_default = np.array([free[n] for n in self.free_names], dtype=np.float64)
        self.rule_species = tuple(v for v, _ in model.assignment_rules if v in self.species_index)

        # Symbols that read a species need the compartment size when the species is a concentration.
        self.species_scale: dict[str, float] = {}
        self.species_volume: dict[str, float] = {}
        for s in model.species:
            size = sizes.get(s.compartment)
            volume = 1.0
            if not s.has_only_substance_units:
                volume = size if size is not None else math.nan
            self.species_volume[s.id] = volume
            self.species_scale[s.id] = 1.0 / (s.count_factor * volume)
        variable = set(self.variable_compartments)
        self.compartment_sizes = {c: (v if v is not None else math.nan) for c, v in sizes.items() if c not in variable}
        self.initial_sizes = {c: (v if v is not None else math.nan) for c, v in sizes.items() if c in variable}
        # A concentration in a compartment whose size changes is `amount / V(t)`: one more assignment, evaluated
        # with the rules (after the size), reading the amount under its own key (SBML L3V2 §4.11.7). Its count
        # is `concentration × V × count_factor` wherever a value becomes a count (initial values, output).
        self.amount_keys: dict[str, str] = {}  # amount key -> species
        self.count_factor = {s.id: s.count_factor for s in model.species}
        self.variable_species: dict[str, str] = {}  # concentration species in a variable compartment -> compartment
        conc_rules: list[tuple[str, Expr]] = []
        for s in model.species:
            if s.compartment in variable and not s.has_only_substance_units:
                key = f"{s.id}#amount"
                self.amount_keys[key] = s.id
                self.variable_species[s.id] = s.compartment
                if s.id not in rule_vars:
                    conc_rules.append((s.id, Call("divide", (Sym(key), Sym(s.compartment)))))

        # Channels: one per irreversible reaction, two per split reversible one.
        channels: list[tuple[str, str, Expr, float]] = []
        for r in model.reactions:
            channels.append((r.id, r.id, r.forward, 1.0))
            if r.backward is not None:
                channels.append((f"{r.id}__reverse", r.id, r.backward, -1.0))
        self.channel_ids = tuple(c[0] for c in channels)
        self.channel_reaction = tuple(c[1] for c in channels)
        self.channel_laws = tuple(c[2] for c in channels)
        stoich = np.zeros((len(channels), len(self.species_ids)))
        movable = {s.id for s in model.species if not s.boundary_condition and not s.constant}
        by_id = {r.id: r for r in model.reactions}
        for k, (_, rid, _, sign) in enumerate(channels):
            for sid, change in by_id[rid].net_change().items():
                if sid in movable:
                    stoich[k, self.species_index[sid]] = sign * change
        self.stoich = stoich

        self.rules = model.assignment_rules
        if conc_rules:
            try:
                self.rules = dependency_order(list(model.assignment_rules) + conc_rules)
            except DependencyCycle as cycle:
                raise UnsupportedSBMLFeatureError(
                    f"{model.source}: the size of a compartment and the concentrations in it read each other "
                    f"(an algebraic loop among {', '.join(n for n in cycle.names if '#' not in n)})"
                ) from None
        rule_deps: dict[str, frozenset[str]] = {}
        rule_time: dict[str, bool] = {}
        rule_sized: dict[str, bool] = {}  # reads a variable compartment's size (directly or through rules)
        for v, e in self.rules:  # topological order: dependencies are already resolved
            deps: set[str] = set()
            t_dep = uses_time(e)
            sized = False
            for sym in symbols(e):
                if sym in rule_deps:
                    deps |= rule_deps[sym]
                    t_dep = t_dep or rule_time[sym]
                    sized = sized or rule_sized[sym]
                elif sym in self.species_index:
                    deps.add(sym)
                elif sym in self.amount_keys:
                    deps.add(self.amount_keys[sym])
                sized = sized or sym in variable
            rule_deps[v], rule_time[v], rule_sized[v] = frozenset(deps), t_dep, sized
        self._rule_deps, self._rule_time = rule_deps, rule_time

        def reads(e: Expr) -> tuple[frozenset[int], bool, bool]:
            sp: set[str] = set()
            t_dep = uses_time(e)
            sized = False
            for sym in symbols(e):
                if sym in rule_deps:
                    sp |= rule_deps[sym]
                    t_dep = t_dep or rule_time[sym]
                    sized = sized or rule_sized[sym]
                elif sym in self.species_index:
                    sp.add(sym)
                sized = sized or sym in variable
            return frozenset(self.species_index[s] for s in sp), t_dep, sized

        reads_ = [reads(e) for e in self.channel_laws]
        self.channel_reads = tuple(r[0] for r in reads_)
        self.time_dependent = tuple(r[1] for r in reads_)
        self.reads_variable_size = tuple(r[2] for r in reads_)  # not of product form (`_mass_action`)

        # Initial values: initial assignments and assignment rules together, in dependency order.
        init = list(model.initial_assignments) + [(v, e) for v, e in model.assignment_rules]
        ia_vars_ = {v for v, _ in init}
        for s in model.species:  # an initial value given the other way round needs the size at t0
            if s.compartment in variable and s.id not in ia_vars_:
                v_sym = Sym(s.compartment)
                if not s.has_only_substance_units and s.initial_amount is not None:
                    init.append((s.id, Call("divide", (Sym(f"{s.id}#initial"), v_sym))))
                elif s.has_only_substance_units and s.initial_amount is None and s.initial_concentration is not None:
                    init.append((s.id, Call("times", (Sym(f"{s.id}#initial"), v_sym))))
        try:
            self.init_order = dependency_order(init)
        except DependencyCycle as cycle:
            raise NetworkError(
                f"{model.source}: initial assignments and rules form a cycle among {cycle.names}"
            ) from None
        defined = {v for v, _ in init}
        used: set[str] = set()
        for e in list(self.channel_laws) + [e for _, e in init] + [ev.trigger for ev in model.events]:
            used |= symbols(e)
        for ev in model.events:
            for a in ev.assignments:
                used |= symbols(a.math) | {a.variable}
        for s in model.species:
            if (
                s.id in used
                and not s.has_only_substance_units
                and sizes.get(s.compartment) is None
                and s.compartment not in rule_vars
            ):
                raise NetworkError(
                    f"{model.source}: species '{s.id}' is a concentration (hasOnlySubstanceUnits=false) but its "
                    f"compartment '{s.compartment}' has no size, so its amount is undefined"
                )
        for c, size in sizes.items():
            if c in used and size is None and c not in rule_vars:
                raise NetworkError(f"{model.source}: compartment '{c}' is used in math but has no size")
        for s in model.species:
            if s.initial_amount is None and s.initial_concentration is None and s.id not in defined:
                raise NetworkError(f"{model.source}: species '{s.id}' has no initial amount or concentration")

    def memo(self, name: str, build: Callable[[], object]) -> object:
        """Compute a per-model analysis once (e.g. the dependency graph) and keep it on the plan.

        Often first needed while tracing a simulator, so it is built under `ensure_compile_time_eval`: the
        cached arrays must be concrete, not tracers that would leak out of that trace.
        """
        if name not in self._memo:
            with jax.ensure_compile_time_eval():
                self._memo[name] = build()
        return self._memo[name]

    # -- environments -----------------------------------------------------------------------------------
    def base_env(self, x, p) -> dict:
        env: dict = {}
        for sid, i in self.species_index.items():
            env[sid] = x[i] * self.species_scale[sid]
        for key, sid in self.amount_keys.items():  # the concentration is the rules' `amount / V(t)`
            env[key] = x[self.species_index[sid]] / self.count_factor[sid]
        for name, j in self.param_index.items():
            env[name] = p[j]
        env.update(self.compartment_sizes)
        return env

    def env(self, x, p, t) -> dict:
        env = self.base_env(x, p)
        for v, e in self.rules:
            env[v] = evaluate(e, env, t)
        return env

    def count_scale(self, sid: str, env: dict):
        """Counts per unit of species `sid`'s value in math (`env` gives a variable compartment's size)."""
        if sid in self.variable_species:
            return 1.0 / (self.count_factor[sid] * env[self.variable_species[sid]])
        return self.species_scale[sid]


class CompiledNetwork(eqx.Module):
    """A reaction network as pure JAX functions (built by `compile_network`).

    `propensities`, `initial_state` and `observe` are traceable under `jit`, `vmap`, `grad` and `jvp`.
    """

    stoich: Float[Array, "channels species"]
    p_default: Float[Array, " free"]
    plan: _Plan = eqx.field(static=True)

    @property
    def species_ids(self) -> tuple[str, ...]:
        """Species ids, in the order of the state vector."""
        return self.plan.species_ids

    @property
    def channel_ids(self) -> tuple[str, ...]:
        """One id per propensity channel: the reaction id, `id__reverse` for a split reversible one."""
        return self.plan.channel_ids

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the full parameter vector: free parameters, then ones set by initial assignments."""
        return self.plan.param_names

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the parameters a user may set (the leading part of the parameter vector)."""
        return self.plan.free_names

    @property
    def time_dependent_rules(self) -> frozenset[str]:
        """Symbols set by assignment rules whose value depends on time (directly or through other rules)."""
        return frozenset(v for v, dep in self.plan._rule_time.items() if dep)

    @property
    def time_dependent(self) -> bool:
        """Whether some propensity depends on time (exact methods then refuse the model)."""
        return any(self.plan.time_dependent)

    def propensities(
        self, x: Float[Array, " species"], p: Float[Array, " params"], t: Float[Array, ""]
    ) -> Float[Array, " channels"]:
        """Propensity of every channel at state `x`, full parameters `p`, time `t` (events per time unit)."""
        plan = self.plan
        env = plan.env(x, p, t)
        factor = plan.model.extent_factor
        if not plan.channel_laws:
            return jnp.zeros((0,), dtype=x.dtype)
        return jnp.stack([jnp.asarray(evaluate(e, env, t), dtype=x.dtype) * factor for e in plan.channel_laws])

    def initial_state(
        self, p_free: Float[Array, " free"], t0: float = 0.0
    ) -> tuple[Float[Array, " species"], Float[Array, " params"]]:
        """Initial counts and the full parameter vector, from the free parameters.

        Initial assignments and assignment rules are evaluated together at `t0`, as SBML prescribes.
        """
        plan, model = self.plan, self.plan.model
        env: dict = {}
        for s in model.species:
            vol = plan.species_volume[s.id]
            if s.initial_amount is not None:
                env[s.id] = jnp.asarray(s.initial_amount / vol if not s.has_only_substance_units else s.initial_amount)
            elif s.initial_concentration is not None:
                size = plan.compartment_sizes.get(s.compartment, math.nan)
                amount = s.initial_concentration * size
                env[s.id] = jnp.asarray(amount if s.has_only_substance_units else s.initial_concentration)
        for j, name in enumerate(plan.free_names):
            env[name] = p_free[j]
        env.update(plan.compartment_sizes)
        if plan.variable_compartments:
            env.update(plan.initial_sizes)
            for s in model.species:  # the value as given; `init_order` converts it with the size at t0
                given = s.initial_amount if s.initial_amount is not None else s.initial_concentration
                if s.compartment in plan.initial_sizes and given is not None:
                    env[f"{s.id}#initial"] = jnp.asarray(given)
        for v, e in plan.init_order:
            env[v] = evaluate(e, env, t0)
        x0 = jnp.asarray(
            [jnp.asarray(env[s.id], dtype=float) / plan.count_scale(s.id, env) for s in model.species], dtype=float
        )
        extra = [jnp.asarray(env[n], dtype=float) for n in plan.ia_param_names + plan.size_param_names]
        p = jnp.concatenate([p_free, jnp.stack(extra)]) if extra else p_free
        return x0, p

    def observe(self, x: Float[Array, " species"], p: Float[Array, " params"], t) -> Float[Array, " species"]:
        """The state with species that assignment rules define filled in (for output)."""
        plan = self.plan
        if not plan.rule_species:
            return x
        env = plan.env(x, p, t)
        idx = jnp.array([plan.species_index[s] for s in plan.rule_species])
        vals = jnp.stack([jnp.asarray(env[s], dtype=x.dtype) / plan.count_scale(s, env) for s in plan.rule_species])
        return x.at[idx].set(vals)

    def channel_of_reaction(self, k: int) -> str:
        """The SBML reaction id behind channel `k`."""
        return self.plan.channel_reaction[k]


_INTERNED: OrderedDict[tuple[str, bool], CompiledNetwork] = OrderedDict()
_INTERNED_MAX = 64
_INTERNED_LOCK = threading.Lock()


def content_key(model: Model) -> str:
    """A key equal for two models with the same content: the model's `repr`, which spells every field but the
    SBML text (`Model.sbml` has `repr=False`; the other fields are what was imported from it, import options
    included) and every number exactly (`1` and `1.0`, `0.0` and `-0.0` differ, so equal keys compile to the
    same program bit for bit)."""
    return repr(model)


@functools.lru_cache(maxsize=64)
def _compile_cached(model: Model, x64: bool) -> CompiledNetwork:
    # Interned by content: `jit` caches key on the plan's identity (hashing it by value would hash the expression
    # trees at every call), so a model loaded again from the same file must get the same plan, or every compiled
    # program (a particle filter, IF2, an ensemble runner) would be compiled again for it. `x64` in the key: the
    # network's arrays (and the plan's memoised ones) take the dtype of the scope they are built in, so a network
    # compiled outside the entry points' 64-bit scope must not be handed to code inside it.
    try:
        key = (content_key(model), x64)
    except RecursionError:  # an expression nested deeper than `repr` can spell: compiled for this object alone
        return _build(model)
    with _INTERNED_LOCK:  # threads (`run_ensemble`'s chunks, a user's) must not get two plans of one content
        net = _INTERNED.get(key)
        if net is None:
            net = _INTERNED[key] = _build(model)
            if len(_INTERNED) > _INTERNED_MAX:
                _INTERNED.popitem(last=False)
        else:
            _INTERNED.move_to_end(key)
        return net


def _build(model: Model) -> CompiledNetwork:
    plan = _Plan(model)
    return CompiledNetwork(
        stoich=jnp.asarray(plan.stoich, dtype=jnp.float64),
        p_default=jnp.asarray(plan.p_default, dtype=jnp.float64),
        plan=plan,
    )


def compile_network(
    model: Model, *, exact: bool | None = None, accepts: frozenset[str] = frozenset()
) -> CompiledNetwork:
    """Compile a model's rate laws and stoichiometry into JAX functions.

    **Arguments:**

    - `model`: the imported model.
    - `exact`: when `True` or `False`, first refuse constructs that exact (or any) stochastic simulation cannot
      honour, raising `UnsupportedSBMLFeatureError` naming each; when `None`, compile whatever can be.
    - `accepts`: support-table constructs the simulator honours itself (not refused here).

    **Returns:** the `CompiledNetwork`, one per model content (a model loaded again from the same file gets the
    same one, so the programs compiled for it are reused) and 64-bit setting.
    """
    if exact is not None:
        refusals = model.refusals(method_exact=exact, accepts=accepts)
        if refusals:
            shown = "; ".join(u.message() for u in refusals[:3])
            more = f" (and {len(refusals) - 3} more)" if len(refusals) > 3 else ""
            raise UnsupportedSBMLFeatureError(f"{model.source}: {shown}{more}")
    return _compile_cached(model, jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64)
