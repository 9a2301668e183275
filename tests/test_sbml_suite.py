"""The SBML Test Suite's stochastic cases, with the suite's own statistical criterion.

Cases 00001–00039 (DSMTS) run with n = 10,000 trajectories and a fixed seed per case; cases 00040–00100
need the `distrib` package and must be refused with a clear error naming it (recorded here as
expected-refused, not skipped).
"""

from __future__ import annotations

import pytest
from helpers import ALL_EXACT_METHODS
from sbml_suite import judge, load_case

import sbmljax
from sbmljax.errors import UnsupportedSBMLFeatureError

N = 10_000
SEED_OFFSET = 2026
DSMTS = list(range(1, 40))
DISTRIB = list(range(40, 101))
SLOW = {5, 23}  # 10^4 molecules or 10^3 immigrants per unit time: ~10^9 events for the whole ensemble
HEAVY_TAILED = {3}  # the SD statistic needs the kurtosis-aware form here: see sbml_suite's docstring
CONFIRM_SEED = 1_000_000  # offset of the independent confirmation run's seed
CONFIRM_FACTOR = 4  # its size, in multiples of N


def _param(c: int):
    return pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c


@pytest.mark.parametrize("method", ALL_EXACT_METHODS)
@pytest.mark.parametrize("case", [_param(c) for c in DSMTS])
def test_dsmts_case_passes(case: int, method: str) -> None:
    spec = load_case(case)
    model = sbmljax.load_sbml(spec.model)
    traj = sbmljax.simulate(model, spec.times, n_trajectories=N, seed=SEED_OFFSET + case, method=method)
    verdict = judge(spec, traj.species, traj.counts, robust_sd=case in HEAVY_TAILED)
    print(verdict)
    if not verdict.passed:
        # The suite's README: a correct simulator "will still occasionally fail a test or two", and failures
        # "should be checked to see if this is consistent". Output times are correlated, so one chance
        # excursion of the mean can cross the band at several neighbouring times (case 13 with NRM did, at
        # 5 consecutive times, with Z = -3.4, at this seed; 4 other seeds and n = 60,000 pass). The check is
        # an independent run 4x larger: a real bias of that size would have |Z| twice as large there, so the
        # confirmation must pass the same criterion outright.
        again = sbmljax.simulate(
            model, spec.times, n_trajectories=CONFIRM_FACTOR * N, seed=CONFIRM_SEED + case, method=method
        )
        confirm = judge(spec, again.species, again.counts, robust_sd=case in HEAVY_TAILED)
        print("confirmation:", confirm)
        assert confirm.passed, f"{verdict}; confirmation run: {confirm}"


@pytest.mark.parametrize("method", ALL_EXACT_METHODS)
@pytest.mark.parametrize("case", DISTRIB)
def test_distrib_case_is_refused(case: int, method: str) -> None:
    spec = load_case(case)
    model = sbmljax.load_sbml(spec.model)
    with pytest.raises(UnsupportedSBMLFeatureError, match="distrib"):
        sbmljax.simulate(model, spec.times, n_trajectories=10, seed=case, method=method)
