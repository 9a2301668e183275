"""SBML as tellurium users write it: import order, Antimony, reversible flags, non-integer stoichiometry.

The statistical comparisons at the end run each Antimony model with every method (n = 4,000) against
libRoadRunner's gillespie on the same SBML, with the SBML Test Suite's criterion (see `two_sample_verdict`).
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import ALL_METHODS, sbml_model, unchecked

import sbmljax
from sbmljax import reference
from sbmljax._check_model import CheckSettings, check_model
from sbmljax._expr import to_string
from sbmljax.errors import ConfigError, SBMLReadError, UnsupportedSBMLFeatureError

SIR = "models/sir.xml"


# -- import order --------------------------------------------------------------------------------------------
def _fresh(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter from the repository root (no module imported beforehand)."""
    from conftest import REPO

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize(
    "first,second",
    [("sbmljax", "tellurium as te"), ("tellurium as te", "sbmljax"), ("libsbml", "sbmljax, libsedml")],
)
def test_load_works_whatever_was_imported_first(first: str, second: str) -> None:
    # tellurium's libsedml, imported after libsbml, makes ASTNode.getType() return a SWIG pointer object.
    r = _fresh(
        f"""
        import {first}
        import {second}
        import sbmljax
        m = sbmljax.load_sbml("{SIR}")
        t = sbmljax.simulate(m, [0.0, 10.0], n_trajectories=4, seed=0)
        print(m.reactions[0].rate, t.counts.shape)
        """
    )
    assert r.returncode == 0, r.stderr
    assert "(4, 2, 3)" in r.stdout
    assert "memory leak" not in r.stderr


def test_tellurium_model_text_and_object_load() -> None:
    r = _fresh(
        """
        import sbmljax
        import tellurium as te
        r = te.loada("J1: S -> I; beta*S*I; J2: I -> R; g*I; S = 99; I = 1; R = 0; beta = 0.01; g = 0.1")
        a = sbmljax.load_sbml(r.getSBML())
        b = sbmljax.load_sbml(r)
        assert [x.rate for x in a.reactions] == [x.rate for x in b.reactions]
        print(b.source, [str(x.forward) for x in b.reactions])
        """
    )
    assert r.returncode == 0, r.stderr
    assert "<ExtendedRoadRunner model>" in r.stdout


def test_load_antimony_and_its_errors() -> None:
    m = sbmljax.load_antimony("J1: A -> B; k*A; A = 10; B = 0; k = 0.5")
    assert m.source == "<antimony>"
    assert m.species_ids == ("A", "B")
    assert m.parameter_values() == {"k": 0.5}
    with pytest.raises(SBMLReadError, match="<antimony>: the text does not translate to SBML: .*line 1"):
        sbmljax.load_antimony("J1: A -> ; k*A;; ->")
    with pytest.raises(ConfigError, match="not int"):
        sbmljax.load_sbml(42)
    with unchecked(), pytest.raises(ConfigError, match="Antimony text as a string"):  # None: not a str
        sbmljax.load_antimony(None)


def test_reference_ode_agrees_with_tellurium_simulate() -> None:
    import tellurium as te

    text = "J1: S -> I; beta*S*I; J2: I -> R; g*I; S = 990; I = 10; R = 0; beta = 0.0003; g = 0.1"
    t = np.linspace(0, 50, 11)
    rr = te.loada(text)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-10
    expected = rr.simulate(0, 50, 11, ["S", "I", "R"])
    sol = reference.ode(sbmljax.load_antimony(text), None, t)
    np.testing.assert_allclose(sol.values, np.asarray(expected), rtol=1e-6, atol=1e-6)


# -- how reversible-flagged laws are read --------------------------------------------------------------------
# (reaction, law) → the split (forward, backward) as to_string shows it, or None: simulated as written.
LAW_SHAPES = [
    ("A -> B", "kf*A - kr*B", ("(kf * A)", "(kr * B)")),
    ("A -> B", "c*(kf*A - kr*B)", ("(c * kf * A)", "(c * kr * B)")),
    ("A -> B", "c*kf*A - c*kr*B", ("(c * kf * A)", "(c * kr * B)")),
    ("A + B -> C", "(kf*A*B - kr*C)/c", ("((kf * A * B) / c)", "((kr * C) / c)")),
    ("A + B -> C", "c*(kf*A*B - kr*C)/2", ("((c * kf * A * B) / 2)", "((c * kr * C) / 2)")),
    ("A -> B", "kf*exp(-E/T)*A - kr*B", ("(kf * exp((-(E) / T)) * A)", "(kr * B)")),
    ("0 -> B", "kf - kr*B", ("kf", "(kr * B)")),
    ("A -> B", "kf*A", None),  # mass action, not a difference
    ("A -> B", "c*kf*A", None),
    ("2 A -> B", "kf*A*(A - 1)/2", None),  # dimerisation: (A - 1) is no backward direction
    ("3 A -> B", "kf*A*(A - 1)*(A - 2)/6", None),
    ("A -> B", "Vm*A/(Km + A)", None),  # Michaelis–Menten
    ("A -> B", "Vm*A^n/(Km^n + A^n)", None),  # Hill
    ("A -> B", "piecewise(0.5*A, A > 20, 0.1*A)", None),
    ("A -> B", "kf*A*exp(-B/T)", None),
    ("A -> B", "kf*A*E - kr*A*F", None),  # a difference whose subtracted term reads no product
    ("A -> B", "kf*E - kr*B", None),  # a first term that reads no reactant
    ("A -> 0", "kf*A - kr", None),  # no products, so no backward direction
    ("A -> B", "kf*(A - B)^2 - kr", None),
]


