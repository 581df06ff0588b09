"""What bit-pattern counts give: histograms on any range, and the weights as a multiset.

A window's counts of the 65,536 (or 256) bit patterns of a 16- or 8-bit float are all of
its values. Each pattern is decoded once to float64 and binned by numpy.histogram's own
rule (:func:`pattern_bins`), so a histogram on any range is a sum of counts, exactly equal
to ``numpy.histogram`` of the decoded weights; the model's counts over all windows are its
weights as a multiset (:func:`pattern_multiset`), from which the ``"auto"`` range's
percentiles are exact (:mod:`.value_range`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from ..weights import WeightSource
from ..weights.dtypes import decode_table
from .config import DescriptorConfig, DescriptorError

__all__ = [
    "pattern_bins",
    "float32_buckets",
    "Float32Buckets",
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
    # numpy's own index formula (divide, then multiply: B / (hi - lo) could overflow)
    k = ((x - lo) / (hi - lo) * nbins).astype(np.int64)
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
def pattern_bins(dtype: str, lo: float, hi: float, nbins: int, clip: bool) -> np.ndarray:
    """The bin of every bit pattern of ``dtype`` (:func:`bin_values` of its decoded value:
    a bin, :data:`DROPPED` or :data:`NONFINITE`), read-only.

    Examples
    --------
    >>> pattern_bins("float8_e4m3fn", -1.0, 1.0, 2, False)[[0x38, 0xB8, 0x7F]].tolist()
    [1, 0, -2]
    """
    bins = bin_values(decode_table(dtype), lo, hi, nbins, clip)
    bins.flags.writeable = False
    return bins


@dataclass(frozen=True)
class Float32Buckets:
    """float32 values grouped by their top 16 bits, for one histogram configuration.

    Attributes
    ----------
    kind : numpy.ndarray
        uint8 per bucket: 0 if all its values fall in one bin (or are all dropped, or all
        NaN/Inf), so that counting the bucket bins it; 1 if one threshold splits it;
        2 if more do (then its values are binned one by one).
    threshold : numpy.ndarray
        float32 per bucket of kind 1: values ``>= threshold`` take ``above``, the rest
        ``below``.
    below, above : numpy.ndarray
        uint16 slot per bucket of kind 1: 0 for a value dropped below the range, ``k + 1``
        for bin k, ``B + 1`` for a value dropped above it.
    counted : numpy.ndarray
        The bin of each bucket of kind 0 (as :func:`pattern_bins`), :data:`DROPPED` for
        the others (their values are binned apart).
    split_at : numpy.ndarray
        float32 per bucket: its ``threshold`` if of kind 1, else +inf. Counting each value
        at ``2 * bucket + (value >= split_at[bucket])`` bins every value without a branch
        when no bucket is of kind 2 (:attr:`split_bins`).
    split_bins : numpy.ndarray
        The bin (as :func:`pattern_bins`) of each of those 2 * 65,536 entries: a kind-0
        bucket's bin for both of its entries, ``below``/``above`` for a kind-1 bucket;
        :data:`DROPPED` for a kind-2 bucket's (binned apart).
    """

    kind: np.ndarray
    threshold: np.ndarray
    below: np.ndarray
    above: np.ndarray
    counted: np.ndarray
    split_at: np.ndarray
    split_bins: np.ndarray


def _float32_in_bucket(keys: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The j-th smallest float32 value of each bucket (j in 0..65535)."""
    negative = keys >= 0x8000
    low = np.where(negative, 0xFFFF - j, j).astype(np.uint32)
    return ((keys.astype(np.uint32) << 16) | low).view(np.float32)


def _slots(values: np.ndarray, lo: float, hi: float, nbins: int, clip: bool) -> np.ndarray:
    """Ordered slot of each value: 0 below the range, k + 1 in bin k, B + 1 above."""
    bins = bin_values(values, lo, hi, nbins, clip)
    return np.where(bins >= 0, bins + 1, np.where(values < lo, 0, nbins + 1))


