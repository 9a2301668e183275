"""Test configuration: strict promotion rules, fixed keys, and the repo's data paths.

64-bit is *not* enabled globally: the public entry points scope it (`sbmljax._config.x64`), and a global
switch would hide an entry point that lacks the scope. Tests that compute with JAX directly scope it
themselves (`with jax.enable_x64(True):`). Dtype promotion is strict, so an implicit mix of dtypes in the
package (say a float32 array with a float64 one) fails here instead of silently promoting. The package runs
under the jaxtyping/beartype import hook (`--jaxtyping-packages` in pyproject.toml's pytest options), so its
annotations are checked on every call the tests make."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

# One OpenBLAS thread per process. `pytest -n 2` on 2 cores already runs one worker per core (each with XLA's
# threads); a threaded OpenBLAS on top spins its threads against them, and a small BLAS call then waits for a
# core: at load 9, `scipy.linalg.expm` of an 81×81 generator (the exact likelihood tests) took 0.40 s with
# the default threads and 0.001 s with one (median of 40, same process setup). numpy is imported (by the
# jaxtyping plugin) before this file, so the setting reaches the processes started after it: the xdist
# workers (this file is loaded in the controller first) and the snakemake and CLI subprocesses.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The command line and workflow scripts keep compiled programs in a persistent cache (`enable_compilation_cache`);
# tests (and the processes they start) leave the user's cache alone and compile as a fresh install would.
os.environ.setdefault("SBMLJAX_CACHE_DIR", "")

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # tests import their helpers (helpers.py, sbml_suite.py) by name

REPO = HERE.parent
MODELS = REPO / "models"
DATA = HERE / "data"


@pytest.fixture
def getkey():
    """Fresh, deterministic PRNG keys: `getkey()` returns the next one."""
    state = {"key": jax.random.key(5678)}

    def next_key():
        state["key"], sub = jax.random.split(state["key"])
        return sub

    return next_key


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group again under pytest 9.2: pytest-xdist 3.8 marks a test of an `xdist_group`
    by appending `@group` to `item._nodeid`, which pytest 9.2 no longer reads (the node id lives in `item._id`),
    so every group was silently split across the workers and each worker ran the group's module-scoped fixture
    (tests/test_workflow.py's tiny run, 5.5 min, twice). This applies the same suffix where xdist's did not
    take; it does nothing outside an xdist worker with `--dist loadgroup`, or once xdist's own works."""
    if not getattr(config.option, "loadgroup", False):  # set by xdist in its workers only
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = item.iter_markers("xdist_group")
        groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")  # type: ignore[attr-defined]
