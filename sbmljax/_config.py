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


CACHE_ENV = "SBMLJAX_CACHE_DIR"
"""Environment variable: where the command line and the workflow keep compiled programs (empty: nowhere)."""


def enable_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache for a command-line or workflow process; returns its directory.

    Compiling the hybrid ensemble runner of a stiff model is most of a short run's cost (BIOMD0000000009, 20
    trajectories: 90 s of CPU for the first call, 2 s for the run), and every `sbmljax` command and workflow rule is
    a fresh process that compiled it again. With the cache, a process that finds the runner stored skips XLA's
    compilation (the same model, method, options, shapes and JAX version; tracing and lowering still run): 28 s.
    The executable is the one compiled before, so results are the same bit for bit.

    The directory is `$SBMLJAX_CACHE_DIR` if set (empty: no cache), else `$XDG_CACHE_HOME/sbmljax/jax/<processor kind>` (default
    `~/.cache/sbmljax/jax/...`). A cache the user chose for JAX (`JAX_COMPILATION_CACHE_DIR` or
    `jax.config.jax_compilation_cache_dir`) is left as it is. The library itself (`import sbmljax`) turns nothing on.
    """
    import os
    from pathlib import Path

    chosen = jax.config.values.get("jax_compilation_cache_dir")  # the environment variable sets it too
    if chosen:
        return chosen
    path = os.environ.get(CACHE_ENV)
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        # One folder per kind of processor: XLA compiles CPU code for the host's instruction set, and a home
        # directory shared by the nodes of a cluster must not hand one node's executable to a node without it.
        path = str(Path(base) / "sbmljax" / "jax" / _host_kind())
    if not path:
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    return path


def _host_kind() -> str:
    """A short digest of the processor's architecture and instruction-set flags (Linux's /proc/cpuinfo)."""
    import hashlib
    import platform

    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return platform.machine() + "-" + hashlib.sha256(flags.encode()).hexdigest()[:12]


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the platform has one)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def use_cpu_cores(n: int | None = None) -> int:
    """Run independent particle filters on `n` CPU cores (default: every core this process may use); returns `n`.

    JAX gives a CPU process one device, which runs one program on one core. This asks it for `n` CPU devices
    (JAX's `jax_num_cpu_devices`, the same as `numpyro.set_host_device_count` or pypomp's
    `--xla_force_host_platform_device_count`), and sbmljax then spreads work that splits into independent
    parts over them: the replicate filters of `log_likelihood`, `fit(loss="likelihood")` and `profile`, the
    chains of `if2` and the filters scoring their ends (`sbmljax._likelihood.dataset_filter.map_grouped`).
    Each part draws from its own key, so the results are bitwise those of one core. Everything else runs on
    the first device as before.

    It must be called before JAX's first computation (right after the imports): JAX fixes its devices then.
    Called later with another count it raises `ConfigError`; the environment variable `JAX_NUM_CPU_DEVICES`
    does the same from outside. The command line takes `sbmljax --cores N ...`.
    """
    from .errors import ConfigError

    if n is None:
        n = available_cores()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of CPU cores must be a positive integer, got {n!r}")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:
        have = len(jax.local_devices(backend="cpu"))
        if have != n:
            raise ConfigError(
                f"cannot use {n} CPU cores: JAX already runs with {have} CPU device(s), fixed at its first "
                "computation; call sbmljax.use_cpu_cores right after the imports, or set JAX_NUM_CPU_DEVICES "
                "before starting Python"
            ) from None
    return n


def shard_devices(count: int) -> list:
    """The CPU devices over which `count` independent parts are spread (`use_cpu_cores`): at most one per part,
    none (an empty list) when there is one device or the default backend is an accelerator, where one program
    takes the whole batch."""
    if count < 2 or jax.default_backend() != "cpu":
        return []
    devices = jax.local_devices(backend="cpu")
    return devices[:count] if len(devices) > 1 else []
