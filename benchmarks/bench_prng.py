"""Random-number sources inside a vmapped SSA loop: the probe behind `sbmljax._prng`'s choices, in one run.

A SIR direct-method loop (c1 = 1e-4, c2 = 0.01, 999/1/0, to t = 250, final state only, two uniforms per
event), vmapped over n trajectories, drawing its uniforms from

- `threefry/block`: `jax.random.uniform` per block of 128 steps (what the simulators did before issue 16);
- `xoshiro++/step`, `xoshiro**/step`: a per-trajectory xoshiro128 state carried in the loop, drawn per step;
- `xoshiro++/block`: the same stream, but 128 steps' uniforms drawn ahead by a scan (does blocking still pay?);
- `+record`: `xoshiro++/step` that also records the state at the 251 output times as `sbmljax._solve` does
  (a row write per step into a buffer with a spare row); `+record/carry` writes each recorded row at the
  next step, from the carried state, as `sbmljax._solve` does since the recording change of issue 16;
- `+search`: that, with the channel chosen by `select_channel` (cumulative sum and count) as the direct
  method does, instead of one comparison (`+search/carry`: with the row written from the carry);
- `simulate`: `sbmljax.simulate` itself (the same SIR from models/sir.xml, n trajectories, one call; its
  events/s include the per-call cost).

Prints events/s and ns per event for each, so that the differences between rows say where an event's time
goes. Run on one core: `taskset -c 0 python benchmarks/bench_prng.py`.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

from sbmljax._prng import Stream, _rotl, seed_stream  # noqa: E402

BLOCK = 128


def _next_starstar(s: Stream):
    """xoshiro128** (Blackman & Vigna 2021): the same state transition, another scrambler."""
    out = _rotl(s.s1 * jnp.uint32(5), 7) * jnp.uint32(9)
    _, s2 = s.next_u32()
    return out, s2


def _uniform(s: Stream, nxt):
    a, s = nxt(s)
    b, s = nxt(s)
    hi = jax.lax.shift_right_logical(a, jnp.uint32(5)).astype(jnp.float64)
    lo = jax.lax.shift_right_logical(b, jnp.uint32(6)).astype(jnp.float64)
    return (hi * 67108864.0 + lo) * 2.0**-53, s


def _event(x, t, u1, u2):
    s_, i_ = x[0], x[1]
    a1, a2 = 1e-4 * s_ * i_, 0.01 * i_
    a0 = a1 + a2
    tau = -jnp.log1p(-u1) / a0
    inf = u2 * a0 < a1
    dx = jnp.where(inf, jnp.array([-1.0, 1.0, 0.0]), jnp.array([0.0, -1.0, 1.0]))
    t_new = t + tau
    live = (t_new <= 250.0) & (a0 > 0)
    return jnp.where(live, x + dx, x), jnp.where(live, t_new, 250.0), live


def _event_search(x, t, u1, u2):
    from sbmljax._simulator.direct import select_channel

    a = jnp.stack([1e-4 * x[0] * x[1], 0.01 * x[1]])
    k, a0 = select_channel(a, u2)
    tau = -jnp.log1p(-u1) / a0
    dx = jnp.array([[-1.0, 1.0, 0.0], [0.0, -1.0, 1.0]])[k]
    t_new = t + tau
    live = (t_new <= 250.0) & (a0 > 0)
    return jnp.where(live, x + dx, x), jnp.where(live, t_new, 250.0), live


def run_simulate(n: int) -> float:
    from pathlib import Path

    import numpy as np

    import sbmljax

    model = sbmljax.load_sbml(Path(__file__).resolve().parents[1] / "models" / "sir.xml")
    t = np.linspace(0.0, 250.0, 251)
    sbmljax.simulate(model, t, n_trajectories=n, seed=12345)
    best, events = float("inf"), 0.0
    for rep in range(3):
        t0 = time.perf_counter()
        traj = sbmljax.simulate(model, t, n_trajectories=n, seed=rep)
        dt = time.perf_counter() - t0
        if dt < best:
            best, events = dt, float(np.sum(traj.n_events))
    return events / best


def run(source: str, n: int):
    if source == "simulate":
        return run_simulate(n)
    x0 = jnp.array([999.0, 1.0, 0.0])

    def one(key):
        if source == "threefry/block":

            def blk(c):
                x, t, k, ev = c
                k, sub = jax.random.split(k)
                u = jax.random.uniform(sub, (BLOCK, 2), dtype=jnp.float64)

                def st(c2, uu):
                    x, t, ev = c2
                    x, t, live = _event(x, t, uu[0], uu[1])
                    return (x, t, ev + live), None

                (x, t, ev), _ = jax.lax.scan(st, (x, t, ev), u)
                return x, t, k, ev

            x, t, _, ev = jax.lax.while_loop(lambda c: c[1] < 250.0, blk, (x0, 0.0, key, 0))
            return ev
        nxt = _next_starstar if source == "xoshiro**/step" else Stream.next_u32
        s = seed_stream(key)
        if source == "xoshiro++/block":

            def blk(c):
                x, t, s, ev = c

                def draw(s, _):
                    u1, s = _uniform(s, nxt)
                    u2, s = _uniform(s, nxt)
                    return s, (u1, u2)

                s, (u1, u2) = jax.lax.scan(draw, s, None, length=BLOCK)

                def st(c2, uu):
                    x, t, ev = c2
                    x, t, live = _event(x, t, uu[0], uu[1])
                    return (x, t, ev + live), None

                (x, t, ev), _ = jax.lax.scan(st, (x, t, ev), (u1, u2))
                return x, t, s, ev

            x, t, _, ev = jax.lax.while_loop(lambda c: c[1] < 250.0, blk, (x0, 0.0, s, 0))
            return ev

        if source.startswith("+"):
            event = _event_search if source.startswith("+search") else _event
            from_carry = source.endswith("/carry")
            t_out = jnp.linspace(0.0, 250.0, 251)

            def blk_rec(c):
                def st(c2, _):
                    x, t, s, ev, idx, buf, rec = c2
                    if from_carry:  # as sbmljax._solve now: the previous step's row, from the carried state
                        buf = jax.lax.dynamic_update_slice(buf, x[None, :], (jnp.where(rec, idx - 1, 251), 0))
                    u1, s = _uniform(s, nxt)
                    u2, s = _uniform(s, nxt)
                    # As in sbmljax._solve: stop at the next output time, record there, else the spare row.
                    target = t_out[jnp.minimum(idx, 250)]
                    x_new, t_new, live = event(x, t, u1, u2)
                    passed = t_new > target
                    x_new = jnp.where(passed, x, x_new)
                    t_new = jnp.where(passed, target, t_new)
                    live = live & ~passed
                    rec = (t_new >= target) & (idx < 251)
                    if not from_carry:  # as sbmljax._solve did before: the row written in the step that records
                        buf = jax.lax.dynamic_update_slice(buf, x_new[None, :], (jnp.where(rec, idx, 251), 0))
                    return (x_new, t_new, s, ev + live, idx + rec, buf, rec), None

                c, _ = jax.lax.scan(st, c, None, length=BLOCK)
                x, t, s, ev, idx, buf, rec = c
                if from_carry:
                    buf = jax.lax.dynamic_update_slice(buf, x[None, :], (jnp.where(rec, idx - 1, 251), 0))
                return x, t, s, ev, idx, buf, jnp.asarray(False)

            init = (x0, 0.0, s, 0, jnp.asarray(0), jnp.zeros((252, 3)), jnp.asarray(False))
            out = jax.lax.while_loop(lambda c: c[4] < 251, blk_rec, init)
            return out[3]

        def blk(c):
            def st(c2, _):
                x, t, s, ev = c2
                u1, s = _uniform(s, nxt)
                u2, s = _uniform(s, nxt)
                x, t, live = _event(x, t, u1, u2)
                return (x, t, s, ev + live), None

            c, _ = jax.lax.scan(st, c, None, length=BLOCK)
            return c

        x, t, _, ev = jax.lax.while_loop(lambda c: c[1] < 250.0, blk, (x0, 0.0, s, 0))
        return ev

    f = jax.jit(jax.vmap(one))
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jax.random.key(0), jnp.arange(n))
    f(keys).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        ev = f(keys).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return float(jnp.sum(ev)) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    import os

    print(f"n={args.n} load average at start: {os.getloadavg()[0]:.2f}")
    sources = (
        "threefry/block",
        "xoshiro++/step",
        "xoshiro**/step",
        "xoshiro++/block",
        "+record",
        "+record/carry",
        "+search",
        "+search/carry",
        "simulate",
    )
    for source in sources:
        rate = run(source, args.n)
        print(f"{source:<16} {rate / 1e6:6.1f} M events/s {1e9 / rate:7.1f} ns/event", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
