"""Check one SBML file for `sbmljax check`: does it load, and which simulation can honour it?

The verdicts, from best to worst:

- `exact`: an exact SSA accepts the model (`method="direct"`, or `method="extrande"` when propensities
  depend on time), the mean-field estimate of reaction events over the horizon is within budget, and
  (unless disabled) a short one-trajectory run succeeds.
- `tau_leap_only`: the model loads and compiles, but exact simulation is impractical (too many events or
  molecules) or refused by a construct only exact methods cannot honour (e.g. a time-dependent propensity
  extrande cannot bound).
- `refused`: a construct no sbmljax simulator supports (rate/algebraic rules, delays, the `distrib` package…),
  or initial values that are not molecule counts at all (e.g. dimensionless concentrations of order one).
- `error`: the file does not load (not SBML, malformed, inconsistent), or the check itself failed.

Besides the verdict, each row says which simulator `method="auto"` would choose for the horizon and budget
(`auto_method`: `direct`, `extrande`, `hybrid`, or `refused`) and how a one-trajectory run of it went
(`auto_run`: `ran …`, `failed: …`, `not run …`, or `timed out …` when the time limit struck during that run,
which then keeps the verdict).

This module runs inside a worker process (see `_check_pool`); it never raises for a bad model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import Finding, initial_counts, time_dependent_propensities
from ._ensemble import DEFAULT_MAX_EVENTS
from ._model import Model, Unsupported
from .errors import (
    InfeasibleSimulationError,
    InitialStateError,
    ParameterError,
    SbmlJaxError,
    SimulationError,
    UnsupportedSBMLFeatureError,
)

VERDICTS = ("exact", "tau_leap_only", "refused", "error")
COLUMNS = (
    "file",
    "model_id",
    "sbml",
    "species",
    "reactions",
    "time_units",
    "loads",
    "verdict",
    "refused_constructs",
    "reason",
    "auto_method",
    "auto_run",
    "max_initial_count",
    "estimated_events",
    "seconds",
)
NOT_COUNTS_TOLERANCE = 0.01
"""Non-integer initial counts that rounding changes by more than this fraction are not molecule counts."""

Report = Callable[[str, dict], None]

_PREPARE_REFUSALS = {
    UnsupportedSBMLFeatureError: "unsupported construct (see reason)",
    InitialStateError: "initial state",
    ParameterError: "parameters",
    SimulationError: "initial propensities",
}


@dataclasses.dataclass(frozen=True)
class CheckSettings:
    """What a check runs: the horizon, the exact-simulation budget and the confirmation run."""

    t_end: float = 100.0
    max_events: float = DEFAULT_MAX_EVENTS / 100  # an ensemble of 100 fits simulate()'s default budget
    confirm_steps: int = 100_000
    substance_units: str = "auto"
    system_size: float | None = None


def blank_row(path: str) -> dict[str, Any]:
    """A row with only the file set: what is known before the model loads."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(file=path, loads=False, refused_constructs="", reason="")
    return row


def one_line(text: object, source: str | None = None) -> str:
    """An error message as one line, without the leading `path: ` (the table has a file column)."""
    text = " ".join(str(text).split())
    if source and text.startswith(f"{source}: "):
        text = text[len(source) + 2 :]
    return text


