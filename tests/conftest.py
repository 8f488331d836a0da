"""Shared fixtures: the family registry drives the generic tests."""

from __future__ import annotations

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
