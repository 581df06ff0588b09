"""The one resolver of ``value_range="auto"``: pooled weight percentiles, one vote per model.

Every model weighs the same in the pooled percentiles, whatever its size: the percentiles
are those of the equal mixture of the models' weight distributions. Pooling every weight
once instead would let one huge file (or a 9 KB HDF5 file declaring 268 million zeros)
decide the range of every other model. Each model is represented by a regular
subsample of at most ``max(MIN_SAMPLES_PER_MODEL, AUTO_RANGE_SAMPLES / n_models)`` finite
weights (:func:`model_stride`, :func:`sample_weights`): every stride-th weight, or, for a
model at least 64 times that size, evenly spaced runs of up to 1,024 consecutive weights,
so that a large file is read at a few thousand places (:func:`sample_runs`). Each sampled value
weighs ``1 / sample size`` (:func:`pooled_percentiles`). A single model gets its own
percentiles.

Models whose weights are 16- or 8-bit floats are not sampled: one pass counts their bit
patterns (:func:`range_summary`), and their weights enter the percentiles whole, as a
:class:`WeightCounts` multiset, so the percentiles are exact. The same pass keeps each
window's counts, from which the descriptor follows without reading the model again.

A *degenerate* model, one whose sampled weights are nearly all one value (at least
:data:`DEGENERATE_FRACTION`, e.g. all zeros, never trained or never written), is left out
of the pooled range and reported (:func:`split_degenerate`): it would only narrow the range
of the others. It is still described. If every model is degenerate they are all used.
:func:`auto_value_range` (``describe``) and the library build share these functions.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..weights import WeightSource, open_weights
from .config import (
    DEFAULT_PERCENTILES,
    DescriptorConfig,
    DescriptorError,
    check_percentiles,
)

if TYPE_CHECKING:
    from .kernel import WindowScan

__all__ = [
    "WeightCounts",
    "range_summary",
    "linear_percentiles",
    "mixture_inverted_cdf",
    "auto_value_range",
    "pooled_range",
    "KEEP_SCAN_BYTES",
    "pooled_percentiles",
    "resolve_value_range",
    "sample_weights",
    "sample_runs",
    "sample_index",
    "sample_size",
    "order_statistics",
    "split_degenerate",
    "degenerate_reason",
    "model_stride",
    "AUTO_RANGE_SAMPLES",
    "RANGE_BUDGET",
    "MIN_SAMPLES_PER_MODEL",
    "RUN_STRIDE",
    "RUN_WEIGHTS",
    "MIN_RUNS",
    "RANGE_MODELS",
    "RANGE_SEED",
    "range_models",
    "DEGENERATE_FRACTION",
    "CHUNK_ELEMS",
]

log = logging.getLogger(__name__)

#: Pooled weight samples behind an ``"auto"`` range (a describe call, or a whole library).
AUTO_RANGE_SAMPLES = 1 << 22

#: Most weight samples behind the ``"auto"`` range of a chunked build (a matrix with one
#: model per row, e.g. the Small CNN Zoo): 64 MB of float32. Beyond it a regular stride of
#: rows is sampled (all rows weigh the same).
RANGE_BUDGET = 1 << 24

#: Each model is represented by at least this many sampled weights (if it has them).
MIN_SAMPLES_PER_MODEL = 4096

#: Arrays of at least this many values have their end percentiles selected among the
#: values beyond a threshold (:func:`order_statistics`), ranks within this fraction of an end.
SELECT_MIN = 1 << 16
END_FRACTION = 0.1
#: Size of the regular subsample the thresholds are read off.
SUBSAMPLE = 4096

#: From this stride on, a model's sample is runs of consecutive weights (:func:`sample_runs`):
#: a model at least 64 times its share of samples, 262,144 weights or more.
RUN_STRIDE = 64
#: The longest run: 4 KB of float32, a page.
RUN_WEIGHTS = 1024
#: The fewest runs a sample is cut into, so that it still spans the whole model.
MIN_RUNS = 64

#: An ``"auto"`` range over more models than this is pooled over this many of them
#: (:func:`range_models`), each still one vote: percentiles of an equal mixture are
#: estimated about as well from a thousand models as from all of them
#: (``benchmarks/bench_build.py`` prints the difference), and a build of 10,000 small files
#: then reads a tenth of them twice instead of all of them.
#: ``RANGE_MODELS * MIN_SAMPLES_PER_MODEL == AUTO_RANGE_SAMPLES``.
RANGE_MODELS = 1024

#: Seed of the draw within each block (:func:`range_models`): the same library gets the same
#: range on every build.
RANGE_SEED = 0

#: A model whose sampled weights are this much one single value is degenerate.
DEGENERATE_FRACTION = 0.99

#: Values :func:`sample_weights` reads per step; float32/float64 pieces are views, so this
#: only bounds the conversion buffers of other dtypes.
CHUNK_ELEMS = 1 << 24


@dataclass(frozen=True)
class WeightCounts:
    """A model's finite weights as a multiset: sorted distinct float64 values and counts.

    What one counting pass over a 16- or 8-bit float model gives (every weight, not a
    sample); :func:`pooled_percentiles` and :func:`degenerate_reason` take it beside plain
    samples.

    Examples
    --------
    >>> WeightCounts(np.array([0.0, 1.0]), np.array([3, 1])).size
    4
    """

    values: np.ndarray
    counts: np.ndarray

    @property
    def size(self) -> int:
        """Number of weights."""
        return int(self.counts.sum())

    @classmethod
    def of(cls, values: np.ndarray) -> WeightCounts:
        """The multiset of an array's values (NaN/Inf left out)."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        # + 0.0 makes -0.0 the value 0.0 (they are one value; which sign np.unique keeps
        # would depend on the order).
        distinct, counts = np.unique(v[np.isfinite(v)] + 0.0, return_counts=True)
        return cls(distinct, counts.astype(np.int64))

    @classmethod
    def union(cls, parts: Sequence[WeightCounts]) -> WeightCounts:
        """All parts' weights together (counts of equal values added)."""
        values = np.concatenate([p.values for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        distinct, group = np.unique(values, return_inverse=True)
        total = np.zeros(distinct.shape[0], np.int64)
        np.add.at(total, group.reshape(-1), counts)
        return cls(distinct, total)


def linear_percentiles(counts: WeightCounts, q: Sequence[float]) -> np.ndarray:
    """``numpy.percentile(weights, q)`` (its default ``"linear"`` method), computed from the
    multiset without expanding it: the same order statistics and numpy's own interpolation
    formula, so the result is equal, bit for bit.

    Examples
    --------
    >>> w = np.array([0.0, 0.0, 0.0, 1.0, 5.0])
    >>> bool((linear_percentiles(WeightCounts.of(w), [5, 95]) == np.percentile(w, [5, 95])).all())
    True
    """
    cumulative = np.cumsum(counts.counts)

    def at_ranks(ranks: np.ndarray) -> np.ndarray:
        return counts.values[np.searchsorted(cumulative, ranks, side="right")]

    return _lerp_percentiles(counts.size, at_ranks, q)


def _lerp_percentiles(n: int, at_ranks: Any, q: Sequence[float]) -> np.ndarray:
    """numpy's linear percentiles of n sorted values, given the values at integer ranks:
    numpy's own virtual index and interpolation formula, in float64."""
    quantiles = np.true_divide(np.asarray(q, dtype=np.float64), 100)
    virtual = (n - 1) * quantiles
    previous = np.floor(virtual)
    nxt = np.minimum(previous + 1, n - 1)
    a = np.asarray(at_ranks(previous.astype(np.int64)), dtype=np.float64)
    b = np.asarray(at_ranks(nxt.astype(np.int64)), dtype=np.float64)
    t = virtual - previous
    # numpy's _lerp: a + (b - a) t, or b - (b - a)(1 - t) from t >= 0.5 on.
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _partitioned_percentiles(values: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """:func:`_lerp_percentiles` of an array, its ranks selected by :func:`order_statistics`
    (in place, with no float64 copy of a float32 sample: the interpolation alone runs in
    float64)."""
    n = values.shape[0]
    virtual = (n - 1) * np.true_divide(np.asarray(q, dtype=np.float64), 100)
    ranks = np.unique(np.concatenate([np.floor(virtual), np.minimum(np.floor(virtual) + 1, n - 1)]))
    picked = order_statistics(values, ranks.astype(np.int64))
    return _lerp_percentiles(n, lambda r: np.array([picked[int(k)] for k in r]), q)


def order_statistics(values: np.ndarray, ranks: np.ndarray) -> dict[int, Any]:
    """The values at the sorted positions ``ranks`` of ``values`` (finite), exactly those
    ``numpy.partition`` puts there; ``values`` may be reordered.

    numpy's selection costs about 10 ns per value and rank (47 ms for a sample of 4M), and
    an ``"auto"`` range wants ranks near both ends. A rank among the lowest
    :data:`END_FRACTION` of a large array is selected among the values at or below a
    threshold read off a regular subsample (the highest alike): as many of them as the
    count shows hold every value up to that rank, so the rank is theirs. Should the count
    fall short, or the rank lie further in, all values are partitioned.

    Examples
    --------
    >>> v = np.random.default_rng(0).standard_normal(100_000)
    >>> got = order_statistics(v.copy(), np.array([99, 50_000, 99_900]))
    >>> [got[k] for k in (99, 50_000, 99_900)] == np.sort(v)[[99, 50_000, 99_900]].tolist()
    True
    """
    n = values.shape[0]
    out: dict[int, Any] = {}
    rest = [int(r) for r in ranks]
    if n >= SELECT_MIN:
        sub = np.sort(values[:: max(1, n // SUBSAMPLE)])
        m = sub.shape[0]
        low = [r for r in rest if r < END_FRACTION * n]
        high = [r for r in rest if r >= (1 - END_FRACTION) * n]
        if low:
            t = sub[min(m - 1, _beyond(max(low) + 1, n, m))]
            side = values[values <= t]
            if side.shape[0] > max(low):
                side.partition(low)
                out.update({r: side[r] for r in low})
        if high:
            t = sub[max(0, m - 1 - _beyond(n - min(high), n, m))]
            side = values[values >= t]
            skipped = n - side.shape[0]  # values below t: the lowest sorted positions
            if skipped <= min(high):
                local = [r - skipped for r in high]
                side.partition(local)
                out.update({r: side[r - skipped] for r in high})
        rest = [r for r in rest if r not in out]
    if rest:
        values.partition(rest)
        out.update({r: values[r] for r in rest})
    return out


def _beyond(k: int, n: int, m: int) -> int:
    """The position in a regular subsample of m of n values beyond which the lowest k of
    the n lie, almost surely: k's share of m plus four standard errors and 8 values."""
    p = k / n
    return math.ceil(p * m + 4 * math.sqrt(m * p * (1 - p)) + 8)


def range_summary(
    ws: WeightSource,
    config: DescriptorConfig,
    n_models: int,
    max_samples: int = AUTO_RANGE_SAMPLES,
    threads: int | None = None,
    progress: bool | None = None,
) -> tuple[np.ndarray | WeightCounts, WindowScan | None]:
    """What the ``"auto"`` range takes of one model among ``n_models``, and the window
    counts that pass kept (None if the descriptor needs a pass of its own).

    - A model of 16-/8-bit floats: every weight, counted in one pass
      (:class:`WeightCounts`); that pass also keeps each window's pattern counts.
    - A float32/float64 model: a regular stride sample (:func:`sample_weights`,
      :func:`model_stride`).
    - A mix: the counts with the float32/float64 weights added whole if they fit the
      model's share of ``max_samples`` (norms kept in float32 beside bfloat16 weights),
      else a stride sample of all of it.
    """
    from .kernel import DIRECT_MAX_ELEMS, scan_source  # lazily: numba loads here
    from .window_counts import pattern_multiset

    narrow = [t for t in ws.tensors if t.patterns is not None]
    if not narrow:
        return sample_weights(ws, model_stride(ws.n, n_models, max_samples)), None
    wide_n = ws.n - sum(t.size for t in narrow)
    cap = max(MIN_SAMPLES_PER_MODEL, max_samples // max(1, n_models))
    if wide_n > cap:
        return sample_weights(ws, model_stride(ws.n, n_models, max_samples)), None
    if ws.n <= DIRECT_MAX_ELEMS:  # small: its values, decoded; binned directly later
        return WeightCounts.of(
            np.concatenate([np.concatenate(list(t.chunks())) for t in ws.tensors])
        ), None
    scan = scan_source(ws, config.S, threads=threads, progress=progress)
    parts = [WeightCounts(*pattern_multiset(c, d, u)) for d, (u, c) in scan.patterns.items()]
    if wide_n:
        wide = [t for t in ws.tensors if t.patterns is None]
        parts.append(
            WeightCounts.of(np.concatenate([np.concatenate(list(t.chunks())) for t in wide]))
        )
    summary = parts[0] if len(parts) == 1 else WeightCounts.union(parts)
    return summary, scan.compact()


def sample_runs(n: int, stride: int) -> tuple[int, int]:
    """``(length, spacing)`` of the runs of consecutive weights the sample of ``n`` weights
    at ``stride`` takes: single weights every ``stride`` below :data:`RUN_STRIDE`, else
    runs of up to :data:`RUN_WEIGHTS` weights (at least :data:`MIN_RUNS` of them), one
    every ``stride * length`` weights.

    A file is read in place by positional reads, a page at a time: every ``stride``-th
    weight of a large file would read all of it again (about a third of a float32
    model's describe). Runs read a few thousand places instead.

    Examples
    --------
    >>> sample_runs(10_000, 3), sample_runs(400_000_000, 100), sample_runs(300_000, 74)
    ((1, 3), (1024, 102400), (63, 4662))
    """
    if stride < RUN_STRIDE:
        return 1, stride
    length = min(RUN_WEIGHTS, max(1, -(-n // stride) // MIN_RUNS))
    return length, stride * length


def sample_size(n: int, stride: int) -> int:
    """How many weights the sample of ``n`` at ``stride`` holds (non-finite ones included).

    Examples
    --------
    >>> sample_size(10, 3), sample_size(12_000, 64)
    (4, 188)
    """
    length, spacing = sample_runs(n, stride)
    runs = -(-n // spacing)
    return runs * length - max(0, (runs - 1) * spacing + length - n)


def sample_index(n: int, stride: int) -> slice | np.ndarray:
    """Where theta's sample at ``stride`` lies (:func:`sample_runs`): a slice, or the
    sorted indices of its runs.

    Examples
    --------
    >>> sample_index(10, 3)
    slice(None, None, 3)
    >>> sample_index(12_000, 64)[[0, 2, 3]].tolist()  # runs of 2 weights every 128
    [0, 128, 129]
    """
    length, spacing = sample_runs(n, stride)
    if length == 1:
        return slice(None, None, stride)
    index = (np.arange(0, n, spacing)[:, None] + np.arange(length)).reshape(-1)
    return index[index < n]


def sample_weights(ws: WeightSource, stride: int) -> np.ndarray:
    """The finite weights of theta's sample at ``stride`` (:func:`sample_runs`): every
    ``stride``-th weight, or runs of consecutive ones for strides from :data:`RUN_STRIDE`.

    The sample keeps the weights' precision (float64 stays float64, the rest is float32)
    and is written into one preallocated array.

    Examples
    --------
    >>> sample_weights(open_weights(np.arange(10.0)), 3).tolist()
    [0.0, 3.0, 6.0, 9.0]
    """
    dtype = np.result_type(np.float32, *[t.chunk_dtype for t in ws.tensors])
    length, spacing = sample_runs(ws.n, stride)
    out = np.empty(sample_size(ws.n, stride), dtype=dtype)
    pos = 0
    if length == 1:
        for _, offset, piece in ws.chunks(CHUNK_ELEMS, reuse=True):  # each piece copied out
            part = piece[(-offset) % stride :: stride]
            out[pos : pos + part.shape[0]] = part
            pos += part.shape[0]
    else:  # each run read on its own: a file is read at those places only
        offset = 0
        for t in ws.tensors:
            first = max(0, -(-(offset - length + 1) // spacing))  # runs that reach t
            # float32/float64 read from its file straight into the sample
            direct = t.data.dtype == dtype and hasattr(t.data, "read_into")
            for start in range(first * spacing, offset + t.size, spacing):
                a, b = max(start, offset) - offset, min(start + length, offset + t.size) - offset
                if direct:
                    t.data.read_into(a, out[pos : pos + b - a])
                else:
                    out[pos : pos + b - a] = t.floats(a, b)
                pos += b - a
            offset += t.size
    finite = np.isfinite(out)
    return out if finite.all() else out[finite]


def model_stride(n: int, n_models: int, max_samples: int = AUTO_RANGE_SAMPLES) -> int:
    """The sampling stride of a model of ``n`` weights among ``n_models``.

    Each model gets an equal share of ``max_samples``, at least
    :data:`MIN_SAMPLES_PER_MODEL`.

    Examples
    --------
    >>> model_stride(10_000, 1), model_stride(10_000_000, 4, max_samples=4_000_000)
    (1, 10)
    """
    cap = max(MIN_SAMPLES_PER_MODEL, max_samples // max(1, n_models))
    return max(1, -(-n // cap))


def range_models(n_models: int, most: int | None = None) -> np.ndarray:
    """Sorted indices of the models an ``"auto"`` range is pooled over: all of them up to
    ``most`` (default :data:`RANGE_MODELS`), else one from each of ``most`` equal blocks of
    the list, drawn at random (seeded, :data:`RANGE_SEED`).

    Spread over the whole list like a regular stride, but not in step with an ordered
    library: NWS snapshot libraries list 20 snapshots per network, and every 20th model
    would be each network's untrained initialization.

    Examples
    --------
    >>> range_models(3).tolist()
    [0, 1, 2]
    >>> picked = range_models(10_000)
    >>> len(picked), int(picked[0]) < 10, int(picked[-1]) >= 9990
    (1024, True, True)
    """
    most = RANGE_MODELS if most is None else most
    if n_models <= most:
        return np.arange(n_models)
    edges = (np.arange(most + 1, dtype=np.int64) * n_models) // most
    offsets = np.random.default_rng(RANGE_SEED).random(most) * np.diff(edges)
    return edges[:-1] + offsets.astype(np.int64)


def pooled_percentiles(
    samples: Sequence[np.ndarray],
    strides: Sequence[int] | None = None,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> tuple[float, float]:
    """Percentiles of several models' weights pooled with one equal weight per model.

    Each model's sample carries a total weight of 1 (each value ``1 / len(sample)``), so
    a model with a billion weights counts as much as one with a thousand. With samples of
    equal size this is exactly ``np.percentile`` of the pooled samples (linear
    interpolation); otherwise the weighted ``inverted_cdf`` percentile. ``strides`` is
    accepted for callers that pass it and ignored: how a sample was drawn does not change
    its model's weight. A range of equal values (a constant-initialized model) is widened
    symmetrically, so it is never empty.

    Examples
    --------
    >>> pooled_percentiles([np.linspace(-1, 1, 101)], percentiles=(0, 100))
    (-1.0, 1.0)
    >>> pooled_percentiles([np.zeros(1000), np.ones(10)], percentiles=(0, 60))  # 1 model each
    (0.0, 1.0)
    """
    lo_q, hi_q = check_percentiles(percentiles)
    samples = [s if isinstance(s, WeightCounts) else np.asarray(s) for s in samples]
    samples = [s for s in samples if s.size]
    if not samples:
        raise DescriptorError("value_range='auto': the models have no finite weights")
    if any(isinstance(s, WeightCounts) for s in samples):
        values = _counted_percentiles(samples, (lo_q, hi_q))
    elif len({s.size for s in samples}) == 1:
        # One array, partitioned in place (a lone sample is reordered): no second copy. The
        # interpolation runs in float64 whatever the weights' dtype, as for counted models,
        # so a float32 copy of a bfloat16 model gets the very same range.
        pooled = samples[0] if len(samples) == 1 else np.concatenate(samples)
        values = _partitioned_percentiles(pooled, (lo_q, hi_q))
    else:
        pooled = np.concatenate(samples)
        weights = np.repeat([1.0 / s.size for s in samples], [s.size for s in samples])
        values = np.percentile(pooled, [lo_q, hi_q], weights=weights, method="inverted_cdf")
    lo, hi = (float(v) for v in values)
    if not lo < hi:
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _counted_percentiles(
    samples: Sequence[np.ndarray | WeightCounts], q: tuple[float, float]
) -> np.ndarray:
    """:func:`pooled_percentiles` when some models come as counts: the same two rules, on
    multisets (equal sizes: linear percentiles of all weights together; else the weighted
    ``inverted_cdf`` of the equal mixture, :func:`mixture_inverted_cdf`)."""
    sets = [s if isinstance(s, WeightCounts) else WeightCounts.of(s) for s in samples]
    if len({s.size for s in sets}) == 1:
        return linear_percentiles(sets[0] if len(sets) == 1 else WeightCounts.union(sets), q)
    return mixture_inverted_cdf(sets, q)


def mixture_inverted_cdf(sets: Sequence[WeightCounts], q: Sequence[float]) -> np.ndarray:
    """The ``inverted_cdf`` percentiles of the equal mixture of several models' weights:
    the smallest weight x with (1/M) sum_m #{w in model m : w <= x} / N_m >= q / 100.

    Decided in exact rational arithmetic near the answer, so ties are settled exactly
    (numpy's weighted percentile sums float weights and can land one value off there).

    Examples
    --------
    >>> a = WeightCounts(np.array([0.0, 1.0]), np.array([1, 1]))
    >>> b = WeightCounts(np.array([2.0]), np.array([3]))
    >>> mixture_inverted_cdf([a, b], [25, 50, 51]).tolist()
    [0.0, 1.0, 2.0]
    """
    from fractions import Fraction

    union = np.unique(np.concatenate([s.values for s in sets]))
    cdf = np.zeros(union.shape[0], np.float64)
    cumulative = []
    for s in sets:
        c = np.cumsum(s.counts)
        cumulative.append(c)
        at = np.searchsorted(s.values, union, side="right")  # values of s <= each x
        cdf += np.where(at > 0, c[np.maximum(at - 1, 0)], 0) / s.size
    cdf /= len(sets)

    def reaches(j: int, target: Fraction) -> bool:
        total = Fraction(0)
        for s, c in zip(sets, cumulative, strict=True):
            at = int(np.searchsorted(s.values, union[j], side="right"))
            if at:
                total += Fraction(int(c[at - 1]), s.size)
        return total >= target * len(sets)

    out = []
    for p in q:
        target = Fraction(float(p)) / 100
        j = int(np.searchsorted(cdf, float(target) - 1e-9, side="left"))
        j = max(0, min(j, union.shape[0] - 1))
        while j > 0 and reaches(j - 1, target):
            j -= 1
        while j < union.shape[0] - 1 and not reaches(j, target):
            j += 1
        out.append(union[j])
    return np.asarray(out, dtype=np.float64)


def degenerate_reason(sample: np.ndarray | WeightCounts) -> str | None:
    """Why a model's weight sample is degenerate (nearly all one value), or None.

    Examples
    --------
    >>> degenerate_reason(np.zeros(1000))
    '100.0% of its sampled weights are 0'
    >>> degenerate_reason(np.linspace(-1, 1, 1000)) is None
    True
    """
    if isinstance(sample, WeightCounts):
        if sample.size == 0:
            return "it has no finite weights"
        top = int(np.argmax(sample.counts))
        fraction = float(sample.counts[top]) / sample.size
        if fraction >= DEGENERATE_FRACTION:
            return f"{fraction:.1%} of its weights are {float(sample.values[top]):g}"
        return None
    sample = np.asarray(sample)
    if sample.size == 0:
        return "it has no finite weights"
    flat = sample.reshape(-1)
    # The only candidate is the median of a regular sub-sample: a value held by >= 99% of
    # the sample holds > 50% of every sub-sample of stride <= 40, so it is that median.
    # The sub-sample keeps the partition's copy small (the sample can be 4M values).
    sub = flat[:: min(40, max(1, flat.size // 65536))]
    candidate = np.partition(sub, sub.size // 2)[sub.size // 2]
    fraction = float(np.count_nonzero(flat == candidate)) / flat.size
    if fraction >= DEGENERATE_FRACTION:
        return f"{fraction:.1%} of its sampled weights are {float(candidate):g}"
    return None


def split_degenerate(samples: Sequence[np.ndarray]) -> tuple[list[int], list[tuple[int, str]]]:
    """Indices of the samples the pooled range uses, and ``(index, reason)`` of those it drops.

    Degenerate samples (:func:`degenerate_reason`) are dropped, unless all are.

    Examples
    --------
    >>> split_degenerate([np.linspace(-1, 1, 100), np.zeros(100)])
    ([0], [(1, '100.0% of its sampled weights are 0')])
    >>> split_degenerate([np.zeros(100)])
    ([0], [])
    """
    reasons = [degenerate_reason(s) for s in samples]
    kept = [i for i, r in enumerate(reasons) if r is None]
    if not kept:
        return list(range(len(samples))), []
    return kept, [(i, r) for i, r in enumerate(reasons) if r is not None]


def auto_value_range(
    sources: Sequence[Any] | Any,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    max_samples: int = AUTO_RANGE_SAMPLES,
) -> tuple[float, float]:
    """Histogram range from the pooled weight percentiles of several models.

    The paper's range [-5, 5] was chosen as roughly the 5th and 95th percentiles of its
    models' weights; most networks have far smaller weights, so the same rationale is
    applied to the models at hand. Every model weighs the same (see the module docstring):
    each is subsampled to its share of ``max_samples`` (16-/8-bit models are counted
    whole) and degenerate models (nearly all one value) are left out, with a logged
    warning naming them. Beyond :data:`RANGE_MODELS` sources, a spread sample of them is
    pooled (:func:`range_models`).

    Examples
    --------
    >>> auto_value_range([np.linspace(-1, 1, 101)], percentiles=(25, 75))
    (-0.5, 0.5)
    """
    if isinstance(sources, (WeightSource, np.ndarray, str, os.PathLike)) or not isinstance(
        sources, Sequence
    ):
        sources = [sources]
    config = DescriptorConfig(S=1, B=1, percentiles=check_percentiles(percentiles))
    opened = [open_weights(sources[i]) for i in range_models(len(sources))]
    lo_hi, _ = pooled_range(opened, config, max_samples=max_samples, keep_bytes=0)
    return lo_hi


#: Window counts kept between the range pass and the descriptor pass (beyond, models are
#: read again): 20 bfloat16 models of 250 million weights keep about 70 MB.
KEEP_SCAN_BYTES = 512 << 20


def pooled_range(
    opened: Sequence[WeightSource],
    config: DescriptorConfig,
    max_samples: int = AUTO_RANGE_SAMPLES,
    keep_bytes: int = KEEP_SCAN_BYTES,
    progress: bool | None = None,
) -> tuple[tuple[float, float], dict[int, WindowScan]]:
    """The pooled ``"auto"`` range of ``opened`` (all of them, one vote each), and the
    window counts its pass kept, by index, while they fit ``keep_bytes``."""
    if sum(ws.n for ws in opened) == 0:
        raise DescriptorError("value_range='auto': the models have no floating-point weights")
    samples: list[np.ndarray | WeightCounts] = []
    scans: dict[int, WindowScan] = {}
    kept_bytes = 0
    for i, ws in enumerate(opened):
        summary, scan = range_summary(ws, config, len(opened), max_samples, progress=progress)
        samples.append(summary)
        if scan is not None and kept_bytes + scan.nbytes <= keep_bytes:
            scans[i] = scan
            kept_bytes += scan.nbytes
    kept, dropped = split_degenerate(samples)
    for i, reason in dropped:
        log.warning(
            "%s: left out of the pooled 'auto' range (degenerate: %s)", opened[i].name, reason
        )
    lo, hi = pooled_percentiles([samples[i] for i in kept], percentiles=config.percentiles)
    log.info(
        "value_range='auto': [%.4g, %.4g], percentiles %s of %d model(s), one weight each",
        lo,
        hi,
        config.percentiles,
        len(kept),
    )
    return (lo, hi), scans


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
