"""The hybrid (piecewise-deterministic) simulator against analytic answers, the exact SSA and the ODE.

Statistical checks use fixed seeds and the SBML stochastic test suite's criterion for means (|Z| < 3, Z the
difference in standard errors); deterministic ones a relative tolerance. Each distinct model and option set
compiles once (~20 s), so the default suite keeps to a few; the larger comparisons are marked `slow`.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import birth_death_moments, sbml_model, z_scores

import sbmljax
import sbmljax.reference
from sbmljax._config import x64
from sbmljax.errors import UnsupportedSBMLFeatureError

Z_MAX = 3.0  # the SBML stochastic suite's mean criterion
ALL_DISCRETE = {"continuous_above": float("inf"), "discrete_below": float("inf"), "solver": "tsit5"}
ALL_CONTINUOUS = {"continuous_above": 0.0, "discrete_below": 0.0}


def _rules(*rules: tuple[str, str]) -> str:
    import libsbml

    out = []
    for var, formula in rules:
        text = libsbml.writeMathMLToString(libsbml.parseL3Formula(formula))
        out.append(f'<rateRule variable="{var}">{text[text.index("<math") :]}</rateRule>')
    return f"<listOfRules>{''.join(out)}</listOfRules>"


def test_every_species_discrete_is_the_exact_ssa() -> None:
    # Immigration–death: X(t) is Binomial + Poisson with known mean and variance (helpers.birth_death_moments).
    k1, k2, n = 10.0, 0.1, 2000
    m = sbmljax.load_sbml(sbml_model({"X": 5}, {"k1": k1, "k2": k2}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")]))
    t = np.array([0.0, 2.0, 5.0, 10.0, 20.0])
    tr = sbmljax.simulate(m, t, n_trajectories=n, seed=1, method="hybrid", **ALL_DISCRETE)
    x = tr.counts[:, :, 0]
    assert np.all(x == np.round(x)), "discrete species hold whole counts"
    mean, var = birth_death_moments(5, k1, k2, t)
    z = z_scores(x[:, 1:], mean[1:])
    assert np.all(np.abs(z) < Z_MAX), z
    # Variance: the suite's Y statistic, sqrt(n/2)(s²/σ² − 1), within its (−5, 5) range.
    y = np.sqrt(n / 2) * (x[:, 1:].var(axis=0, ddof=1) / var[1:] - 1)
    assert np.all(np.abs(y) < 5), y


def test_every_species_continuous_is_the_ode() -> None:
    # A nonlinear network (dimerisation with production and decay) against libRoadRunner's CVODE solution.
    m = sbmljax.load_sbml(
        sbml_model(
            {"A": 1000, "D": 0},
            {"kp": 50.0, "kf": 0.001, "kr": 0.5, "kd": 0.05},
            [
                ("p", "0 -> A", "kp"),
                ("f", "2 A -> D", "kf*A*(A-1)/2"),
                ("r", "D -> 2 A", "kr*D"),
                ("d", "D -> 0", "kd*D"),
            ],
        )
    )
    t = np.linspace(0.0, 40.0, 9)
    tr = sbmljax.simulate(m, t, n_trajectories=2, seed=0, method="hybrid", **ALL_CONTINUOUS)
    ref = sbmljax.reference.ode(m, None, t)
    assert tr.n_events.max() == 0, "no channel fires as a jump"
    np.testing.assert_allclose(tr.counts[0], ref.values, rtol=0.01, atol=1e-6)
    np.testing.assert_allclose(tr.counts[0], tr.counts[1])


def test_inhomogeneous_poisson_count_mean_is_the_integrated_rate() -> None:
    # 0 -> X with propensity a(t) = k (1 + sin(w t)): X(t) ~ Poisson(∫a), whatever the partition (X stays
    # discrete: it never reaches continuous_above).
    k, w, n = 3.0, 0.7, 2000
    m = sbmljax.load_sbml(sbml_model({"X": 0}, {"k": k, "w": w}, [("b", "0 -> X", "k*(1 + sin(w*time))")]))
    t = np.array([0.0, 1.0, 3.0, 6.0, 10.0])
    with pytest.raises(UnsupportedSBMLFeatureError, match="depends on time"):
        sbmljax.simulate(m, t, n_trajectories=4, seed=0)  # the exact methods still refuse it
    tr = sbmljax.simulate(m, t, n_trajectories=n, seed=2, method="hybrid", solver="tsit5")
    integral = k * (t + (1 - np.cos(w * t)) / w)
    x = tr.counts[:, :, 0]
    z = z_scores(x[:, 1:], integral[1:])
    assert np.all(np.abs(z) < Z_MAX), z
    y = np.sqrt(n / 2) * (x[:, 1:].var(axis=0, ddof=1) / integral[1:] - 1)
    assert np.all(np.abs(y) < 5), y


def test_rate_rules_against_the_analytic_solution() -> None:
    # dY/dt = -kd·Y (a species), dr/dt = s (a parameter), and 0 -> X fires at c·Y + r: the rate rules are
    # continuous variables, X counts the jumps of a process whose rate they drive.
    # E[X(t)] = c·Y0·(1 − e^{−kd t})/kd + s t²/2.
    y0, cy, kd, s, n = 50.5, 0.2, 0.5, 1.0, 2000
    text = sbml_model(
        {"X": 0, "Y": y0},
        {"cy": cy, "kd": kd, "s": s},
        [("b", "0 -> X", "cy*Y + r")],
        extra=_rules(("Y", "-kd*Y"), ("r", "s")),
    ).replace("</listOfParameters>", '<parameter id="r" value="0" constant="false"/></listOfParameters>')
    m = sbmljax.load_sbml(text)
    t = np.array([0.0, 1.0, 2.0, 4.0])
    with pytest.raises(UnsupportedSBMLFeatureError, match="rateRule 'Y'"):
        sbmljax.simulate(m, t, n_trajectories=4, seed=0)
    tr = sbmljax.simulate(m, t, n_trajectories=n, seed=3, method="hybrid", solver="tsit5")
    np.testing.assert_allclose(tr.counts[:, :, 1], np.broadcast_to(y0 * np.exp(-kd * t), (n, t.size)), rtol=1e-5)
    mean_x = cy * y0 * (1 - np.exp(-kd * t)) / kd + s * t**2 / 2
    z = z_scores(tr.counts[:, 1:, 0], mean_x[1:])
    assert np.all(np.abs(z) < Z_MAX), z


def test_a_model_of_rate_rules_alone_is_its_ode() -> None:
    # No reactions (7 of the 76 curated corpus files): `auto` takes the hybrid method, which solves the rate
    # rules' ODE; dY/dt = -kd·Y (a species) and dr/dt = s (a parameter) have closed forms.
    y0, kd, s = 50.5, 0.5, 2.0
    text = sbml_model({"Y": y0}, {"kd": kd, "s": s}, [], extra=_rules(("Y", "-kd*Y"), ("r", "s"))).replace(
        "</listOfParameters>", '<parameter id="r" value="0" constant="false"/></listOfParameters>'
    )
    t = np.array([0.0, 0.5, 1.0, 4.0])
    tr = sbmljax.simulate(sbmljax.load_sbml(text), t, n_trajectories=2, seed=0, method="auto")
    assert tr.method == "hybrid"
    np.testing.assert_allclose(tr.counts[:, :, 0], np.broadcast_to(y0 * np.exp(-kd * t), (2, t.size)), rtol=1e-3)


def test_a_net_reversible_rate_runs_backwards_on_continuous_species() -> None:
    # A <-> B written as one reaction with the net rate kf·A − kr·B, negative at the start (B0 large, A0 = 0):
    # the exact methods refuse it, `auto` takes the hybrid method, whose ODE runs the reaction backwards:
    # A(t) = B0·kr/(kf+kr)·(1 − e^{−(kf+kr) t}).
    b0, kf, kr = 100_000, 1.0, 0.5
    text = sbml_model({"A": 0, "B": b0}, {"kf": kf, "kr": kr}, [("r", "A -> B", "kf*A - kr*B")])
    t = np.array([0.0, 0.5, 2.0])
    tr = sbmljax.simulate(sbmljax.load_sbml(text), t, n_trajectories=2, seed=0, method="auto")
    assert tr.method == "hybrid"
    expected = b0 * kr / (kf + kr) * (1 - np.exp(-(kf + kr) * t))
    np.testing.assert_allclose(tr.counts[:, :, 0], np.broadcast_to(expected, (2, t.size)), rtol=1e-3, atol=1.0)


def _events(*events: tuple[str, str, list[tuple[str, str]]]) -> str:
    """`<listOfEvents>` of persistent events without delay: `(id, trigger, [(variable, value)])`."""
    import libsbml

    def mathml(formula: str) -> str:
        text = libsbml.writeMathMLToString(libsbml.parseL3Formula(formula))
        return text[text.index("<math") :]

    out = []
    for eid, trigger, assignments in events:
        body = "".join(f'<eventAssignment variable="{v}">{mathml(e)}</eventAssignment>' for v, e in assignments)
        out.append(
            f'<event id="{eid}" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">'
            f"{mathml(trigger)}</trigger><listOfEventAssignments>{body}</listOfEventAssignments></event>"
        )
    return f"<listOfEvents>{''.join(out)}</listOfEvents>"


def test_a_state_trigger_on_a_continuous_species_fires_at_its_crossing_time() -> None:
    # A decays continuously (A' = -k A from 10^5); the event `A < 10^4` resets A to 10^5 and counts in C. The
    # crossings are at multiples of T = ln(10)/k, so A(t) = 10^5 exp(-k (t mod T)) and C(t) = floor(t / T): the
    # solve must stop at each root (before, the hybrid method refused such triggers).
    k = 0.5
    events = _events(("e", "A < 10000", [("A", "100000"), ("C", "C + 1")]))
    m = sbmljax.load_sbml(sbml_model({"A": 1e5, "C": 0}, {"k": k}, [("d", "A -> 0", "k*A")], extra=events))
    t = np.linspace(0.0, 20.0, 41)
    tr = sbmljax.simulate(m, t, n_trajectories=2, seed=0, method="hybrid", **ALL_CONTINUOUS)
    period = np.log(10.0) / k
    np.testing.assert_array_equal(tr.counts[:, :, 1], np.broadcast_to(t // period, (2, t.size)))
    np.testing.assert_allclose(tr.counts[0, :, 0], 1e5 * np.exp(-k * (t % period)), rtol=1e-3)


def test_a_trigger_reading_a_time_dependent_rule_fires_at_its_time() -> None:
    # `s = 2 time` (an assignment rule) and the trigger `s >= 7`: the exact methods refuse it (its time is not
    # known before the run); the hybrid method locates the root at t = 3.5, where the event sets X to 100.
    import libsbml

    rule = libsbml.writeMathMLToString(libsbml.parseL3Formula("2*time"))
    rules = f'<listOfRules><assignmentRule variable="s">{rule[rule.index("<math") :]}</assignmentRule></listOfRules>'
    text = sbml_model(
        {"X": 0}, {"kd": 0.1}, [("d", "X -> 0", "kd*X")], extra=rules + _events(("e", "s >= 7", [("X", "100")]))
    )
    text = text.replace("</listOfParameters>", '<parameter id="s" value="0" constant="false"/></listOfParameters>')
    m = sbmljax.load_sbml(text)
    t = np.array([0.0, 3.0, 3.499, 3.501, 5.0])
    with pytest.raises(UnsupportedSBMLFeatureError, match="event 'e' trigger: it reads an assignment rule"):
        sbmljax.simulate(m, t, n_trajectories=2, seed=0)
    tr = sbmljax.simulate(m, t, n_trajectories=400, seed=1, method="auto")
    assert tr.method == "hybrid", tr.notes
    assert np.all(tr.counts[:, :3, 0] == 0) and np.all(tr.counts[:, 3, 0] >= 99)
    # X then decays as a pure death process: X(5) ~ Binomial(100, e^{-0.15}).
    assert abs(z_scores(tr.counts[:, 4:, 0], np.array([100 * np.exp(-0.15)]))[0]) < Z_MAX


@pytest.mark.slow
def test_large_immigration_birth_death_matches_the_exact_ssa() -> None:
    # 0 -> X at 5000/s, X -> 0 at 1/s: X passes continuous_above (1000) at t ≈ 0.2 and runs as the chemical
    # Langevin equation from then on. Means within the suite's Z (two samples) and SDs within 10% of the exact
    # SSA's (the ODE alone would lose the noise: its SD is the discrete phase's only).
    n = 2000
    m = sbmljax.load_sbml(
        sbml_model({"X": 0}, {"k1": 5000.0, "k2": 1.0}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")])
    )
    t = np.array([0.5, 1.0, 2.0])
    exact = sbmljax.simulate(m, t, n_trajectories=n, seed=4, method="direct").counts[:, :, 0]
    hyb = sbmljax.simulate(m, t, n_trajectories=n, seed=5, method="hybrid", noise="langevin", dt=0.002)
    x = hyb.counts[:, :, 0]
    assert hyb.n_events.mean() < 0.1 * n * 5000 * 2, "most reactions ran in the Langevin equation"
    z = (x.mean(0) - exact.mean(0)) / np.sqrt(x.var(0, ddof=1) / n + exact.var(0, ddof=1) / n)
    assert np.all(np.abs(z) < Z_MAX), z
    np.testing.assert_allclose(x.std(0, ddof=1), exact.std(0, ddof=1), rtol=0.10)


@x64  # prepare is a float64 internal: the public entry points run it under x64
def test_auto_is_direct_when_exact_simulation_can_run_and_hybrid_otherwise() -> None:
    from sbmljax._ensemble import prepare

    small = sbmljax.load_sbml(sbml_model({"X": 5}, {"k": 1.0}, [("d", "X -> 0", "k*X")]))
    tr = sbmljax.simulate(small, [0.0, 1.0], n_trajectories=8, seed=0, method="auto")
    assert tr.method == "direct" and tr.notes[0].startswith("method 'auto' chose 'direct'")
    # Exact simulation refused by a rate rule (extrande takes time-dependent propensities: tests/test_extrande.py).
    ruled = sbmljax.load_sbml(
        sbml_model({"X": 0}, {"k": 1.0}, [("b", "0 -> X", "k")], extra=_rules(("k", "0.1"))).replace(
            '<parameter id="k" value="1.0" constant="true"/>', '<parameter id="k" value="1.0" constant="false"/>'
        )
    )
    prep = prepare(ruled, [0.0, 10.0], method="auto")
    assert prep.sim.name == "hybrid" and "rate" in prep.notes[0], prep.notes
    assert prep.sim.fast_propensity == 100.0  # FAST_EVENTS / span
    with pytest.raises(sbmljax.errors.ConfigError, match="takes no options"):
        prepare(small, [0.0, 1.0], method="auto", tau=0.1)


@x64  # prepare is a float64 internal: the public entry points run it under x64
def test_a_fast_binding_of_a_few_enzyme_molecules_runs_in_the_ode_by_default() -> None:
    # E + S <-> C at 2000 bindings per time unit with 20 enzyme molecules (E and C stay far below
    # `continuous_above`): before the default fast-channel rule each binding was one located jump (BIOMD0000000009:
    # 10^6 jumps per time unit, 20 trajectories did not reach t = 5 in 240 s). By default a channel that would fire
    # 1000 times over the span moves the ODE with its species, as `auto`'s hybrid; only the slow catalysis jumps.
    from sbmljax._ensemble import prepare

    reactions = [("bind", "E + S -> C", "kon*E*S"), ("free", "C -> E + S", "koff*C"), ("cat", "C -> E + P", "kcat*C")]
    m = sbmljax.load_sbml(
        sbml_model({"E": 20, "S": 100000, "C": 0, "P": 0}, {"kon": 1e-3, "koff": 100.0, "kcat": 1.0}, reactions)
    )
    t = np.linspace(0.0, 10.0, 3)
    assert prepare(m, t, method="hybrid").sim.fast_propensity == 100.0  # FAST_EVENTS / span
    assert prepare(m, t, method="hybrid", continuous_above=float("inf")).sim.fast_propensity == float("inf")
    tr = sbmljax.simulate(m, t, n_trajectories=4, seed=0, method="hybrid")
    # With the rule off (`fast_propensity=inf`, the old default) every binding and unbinding jumps: about 10^3 of
    # each per time unit once half the enzyme is bound, 2·10^4 jumps per trajectory (measured: 19745–20284); with
    # it only catalysis (kcat·C ≈ 9.5 per time unit, below the fast rate) jumps, about 100 times (85–122).
    assert np.all(tr.n_events < 300), tr.n_events
    np.testing.assert_allclose(tr.counts[:, :, 0] + tr.counts[:, :, 2], 20.0, rtol=1e-6)  # E + C conserved


def test_the_partition_changes_where_its_threshold_is_crossed_whatever_the_solver_steps() -> None:
    # X decays in the ODE from 1000: its channel's propensity k·X is fast (≥ fast_propensity = 1000 / span = 100)
    # and holds X continuous until it falls below half of that, 50 (X is below discrete_below = 100 by then), when
    # X turns discrete and decays by jumps. Z is born at kz·X, a jump channel whose hazard follows X, so that the
    # solves stop at random times. The crossing is located as a root: X turns discrete at exactly 50 molecules
    # (its decays as jumps plus what is left at t = 10) and the jump law does not depend on the solver's steps.
    # On main cba28ed (the partition re-evaluated only where a solve starts) X turned discrete where the next solve
    # started (a Z birth, or the `ode_max_steps`-th step): at 22.9, 9.9 and 32.7 molecules on average in the three
    # settings below, with 32.5, 19.7 and 42.4 jumps per trajectory (Z = -8.6 and 8.3 against the first; n = 200).
    m = sbmljax.load_sbml(
        sbml_model({"X": 1000, "Z": 0}, {"k": 1.0, "kz": 0.01}, [("d", "X -> 0", "k*X"), ("b", "0 -> Z", "kz*X")])
    )
    t = np.array([0.0, 10.0])  # no output time near the crossing (t = ln 20): on main one started a solve there
    n = 200
    jumps = {}
    for steps, rtol in ((4, 1e-3), (128, 1e-3), (4, 1e-6)):
        opts = {"solver": "tsit5", "continuous_above": 500.0, "ode_max_steps": steps, "rtol": rtol}
        tr = sbmljax.simulate(m, t, n_trajectories=n, seed=5, method="hybrid", **opts)
        x_end, z_end = tr.counts[:, -1, 0], tr.counts[:, -1, 1]
        np.testing.assert_array_equal(tr.n_events - z_end + x_end, 50.0)  # X's count where it turned discrete
        jumps[steps, rtol] = tr.n_events.astype(float)
    ref = jumps[4, 1e-3]
    for key in ((128, 1e-3), (4, 1e-6)):
        other = jumps[key]
        z = (other.mean() - ref.mean()) / np.sqrt(other.var(ddof=1) / n + ref.var(ddof=1) / n)
        assert abs(z) < Z_MAX, (key, z)


# -- non-integer stoichiometry (issue 13, item 5) ------------------------------------------------------------
HALF = [("r", "A -> 0.5 B", "k*A"), ("d", "B -> 0", "kd*B")]
"""A → ½ B: B is not a count, so the hybrid method keeps it continuous; its mean is the ODE's (linear laws)."""


