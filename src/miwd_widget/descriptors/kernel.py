"""The MI-WD histogram kernel: per-window histograms of theta, segment by segment.

Written in numba because numpy has no batched, windowed histogram: a per-window
``np.histogram`` loop is an order of magnitude slower and copies. The kernel reads
float32/float64 segments in place (memory maps included) and never builds a concatenated or
float64 copy of theta. A large segment is cut into one block per thread; each block runs the
serial compiled loop on a Python thread (it releases the GIL) and the blocks' counts are
added. Segments below ``PARALLEL_MIN_ELEMS`` run on the calling thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit

from ..weights import WeightSource
from .config import DescriptorConfig, DescriptorError
from .value_range import CHUNK_ELEMS

__all__ = ["describe_source", "check_describable"]


@njit(cache=True, nogil=True)
def _histogram_run(x, a, b, lo, hi, scale, nbins, clip, rows):
    """Add values x[a:b] (all in one window) to ``rows``; return the non-finite count.

    ``rows`` is (4, B): consecutive values go to different copies so that runs of equal
    bins don't serialize on one memory location (about 1.5x faster); callers sum them.
    The bin is floor((v - lo) * B / (hi - lo)) in float64, with hi in the last bin, as
    numpy.histogram over [lo, hi]; numpy additionally nudges values within a few ulps
    of an edge onto its own rounded edges, which costs a third of the speed here and
    changes nothing at the scale of weights.
    """
    nonfinite = 0
    last = nbins - 1
    for i in range(a, b):
        v = x[i]
        f = (v - lo) * scale
        if f >= 0.0 and v <= hi:
            k = int(f)
            if k > last:
                k = last
            rows[i & 3, k] += 1
        elif v != v or v == np.inf or v == -np.inf:
            nonfinite += 1
        elif clip:
            rows[i & 3, 0 if v < lo else last] += 1
    return nonfinite


@njit(cache=True, nogil=True)
def _accumulate(x, offset, n_total, n_windows, nbins, lo, hi, clip, counts, bad):
    """Add the histogram counts of segment ``x`` (theta[offset:offset+len(x)]) to ``counts``.

    counts: (S, B) int64, bad: (S,) int64 non-finite counts per window. Compiled serially
    and run on blocks of a segment from Python threads (it releases the GIL): measured here,
    numba's own parallel=True compilation of the same loop ran each thread 25% slower, and
    its thread pool costs more than a small segment's histogram.
    """
    rows = np.zeros((n_windows, 4, nbins), dtype=np.int64)
    scale = nbins / (hi - lo)
    g = offset
    stop = offset + x.shape[0]
    while g < stop:
        # window holding global index g: the largest s with floor(N s / S) <= g
        s = ((g + 1) * n_windows - 1) // n_total
        end = min(((s + 1) * n_total) // n_windows, stop)
        bad[s] += _histogram_run(x, g - offset, end - offset, lo, hi, scale, nbins, clip, rows[s])
        g = end
    for s in range(n_windows):
        for c in range(4):
            for k in range(nbins):
                counts[s, k] += rows[s, c, k]


PARALLEL_MIN_ELEMS = 1 << 18
_executor: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, numba.get_num_threads())  # honours NUMBA_NUM_THREADS


def _accumulate_threaded(
    x, offset, n_total, n_windows, nbins, lo, hi, clip, counts, bad, threads=None
):
    """Histogram segment ``x`` in one block per thread, then add the blocks' counts."""
    global _executor
    n = x.shape[0]
    nthreads = _threads() if threads is None else max(1, int(threads))
    if nthreads == 1 or n < PARALLEL_MIN_ELEMS:
        _accumulate(x, offset, n_total, n_windows, nbins, lo, hi, clip, counts, bad)
        return
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="miwd")
    bounds = [(n * t) // nthreads for t in range(nthreads + 1)]
    parts = [(np.zeros_like(counts), np.zeros_like(bad)) for _ in range(nthreads)]
    futures = [
        _executor.submit(
            _accumulate, x[a:b], offset + a, n_total, n_windows, nbins, lo, hi, clip, c, e
        )
        for a, b, (c, e) in zip(bounds[:-1], bounds[1:], parts, strict=True)
    ]
    for f in futures:
        f.result()
    for c, e in parts:
        counts += c
        bad += e


@dataclass
class _NonFinite:
    tensor: str
    nan: int
    inf: int
    first_index: int


def check_describable(ws: WeightSource, S: int) -> None:
    """Raise DescriptorError if ``ws`` has no weights or fewer than S (before any reading).

    Examples
    --------
    >>> from miwd_widget.weights import open_weights
    >>> check_describable(open_weights(np.zeros(3), name="tiny"), S=4)
    Traceback (most recent call last):
    ...
    miwd_widget.descriptors.config.DescriptorError: tiny: the model has N=3 weights, fewer than S=4 windows; use a smaller S
    """
    n_total = ws.n
    if n_total == 0:
        skipped = f" (skipped: {', '.join(n for n, _ in ws.skipped[:5])})" if ws.skipped else ""
        raise DescriptorError(f"{ws.name}: the model has no floating-point weights{skipped}")
    if n_total < S:
        raise DescriptorError(
            f"{ws.name}: the model has N={n_total} weights, fewer than S={S} windows; "
            f"use a smaller S"
        )


def describe_source(
    ws: WeightSource, config: DescriptorConfig, threads: int | None = None
) -> np.ndarray:
    """The (S, B) float32 descriptor of one opened model on a resolved ``config``.

    ``threads`` caps the kernel's threads (default: numba's thread count, which honours
    ``NUMBA_NUM_THREADS``); worker processes pass 1, as they already use every core.

    Examples
    --------
    >>> from miwd_widget.weights import open_weights
    >>> cfg = DescriptorConfig(S=2, B=2, value_range=(-1, 1))
    >>> describe_source(open_weights(np.array([-0.5, -0.5, 0.5, 0.5])), cfg).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    S, B = config.S, config.B
    lo, hi = config.range
    clip, nan_policy = config.clip, config.nan_policy
    check_describable(ws, S)
    n_total = ws.n
    counts = np.zeros((S, B), dtype=np.int64)
    bad = np.zeros(S, dtype=np.int64)
    problems: list[_NonFinite] = []
    for tensor, offset, piece in ws.chunks(CHUNK_ELEMS):
        before = int(bad.sum())
        _accumulate_threaded(
            np.ascontiguousarray(piece), offset, n_total, S, B, lo, hi, clip, counts, bad, threads
        )
        if int(bad.sum()) != before and nan_policy == "raise":
            finite = np.isfinite(piece)
            nan = int(np.isnan(piece).sum())
            first = offset + int(np.flatnonzero(~finite)[0])
            problems.append(_NonFinite(tensor.name, nan, int((~finite).sum()) - nan, first))
    if problems:
        nan = sum(p.nan for p in problems)
        inf = sum(p.inf for p in problems)
        where = "; ".join(
            f"tensor {p.tensor!r}: {p.nan} NaN, {p.inf} Inf, first at theta[{p.first_index}]"
            for p in problems[:5]
        )
        raise DescriptorError(
            f"{ws.name}: theta holds {nan} NaN and {inf} Inf values ({where}); "
            f"pass nan_policy='omit' to leave them out of the histograms"
        )
    totals = counts.sum(axis=1, keepdims=True)
    # A window with no in-range weight stays all zeros rather than dividing by zero.
    return (counts / np.maximum(totals, 1)).astype(np.float32)
