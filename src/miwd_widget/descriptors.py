"""MI-WD descriptors: per-window weight histograms of a model's concatenated weights.

Eilertsen et al. (2024), section 2.1: theta (all weights in layer order) is cut into S
non-overlapping windows, ``i0 = floor(N(s-1)/S) + 1`` and ``i1 = floor(Ns/S)`` (1-based), and
each window becomes a normalized B-bin histogram over a fixed value range. Row ``s`` of the
S x B matrix is window ``s``, so depth grows downwards.

The histogram kernel is hand-written in numba because numpy has no batched, windowed
histogram: a per-window ``np.histogram`` loop is an order of magnitude slower and copies.
The kernel reads float32/float64 segments in place (memory maps included), never builds a
concatenated or float64 copy of theta, and is parallel over blocks of each segment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np
from numba import njit

from .readers import WeightReadError, WeightSource, open_weights

__all__ = [
    "mi_wd",
    "describe",
    "auto_value_range",
    "DescriptorArray",
    "DescriptorError",
    "PAPER_VALUE_RANGE",
]

#: The paper's histogram range: about the 5th and 95th percentiles of NWS weights.
PAPER_VALUE_RANGE: tuple[float, float] = (-5.0, 5.0)

#: Values read per kernel call; float32/float64 pieces are views, so this only bounds the
#: float16/bfloat16 conversion buffers and the work between progress updates.
CHUNK_ELEMS = 1 << 24

ValueRange = tuple[float, float] | Literal["auto"]


class DescriptorError(ValueError):
    """A model cannot be described (the message names the model and the reason)."""


class DescriptorArray(np.ndarray):
    """A float32 descriptor array that remembers how it was computed.

    Attributes
    ----------
    value_range : tuple of float
        The histogram range ``(lo, hi)`` actually used (resolved when ``"auto"``).
    n_weights : numpy.ndarray
        Number of weights N of each described model.
    names : list of str
        Names of the described models (paths for files).
    """

    value_range: tuple[float, float]
    n_weights: np.ndarray
    names: list[str]

    def __new__(cls, data: np.ndarray, value_range, n_weights, names) -> DescriptorArray:
        obj = np.asarray(data, dtype=np.float32).view(cls)
        obj.value_range = (float(value_range[0]), float(value_range[1]))
        obj.n_weights = np.asarray(n_weights, dtype=np.int64)
        obj.names = list(names)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        if obj is None:
            return
        self.value_range = getattr(obj, "value_range", None)
        self.n_weights = getattr(obj, "n_weights", None)
        self.names = getattr(obj, "names", None)


# --------------------------------------------------------------------------------------
# numba kernel
# --------------------------------------------------------------------------------------


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


_PARALLEL_MIN_ELEMS = 1 << 18
_executor: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, numba.get_num_threads())  # honours NUMBA_NUM_THREADS


def _accumulate_threaded(x, offset, n_total, n_windows, nbins, lo, hi, clip, counts, bad):
    """Histogram segment ``x`` in one block per thread, then add the blocks' counts."""
    global _executor
    n = x.shape[0]
    nthreads = _threads()
    if nthreads == 1 or n < _PARALLEL_MIN_ELEMS:
        _accumulate(x, offset, n_total, n_windows, nbins, lo, hi, clip, counts, bad)
        return
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=nthreads, thread_name_prefix="miwd")
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


# --------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------


