"""`sbmljax` command line: `info`, `simulate` (and the commands later modules register).

Every command reads and writes files only. On bad input it prints one line, `sbmljax: error: …`, to
stderr and exits with status 1, leaving no partial output file (outputs are written atomically);
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from .errors import ConfigError, SbmlJaxError

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: `configure` adds its arguments, the decorated function runs it."""

    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (configure, run)
        return run

    return register


def parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, float]:
    """`["k1=0.1", "k2=2e-3"]` → `{"k1": 0.1, "k2": 0.002}`."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"{what} {item!r} is not of the form name=value")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{what} {item!r}: {value!r} is not a number") from None
    return out


def add_substance_units_argument(p: argparse.ArgumentParser) -> None:
    """`--substance-units` and `--system-size`, for every command that loads models."""
    from .sbml._units import SUBSTANCE_POLICIES

    p.add_argument(
        "--substance-units",
        choices=list(SUBSTANCE_POLICIES),
        default="auto",
        help="how amounts become molecule counts (default: auto, the model's declared units)",
    )
    p.add_argument(
        "--system-size",
        type=float,
        default=None,
        metavar="OMEGA",
        help="molecules per substance unit, for models in concentrations or fractions of a molecule "
        "(amounts × OMEGA become counts, propensities OMEGA × the kinetic laws)",
    )


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="SBML file")
    add_substance_units_argument(p)


def _configure_info(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


@command("info", _configure_info)
def _info(args: argparse.Namespace) -> int:
    from .sbml import load_sbml

    model = load_sbml(args.model, substance_units=args.substance_units, system_size=args.system_size)
    print(json.dumps(model.summary(), indent=2) if args.json else model.info())
    return 0


def _configure_simulate(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument(
        "--method", default="direct", help="direct, nrm, tau_leap, extrande, hybrid or auto (default: direct)"
    )
    p.add_argument("--n", type=int, default=100, help="number of trajectories (default 100)")
    p.add_argument("--t-start", type=float, default=0.0, help="start time (default 0)")
    p.add_argument("--t-end", type=float, required=True, help="last output time")
    p.add_argument("--points", type=int, default=101, help="number of output times, evenly spaced (default 101)")
    p.add_argument("--seed", type=int, required=True, help="random seed (required: results are reproducible)")
    p.add_argument("--param", nargs="*", metavar="ID=VALUE", help="parameter overrides, e.g. c1=2e-4 R1.k=3")
    p.add_argument("--tau", type=float, help="tau-leaping: fixed step")
    p.add_argument("--epsilon", type=float, help="tau-leaping: adaptive step error control (Cao et al. 2006)")
    p.add_argument("--out", required=True, help="CSV of trajectories (columns trajectory, time, species…)")
    p.add_argument("--summary", help="also write per-time ensemble statistics (mean, sd, quantiles) as CSV")
    p.add_argument(
        "--plot", help="also write a figure of the ensemble (.png, .pdf or .svg: mean ± SD, quantiles, paths)"
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar")


@command("simulate", _configure_simulate)
def _simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from ._simulate import simulate
    from ._trajectory import atomic_write_text
    from .sbml import load_sbml

    if args.points < 1:
        raise ConfigError("--points must be at least 1")
    if args.t_end < args.t_start:
        raise ConfigError("--t-end must not be before --t-start")
    if args.plot:
        from .plot import figure_format

        figure_format(args.plot)  # refuse a bad extension before simulating, not after writing the CSV
    options = {k: v for k, v in (("tau", args.tau), ("epsilon", args.epsilon)) if v is not None}
    model = load_sbml(args.model, substance_units=args.substance_units, system_size=args.system_size)
    t_eval = np.linspace(args.t_start, args.t_end, args.points)
    traj = simulate(
        model,
        t_eval,
        n_trajectories=args.n,
        seed=args.seed,
        method=args.method,
        params=parse_assignments(args.param, "--param"),
        t0=args.t_start,
        progress=args.progress,
        **options,
    )
    traj.to_csv(args.out)
    if args.summary:
        atomic_write_text(args.summary, traj.summary_dataframe().to_csv(index=False))
    if args.plot:
        from .plot import plot_ensemble, save_figure

        save_figure(plot_ensemble(traj, model=model), args.plot)
    for note in traj.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    _load_optional_commands()
    parser = argparse.ArgumentParser(prog="sbmljax", description="Stochastic simulation and fitting of SBML models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument(
        "--cores",
        default="1",
        metavar="N",
        help="CPU cores for independent particle filters (replicates, IF2 chains): a number or 'all' (default 1; "
        "the results are the same for every count)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (configure, run) in COMMANDS.items():
        p = sub.add_parser(name, help=(run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None)
        configure(p)
        p.set_defaults(run=run)
    return parser


def _load_optional_commands() -> None:
    """Import the modules that register more subcommands (fit, check, loglik)."""
    import importlib

    for module in ("sbmljax._fit_cli", "sbmljax._check", "sbmljax._likelihood.cli"):
        importlib.import_module(module)


def _use_cores(value: str) -> None:
    """`--cores`: before any JAX computation, ask JAX for that many CPU devices (`sbmljax.use_cpu_cores`)."""
    from ._config import use_cpu_cores

    if value == "all":
        use_cpu_cores()
        return
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"--cores {value!r}: give a number of cores or 'all'") from None
    if n != 1:  # 1 asks for nothing: JAX's default (or JAX_NUM_CPU_DEVICES) stands
        use_cpu_cores(n)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sbmljax` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Each command is a fresh process: without a persistent cache it compiles the ensemble runner again.
    from ._config import enable_compilation_cache

    enable_compilation_cache()
    try:
        _use_cores(args.cores)
        return args.run(args)
    except SbmlJaxError as e:
        if args.debug:
            raise
        print(f"sbmljax: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"sbmljax: error: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sbmljax: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
