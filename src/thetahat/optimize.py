"""Trust-region Newton on the unconstrained vector, with the exact Hessian.

Each pass evaluates the NLL, its gradient and Hessian once (compiled per
:class:`~thetahat.likelihood.Layout` and input shape; data are padded to a
few bucket sizes with zero weights, so a new sample size rarely recompiles)
and hands them to :func:`_advance`, the step logic, which holds no
likelihood and is compiled once per number of parameters. A single fit
drives the passes from Python, so a new family compiles only its
likelihood; batches of fits run the same passes inside one
``jax.lax.while_loop`` (:func:`_compiled_solver`) to ``vmap`` them.

Each iteration solves the trust-region subproblem exactly through an
eigendecomposition of the Hessian (the number of parameters is small), which
makes the method globally convergent from poor starts and well behaved on
indefinite Hessians. Convergence is judged by the Newton decrement
``g' H^-1 g`` -- the predicted remaining decrease of the NLL -- never by an
iteration count.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from thetahat._jit import jit
from thetahat.data import is_unit, strided_rows, weight_total
from thetahat.likelihood import CHUNK, LONG_BLOCK, Layout, nll_value_grad, nll_value_grad_hess

__all__ = [
    "LARGE", "Solution", "TrustRegionNewton", "bucket_rows", "device_data", "eval_vgh", "pad_to_bucket",
    "solve", "subsample",
]


class Solution(NamedTuple):
    """Raw optimiser output on the unconstrained scale."""

    z: np.ndarray
    nll: float
    grad: np.ndarray
    hess: np.ndarray
    n_iter: int
    decrement: float
    converged: bool
    message: str
    #: (flattened free parameters, d theta / dz) at ``z`` when already
    #: computed (closed forms); else None.
    unpacked: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class TrustRegionNewton:
    """Solver settings.

    Parameters
    ----------
    tol : float, default=1e-12
        Converged when the Newton decrement ``g' H^-1 g`` is below
        ``tol * (1 + |nll|)``: the remaining improvement of the log-likelihood
        is then below ``tol/2`` relative, and the estimate is within about
        ``sqrt(tol * (1+|nll|))`` standard errors of the optimum.
    max_iter : int, default=200
        Iteration limit; reaching it gives ``converged=False``.
    """

    tol: float = 1e-12
    max_iter: int = 200


def _subproblem_step(g: Any, lam: Any, q: Any, radius: Any) -> Any:
    """argmin_s g's + s'Hs/2 subject to ||s|| <= radius, with H = q diag(lam) q' (Moré–Sorensen)."""
    gq = q.T @ g
    lam_min = lam[0]

    def step_for(mu: Any) -> Any:
        return -(q @ (gq / (lam + mu)))

    tiny = 1e-12 * (1.0 + jnp.max(jnp.abs(lam)))
    newton_ok = lam_min > tiny
    newton = step_for(0.0)
    inside = newton_ok & (jnp.linalg.norm(newton) <= radius)
    # Otherwise find mu > max(0, -lam_min) with ||s(mu)|| = radius by bisection
    # on a log scale: cheap for a handful of parameters and always safe.
    mu_low = jnp.maximum(0.0, -lam_min) + tiny
    mu_high = mu_low + jnp.linalg.norm(g) / radius + jnp.max(jnp.abs(lam)) + 1.0

    def bisect(_: Any, bracket: Any) -> Any:
        lo, hi = bracket
        mid = jnp.sqrt(lo * hi)
        too_long = jnp.linalg.norm(step_for(mid)) > radius
        return jnp.where(too_long, mid, lo), jnp.where(too_long, hi, mid)

    _, mu = jax.lax.fori_loop(0, 80, bisect, (mu_low, mu_high))
    step = step_for(mu)
    # Hard case (g orthogonal to the most negative curvature, e.g. g = 0 at a
    # saddle): the secular equation has no root, so move along that
    # eigenvector to the trust-region boundary.
    gap = radius**2 - jnp.sum(step**2)
    hard = (lam_min < 0) & (gap > 1e-12 * radius**2)
    step = jnp.where(hard, step + jnp.sqrt(jnp.maximum(gap, 0.0)) * q[:, 0], step)
    return jnp.where(inside, newton, step)