def _reversible_model(equation: str, law: str) -> sbmljax.Model:
    params = dict(kf=0.1, kr=0.05, E=1.0, F=0.5, T=300.0, Vm=1.0, Km=5.0, n=2.0)
    text = sbml_model({"A": 30, "B": 5, "C": 0}, params, [("r", equation, law)], compartment_size=2.0)
    return sbmljax.load_sbml(text.replace('reversible="false"', 'reversible="true"'))


@pytest.mark.parametrize("equation,law,split", LAW_SHAPES, ids=[s[1] for s in LAW_SHAPES])
def test_reversible_law_shapes(equation: str, law: str, split) -> None:
    m = _reversible_model(equation, law)
    (r,) = m.reactions
    assert r.reversible
    if split is None:
        assert r.backward is None and r.forward == r.rate
        assert any("'r'" in n and "as written" in n for n in m.notes), m.notes
        assert "split:" not in m.info()
    else:
        assert (to_string(r.forward), to_string(r.backward)) == split
        assert f"split: forward {split[0]}; backward {split[1]}" in m.info()
        assert not any("as written" in n for n in m.notes)


def test_dimerisation_with_no_dimer_runs_as_written() -> None:
    # Before: split into forward kd*P*P/2 and an invented D -> 2P with rate kd*P/2, which failed with D = 0.
    text = sbml_model({"P": 10, "D": 0}, {"kd": 1.0}, [("r", "2 P -> D", "kd*P*(P-1)/2")])
    m = sbmljax.load_sbml(text.replace('reversible="false"', 'reversible="true"'))
    t = sbmljax.simulate(m, [0.0, 100.0], n_trajectories=50, seed=1)
    assert np.all(t.counts[:, -1] == [0, 5])  # every pair dimerises, nothing comes back


def test_reversible_law_turning_negative_is_caught_at_run_time() -> None:
    # r's law as written, kf*A - kr, turns negative once the decay d takes A below 8.
    reactions = [("r", "A -> B", "kf*A - kr"), ("d", "A -> 0", "kf*A")]
    text = sbml_model({"A": 10, "B": 0}, {"kf": 1.0, "kr": 8.0}, reactions)
    m = sbmljax.load_sbml(text.replace('reversible="false"', 'reversible="true"', 1))
    with pytest.raises(sbmljax.errors.SimulationError, match=r"reaction 'r' has a negative propensity.*state A=7"):
        sbmljax.simulate(m, [0.0, 100.0], n_trajectories=5, seed=0)


# -- non-integer stoichiometry -------------------------------------------------------------------------------
NON_INTEGER = sbml_model({"X": 100}, {"k": 0.1}, [("r", "1.5 X -> 0", "k*X")])


COUNTING_METHODS = [(m, o) for m, o in ALL_METHODS if m != "hybrid"]
"""Every method that counts molecules (the hybrid one keeps a species with a non-integer change continuous)."""


@pytest.mark.parametrize("method,options", COUNTING_METHODS, ids=[m for m, _ in COUNTING_METHODS])
def test_non_integer_stoichiometry_is_refused(method: str, options: dict) -> None:
    m = sbmljax.load_sbml(NON_INTEGER)
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"reaction 'r' reactant 'X': stoichiometry 1.5 is not an"):
        sbmljax.simulate(m, [0.0, 1.0], n_trajectories=4, seed=0, method=method, **options)