def _check_shape(S: int, B: int) -> None:
    for name, v in (("S", S), ("B", B)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _check_range(value_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(value_range[0]), float(value_range[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(
            f"value_range must be 'auto' or a pair (lo, hi) of numbers, got {value_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with lo < hi, got ({lo}, {hi})")
    return lo, hi


@dataclass
class _NonFinite:
    tensor: str
    nan: int
    inf: int
    first_index: int


def _describe_one(
    ws: WeightSource,
    S: int,
    B: int,
    lo: float,
    hi: float,
    clip: bool,
    nan_policy: str,
) -> np.ndarray:
    n_total = ws.n
    if n_total == 0:
        skipped = f" (skipped: {', '.join(n for n, _ in ws.skipped[:5])})" if ws.skipped else ""
        raise DescriptorError(f"{ws.name}: the model has no floating-point weights{skipped}")
    if n_total < S:
        raise DescriptorError(
            f"{ws.name}: the model has N={n_total} weights, fewer than S={S} windows; "
            f"use a smaller S"
        )
    counts = np.zeros((S, B), dtype=np.int64)
    bad = np.zeros(S, dtype=np.int64)
    problems: list[_NonFinite] = []
    for tensor, offset, piece in ws.chunks(CHUNK_ELEMS):
        before = int(bad.sum())
        _accumulate_threaded(
            np.ascontiguousarray(piece), offset, n_total, S, B, lo, hi, clip, counts, bad
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


def _sample(ws: WeightSource, stride: int, phase: int = 0) -> np.ndarray:
    """Every ``stride``-th finite weight of theta, starting at global index ``phase``."""
    parts = []
    for _, offset, piece in ws.chunks(CHUNK_ELEMS):
        start = (phase - offset) % stride
        s = np.asarray(piece[start::stride], dtype=np.float64)
        parts.append(s[np.isfinite(s)])
    return np.concatenate(parts) if parts else np.empty(0)


def auto_value_range(
    sources: Sequence[Any] | Any,
    percentiles: tuple[float, float] = (5.0, 95.0),
    max_samples: int = 1 << 22,
) -> tuple[float, float]:
    """Histogram range from the pooled weight percentiles of several models.

    The paper's range [-5, 5] was chosen as roughly the 5th and 95th percentiles of its
    models' weights; modern networks have weights ~100x smaller, so the same rationale is
    applied to the models at hand. Weights are pooled (each weight counts once; a model
    with more weights weighs more). Above ``max_samples`` weights in total, a regular
    stride subsample is used, so the cost stays bounded for huge models.

    Examples
    --------
    >>> auto_value_range([np.linspace(-1, 1, 101)], percentiles=(5, 95))
    (-0.9, 0.9)
    """
    if isinstance(sources, (WeightSource, np.ndarray, str, os.PathLike)) or not isinstance(
        sources, Sequence
    ):
        sources = [sources]
    lo_q, hi_q = percentiles
    if not 0 <= lo_q < hi_q <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {percentiles!r}")
    opened = [open_weights(s) for s in sources]
    total = sum(ws.n for ws in opened)
    if total == 0:
        raise DescriptorError("value_range='auto': the models have no floating-point weights")
    stride = max(1, -(-total // max_samples))
    pooled = np.concatenate([_sample(ws, stride) for ws in opened])
    if pooled.size == 0:
        raise DescriptorError("value_range='auto': the models have no finite weights")
    lo, hi = (float(v) for v in np.percentile(pooled, [lo_q, hi_q]))
    if not lo < hi:
        # All sampled weights equal (e.g. a constant-initialized model): widen symmetrically.
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _resolve_range(value_range: ValueRange, opened: list[WeightSource], percentiles) -> tuple:
    if isinstance(value_range, str):
        if value_range != "auto":
            raise ValueError(f"value_range must be 'auto' or (lo, hi), got {value_range!r}")
        return auto_value_range(opened, percentiles=percentiles)
    return _check_range(value_range)


def _check_nan_policy(nan_policy: str) -> None:
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")


def mi_wd(
    theta: Any,
    S: int = 32,
    B: int = 32,
    value_range: ValueRange = PAPER_VALUE_RANGE,
    clip: bool = False,
    *,
    nan_policy: Literal["raise", "omit"] = "raise",
    percentiles: tuple[float, float] = (5.0, 95.0),
) -> DescriptorArray:
    """The MI-WD descriptor of one weight vector: an (S, B) float32 matrix.

    Parameters
    ----------
    theta
        The model's weights in layer order: a 1-D array (any float dtype) or anything
        :func:`describe` accepts for a single model.
    S, B
        Number of windows (rows) and histogram bins (columns).
    value_range
        ``(lo, hi)`` of the histogram, the paper's ``(-5, 5)`` by default, or ``"auto"`` for
        the ``percentiles`` of theta itself. The range used is ``result.value_range``.
    clip
        Fold out-of-range weights into the edge bins instead of dropping them.
    nan_policy
        ``"raise"`` (default) on NaN/Inf weights, or ``"omit"`` to leave them out.
    percentiles
        The percentiles used by ``value_range="auto"``.

    Returns
    -------
    DescriptorArray
        Row s is the normalized histogram of window s (sums to 1 over its in-range
        weights; all zeros if it has none).

    Examples
    --------
    >>> d = mi_wd(np.array([-1.0, -0.5, 0.5, 1.0]), S=2, B=2, value_range=(-1, 1))
    >>> d.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return describe(
        [theta],
        S=S,
        B=B,
        value_range=value_range,
        clip=clip,
        nan_policy=nan_policy,
        percentiles=percentiles,
    )[0]


def _is_single(source: Any) -> bool:
    """Whether ``source`` is one model: in :func:`describe` a list or tuple is many models.

    One model given as a list of layer arrays is therefore wrapped: ``describe([layers])``;
    :func:`mi_wd` and :func:`flatten_weights` always take one model.
    """
    return not isinstance(source, (list, tuple))


def describe(
    source: Any,
    S: int = 32,
    B: int = 32,
    value_range: ValueRange = PAPER_VALUE_RANGE,
    clip: bool = False,
    *,
    nan_policy: Literal["raise", "omit"] = "raise",
    percentiles: tuple[float, float] = (5.0, 95.0),
    order: Sequence[str] | None = None,
    include_buffers: bool = False,
    progress: bool | None = None,
) -> DescriptorArray:
    """MI-WD descriptors of one model, (S, B), or of a list of models, (n, S, B).

    Parameters
    ----------
    source
        One model, or a list (or tuple) of models. A model is a numpy array, a mapping
        name -> array, a list of arrays (only inside the list of models: ``[[w1, b1]]``), a ``torch.nn.Module`` or state_dict, or a
        path to a model file (.safetensors, .pt/.pth/.bin, .onnx, .npz/.npy, .keras/.h5,
        NWS .bin). Files are memory-mapped where the format allows.
    S, B, value_range, clip, nan_policy, percentiles
        As in :func:`mi_wd`. With ``value_range="auto"`` the percentiles are pooled over all
        the models described together, so their descriptors share one range.
    order
        Explicit tensor order (names) for formats whose keys carry no order.
    include_buffers
        Add torch buffers (BatchNorm running statistics) after the parameters.
    progress
        Show a progress bar; by default only for more than 10 models.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> models = [{"w1": rng.normal(size=(8, 8)), "w2": rng.normal(size=8)} for _ in range(3)]
    >>> describe(models, S=4, B=8, value_range="auto").shape
    (3, 4, 8)
    """
    _check_shape(S, B)
    _check_nan_policy(nan_policy)
    single = _is_single(source)
    sources = [source] if single else list(source)
    if not sources:
        raise ValueError("describe() got an empty list of models")
    opened = [open_weights(s, order=order, include_buffers=include_buffers) for s in sources]
    lo, hi = _resolve_range(value_range, opened, percentiles)
    show = progress if progress is not None else len(opened) > 10
    out = np.empty((len(opened), S, B), dtype=np.float32)
    from tqdm.auto import tqdm  # lazily: importing tqdm.auto probes for notebooks

    for i, ws in enumerate(tqdm(opened, desc="MI-WD", unit="model", disable=not show)):
        out[i] = _describe_one(ws, S, B, lo, hi, clip, nan_policy)
    result = DescriptorArray(out, (lo, hi), [ws.n for ws in opened], [ws.name for ws in opened])
    return result[0] if single else result


__all__ += ["WeightReadError"]