def _newton_step(g: Any, lam: Any, q: Any, xp: Any = jnp) -> tuple[Any, Any]:
    """(-H^-1 g, the Newton decrement g' H^-1 g); zero step and +inf when H is not positive definite.

    ``H = q diag(lam) q'``; ``xp=np`` evaluates it on the host.
    """
    gq = q.T @ g
    pd = lam[0] > 1e-14 * (1.0 + xp.max(xp.abs(lam)))
    scaled = gq / xp.where(pd, lam, 1.0)
    step = xp.where(pd, -(q @ scaled), 0.0)
    return xp.where(xp.all(xp.isfinite(step)), step, 0.0), xp.where(pd, xp.sum(gq * scaled), xp.inf)


#: A trust radius below this (relative to 1 + |z|) means no step lowers the NLL.
_STALLED = 1e-13

#: Roles of the candidate point in the solver loop (see :func:`_advance`).
_START, _TRUST, _POLISH, _DONE = 0, 1, 2, 3


class _State(NamedTuple):
    """The solver between two likelihood evaluations (all jax arrays)."""

    z: Any
    f: Any
    g: Any
    h: Any
    radius: Any
    it: Any
    dec: Any
    step: Any
    candidate: Any  # z + step: where the likelihood is evaluated next
    predicted: Any  # the NLL decrease the model predicts for a trust step
    mode: Any


def _initial_state(z0: Any, xp: Any = jnp) -> _State:
    """The state before the first evaluation (``xp=np``: host arrays, nothing to compile)."""
    p = z0.shape[0]
    dtype = z0.dtype
    return _State(
        z0, xp.asarray(np.inf, dtype), xp.zeros(p, dtype), xp.eye(p, dtype=dtype),
        xp.asarray(1.0, dtype), xp.asarray(0, np.int32), xp.asarray(np.inf, dtype),
        xp.zeros(p, dtype), z0, xp.asarray(0.0, dtype), xp.asarray(_START, np.int32),
    )


def _advance(state: _State, f_new: Any, g_new: Any, h_new: Any, tol: Any, max_iter: Any) -> _State:
    """Take the NLL (value, gradient, Hessian) at the candidate; choose the next one.

    The candidate's role ``mode`` says what to do with it: START (taken as
    is), TRUST (a trust-region step, accepted by the ratio test), POLISH (one
    last full Newton step, kept if it does not hurt), after which the state
    is DONE. One likelihood evaluation per pass keeps the compiled program
    small, and this function holds no likelihood at all: it is compiled once
    per number of parameters and shared by every family.
    """
    z, f, g, h, radius, it, dec, step, _, predicted, mode = state
    ok = jnp.isfinite(f_new) & jnp.all(jnp.isfinite(g_new)) & jnp.all(jnp.isfinite(h_new))
    actual = f - f_new
    rho = jnp.where(ok, actual / jnp.where(predicted > 0, predicted, 1.0), -1.0)
    # A step that lowers f within rounding counts as progress too.
    accept_trust = ok & ((rho > 1e-4) | ((actual >= 0) & (predicted <= 1e-15 * (1 + jnp.abs(f)))))
    # The polish step is kept when the NLL does not rise beyond its rounding
    # level and the score shrinks: near the optimum the decrease itself is
    # below rounding.
    keep_polish = (
        jnp.isfinite(f_new)
        & jnp.all(jnp.isfinite(g_new))
        & (f_new <= f + 1e-12 * (1.0 + jnp.abs(f)))
        & (jnp.linalg.norm(g_new) <= jnp.linalg.norm(g))
    )
    accept = jnp.where(mode == _START, True, jnp.where(mode == _TRUST, accept_trust, keep_polish))
    step_norm = jnp.linalg.norm(step)
    resized = jnp.where(
        rho < 0.25,
        0.25 * step_norm,
        jnp.where((rho > 0.75) & (step_norm >= 0.99 * radius), 2.0 * radius, radius),
    )
    radius = jnp.where(mode == _TRUST, jnp.minimum(resized, 1e6), radius)
    z = jnp.where(accept, z + step, z)
    f = jnp.where(accept, f_new, f)
    g = jnp.where(accept, g_new, g)
    h = jnp.where(accept, h_new, h)
    it = (it + (mode == _TRUST)).astype(jnp.int32)
    # One eigendecomposition serves the decrement, the trust-region step and
    # the polishing Newton step (each its own factorisation made the step
    # logic a third of a new family's compile time).
    lam, q = jnp.linalg.eigh(h)
    newton, dec = _newton_step(g, lam, q)
    # What to evaluate next.
    converged = dec <= tol * (1.0 + jnp.abs(f))
    stalled = radius < _STALLED * (1.0 + jnp.linalg.norm(z))
    searching = mode != _POLISH
    go_on = searching & ~converged & ~stalled & (it < max_iter)
    trust_step = _subproblem_step(g, lam, q, radius)
    # Polish: one last full Newton step, nearly free once the decrement is
    # small, takes the score from ~sqrt(tol) to rounding level (quadratic
    # convergence).
    step = jnp.where(go_on, trust_step, newton)
    predicted = -(g @ trust_step + 0.5 * trust_step @ h @ trust_step)
    mode = jnp.where(go_on, _TRUST, jnp.where(searching, _POLISH, _DONE)).astype(jnp.int32)
    return _State(z, f, g, h, radius, it, dec, step, z + step, predicted, mode)


