"""Losses of simulated ensembles against data, each a documented choice.

Every loss compares a dataset's observables `h(X)` (formulas of the simulated counts, see
`sbmljax.data.observables`) with the measurements `y`, over measured points only, with residuals divided
by the measurement noise SD `σ` where the data give one (else `σ = 1`):

- `"expected_sse"`: `E[Σ ((h(X) − y)/σ)²]`, the expected squared error of single trajectories. An
  expectation of a per-trajectory loss, so every gradient estimator applies directly. It penalises the
  ensemble's spread as well as its mean (`E[(h − y)²] = Var h + (E h − y)²`).
- `"mean_sse"`: `Σ ((E[h(X)] − y)/σ)²`, the squared error of the ensemble mean. Its gradient,
  `Σ 2(E h − y)/σ² · ∇E[h]`, is estimated with the weights `2(μ̂ − y)/σ²` from an independent *pilot*
  ensemble, which keeps it unbiased (the weights are linear in the mean); the pilot costs one extra
  forward ensemble per step.
- `"gaussian_nll"`: moment matching, `Σ ½ log(2π s²) + (y − E h)²/(2 s²)` with `s² = Var h + σ²`: the
  negative log-likelihood of the data under a Gaussian with the simulated mean and variance (plus
  measurement noise). Its gradient uses pilot estimates of mean and variance as fixed weights of
  `∇E[h]` and `∇E[h²]`, a plug-in with `O(1/N)` bias. Noise formulas are evaluated at the pilot's mean
  counts.

Reported loss values of `mean_sse` and `gaussian_nll` are the plug-in values from the pilot ensemble.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._registry import instantiate
from .data import Dataset, noise_model, observables


@dataclasses.dataclass(frozen=True, eq=False)
class DataTerm:
    """The datasets that share one simulation (same times, condition and observables — replicates), with
    their observable and noise functions and the fixed parameters the formulas read.

    Arrays are stacked over the `K` datasets: `y`, `mask` and the outputs of `observe`/`sigma` are
    `(K, T, O)`; a loss sums over all of them.
    """

    datasets: tuple[Dataset, ...]
    obs: tuple[Callable, ...]
    noise: tuple[Callable | None, ...]
    fixed: Mapping[str, float]

    @property
    def y(self) -> jax.Array:
        return jnp.asarray(np.stack([np.nan_to_num(d.values) for d in self.datasets]))

    @property
    def mask(self) -> jax.Array:
        return jnp.asarray(np.stack([~np.isnan(d.values) for d in self.datasets]), dtype=jnp.float64)

    def params(self, params: Mapping[str, object]) -> dict:
        return {**self.fixed, **params}

    def observe(self, counts, params) -> jax.Array:
        """Observables of one trajectory's counts for every dataset of the term, `(K, T, O)`."""
        return jnp.stack([f(counts, self.params(params)) for f in self.obs])

    def sigma(self, counts, params) -> jax.Array:
        """Measurement noise SDs `(K, T, O)` (1 where a dataset gives none)."""
        ones = jnp.ones(self.y.shape[1:])
        return jnp.stack([ones if f is None else f(counts, self.params(params)) for f in self.noise])


def data_term(datasets: Sequence[Dataset], model, fixed: Mapping[str, float]) -> DataTerm:
    """Build the `DataTerm` of datasets sharing a simulation (unknown noise means `σ = 1`).

    **Raises:** `DataError` for an observable that is not normal on the linear scale (a count model, laplace
    noise or a log transformation): the moment losses cannot honour it, `loss="likelihood"` can."""
    from .errors import DataError

    for d in datasets:
        for o in d.observables:
            if not o.plain:
                raise DataError(
                    f"{d.source or d.name}: observable '{o.id}' has {o.transformation}-scale {o.distribution} noise; "
                    "the moment losses assume normal noise on the linear scale: use loss='likelihood'"
                )
    noise = tuple(noise_model(d, model) if all(o.noise is not None for o in d.observables) else None for d in datasets)
    return DataTerm(tuple(datasets), tuple(observables(d, model) for d in datasets), noise, dict(fixed))


class AbstractLoss(eqx.Module):
    """A loss of a simulated ensemble against one dataset (see the module docstring)."""

    name: ClassVar[str]
    pilot: ClassVar[bool]

    @abc.abstractmethod
    def trajectory_loss(self, term: DataTerm, moments: Moments | None) -> Callable:
        """`loss(counts, params) -> scalar` of one trajectory whose expected gradient is the loss's gradient
        (`moments` from the pilot ensemble for losses that need one)."""

    @abc.abstractmethod
    def value(self, term: DataTerm, moments: Moments | None) -> float | None:
        """The loss value to report from the pilot's moments, or `None`: the mean per-trajectory loss."""


def _pilot_moments(loss: AbstractLoss, moments: Moments | None) -> Moments:
    """`moments`, which a loss with `pilot = True` needs (the caller runs the pilot ensemble first)."""
    if moments is None:
        raise ValueError(f"loss {loss.name!r} needs the moments of a pilot ensemble")
    return moments