def check_model(path: str, settings: CheckSettings, report: Report | None = None) -> dict[str, Any]:
    """Check one file and return its row (see `COLUMNS`). Every failure becomes the row's verdict.

    `report(stage, row)` is called as the check progresses, so a caller that has to kill a slow check
    still knows what was found and where it stopped.
    """
    import jax

    from .sbml import load_sbml

    row = blank_row(path)
    report = report or (lambda stage, row: None)
    report("while loading the file", dict(row))
    try:
        model = load_sbml(path, substance_units=settings.substance_units, system_size=settings.system_size)  # type: ignore[arg-type]
    except SbmlJaxError as e:
        root = _root_element(path)
        if root is not None and root != "sbml":  # libsbml's schema message would not say this plainly
            return _verdict(row, "error", f"not an SBML document: the root element is <{root}>, not <sbml>")
        return _verdict(row, "error", one_line(e, str(Path(path))))
    except Exception as e:  # libsbml or the file system failing in a way load_sbml does not anticipate
        return _verdict(row, "error", f"could not be read ({type(e).__name__}: {one_line(e)})")
    row.update(
        model_id=model.id,
        sbml=f"L{model.level}V{model.version}",
        species=len(model.species),
        reactions=len(model.reactions),
        time_units=model.time_units,
        loads=True,
    )
    report("while analysing the model", dict(row))
    try:
        with jax.enable_x64(True):
            row = _classify(model, row, settings, report)
            return _auto(model, row, settings, report)
    except SbmlJaxError as e:  # e.g. a NetworkError found while compiling: the model is inconsistent
        return _verdict(row, "error", one_line(e, model.source))
    except Exception as e:
        reason = f"internal error in sbmljax ({type(e).__name__}: {one_line(e)}); please report it"
        return _verdict(row, "error", reason)


def _verdict(row: dict, verdict: str, reason: str, constructs: list[str] | None = None) -> dict:
    row.update(verdict=verdict, reason=reason)
    if constructs:
        row["refused_constructs"] = "; ".join(dict.fromkeys(constructs))
    return row


def _refusal_reason(refusals: list[Unsupported]) -> str:
    more = f" (and {len(refusals) - 1} more, see refused_constructs)" if len(refusals) > 1 else ""
    return one_line(refusals[0].message()) + more


def _classify(model: Model, row: dict, settings: CheckSettings, report: Report) -> dict:
    from ._compile._events import event_refusals
    from ._compile._network import compile_network

    refused = list(model.refusals(method_exact=False))
    exact_only = [u for u in model.unsupported if u.scope == "exact"]
    try:
        net = compile_network(model)
    except SbmlJaxError:
        if refused:  # the refused constructs explain why it does not compile
            return _verdict(row, "refused", _refusal_reason(refused), [u.element for u in refused + exact_only])
        raise
    # The same rule as `prepare`: an event trigger reading a time-dependent assignment rule is refused.
    time_rules = net.time_dependent_rules
    refused += event_refusals(model, time_rules)
    try:
        x_init, p = net.initial_state(net.p_default, 0.0)
    except (KeyError, SbmlJaxError):
        # A refused construct can leave the initial state undefined (a rule reading a reaction's rate reads a
        # symbol the network does not have): the refusal is the answer, not the failure it causes.
        if refused:
            return _verdict(row, "refused", _refusal_reason(refused), [u.element for u in refused + exact_only])
        raise
    x0 = np.asarray(x_init, dtype=np.float64)
    finite = x0[np.isfinite(x0)]
    row["max_initial_count"] = float(finite.max()) if finite.size else math.nan
    refused += _initial_value_refusals(model, net, x0)
    if refused:
        return _verdict(row, "refused", _refusal_reason(refused), [u.element for u in refused + exact_only])

    # Time-dependent propensities: extrande simulates them exactly where it can bound them (its prepare says).
    method = "extrande" if time_dependent_propensities(net) else "direct"
    events = _estimate_events(net, x0, p, settings.t_end)
    row["estimated_events"] = events
    budget = (
        f"about {events:.2g} reaction events per trajectory over t=0..{settings.t_end:g} {model.time_units} "
        f"(mean-field estimate), over the exact-simulation budget of {settings.max_events:.2g}"
    )
    if exact_only:
        reason = _refusal_reason(exact_only) + (f"; also {budget}" if events > settings.max_events else "")
        return _verdict(row, "tau_leap_only", reason, [u.element for u in exact_only])
    return _prepare_and_confirm(model, row, settings, report, events, budget, method)


