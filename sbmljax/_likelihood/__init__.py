"""Likelihood of time-series data by particle filtering: one algorithm per module.

- `bootstrap.py`: the bootstrap particle filter, with the path-score gradient (Fisher identity);
- `observation.py`: measurement densities (PEtab's normal/laplace on lin/log/log10 scales, count models);
- `dataset_filter.py`: one dataset's compiled filter (initial state, jitted filter, its errors);
- `api.py`: `log_likelihood` and `ParticleLikelihood` (compiled once, evaluated many times);
- `if2.py`: iterated filtering (IF2), `sbmljax.if2` and `fit(start="if2")`; its iteration (`if2_kernel.py`),
  settings (`if2_setup.py`) and loop with `IF2Result` (`if2_run.py`);
- `profile.py`: `sbmljax.profile`, profile likelihood with Monte Carlo–adjusted (MCAP) intervals;
- `smoothing.py`: `sbmljax.smoothed_paths`, latent paths given the data by tracing the filter's genealogy;
- `objective.py`: `LikelihoodObjective`, `fit(loss="likelihood")`'s objective; `cli.py`: `sbmljax loglik`.
"""

from __future__ import annotations

from .api import LogLikelihood as LogLikelihood
from .api import ParticleLikelihood as ParticleLikelihood
from .api import log_likelihood as log_likelihood
from .if2 import IF2Result as IF2Result
from .if2 import if2 as if2
from .profile import ProfileResult as ProfileResult
from .profile import profile as profile
