"""Repeated calls reuse the compiled programs: a second call with the same objects, or with a model loaded again
from the same file, compiles nothing (`docs/likelihood.md`, "Repeated calls").

Compilations are counted by JAX's monitoring events: one `/jax/core/compile/backend_compile_duration` event per
XLA compilation (a cache hit of `jit` emits none).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from helpers import sbml_model
from jax import monitoring

import sbmljax
from sbmljax._compile._network import compile_network
from sbmljax.data import Dataset, Observable

TIMES = np.arange(1.0, 5.0)
_COMPILES = [0]


def _count(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES[0] += 1


monitoring.register_event_duration_secs_listener(_count)


def compilations(call) -> int:
    """XLA compilations made while `call()` runs."""
    before = _COMPILES[0]
    call()
    return _COMPILES[0] - before


@pytest.fixture(scope="module")
def decay_file(tmp_path_factory):
    text = sbml_model({"X": 30}, {"k": 0.3}, [("death", "X -> 0", "k*X")])
    path = tmp_path_factory.mktemp("recompile") / "decay.xml"
    path.write_text(text)
    return path


def test_a_model_loaded_again_reuses_the_compiled_filter_and_ensemble(decay_file) -> None:
    first, again = sbmljax.load_sbml(decay_file), sbmljax.load_sbml(decay_file)
    with jax.enable_x64(True):  # the scope of the entry points, whose networks these are
        assert first is not again and compile_network(first).plan is compile_network(again).plan
    ds = Dataset("decay", TIMES, (Observable.parse("X", "X", 2.0),), np.array([[22.0], [17.0], [12.0], [9.0]]))

    def ll(model, k: float, seed: int) -> float:
        return sbmljax.log_likelihood(model, ds, {"k": k}, n_particles=16, replicates=2, seed=seed).value

    ll(first, 0.3, 0)  # warm-up: compiles the filter
    assert compilations(lambda: ll(again, 0.25, 1)) == 0
    assert ll(again, 0.25, 1) == ll(first, 0.25, 1)  # the shared program gives the same numbers
    sbmljax.simulate(first, TIMES, n_trajectories=4, seed=0)
    assert compilations(lambda: sbmljax.simulate(sbmljax.load_sbml(decay_file), TIMES, n_trajectories=4, seed=1)) == 0
    # Other content is another model: its own plan, never a program compiled for different rate laws.
    other = sbmljax.load_sbml(sbml_model({"X": 30}, {"k": 0.3}, [("death", "X -> 0", "k*X*X")]))
    with jax.enable_x64(True):
        assert compile_network(other).plan is not compile_network(first).plan


def test_a_second_if2_call_compiles_nothing(decay_file) -> None:
    model = sbmljax.load_sbml(decay_file)
    ds = Dataset("decay", TIMES, (Observable.parse("X", "X", 2.0),), np.array([[22.0], [17.0], [12.0], [9.0]]))

    def run(seed: int) -> None:
        sbmljax.if2(model, ds, {"k": (0.3, 0.01, 3.0)}, seed=seed, n_particles=16, iterations=2, evaluate=False)

    run(0)
    assert compilations(lambda: run(1)) == 0