def _prepare_and_confirm(
    model: Model, row: dict, settings: CheckSettings, report: Report, events: float, budget: str, method: str
) -> dict:
    from ._ensemble import prepare

    src = model.source
    t_eval = np.array([0.0, settings.t_end])
    try:
        # Events are judged here against the check's own budget, so prepare's is lifted.
        prep = prepare(model, t_eval, method=method, n_trajectories=1, max_events=math.inf)
    except InfeasibleSimulationError as e:  # more molecules than float64 counts exactly
        return _verdict(row, "tau_leap_only", one_line(e, src))
    except UnsupportedSBMLFeatureError as e:
        if e.construct == "time_dependent_propensity":  # extrande cannot bound it; tau-leaping runs it
            return _verdict(row, "tau_leap_only", one_line(e, src), [e.element or "time-dependent propensity"])
        return _verdict(row, "refused", one_line(e, src), [e.element or _PREPARE_REFUSALS[type(e)]])
    except (InitialStateError, ParameterError, SimulationError) as e:
        # What the structural checks above did not anticipate; prepare is the authority.
        return _verdict(row, "refused", one_line(e, src), [e.element or _PREPARE_REFUSALS[type(e)]])
    if events > settings.max_events:
        return _verdict(row, "tau_leap_only", budget + "; use tau-leaping or a shorter horizon")
    if settings.confirm_steps <= 0:
        return _verdict(row, "exact", f"accepted by the exact SSA ({method}); about {events:.2g} events per trajectory")
    report("during the confirmation run (the checks before it passed)", {**row, "verdict": "exact"})
    return _confirm(prep, row, settings)


def _run_one(prep, settings: CheckSettings) -> tuple[bool, str, int, str | None, float]:
    """One real trajectory of `prep`, up to `confirm_steps` steps: `(ok, what happened, status, element, reaction
    events over the horizon)` (NaN after a failure); a run stopped by the step limit is ok when its pace projects
    to within the event budget."""
    from ._ensemble import raise_failures, run_ensemble, trajectory_keys
    from ._results import RESULTS, status_code

    sol = run_ensemble(prep, trajectory_keys(0, 1), max_steps=settings.confirm_steps, chunk=1)
    status, t, fired = int(sol.status[0]), float(sol.t[0]), int(sol.firings[0])
    if status == status_code(RESULTS.successful):
        return True, f"reached t={settings.t_end:g} after {fired} reaction events", status, None, float(fired)
    if status == status_code(RESULTS.max_steps_reached):
        # The run stopped at its step limit: its pace says how many events the whole horizon takes, which can be
        # far above the mean-field estimate (a model whose fast reactions start at zero propensity).
        projected = fired * settings.t_end / t if t > 0 else math.inf
        pace = (
            f"took {settings.confirm_steps} steps ({fired} reaction events) without error, up to t={t:.3g} of "
            f"{settings.t_end:g}; at that pace about {projected:.2g} reaction events per trajectory"
        )
        return projected <= settings.max_events, pace, status, None, projected
    try:
        raise_failures(prep, sol, settings.confirm_steps)
    except SimulationError as e:
        return False, one_line(e, prep.model.source), status, e.element, math.nan
    return False, "the run failed", status, None, math.nan  # pragma: no cover (raise_failures raises for every failure)


def _confirm(prep, row: dict, settings: CheckSettings) -> dict:
    """One real trajectory with the exact SSA, up to `confirm_steps` steps."""
    from ._results import RESULTS, status_code

    ok, what, status, element, events = _run_one(prep, settings)
    stopped = status == status_code(RESULTS.max_steps_reached)  # by the step limit: judged by its pace
    row["_confirmed"] = (prep.sim.name, what if ok or stopped else f"failed: {what}")
    budget = f"the exact-simulation budget of {settings.max_events:.2g}"
    if ok:
        within = f", within {budget}" if stopped else ""
        return _verdict(row, "exact", f"a confirmation run ({prep.sim.name}) {what}{within}")
    if stopped:  # too slow for the budget, not a failure; its pace can exceed the mean-field estimate
        row["estimated_events"] = max(float(row["estimated_events"] or 0.0), events)
        return _verdict(row, "tau_leap_only", f"a confirmation run ({prep.sim.name}) {what}, over {budget}")
    if status == status_code(RESULTS.non_integer_count):
        return _verdict(row, "tau_leap_only", what, ["event assignment (non-integer count)"])
    return _verdict(row, "refused", what, [element or "run-time failure"])