def test_non_integer_stoichiometry_runs_with_the_species_continuous() -> None:
    m = sbmljax.load_sbml(sbml_model({"A": 1000, "B": 0}, {"k": 0.1, "kd": 0.05}, HALF))
    t = np.array([0.0, 2.0, 5.0, 10.0])
    ref = sbmljax.reference.ode(m, None, t).values
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"reaction 'r' product 'B': stoichiometry 0.5 is not an"):
        sbmljax.simulate(m, t, n_trajectories=2, seed=0, method="direct")  # the exact methods still refuse it
    # A kept discrete (continuous_above=inf) fires as jumps, each adding half a molecule to the continuous B.
    n = 400
    tr = sbmljax.simulate(
        m, t, n_trajectories=n, seed=3, method="hybrid", continuous_above=float("inf"), solver="tsit5"
    )
    a, b = tr.counts[:, :, 0], tr.counts[:, :, 1]
    assert np.all(a == np.round(a)) and np.any(b != np.round(b)), "A holds whole counts, B halves"
    assert np.all(np.abs(z_scores(tr.counts[:, 1:], ref[1:])) < Z_MAX)
    np.testing.assert_allclose(tr.counts[:, 1:].mean(axis=0), ref[1:], rtol=0.01)


def test_auto_runs_non_integer_stoichiometry_as_hybrid_near_the_ode() -> None:
    # An abundant A (10^4): `auto` refuses the exact methods for B's stoichiometry and runs the hybrid one.
    m = sbmljax.load_sbml(sbml_model({"A": 10000, "B": 0}, {"k": 0.1, "kd": 0.05}, HALF))
    t = np.array([0.0, 2.0, 5.0, 10.0])
    tr = sbmljax.simulate(m, t, n_trajectories=20, seed=4, method="auto")
    assert "chose 'hybrid'" in tr.notes[0] and "stoichiometry 0.5" in tr.notes[0], tr.notes[0]
    ref = sbmljax.reference.ode(m, None, t).values
    np.testing.assert_allclose(tr.counts[:, 1:].mean(axis=0), ref[1:], rtol=0.01)


