"""Worker processes for `sbmljax check`: every model checked in a fresh-interpreter worker, with a time limit.

`concurrent.futures.ProcessPoolExecutor` cannot stop one task that hangs (a model whose compilation or
confirmation run takes minutes) without breaking the whole pool, so this is a small pool of its own: each
worker is a `spawn`ed process (JAX is not fork-safe) serving one model at a time over a pipe. A worker
past its deadline is killed and replaced, and its model gets the verdict `error` with what it had found so
far; a worker that dies (a crash in a native library, the out-of-memory killer) is replaced the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from ._check_model import CheckSettings, blank_row

STARTUP_SECONDS = 300.0
"""How long a fresh worker may take to import JAX and sbmljax before the check gives up."""

TASKS_PER_WORKER = 25
"""Models one worker checks before it is replaced: compiled code of every model stays in its caches."""


def _serve(conn: Connection, settings: CheckSettings) -> None:
    """Worker main loop: receive `(index, path)`, send progress and the row, until told to stop."""
    import signal

    from ._check_model import check_model

    # Ctrl-C reaches the whole process group; the parent handles it (and stops us), so no traceback here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent went away
            return
        if task is None:
            return
        index, path = task

        def report(stage: str, row: dict, index: int = index) -> None:
            conn.send(("stage", index, stage, row))

        conn.send(("done", index, check_model(path, settings, report)))


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """Environment a spawned worker inherits: JAX on the CPU, unless the user chose a platform.

    The checks are single-trajectory and CPU-bound; several workers each claiming most of a GPU's memory
    (JAX's default) would fail. The parent's environment is restored afterwards.
    """
    saved = os.environ.get("JAX_PLATFORMS")
    if saved is None:
        os.environ["JAX_PLATFORMS"] = "cpu"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("JAX_PLATFORMS", None)


class _Worker:
    def __init__(self, ctx, settings: CheckSettings):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_serve, args=(child, settings), daemon=True, name="sbmljax-check")
        with _worker_environment():
            self.proc.start()
        child.close()
        self.ready = False
        self.born = time.monotonic()
        self.task: int | None = None
        self.since = 0.0
        self.stage = ""
        self.partial: dict | None = None
        self.served = 0

    def assign(self, index: int, path: str) -> None:
        self.task, self.since, self.stage, self.partial = index, time.monotonic(), "before loading the file", None
        self.served += 1
        self.conn.send((index, path))

    def stop(self, grace: float = 2.0) -> None:
        """Ask an idle worker to exit; kill a busy or unresponsive one. Always reaps the process."""
        if self.proc.is_alive() and self.task is None and self.ready:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.proc.join(grace)
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


def run_checks(
    paths: Sequence[str],
    settings: CheckSettings,
    *,
    workers: int,
    timeout: float,
    on_done: Callable[[dict], None] | None = None,
) -> list[dict[str, Any]]:
    """Check every file in worker processes; rows in the order of `paths`, each with `seconds` set.

    **Raises:** `ChildProcessError` if a worker cannot even start (a broken installation), which no model
    can explain.
    """
    ctx = multiprocessing.get_context("spawn")
    todo = deque(range(len(paths)))
    rows: list[dict | None] = [None] * len(paths)
    pool: list[_Worker] = []
    remaining = len(paths)

    def finish(w: _Worker, row: dict) -> None:
        nonlocal remaining
        row["seconds"] = round(time.monotonic() - w.since, 3)
        rows[w.task] = row  # type: ignore[index]
        w.task = None
        remaining -= 1
        if on_done is not None:
            on_done(row)

    def failed(w: _Worker, reason: str) -> None:
        row = dict(w.partial) if w.partial is not None else blank_row(paths[w.task])  # type: ignore[index]
        if row.get("auto_method") and row.get("verdict"):  # only the run of method 'auto' was cut short
            row["auto_run"] = reason
        else:
            row.update(verdict="error", reason=reason)
        finish(w, row)

    try:
        while remaining:
            while len(pool) < min(workers, remaining):
                pool.append(_Worker(ctx, settings))
            for w in pool:
                if w.ready and w.task is None and todo:
                    i = todo.popleft()
                    w.assign(i, paths[i])
            deadlines = [w.since + timeout for w in pool if w.task is not None]
            deadlines += [w.born + STARTUP_SECONDS for w in pool if not w.ready]
            left = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            wait([w.conn for w in pool] + [w.proc.sentinel for w in pool], timeout=left)
            for w in list(pool):
                dead = _drain(w, finish)
                now = time.monotonic()
                if not w.ready and (dead or now > w.born + STARTUP_SECONDS):
                    code = w.proc.exitcode
                    raise ChildProcessError(
                        f"a check worker process failed to start (exit code {code})"
                        if dead
                        else f"a check worker process did not start within {STARTUP_SECONDS:g} s"
                    )
                if w.task is not None and now > w.since + timeout:
                    w.proc.kill()  # the only way to stop native code (XLA, LSODA) that does not return
                    failed(w, f"timed out after {timeout:g} s {w.stage}")
                    dead = True
                elif w.task is not None and dead:
                    failed(w, f"the worker process died (exit code {w.proc.exitcode}) {w.stage}")
                if dead or (w.task is None and w.served >= TASKS_PER_WORKER and todo):
                    w.stop()
                    pool.remove(w)
    finally:
        for w in pool:
            w.stop()
    return rows  # type: ignore[return-value]


def _drain(w: _Worker, finish: Callable[[_Worker, dict], None]) -> bool:
    """Handle every message the worker has sent; `True` if it has exited (or its pipe broke)."""
    try:
        while w.conn.poll():
            msg = w.conn.recv()
            if msg[0] == "ready":
                w.ready = True
            elif msg[0] == "stage" and msg[1] == w.task:
                w.stage, w.partial = msg[2], msg[3]
            elif msg[0] == "done" and msg[1] == w.task:
                finish(w, msg[2])
    except (EOFError, OSError):
        return True
    return not w.proc.is_alive()
