"""Make the figures the docs show (committed under docs/_generated/): `python docs/make_figures.py`.

Each figure is made with the same calls as the example next to it on its page.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    import numpy as np

    import sbmljax
    from sbmljax.plot import plot_ensemble, save_figure

    # getting-started.md, "Plotting"
    model = sbmljax.load_sbml(REPO / "models" / "sir.xml")
    traj = sbmljax.simulate(model, np.linspace(0.0, 250.0, 51), n_trajectories=200, seed=0)
    fig = plot_ensemble(traj, model=model)
    save_figure(fig, DOCS / "_generated" / "sir-ensemble.png", dpi=100)
    print("wrote", DOCS / "_generated" / "sir-ensemble.png")
    boarding_school()


def boarding_school() -> None:
    """tutorial-fitting.md: the outbreak fitted with each loss and with the ODE; a figure and a table."""
    import datetime
    import time

    import numpy as np

    import sbmljax
    from sbmljax.plot import plot_ensemble, plot_loss_history, save_figure
    from sbmljax.reference import ode

    problem = REPO / "data" / "boarding_school" / "problem.yaml"
    rows, fits = [], {}
    for loss in ("gaussian_nll", "mean_sse", "expected_sse"):
        start = time.perf_counter()
        fit = sbmljax.fit(
            problem,
            loss=loss,
            n_trajectories=128,
            seed=1,
            iterations=200,
            learning_rate=0.1,
            ode_fit=loss == "gaussian_nll",
        )
        fits[loss] = fit
        r0 = fit.params["beta"] * 763 / fit.params["gamma"]
        rows.append((f"stochastic, `{loss}`", fit.params["beta"], fit.params["gamma"], r0, time.perf_counter() - start))
    o = fits["gaussian_nll"].ode_fit
    rows.append(
        (
            "ODE (libRoadRunner, least squares)",
            o["params"]["beta"],
            o["params"]["gamma"],
            o["params"]["beta"] * 763 / o["params"]["gamma"],
            float("nan"),
        )
    )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        f"Measured {stamp} with `python docs/make_figures.py` (score estimator, n = 128 per iteration, 200 "
        "iterations, seed 1).",
        "",
        "| fit | beta (per pupil per day) | gamma (per day) | R0 = beta·763/gamma | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {a} | {b:.4g} | {c:.4g} | {d:.2f} | {'' if e != e else f'{e:.0f}'} |" for a, b, c, d, e in rows]
    (DOCS / "_generated" / "boarding-school.md").write_text("\n".join(lines) + "\n")

    fit = fits["gaussian_nll"]
    model = fit.problem.model
    t = np.linspace(0.0, 14.0, 57)
    traj = sbmljax.simulate(model, t, n_trajectories=500, seed=2, params=fit.params)
    ode_fit = ode(model, o["params"], t)
    data = fit.problem.datasets[0].to_dataframe().rename(columns={"obs_I": "I"})
    fig = plot_ensemble(
        traj, species=["I"], model=model, ode=ode_fit, data=data, title="Boarding school: stochastic vs ODE fit"
    )
    save_figure(fig, DOCS / "_generated" / "boarding-school-fit.png", dpi=100)
    save_figure(plot_loss_history(fit.history["loss"]), DOCS / "_generated" / "boarding-school-loss.png", dpi=100)
    print("wrote the boarding-school figures and table")


if __name__ == "__main__":
    main()