_compiled_advance = jit(_advance)


def compiled_vgh(layout: Layout) -> Callable[..., Any]:
    """The jitted NLL value, gradient and Hessian for one layout (shared with the solver)."""
    return _padded_vgh(layout, layout.size)


@lru_cache(maxsize=256)
def _compiled_solver(layout: Layout) -> Callable[..., Any]:
    """The whole solve as one jitted ``while_loop`` (for vmapped batches of fits)."""

    def run(z0: Any, x: Any, w: Any, fixed: Any, bounds: Any, tol: Any, max_iter: Any) -> Any:
        def body(state: _State) -> _State:
            f, g, h = nll_value_grad_hess(layout, state.candidate, x, w, fixed, bounds)
            return _advance(state, f, g, h, tol, max_iter)

        st = jax.lax.while_loop(lambda st: st.mode != _DONE, body, _initial_state(z0))
        return st.z, st.f, st.g, st.h, st.radius, st.it, st.dec

    # Plain jax.jit: this one runs nested inside the callers' compiled
    # programs (vmapped refits, mixture M-steps), where XLA options cannot go.
    return jax.jit(run)


def _run_loop(
    layout: Layout,
    z0: Any,
    data: Any,
    fixed: Any,
    bounds: Any,
    tol: float,
    max_iter: int,
    first: tuple[Any, Any, Any] | None = None,
) -> tuple[Any, ...]:
    """The solve of one fit, driven from Python: only the likelihood is family-specific.

    Each pass calls the layout's compiled value/gradient/Hessian and the
    shared compiled :func:`_advance`; a new family then compiles only its
    likelihood (a fraction of the whole-loop program), at ~0.1 ms of
    dispatch per iteration. ``data``: from :func:`device_data`. ``first``:
    the (value, gradient, Hessian) at ``z0`` when the caller already has them.
    """
    p = z0.shape[0]
    size = max(p, _STEP_SIZE)
    if isinstance(data, _Blocks):
        def vgh(candidate: Any, *_: Any) -> Any:
            return _pad_derivatives(*eval_vgh(layout, np.asarray(candidate)[:p], data, fixed, bounds), size)
        x = w = None
    else:
        vgh = _padded_vgh(layout, size)
        x, w = data
    state = _initial_state(np.pad(np.asarray(z0, np.float64), (0, size - p)), np)
    for i in range(max_iter + 3):  # START, max_iter trust steps, POLISH
        if i == 0 and first is not None:
            f0, g0, h0 = first
            f, g, h = _pad_derivatives(
                np.float64(f0), np.asarray(g0, np.float64), np.asarray(h0, np.float64), size
            )
        else:
            f, g, h = vgh(state.candidate, x, w, fixed, bounds)
        state = _compiled_advance(state, f, g, h, tol, max_iter)
        if int(state.mode) == _DONE:
            break
    z, g, h = np.asarray(state.z)[:p], np.asarray(state.g)[:p], np.asarray(state.h)[:p, :p]
    return z, state.f, g, h, state.radius, state.it, state.dec