def test_a_trigger_on_a_non_integer_stoichiometry_species_is_honoured() -> None:
    # B is continuous at all times (A -> 0.5 B); the trigger `B > 50` sets A to 0 where B first crosses 50,
    # after which B only decays: B's maximum is just above 50 (A discrete, 10^3 jumps of half a molecule).
    events = _events(("e", "B > 50", [("A", "0")]))
    m = sbmljax.load_sbml(sbml_model({"A": 1000, "B": 0}, {"k": 0.1, "kd": 0.05}, HALF, extra=events))
    t = np.linspace(0.0, 10.0, 201)
    tr = sbmljax.simulate(
        m, t, n_trajectories=4, seed=0, method="hybrid", continuous_above=float("inf"), solver="tsit5"
    )
    b = tr.counts[:, :, 1]
    assert np.all(b.max(axis=1) <= 50.5) and np.all(b.max(axis=1) > 49), b.max(axis=1)
    assert np.all(tr.counts[:, -1, 0] == 0)


@pytest.mark.slow
def test_a_model_of_10_to_the_20_molecules_with_a_root_law_at_zero_runs_as_its_ode() -> None:
    # A (10^20 molecules) feeds B (0 at the start), which decays at k·B^0.5: the implicit solver's Newton
    # iterations met round-off far above atol = 10^-3 molecules, and B^0.5 at 0 has an infinite derivative
    # (NaN in forward mode): every step at t = 0 was rejected (BIOMD0000000246). Now the ODE limit.
    m = sbmljax.load_sbml(
        sbml_model({"A": 1e20, "B": 0}, {"k1": 0.1, "k2": 1e9}, [("p", "A -> B", "k1*A"), ("d", "B -> 0", "k2*B^0.5")])
    )
    t = np.array([0.0, 1.0, 5.0])
    tr = sbmljax.simulate(m, t, n_trajectories=1, seed=0, method="hybrid", **ALL_CONTINUOUS)
    ref = sbmljax.reference.ode(m, None, t).values
    np.testing.assert_allclose(tr.counts[0], ref, rtol=1e-3)


