"""The family registry: ``families()`` lists names, ``get_family(name)`` returns one."""

from __future__ import annotations

from thetahat.errors import DataError
from thetahat.families.base import Family, Param, Support

__all__ = ["Family", "Param", "Support", "families", "get_family", "register"]

_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family instance to the registry under ``family.name``."""
    _REGISTRY[family.name] = family
    return family


def families() -> list[str]:
    """Names of every built-in family, sorted."""
    _load()
    return sorted(_REGISTRY)


def get_family(family: str | Family) -> Family:
    """The registered family called ``family`` (a Family instance passes through)."""
    if isinstance(family, Family):
        return family
    _load()
    if not isinstance(family, str) or family not in _REGISTRY:
        raise DataError(
            f"unknown family {family!r}; choose one of {sorted(_REGISTRY)} "
            "or build one with thetahat.custom()."
        )
    return _REGISTRY[family]


def _load() -> None:
    # Importing the modules registers their families (once).
    from thetahat.families import (  # noqa: F401
        bounded,
        continuous,
        discrete,
        multivariate,
        positive,
    )
