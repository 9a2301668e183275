"""Test configuration: float64, strict promotion rules, fixed keys, and the repo's data paths."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

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