def test_a_rate_rule_reading_a_reaction_rate_integrates_it() -> None:
    # Y' = r, the rate of A -> 0 (k A): E[Y(t)] = A0 (1 − e^{−kt}), as the ODE says; A abundant (10^4), `auto`.
    a0, k = 10000, 0.2
    m = sbmljax.load_sbml(sbml_model({"A": a0, "Y": 0}, {"k": k}, [("r", "A -> 0", "k*A")], extra=_rules(("Y", "r"))))
    t = np.array([0.0, 2.0, 5.0])
    tr = sbmljax.simulate(m, t, n_trajectories=10, seed=5, method="auto")
    assert "chose 'hybrid'" in tr.notes[0], tr.notes[0]
    np.testing.assert_allclose(tr.counts[:, 1:, 1].mean(axis=0), a0 * (1 - np.exp(-k * t[1:])), rtol=0.01)
    ref = sbmljax.reference.ode(m, None, t)
    np.testing.assert_allclose(tr.counts[:, 1:].mean(axis=0), ref.values[1:], rtol=0.01)


def test_a_compartment_without_a_size_that_nothing_reads_is_taken_as_one() -> None:
    # Rate rules on concentrations in a compartment without a size (as BIOMD0000000368): nothing depends on the
    # size, so size 1 is taken with a note; a reaction moving a concentration there still needs one.
    y0, kd = 50.5, 0.5
    text = sbml_model({"Y": y0}, {"kd": kd}, [], hosu=False, extra=_rules(("Y", "-kd*Y"))).replace('size="1.0" ', "")
    m = sbmljax.load_sbml(text.replace("initialAmount=", "initialConcentration="))
    assert m.compartments[0].size == 1.0 and any("have no size" in n for n in m.notes), m.notes
    t = np.array([0.0, 1.0, 4.0])
    tr = sbmljax.simulate(m, t, n_trajectories=2, seed=0, method="auto")
    np.testing.assert_allclose(tr.counts[:, :, 0], np.broadcast_to(y0 * np.exp(-kd * t), (2, t.size)), rtol=1e-3)
    moved = sbml_model({"X": 5}, {"k": 1.0}, [("d", "X -> 0", "k*X")], hosu=False).replace('size="1.0" ', "")
    with pytest.raises(sbmljax.errors.NetworkError, match="compartment 'c' has no size"):
        sbmljax.simulate(sbmljax.load_sbml(moved), t, n_trajectories=2, seed=0, method="auto")


