"""Compatibility alias of :mod:`miwd_widget.weights`, the home of the readers.

Kept so that ``from miwd_widget.readers import flatten_weights`` (and the other public
names) still works; new code imports from :mod:`miwd_widget.weights`.
"""

from __future__ import annotations

from .weights import (
    MissingDependencyError,
    Skip,
    Tensor,
    WeightReadError,
    WeightSource,
    build_source,
    flatten_weights,
    is_tensor_like,
    natural_key,
    open_weights,
)

__all__ = [
    "Tensor",
    "WeightSource",
    "WeightReadError",
    "MissingDependencyError",
    "open_weights",
    "flatten_weights",
    "natural_key",
    "build_source",
    "is_tensor_like",
    "Skip",
]
