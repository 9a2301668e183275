"""`sbmljax fit`: fit a model to quick-form CSV data or a PEtab problem; writes the result as JSON."""

from __future__ import annotations

import argparse
import sys

from ._cli import command
from .errors import ConfigError


def parse_free(items: list[str] | None) -> dict[str, object]:
    """`["c1=1e-4", "c2=0.01:0.001:1"]` → `{"c1": 1e-4, "c2": (0.01, 0.001, 1.0)}` (start or start:lower:upper)."""
    out: dict[str, object] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--free {item!r} is not of the form id=value or id=value:lower:upper")
        try:
            parts = [float(v) for v in value.split(":")]
        except ValueError:
            raise ConfigError(f"--free {item!r}: {value!r} is not a number (or value:lower:upper)") from None
        if len(parts) not in (1, 3):
            raise ConfigError(f"--free {item!r}: give value or value:lower:upper")
        out[name.strip()] = parts[0] if len(parts) == 1 else tuple(parts)
    return out


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="SBML file (omit with --petab)")
    p.add_argument("data", nargs="*", help="quick-form CSV files: a time column and one column per observed species")
    p.add_argument("--petab", help="PEtab problem YAML (instead of MODEL and DATA)")
    p.add_argument(
        "--free",
        nargs="*",
        metavar="ID=VALUE",
        help="parameters to estimate with start values (value or value:lower:upper)",
    )
    p.add_argument("--seed", type=int, required=True, help="random seed (required: results are reproducible)")
    p.add_argument("--out", required=True, help="JSON result file")
    p.add_argument("--estimator", default="score", help="score, cfd, fd_crn or tau_pathwise (default score)")
    p.add_argument(
        "--loss",
        default=None,
        help="mean_sse, expected_sse, gaussian_nll or likelihood (particle filter; --n particles) (default: "
        "likelihood when the data have a noise model, else mean_sse)",
    )
    p.add_argument("--start", choices=["if2"], help="with likelihood: start from an IF2 search (sbmljax.if2)")
    p.add_argument(
        "--method",
        help="with likelihood: the particle filter's simulator, direct (default), nrm or binomial_leap (with --tau)",
    )
    p.add_argument("--tau", type=float, help="with likelihood and --method binomial_leap: the leap's fixed step")
    p.add_argument("--n", type=int, default=200, help="trajectories per dataset and iteration (default 200)")
    p.add_argument("--iterations", type=int, default=150, help="optimiser steps (default 150)")
    p.add_argument(
        "--learning-rate", type=float, default=0.05, help="Adam step size on the parameters' scales (default 0.05)"
    )
    p.add_argument("--noise-sd", type=float, help="measurement noise SD of quick-form data (default: unweighted)")
    p.add_argument("--ode-fit", action="store_true", help="also fit the ODE model with libRoadRunner and report it")
    p.add_argument("--param-table", help="write the PEtab parameter table with the fitted values here")
    p.add_argument("--progress", action="store_true", help="show a progress bar with the current loss")


@command("fit", _configure)
def _fit(args: argparse.Namespace) -> int:
    """Fit parameters to data by stochastic gradient descent; write a JSON result."""
    from ._fit import fit

    if args.petab:
        if args.model or args.data:
            raise ConfigError("give either --petab PROBLEM.yaml or MODEL.xml DATA.csv ..., not both")
        target, datasets = args.petab, None
    else:
        if not args.model or not args.data:
            raise ConfigError("give MODEL.xml and at least one DATA.csv (or --petab PROBLEM.yaml)")
        if not args.free:
            raise ConfigError("--free is required with MODEL and DATA: which parameters to estimate, with start values")
        target, datasets = args.model, args.data
    if args.param_table and not args.param_table.endswith((".tsv", ".txt")):
        raise ConfigError("--param-table must be a .tsv file (PEtab tables are tab-separated)")
    options = None
    if args.method is not None or args.tau is not None:
        from ._simulator import make_simulator

        if args.method is None:
            raise ConfigError("--tau needs --method (binomial_leap)")
        if args.loss not in (None, "likelihood"):
            raise ConfigError(
                f"--method and --tau choose the particle filter of --loss likelihood; with --loss {args.loss} the "
                "simulations are the gradient estimator's (--estimator)"
            )
        tau = {} if args.tau is None else {"tau": args.tau}
        options = {"method": make_simulator(args.method, **tau)}
    result = fit(
        target,
        datasets,
        parse_free(args.free) if args.free else None,
        estimator=args.estimator,
        loss=args.loss,
        start=args.start,
        n_trajectories=args.n,
        seed=args.seed,
        iterations=args.iterations,
        learning_rate=args.learning_rate,
        noise_sd=args.noise_sd,
        ode_fit=args.ode_fit,
        progress=args.progress,
        estimator_options=options,
    )
    # Write the table first: if it fails, no JSON claims a finished result.
    if args.param_table:
        result.write_parameter_table(args.param_table)
    result.to_json(args.out)
    summary = ", ".join(f"{k}={v:.6g} ± {result.stderr[k]:.2g}" for k, v in result.params.items())
    print(
        f"fitted {summary} ({result.iterations} iterations, {result.n_simulations} simulations, {result.wall_time_s:.1f} s)",
        file=sys.stderr,
    )
    return 0
