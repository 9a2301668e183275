"""How a trajectory ended: the `RESULTS` enumeration (a status carried through `jit`, raised after the run)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import numpy as np

from ._support import CONSTRUCTS


def status_code(item: RESULTS):
    """The integer code of a `RESULTS` item (a traced array inside `jit`, an int-like outside).

    Simulator states carry `RESULTS` items; a `Solution` leaves JAX with the code, so that ensembles of
    statuses are plain integer arrays for NumPy (compare them with `status_code(RESULTS.x)`, name them with
    `status_names`).
    """
    return item._value


def status_names(codes) -> np.ndarray:
    """`RESULTS` names (`"successful"`, `"bad_propensity"`, …) for an array of status codes."""
    return _status_lookup()[np.asarray(codes, dtype=np.int64)]


@functools.cache
def _status_lookup() -> np.ndarray:
    # Built once (the enumeration is fixed at import): rebuilt per call it was ~8 µs of a one-trajectory call.
    names = np.asarray(list(RESULTS._name_to_item), dtype=object)
    order = np.asarray([item._value for item in RESULTS._name_to_item.values()])
    lookup = np.empty(order.max() + 1, dtype=object)
    lookup[order] = names
    lookup.flags.writeable = False
    return lookup


if TYPE_CHECKING:
    from equinox._enum import EnumerationItem

    class RESULTS(EnumerationItem):
        """The enumeration below, as mypy should read it.

        equinox declares `Enumeration` to type checkers as an `enum.Enum` under a metaclass that is not
        `EnumMeta`: pyright accepts that, mypy reports a metaclass conflict and types every member as `str`.
        Keep the members in step with the run-time class (a member missing here fails the type check where it
        is used; one missing there fails at import of the code that uses it).
        """

        successful: ClassVar[RESULTS]
        bad_propensity: ClassVar[RESULTS]
        max_steps_reached: ClassVar[RESULTS]
        negative_count: ClassVar[RESULTS]
        event_cascade: ClassVar[RESULTS]
        non_integer_count: ClassVar[RESULTS]
        ode_failed: ClassVar[RESULTS]
        no_propensity_bound: ClassVar[RESULTS]
        jump_not_located: ClassVar[RESULTS]

        @classmethod
        def where(cls, pred: object, a: RESULTS, b: RESULTS) -> RESULTS: ...

        _name_to_item: ClassVar[dict[str, EnumerationItem]]
        _index_to_message: ClassVar[list[str]]

else:

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
            "the hybrid method's ODE solver failed (its step limit, or a step size too small: a stiff or blowing-up "
            "model)"
        )
        no_propensity_bound = (
            "extrande found no finite upper bound of the propensities over its look-ahead windows, or a propensity "
            "above the bound (a rate law diverging in time, or dividing by a time-dependent quantity that reaches 0)"
        )
        # Last, so that the codes above keep their values.
        jump_not_located = (
            "the hybrid method's root finder did not converge on the next jump or event trigger inside an accepted ODE "
            "step (diffrax's event root-finding, a bracketed Newton to 1e-14 in time): the ODE solver's steps did not fail, locating the "
            "jump in the last one did (see the hybrid method's Limits in docs/simulators.md)"
        )
