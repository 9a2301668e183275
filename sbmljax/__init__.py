"""sbmljax: exact and differentiable stochastic simulation of SBML reaction networks in JAX.

Data flows import → model → propensities → simulator → estimator → fit → report:

- `load_sbml` reads SBML (a file, text or a tellurium model) into a `Model`, `load_antimony` Antimony text;
- `simulate` runs ensembles with an exact or approximate simulator;
- `log_likelihood` computes the particle-filter log-likelihood of time-series data (and its gradient);
  `if2` maximises it by iterated filtering, `profile` gives profile-likelihood intervals;
- `check_models` scans SBML files and folders for what can be simulated, and how (`sbmljax check`);
- `sbmljax.plot` draws ensembles, fits and gradient diagnostics (matplotlib, no display needed);
- `sbmljax.errors` holds the exception types.

Numerics are float64: public entry points enable JAX's 64-bit mode for their own duration only.
"""

from __future__ import annotations

from . import errors as errors
from . import plot as plot
from ._check import check_models as check_models
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
from ._fit import FitHistory as FitHistory
from ._fit import FitResult as FitResult
from ._fit import default_optimizer as default_optimizer
from ._fit import fit as fit
from ._grad import grad as grad
from ._grad import value_and_grad as value_and_grad
from ._likelihood import IF2Result as IF2Result
from ._likelihood import LogLikelihood as LogLikelihood
from ._likelihood import ProfileResult as ProfileResult
from ._likelihood import if2 as if2
from ._likelihood import log_likelihood as log_likelihood
from ._likelihood import profile as profile
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