def _auto(model: Model, row: dict, settings: CheckSettings, report: Report) -> dict:
    """Fill `auto_method` (what `method="auto"` chooses for this horizon and budget) and `auto_run` (how a
    one-trajectory run of it went; the confirmation run's result when that was the same simulator)."""
    from ._ensemble import prepare

    confirmed = row.pop("_confirmed", None)
    try:
        prep = prepare(
            model, np.array([0.0, settings.t_end]), method="auto", n_trajectories=1, max_events=settings.max_events
        )
    except SbmlJaxError as e:
        row.update(auto_method="refused", auto_run=f"not run: {one_line(e, model.source)}")
        return row
    row["auto_method"] = prep.sim.name
    if confirmed is not None and confirmed[0] == prep.sim.name:
        row["auto_run"] = ("ran: " if not confirmed[1].startswith("failed") else "") + confirmed[1]
        return row
    if settings.confirm_steps <= 0:
        row["auto_run"] = "not run (confirm_steps=0)"
        return row
    report(f"during the one-trajectory run of method 'auto' ({prep.sim.name})", dict(row))
    ok, what, _, _, _ = _run_one(prep, settings)
    row["auto_run"] = f"ran: {what}" if ok else f"failed: {what}"
    return row


def _unsupported(f: Finding) -> Unsupported:
    return Unsupported(f.element, f.text, f.scope)


def _initial_value_refusals(model: Model, net, x0: np.ndarray) -> list[Unsupported]:
    """Initial values no simulator can start from (`_checks.initial_counts`, the rule `prepare` applies),
    with non-integer values far from any integer reported together as not molecule counts at all."""
    findings, _ = initial_counts(model, net, x0.copy(), exact=False)
    not_counts: list[tuple[str, float]] = []
    out: list[Unsupported] = []  # non-finite and negative values first, near-integer counts last
    near: list[Unsupported] = []
    for f in findings:
        if f.construct != "non_integer_counts":
            out.append(_unsupported(f))
            continue
        sid = f.species
        assert sid is not None  # a non_integer_counts finding names its species
        v = float(x0[net.plan.species_index[sid]])
        if abs(v - round(v)) > NOT_COUNTS_TOLERANCE * max(v, 1.0):
            not_counts.append((sid, v))
        else:
            near.append(_unsupported(f))
    if not_counts:
        more = f" and {len(not_counts) - 3} more" if len(not_counts) > 3 else ""
        names = ", ".join(f"'{sid}'" for sid, _ in not_counts[:3]) + more
        values = ", ".join(f"{sid} = {v:.3g}" for sid, v in not_counts[:3])
        out.append(
            Unsupported(
                f"initial values of species {names}",
                f"they are not molecule counts ({values}): the model's quantities look like concentrations or "
                "dimensionless levels, which a stochastic simulation cannot count; give a system size "
                "(system_size=Ω or --system-size Ω: molecules per unit) or rescale them to molecule numbers (declare substance units "
                "and a compartment volume)",
            )
        )
    return out + near


def _estimate_events(net, x0: np.ndarray, p, t_end: float) -> float:
    """Reaction events per trajectory over `[0, t_end]`, as `prepare` estimates them."""
    import jax.numpy as jnp

    from ._feasibility import expected_events

    if not net.channel_ids:
        return 0.0
    x = jnp.asarray(x0)
    a = np.asarray(net.propensities(x, p, jnp.asarray(0.0)))
    a0 = float(np.sum(np.where(np.isfinite(a) & (a > 0), a, 0.0)))
    return max(a0 * t_end, expected_events(net, x, p, 0.0, t_end))


def _root_element(path: str) -> str | None:
    """The local name of the document's root element, or `None` if the XML does not parse that far."""
    import xml.etree.ElementTree as ET

    try:
        for _, elem in ET.iterparse(path, events=("start",)):
            return elem.tag.rsplit("}", 1)[-1]
    except (ET.ParseError, OSError, UnicodeDecodeError):
        return None
    return None
