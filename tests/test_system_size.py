"""System size: models written in concentrations become counts `value × Ω`, propensities `Ω ×` the kinetic
laws, and the ensemble mean tends to the model's ODE (van Kampen; Kurtz 1972)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import unchecked

import sbmljax
import sbmljax.reference
from sbmljax.errors import ConfigError, InitialStateError

# A reversible dimerisation written in dimensionless concentrations (no units declared), one compartment
# of size 2 holding a concentration species: counts = concentration × volume × Ω.
DIMER = """
compartment cell = 2;
species A in cell = 0.8, B in cell = 0.1;
J1: 2 A -> B; cell * k1 * A * A;
J2: B -> 2 A; cell * k2 * B;
k1 = 1.5; k2 = 0.4;
"""


def test_counts_and_propensities_scale_with_omega():
    m = sbmljax.load_antimony(DIMER, system_size=500)
    assert {s.id: s.count_factor for s in m.species} == {"A": 500.0, "B": 500.0}
    assert m.extent_factor == 500.0
    assert any("system size Ω = 500" in n for n in m.notes)
    traj = sbmljax.simulate(m, [0.0], n_trajectories=1, seed=0)
    np.testing.assert_array_equal(traj.counts[0, 0], [0.8 * 2 * 500, 0.1 * 2 * 500])


def test_without_a_system_size_the_model_is_refused_with_the_way_out():
    m = sbmljax.load_antimony(DIMER)
    with pytest.raises(InitialStateError, match=r"not an integer.*system_size=Ω"):
        sbmljax.simulate(m, [0.0, 1.0], n_trajectories=1, seed=0)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "big"])
def test_a_bad_system_size_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="system_size must be a positive number"), unchecked():
        sbmljax.load_antimony(DIMER, system_size=bad)  # a string too: the package's own message, not beartype's


def test_ensemble_mean_tends_to_the_ode():
    """At Ω = 2,000 the mean of 200 trajectories divided by Ω is within 1% of libRoadRunner's ODE solution
    (Monte Carlo error ≈ 0.2%, the O(1/Ω) bias ≈ 0.05%; measured: within 0.31%), for both exact methods.

    Tau-leaping is left out on purpose: at `epsilon=0.03` its own step bias is 0.6–1% here, whatever Ω."""
    omega, t = 2000.0, np.array([0.0, 0.25, 0.5, 1.0, 2.0])
    m = sbmljax.load_antimony(DIMER, system_size=omega)
    ode = sbmljax.reference.ode(m, None, t)
    for method in ("direct", "nrm"):
        traj = sbmljax.simulate(m, t, n_trajectories=200, seed=3, method=method)
        np.testing.assert_allclose(traj.mean(), ode.values, rtol=0.01, err_msg=method)


def test_cli_system_size(tmp_path):
    sbml = tmp_path / "dimer.xml"
    sbml.write_text(_sbml())
    out = tmp_path / "traj.csv"
    args = [sys.executable, "-m", "sbmljax", "simulate", str(sbml), "--t-end", "1", "--points", "3"]
    args += ["--n", "4", "--seed", "0", "--out", str(out)]
    done = subprocess.run([*args, "--system-size", "100"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first = pd.read_csv(out).iloc[0]
    assert (first["time"], first["A"], first["B"]) == (0.0, 160.0, 20.0)
    out.unlink()
    bad = subprocess.run([*args, "--system-size", "0"], capture_output=True, text=True)
    assert bad.returncode != 0 and not out.exists()
    assert bad.stderr.strip().count("\n") == 0 and "system_size must be a positive number" in bad.stderr


def _sbml() -> str:
    import antimony

    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(DIMER) >= 0
    return antimony.getSBMLString(antimony.getMainModuleName())


def test_check_reads_models_with_a_system_size(tmp_path):
    """`sbmljax check` refuses the concentration model as it stands and passes it with a system size."""
    path = tmp_path / "dimer.xml"
    path.write_text(_sbml())
    plain = sbmljax.check_models([path], workers=1, confirm_steps=100)
    sized = sbmljax.check_models([path], workers=1, confirm_steps=100, system_size=100)
    assert plain["verdict"].tolist() == ["refused"] and "system_size" in plain["reason"][0]
    assert sized["verdict"].tolist() == ["exact"]
