"""Does sbmljax run the same on an accelerator as on the CPU? (statistically, and where bitwise)

Two steps, each in its own process so that JAX's platform is chosen by the environment alone:

    JAX_PLATFORMS=cpu python benchmarks/gpu_check.py run cpu.npz
    python benchmarks/gpu_check.py run gpu.npz            # on a machine with a CUDA build of jaxlib
    python benchmarks/gpu_check.py compare cpu.npz gpu.npz

`run` simulates the bundled SIR (S0 = 999, I0 = 1) with every simulator (direct, NRM, tau-leaping, binomial
leaping, extrande, hybrid) from one seed, the `auto` method (hybrid) on a stiff curated model (BIOMD0000000009), computes a particle-filter log-likelihood and its gradient on data simulated from
it, and a score-function gradient of the mean of I(t); it records the values and the wall time of a second,
compiled call. `compare` reports, per simulator, whether the seeded ensembles are bitwise equal and, either
way, the largest two-sample Z of the means over the output times and the largest relative SD difference (the
SBML test suite's criterion judges |Z| < 3 per time point; with 11 time points a |Z| up to ~3 is chance), and
the likelihood and gradient differences in standard errors. Random numbers are the same xoshiro128++ bits on
both (uint32 arithmetic), but `log`/`exp` are each platform's own, so trajectories can part once a rounding
difference changes an event time's last bit; then only the statistics must agree.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("direct", "nrm", "tau_leap", "binomial_leap", "extrande", "hybrid")
OPTIONS = {"tau_leap": {"epsilon": 0.03}, "binomial_leap": {"tau": 0.1}}
N = {"direct": 4000, "nrm": 4000, "tau_leap": 4000, "binomial_leap": 4000, "extrande": 4000, "hybrid": 1000}


def _timed(f):
    f()  # compile
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def run(out: str) -> None:
    import jax

    import sbmljax

    model = sbmljax.load_sbml(ROOT / "models" / "sir.xml")
    t = np.linspace(0.0, 500.0, 11)
    res: dict[str, np.ndarray] = {
        "platform": np.array(jax.default_backend()),
        "device": np.array(str(jax.devices()[0])),
    }
    for m in METHODS:
        try:
            traj, dt = _timed(
                lambda m=m: sbmljax.simulate(model, t, n_trajectories=N[m], seed=7, method=m, **OPTIONS.get(m, {}))
            )
            res[f"sim_{m}"] = np.asarray(traj.counts, dtype=np.float64)
            res[f"time_{m}"] = np.array(dt)
            print(f"{m}: {N[m]} trajectories in {dt:.3f} s", flush=True)
        except Exception as e:  # recorded and reported: the check is of what runs where
            res[f"error_{m}"] = np.array(f"{type(e).__name__}: {e}")
            print(f"{m}: ERROR {type(e).__name__}: {e}", flush=True)
    big, dt = _timed(lambda: sbmljax.simulate(model, t, n_trajectories=100_000, seed=3, method="direct"))
    res["time_direct_100k"] = np.array(dt)
    res["events_direct_100k"] = np.array(float(np.sum(big.n_events)))
    print(f"direct 100k: {dt:.3f} s, {np.sum(big.n_events) / dt / 1e6:.1f} M events/s", flush=True)

    # The hybrid method on a stiff curated model (MAPK cascade, BIOMD0000000009; `auto` picks hybrid): its
    # implicit ODE solves (diffrax Kvaerno) run per lane under vmap, which is where a GPU differs most.
    stiff = sbmljax.load_sbml(ROOT / "tests" / "data" / "biomodels" / "BIOMD0000000009.xml")
    try:
        traj, dt = _timed(
            lambda: sbmljax.simulate(stiff, np.linspace(0.0, 100.0, 11), n_trajectories=20, seed=13, method="auto")
        )
        res["sim_stiff_auto"] = np.asarray(traj.counts, dtype=np.float64)
        res["time_stiff_auto"] = np.array(dt)
        print(f"BIOMD0000000009 auto ({traj.method}): 20 trajectories in {dt:.3f} s", flush=True)
    except Exception as e:  # recorded and reported, as above
        res["error_stiff_auto"] = np.array(f"{type(e).__name__}: {e}")
        print(f"BIOMD0000000009 auto: ERROR {type(e).__name__}: {e}", flush=True)

    # Likelihood and its gradient on data simulated from the model (I observed with Gaussian noise SD 5).
    data_traj = sbmljax.simulate(model, np.arange(0.0, 301.0, 20.0), n_trajectories=1, seed=11)
    i = data_traj.species.index("I")
    rng = np.random.default_rng(0)
    obs = data_traj.counts[0, :, i] + rng.normal(0, 5, data_traj.counts.shape[1])
    csv = Path(out).with_suffix(".data.csv")
    csv.write_text("time,I\n" + "".join(f"{a:g},{b:.6f}\n" for a, b in zip(data_traj.times[1:], obs[1:])))
    ll, dt = _timed(
        lambda: sbmljax.log_likelihood(
            model, str(csv), {"c1": 1e-4, "c2": 0.01}, n_particles=1000, seed=5, noise_sd=5.0, replicates=4, grad=True
        )
    )
    res["ll"] = np.array([ll.value, ll.stderr])
    names = sorted(ll.grad)
    res["ll_grad_names"] = np.array(names)
    res["ll_grad"] = np.array([ll.grad[k] for k in names])
    res["ll_grad_se"] = np.array([ll.grad_stderr[k] for k in names])
    res["time_ll"] = np.array(dt)
    print(f"log-likelihood {ll.value:.3f} ± {ll.stderr:.3f} in {dt:.3f} s; grad {dict(ll.grad)}", flush=True)

    g = sbmljax.value_and_grad(
        lambda x, _p: x[5, i],  # I at t = 250
        model,
        {"c1": 1e-4, "c2": 0.01},
        t,
        n_trajectories=4000,
        seed=9,
        estimator="score",
    )
    res["score"] = np.array([g.value, *[g.grad[k] for k in ("c1", "c2")]])
    res["score_se"] = np.array([g.value_stderr, *[g.stderr[k] for k in ("c1", "c2")]])
    print(f"score gradient: {g.value:.3f}, {g.grad}", flush=True)
    np.savez(out, **res)


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    print(f"A: {a['platform']} ({a['device']})   B: {b['platform']} ({b['device']})")
    bad = 0
    for m in (*METHODS, "stiff_auto"):
        ka = f"sim_{m}"
        if ka not in a or ka not in b:
            print(f"{m:9s} ERROR  A: {a.get(f'error_{m}', 'ok')}  B: {b.get(f'error_{m}', 'ok')}")
            bad += 1
            continue
        x, y = a[ka], b[ka]
        same = x.shape == y.shape and np.array_equal(x, y)
        mx, my = x.mean(0), y.mean(0)
        sx, sy = x.std(0, ddof=1), y.std(0, ddof=1)
        se = np.sqrt(sx**2 / len(x) + sy**2 / len(y))
        z = np.where(se > 0, (mx - my) / np.where(se > 0, se, 1), 0.0)
        rel = np.where(np.maximum(sx, sy) > 0, np.abs(sx - sy) / np.maximum(np.maximum(sx, sy), 1e-300), 0.0)
        ok = same or np.max(np.abs(z)) < 3.5
        bad += not ok
        print(
            f"{m:9s} bitwise equal: {same!s:5s}  max |Z| of means {np.max(np.abs(z)):.2f}  "
            f"max rel SD diff {np.max(rel):.3f}  time A {float(a[f'time_{m}']):.3f} s  B {float(b[f'time_{m}']):.3f} s"
            f"  {'ok' if ok else 'DIFFERS'}"
        )
    ra = float(a["events_direct_100k"]) / float(a["time_direct_100k"])
    rb = float(b["events_direct_100k"]) / float(b["time_direct_100k"])
    print(
        f"direct, 100,000 SIR trajectories: A {ra / 1e6:.1f} M events/s, B {rb / 1e6:.1f} M events/s, B/A {rb / ra:.2f}"
    )
    dll = float(a["ll"][0] - b["ll"][0]) / float(np.hypot(a["ll"][1], b["ll"][1]))
    print(f"log-likelihood A {a['ll'][0]:.3f} ± {a['ll'][1]:.3f}  B {b['ll'][0]:.3f} ± {b['ll'][1]:.3f}  Z {dll:.2f}")
    bad += abs(dll) > 3.5
    zg = (a["ll_grad"] - b["ll_grad"]) / np.hypot(a["ll_grad_se"], b["ll_grad_se"])
    print(f"likelihood gradient {list(a['ll_grad_names'])}: A {a['ll_grad']} B {b['ll_grad']} Z {zg}")
    bad += bool(np.any(np.abs(zg) > 3.5))
    zs = (a["score"] - b["score"]) / np.hypot(a["score_se"], b["score_se"])
    print(f"score estimator (value, dc1, dc2): A {a['score']} B {b['score']} Z {zs}")
    bad += bool(np.any(np.abs(zs) > 3.5))
    print("all agree" if not bad else f"{bad} check(s) differ")
    return int(bad > 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        run(sys.argv[2])
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
