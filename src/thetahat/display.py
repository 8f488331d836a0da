"""Plain-text summary tables of fit results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from thetahat.result import FitResult

__all__ = ["summary_table"]


def _fmt(value: Any) -> str:
    value = float(value)
    if not np.isfinite(value):
        return "-"
    return f"{value:.6g}"


def summary_table(res: FitResult) -> str:
    """Estimates, SEs and 95% Wald intervals, then fit statistics."""
    ci = res.conf_int(0.95)
    rows = [("parameter", "estimate", "std.err", "2.5%", "97.5%", "")]
    for name, value in res.params.items():
        for label, idx in _entries(name, value):
            est = np.asarray(value)[idx] if idx is not None else value
            if name in res.fixed:
                rows.append((label, _fmt(est), "", "", "", "fixed"))
                continue
            se = res.se.get(name)
            lo, hi = ci.get(name, (np.nan, np.nan))
            pick = (lambda v: np.asarray(v)[idx]) if idx is not None else (lambda v: v)
            note = "boundary" if name in res.at_boundary else ""
            rows.append((
                label,
                _fmt(est),
                _fmt(pick(se)) if se is not None else "-",
                _fmt(pick(lo)),
                _fmt(pick(hi)),
                note,
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    kind = "Maximum a posteriori (MAP)" if res.log_prior is not None else "Maximum-likelihood"
    lines = [f"{kind} fit: {res.family.name}   (n = {res.nobs:g})"]
    lines += ["  ".join(c.rjust(wd) if i else c.ljust(wd) for i, (c, wd) in enumerate(zip(r, widths))).rstrip() for r in rows]
    lines.append(
        f"loglik = {res.loglik:.6f}   AIC = {res.aic:.4f}   BIC = {res.bic:.4f}   "
        f"free parameters = {res.n_free}"
    )
    if res.log_prior is not None:
        lines.append(
            f"log prior = {res.log_prior:.6f}   log posterior (unnormalised) = "
            f"{res.loglik + res.log_prior:.6f}; standard errors: Laplace approximation"
        )
    status = "converged" if res.converged else "NOT CONVERGED"
    lines.append(
        f"{status} ({res.method}, {res.n_iter} iterations, max |score| = {res.score_norm:.2e}): "
        f"{res.message}"
    )
    if not res.hessian_ok:
        lines.append(f"warning: {res.hessian_message}")
    return "\n".join(lines)


def _entries(name: str, value: Any) -> list[tuple[str, Any]]:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return [(name, None)]
    return [(f"{name}[{','.join(map(str, i))}]", i) for i in np.ndindex(*arr.shape)]
