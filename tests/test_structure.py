"""Shared pieces that several modules rely on: dependency ordering, atomic writes, the event estimate's
budget, and the `--substance-units` option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import unchecked

import sbmljax
from sbmljax import _feasibility
from sbmljax._cli import build_parser
from sbmljax._config import x64
from sbmljax._ensemble import prepare
from sbmljax._expr import DependencyCycle, Num, Sym, dependency_order, times
from sbmljax._trajectory import atomic_write, atomic_write_text
from sbmljax.errors import ConfigError
from sbmljax.sbml._units import SUBSTANCE_POLICIES


def test_dependency_order_and_cycles() -> None:
    a = ("a", times(Sym("b"), Sym("c")))
    b = ("b", Sym("c"))
    c = ("c", Num(2.0))
    d = ("d", Num(1.0))
    assert dependency_order([a, d, b, c]) == (d, c, b, a)  # ready ones keep the given order
    with pytest.raises(DependencyCycle) as info:
        dependency_order([("x", Sym("y")), ("y", Sym("x")), d])
    assert info.value.names == ["x", "y"]


def test_atomic_write_leaves_no_partial_file(tmp_path) -> None:
    target = tmp_path / "sub" / "out.bin"

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail, binary=True)
    assert not target.exists() and list(target.parent.iterdir()) == []
    atomic_write_text(target, "whole\n")
    assert target.read_text() == "whole\n"


@x64  # as the public entry points do: prepare and the estimate are float64 internals
def test_event_estimate_budget_is_a_count_not_seconds(models_dir) -> None:
    prep = prepare(sbmljax.load_sbml(models_dir / "BIOMD0000000035.xml"), np.linspace(0, 100, 3))
    full = _feasibility.expected_events(prep.net, prep.x0, prep.p, 0.0, 100.0)
    estimates = []
    for _ in range(2):
        _feasibility._CACHE.clear()
        estimates.append(_feasibility.expected_events(prep.net, prep.x0, prep.p, 0.0, 100.0, max_evaluations=50))
    assert estimates[0] == estimates[1] > 0  # cut short after 50 evaluations, the same on any machine
    assert estimates[0] != full


def test_substance_units_option_is_one_definition() -> None:
    parser = build_parser()
    for command in (["info", "m.xml"], ["check", "m.xml", "--out", "o.tsv"]):
        for policy in SUBSTANCE_POLICIES:
            assert parser.parse_args([*command, "--substance-units", policy]).substance_units == policy
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--substance-units", "gram"])
    for call in (
        lambda: sbmljax.load_sbml("models/sir.xml", substance_units="gram"),
        lambda: sbmljax.check_models(["models"], substance_units="gram"),
    ):
        with (
            unchecked(),
            pytest.raises(ConfigError, match="substance_units must be 'auto', 'item' or 'mole', not 'gram'"),
        ):
            call()


def test_errors_carry_fields_not_just_text() -> None:
    from helpers import sbml_model

    from sbmljax.errors import InitialStateError, SimulationError, UnsupportedSBMLFeatureError

    decay = [("d", "A -> 0", "k*A"), ("r", "0 -> B", "k*(A - 5)")]
    m = sbmljax.load_sbml(sbml_model({"A": 10, "B": 0}, {"k": 1}, decay))
    with pytest.raises(SimulationError) as info:
        sbmljax.simulate(m, [0.0, 10.0], seed=0, n_trajectories=4)
    e = info.value
    assert (e.reaction, e.element, e.state["A"]) == ("r", "reaction 'r' kineticLaw", 4.0) and e.time > 0

    with pytest.raises(InitialStateError) as info:
        sbmljax.simulate(m, [0.0, 1.0], seed=0, initial={"A": 2.5})
    assert (info.value.species, info.value.construct) == ("A", "non_integer_counts")

    timed = sbmljax.load_sbml(sbml_model({"A": 10}, {"k": 1}, [("t", "A -> 0", "k*A*time")]))
    with pytest.raises(UnsupportedSBMLFeatureError) as info:
        sbmljax.simulate(timed, [0.0, 1.0], seed=0)
    assert (info.value.construct, info.value.reaction) == ("time_dependent_propensity", "t")

    with pytest.raises(SimulationError) as info:
        sbmljax.simulate(sbml_model({"A": 10}, {"k": -1}, [("n", "A -> 0", "k*A")]), [0.0, 1.0], seed=0)
    assert info.value.reaction == "n" and info.value.time == 0.0 and info.value.state == {"A": 10.0}


def test_throw_false_keeps_the_ensemble_and_says_which_failed() -> None:
    from helpers import sbml_model

    from sbmljax.errors import SimulationError

    # r's law k*(A - 5) turns negative once A < 5: some trajectories get there before t = 0.3, some do not.
    decay = [("d", "A -> 0", "k*A"), ("r", "0 -> B", "k*(A - 5)")]
    m = sbmljax.load_sbml(sbml_model({"A": 10, "B": 0}, {"k": 1}, decay))
    t = np.linspace(0.0, 0.6, 7)
    with pytest.raises(SimulationError):
        sbmljax.simulate(m, t, seed=2, n_trajectories=200)
    traj = sbmljax.simulate(m, t, seed=2, n_trajectories=200, throw=False)
    assert set(traj.status) == {"successful", "bad_propensity"}
    assert 0 < (~traj.ok).sum() < 200
    failed = traj.counts[~traj.ok]
    assert np.all(np.isnan(failed[:, -1])) and not np.any(np.isnan(failed[:, 0]))
    good = traj.successful()
    assert good.n_trajectories == traj.ok.sum() and not np.any(np.isnan(good.counts))
    # the successful trajectories are exactly those of a run that throws, trajectory by trajectory
    same = sbmljax.simulate(m, t, seed=2, n_trajectories=200, throw=False)
    np.testing.assert_array_equal(same.counts, traj.counts)


def test_npz_round_trip_and_seed_chunks_concatenate(tmp_path, models_dir) -> None:
    from sbmljax.errors import DataError

    m = sbmljax.load_sbml(models_dir / "birth_death.xml")
    t = np.linspace(0, 5, 6)
    whole = sbmljax.simulate(m, t, seed=4, n_trajectories=30)
    parts = [sbmljax.simulate(m, t, seed=4, n_trajectories=10, first_trajectory=i) for i in (20, 0, 10)]
    for i, p in enumerate(parts):
        p.to_npz(tmp_path / f"c{i}.npz")
    back = [sbmljax.Trajectories.from_npz(tmp_path / f"c{i}.npz") for i in range(3)]
    merged = sbmljax.Trajectories.concatenate(back)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_array_equal(merged.n_events, whole.n_events)
    assert list(merged.status) == list(whole.status) and merged.first_trajectory == 0
    assert (merged.species, merged.seed, merged.method, merged.notes) == (
        whole.species,
        whole.seed,
        whole.method,
        whole.notes,
    )
    with pytest.raises(DataError, match="do not tile"):
        sbmljax.Trajectories.concatenate([back[0], back[1]])
    (tmp_path / "other.npz").write_bytes(b"")
    np.savez(tmp_path / "other.npz", counts=np.zeros(3))
    with pytest.raises(DataError, match="not a file written by Trajectories.to_npz"):
        sbmljax.Trajectories.from_npz(tmp_path / "other.npz")


def test_fit_result_json_round_trip(tmp_path) -> None:
    from sbmljax.errors import DataError

    result = sbmljax.FitResult(
        params={"k": 0.5},
        stderr={"k": 0.01},
        history=sbmljax.FitHistory(
            loss=[3.0, 2.0],
            loss_stderr=[0.1, None],
            params={"k": [1.0, 0.5]},
            grad={"k": [1.0, 0.2]},
            seconds=[0.1, 0.2],
        ),
        estimator="score",
        loss="mean_sse",
        n_trajectories=8,
        iterations=2,
        n_simulations=16,
        wall_time_s=0.5,
        seed=3,
        start={"k": 1.0},
        converged=False,
        ode_fit={"params": {"k": 0.49}, "stderr": {"k": 0.02}, "cost": 1.0},
        source="m.xml",
        notes=("a note",),
    )
    result.to_json(tmp_path / "fit.json")
    back = sbmljax.FitResult.from_json(tmp_path / "fit.json")
    assert back.to_dict().keys() == result.to_dict().keys()
    assert json.dumps(back.to_dict(), allow_nan=True) == json.dumps(result.to_dict(), allow_nan=True)
    assert back.history["loss"] == back.history.loss == [3.0, 2.0]
    with pytest.raises(KeyError):
        back.history["nothing"]
    (tmp_path / "bad.json").write_text('{"params": {}}')
    with pytest.raises(DataError, match=r"not a fit result written by FitResult.to_json \(no 'loss_history'\)"):
        sbmljax.FitResult.from_json(tmp_path / "bad.json")


def test_package_imports_lazily(models_dir) -> None:
    # The workflow's parse needs only the config and sheet checks; each cluster job re-parses it, so it must
    # not pay for JAX or petab. Every public name still resolves (and `dir` lists it), and the names given to
    # type checkers are exactly the lazily exported ones.
    import ast
    import subprocess
    import sys

    code = (
        "import sys, sbmljax.workflow as w; "
        f"w.petab_files({str(models_dir.parent / 'data' / 'bsflu' / 'problem.yaml')!r}); "
        "print(sorted(m for m in ('jax', 'petab', 'libsbml', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name in sbmljax.__all__:
        assert getattr(sbmljax, name) is not None, name
        assert name in dir(sbmljax)
    assert sbmljax.if2.__module__ == "sbmljax._likelihood.if2"
    tree = ast.parse(open(sbmljax.__file__, encoding="utf-8").read())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    typed = {a.asname or a.name for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert typed | {"errors"} == set(sbmljax.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sbmljax.nope  # noqa: B018


def test_compilation_cache_directory(tmp_path, monkeypatch) -> None:
    """The command line's persistent compilation cache: `$SBMLJAX_CACHE_DIR`, else under `$XDG_CACHE_HOME`; empty
    turns it off; a directory the user gave JAX is kept."""
    import platform

    import jax

    from sbmljax._config import CACHE_ENV, enable_compilation_cache

    before = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv(CACHE_ENV, "")
        assert enable_compilation_cache() is None and jax.config.jax_compilation_cache_dir is None
        monkeypatch.delenv(CACHE_ENV)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        # one folder per processor kind: a home directory shared by a cluster's nodes of different instruction sets
        got = enable_compilation_cache()
        assert got is not None and Path(got).parent == tmp_path / "xdg" / "sbmljax" / "jax"
        assert jax.config.jax_compilation_cache_dir == got and Path(got).name.startswith(platform.machine())
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
        jax.config.update("jax_compilation_cache_dir", str(tmp_path / "users"))
        assert enable_compilation_cache() == str(tmp_path / "users")  # the user's choice for JAX stands
        jax.config.update("jax_compilation_cache_dir", None)
        assert enable_compilation_cache() == str(tmp_path / "mine")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
