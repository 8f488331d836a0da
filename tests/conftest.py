"""Shared fixtures: the family registry drives the generic tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import thetahat
from thetahat.families import get_family

#: Reference data with certified answers, copied from ../shared/data (see its README).
REFERENCE_DATA = Path(__file__).resolve().parent / "reference" / "data"

ALL_FAMILIES = thetahat.families()


def sample(name: str, n: int, seed: int = 0) -> np.ndarray:
    """Draws from a family at its example parameters (via its scipy equivalent)."""
    fam = get_family(name)
    dist = fam.scipy_dist(**fam.example_params, **fam.example_fit_kwargs.get("fixed", {}))
    return np.asarray(dist.rvs(size=n, random_state=np.random.default_rng(seed)), dtype=float)


@pytest.fixture(params=ALL_FAMILIES)
def family_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_kernels() -> Iterator[None]:
    """Free every compiled kernel after each test module.

    The suite compiles thousands of distinct likelihoods in one process; each
    executable holds memory maps, and XLA aborts once the kernel's map limit
    (vm.max_map_count) is reached. Users fitting a few models never get near it.
    """
    yield
    import sys

    import jax

    for name, module in list(sys.modules.items()):
        if not name.startswith("thetahat") or module is None:
            continue
        for value in list(vars(module).values()):
            if hasattr(value, "cache_clear"):
                value.cache_clear()
    jax.clear_caches()
