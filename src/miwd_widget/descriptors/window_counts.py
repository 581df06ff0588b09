"""What bit-pattern counts give: histograms on any range, and the weights as a multiset.

A window's counts of the 65,536 (or 256) bit patterns of a 16- or 8-bit float are all of
its values. Each pattern is decoded once to float64 and binned by numpy.histogram's own
rule (:func:`pattern_bins`), so a histogram on any range is a sum of counts, exactly equal
to ``numpy.histogram`` of the decoded weights; the model's counts over all windows are its
weights as a multiset (:func:`pattern_multiset`), from which the ``"auto"`` range's
percentiles are exact (:mod:`.value_range`).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

from ..weights import WeightSource
from ..weights.dtypes import decode_table
from .config import DescriptorConfig, DescriptorError

__all__ = [
    "pattern_bins",
    "counts_histogram",
    "pattern_multiset",
    "bin_values",
    "raise_nonfinite",
    "NONFINITE",
    "DROPPED",
]

#: Bin index of a NaN/Inf pattern.
NONFINITE = -2
#: Bin index of a finite value outside the range (without ``clip``).
DROPPED = -1


def bin_values(values: np.ndarray, lo: float, hi: float, nbins: int, clip: bool) -> np.ndarray:
    """numpy.histogram's bin of each float64 value over ``[lo, hi]`` (hi in the last bin);
    :data:`NONFINITE` for NaN/Inf, :data:`DROPPED` (or the edge bin with ``clip``) outside.

    The same rule as the compiled kernel's: numpy's index formula, then its correction onto
    the edges ``numpy.linspace(lo, hi, nbins + 1)``.

    Examples
    --------
    >>> bin_values(np.array([-1.0, -0.5, 0.0, 1.0, 2.0, np.nan]), -1, 1, 4, False).tolist()
    [0, 1, 2, 3, -1, -2]
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, DROPPED, dtype=np.int64)
    edges = np.linspace(lo, hi, nbins + 1)
    keep = (v >= lo) & (v <= hi)
    x = v[keep]
    k = ((x - lo) * (nbins / (hi - lo))).astype(np.int64)
    k[k >= nbins] = nbins - 1
    k[x < edges[k]] -= 1
    up = (x >= edges[k + 1]) & (k != nbins - 1)
    k[up] += 1
    out[keep] = k
    if clip:
        out[v < lo] = 0
        out[v > hi] = nbins - 1
    out[~np.isfinite(v)] = NONFINITE
    return out


@lru_cache(maxsize=64)
def pattern_bins(
    dtype: str, lo: float, hi: float, nbins: int, clip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the patterns of ``dtype``: the ones that land in a bin, sorted by bin, where each
    bin starts among them, and the NaN/Inf patterns.

    Returns
    -------
    (order, starts, nonfinite)
        ``order``: pattern indices sorted by bin (dropped ones left out); ``starts``: B + 1
        positions in ``order`` where each bin begins; ``nonfinite``: NaN/Inf patterns.
    """
    bins = bin_values(decode_table(dtype), lo, hi, nbins, clip)
    order = np.flatnonzero(bins >= 0)
    order = order[np.argsort(bins[order], kind="stable")]
    starts = np.searchsorted(bins[order], np.arange(nbins + 1))
    return order, starts, np.flatnonzero(bins == NONFINITE)


def counts_histogram(
    counts: np.ndarray, dtype: str, config: DescriptorConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(S, B) int64 histogram counts and (S,) NaN/Inf counts from (S, P) pattern counts.

    Examples
    --------
    >>> counts = np.zeros((1, 65536), np.int64)
    >>> counts[0, [0x3F80, 0xBF80, 0x7FC0]] = [3, 1, 2]  # bfloat16 1.0, -1.0, NaN
    >>> hist, bad = counts_histogram(counts, "bfloat16", DescriptorConfig(1, 2, (-1, 1)))
    >>> hist.tolist(), bad.tolist()
    ([[1, 3]], [2])
    """
    lo, hi = config.range
    order, starts, nonfinite = pattern_bins(dtype, lo, hi, config.B, config.clip)
    ordered = counts[:, order]
    cumulative = np.zeros((counts.shape[0], ordered.shape[1] + 1), np.int64)
    np.cumsum(ordered, axis=1, out=cumulative[:, 1:])
    hist = cumulative[:, starts[1:]] - cumulative[:, starts[:-1]]
    return hist, counts[:, nonfinite].sum(axis=1)


@cache
def _finite_order(dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite patterns sorted by value, their distinct values, and the group of each."""
    table = decode_table(dtype)
    finite = np.flatnonzero(np.isfinite(table))
    order = finite[np.argsort(table[finite], kind="stable")]
    values = table[order]
    new = np.ones(values.shape[0], bool)
    new[1:] = values[1:] != values[:-1]  # -0.0 == 0.0: one value, two patterns
    return order, values[new], np.cumsum(new) - 1


def pattern_multiset(counts: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """A model's finite weights from its pattern counts: sorted distinct float64 values and
    how often each occurs (values that never occur left out).

    ``counts``: (P,) or (S, P) pattern counts (windows are added).

    Examples
    --------
    >>> counts = np.zeros(65536, np.int64)
    >>> counts[[0x0000, 0x8000, 0x3F80, 0x7F80]] = [2, 1, 4, 5]  # +0, -0, 1.0, +inf
    >>> values, n = pattern_multiset(counts, "bfloat16")
    >>> values.tolist(), n.tolist()
    ([0.0, 1.0], [3, 4])
    """
    total = counts.sum(axis=0) if counts.ndim == 2 else counts
    order, values, group = _finite_order(dtype)
    per_value = np.zeros(values.shape[0], np.int64)
    np.add.at(per_value, group, np.asarray(total, np.int64)[order])
    present = per_value > 0
    return values[present] + 0.0, per_value[present]  # -0.0 as 0.0


def raise_nonfinite(ws: WeightSource) -> None:
    """Raise the DescriptorError that names the tensors holding NaN/Inf (a slow pass, run
    only once a model is known to hold some)."""
    problems = []
    nan_total = inf_total = 0
    offset = 0
    for t in ws.tensors:
        for start, piece in _pieces(t):
            finite = np.isfinite(piece)
            if not finite.all():
                nan = int(np.isnan(piece).sum())
                inf = int((~finite).sum()) - nan
                nan_total += nan
                inf_total += inf
                first = offset + start + int(np.flatnonzero(~finite)[0])
                problems.append((t.name, nan, inf, first))
        offset += t.size
    where = "; ".join(
        f"tensor {name!r}: {nan} NaN, {inf} Inf, first at theta[{first}]"
        for name, nan, inf, first in _merge(problems)[:5]
    )
    raise DescriptorError(
        f"{ws.name}: theta holds {nan_total} NaN and {inf_total} Inf values ({where}); "
        f"pass nan_policy='omit' to leave them out of the histograms"
    )


def _pieces(t):  # noqa: ANN001, ANN202 - local helper
    start = 0
    for piece in t.chunks(1 << 24):
        yield start, piece
        start += piece.shape[0]


def _merge(problems: list[tuple[str, int, int, int]]) -> list[tuple[str, int, int, int]]:
    """One entry per tensor (its pieces added, the first index kept)."""
    merged: dict[str, list[int]] = {}
    for name, nan, inf, first in problems:
        if name in merged:
            merged[name][0] += nan
            merged[name][1] += inf
        else:
            merged[name] = [nan, inf, first]
    return [(name, nan, inf, first) for name, (nan, inf, first) in merged.items()]
