"""Special functions shared by the log-densities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thetahat.families._special import softplus


@pytest.mark.parametrize("x", [-800.0, -40.0, -1.0, 0.0, 1e-300, 0.5, 3.0, 40.0, 800.0])
def test_softplus_and_its_derivatives(x: float) -> None:
    with jax.enable_x64(True):
        v = jnp.float64(x)
        value = float(softplus(v))
        d1 = float(jax.grad(softplus)(v))
        d2 = float(jax.grad(jax.grad(softplus))(v))
        d2_fwd = float(jax.jacfwd(jax.jacfwd(softplus))(v))
    sig = 1.0 / (1.0 + np.exp(-x)) if x > -700 else 0.0
    assert value == pytest.approx(float(np.logaddexp(0.0, x)), rel=1e-15, abs=1e-300)
    assert d1 == pytest.approx(sig, rel=1e-14, abs=1e-300)
    assert d2 == pytest.approx(sig * (1.0 - sig), rel=1e-12, abs=1e-300)
    assert d2_fwd == pytest.approx(d2, rel=1e-14, abs=1e-300)  # 0.25 at 0: no kink from max/abs
