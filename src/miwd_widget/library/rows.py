"""Describe many models held in one flat buffer in one compiled call (no per-model Python).

A build of many small models, or of a matrix with one model per row (the Small CNN Zoo's
``weights.npy``), spends more time in Python per model than in the histograms. Here the
models are one 1-D float32/float64 buffer plus ``offsets`` (model ``i`` is
``flat[offsets[i]:offsets[i + 1]]``), and one compiled loop calls the MI-WD kernel's own
:func:`~miwd_widget.descriptors.kernel.accumulate_windows` per model, so the counts, and hence the
descriptors, are exactly those of :func:`~miwd_widget.descriptors.kernel.describe_source`.
Blocks of models run on Python threads (the loop releases the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ..descriptors.config import DescriptorConfig
from ..descriptors.kernel import accumulate_windows, histogram_edges, kernel_threads

__all__ = ["describe_rows", "describe_matrix"]


@njit(cache=True, nogil=True)
def _describe_range(flat, offsets, first, last, n_windows, nbins, lo, hi, edges, clip, out, bad):
    """Descriptors of models first..last-1 into out (m, S, B) float32; non-finite counts."""
    counts = np.zeros((n_windows, nbins), dtype=np.int64)
    window_bad = np.zeros(n_windows, dtype=np.int64)
    for i in range(first, last):
        a, b = offsets[i], offsets[i + 1]
        counts[:] = 0
        window_bad[:] = 0
        accumulate_windows(
            flat[a:b], 0, b - a, n_windows, nbins, lo, hi, edges, clip, counts, window_bad
        )
        bad[i] = window_bad.sum()
        for s in range(n_windows):
            total = 0
            for k in range(nbins):
                total += counts[s, k]
            total = max(total, 1)
            for k in range(nbins):
                # float64 division, then float32: what describe_source's numpy code does.
                out[i, s, k] = np.float32(counts[s, k] / total)


def describe_rows(
    flat: np.ndarray,
    offsets: np.ndarray,
    config: DescriptorConfig,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors (m, S, B) float32 of the models ``flat[offsets[i]:offsets[i+1]]``.

    Also returns each model's count of non-finite weights (``nan_policy="raise"`` callers
    treat a model with any as failed; ``"omit"`` callers keep its descriptor, which leaves
    them out). Every model must have at least S weights (the caller checks).

    Examples
    --------
    >>> cfg = DescriptorConfig(S=2, B=2, value_range=(-1, 1))
    >>> d, bad = describe_rows(np.array([-0.5, -0.5, 0.5, 0.5, 0.5, 0.5], np.float32),
    ...                        np.array([0, 4, 6]), cfg)
    >>> d.tolist(), bad.tolist()
    ([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]], [0, 0])
    """
    flat = np.ascontiguousarray(flat)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    m = len(offsets) - 1
    S, B = config.S, config.B
    lo, hi = config.range
    out = np.empty((m, S, B), np.float32)
    bad = np.zeros(m, np.int64)
    if m <= 0:
        return out, bad
    if np.any(np.diff(offsets) < S):
        raise ValueError(f"every model needs at least S={S} weights")
    nthreads = kernel_threads(threads)
    nthreads = min(nthreads, m)
    args = (flat, offsets)
    rest = (S, B, float(lo), float(hi), histogram_edges(config), bool(config.clip), out, bad)
    if nthreads == 1:
        _describe_range(*args, 0, m, *rest)
        return out, bad
    # Blocks of equal weight counts, not of equal model counts.
    cuts = np.searchsorted(offsets, np.linspace(offsets[0], offsets[-1], nthreads + 1))
    cuts = np.clip(cuts, 0, m)
    cuts[0], cuts[-1] = 0, m
    with ThreadPoolExecutor(max_workers=nthreads, thread_name_prefix="miwd-rows") as pool:
        futures = [
            pool.submit(_describe_range, *args, int(a), int(b), *rest)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
            if b > a
        ]
        for f in futures:
            f.result()
    return out, bad


def describe_matrix(
    matrix: np.ndarray, config: DescriptorConfig, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`describe_rows` for a (m, N) matrix holding one model per row (e.g. a memmap).

    Examples
    --------
    >>> cfg = DescriptorConfig(S=1, B=2, value_range=(0, 1))
    >>> describe_matrix(np.array([[0.1, 0.9], [0.2, 0.3]]), cfg)[0][:, 0].tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    x = np.asarray(matrix)
    if x.ndim != 2:
        raise ValueError(f"expected a (models, weights) matrix, got shape {x.shape}")
    m, n = x.shape
    offsets = np.arange(m + 1, dtype=np.int64) * n
    return describe_rows(x.reshape(-1), offsets, config, threads)