def _pad_derivatives(f: Any, g: Any, h: Any, size: int, xp: Any = np) -> tuple[Any, Any, Any]:
    """``(f, g, h)`` padded to ``size`` parameters: zero score (steps there are 0) and
    the curvature of h's largest diagonal entry.

    Not unit curvature: the step logic judges definiteness relative to the
    largest eigenvalue, and a padded 1 next to curvatures of 1e14 (a scale
    parameter far below the data's range, as a Cauchy fit's) read as singular.
    h's largest diagonal entry lies between its largest eigenvalue / size and
    that eigenvalue, so the padding neither dominates nor looks singular.
    """
    p, extra = g.shape[0], size - g.shape[0]
    if extra == 0:
        return f, g, h
    top = xp.max(xp.abs(xp.diagonal(h)))
    pad = xp.where(xp.isfinite(top) & (top > 0), top, 1.0)
    g = xp.concatenate([g, xp.zeros(extra, g.dtype)])
    corner = pad * xp.eye(extra, dtype=h.dtype)
    h = xp.block([[h, xp.zeros((p, extra), h.dtype)], [xp.zeros((extra, p), h.dtype), corner]])
    return f, g, h


#: Up to this many parameters, the step logic runs on a problem padded to this
#: size (zero score, positive curvature: steps there are exactly 0), so that it is
#: compiled once for all of them instead of once per number of parameters.
_STEP_SIZE = 4


@lru_cache(maxsize=256)
def _padded_vgh(layout: Layout, size: int) -> Callable[..., Any]:
    """The jitted NLL value, gradient and Hessian at the first ``layout.size`` entries, padded to ``size``.

    Bounded cache: every compiled executable holds memory until released.
    """
    p = layout.size

    def padded(candidate: Any, x: Any, w: Any, fixed: Any, bounds: Any) -> Any:
        return _pad_derivatives(*nll_value_grad_hess(layout, candidate[:p], x, w, fixed, bounds), size, jnp)

    return jit(padded)


