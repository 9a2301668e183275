"""How a trajectory ended: the `RESULTS` enumeration (a status carried through `jit`, raised after the run)."""

from __future__ import annotations

import equinox as eqx
import numpy as np

from ._support import CONSTRUCTS


def status_names(codes) -> np.ndarray:
    """`RESULTS` names (`"successful"`, `"bad_propensity"`, …) for an array of status codes."""
    names = np.asarray(list(RESULTS._name_to_item), dtype=object)
    order = np.asarray([item._value for item in RESULTS._name_to_item.values()])
    lookup = np.empty(order.max() + 1, dtype=object)
    lookup[order] = names
    return lookup[np.asarray(codes, dtype=np.int64)]


class RESULTS(eqx.Enumeration):
    """Outcome of a trajectory; a non-successful one stops it and is raised after the run with details."""

    successful = ""
    bad_propensity = "a propensity evaluated negative, infinite or NaN"
    max_steps_reached = "the step limit was reached before the last output time"
    negative_count = "a molecule count became negative"
    event_cascade = "events kept triggering each other at one instant"
    # A construct of the support table refused at run time: its message is the table's reason.
    non_integer_count = CONSTRUCTS["event_non_integer"].reason
    ode_failed = (
        "the hybrid method's ODE solver failed (its step limit, or a step size too small: a stiff or blowing-up model)"
    )
