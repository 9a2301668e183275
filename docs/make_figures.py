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


if __name__ == "__main__":
    main()
