"""Regenerate sir_gradient_reference.json: a high-precision gradient for the SIR estimator-agreement test.

SIR (models/sir.xml) started from S=980, I=20, R=0; loss ||X(60) − (1, 200, 700)||; parameters c1 = 1e-4,
c2 = 0.01. Two independent estimates: coupled finite differences (h = 0.05 centered, O(h²) bias) and the
unbiased score function, each with 200,000 samples; the reference is their inverse-variance average, and
the file records both so the test can check they agree.

    python tests/data/reference/make_sir_gradient_reference.py   # a few minutes
"""

import json
import math
from pathlib import Path

import jax.numpy as jnp

import sbmljax

HERE = Path(__file__).parent
SETTING = {
    "initial": {"S": 980, "I": 20, "R": 0},
    "t_end": 60.0,
    "params": {"c1": 1e-4, "c2": 0.01},
    "target": [1.0, 200.0, 700.0],
}


def loss(counts, params):
    return jnp.linalg.norm(counts[-1] - jnp.asarray(SETTING["target"]))


def main() -> None:
    model = sbmljax.load_sbml(HERE.parents[2] / "models" / "sir.xml")
    out = {"setting": SETTING, "n": 200_000, "estimates": {}}
    for name, opts, seed in (("cfd", {"h": 0.05}, 11), ("score", {}, 12)):
        r = sbmljax.value_and_grad(
            loss,
            model,
            SETTING["params"],
            [0.0, SETTING["t_end"]],
            n_trajectories=out["n"],
            seed=seed,
            estimator=name,
            initial=SETTING["initial"],
            **opts,
        )
        out["estimates"][name] = {"value": r.value, "grad": r.grad, "stderr": r.stderr, "bias": r.bias}
    grad, se = {}, {}
    for k in SETTING["params"]:
        w = [1 / out["estimates"][e]["stderr"][k] ** 2 for e in ("cfd", "score")]
        grad[k] = sum(wi * out["estimates"][e]["grad"][k] for wi, e in zip(w, ("cfd", "score"))) / sum(w)
        se[k] = 1 / math.sqrt(sum(w))
    out["grad"], out["stderr"] = grad, se
    (HERE / "sir_gradient_reference.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
