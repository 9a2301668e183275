"""Simulators: one algorithm per module, all behind `AbstractSimulator`."""

from __future__ import annotations

from ..errors import ConfigError
from .base import AbstractSimulator as AbstractSimulator
from .base import SimState as SimState
from .direct import GillespieDirect as GillespieDirect
from .nrm import NextReaction as NextReaction
from .tau_leap import TauLeaping as TauLeaping

SIMULATORS: dict[str, type[AbstractSimulator]] = {
    GillespieDirect.name: GillespieDirect,
    NextReaction.name: NextReaction,
    TauLeaping.name: TauLeaping,
}


def make_simulator(method: str | AbstractSimulator, **options) -> AbstractSimulator:
    """The simulator for a `method=` string (with its options), or `method` itself if it is one already."""
    if isinstance(method, AbstractSimulator):
        if options:
            raise ConfigError(f"options {sorted(options)} given with a simulator instance; set them on the instance")
        return method
    if method not in SIMULATORS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(SIMULATORS)}")
    cls = SIMULATORS[method]
    try:
        return cls(**options)
    except TypeError as e:
        raise ConfigError(f"method {method!r}: {e}") from None
