"""Choosing an algorithm by name: `method="nrm"`, `estimator="cfd"`, `loss="mean_sse"`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .errors import ConfigError

T = TypeVar("T")


def instantiate(
    value: str | T, registry: Mapping[str, type[T]], base: type, kind: str, options: Mapping[str, object]
) -> T:
    """`value` itself if it is an instance of `base`, else `registry[value](**options)`.

    **Raises:** `ConfigError` naming the `kind` for an unknown name, options given with an instance, or
    options the class does not take.
    """
    # `base` is typed `type`, not `type[T]`: it is an abstract class, which a `type[T]` parameter may not take.
    if not isinstance(value, str):
        if not isinstance(value, base):
            raise ConfigError(f"unknown {kind} {value!r}; choose one of {', '.join(registry)}")
        if options:
            raise ConfigError(f"options {sorted(options)} given with a {kind} instance; set them on the instance")
        return value
    if value not in registry:
        raise ConfigError(f"unknown {kind} {value!r}; choose one of {', '.join(registry)}")
    try:
        return registry[value](**options)
    except TypeError as e:
        raise ConfigError(f"{kind} {value!r}: {e}") from None
