"""The per-trajectory random-number stream (`sbmljax._prng`): the xoshiro128++ recurrence against a plain-Python
transcription of the reference C code, the distribution and independence of what it draws, and the
reproducibility contract it carries (a trajectory's results depend on its seed and index only).

Statistical checks use fixed seeds and p-value thresholds of 1e-4 (a correct generator fails one of them
with probability about 1e-4 per check), correlations a bound of 4 standard errors (1/√n each)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sbml_model
from scipy import stats

import sbmljax
from sbmljax._poisson import poisson
from sbmljax._prng import Stream, rejection, rejection_compacted, seed_stream, stream_of_words

N = 200_000
P_MIN = 1e-4
M32 = 0xFFFFFFFF


def _reference(state: list[int], n: int) -> list[int]:
    """xoshiro128++ as in Blackman & Vigna's xoshiro128plusplus.c, in Python integers."""

    def rotl(x, k):
        return ((x << k) | (x >> (32 - k))) & M32

    s = list(state)
    out = []
    for _ in range(n):
        out.append((rotl((s[0] + s[3]) & M32, 7) + s[0]) & M32)
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 11)
    return out


def _stream(i: int = 0, seed: int = 7) -> Stream:
    return seed_stream(jax.random.fold_in(jax.random.key(seed), i))


def _uniforms(n: int, i: int = 0, seed: int = 7) -> np.ndarray:
    with jax.enable_x64(True):
        u, _ = jax.jit(lambda s: s.uniforms(n), static_argnums=())(_stream(i, seed))
        return np.asarray(u)


def test_outputs_match_the_reference_implementation() -> None:
    words = [0x12345678, 0x9ABCDEF0, 0x0F1E2D3C, 0xDEADBEEF]
    with jax.enable_x64(True):
        s = stream_of_words(jnp.asarray(words, dtype=jnp.uint32))

        def body(s, _):
            out, s = s.next_u32()
            return s, out

        _, outs = jax.lax.scan(body, s, None, length=1000)
    assert [int(v) for v in np.asarray(outs)] == _reference(words, 1000)


def test_uniform_takes_53_bits_from_the_upper_bits_of_two_outputs() -> None:
    words = [1, 2, 3, 4]
    a, b = _reference(words, 2)
    with jax.enable_x64(True):
        u, _ = stream_of_words(jnp.asarray(words, dtype=jnp.uint32)).uniform()
        assert u.dtype == jnp.float64
    assert float(u) == ((a >> 5) * 2**26 + (b >> 6)) / 2**53


def test_the_all_zero_state_is_replaced() -> None:
    with jax.enable_x64(True):
        s = stream_of_words(jnp.zeros(4, dtype=jnp.uint32))
        outs = [int(s.next_u32()[0])]
        for _ in range(3):
            s = s.next_u32()[1]
            outs.append(int(s.next_u32()[0]))
    assert any(outs)  # the zero state would give zeros forever


def test_uniforms_are_uniform() -> None:
    u = _uniforms(N)
    assert np.all((u >= 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > P_MIN
    # The low bits are random too: the 53-bit integer's last 8 bits.
    low = np.bincount((u * 2.0**53).astype(np.int64) & 255, minlength=256)
    assert stats.chisquare(low).pvalue > P_MIN


def test_exponentials_and_normals_have_their_distributions() -> None:
    with jax.enable_x64(True):
        s = _stream(3)
        e, s = jax.jit(lambda s: s.exponentials(N))(s)
        z, _ = jax.jit(lambda s: s.normals(N))(s)
    assert stats.kstest(np.asarray(e), "expon").pvalue > P_MIN
    assert stats.kstest(np.asarray(z), "norm").pvalue > P_MIN
    assert np.all(np.isfinite(np.asarray(z)))


@pytest.mark.parametrize("lag", [1, 2, 3, 4, 7, 64])
def test_successive_uniforms_are_uncorrelated(lag: int) -> None:
    u = _uniforms(N)
    r = np.corrcoef(u[:-lag], u[lag:])[0, 1]
    assert abs(r) < 4 / np.sqrt(N - lag)


def test_streams_of_adjacent_trajectories_are_distinct_and_uncorrelated() -> None:
    n, m = 1000, 2000
    with jax.enable_x64(True):
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jax.random.key(11), jnp.arange(n))
        u = np.asarray(jax.jit(jax.vmap(lambda k: seed_stream(k).uniforms(m)[0]))(keys))
    assert len({row[0] for row in u}) == n
    # Across trajectories at a fixed position: uniform, and neighbours uncorrelated.
    assert stats.kstest(u[:, 0], "uniform").pvalue > P_MIN
    assert stats.kstest(u[:, -1], "uniform").pvalue > P_MIN
    r = np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]
    assert abs(r) < 4 / np.sqrt(u[1:].size)
    # Trajectory i's j-th draw against trajectory i+1's j+1-th (a shifted copy would show here).
    r_shift = np.corrcoef(u[:-1, 1:].ravel(), u[1:, :-1].ravel())[0, 1]
    assert abs(r_shift) < 4 / np.sqrt(u[1:, 1:].size)