def bucket_size(n: int) -> int:
    """The padded length of ``n`` rows: one of ~4 sizes per octave, a multiple of ``CHUNK`` above it."""
    if n <= 64:
        return 64
    step = 2 ** (int(np.floor(np.log2(n))) - 2)
    if n > CHUNK:  # blocks of CHUNK rows must tile the padded data
        step = max(step, CHUNK)
    return int(-(-n // step) * step)


def pad_to_bucket(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad data with zero-weight copies of x[0] up to :func:`bucket_size` rows.

    Zero-weight rows contribute exactly nothing, and a new sample size then
    reuses an existing compilation instead of triggering a new one. Rows made
    by :func:`bucket_rows` are padded in place, without a copy.
    """
    n = x.shape[0]
    size = bucket_size(n)
    if size == n:
        return x, w
    entry = _IN_BUCKET.get(id(x))
    if entry is not None and entry[0]() is x:
        xp = entry[1]
    else:
        xp = aligned_empty((size,) + x.shape[1:])
        xp[:n] = x
    xp[n:] = x[:1]
    wp = aligned_empty((size,))
    wp[:n], wp[n:] = w, 0.0
    return xp, wp


#: Arrays made by :func:`bucket_rows`, by id: (a weak reference to the
#: array, the padded array it begins); an entry leaves with its array.
_IN_BUCKET: dict[int, tuple[Any, np.ndarray]] = {}


def bucket_rows(n: int, tail: tuple[int, ...] = ()) -> np.ndarray:
    """An uninitialised (n, *tail) float64 array that :func:`pad_to_bucket` pads without copying.

    It is the start of an aligned array of ``bucket_size(n)`` rows: data
    built here (e.g. a regression's rows, 64 MB at 1e6 x 8) are not copied
    again for the solver.
    """
    full = aligned_empty((bucket_size(n),) + tail)
    rows = full[:n]
    key = id(rows)
    _IN_BUCKET[key] = (weakref.ref(rows, lambda _: _IN_BUCKET.pop(key, None)), full)
    return rows


#: XLA on the CPU shares a host array without copying it only at this alignment.
_ALIGN = 64


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array whose data start on a ``_ALIGN``-byte boundary.

    numpy's large arrays start 16 bytes into their pages; ``jax.device_put``
    then copies them (at 1e6 x 8 rows, ~45 ms per fit, more than a gradient
    pass), while an aligned one is used in place.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * 8
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    offset = -raw.ctypes.data % _ALIGN
    return raw[offset : offset + nbytes].view(np.float64).reshape(shape)


#: How far above ``tol`` the Newton decrement may stay when the NLL can no
#: longer be lowered at all (see :func:`convergence`).
ROUNDING_SLACK = 1e3


def convergence(f: Any, dec: Any, radius: Any, z: Any, tol: float) -> tuple[Any, Any]:
    """(converged, at the rounding floor) of finished solves, elementwise over a batch.

    Converged when the Newton decrement is below ``tol * (1 + |nll|)``. When
    no step lowers the NLL any more (the trust region collapsed), its
    remaining decrease is below the NLL's own rounding noise: cancellation in
    y - mean for residuals near rounding level (NIST Lanczos) puts that noise
    above tol. A decrement within ROUNDING_SLACK * tol then still places the
    estimate within sqrt(1e3 * tol) standard errors of the optimum, and counts
    as converged too (the second flag says so).
    """
    f, dec, radius = np.asarray(f, float), np.asarray(dec, float), np.asarray(radius, float)
    finite = np.isfinite(f)
    strict = finite & (dec <= tol * (1.0 + np.abs(f)))
    stalled = radius < _STALLED * (1.0 + np.linalg.norm(np.asarray(z, float), axis=-1))
    floor = ~strict & stalled & finite & (dec <= ROUNDING_SLACK * tol * (1.0 + np.abs(f)))
    return strict | floor, floor


#: From this many rows on, a single fit first converges on a strided subsample
#: of about ``SUBSAMPLE`` rows and then finishes on all rows with Newton steps
#: that reuse the subsample's (rescaled) Hessian (:func:`_lagged_newton`).
LARGE = 4 * CHUNK
SUBSAMPLE = CHUNK


@dataclass(frozen=True)
class _Blocks:
    """Device data as blocks of rows: one compiled program per block length serves every sample size.

    ``hessian``: blocks of ``CHUNK`` rows (the subsample of a large fit is one
    of them, so it shares the full data's compiled Hessian pass);
    ``gradient``: blocks of ``LONG_BLOCK`` rows and the rest in ``CHUNK``
    rows (a linear predictor's gradient pass is faster over long blocks).
    Both are views of the same padded host array, shared, not copied.
    """

    hessian: tuple[tuple[Any, Any], ...]
    gradient: tuple[tuple[Any, Any], ...]


def device_data(xp: np.ndarray, wp: np.ndarray, layout: Layout) -> Any:
    """Padded data on the device: whole arrays below ``CHUNK`` rows (or with a prior), else :class:`_Blocks`.

    On the CPU the arrays are shared with numpy instead of copied (read only
    here): at 1e6 rows a copy costs more than an iteration.
    """
    n = xp.shape[0]
    if n < CHUNK or layout.log_prior is not None:  # the prior enters once, not per block
        return jax.device_put(xp, may_alias=True), jax.device_put(wp, may_alias=True)

    def blocks(start: int, stop: int, rows: int) -> tuple[tuple[Any, Any], ...]:
        views = [(xp[i : i + rows], wp[i : i + rows]) for i in range(start, stop, rows)]
        return tuple(jax.device_put(views, may_alias=True))  # one call: a third cheaper than one per block

    long_end = n // LONG_BLOCK * LONG_BLOCK
    return _Blocks(blocks(0, n, CHUNK), blocks(0, long_end, LONG_BLOCK) + blocks(long_end, n, CHUNK))


def _summed(fn: Callable[..., Any], z: Any, blocks: Any, fixed: Any, bounds: Any) -> tuple[np.ndarray, ...]:
    """The sum over blocks of ``fn(z, x_block, w_block, fixed, bounds)`` (host arrays).

    Every block is dispatched before the first result is read, so the
    device works through them back to back.
    """
    z = jnp.asarray(z)
    parts = [fn(z, xb, wb, fixed, bounds) for xb, wb in blocks]
    total = [np.array(v, np.float64) for v in parts[0]]
    for part in parts[1:]:
        for acc, v in zip(total, part):
            acc += np.asarray(v)
    return tuple(total)


def eval_vgh(layout: Layout, z: Any, data: Any, fixed: Any, bounds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NLL value, gradient and Hessian at ``z`` over :func:`device_data` (host arrays)."""
    if isinstance(data, _Blocks):
        f, g, h = _summed(compiled_vgh(layout), z, data.hessian, fixed, bounds)
    else:
        f, g, h = (np.asarray(v) for v in compiled_vgh(layout)(jnp.asarray(z), *data, fixed, bounds))
    return f, g, h


def _eval_vg(layout: Layout, z: Any, data: Any, fixed: Any, bounds: Any) -> tuple[np.ndarray, np.ndarray]:
    """NLL value and gradient at ``z`` over :func:`device_data` (host arrays)."""
    if isinstance(data, _Blocks):
        f, g = _summed(_compiled_vg(layout), z, data.gradient, fixed, bounds)
    else:
        f, g = (np.asarray(v) for v in _compiled_vg(layout)(jnp.asarray(z), *data, fixed, bounds))
    return f, g


def solve(
    layout: Layout,
    z0: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    fixed_flat: np.ndarray,
    bounds: np.ndarray,
    solver: TrustRegionNewton,
    sub: tuple[np.ndarray, np.ndarray] | None = None,
) -> Solution:
    """Minimise the NLL from ``z0``; the caller holds ``jax.enable_x64``.

    ``sub``: :func:`subsample` of ``(x, w)`` when the caller has already made it.

    On large data (``LARGE`` rows or more, no prior) the iterations that
    need a Hessian run on a strided subsample; all rows then see only
    gradient passes, a fraction of a Hessian pass, until the last pass,
    which gives the exact Hessian at the estimate. Whenever that shortcut
    does not converge, the full trust-region solve takes over where it stopped.
    """
    if is_unit(w) or np.all(w > 0):  # zero weights are then padding copies of row 0
        layout = dataclasses.replace(layout, guard=False)
    data = device_data(*pad_to_bucket(x, w), layout)
    fixed = jnp.asarray(fixed_flat, dtype=jnp.float64)
    bnds = jnp.asarray(bounds, dtype=jnp.float64)
    z_start = np.asarray(z0, dtype=np.float64)
    first: tuple[Any, Any, Any] | None = None
    done, it0 = False, 0
    if x.shape[0] >= LARGE and layout.log_prior is None:
        shortcut = _subsample_start(
            layout, z_start, sub or subsample(x, w), weight_total(w), fixed, bnds, solver
        )
        if shortcut is not None:
            z_start, h_lagged, it0 = shortcut
            known = None
            # Each round ends with an exact Hessian pass, which the next round
            # reuses (Shamanskii's method); a round that cannot take a single
            # step hands over to the trust region.
            for _ in range(_LAGGED_ROUNDS):
                (z_start, f1, g1, h1), done, more = _lagged_newton(
                    layout, z_start, h_lagged, data, fixed, bnds, solver.tol, known, known is not None
                )
                first = (f1, g1, h1)
                it0 += more
                if done or more == 0:
                    break
                known, h_lagged = (f1, g1), h1
    if done and first is not None:
        f_end, g_end, h_end = first
        z_end, radius, it, dec_end = z_start, 1.0, it0, _decrement(g_end, h_end)
    else:
        z_end, f_end, g_end, h_end, radius, it_loop, dec_end = _run_loop(
            layout, z_start, data, fixed, bnds, solver.tol, solver.max_iter, first
        )
        it = int(it_loop) + it0
    z, g, h = np.asarray(z_end), np.asarray(g_end), np.asarray(h_end)
    f, dec = float(f_end), float(dec_end)
    converged_flag, floor_flag = convergence(f, dec, radius, z, solver.tol)
    converged, at_rounding_floor = bool(converged_flag), bool(floor_flag)
    if at_rounding_floor:
        message = "converged: no step lowers the NLL and the Newton decrement is at its rounding level"
    elif converged:
        message = "converged: Newton decrement below tolerance"
    elif not np.isfinite(dec):
        message = "stopped where the Hessian is not positive definite (no strict local maximum)"
    elif it >= solver.max_iter:
        message = f"iteration limit ({solver.max_iter}) reached"
    else:
        message = "no further progress possible: trust region collapsed"
    return Solution(z, f, g, h, it, dec, converged, message)


def subsample(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and weights of a strided subsample of ``SUBSAMPLE`` rows (:func:`thetahat.data.strided_rows`).

    Univariate data keep their smallest and largest observation (in place
    of the last two strided ones): a threshold parameter is bounded by them,
    and a subsample without them may put its optimum past the full data's
    bound. Each strided row stands for ``n / SUBSAMPLE`` rows, the two ends
    for themselves, so they weigh ``SUBSAMPLE / n`` of their weight.
    """
    xs, ws = strided_rows(x, SUBSAMPLE), strided_rows(w, SUBSAMPLE)
    if xs is x or x.ndim != 1:
        return xs, ws
    if is_unit(w):
        ends = [int(np.argmin(x)), int(np.argmax(x))]
    else:  # ends among the used rows
        used = np.flatnonzero(w > 0)
        ends = [int(used[np.argmin(x[used])]), int(used[np.argmax(x[used])])]
    xs[-2:], ws[-2:] = x[ends], w[ends] * (SUBSAMPLE / x.shape[0])
    return xs, ws


def _subsample_start(
    layout: Layout, z0: Any, sub: tuple[np.ndarray, np.ndarray], w_total: float, fixed: Any, bounds: Any,
    solver: TrustRegionNewton,
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(estimate, Hessian rescaled to all rows, iterations) of the fit to the subsample ``sub``.

    ``w_total``: the total weight of all rows. None when that fit does not
    converge (the full solve starts from ``z0``).
    """
    xs, ws = sub
    ws_total = float(np.sum(ws))
    if not ws_total > 0.0:
        return None
    z, f, g, h, radius, it, dec = _run_loop(
        layout, z0, device_data(*pad_to_bucket(xs, ws), layout), fixed, bounds, solver.tol, solver.max_iter
    )
    converged, _ = convergence(f, dec, radius, np.asarray(z), solver.tol)
    if not bool(converged):
        return None
    return np.asarray(z), np.asarray(h) * (w_total / ws_total), int(it)


#: Rounds of lagged-Hessian steps, each ending with an exact Hessian.
_LAGGED_ROUNDS = 8
#: A lagged-Hessian step that cuts the decrement by less than this factor
#: ends its round: the next one starts from the exact Hessian there.
_LAGGED_CONTRACTION = 0.5
#: A step predicted (from the last contraction) to bring the decrement below
#: this fraction of ``tol`` is the round's last: the polish of the full
#: solve, evaluated by the exact-Hessian pass instead of a gradient pass.
_LAGGED_FINISH = 1e-3


def _lagged_newton(
    layout: Layout,
    z: np.ndarray,
    h: np.ndarray,
    data: Any,
    fixed: Any,
    bounds: Any,
    tol: float,
    known: Any = None,
    exact: bool = False,
) -> tuple[tuple[Any, ...], bool, int]:
    """Newton steps with a lagged Hessian ``h`` and exact gradients on all rows.

    Near the optimum a Hessian that is off by a small relative error
    (here: the subsample's, rescaled) still contracts the error by about that
    factor per step (the chord method), and a gradient pass costs a
    fraction of a Hessian pass; a BFGS update after each step
    (:func:`_secant_update`) corrects ``h`` along the steps taken. A step is
    kept when the NLL does not rise and the decrement ``g' h^-1 g`` shrinks;
    the round ends after one polishing step past ``tol``, after a step that
    shrinks it by less than ``_LAGGED_CONTRACTION``, or after a refused one.
    The last pass evaluates the exact Hessian at the estimate; when the last
    contraction predicts that a step ends the round polished
    (``_LAGGED_FINISH``), that pass is made at the step's point directly.

    Returns ``((z, f, g, H), converged, steps)``, exact ``f, g, H`` at ``z``;
    ``converged`` when the exact decrement there meets ``tol``. ``known``:
    ``(f, g)`` at ``z`` when the caller has them; ``exact``: ``h`` is the
    Hessian at ``z`` itself (then no step means no new pass).
    """
    lam, q = np.linalg.eigh(h)
    steps = 0
    final = None  # exact (f, g, H) at z once a Hessian pass was made there
    if lam[0] > 1e-14 * (1.0 + np.max(np.abs(lam))):
        if known is None:
            known = _eval_vg(layout, z, data, fixed, bounds)
        f, g = (np.asarray(v) for v in known)
        dec = _decrement(g, h, lam, q)
        rate = None  # the decrement's contraction per step, once seen
        while np.isfinite(dec) and steps < 50:
            # Once the decrement meets tol, one more step is the polish of
            # the full solve (the estimate to ~1e-5 standard errors or better).
            polish = dec <= tol * (1.0 + abs(f))
            candidate = z + _newton_step(g, lam, q, np)[0]
            if rate is not None and dec * rate <= _LAGGED_FINISH * tol * (1.0 + abs(f)):
                # This step is predicted to end the round polished: its pass
                # is the exact-Hessian pass (saves a gradient pass).
                f_new, g_new, h_new = eval_vgh(layout, candidate, data, fixed, bounds)
                if np.isfinite(f_new) and f_new <= f + 1e-12 * (1.0 + abs(f)):
                    z, final = candidate, (f_new, g_new, h_new)
                    steps += 1
                break
            f_new, g_new = _eval_vg(layout, candidate, data, fixed, bounds)
            dec_new = _decrement(g_new, h, lam, q)
            if not (np.isfinite(f_new) and f_new <= f + 1e-12 * (1.0 + abs(f)) and dec_new < dec):
                break
            rate = dec_new / dec
            h = _secant_update(h, candidate - z, g_new - g)
            lam, q = np.linalg.eigh(h)
            z, f, g = candidate, f_new, g_new
            dec = _decrement(g, h, lam, q)
            steps += 1
            if polish or rate > _LAGGED_CONTRACTION:  # slow: a fresh Hessian here does better
                break
    if final is not None:
        f, g, h = final
    elif steps == 0 and exact:
        f, g = (np.asarray(v) for v in known)
    else:
        f, g, h = eval_vgh(layout, z, data, fixed, bounds)
    f_end = float(f)
    converged = bool(np.isfinite(f_end) and _decrement(g, h) <= tol * (1.0 + abs(f_end)))
    return (z, f_end, g, h), converged, steps


def _secant_update(h: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """BFGS update of the Hessian ``h`` from a step ``s`` and its change of gradient ``y``.

    The lagged Hessian then matches the exact curvature along each step
    taken: its error in the directions the subsample saw worst (a
    threshold's, set by the few smallest observations) shrinks step by step,
    and the chord iteration speeds up instead of stalling. Skipped (``h``
    returned) without positive curvature along ``s``, which keeps ``h``
    positive definite.
    """
    ys = float(y @ s)
    hs = h @ s
    shs = float(s @ hs)
    if not (ys > 1e-12 * np.linalg.norm(y) * np.linalg.norm(s) and shs > 0):
        return h
    return h - np.outer(hs, hs) / shs + np.outer(y, y) / ys


def _decrement(g: np.ndarray, h: np.ndarray, lam: Any = None, q: Any = None) -> float:
    """The Newton decrement g' h^-1 g on the host (+inf unless h is positive definite)."""
    if lam is None:
        lam, q = np.linalg.eigh(h)
    return float(_newton_step(g, lam, q, np)[1])


@lru_cache(maxsize=256)
def _compiled_vg(layout: Layout) -> Callable[..., Any]:
    """The jitted NLL value and gradient for one layout."""
    return jit(lambda z, x, w, fixed, bounds: nll_value_grad(layout, z, x, w, fixed, bounds))