def test_a_root_finder_failure_is_reported_as_such_not_as_an_ode_failure() -> None:
    # BIOMD0000000457 (docs/simulators.md, hybrid Limits): the ODE's steps succeed, the jump's root-finding does not.
    import diffrax

    from sbmljax._results import RESULTS, status_names
    from sbmljax._simulator.hybrid import _root_failed

    assert bool(_root_failed(diffrax.RESULTS.nonlinear_max_steps_reached))
    assert bool(_root_failed(diffrax.RESULTS.nonlinear_divergence))
    for ok_or_ode in ("successful", "event_occurred", "max_steps_reached", "dt_min_reached"):
        assert not bool(_root_failed(getattr(diffrax.RESULTS, ok_or_ode)))
    code = RESULTS.jump_not_located._value
    assert status_names([code])[0] == "jump_not_located"
    assert "root finder" in RESULTS._index_to_message[int(code)]
    assert RESULTS.ode_failed._value < code and RESULTS.no_propensity_bound._value < code  # earlier codes kept


def test_the_jump_root_finder_stops_on_time_where_no_float64_time_meets_a_tolerance_on_the_function() -> None:
    # BIOMD0000000457 at t = 0.0189 (docs/simulators.md, hybrid Limits): the integrated hazard rose at 1.1e8 per time
    # unit at its root, one unit in the last place of t moves it by 4e-10, and Newton to |f| < 1e-10 never stopped.
    # The bracketed Newton stops on the time: within ROOT_RTOL · (|t| + h) of the root, here a few ulps.
    import jax
    import jax.numpy as jnp
    import optimistix as optx

    from sbmljax._simulator.hybrid import ROOT_RTOL, _JumpRootFinder

    lo, up, root = 0.018883891403675079, 0.018969701603055, 0.01889069192111492
    cases = [
        (lambda t, _: 1.11e8 * (t - root) + 2e-11 * jnp.sin(1e18 * t), lo, up, root),  # steep, noisy in its last digits
        (lambda t, _: jnp.exp(t) - 2.0, 0.0, 3.0, np.log(2.0)),
        (lambda t, _: 1e-3 - t**3, 0.0, 1.0, 0.1),  # decreasing, a poor Newton start at the step's end
        (lambda t, _: jnp.tanh(50.0 * (t - 0.3)), 0.0, 1.0, 0.3),  # Newton from the end overshoots the bracket
    ]
    with jax.enable_x64(True):
        for fn, a, b, r in cases:
            a, b = jnp.asarray(a), jnp.asarray(b)
            sol = optx.root_find(
                fn, _JumpRootFinder(rtol=ROOT_RTOL, atol=0.0), b, options=dict(lower=a, upper=b), throw=False
            )
            assert sol.result == optx.RESULTS.successful
            assert abs(float(sol.value) - r) <= ROOT_RTOL * (max(abs(float(a)), abs(float(b))) + float(b - a)), (
                r,
                sol.value,
            )


