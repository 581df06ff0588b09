"""miwd-widget: model-invariant weight distribution descriptors and an atlas widget.

Implements Eilertsen et al., "Model-invariant weight distribution descriptors for visual
exploration of neural networks en masse" (EuroVis 2024).
"""

from __future__ import annotations

from .descriptors import describe, mi_wd
from .library import ModelLibrary, load_demo_library
from .readers import flatten_weights
from .widget import Atlas

__version__ = "0.1.0"

__all__ = [
    "mi_wd",
    "describe",
    "flatten_weights",
    "ModelLibrary",
    "load_demo_library",
    "Atlas",
    "__version__",
]
