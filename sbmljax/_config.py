"""Dtype policy: float64 for times, rates, parameters and counts.

Public entry points run inside `jax.enable_x64(True)`, a scoped switch: they compute in float64 whatever the
caller's global setting, and leave it untouched. Times in float32 lose precision after ~10^7 steps of a
stiff model (an SSA time increment falls below the float32 spacing), so float64 is not optional here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import jax

F = TypeVar("F", bound=Callable)


def x64(fn: F) -> F:
    """Run `fn` with 64-bit JAX types enabled (scoped)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def default_chunk() -> int:
    """Trajectories per vmapped batch: small on CPU (cache-resident state), large on accelerators."""
    return 128 if jax.default_backend() == "cpu" else 8192