class ExpectedSquaredError(AbstractLoss):
    """`E[Σ ((h(X) − y)/σ)²]` over measured points (see the module docstring)."""

    name: ClassVar[str] = "expected_sse"
    pilot: ClassVar[bool] = False

    def trajectory_loss(self, term: DataTerm, moments=None) -> Callable:
        return _SquaredError(term)

    def value(self, term, moments):
        return None


@dataclasses.dataclass(frozen=True)
class Moments:
    """Pilot-ensemble estimates at the current parameters: observable mean and variance `(K, T, O)`, the
    noise SD at the mean counts, and the mean counts `(T, S)`."""

    mean: jax.Array
    var: jax.Array
    sigma: jax.Array
    mean_counts: jax.Array


def pilot_moments(term: DataTerm, pilot_counts: np.ndarray, params: Mapping[str, float]) -> Moments:
    """Moments of the observables over a pilot ensemble `(N, T, S)` at parameter values `params`."""
    h = jax.vmap(lambda c: term.observe(c, params))(jnp.asarray(pilot_counts))
    mean_counts = jnp.asarray(pilot_counts).mean(axis=0)
    return Moments(h.mean(axis=0), h.var(axis=0, ddof=1), term.sigma(mean_counts, params), mean_counts)


class MeanSquaredError(AbstractLoss):
    """`Σ ((E[h(X)] − y)/σ)²` over measured points, gradient weights from a pilot (see the module docstring)."""

    name: ClassVar[str] = "mean_sse"
    pilot: ClassVar[bool] = True

    def trajectory_loss(self, term: DataTerm, moments: Moments | None) -> Callable:
        moments = _pilot_moments(self, moments)
        return _Weighted(term, 2.0 * term.mask * (moments.mean - term.y) / moments.sigma**2)  # ∂F/∂μ at the pilot

    def value(self, term, moments):
        return float(jnp.sum(term.mask * ((moments.mean - term.y) / moments.sigma) ** 2))


class GaussianNLL(AbstractLoss):
    """Moment-matching Gaussian negative log-likelihood (see the module docstring)."""

    name: ClassVar[str] = "gaussian_nll"
    pilot: ClassVar[bool] = True

    def trajectory_loss(self, term: DataTerm, moments: Moments | None) -> Callable:
        moments = _pilot_moments(self, moments)
        return _MomentMatching(term, moments.mean, moments.var, moments.sigma, moments.mean_counts)

    def value(self, term, moments):
        s2 = moments.var + moments.sigma**2
        return float(jnp.sum(term.mask * (0.5 * jnp.log(2 * math.pi * s2) + (term.y - moments.mean) ** 2 / (2 * s2))))


class _SquaredError(eqx.Module):
    term: DataTerm = eqx.field(static=True)

    def __call__(self, counts, params):
        t = self.term
        r = (t.observe(counts, params) - t.y) / t.sigma(counts, params)
        return jnp.sum(t.mask * r**2)


class _Weighted(eqx.Module):
    """`Σ w·h(X)`: an expected value whose gradient is `Σ w·∇E[h]` (weights fixed from the pilot)."""

    term: DataTerm = eqx.field(static=True)
    w: jax.Array

    def __call__(self, counts, params):
        return jnp.sum(self.w * self.term.observe(counts, params))


class _MomentMatching(eqx.Module):
    """Per-trajectory surrogate of the Gaussian moment-matching NLL at the pilot's mean and variance."""

    term: DataTerm = eqx.field(static=True)
    mu: jax.Array
    var: jax.Array
    sigma: jax.Array
    mean_counts: jax.Array

    def __call__(self, counts, params):
        t, mu, var = self.term, self.mu, self.var
        y, mask = t.y, t.mask
        s2 = var + self.sigma**2
        a = mask * (mu - y) / s2  # ∂F/∂μ at the pilot
        b = mask * (0.5 / s2 - (y - mu) ** 2 / (2 * s2**2))  # ∂F/∂Var at the pilot
        h = t.observe(counts, params)
        # ∇Var = ∇E[h²] − 2μ∇E[h]. The last two terms are zero in value and carry F's direct dependence on
        # parameters of the noise formulas (evaluated at the pilot's mean counts).
        direct_s2 = var + t.sigma(self.mean_counts, params) ** 2
        direct = jnp.sum(mask * (0.5 * jnp.log(2 * math.pi * direct_s2) + (y - mu) ** 2 / (2 * direct_s2)))
        return jnp.sum(a * h + b * (h**2 - 2 * mu * h)) + direct - jax.lax.stop_gradient(direct)


LOSSES: dict[str, type[AbstractLoss]] = {c.name: c for c in (ExpectedSquaredError, MeanSquaredError, GaussianNLL)}


def make_loss(loss: str | AbstractLoss) -> AbstractLoss:
    """The loss for a `loss=` string, or `loss` itself."""
    return instantiate(loss, LOSSES, AbstractLoss, "loss", {})
