"""Gradient estimators: one per module, all behind `AbstractGradientEstimator`."""

from __future__ import annotations

from .base import (
    AbstractGradientEstimator as AbstractGradientEstimator,
)
from .base import (
    GradProblem as GradProblem,
)
from .base import (
    GradResult as GradResult,
)
from .cfd import CoupledFiniteDifference as CoupledFiniteDifference
from .fd_crn import CommonRandomNumbers as CommonRandomNumbers
from .nrm_pathwise import NRMPathwise as NRMPathwise
from .score import ScoreFunction as ScoreFunction
from .tau_pathwise import TauPathwise as TauPathwise

ESTIMATORS: dict[str, type[AbstractGradientEstimator]] = {
    ScoreFunction.name: ScoreFunction,
    CoupledFiniteDifference.name: CoupledFiniteDifference,
    CommonRandomNumbers.name: CommonRandomNumbers,
    TauPathwise.name: TauPathwise,
    NRMPathwise.name: NRMPathwise,
}
