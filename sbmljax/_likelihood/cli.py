"""`sbmljax loglik`: the particle-filter log-likelihood of a model given data; prints (and writes) JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json

from .._cli import add_substance_units_argument, command, parse_assignments
from ..errors import ConfigError


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="SBML file, or a PEtab problem YAML (then no DATA)")
    p.add_argument("data", nargs="*", help="quick-form CSV files: a time column and one column per observed species")
    add_substance_units_argument(p)
    p.add_argument("--param", nargs="*", metavar="ID=VALUE", help="parameter values, e.g. k1=0.5 rho=0.9")
    p.add_argument("--particles", type=int, default=1000, help="particles per filter (default 1000)")
    p.add_argument("--replicates", type=int, default=4, help="independent filters for the standard error (default 4)")
    p.add_argument("--seed", type=int, required=True, help="random seed (required: results are reproducible)")
    p.add_argument(
        "--method",
        default="direct",
        help="direct, nrm, binomial_leap (pomp's Euler-binomial step; needs --tau) or tau_leap (default: direct)",
    )
    p.add_argument("--tau", type=float, help="the leap's fixed step (binomial_leap, tau_leap), e.g. 0.0833")
    p.add_argument("--noise-sd", type=float, help="known Gaussian measurement SD of quick-form data")
    p.add_argument(
        "--resample-threshold",
        type=float,
        default=0.5,
        help="resample when the effective sample size falls below this fraction of the particles (default 0.5; "
        "1 = at every observation, as pomp)",
    )
    p.add_argument("--grad", action="store_true", help="also estimate the gradient for every --param (and estimated)")
    p.add_argument("--out", help="also write the result as JSON here")


@command("loglik", _configure)
def _loglik(args: argparse.Namespace) -> int:
    """Log-likelihood of data by particle filtering; prints JSON."""
    from .._trajectory import atomic_write_text
    from .api import log_likelihood

    if args.model.lower().endswith((".yaml", ".yml")):
        if args.data:
            raise ConfigError("a PEtab problem brings its own data; give no DATA files with it")
        model, data = None, args.model
    else:
        if not args.data:
            raise ConfigError("no DATA: give quick-form CSV files after the model (or a PEtab YAML alone)")
        from ..sbml import load_sbml

        model, data = load_sbml(args.model, substance_units=args.substance_units), list(args.data)
    method = args.method
    if args.tau is not None:
        from .._simulator import make_simulator

        method = make_simulator(args.method, tau=args.tau)
    res = log_likelihood(
        model,
        data,
        parse_assignments(args.param, "--param"),
        n_particles=args.particles,
        replicates=args.replicates,
        seed=args.seed,
        method=method,
        noise_sd=args.noise_sd,
        grad=args.grad,
        resample_threshold=args.resample_threshold,
    )
    text = json.dumps(dataclasses.asdict(res), indent=2, allow_nan=True)
    if args.out:
        atomic_write_text(args.out, text)
    print(text)
    return 0