@lru_cache(maxsize=16)
def float32_buckets(lo: float, hi: float, nbins: int, clip: bool) -> Float32Buckets:
    """Which float32 values a histogram can bin by their top 16 bits (65,536 buckets).

    Binning is monotonic in the value, so a bucket whose smallest and largest values fall
    in the same bin (or are both dropped, or both NaN/Inf) is binned whole by counting it.
    Of the few that straddle an edge, a bucket split by one edge is binned by comparing
    with one float32 threshold, found by bisection on numpy.histogram's own rule
    (:func:`bin_values`), so the result stays exactly numpy's. See :class:`Float32Buckets`.

    Examples
    --------
    >>> b = float32_buckets(-1.0, 1.0, 8, False)
    >>> int(b.kind[0x3F80 >> 0]), int((b.kind == 1).sum()) > 0  # 1.0 .. 1.0078: split at 1.0
    (1, True)
    """
    keys = np.arange(1 << 16, dtype=np.uint32)
    with np.errstate(invalid="ignore"):  # NaN buckets
        first = _float32_in_bucket(keys, np.zeros_like(keys))
        last = _float32_in_bucket(keys, np.full_like(keys, 0xFFFF))
        bin_first = bin_values(first, lo, hi, nbins, clip)
        bin_last = bin_values(last, lo, hi, nbins, clip)
        split = bin_first != bin_last
        amb = np.flatnonzero(split)
        slot_first = _slots(first[amb], lo, hi, nbins, clip)
        slot_last = _slots(last[amb], lo, hi, nbins, clip)
    # slots are uint16; beyond that many bins every split bucket goes value by value
    one = (slot_last - slot_first == 1) & (nbins + 1 <= np.iinfo(np.uint16).max)
    kind = np.zeros(1 << 16, np.uint8)
    kind[amb] = np.where(one, 1, 2)
    threshold = np.zeros(1 << 16, np.float32)
    below = np.zeros(1 << 16, np.uint16)
    above = np.zeros(1 << 16, np.uint16)
    # Bisection, all split buckets at once: the smallest j whose value takes the upper slot.
    k1, s_lo, s_hi = amb[one], slot_first[one], slot_last[one]
    a = np.zeros(k1.shape[0], np.int64)  # value(a) is below
    b = np.full(k1.shape[0], 0xFFFF, np.int64)  # value(b) is above
    while np.any(b - a > 1):
        mid = (a + b) // 2
        upper = _slots(_float32_in_bucket(k1, mid), lo, hi, nbins, clip) == s_hi
        b = np.where(upper, mid, b)
        a = np.where(upper, a, mid)
    threshold[k1] = _float32_in_bucket(k1, b)
    below[k1], above[k1] = s_lo, s_hi
    counted = np.where(split, DROPPED, bin_first)
    split_at = np.where(kind == 1, threshold, np.float32(np.inf)).astype(np.float32)
    # a slot (0 below the range, k + 1 for bin k, B + 1 above) as a bin or DROPPED
    slot_bin = np.arange(-1, nbins + 1, dtype=np.int64)
    slot_bin[-1] = DROPPED
    split_bins = np.repeat(counted, 2)
    split_bins[2 * k1], split_bins[2 * k1 + 1] = slot_bin[below[k1]], slot_bin[above[k1]]
    for array in (kind, threshold, below, above, counted, split_at, split_bins):
        array.flags.writeable = False  # shared by every caller (lru_cache)
    return Float32Buckets(kind, threshold, below, above, counted, split_at, split_bins)


def counts_histogram(
    counts: np.ndarray, dtype: str, config: DescriptorConfig, used: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(S, B) int64 histogram counts and (S,) NaN/Inf counts from (S, P) pattern counts
    (any integer dtype; P may hold several copies of the table side by side), or from
    the counts of the patterns ``used`` alone ((S, len(used))).

    Examples
    --------
    >>> counts = np.zeros((1, 65536), np.int64)
    >>> counts[0, [0x3F80, 0xBF80, 0x7FC0]] = [3, 1, 2]  # bfloat16 1.0, -1.0, NaN
    >>> hist, bad = counts_histogram(counts, "bfloat16", DescriptorConfig(1, 2, (-1, 1)))
    >>> hist.tolist(), bad.tolist()
    ([[1, 3]], [2])
    """
    lo, hi = config.range
    if dtype == "float32":  # top-16-bit buckets of float32 values (the split ones apart)
        buckets = float32_buckets(lo, hi, config.B, config.clip)
        # 2 * 65,536 entries: counted with the split bit (kernel._count_float32_split)
        bins = buckets.split_bins if counts.shape[1] == 2 << 16 else buckets.counted
    else:
        bins = pattern_bins(dtype, lo, hi, config.B, config.clip)
    if used is None:
        if counts.shape[1] != bins.shape[0]:  # copies of a table side by side (8-bit floats)
            bins = np.tile(bins, counts.shape[1] // bins.shape[0])
        # a model's weights use few of the patterns (a bfloat16 model a tenth): bin those
        used = np.flatnonzero(counts.any(axis=0))
        counts = counts[:, used]
    bins = bins[used]
    # slot 0: NaN/Inf, k + 1: bin k, B + 1: dropped; each slot's sum of counts is a
    # difference of running sums over the patterns sorted by slot (integers: exact)
    slot = np.where(bins >= 0, bins + 1, np.where(bins == NONFINITE, 0, config.B + 1))
    order = np.argsort(slot, kind="stable")
    running = np.zeros((counts.shape[0], used.shape[0] + 1), np.int64)
    np.cumsum(counts[:, order], axis=1, dtype=np.int64, out=running[:, 1:])
    ends = np.searchsorted(slot[order], np.arange(config.B + 2), side="right")
    per_slot = np.diff(running[:, ends], axis=1, prepend=0)
    hist = per_slot[:, 1 : config.B + 1]
    bad = per_slot[:, 0]
    return hist, bad


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


def pattern_multiset(
    counts: np.ndarray, dtype: str, used: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A model's finite weights from its pattern counts: sorted distinct float64 values and
    how often each occurs (values that never occur left out).

    ``counts``: (P,) or (S, P) pattern counts (windows are added), or the counts of the
    patterns ``used`` alone.

    Examples
    --------
    >>> counts = np.zeros(65536, np.int64)
    >>> counts[[0x0000, 0x8000, 0x3F80, 0x7F80]] = [2, 1, 4, 5]  # +0, -0, 1.0, +inf
    >>> values, n = pattern_multiset(counts, "bfloat16")
    >>> values.tolist(), n.tolist()
    ([0.0, 1.0], [3, 4])
    """
    total = counts.sum(axis=0, dtype=np.int64) if counts.ndim == 2 else counts
    if used is not None:
        full = np.zeros(decode_table(dtype).shape[0], np.int64)
        full[used] = total
        total = full
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
    for piece in t.chunks(1 << 24, reuse=True):
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
