"""MI-WD descriptors: per-window weight histograms of a model's concatenated weights.

Eilertsen et al. (2024), section 2.1: theta (all weights in layer order) is cut into S
non-overlapping windows, ``i0 = floor(N(s-1)/S) + 1`` and ``i1 = floor(Ns/S)`` (1-based), and
each window becomes a normalized B-bin histogram over one value range. Row ``s`` of the
S x B matrix is window ``s``, so depth grows downwards.

- :mod:`.config`: :class:`DescriptorConfig`, the parameters as one frozen object, and the
  choice of the default range (``"auto"``; the paper's is ``PAPER_VALUE_RANGE``);
- :mod:`.value_range`: the one resolver of ``"auto"`` (pooled percentiles);
- :mod:`.kernel`: the numba histogram kernel (numba is imported only when it runs);
- :mod:`.compute`: :func:`mi_wd` and :func:`describe`.

Examples
--------
>>> import numpy as np
>>> mi_wd(np.array([-1.0, -0.5, 0.5, 1.0]), S=2, B=2, value_range=(-1, 1)).tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

from ..weights import WeightReadError
from .compute import DescriptorArray, describe, mi_wd
from .config import (
    DEFAULT_PERCENTILES,
    DEFAULT_VALUE_RANGE,
    PAPER_VALUE_RANGE,
    DescriptorConfig,
    DescriptorError,
)
from .value_range import auto_value_range, pooled_percentiles

__all__ = [
    "mi_wd",
    "describe",
    "auto_value_range",
    "pooled_percentiles",
    "DescriptorArray",
    "DescriptorConfig",
    "DescriptorError",
    "PAPER_VALUE_RANGE",
    "DEFAULT_VALUE_RANGE",
    "DEFAULT_PERCENTILES",
    "WeightReadError",
]
