"""The hybrid method's state events on discrete species, against the exact methods (issue 13).

A trigger that reads only discrete species is constant during an ODE solve (their counts change at jumps only):
the loop evaluates it after each jump, as in the exact methods, so the hybrid law must be the exact one.
Statistical checks use fixed seeds and the SBML stochastic test suite's bounds, for two samples: means within
|Z| < 3 (Z the difference of the sample means in standard errors of the difference), variances within |Y| < 5
(Y the difference of the sample variances in its standard errors, `sqrt(Σ (m₄ − s⁴)/n)` with `m₄` the sample's
fourth central moment: the suite's `sqrt(2/n)` assumes a normal law, and a switch that some trajectories have
passed and others not makes the law bimodal, its variance's spread several times the normal one).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import sbml_model
from test_hybrid import _events, _rules

import sbmljax

Z_MAX = 3.0
Y_MAX = 5.0
N = 2000

DISCRETE = {"fast_propensity": float("inf")}
"""The default partition's fast-channel rule off (`X`'s births fire more than 1000 times over these spans): `X` stays
below `continuous_above`, discrete, and its law is the exact one."""

SWITCH = _events(("e", "X > 40", [("k", "2")]))
"""The event of the issue's report: when X first exceeds 40, the birth rate constant k becomes 2."""


def _variable(text: str, *ids: str) -> str:
    """`text` with the parameters `ids` made non-constant (an event or a rate rule sets them)."""
    for i in ids:
        head = f'<parameter id="{i}" '
        start = text.index(head)
        end = text.index("/>", start)
        text = text[:start] + text[start:end].replace('constant="true"', 'constant="false"') + text[end:]
    return text


def _rate_rule_model() -> sbmljax.Model:
    """0 → X at k·q, X → 0 at 0.1 X, q' = −0.05 q (a rate rule), and the switch on X: the issue's report."""
    reactions = [("b", "0 -> X", "k*q"), ("d", "X -> 0", "0.1*X")]
    extra = _rules(("q", "-0.05*q")) + SWITCH
    return sbmljax.load_sbml(_variable(sbml_model({"X": 10}, {"k": 1.0, "q": 50.0}, reactions, extra=extra), "k", "q"))


def _two_sample(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the means' Z and the variances' Y (module docstring) of samples `a`, `b` (rows: trajectories)."""
    na, nb = a.shape[0], b.shape[0]
    va, vb = a.var(0, ddof=1), b.var(0, ddof=1)
    z = (a.mean(0) - b.mean(0)) / np.sqrt(va / na + vb / nb)
    m4a, m4b = ((a - a.mean(0)) ** 4).mean(0), ((b - b.mean(0)) ** 4).mean(0)
    y = (va - vb) / np.sqrt((m4a - va**2) / na + (m4b - vb**2) / nb)
    return z, y


def test_a_trigger_on_a_discrete_species_at_its_threshold_does_not_stop_the_solve() -> None:
    # X climbs one by one and sits at 40, where `X > 40` compares equal: the trigger's root function was constant
    # (X does not move during the solve), the solve's minimum of it and the jump's function flat there, and the
    # root finder's Newton iterations stalled: "ODE solver failed" at X = 40, t ≈ 0.5, in every trajectory.
    t = np.array([0.0, 1.0, 10.0, 50.0])
    tr = sbmljax.simulate(_rate_rule_model(), t, n_trajectories=8, seed=0, method="hybrid", **DISCRETE)
    x = tr.counts[:, :, 0]
    assert np.all(x == np.round(x)), "X stays discrete (below continuous_above)"
    # The switch fired in every trajectory (X passes 40 by t = 1): the mean at t = 50 is about 146 with k = 2
    # (about 73 had it stayed 1).
    assert np.all(x[:, 1] > 40) and 100 < x[:, 3].mean() < 200, x


@pytest.mark.slow
def test_a_discrete_species_event_samples_the_exact_law() -> None:
    # Birth–death 0 → X (k = 20), X → 0 (0.5 X); at X > 40 the birth constant drops to 2. X stays below the
    # default partition's `continuous_above` (1000), so it is discrete and every step is the direct method's
    # with the trigger evaluated after each jump: the same law as `direct`.
    reactions = [("b", "0 -> X", "k"), ("d", "X -> 0", "0.5*X")]
    m = sbmljax.load_sbml(_variable(sbml_model({"X": 10}, {"k": 20.0}, reactions, extra=SWITCH), "k"))
    t = np.array([0.0, 2.0, 5.0, 10.0, 20.0])
    exact = sbmljax.simulate(m, t, n_trajectories=N, seed=3, method="direct").counts[:, 1:, 0]
    hyb = sbmljax.simulate(m, t, n_trajectories=N, seed=4, method="hybrid", **DISCRETE).counts[:, 1:, 0]
    z, y = _two_sample(hyb, exact)
    assert np.all(np.abs(z) < Z_MAX) and np.all(np.abs(y) < Y_MAX), (z, y)


@pytest.mark.slow
def test_a_rate_rule_model_with_a_discrete_species_event_samples_the_exact_law() -> None:
    # The issue's report against extrande: q' = −0.05 q from 50 is q(t) = 50 e^{−0.05 t}, so the birth
    # propensity k·q is the time-dependent k·50·e^{−0.05 t}, which extrande samples exactly. The hybrid method
    # integrates q in its ODE, and X (below 1000) stays discrete.
    t = np.array([0.0, 2.0, 5.0, 10.0, 20.0])
    reactions = [("b", "0 -> X", "k*50*exp(-0.05*time)"), ("d", "X -> 0", "0.1*X")]
    timed = sbmljax.load_sbml(_variable(sbml_model({"X": 10}, {"k": 1.0}, reactions, extra=SWITCH), "k"))
    exact = sbmljax.simulate(timed, t, n_trajectories=N, seed=3, method="extrande").counts[:, 1:, 0]
    hyb = sbmljax.simulate(_rate_rule_model(), t, n_trajectories=N, seed=4, method="hybrid", **DISCRETE)
    hyb = hyb.counts[:, 1:, 0]
    z, y = _two_sample(hyb, exact)
    assert np.all(np.abs(z) < Z_MAX) and np.all(np.abs(y) < Y_MAX), (z, y)
