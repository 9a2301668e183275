"""The particle filter on models with SBML events, against the exact likelihood.

Each particle carries its trigger values and event-assigned parameters across observation times
(`sbmljax._likelihood.bootstrap`). The exact log-likelihood comes from the forward algorithm over the full
state space, as in `test_likelihood.py`, with the event in it:

- a time-triggered event (`time >= 4.5`, between observation times, switches the immigration rate): the
  distribution is propagated with one generator up to 4.5 and with the other after it;
- a state-triggered event (`X >= 15` resets X to 5): the process lives on 0..14 and a birth from 14 lands
  on 5 (the event executes at the instant of the birth);
- a time-triggered event at an observation time (`time >= 4` adds 10 molecules): the observation at 4 sees
  the state after the event (as `simulate` records it), and the event must not fire again when the filter
  continues its particles from 4.

Tolerances as in `test_likelihood.py`: `value + stderr²/2` (the log of an unbiased estimate is biased low by
about `Var/2`, Pitt et al. 2012) within 3 standard errors of the exact value (8 replicate filters of 1,000
particles); the gradient within 3 standard errors plus 5% of its size of central finite differences of the
forward algorithm.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import load, master_equation_step, sbml_model
from scipy.stats import norm

import sbmljax
from sbmljax._likelihood import ParticleLikelihood
from sbmljax._likelihood.api import as_likelihood_problem
from sbmljax.data import Dataset, Observable
from sbmljax.errors import EstimatorError, SimulationError, UnsupportedSBMLFeatureError

TIMES = np.arange(1.0, 9.0)
X_MAX = 80
X0 = 5
SD = 2.0
SWITCH_T, SWITCH_F = 4.5, 0.3
RESET_AT, RESET_TO = 15, 5
BUMP_T, BUMP = 4.0, 10


def _mathml(formula: str) -> str:
    import libsbml

    text = libsbml.writeMathMLToString(libsbml.parseL3Formula(formula))
    return text[text.index("<math") :]


def _event(eid: str, trigger: str, assignments: list[tuple[str, str]], initial_value: bool = False) -> str:
    body = "".join(f'<eventAssignment variable="{v}">{_mathml(e)}</eventAssignment>' for v, e in assignments)
    return (
        f'<event id="{eid}" useValuesFromTriggerTime="true"><trigger initialValue="{str(initial_value).lower()}" '
        f'persistent="true">{_mathml(trigger)}</trigger><listOfEventAssignments>{body}</listOfEventAssignments></event>'
    )


def _model(event: str, extra_params: dict[str, float] | None = None, variable: tuple[str, ...] = ()) -> sbmljax.Model:
    """Immigration–death (0 → X at `k1 f`, X → 0 at `k2 X`) with one event; `variable` parameters are
    non-constant (an event assigns them)."""
    params = {"k1": 10.0, "k2": 1.0, "f": 1.0, **(extra_params or {})}
    text = sbml_model(
        {"X": X0},
        params,
        [("birth", "0 -> X", "k1*f"), ("death", "X -> 0", "k2*X")],
        extra=f"<listOfEvents>{event}</listOfEvents>",
    )
    for v in variable:
        text = text.replace(
            f'<parameter id="{v}" value="{params[v]}" constant="true"/>',
            f'<parameter id="{v}" value="{params[v]}" constant="false"/>',
        )
    return load(text)


def switch_model():
    return _model(_event("switch", f"time >= {SWITCH_T}", [("f", str(SWITCH_F))]), variable=("f",))


def reset_model():
    return _model(_event("reset", f"X >= {RESET_AT}", [("X", str(RESET_TO))]))


def bump_model():
    return _model(_event("bump", f"time >= {BUMP_T}", [("X", f"X + {BUMP}")]))


def generator(birth: float, k2: float, top: int = X_MAX, jump_from_top: int | None = None) -> sp.csr_matrix:
    """Immigration–death generator on 0..top; a birth from `top` goes to `jump_from_top` if given (the
    reset event), else births stop at `top` (truncation far in the tail)."""
    n = np.arange(top + 1)
    up = np.where(n < top, birth, 0.0)
    down = k2 * n
    Q = sp.diags([up[:-1], down[1:]], [1, -1], shape=(top + 1, top + 1)).tolil()
    diag = -(up + down)
    if jump_from_top is not None:
        Q[top, jump_from_top] += birth
        diag[top] -= birth
    Q.setdiag(diag)
    return Q.tocsr()


def forward(p0: np.ndarray, y: np.ndarray, Q0: sp.csr_matrix, switch=None) -> float:
    """Exact log p(y_1..y_T): `Q0` the generator, `switch = (t_s, Q1, move)` a time event at `t_s` after which
    the generator is `Q1` and at which the distribution is mapped by `move` (a function; applied before the
    observation when `t_s` is an observation time, as the simulator records the state after the event)."""
    n = np.arange(p0.size)
    p, t, ll, step = p0.copy(), 0.0, 0.0, master_equation_step(Q0)
    for k, tk in enumerate(TIMES):
        if switch is not None and t < switch[0] <= tk:
            p = step(p, switch[0] - t)
            p, t, step = switch[2](p), switch[0], master_equation_step(switch[1])
        p = step(p, tk - t)
        p = p * norm.pdf(y[k], n, SD)
        z = p.sum()
        ll += math.log(z)
        p /= z
        t = tk
    return ll


def _p0(size: int) -> np.ndarray:
    p0 = np.zeros(size)
    p0[X0] = 1.0
    return p0


def switch_exact(k1: float, k2: float, y: np.ndarray) -> float:
    return forward(_p0(X_MAX + 1), y, generator(k1, k2), (SWITCH_T, generator(k1 * SWITCH_F, k2), lambda p: p))


def reset_exact(k1: float, k2: float, y: np.ndarray) -> float:
    return forward(_p0(RESET_AT), y, generator(k1, k2, RESET_AT - 1, RESET_TO))


def _shift(p: np.ndarray) -> np.ndarray:
    out = np.zeros_like(p)
    out[BUMP:] = p[:-BUMP]
    assert p[-BUMP:].sum() < 1e-12  # nothing is lost off the truncated top
    return out


def bump_exact(k1: float, k2: float, y: np.ndarray) -> float:
    return forward(_p0(X_MAX + 1), y, generator(k1, k2), (BUMP_T, generator(k1, k2), _shift))


def _data(model, seed: int):
    x = sbmljax.simulate(model, TIMES, seed=seed).counts[0, :, 0]
    y = x + np.random.default_rng(seed).normal(0.0, SD, TIMES.size)
    return Dataset("events", TIMES, (Observable.parse("X", "X", SD),), y[:, None]), y


def _filter(model, ds, **kw) -> ParticleLikelihood:
    problem, values, names = as_likelihood_problem(model, ds, {"k1": 10.0, "k2": 1.0}, None)
    return ParticleLikelihood(problem, names, values, n_particles=1000, replicates=8, **kw)


def _fd(f, x: np.ndarray, rel: float = 1e-4) -> np.ndarray:
    g = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = rel * abs(x[j])
        g[j] = (f(x + e) - f(x - e)) / (2 * e[j])
    return g


def _check(res, exact_value: float, exact_grad: np.ndarray | None) -> None:
    z = (res.value + res.stderr**2 / 2 - exact_value) / res.stderr
    assert abs(z) < 3, (res.value, res.stderr, exact_value)
    if exact_grad is not None:
        grad = np.array(list(res.grad.values()))
        se = np.array(list(res.grad_stderr.values()))
        assert np.all(np.abs(grad - exact_grad) < 3 * se + 0.05 * np.abs(exact_grad)), (grad, se, exact_grad)


CASES = {
    "switch": (switch_model, switch_exact, 11),
    "reset": (reset_model, reset_exact, 3),
    "bump": (bump_model, bump_exact, 7),
}
POINTS = [(10.0, 1.0), (6.0, 0.8), (14.0, 1.5)]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, exact, seed = CASES[request.param]
    m = make()
    ds, y = _data(m, seed)
    return request.param, m, ds, y, exact, _filter(m, ds)


@pytest.mark.parametrize(
    "k1, k2",
    [POINTS[0], pytest.param(*POINTS[1], marks=pytest.mark.slow), pytest.param(*POINTS[2], marks=pytest.mark.slow)],
)
def test_value_and_gradient_match_the_forward_algorithm_with_the_event(case, k1, k2) -> None:
    _, _, _, y, exact, pl = case
    res = pl.evaluate({"k1": k1, "k2": k2}, seed=1, grad=True)
    grad = _fd(lambda th: exact(th[0], th[1], y), np.array([k1, k2]))
    _check(res, exact(k1, k2, y), grad)


def test_the_exact_references_tell_the_event_apart() -> None:
    """The forward algorithm with the event differs from it without (and, at an observation time, from the event
    applied twice) by far more than the filter's standard errors (~0.05: 3 SE is 0.15), so the value test above
    is decisive. (Either sign: this data set's y(4) = 27.2 happens to sit nearer a double bump's mean.)"""
    ds, y = _data(bump_model(), 7)
    once = bump_exact(10.0, 1.0, y)
    twice = forward(
        _p0(X_MAX + 1), y, generator(10.0, 1.0), (BUMP_T, generator(10.0, 1.0), lambda p: _shift(_shift(p)))
    )
    never = forward(_p0(X_MAX + 1), y, generator(10.0, 1.0))
    assert abs(once - twice) > 1.5 and abs(once - never) > 1.5, (once, twice, never)
    _, y_s = _data(switch_model(), 11)
    assert abs(switch_exact(10.0, 1.0, y_s) - forward(_p0(X_MAX + 1), y_s, generator(10.0, 1.0))) > 1.5


def test_an_event_at_an_observation_time_fires_once() -> None:
    """The particles at t = 4 (after the bump) and at 5 have the filtering means of the exact filter: the
    bump is applied once, not again when the filter continues from 4."""
    m = bump_model()
    ds, y = _data(m, 7)
    pl = _filter(m, ds)
    series = pl.filtered(seed=0)[0]
    p, t, step = _p0(X_MAX + 1), 0.0, master_equation_step(generator(10.0, 1.0))
    n = np.arange(X_MAX + 1)
    for k, tk in enumerate(TIMES):
        p = step(p, tk - t)
        if tk == BUMP_T:
            p = _shift(p)
        p = p * norm.pdf(y[k], n, SD)
        p /= p.sum()
        t = tk
        mean, sd = float(p @ n), math.sqrt(float(p @ n**2) - float(p @ n) ** 2)
        # one filter of 1,000 particles: its weighted mean within 5 SE (ESS ≥ 100 after weighting)
        assert abs(series.mean[k, 0] - mean) < 5 * sd / math.sqrt(100), (tk, series.mean[k, 0], mean)


def test_events_refusals_name_the_event() -> None:
    # an event whose trigger reads a differentiated parameter: no path-score gradient (the value is fine)
    m = _model(_event("switch", "time >= t_on", [("f", str(SWITCH_F))]), {"t_on": SWITCH_T}, variable=("f",))
    ds, y = _data(m, 11)
    problem, values, names = as_likelihood_problem(m, ds, {"k1": 10.0, "t_on": SWITCH_T}, None)
    pl = ParticleLikelihood(problem, names, values, n_particles=200, replicates=2)
    with pytest.raises(EstimatorError, match="event 'switch'.*t_on"):
        pl.evaluate(seed=0, grad=True)
    res = pl.evaluate(seed=0)
    assert abs(res.value - switch_exact(10.0, 1.0, y)) < 1.0
    # an event assigning a differentiated parameter
    m2 = _model(_event("cut", f"time >= {SWITCH_T}", [("k1", "3")]), variable=("k1",))
    ds2, _ = _data(m2, 11)
    with pytest.raises(EstimatorError, match="event 'cut'.*k1"):
        _filter(m2, ds2).evaluate(seed=0, grad=True)
    # IF2 cannot perturb a parameter an event assigns
    with pytest.raises(UnsupportedSBMLFeatureError, match="event 'cut'.*k1"):
        sbmljax.if2(m2, ds2, {"k1": 10.0}, seed=0, n_particles=50, iterations=1, evaluate=False)
    # the hybrid method's continuous state is not carried across observation times
    with pytest.raises(UnsupportedSBMLFeatureError, match="event 'switch'.*hybrid"):
        _filter(switch_model(), ds, method="hybrid")


def test_a_failing_particle_reports_its_event_assigned_parameters() -> None:
    """At t = 4.5 an event sets f = −1, so the birth propensity k1·f turns negative: the error names that
    propensity (−10, computed with the particle's own parameters) and the value the event gave f, not the
    evaluated f = 1 (with which the propensity would be +10 and nothing would look wrong)."""
    m = _model(_event("flip", f"time >= {SWITCH_T}", [("f", "-1")]), variable=("f",))
    ds, _ = _data(switch_model(), 11)
    problem, values, names = as_likelihood_problem(m, ds, {"k1": 10.0, "k2": 1.0}, None)
    pl = ParticleLikelihood(problem, names, values, n_particles=20, replicates=1)
    with pytest.raises(SimulationError) as info:
        pl.evaluate(seed=0)
    text = str(info.value)
    assert "interval t=4..5" in text and "reaction 'birth' has a negative propensity (-10) at t=4.5" in text, text
    assert "event-assigned parameters: f = -1" in text, text
    assert info.value.reaction == "birth" and info.value.time == SWITCH_T


def test_if2_with_a_time_event_reaches_the_exact_maximum() -> None:
    """IF2 on the switch model (events carried per particle, parameters perturbed) from 2.5× off both rates
    ends within 1 log-likelihood unit of the exact maximum. (This data set's likelihood rises slowly along the
    ridge k1/k2 ≈ 9 towards large rates: Nelder–Mead stops near k1 = 544, k2 = 61 at −19.69; IF2 ends near
    k1 = 29, k2 = 3.3 at −19.98. The exact reference costs the same at any rate, see `forward`.)"""
    from scipy.optimize import minimize

    m = switch_model()
    ds, y = _data(m, 11)
    best = minimize(lambda th: -switch_exact(*np.exp(th), y), np.log([10.0, 1.0]), method="Nelder-Mead")
    res = sbmljax.if2(m, ds, {"k1": 25.0, "k2": 0.4}, seed=0, n_particles=500, iterations=40, rw_sd=0.05, replicates=4)
    reached = switch_exact(res.params["k1"], res.params["k2"], y)
    assert reached > -best.fun - 1.0, (res.params, np.exp(best.x), reached, -best.fun)
