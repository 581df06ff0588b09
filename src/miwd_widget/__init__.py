"""miwd-widget: model-invariant weight distribution descriptors and an atlas widget.

Implements Eilertsen et al., "Model-invariant weight distribution descriptors for visual
exploration of neural networks en masse" (EuroVis 2024).

The public names below are imported on first use, so ``import miwd_widget`` stays fast
(numba, scikit-learn, umap, torch and the widget stack load only when needed).

Examples
--------
>>> import numpy as np
>>> import miwd_widget as mw
>>> mw.mi_wd(np.array([-1.0, -0.5, 0.5, 1.0]), S=2, B=2, value_range=(-1, 1)).tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("miwd-widget")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# A library logs; the application decides where it goes.
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> the module that defines it.
_EXPORTS = {
    "mi_wd": "descriptors",
    "describe": "descriptors",
    "DescriptorConfig": "descriptors",
    "flatten_weights": "weights",
    "open_weights": "weights",
    "ModelLibrary": "library",
    "load_demo_library": "library",
    "Atlas": "widget",
}

__all__ = [
    "mi_wd",
    "describe",
    "DescriptorConfig",
    "flatten_weights",
    "open_weights",
    "ModelLibrary",
    "load_demo_library",
    "Atlas",
    "__version__",
]

if TYPE_CHECKING:
    from .descriptors import DescriptorConfig, describe, mi_wd
    from .library import ModelLibrary, load_demo_library
    from .weights import flatten_weights, open_weights
    from .widget import Atlas


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
