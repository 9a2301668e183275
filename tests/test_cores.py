"""Independent particle filters spread over several CPU cores (`sbmljax.use_cpu_cores`, `sbmljax --cores`).

The contract: the same seed gives bitwise the same log-likelihoods, gradients and IF2 chains on any number of
cores. JAX fixes its devices at its first computation, so the two-core side runs in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

import sbmljax
from sbmljax._cli import main
from sbmljax.errors import ConfigError

PROBLEM = str(REPO / "data" / "bsflu" / "problem.yaml")
POINT = {"Beta": 3.7, "mu_IR": 2.0, "rho": 0.9}

# Three replicates and three chains on two cores: one core gets a padded copy, whose results are dropped.
SCRIPT = """
import json, sys
import sbmljax
cores = int(sys.argv[1])
if cores > 1:
    assert sbmljax.use_cpu_cores(cores) == cores
import jax
P, pt, out_path = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
leap = sbmljax.BinomialLeaping(tau=1 / 12)
ll = sbmljax.log_likelihood(None, P, pt, n_particles=200, replicates=3, seed=3, method=leap)
g = sbmljax.log_likelihood(None, P, pt, n_particles=40, replicates=3, seed=4, method="direct", grad=True)
r = sbmljax.if2(None, P, pt, seed=5, n_particles=100, iterations=3, chains=3, replicates=3, method=leap)
from sbmljax._cli import main
argv = ["--cores", str(cores), "loglik", P, "--particles", "40", "--replicates", "3", "--seed", "6", "--out", out_path]
assert main(argv + ["--param", *(f"{k}={v}" for k, v in pt.items())]) == 0
print(json.dumps({
    "devices": len(jax.devices()),
    "leap": [ll.value, ll.stderr],
    "grad": [g.value, g.stderr, g.grad, g.grad_stderr],
    "if2": [r.loglik, r.params, [c["trace_loglik"] for c in r.chains], [c["params"] for c in r.chains]],
    "cli": json.loads(open(out_path).read())["value"],
}))
"""


def _run(cores: int, tmp_path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("JAX_NUM_CPU_DEVICES", None)
    args = [sys.executable, "-c", SCRIPT, str(cores), PROBLEM, json.dumps(POINT), str(tmp_path / f"cli{cores}.json")]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_cores_give_bitwise_the_one_core_results(tmp_path) -> None:
    one, two = _run(1, tmp_path), _run(2, tmp_path)
    assert (one.pop("devices"), two.pop("devices")) == (1, 2)
    assert one == two  # every float compared exactly (JSON keeps the shortest round-trip repr)


def test_cores_after_jax_started_is_a_clear_error(capsys) -> None:
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX has its devices now
    have = len(__import__("jax").local_devices(backend="cpu"))
    assert sbmljax.use_cpu_cores(have) == have  # asking for what it has is fine
    with pytest.raises(ConfigError, match=r"cannot use 3 CPU cores: JAX already runs with 1 CPU device"):
        sbmljax.use_cpu_cores(have + 2)
    for bad in (0, -1, True):
        with pytest.raises(ConfigError, match="must be a positive integer"):
            sbmljax.use_cpu_cores(bad)
    for value, message in (("abc", "give a number of cores or 'all'"), ("0", "must be a positive integer")):
        assert main(["--cores", value, "info", str(REPO / "models" / "sir.xml")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
