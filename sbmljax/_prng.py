"""A small per-trajectory random-number stream: xoshiro128++ (Blackman & Vigna 2021), in uint32 operations.

Every simulator carries one `Stream` in its state and draws from it step by step. `jax.random`'s threefry
spends ~20 rounds of mixing on every 64 random bits; inside an SSA loop that was a large part of a step (a
vmapped SIR loop, n = 1,000, one core: 95–97 ns per event with threefry uniforms drawn per block, 47–59 ns
with a carried xoshiro128++ state, `benchmarks/bench_prng.py`). xoshiro128++ advances a 128-bit state with a
handful of shifts, xors and one add per 32-bit output, uses uint32 only (so it runs unchanged on an
accelerator), and its authors report that it passes BigCrush. Of the two xoshiro128 scramblers, `++` was
chosen over `**` because it was as fast or faster in every run of that benchmark (`**` measured 60 ns).

Seeding: trajectory `i`'s key is `fold_in(key(seed), i)` (`sbmljax._ensemble.trajectory_keys`); `seed_stream`
turns a key into the four state words with one threefry call (`jax.random.bits`), so streams of adjacent
trajectories are unrelated, the stream depends on the key only (never on chunking, batch size or block size),
and any key implementation works. The all-zero state, xoshiro's one fixed point, is replaced (probability
2⁻¹²⁸, but guarded).

Floats: a float64 uniform on `[0, 1)` takes the upper 27 bits of one output and the upper 26 of the next (53
bits, every multiple of 2⁻⁵³ equally likely), as in Vigna's `next_double`. Exponentials are `−log1p(−u)`,
normals the inverse normal CDF of a uniform (one uniform per normal, so draws can be replayed one for one).

**References:** D. Blackman, S. Vigna, "Scrambled linear pseudorandom number generators", ACM Trans. Math.
Softw. 47(4):36 (2021). S. Vigna, https://prng.di.unimi.it/xoshiro128plusplus.c (reference implementation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, PyTree, UInt32

_TWO_M53 = 2.0**-53
_TWO_26 = 67108864.0


def _rotl(x: UInt32[Array, "..."], k: int) -> UInt32[Array, "..."]:
    return jax.lax.shift_left(x, jnp.uint32(k)) | jax.lax.shift_right_logical(x, jnp.uint32(32 - k))


class Stream(eqx.Module):
    """One trajectory's xoshiro128++ state (four uint32 words, never all zero); immutable: every draw returns
    the values and the advanced stream."""

    s0: UInt32[Array, ""]
    s1: UInt32[Array, ""]
    s2: UInt32[Array, ""]
    s3: UInt32[Array, ""]

    def next_u32(self) -> tuple[UInt32[Array, ""], Stream]:
        """One 32-bit output and the advanced stream (Blackman & Vigna's `next`)."""
        s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
        out = _rotl(s0 + s3, 7) + s0
        t = jax.lax.shift_left(s1, jnp.uint32(9))
        s2 = s2 ^ s0
        s3 = s3 ^ s1
        s1 = s1 ^ s2
        s0 = s0 ^ s3
        s2 = s2 ^ t
        s3 = _rotl(s3, 11)
        return out, Stream(s0, s1, s2, s3)

    def uniform(self) -> tuple[Float[Array, ""], Stream]:
        """A float64 uniform on `[0, 1)` with 53 random bits, from the upper bits of two outputs."""
        a, s = self.next_u32()
        b, s = s.next_u32()
        hi = jax.lax.shift_right_logical(a, jnp.uint32(5)).astype(jnp.float64)
        lo = jax.lax.shift_right_logical(b, jnp.uint32(6)).astype(jnp.float64)
        return (hi * _TWO_26 + lo) * _TWO_M53, s

    def uniforms(self, n: int) -> tuple[Float[Array, " n"], Stream]:
        """`n` successive uniforms (sequential: element `j` is the stream's `j`-th uniform)."""
        if n <= 8:  # unrolled: a short scan costs more than its body
            out = []
            s = self
            for _ in range(n):
                u, s = s.uniform()
                out.append(u)
            return (jnp.stack(out) if out else jnp.zeros(0, jnp.float64)), s

        def body(s, _):
            u, s = s.uniform()
            return s, u

        # 4 steps per compiled iteration: 10-15% faster than 1, 8 or 16 (2n = 400 PTRS uniforms, 128 lanes).
        s, u = jax.lax.scan(body, self, None, length=n, unroll=4)
        return u, s

    def exponential(self) -> tuple[Float[Array, ""], Stream]:
        """An `Exp(1)` draw, `−log(1 − u)` (finite: `u < 1`)."""
        u, s = self.uniform()
        return -jnp.log1p(-u), s

    def exponentials(self, n: int) -> tuple[Float[Array, " n"], Stream]:
        """`n` successive `Exp(1)` draws."""
        u, s = self.uniforms(n)
        return -jnp.log1p(-u), s

    def normals(self, n: int) -> tuple[Float[Array, " n"], Stream]:
        """`n` standard normals by inversion, one uniform each (`u = 0` maps to the smallest uniform's quantile
        instead of `−inf`)."""
        u, s = self.uniforms(n)
        return ndtri(jnp.maximum(u, 0.5 * _TWO_M53)), s


def seed_stream(key: PRNGKeyArray) -> Stream:
    """The stream of the trajectory with key `key`: four words from one threefry call (`stream_of_words`)."""
    return stream_of_words(jax.random.bits(key, (4,), dtype=jnp.uint32))


def stream_of_words(w: UInt32[Array, "4"]) -> Stream:
    """A stream with state `w`, except that the all-zero state (xoshiro's fixed point) becomes another."""
    zero = jnp.all(w == 0)
    s0 = jnp.where(zero, jnp.uint32(0x9E3779B9), w[0])  # the one fixed point of xoshiro: replace it
    return Stream(s0, w[1], w[2], w[3])


def stream_key(stream: Stream) -> tuple[PRNGKeyArray, Stream]:
    """A `jax.random` key drawn from the stream (for code that needs one, such as a diffrax Brownian path)."""
    a, s = stream.next_u32()
    b, s = s.next_u32()
    return jax.random.wrap_key_data(jnp.stack([a, b]), impl="threefry2x32"), s


def rejection(
    rng: Stream,
    done: Bool[Array, "..."],
    attempt: Callable[[Float[Array, "..."], Float[Array, "..."]], tuple[Float[Array, "..."], Bool[Array, "..."]]],
) -> tuple[Float[Array, "..."], Stream]:
    """Elementwise rejection sampling on a stream: every element not `done` retries `attempt(u, v) ->
    (value, accepted)` with two fresh uniforms per element per try until accepted; `done` elements get 0.

    Every element draws on every try (accepted ones discard theirs), so the stream's position depends on the
    batch's tries only, never on the order of evaluation; with every element `done` the loop runs no
    iteration and draws nothing. Shared by the Poisson (PTRS) and binomial (BTRS) samplers (Hörmann 1993).
    """

    def cond(c):
        return jnp.any(~c[1])

    def body(c):
        k, ok, s = c
        # The same 2·size uniforms as one call, in the same order; drawn as two calls because slicing one
        # stacked vector under vmap made XLA copy it through a transposed layout (8× the loop's cost).
        u, s = s.uniforms(done.size)
        v, s = s.uniforms(done.size)
        k_new, ok_new = attempt(u.reshape(done.shape), v.reshape(done.shape))
        take = ~ok & ok_new
        return jnp.where(take, k_new, k), ok | ok_new, s

    k, _, rng = jax.lax.while_loop(cond, body, (jnp.zeros_like(done, dtype=float), done, rng))
    return k, rng


def _prefix_count(flags: Bool[Array, " n"]) -> Int[Array, " n"]:
    """`cumsum(flags)` as int32, by two triangular matrix products over rows of 64 (exact in float32: every
    partial sum is an integer below 2²⁴). XLA's CPU cumsum (a reduce-window) took 62 µs per 3,000 flags, an
    associative scan 18 µs, this 12 µs; the rejection loops compute one per try."""
    (n,) = flags.shape
    if n >= 2**24:
        return jnp.cumsum(flags, dtype=jnp.int32)
    c = 64
    r = -(-n // c)
    a = jnp.zeros(r * c, jnp.float32).at[:n].set(flags.astype(jnp.float32)).reshape(r, c)
    hi = jax.lax.Precision.HIGHEST
    within = jnp.matmul(a, jnp.triu(jnp.ones((c, c), jnp.float32)), precision=hi)
    before = jnp.matmul(jnp.tril(jnp.ones((r, r), jnp.float32), -1), within[:, -1], precision=hi)
    return (within + before[:, None]).reshape(r * c)[:n].astype(jnp.int32)


def rejection_compacted(
    rng: Stream,
    done: Bool[Array, " n"],
    params: PyTree,
    attempt: Callable[[PyTree, Float[Array, " m"], Float[Array, " m"]], tuple[Float[Array, " m"], Bool[Array, " m"]]],
    chunk: int,
) -> tuple[Float[Array, " n"], Stream]:
    """`rejection` for a flat batch, with each try's proposals evaluated on the pending elements only.

    Draws exactly what `rejection` draws (two uniforms per element per try, laid out `[u₀…u_{n−1},
    v₀…v_{n−1}]`) and returns bitwise the same values and stream, but evaluates `attempt(params[idx], u[idx],
    v[idx])` only at the indices `idx` of elements not yet accepted, `chunk` of them at a time (gathered
    from `params`, a pytree of arrays with leading axis `n`). In `rejection` every try evaluates every
    element, so a batch of `n` elements accepted with probability `q` costs `n · T` evaluations, where the
    number of tries `T` is set by the slowest element (about `log n / log(1/(1−q))`: about 6 for 25,600 PTRS
    draws at λ = 70, under `vmap` the slowest of all lanes); here it costs about `n / q` (rounded up to
    chunks) and the evaluations, not the uniforms, were most of a try.
    """
    (n,) = done.shape
    if chunk >= n:
        return rejection(rng, done, lambda u, v: attempt(params, u, v))
    n_chunks = -(-n // chunk)
    ar = jnp.arange(n, dtype=jnp.int32)

    def one_try(c):
        k, ok, s = c
        uv, s = s.uniforms(2 * n)
        u, v = uv[:n], uv[n:]
        pending = ~ok
        n_pending = jnp.sum(pending, dtype=jnp.int32)
        rank = _prefix_count(pending) - 1
        # The pending elements' indices first (in order), then n (no element), padded to whole chunks.
        order = jnp.full(n_chunks * chunk, n, jnp.int32).at[jnp.where(pending, rank, n)].set(ar, mode="drop")

        # Only as many chunks as there are pending elements (under `vmap`: as the lane with the most).
        k, accepted = _pending_chunks(order, n_pending, chunk, params, attempt, u, v, k, ok)
        return k, accepted, s

    k, _, rng = jax.lax.while_loop(lambda c: jnp.any(~c[1]), one_try, (jnp.zeros(n, float), done, rng))
    return k, rng


def rejection_pooled(
    rng: Stream,
    done: Bool[Array, "..."],
    params: PyTree,
    attempt: Callable[[PyTree, Float[Array, " m"], Float[Array, " m"]], tuple[Float[Array, " m"], Bool[Array, " m"]]],
    prepare: Callable[[PyTree], PyTree] | None = None,
) -> tuple[Float[Array, "..."], Stream]:
    """`rejection` for one trajectory's elements that, under `vmap` over trajectories, pools the pending
    proposals of the whole batch and evaluates only those (as `rejection_compacted` does for a flat batch).

    Unbatched it is `rejection(rng, done, lambda u, v: attempt(prepare(params), u, v))` (`params`: a pytree of
    arrays shaped like `done`; `prepare`, elementwise, defaults to the identity: the attempt's constants, computed
    once). Vmapped over trajectories (a custom batching rule, `jax.custom_batching.custom_vmap`)
    every trajectory still draws from its own stream exactly what the vmapped `rejection` draws — two uniform
    vectors of `done.size` per try while any of its own elements is pending, nothing once all are accepted —
    so the values and the streams are bitwise those of the vmapped `rejection`. The difference is the cost:
    the vmapped `rejection` evaluates every element of every trajectory on every try until the slowest of the
    whole batch is accepted (bsflu's binomial leap: 3,000 BTRS elements, about 5 tries), while here each try
    evaluates the pending elements only, gathered in chunks, about `1/acceptance` evaluations per element.
    """

    prep = prepare or (lambda x: x)

    @jax.custom_batching.custom_vmap
    def draw(rng, done, params):
        c = prep(params)
        return rejection(rng, done, lambda u, v: attempt(c, u, v))

    @draw.def_vmap
    def _pooled(axis_size, in_batched, rng, done, params):
        rng, done, params = _broadcast_unbatched(axis_size, in_batched, rng, done, params)
        shape = done.shape
        m = math.prod(shape[1:])
        args = (rng, done.reshape(axis_size, m), jax.tree.map(lambda a: a.reshape(axis_size * m), params))
        k, rng = across(*args)
        return (k.reshape(shape), rng), (True, jax.tree.map(lambda _: True, rng))

    @jax.custom_batching.custom_vmap
    def across(rng, done, params):
        # Most leaps of a filter have no draw of this kind in the whole batch: skip the setup as well as the loop.
        return jax.lax.cond(
            jnp.all(done),
            lambda r, d, p: (jnp.zeros(d.shape, float), r),
            lambda r, d, p: _rejection_across(r, d, p, attempt, prep),
            rng,
            done,
            params,
        )

    @across.def_vmap
    def _merged(axis_size, in_batched, rng, done, params):
        # A second vmap (replicate filters, IF2's chains) would batch the skip test, and `lax.cond` with a batched
        # predicate becomes a select that runs the pooled loop's setup on every call (bsflu, one replicate: 22 ms
        # of an 88 ms filter with no pending draw at all). Its axis joins the trajectories' instead: one pool,
        # one scalar test, and each trajectory's draws unchanged (they never depend on the pooling).
        rng, done, params = _broadcast_unbatched(axis_size, in_batched, rng, done, params)
        b, m = done.shape[1:]
        k, rng = across(
            jax.tree.map(lambda a: a.reshape(axis_size * b), rng),
            done.reshape(axis_size * b, m),
            jax.tree.map(lambda a: a.reshape(axis_size * b * m), params),
        )
        rng = jax.tree.map(lambda a: a.reshape(axis_size, b), rng)
        return (k.reshape(axis_size, b, m), rng), (True, jax.tree.map(lambda _: True, rng))

    return draw(rng, done, params)


def _broadcast_unbatched(axis_size: int, in_batched: Sequence, rng: Stream, done: Array, params: PyTree) -> tuple:
    """`(rng, done, params)` with every argument a custom_vmap rule received unbatched broadcast along the new
    leading axis of `axis_size`, so the rule can treat all three as batched (`in_batched` as the rule got it)."""
    b_rng, b_done, b_params = in_batched

    def bcast(x, batched):
        return x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))

    return jax.tree.map(bcast, rng, b_rng), bcast(done, b_done), jax.tree.map(bcast, params, b_params)


def _rejection_across(
    rng: Stream, done: Bool[Array, "b m"], params: PyTree, attempt: Callable, prepare: Callable
) -> tuple[Float[Array, "b m"], Stream]:
    """The batching rule of `rejection_pooled`: `b` streams (leaves of shape `(b,)`), `m` elements each,
    `params` flattened to `b·m` (trajectory-major) and turned
    into the attempt's constants by `prepare` once, after the transposition (fewer arrays to transpose).

    Inside the loop the elements are laid out element-major (`j·b + i` for trajectory `i`'s element `j`), the
    layout in which the batched stream produces its uniforms: `Stream`'s operations are elementwise, so the
    `b` streams draw their `j`-th uniforms as one vector of `b`. Trajectory-major uniforms (`vmap` of the
    draws, then a reshape) made XLA fuse the whole xoshiro chain into a transposing copy, recomputed per
    output element: 390 µs of a 700 µs try (bsflu at its peak, 3,000 elements), measured with jax.profiler.
    The order in which pending elements are evaluated does not change what they draw or return."""
    b, m = done.shape
    n = b * m
    chunk = max(8, -(-n // 8))  # as `sbmljax._poisson._chunk`: 8 chunks when all are pending, then one
    n_chunks = -(-n // chunk)
    ar = jnp.arange(n, dtype=jnp.int32)
    params = jax.tree.map(lambda a: a.reshape(b, m).T.reshape(n), params)
    pending0 = ~done.T.reshape(n)
    n_pending0 = jnp.sum(pending0, dtype=jnp.int32)
    rank0 = _prefix_count(pending0) - 1
    order0 = jnp.full(n_chunks * chunk, n, jnp.int32).at[jnp.where(pending0, rank0, n)].set(ar, mode="drop")
    # where each element's constants lie: the pending elements' ranks (others point anywhere; never evaluated)
    slot = jnp.where(pending0, rank0, 0)
    consts = _prepare_pending(order0, n_pending0, chunk, params, prepare)

    def draws(s):
        def body(s, _):
            w, s = s.uniform()
            return s, w

        s, w = jax.lax.scan(body, s, None, length=2 * m)
        return w, s

    def one_try(c):
        k, ok, s = c
        active = jnp.any(~ok.reshape(m, b), axis=0)
        w, s_new = jax.vmap(draws, out_axes=(1, 0))(s)  # (2m, b): row j holds every stream's j-th uniform
        u, v = w[:m], w[m:]
        # A stream whose elements are all accepted has stopped drawing (the vmapped `rejection`'s lanes).
        s = jax.tree.map(lambda x, y: jnp.where(active, x, y), s_new, s)
        u, v = u.reshape(n), v.reshape(n)
        pending = ~ok
        n_pending = jnp.sum(pending, dtype=jnp.int32)
        rank = _prefix_count(pending) - 1
        order = jnp.full(n_chunks * chunk, n, jnp.int32).at[jnp.where(pending, rank, n)].set(ar, mode="drop")
        k, ok = _pending_chunks(order, n_pending, chunk, consts, attempt, u, v, k, ok, slot)
        return k, ok, s

    k, _, rng = jax.lax.while_loop(lambda c: jnp.any(~c[1]), one_try, (jnp.zeros(n, float), ~pending0, rng))
    return k.reshape(m, b).T, rng


def _pending_chunks(
    order: Array,
    n_pending: Array,
    chunk: int,
    params: PyTree,
    attempt: Callable,
    u: Array,
    v: Array,
    k: Array,
    ok: Array,
    slot: Array | None = None,
) -> tuple[Array, Array]:
    """One try of the compacted rejection loops: `attempt` on the pending elements listed first in `order`
    (then `n`, padding), `chunk` at a time and only as many chunks as there are pending elements; returns the
    values and acceptance flags with the accepted proposals written in."""
    n = k.shape[0]

    def chunk_body(cc):
        j, kk, accepted = cc
        idx = jax.lax.dynamic_slice(order, (j * chunk,), (chunk,))
        g = jnp.minimum(idx, n - 1)
        gp = g if slot is None else slot[g]
        k_new, ok_new = attempt(jax.tree.map(lambda a: a[gp], params), u[g], v[g])
        dest = jnp.where(ok_new & (idx < n), idx, n)
        return j + 1, kk.at[dest].set(k_new, mode="drop"), accepted.at[dest].set(True, mode="drop")

    _, k, ok = jax.lax.while_loop(lambda cc: cc[0] * chunk < n_pending, chunk_body, (jnp.asarray(0, jnp.int32), k, ok))
    return k, ok


def _prepare_pending(order: Array, n_pending: Array, chunk: int, params: PyTree, prepare: Callable) -> PyTree:
    """`prepare` evaluated on the pending elements only, `chunk` at a time: the constants of the element listed
    at position `i` of `order` land at position `i` of the result (length `len(order)`; the rest is padding)."""
    n = jax.tree.leaves(params)[0].shape[0]
    shape = jax.eval_shape(lambda p: prepare(jax.tree.map(lambda a: a[:chunk], p)), params)
    out0 = jax.tree.map(lambda sd: jnp.zeros((order.shape[0], *sd.shape[1:]), sd.dtype), shape)

    def body(c):
        j, out = c
        g = jnp.minimum(jax.lax.dynamic_slice(order, (j * chunk,), (chunk,)), n - 1)
        cj = prepare(jax.tree.map(lambda a: a[g], params))
        return j + 1, jax.tree.map(lambda o, x: jax.lax.dynamic_update_slice_in_dim(o, x, j * chunk, 0), out, cj)

    _, out = jax.lax.while_loop(lambda c: c[0] * chunk < n_pending, body, (jnp.asarray(0, jnp.int32), out0))
    return out
