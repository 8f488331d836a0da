"""scipy submodules imported on first use.

scipy.special, scipy.optimize and scipy.stats cost ~0.15 s, ~0.4 s and
~0.8 s to import here; thetahat needs them only inside some closed forms,
start values and predictive distributions, so importing thetahat (or fitting
a normal in a fresh process) should not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["optimize", "special", "stats"]


class _LazyModule:
    """A module imported on first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


special: Any = _LazyModule("scipy.special")
optimize: Any = _LazyModule("scipy.optimize")
stats: Any = _LazyModule("scipy.stats")
