"""The workflow on a real SLURM cluster: `profiles/slurm` as shipped, on a one-node cluster without accounting
that tests/cluster/start-slurm.sh brings up on this machine, compared file by file with a local run.

Marked `cluster`, and skipped unless `CI=true` (CI runs it, as root, on every submission) or
`SBMLJAX_CLUSTER=1`: it needs root (to install slurm-wlm and munge with apt-get when they are missing, and to
run slurmd) and takes a few minutes. `SBMLJAX_CLUSTER_STATE` names the cluster's state directory (`.ci/run`
sets it, so that it can stop the cluster even if pytest itself is killed); by default a temporary one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "cluster"
SNAKEFILE = REPO / "Snakefile"

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        os.environ.get("CI", "").lower() != "true" and os.environ.get("SBMLJAX_CLUSTER") != "1",
        reason="SLURM cluster test: runs in CI, or locally with SBMLJAX_CLUSTER=1 (needs root)",
    ),
]


def _compare_runs():
    spec = importlib.util.spec_from_file_location("compare_runs", CLUSTER / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare_runs


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    """A running one-node cluster: the environment its clients need. Stopped afterwards, even on failure."""
    assert importlib.util.find_spec("snakemake_executor_plugin_slurm"), (
        "snakemake-executor-plugin-slurm is not installed: install the test extra (pip install -e '.[test]')"
    )
    state = Path(os.environ.get("SBMLJAX_CLUSTER_STATE") or tmp_path_factory.mktemp("slurm") / "state")
    try:
        start = subprocess.run(
            ["bash", str(CLUSTER / "start-slurm.sh"), str(state)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert start.returncode == 0, f"start-slurm.sh failed:\n{start.stderr[-4000:]}"
        conf = start.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
        env = dict(os.environ, SLURM_CONF=conf)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("JAX_PLATFORMS", "cpu")
        yield env
    finally:
        stop = subprocess.run(["bash", str(CLUSTER / "stop-slurm.sh"), str(state)], capture_output=True, text=True)
        assert stop.returncode == 0, f"stop-slurm.sh failed:\n{stop.stderr}"
        left = sorted(p.name for p in (state / "pids").glob("*")) if (state / "pids").is_dir() else []
        assert not left, f"daemons still recorded as running: {left}"


def _tiny_workdir(root: Path, name: str) -> Path:
    """A copy of .test/ (config.yaml, datasets.tsv) whose `../models`, `../data` reach the repository's."""
    for shared in ("models", "data"):
        if not (root / shared).exists():
            (root / shared).symlink_to(REPO / shared)
    work = root / name
    work.mkdir()
    for f in ("config.yaml", "datasets.tsv"):
        shutil.copy(REPO / ".test" / f, work / f)
    return work


def _snakemake(work: Path, *args: str, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(work), "--notemp", *args]
    t0 = time.perf_counter()
    out = subprocess.run(
        cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500
    )
    return out, time.perf_counter() - t0


def test_tiny_run_through_slurm_equals_local_run(slurm_env, tmp_path):
    """The .test configuration through `--profile profiles/slurm` (squeue status, no account, job groups and a
    seed-chunk array job), then locally: every result file equal, bitwise for the simulations (the seed-chunks,
    kept with --notemp, and the merged ensemble) and for the fit apart from its wall time."""
    slurm, local = _tiny_workdir(tmp_path, "slurm"), _tiny_workdir(tmp_path, "local")

    out, slurm_s = _snakemake(slurm, "--profile", str(REPO / "profiles" / "slurm"), env=slurm_env)
    assert out.returncode == 0, out.stdout[-8000:]
    # The profile's job shape: small per-model rules and the dataset's chain as group jobs, the seed-chunks
    # as one array job; job status from squeue, never from sacct (this cluster has no accounting).
    assert "Group job prepare" in out.stdout and "Group job dataset" in out.stdout, out.stdout[-8000:]
    assert "Submitted array job" in out.stdout, out.stdout[-8000:]
    assert "Falling back to 'sacct'" not in out.stdout, out.stdout[-8000:]

    local_env = {k: v for k, v in slurm_env.items() if k != "SLURM_CONF"}
    out, local_s = _snakemake(local, "--cores", "2", env=local_env)
    assert out.returncode == 0, out.stdout[-8000:]
    print(f"tiny workflow: SLURM {slurm_s:.1f} s, local {local_s:.1f} s")

    compared, differences = _compare_runs()(local, slurm)
    assert not differences, "\n".join(differences)
    for expected in (
        "results/simulate/birth_death/direct/chunk0.npz",
        "results/simulate/birth_death/direct/chunk1.npz",
        "results/simulate/birth_death/direct/ensemble.npz",
        "results/fit/boarding_school/fit.json",
        "results/gradient_diagnostics/boarding_school/gradients.tsv",
        "results/report/birth_death/ensemble_direct.png",
    ):
        assert expected in compared, compared
