"""The one resolver of ``value_range="auto"``: pooled weight percentiles.

Weights are pooled (each weight counts once; a model with more weights weighs more). Above
a sample budget a regular stride subsample stands in for them: in :func:`auto_value_range`
one stride for all models, in the library one stride per model (each sampled value then
stands for ``stride`` weights). Both end in :func:`pooled_percentiles`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..weights import WeightSource, open_weights
from .config import (
    DEFAULT_PERCENTILES,
    DescriptorConfig,
    DescriptorError,
    check_percentiles,
)

__all__ = [
    "auto_value_range",
    "pooled_percentiles",
    "resolve_value_range",
    "sample_weights",
    "AUTO_RANGE_SAMPLES",
    "CHUNK_ELEMS",
]

log = logging.getLogger(__name__)

#: Pooled weight samples behind an ``"auto"`` range (a describe call, or a whole library).
AUTO_RANGE_SAMPLES = 1 << 22

#: Values read per step; float32/float64 pieces are views, so this only bounds the
#: float16/bfloat16 conversion buffers and the work between progress updates.
CHUNK_ELEMS = 1 << 24


def sample_weights(ws: WeightSource, stride: int, phase: int = 0) -> np.ndarray:
    """Every ``stride``-th finite weight of theta, starting at global index ``phase``.

    The sample keeps the weights' precision (float64 stays float64, the rest is float32)
    and is written into one preallocated array: a budget of 4M samples of a memory-mapped
    file costs 16 MB (float32), not a copy per chunk.

    Examples
    --------
    >>> sample_weights(open_weights(np.arange(10.0)), 3).tolist()
    [0.0, 3.0, 6.0, 9.0]
    """
    dtype = np.result_type(np.float32, *[t.chunk_dtype for t in ws.tensors])
    out = np.empty(len(range(phase, ws.n, stride)), dtype=dtype)
    pos, finite = 0, True
    for _, offset, piece in ws.chunks(CHUNK_ELEMS):
        part = piece[(phase - offset) % stride :: stride]
        out[pos : pos + part.shape[0]] = part
        finite = finite and bool(np.isfinite(out[pos : pos + part.shape[0]]).all())
        pos += part.shape[0]
    return out if finite else out[np.isfinite(out)]


def pooled_percentiles(
    samples: Sequence[np.ndarray],
    strides: Sequence[int],
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> tuple[float, float]:
    """Percentiles of all weights pooled, from per-model strided samples.

    Each sampled value stands for ``stride`` weights of its model, so models are weighted by
    their size as if every weight were pooled. With equal strides this is exactly
    ``np.percentile`` of the pooled sample. A range of equal values (a constant-initialized
    model) is widened symmetrically, so it is never empty.

    Examples
    --------
    >>> pooled_percentiles([np.linspace(-1, 1, 101)], [1], (0, 100))
    (-1.0, 1.0)
    >>> pooled_percentiles([np.zeros(3), np.ones(1)], [1, 3], (0, 60))  # the 1 stands for 3
    (0.0, 1.0)
    """
    lo_q, hi_q = check_percentiles(percentiles)
    samples = [np.asarray(s) for s in samples]
    if sum(s.size for s in samples) == 0:
        raise DescriptorError("value_range='auto': the models have no finite weights")
    if len(set(strides)) <= 1:
        # One array, partitioned in place: no second copy of a large sample.
        pooled = samples[0] if len(samples) == 1 else np.concatenate(samples)
        values = np.percentile(pooled, [lo_q, hi_q], overwrite_input=True)
    else:
        pooled = np.concatenate(samples)
        weights = np.repeat(np.asarray(strides, float), [s.size for s in samples])
        values = np.percentile(pooled, [lo_q, hi_q], weights=weights, method="inverted_cdf")
    lo, hi = (float(v) for v in values)
    if not lo < hi:
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    return lo, hi


def auto_value_range(
    sources: Sequence[Any] | Any,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    max_samples: int = AUTO_RANGE_SAMPLES,
) -> tuple[float, float]:
    """Histogram range from the pooled weight percentiles of several models.

    The paper's range [-5, 5] was chosen as roughly the 5th and 95th percentiles of its
    models' weights; most networks have far smaller weights, so the same rationale is
    applied to the models at hand. Weights are pooled (each weight counts once); above
    ``max_samples`` weights in total a regular stride subsample is used, so the cost stays
    bounded for huge models.

    Examples
    --------
    >>> auto_value_range([np.linspace(-1, 1, 101)], percentiles=(25, 75))
    (-0.5, 0.5)
    """
    if isinstance(sources, (WeightSource, np.ndarray, str, os.PathLike)) or not isinstance(
        sources, Sequence
    ):
        sources = [sources]
    percentiles = check_percentiles(percentiles)
    opened = [open_weights(s) for s in sources]
    total = sum(ws.n for ws in opened)
    if total == 0:
        raise DescriptorError("value_range='auto': the models have no floating-point weights")
    stride = max(1, -(-total // max_samples))
    samples = [sample_weights(ws, stride) for ws in opened]
    lo, hi = pooled_percentiles(samples, [stride] * len(samples), percentiles)
    log.info(
        "value_range='auto': [%.4g, %.4g], percentiles %s of %d weights of %d model(s)",
        lo,
        hi,
        percentiles,
        total,
        len(opened),
    )
    return lo, hi


def resolve_value_range(config: DescriptorConfig, sources: Sequence[Any]) -> DescriptorConfig:
    """``config`` with its value range resolved over ``sources`` (unchanged if fixed).

    Examples
    --------
    >>> cfg = resolve_value_range(DescriptorConfig(percentiles=(0, 100)), [np.arange(5.0)])
    >>> cfg.value_range
    (0.0, 4.0)
    """
    if not config.is_auto:
        return config
    return config.with_range(auto_value_range(sources, config.percentiles))
