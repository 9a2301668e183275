"""Simulators: one algorithm per module, all behind `AbstractSimulator`."""

from __future__ import annotations

from .._registry import instantiate
from .base import AbstractSimState as AbstractSimState
from .base import AbstractSimulator as AbstractSimulator
from .base import SimState as SimState
from .binomial_leap import BinomialLeaping as BinomialLeaping
from .direct import GillespieDirect as GillespieDirect
from .extrande import Extrande as Extrande
from .hybrid import HybridSimulator as HybridSimulator
from .nrm import NextReaction as NextReaction
from .tau_leap import TauLeaping as TauLeaping

SIMULATORS: dict[str, type[AbstractSimulator]] = {
    GillespieDirect.name: GillespieDirect,
    NextReaction.name: NextReaction,
    TauLeaping.name: TauLeaping,
    HybridSimulator.name: HybridSimulator,
    Extrande.name: Extrande,
    BinomialLeaping.name: BinomialLeaping,
}


def make_simulator(method: str | AbstractSimulator, **options) -> AbstractSimulator:
    """The simulator for a `method=` string (with its options), or `method` itself if it is one already."""
    return instantiate(method, SIMULATORS, AbstractSimulator, "method", options)
