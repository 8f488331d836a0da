"""The one expectation–maximisation loop shared by every mixture.

A mixture model hands :func:`run_em` a single function ``step(params) ->
(new_params, loglik)`` that does one E-step *and* one M-step in a single pass
over the data (responsibilities are never stored: the M-step only needs their
weighted sums). ``loglik`` is the marginal log-likelihood at the *input*
parameters, which the E-step computes anyway with a log-sum-exp. The loop
keeps that trace, stops when the log-likelihood changes by less than
``tol`` per observation, and is traced once into a ``lax.while_loop`` by the
caller's ``jax.jit``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["EMRun", "run_em"]


class EMRun(NamedTuple):
    """What one EM run returns (all JAX arrays).

    ``trace[i]`` is the log-likelihood at the parameters after ``i`` M-steps;
    ``trace[n_iter]`` is the value at the returned ``params``; later entries
    are NaN.
    """

    params: Any
    loglik: Any
    trace: Any
    n_iter: Any
    converged: Any
    finite: Any


def _all_finite(tree: Any) -> Any:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def run_em(
    step: Callable[[Any], tuple[Any, Any]],
    params0: Any,
    *,
    tol: Any,
    max_iter: Any,
    n_total: Any,
    trace_len: int,
) -> EMRun:
    """Iterate ``step`` until the mean log-likelihood changes by < ``tol``.

    Parameters
    ----------
    step : callable
        ``params -> (params_after_one_EM_iteration, loglik_at_params)``.
    params0 : pytree
        Initial parameters.
    tol : float
        Convergence threshold on the change of the log-likelihood *per
        observation* (the same scale as scikit-learn's ``tol``).
    max_iter : int
        At most this many M-steps.
    n_total : float
        Total weight of the data, to turn ``tol`` into a change of the total.
    trace_len : int
        Static length of the trace buffer (``max_iter + 1``).

    Returns
    -------
    EMRun
        ``finite`` is False when a step produced a non-finite parameter; the
        loop then stops at the last finite parameters.
    """
    trace0 = jnp.full(trace_len, jnp.nan)

    def not_done(state: Any) -> Any:
        _, _, it, _, done, _ = state
        return (~done) & (it < max_iter)

    def body(state: Any) -> Any:
        params, ll_prev, it, trace, _, _ = state
        new_params, ll = step(params)
        trace = trace.at[it].set(ll)
        finite = _all_finite(new_params) & jnp.isfinite(ll)
        converged = jnp.abs(ll - ll_prev) <= tol * n_total
        params = jax.tree_util.tree_map(
            lambda new, old: jnp.where(finite, new, old), new_params, params
        )
        return params, ll, it + jnp.where(finite, 1, 0), trace, converged | ~finite, finite

    state = (params0, jnp.asarray(-jnp.inf), jnp.asarray(0), trace0, jnp.asarray(False),
             jnp.asarray(True))
    params, ll_prev, it, trace, converged, finite = jax.lax.while_loop(not_done, body, state)
    # One more E-step gives the log-likelihood at the returned parameters, so
    # that the reported value is exact rather than one iteration stale.
    _, loglik = step(params)
    trace = trace.at[it].set(loglik)
    # The final change also counts: convergence is judged at the returned point.
    converged = (converged | (jnp.abs(loglik - ll_prev) <= tol * n_total)) & finite
    return EMRun(params, loglik, trace, it, converged, finite)