@pytest.mark.parametrize("lam", [0.0, 0.7, 3.0, 9.5, 10.0, 50.0, 2000.0])
def test_poisson_sampler_on_the_stream(lam: float) -> None:
    n = 50_000
    with jax.enable_x64(True):
        k, _ = jax.jit(lambda s: poisson(s, jnp.full(n, lam)))(_stream(5))
    k = np.asarray(k)
    if lam == 0.0:
        assert np.all(k == 0)
        return
    assert np.all(k == np.round(k)) and np.all(k >= 0)
    # Chi-square over the central values, tails pooled (expected count ≥ 20 per cell).
    lo, hi = stats.poisson.ppf(1e-3, lam), stats.poisson.ppf(1 - 1e-3, lam)
    edges = np.arange(lo, hi + 1)
    obs = np.array([np.sum(k < lo)] + [np.sum(k == v) for v in edges] + [np.sum(k > hi)])
    pmf = np.array([stats.poisson.cdf(lo - 1, lam)] + list(stats.poisson.pmf(edges, lam)) + [stats.poisson.sf(hi, lam)])
    keep = pmf * n >= 20
    obs = np.append(obs[keep], obs[~keep].sum())
    exp = np.append(pmf[keep], pmf[~keep].sum()) * n
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > P_MIN


def test_compacted_rejection_draws_what_the_plain_loop_draws() -> None:
    """`rejection_compacted` (proposals evaluated on pending elements only, in chunks) is bitwise `rejection`:
    the same values and the same stream afterwards, per lane of a vmapped batch of mixed rates."""
    from sbmljax._poisson import _Ptrs

    rs = np.random.default_rng(0)
    with jax.enable_x64(True):
        lam = jnp.asarray(rs.choice([0.0, 3.0, 12.0, 70.0, 1e4, 1e7], size=(6, 50)))
        small = lam < 10.0
        ptrs = _Ptrs.of(jnp.where(small, 1.0e5, lam))
        streams = jax.vmap(lambda i: _stream(i))(jnp.arange(6))

        def plain(s, d, p):
            return rejection(s, d, lambda u, v: _Ptrs.attempt(p, u, v))

        def compacted(s, d, p):
            return rejection_compacted(s, d, p, _Ptrs.attempt, 8)

        a = jax.jit(jax.vmap(plain))(streams, small, ptrs)
        b = jax.jit(jax.vmap(compacted))(streams, small, ptrs)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def birth_death() -> sbmljax.Model:
    return sbmljax.load_sbml(
        sbml_model({"X": 5}, {"k1": 10.0, "k2": 0.1}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")])
    )


@pytest.mark.parametrize(("method", "options"), [("direct", {}), ("nrm", {}), ("tau_leap", {"epsilon": 0.03})])
def test_results_do_not_depend_on_chunk_batch_or_block(birth_death, method, options) -> None:
    t = np.linspace(0.0, 20.0, 5)
    run = lambda **kw: sbmljax.simulate(birth_death, t, seed=3, method=method, **options, **kw).counts  # noqa: E731
    whole = run(n_trajectories=40)
    np.testing.assert_array_equal(run(n_trajectories=40, chunk=7), whole)
    np.testing.assert_array_equal(run(n_trajectories=40, block=5), whole)
    np.testing.assert_array_equal(run(n_trajectories=13), whole[:13])
    np.testing.assert_array_equal(run(n_trajectories=10, first_trajectory=30), whole[30:])
    # one trajectory runs a loop of its own (`solve`'s `per_output`, unbatched): the same draws, the same result
    np.testing.assert_array_equal(run(n_trajectories=1, first_trajectory=17), whole[17:18])
    np.testing.assert_array_equal(run(n_trajectories=5, chunk=1), whole[:5])
    assert len({tuple(row) for row in whole[:, -1]}) > 10  # trajectories differ
