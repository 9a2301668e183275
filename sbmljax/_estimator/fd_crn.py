"""Finite differences with common random numbers (the baseline CFD improves on)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx

from ._differences import AbstractFiniteDifference


class CommonRandomNumbers(AbstractFiniteDifference):
    """Finite differences of two independent-in-law SSA runs that share their random number stream.

    The runs at `θ ± h_j/2·e_j` use the same PRNG key per sample, so they agree until their first different
    reaction choice and then drift apart: common random numbers reduce the variance of `ℓ(Y) − ℓ(X)` only
    early in the path. Kept as the comparison point for `cfd`.

    - **Bias:** `O(h²)` centered (default), `O(h)` forward, `h_j = h·|θ_j|`.
    - **Variance:** up to `O(1/h²)` once the paths decorrelate; usually far above `cfd`'s.
    - **Cost:** `2m` exact simulations per sample.

    **Reference:** P. Glasserman, "Monte Carlo Methods in Financial Engineering", §7.1 (Springer 2003);
    for reaction networks see D. F. Anderson (2012), SIAM J. Numer. Anal. 50:2237.
    """

    h: float = eqx.field(default=0.05, static=True)
    centered: bool = eqx.field(default=True, static=True)

    name: ClassVar[str] = "fd_crn"
    unbiased: ClassVar[bool] = False
    coupled: ClassVar[bool] = False
