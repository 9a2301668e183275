"""`simulate`: reproducibility, output semantics, parameters, and statistics against analytic moments."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers import ALL_EXACT_METHODS, ALL_METHODS, birth_death_moments, sbml_model, z_scores

import sbmljax

T = np.linspace(0.0, 20.0, 21)


@pytest.fixture(scope="module")
def bd() -> sbmljax.Model:
    return sbmljax.load_sbml(
        sbml_model({"X": 20}, {"k1": 5.0, "k2": 0.5}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")])
    )


@pytest.mark.parametrize("method", ALL_EXACT_METHODS)
def test_same_seed_same_result_and_chunking_does_not_matter(bd, method) -> None:
    a = sbmljax.simulate(bd, T, n_trajectories=300, seed=7, method=method)
    b = sbmljax.simulate(bd, T, n_trajectories=300, seed=7, method=method, chunk=64)
    c = sbmljax.simulate(bd, T, n_trajectories=300, seed=8, method=method)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert not np.array_equal(a.counts, c.counts)


@pytest.mark.parametrize("method", ALL_EXACT_METHODS)
def test_birth_death_mean_and_variance_match_analytic(bd, method) -> None:
    n = 4000
    traj = sbmljax.simulate(bd, T, n_trajectories=n, seed=11, method=method)
    mean, var = birth_death_moments(20, 5.0, 0.5, T)
    x = traj["X"]
    assert np.all(np.abs(z_scores(x, mean)) < 4)
    # Variance: the sample variance's standard error is about var*sqrt(2/n) for near-Gaussian data.
    s2 = x.var(axis=0, ddof=1)
    se = np.sqrt(2.0 / n) * var[1:]
    assert np.all(np.abs(s2[1:] - var[1:]) < 5 * se)


def test_output_shapes_dtypes_and_exact_times(bd) -> None:
    traj = sbmljax.simulate(bd, T, n_trajectories=5, seed=0)
    assert traj.counts.shape == (5, len(T), 1)
    assert traj.counts.dtype == np.float64 and traj.times.dtype == np.float64
    np.testing.assert_array_equal(traj.times, T)
    assert np.all(traj.counts == np.round(traj.counts))
    assert traj.species == ("X",)
    assert np.all(traj.counts[:, 0, 0] == 20)


def test_absorbing_state_finishes() -> None:
    m = sbmljax.load_sbml(sbml_model({"A": 5}, {"k": 10.0}, [("d", "A -> 0", "k*A")]))
    traj = sbmljax.simulate(m, np.linspace(0, 100, 11), n_trajectories=20, seed=0)
    assert np.all(traj.counts[:, -1, 0] == 0)


def test_parameter_override_changes_dynamics(models_dir) -> None:
    m = sbmljax.load_sbml(models_dir / "sir.xml")
    traj = sbmljax.simulate(m, np.linspace(0, 250, 11), n_trajectories=50, seed=0, params={"c2": 0.0})
    assert np.all(traj["R"] == 0)


def test_local_parameters_are_addressed_as_reaction_dot_param(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "sbml-stochastic" / "00002" / "00002-sbml-l3v1.xml")
    assert "Death.Mu" in m.parameter_values()
    traj = sbmljax.simulate(
        m, np.linspace(0, 10, 3), n_trajectories=30, seed=0, params={"Death.Mu": 0.0, "Birth.Lambda": 0.0}
    )
    assert np.all(traj["X"] == 100)


def test_initial_counts_override(bd) -> None:
    traj = sbmljax.simulate(bd, T, n_trajectories=3, seed=0, initial={"X": 7})
    assert np.all(traj.counts[:, 0, 0] == 7)


def test_assignment_rule_species_is_output(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "sbml-stochastic" / "00019" / "00019-sbml-l3v1.xml")
    traj = sbmljax.simulate(m, np.linspace(0, 10, 6), n_trajectories=20, seed=0)
    np.testing.assert_array_equal(traj["y"], 2 * traj["X"])


def test_boundary_species_are_output_and_unchanged(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "sbml-stochastic" / "00024" / "00024-sbml-l3v1.xml")
    traj = sbmljax.simulate(m, np.linspace(0, 10, 6), n_trajectories=20, seed=0)
    assert traj.species == ("X", "Source", "Sink")
    assert np.all(traj["Source"] == 0) and np.all(traj["Sink"] == 0)
    assert traj["X"][:, -1].mean() > 0


def test_reversible_reaction_is_split_and_matches_linear_mean() -> None:
    # A <-> B with net law kf*A - kr*B: the SSA mean of a linear network equals the ODE solution.
    text = sbml_model({"A": 100, "B": 0}, {"kf": 0.3, "kr": 0.1}, [("iso", "A -> B", "kf*A - kr*B")])
    m = sbmljax.load_sbml(text.replace('reversible="false"', 'reversible="true"'))
    assert m.reactions[0].backward is not None
    t = np.linspace(0, 10, 11)
    traj = sbmljax.simulate(m, t, n_trajectories=2000, seed=3)
    k = 0.3 + 0.1
    b_mean = 100 * 0.3 / k * (1 - np.exp(-k * t))
    assert np.all(np.abs(z_scores(traj["B"], b_mean)) < 4)
    np.testing.assert_array_equal(traj["A"] + traj["B"], 100)


@pytest.mark.parametrize("method, options", ALL_METHODS)
def test_a_model_without_reactions_follows_its_rules_and_events(method, options) -> None:
    """Rules and events only (BioModels has such models): nothing fires, rules and events still apply."""
    model = sbmljax.load_antimony("species A = 5; species B; B := 2*A; at time > 1: A = 7;")
    traj = sbmljax.simulate(model, [0.0, 0.5, 2.0], n_trajectories=2, seed=0, method=method, **options)
    np.testing.assert_array_equal(traj.counts[1], [[5, 10], [5, 10], [7, 14]])


def test_dataframe_csv_and_summary(bd, tmp_path) -> None:
    traj = sbmljax.simulate(bd, T, n_trajectories=4, seed=0)
    frame = traj.to_dataframe()
    assert list(frame.columns) == ["trajectory", "time", "X"] and len(frame) == 4 * len(T)
    path = tmp_path / "out" / "traj.csv"
    traj.to_csv(path)
    assert path.read_text().startswith("trajectory,time,X")
    summary = traj.summary_dataframe()
    assert {"mean", "sd", "q0.05", "q0.95"} <= set(summary.columns)


def test_float64_without_global_x64_flag(models_dir) -> None:
    code = (
        "import jax, numpy as np, sbmljax;"
        "assert not jax.config.jax_enable_x64;"
        f"t = sbmljax.simulate(sbmljax.load_sbml(r'{models_dir / 'sir.xml'}'), np.linspace(0, 1e6, 3), seed=0);"
        "assert t.counts.dtype == np.float64 and t.times.dtype == np.float64;"
        "assert not jax.config.jax_enable_x64;"
        "print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


@pytest.mark.parametrize("name", ["sir", "birth_death", "dimerisation"])
def test_bundled_models_simulate(models_dir, name) -> None:
    m = sbmljax.load_sbml(models_dir / f"{name}.xml")
    traj = sbmljax.simulate(m, np.linspace(0, 50, 6), n_trajectories=10, seed=0)
    assert np.all(traj.counts >= 0)


@pytest.mark.parametrize("name", ["BIOMD0000000035", "BIOMD0000000012"])
def test_curated_biomodels_run(data_dir, name) -> None:
    m = sbmljax.load_sbml(data_dir / "biomodels" / f"{name}.xml")
    traj = sbmljax.simulate(m, np.linspace(0, 50, 6), n_trajectories=10, seed=0)
    assert np.all(traj.counts >= 0) and traj.counts[:, -1].sum() > 0


def test_seed_chunks_merge_to_the_single_run(bd) -> None:
    whole = sbmljax.simulate(bd, T, n_trajectories=60, seed=5)
    parts = [sbmljax.simulate(bd, T, n_trajectories=20, seed=5, first_trajectory=a) for a in (0, 20, 40)]
    np.testing.assert_array_equal(whole.counts, np.concatenate([p.counts for p in parts]))


def test_a_repeated_request_reuses_its_checked_start_but_not_a_different_one(bd) -> None:
    # `prepare` remembers an accepted request's start (initial state, parameters, feasibility estimate) and the
    # compiled runner: a repeat gives the result of a first call, and whatever differs is not served from memory.
    from sbmljax._ensemble import _PREPARED, _START_CACHE

    _START_CACHE.clear()
    _PREPARED.clear()  # else a remembered request would not reach the start's memo at all
    first = sbmljax.simulate(bd, T, seed=3)
    again = sbmljax.simulate(bd, T, seed=3)
    np.testing.assert_array_equal(first.counts, again.counts)
    np.testing.assert_array_equal(first.n_events, again.n_events)
    assert len(_START_CACHE) == 1
    # Another parameter value, another initial count, another end time: new starts (and other results).
    k1 = sbmljax.simulate(bd, T, seed=3, params={"k1": 50.0})
    x20 = sbmljax.simulate(bd, T, seed=3, initial={"X": 200})
    assert k1.counts[0, -1, 0] > 2 * first.counts[0, -1, 0]
    assert x20.counts[0, 1, 0] > 2 * first.counts[0, 1, 0]
    assert len(_START_CACHE) == 3
    # The feasibility budget is per call: the remembered per-trajectory estimate times this call's ensemble.
    with pytest.raises(sbmljax.errors.InfeasibleSimulationError):
        sbmljax.simulate(bd, T, seed=3, n_trajectories=1000, max_events=1e4)
    # A refused start is not remembered: it raises every time.
    for _ in range(2):
        with pytest.raises(sbmljax.errors.InitialStateError):
            sbmljax.simulate(bd, T, seed=3, initial={"X": -1})
    assert len(_START_CACHE) == 3


def test_a_checked_request_is_remembered_and_whatever_differs_is_checked_afresh(bd, models_dir) -> None:
    # `prepare` remembers a request that passed its checks, by the model object, method, options, overrides and
    # times; anything else is a new request, checked again, and a refused request raises on every call.
    import dataclasses

    import jax

    from sbmljax._ensemble import _PREPARED, prepare

    _PREPARED.clear()
    with pytest.raises(dataclasses.FrozenInstanceError):  # what keying by the model object relies on
        bd.id = "changed"  # type: ignore[misc]
    a = sbmljax.simulate(bd, T, seed=3)
    assert len(_PREPARED) == 1
    np.testing.assert_array_equal(sbmljax.simulate(bd, T, seed=3).counts, a.counts)
    assert len(_PREPARED) == 1
    with jax.enable_x64(True):  # as the public entry points run it
        assert prepare(bd, T) is prepare(bd, list(T))  # the same times as a list: the same request
    # Another model object, even one read from the same file, another method, option value or time grid: new.
    again = sbmljax.load_sbml(bd.sbml)
    np.testing.assert_array_equal(sbmljax.simulate(again, T, seed=3).counts, a.counts)
    sbmljax.simulate(bd, T, seed=3, method="tau_leap", epsilon=0.03)
    sbmljax.simulate(bd, T, seed=3, method="tau_leap", epsilon=0.05)
    longer = sbmljax.simulate(bd, np.linspace(0.0, 30.0, 21), seed=3)
    assert longer.times[-1] == 30.0
    assert len(_PREPARED) == 5
    # A model with another rate constant (models cannot change in place; `replace` makes a new one): new results.
    fast = dataclasses.replace(
        bd, parameters=tuple(dataclasses.replace(q, value=50.0) if q.id == "k1" else q for q in bd.parameters)
    )
    assert sbmljax.simulate(fast, T, seed=3).counts[0, -1, 0] > 2 * a.counts[0, -1, 0]
    assert len(_PREPARED) == 6
    # The caller's time array changed in place between calls: each call sees its times, and the remembered copy
    # is the memo's own (as is each result's `times`, which the caller may change).
    t = T.copy()
    first = sbmljax.simulate(bd, t, seed=3)
    first.times[:] = -1.0
    t[-1] = 25.0
    assert sbmljax.simulate(bd, t, seed=3).times[-1] == 25.0
    t[-1] = T[-1]
    np.testing.assert_array_equal(sbmljax.simulate(bd, t, seed=3).times, T)
    # Refused requests raise every time and are not remembered.
    n = len(_PREPARED)
    for _ in range(2):
        with pytest.raises(sbmljax.errors.InitialStateError):
            sbmljax.simulate(bd, T, seed=3, initial={"X": -1})
        with pytest.raises(sbmljax.errors.ParameterError):
            sbmljax.simulate(bd, T, seed=3, params={"nope": 1.0})
        with pytest.raises(sbmljax.errors.ConfigError):
            sbmljax.simulate(bd, T[::-1], seed=3)
        with pytest.raises(sbmljax.errors.ConfigError):
            sbmljax.simulate(bd, T, seed=3, method="tau_leap", epsilon=0.03, nope=1)
        with pytest.raises(sbmljax.errors.InfeasibleSimulationError):
            sbmljax.simulate(bd, T, seed=3, n_trajectories=1000, max_events=1e4)
    assert len(_PREPARED) == n
    # Not remembered: a model given as a path (the file may change), a grid over 10,000 points.
    sbmljax.simulate(models_dir / "birth_death.xml", T, seed=3)
    sbmljax.simulate(bd, np.linspace(0.0, 1.0, 10_001), seed=3)
    assert len(_PREPARED) == n


@pytest.mark.parametrize("seed", [0, -5, 2**40 + 3])
def test_a_lone_trajectory_is_trajectory_zero_of_the_batch_field_by_field(bd, seed) -> None:
    # One trajectory derives its key in the compiled call and returns its fields packed in one buffer
    # (`_ensemble.run_seeded`): every field, dtype and failure must be the batch's.
    for kw in ({}, {"max_steps": 40, "throw": False}):
        lone = sbmljax.simulate(bd, T, seed=seed, first_trajectory=2, **kw)
        batch = sbmljax.simulate(bd, T, seed=seed, n_trajectories=3, **kw)
        for field in ("counts", "n_events", "status"):
            want = getattr(batch, field)[2:3]
            np.testing.assert_array_equal(getattr(lone, field), want)
            assert getattr(lone, field).dtype == want.dtype
    assert lone.status[0] == "max_steps_reached" and np.isnan(lone.counts[0, -1, 0])
