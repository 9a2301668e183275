"""sbmljax: exact and differentiable stochastic simulation of SBML reaction networks in JAX.

Data flows import → model → propensities → simulator → estimator → fit → report:

- `load_sbml` reads SBML (a file, text or a tellurium model) into a `Model`, `load_antimony` Antimony text;
- `simulate` runs ensembles with an exact or approximate simulator;
- `log_likelihood` computes the particle-filter log-likelihood of time-series data (and its gradient);
  `if2` maximises it by iterated filtering, `profile` gives profile-likelihood intervals, `smoothed_paths`
  draws latent paths given the data;
- `check_models` scans SBML files and folders for what can be simulated, and how (`sbmljax check`);
- `sbmljax.plot` draws ensembles, fits and gradient diagnostics (matplotlib, no display needed);
- `sbmljax.errors` holds the exception types;
- `use_cpu_cores` spreads independent particle filters (replicates, IF2 chains) over the CPU's cores.

Numerics are float64: public entry points enable JAX's 64-bit mode for their own duration only.

The package imports lazily (PEP 562): `import sbmljax` loads only the error types, and each public name's
module is imported on first use. This keeps the Snakemake workflow's parse (which needs only the config and
dataset-sheet checks of `sbmljax.workflow`) free of JAX's import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors as errors

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from . import plot as plot
    from ._check import check_models as check_models
    from ._config import use_cpu_cores as use_cpu_cores
    from ._estimator import (
        AbstractGradientEstimator as AbstractGradientEstimator,
    )
    from ._estimator import (
        CommonRandomNumbers as CommonRandomNumbers,
    )
    from ._estimator import (
        CoupledFiniteDifference as CoupledFiniteDifference,
    )
    from ._estimator import (
        GradResult as GradResult,
    )
    from ._estimator import (
        NRMPathwise as NRMPathwise,
    )
    from ._estimator import (
        ScoreFunction as ScoreFunction,
    )
    from ._estimator import (
        TauPathwise as TauPathwise,
    )
    from ._fit import (
        FitHistory as FitHistory,
    )
    from ._fit import (
        FitResult as FitResult,
    )
    from ._fit import (
        default_optimizer as default_optimizer,
    )
    from ._fit import (
        fit as fit,
    )
    from ._grad import grad as grad
    from ._grad import value_and_grad as value_and_grad
    from ._likelihood import (
        IF2Result as IF2Result,
    )
    from ._likelihood import (
        LogLikelihood as LogLikelihood,
    )
    from ._likelihood import (
        ProfileResult as ProfileResult,
    )
    from ._likelihood import (
        log_likelihood as log_likelihood,
    )
    from ._likelihood.if2 import (
        if2 as if2,
    )
    from ._likelihood.profile import (
        profile as profile,
    )
    from ._likelihood.smoothing import (
        SmoothedPaths as SmoothedPaths,
    )
    from ._likelihood.smoothing import (
        smoothed_paths as smoothed_paths,
    )
    from ._model import Model as Model
    from ._simulate import simulate as simulate
    from ._simulator import (
        AbstractSimState as AbstractSimState,
    )
    from ._simulator import (
        AbstractSimulator as AbstractSimulator,
    )
    from ._simulator import (
        BinomialLeaping as BinomialLeaping,
    )
    from ._simulator import (
        Extrande as Extrande,
    )
    from ._simulator import (
        GillespieDirect as GillespieDirect,
    )
    from ._simulator import (
        HybridSimulator as HybridSimulator,
    )
    from ._simulator import (
        NextReaction as NextReaction,
    )
    from ._simulator import (
        TauLeaping as TauLeaping,
    )
    from ._simulator.nrm import EventPath as EventPath
    from ._trajectory import Trajectories as Trajectories
    from .data import Dataset as Dataset
    from .sbml import load_antimony as load_antimony
    from .sbml import load_sbml as load_sbml

__version__ = "0.1.0"

# Public name → the module (relative to this package) that defines it.
_EXPORTS: dict[str, str] = {
    "check_models": "._check",
    "use_cpu_cores": "._config",
    "AbstractGradientEstimator": "._estimator",
    "CommonRandomNumbers": "._estimator",
    "CoupledFiniteDifference": "._estimator",
    "GradResult": "._estimator",
    "NRMPathwise": "._estimator",
    "ScoreFunction": "._estimator",
    "TauPathwise": "._estimator",
    "FitHistory": "._fit",
    "FitResult": "._fit",
    "default_optimizer": "._fit",
    "fit": "._fit",
    "grad": "._grad",
    "value_and_grad": "._grad",
    "IF2Result": "._likelihood",
    "LogLikelihood": "._likelihood",
    "ProfileResult": "._likelihood",
    "if2": "._likelihood.if2",
    "log_likelihood": "._likelihood",
    "profile": "._likelihood.profile",
    "SmoothedPaths": "._likelihood.smoothing",
    "smoothed_paths": "._likelihood.smoothing",
    "Model": "._model",
    "simulate": "._simulate",
    "AbstractSimState": "._simulator",
    "AbstractSimulator": "._simulator",
    "BinomialLeaping": "._simulator",
    "Extrande": "._simulator",
    "GillespieDirect": "._simulator",
    "HybridSimulator": "._simulator",
    "NextReaction": "._simulator",
    "TauLeaping": "._simulator",
    "EventPath": "._simulator.nrm",
    "Trajectories": "._trajectory",
    "Dataset": ".data",
    "load_antimony": ".sbml",
    "load_sbml": ".sbml",
}

__all__ = ["errors", "plot", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562); submodules (`sbmljax._prng`, ...) likewise."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # later accesses skip this function
        return value
    try:
        return importlib.import_module("." + name, __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise  # a missing dependency inside an existing submodule is its own error
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
