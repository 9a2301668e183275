"""The workflow through SLURM against the same workflow run locally, in the same run: wall times and ratio.

    python benchmarks/bench_slurm.py                  # the default workflow (config.yaml), as root
    python benchmarks/bench_slurm.py --config .test/config.yaml --repeats 2

Starts a one-node SLURM cluster on this machine (tests/cluster/start-slurm.sh: needs root; installs slurm-wlm
and munge if missing) unless SLURM_CONF already names a running one (`--use-running`), runs the configuration
with `--profile profiles/slurm` and with `--cores N` (N: the node's CPUs, so both get the same cores), each in a
fresh working directory, compares every result (tests/cluster/compare_runs.py: bitwise for simulations) and
prints both wall times, their ratio, the number of SLURM jobs submitted and the load average before and after
(the machine may be shared). The cluster is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "cluster"


def _compare_runs():
    spec = importlib.util.spec_from_file_location("compare_runs", CLUSTER / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare_runs


def workdir(root: Path, name: str, config: Path) -> Path:
    """A fresh working directory holding the configuration and its dataset sheet; the repository's models/ and
    data/ are linked beside it and inside it, so paths relative to the repository root or to .test/ resolve."""
    work = root / name
    work.mkdir()
    for where in (root, work):
        for shared in ("models", "data"):
            if not (where / shared).exists():
                (where / shared).symlink_to(REPO / shared)
    shutil.copy(config, work / "config.yaml")
    sheet = config.parent / "datasets.tsv"
    if sheet.exists():
        shutil.copy(sheet, work / "datasets.tsv")
    return work


def run(work: Path, args: list[str], env: dict, log: Path) -> float:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), *args]
    t0 = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=work, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"bench_slurm: {' '.join(args)} failed (exit {rc}); see {log}")
    return seconds


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="workflow configuration")
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "slurm")
    parser.add_argument("--repeats", type=int, default=1, help="local/SLURM pairs, alternating")
    parser.add_argument("--cores", type=int, default=None, help="local cores (default: the node's CPUs)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the working directories here")
    parser.add_argument("--use-running", action="store_true", help="use the cluster SLURM_CONF names")
    args = parser.parse_args()
    # A TERM (e.g. a timeout) unwinds like an error, so that the cluster is stopped below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    root = Path(tempfile.mkdtemp(prefix="bench_slurm_", dir=args.keep))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("JAX_PLATFORMS", "cpu")
    state = root / "slurm-state"
    started = False
    try:
        if not args.use_running:
            out = subprocess.run(["bash", str(CLUSTER / "start-slurm.sh"), str(state)], capture_output=True, text=True)
            started = True
            if out.returncode != 0:
                sys.exit(f"bench_slurm: start-slurm.sh failed:\n{out.stderr[-3000:]}")
            env["SLURM_CONF"] = out.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
        cpus = subprocess.run(["sinfo", "-h", "-o", "%C"], env=env, capture_output=True, text=True).stdout
        node_cpus = int(cpus.strip().split("/")[-1]) if cpus.strip() else os.cpu_count()
        cores = args.cores or node_cpus
        local_env = {k: v for k, v in env.items() if k != "SLURM_CONF"}

        print(f"configuration {args.config}, profile {args.profile}, local --cores {cores}, node CPUs {node_cpus}")
        print(f"{'run':>4} {'local s':>9} {'SLURM s':>9} {'ratio':>6} {'jobs':>5}  load (1/5/15 min) before -> after")
        ratios = []
        for i in range(args.repeats):
            before = load()
            local = workdir(root, f"local{i}", args.config)
            t_local = run(local, ["--cores", str(cores)], local_env, root / f"local{i}.log")
            slurm = workdir(root, f"slurm{i}", args.config)
            t_slurm = run(slurm, ["--profile", str(args.profile)], env, root / f"slurm{i}.log")
            log = (root / f"slurm{i}.log").read_text()
            jobs = len(re.findall(r"^(?:Job \S+ has been submitted|Submitted array job) ", log, flags=re.M))
            _, differences = _compare_runs()(local, slurm)
            if differences:
                sys.exit("bench_slurm: SLURM and local results differ:\n" + "\n".join(differences))
            ratios.append(t_slurm / t_local)
            print(f"{i:>4} {t_local:>9.1f} {t_slurm:>9.1f} {ratios[-1]:>6.2f} {jobs:>5}  {before} -> {load()}")
        print(f"SLURM / local wall time: {min(ratios):.2f} (best of {len(ratios)}); results identical")
    finally:
        if started:
            subprocess.run(["bash", str(CLUSTER / "stop-slurm.sh"), str(state)], check=False)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