def test_non_integer_stoichiometry_in_check_and_cli(tmp_path) -> None:
    path = tmp_path / "half.xml"
    path.write_text(NON_INTEGER)
    row = check_model(str(path), CheckSettings(t_end=10.0))
    assert row["verdict"] == "refused" and "stoichiometry 1.5" in row["reason"], row
    assert row["auto_method"] == "hybrid" and row["auto_run"].startswith("ran"), row
    out = tmp_path / "out.csv"
    args = ["simulate", str(path), "--t-end", "1", "--seed", "0", "--out", str(out)]
    r = subprocess.run([sys.executable, "-m", "sbmljax", *args], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "stoichiometry 1.5" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


# -- statistics against libRoadRunner's gillespie ------------------------------------------------------------
N = 4000
MAX_OUT_OF_RANGE = 3  # the suite's advice, as in tests/sbml_suite.py

# Every `->` below is reversible="true" in the SBML that Antimony writes.
AS_WRITTEN = """
J0: -> P; kp
J1: 2 P -> D; kd*P*(P - 1)/2
J2: D -> ; kdd*D
J3: 3 T -> U; kt*T*(T - 1)*(T - 2)/6
J4: -> T; ktp
J5: X -> Y; piecewise(0.5*X, X > 20, 0.1*X)
J6: Y -> X; vm*Y^2/(km^2 + Y^2)
J7: Y -> ; ky*Y*exp(-Y/50)
J8: A -> B; k1*A*E - k2*A*F
J9: B -> M; vmax*B/(kmm + B)
P = 0; D = 0; T = 5; U = 0; X = 40; Y = 0; A = 30; B = 0; M = 0
kp = 8; kd = 0.05; kdd = 0.2; kt = 0.002; ktp = 3; vm = 4; km = 10; ky = 0.05; k1 = 0.3; E = 1; k2 = 0.2; F = 1
vmax = 2; kmm = 5
"""

# A net-rate law is split into two channels; libRoadRunner fires the net rate as one channel (in reverse
# when negative), a different process, so its reference is the same network written as two reactions.
NET_RATE = """
compartment V = 2
substanceOnly species A in V = 40, B in V = 30, C in V = 5, Z in V = 0
J1: A + B -> C; (kf*A*B - kr*C)/V
J2: -> Z; kz - kzd*Z
kf = 0.01; kr = 0.4; kz = 5; kzd = 0.5
"""
NET_RATE_SPLIT = """
compartment V = 2
substanceOnly species A in V = 40, B in V = 30, C in V = 5, Z in V = 0
J1f: A + B => C; kf*A*B/V
J1r: C => A + B; kr*C/V
J2f: => Z; kz
J2r: Z => ; kzd*Z
kf = 0.01; kr = 0.4; kz = 5; kzd = 0.5
"""


def roadrunner_gillespie(antimony_text: str, times: np.ndarray, species: tuple[str, ...], n: int) -> np.ndarray:
    """`(n, T, S)` amounts from libRoadRunner's gillespie integrator, one seed per trajectory."""
    import tellurium as te

    rr = te.loada(antimony_text)
    rr.integrator = "gillespie"
    rr.integrator.variable_step_size = False
    out = np.empty((n, len(times), len(species)))
    selections = ["time"] + [f"{s}" for s in species]
    for i in range(n):
        rr.resetAll()
        rr.integrator.seed = 1000 + i
        res = rr.simulate(float(times[0]), float(times[-1]), len(times), selections)
        out[i] = np.asarray(res)[:, 1:]
    return out


def two_sample_verdict(x: np.ndarray, y: np.ndarray) -> tuple[int, list[str]]:
    """The suite's criterion for two samples `(n, T, S)`: per time and species, the mean difference over its
    standard error must lie in (−3, 3) and the variance difference over its standard error (kurtosis-aware,
    as `robust_sd` in tests/sbml_suite.py) in (−5, 5). Points where both samples have no spread must agree
    exactly. Returns the number out of range and their descriptions."""
    out, details = 0, []
    for t in range(x.shape[1]):
        for s in range(x.shape[2]):
            a, b = x[:, t, s], y[:, t, s]
            va, vb = a.var(ddof=1), b.var(ddof=1)
            if va == 0 and vb == 0:
                if a[0] != b[0]:
                    out += 1
                    details.append(f"t{t} s{s}: {a[0]} vs {b[0]} exactly")
                continue
            z = (a.mean() - b.mean()) / math.sqrt(va / len(a) + vb / len(b))
            m4a, m4b = ((a - a.mean()) ** 4).mean(), ((b - b.mean()) ** 4).mean()
            y_ = (va - vb) / math.sqrt(max(m4a - va**2, 1e-300) / len(a) + max(m4b - vb**2, 1e-300) / len(b))
            if not -3 < z < 3:
                out += 1
                details.append(f"t{t} s{s}: Z={z:.2f}")
            if not -5 < y_ < 5:
                out += 1
                details.append(f"t{t} s{s}: Y={y_:.2f}")
    return out, details


@pytest.fixture(scope="module")
def references() -> dict[str, tuple[sbmljax.Model, np.ndarray, np.ndarray]]:
    out = {}
    for name, text, reference_text, t_end in (
        ("as_written", AS_WRITTEN, AS_WRITTEN, 20.0),
        ("net_rate", NET_RATE, NET_RATE_SPLIT, 10.0),
    ):
        model = sbmljax.load_antimony(text)
        times = np.linspace(0.0, t_end, 11)
        out[name] = (model, times, roadrunner_gillespie(reference_text, times, model.species_ids, N))
    return out


@pytest.mark.parametrize("method,options", ALL_METHODS, ids=[m for m, _ in ALL_METHODS])
@pytest.mark.parametrize("name", ["as_written", "net_rate"])
def test_antimony_models_match_roadrunner_gillespie(references, name: str, method: str, options: dict) -> None:
    model, times, reference = references[name]
    if name == "net_rate":
        assert [r.backward is not None for r in model.reactions] == [True, True]
    else:
        assert all(r.reversible and r.backward is None for r in model.reactions)
    traj = sbmljax.simulate(model, times, n_trajectories=N, seed=7, method=method, **options)
    out, details = two_sample_verdict(np.asarray(traj.counts), reference)
    print(name, method, out, details)
    assert out <= MAX_OUT_OF_RANGE, details