def test_the_start_step_after_a_jump_is_diffrax_own_starting_step() -> None:
    # `_start_step` is Hairer, Nørsett & Wanner's starting step, computed per lane so that a vmapped solve can take it
    # after a jump only; it must be the step diffrax's PIDController takes when it is given none (dt0=None).
    import diffrax
    import jax
    import jax.numpy as jnp
    import optimistix as optx
    from diffrax._step_size_controller.pid import _select_initial_step

    from sbmljax._simulator.hybrid import _start_step

    def stiff(t, y, args):  # a fast transient (rate 10^4) on a slow decay, and a component at rest
        return jnp.stack([-1e4 * (y[0] - y[1]), -0.1 * y[1] + jnp.sin(t), 0.0 * y[2]])

    with jax.enable_x64(True):
        y0 = jnp.asarray([3.0e3, 2.0e3, 5.0])
        atol = jnp.asarray([1e-3, 1e-3, 1e-3])
        for t0, order in ((0.0, 3), (1.5, 5)):
            ours = _start_step(stiff, jnp.asarray(t0), y0, 1e-4, atol, order, stiff(t0, y0, None))
            theirs = _select_initial_step(
                diffrax.ODETerm(stiff),
                t0,
                y0,
                None,
                lambda term, t, y, a: term.vf(t, y, a),
                order,
                1e-4,
                atol,
                optx.rms_norm,
            )
            np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-12)
            assert 0 < float(ours) < 1e-3  # resolves the 10^-4 transient
