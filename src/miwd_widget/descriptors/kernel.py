"""The MI-WD kernels: one pass over theta, window by window, on every core.

Two compiled loops, both in numba because numpy has no batched, windowed histogram (a
per-window ``np.histogram`` loop is an order of magnitude slower and copies), and neither
numpy nor numba has a windowed bit-pattern count:

- :func:`_count_patterns`: 16- and 8-bit floats (bfloat16, float16, float8) have only
  65,536 or 256 values, so each window's bit patterns are counted in a small table and
  never converted. Any range's histogram, and the ``"auto"`` range's exact percentiles,
  follow from the counts (:mod:`.window_counts`).
- :func:`_bin_run`: float32 and float64 are binned directly, exactly as
  ``numpy.histogram`` bins their float64 values over ``[lo, hi]`` (its index formula and
  its correction onto the edges ``numpy.linspace(lo, hi, B + 1)``, hi in the last bin).

:func:`scan_source` cuts theta into blocks that threads take in order (a thread per core,
each with its own tables, added at the end): files are read nearly sequentially, which
keeps the kernel's read-ahead working when they are not cached.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit

from .._progress import progress as progress_bar
from ..weights import WeightSource
from ..weights.dtypes import is_narrow, pattern_bits, pattern_view, to_float32
from .config import DescriptorConfig, DescriptorError
from .window_counts import counts_histogram, float32_buckets, raise_nonfinite

__all__ = [
    "scan_source",
    "describe_source",
    "descriptor_from_scan",
    "check_describable",
    "histogram_edges",
    "accumulate_windows",
    "kernel_threads",
    "WindowScan",
    "BLOCK_ELEMS",
    "READ_BYTES",
    "DIRECT_MAX_ELEMS",
    "PROGRESS_BYTES",
]

#: Values one thread takes at a time: large enough that a block's fixed costs vanish,
#: small enough that two threads stay close together in a file.
BLOCK_ELEMS = 1 << 23
#: Bytes read from a file at once into a thread's reused buffer (FileArray data): the copy
#: out of the page cache lands in cache memory the counting then reads (docs/benchmarks.md).
READ_BYTES = 1 << 21
#: A model of at least this many bytes shows its own progress bar (per gigabyte).
PROGRESS_BYTES = 1 << 30
#: Models of at most this many weights are binned value by value (16-/8-bit ones converted
#: to float32 per block): their tables of 65,536 counts per window would cost more than
#: the weights themselves (a library of 10,000-weight files).
DIRECT_MAX_ELEMS = 1 << 20
#: A uint32 pattern table is folded into its int64 total before it could overflow.
_TABLE_LIMIT = (1 << 32) - 1


@njit(cache=True, nogil=True)
def _window_of(g, stop, n_total, n_windows):
    """The window holding global index g (the largest s with floor(N s / S) <= g) and where
    its run ends: its end or ``stop``, whichever comes first (the paper's windows)."""
    s = ((g + 1) * n_windows - 1) // n_total
    return s, min(((s + 1) * n_total) // n_windows, stop)


@njit(cache=True, nogil=True)
def _bin_run(x, a, b, lo, hi, norm, edges, nbins, clip, rows):
    """Add values x[a:b] (all in one window) to ``rows``; return the non-finite count.

    numpy.histogram's rule on float64: k = int((v - lo) * norm), hi in the last bin, then
    one step down if v < edges[k] or up if v >= edges[k + 1]. ``rows`` is (4, B):
    consecutive values go to different copies so that runs of equal bins don't serialize
    on one memory location (about 1.5x faster); callers sum them.
    """
    nonfinite = 0
    last = nbins - 1
    run = x[a:b]  # indices from 0: numba then drops its negative-index check (_count_patterns)
    for i in range(run.shape[0]):
        v = np.float64(run[i])
        if v >= lo and v <= hi:
            if norm != np.inf:
                k = int((v - lo) * norm)
            else:  # B / (hi - lo) overflows for a range narrower than B / 1.8e308
                k = int((v - lo) / (hi - lo) * nbins)
            if k > last:
                k = last
            if v < edges[k]:
                k -= 1
            elif k < last and v >= edges[k + 1]:
                k += 1
            rows[(a + i) & 3, k] += 1
        elif v != v or v == np.inf or v == -np.inf:
            nonfinite += 1
        elif clip:
            rows[(a + i) & 3, 0 if v < lo else last] += 1
    return nonfinite


@njit(cache=True, nogil=True)
def accumulate_windows(x, offset, n_total, n_windows, nbins, lo, hi, edges, clip, counts, bad):
    """Add the histogram counts of segment ``x`` (theta[offset:offset+len(x)]) to ``counts``.

    counts: (S, B) int64, bad: (S,) int64 non-finite counts per window; ``edges`` is
    :func:`histogram_edges`. Window s holds theta[floor(N s / S) : floor(N (s + 1) / S)].
    """
    rows = np.zeros((n_windows, 4, nbins), dtype=np.int64)
    norm = nbins / (hi - lo)
    g = offset
    stop = offset + x.shape[0]
    while g < stop:
        s, end = _window_of(g, stop, n_total, n_windows)
        bad[s] += _bin_run(x, g - offset, end - offset, lo, hi, norm, edges, nbins, clip, rows[s])
        g = end
    for s in range(n_windows):
        for c in range(4):
            for k in range(nbins):
                counts[s, k] += rows[s, c, k]


@njit(cache=True, nogil=True)
def _make_room(s, n, tables, filled, totals):
    """Fold window s's uint32 table into its int64 totals if n more counts could overflow."""
    if filled[s] + n > _TABLE_LIMIT:
        for k in range(tables.shape[1]):
            totals[s, k] += tables[s, k]
            tables[s, k] = 0
        filled[s] = 0
    filled[s] += n


@njit(cache=True, nogil=True)
def _window_runs(offset, n, n_total, n_windows, tables, filled, totals):
    """(k, 3) int64: window, start, stop of each window's run of theta[offset:offset+n],
    indices relative to ``offset`` (the loop every counting kernel runs), with room made
    in each window's table for its run (:func:`_make_room`). An array, not a numba
    generator: one that held the tables leaked them, and cached generators have failed to
    load (numba KeyError)."""
    first = ((offset + 1) * n_windows - 1) // n_total
    last = ((offset + n) * n_windows - 1) // n_total
    runs = np.empty((last - first + 1, 3), np.int64)
    g, stop, k = offset, offset + n, 0
    while g < stop:
        s, end = _window_of(g, stop, n_total, n_windows)
        runs[k, 0], runs[k, 1], runs[k, 2] = s, g - offset, end - offset
        _make_room(s, end - g, tables, filled, totals)
        g, k = end, k + 1
    return runs[:k]


@njit(cache=True, nogil=True)
def _count_patterns(p, offset, n_total, n_windows, tables, filled, totals):
    """Count the bit patterns ``p`` (theta[offset:offset+len(p)]) per window.

    tables: (S, P) uint32, the fast per-thread tables; filled: (S,) values counted into
    each table since it was last folded into totals: (S, P) int64 (folded before a uint32
    could overflow, so a window of any size is counted exactly).
    """
    runs = _window_runs(offset, p.shape[0], n_total, n_windows, tables, filled, totals)
    for r in range(runs.shape[0]):
        s, a, b = runs[r, 0], runs[r, 1], runs[r, 2]
        table = tables[s]
        # A slice indexed from 0, not p[a + i]: numba proves the index non-negative and
        # drops its wraparound check, 1.4x faster (docs/benchmarks.md).
        run = p[a:b]
        for i in range(run.shape[0]):
            table[run[i]] += 1


@njit(cache=True, nogil=True)
def _count_bytes(p, offset, n_total, n_windows, tables, filled, totals):
    """:func:`_count_patterns` for 8-bit patterns, into four copies of each window's table
    (``tables``: (S, 4 * 256)): an 8-bit float has so few values that consecutive weights
    often share one, and increments of one counter wait on each other (2.7x faster)."""
    runs = _window_runs(offset, p.shape[0], n_total, n_windows, tables, filled, totals)
    for r in range(runs.shape[0]):
        s, a, b = runs[r, 0], runs[r, 1], runs[r, 2]
        table = tables[s]
        run = p[a:b]  # indexed from 0, as in _count_patterns
        for i in range(run.shape[0]):
            table[((i & 3) << 8) + run[i]] += 1


@njit(cache=True, nogil=True)
def _count_float32(
    bits, x, offset, n_total, n_windows, tables, filled, totals, kind, threshold, below,
    above, lo, hi, norm, edges, nbins, clip, slots, rows, bad,
):  # fmt: skip
    """Bin float32 values ``x`` (``bits``: the same memory as uint32) per window, exactly.

    Most values are counted by their top 16 bits (a bucket that lies within one bin, see
    :func:`~.window_counts.float32_buckets`), as fast as a 16-bit float. A value of a
    bucket split by one edge goes to the ``below``/``above`` slot of ``slots`` ((S, 4,
    B + 2)) by one comparison with the bucket's ``threshold``; the rare buckets split more
    often are binned value by value into ``rows`` ((S, 4, B)), NaN/Inf counted in ``bad``.
    ``tables``, ``filled`` and ``totals`` as in :func:`_count_patterns`.
    """
    runs = _window_runs(offset, bits.shape[0], n_total, n_windows, tables, filled, totals)
    for r in range(runs.shape[0]):
        s, a, b = runs[r, 0], runs[r, 1], runs[r, 2]
        table = tables[s]
        window_slots = slots[s]
        run_bits, run = bits[a:b], x[a:b]  # indexed from 0, as in _count_patterns
        for i in range(run.shape[0]):
            key = run_bits[i] >> 16
            k = kind[key]
            if k == 0:
                table[key] += 1
            elif k == 1:
                slot = above[key] if run[i] >= threshold[key] else below[key]
                window_slots[i & 3, slot] += 1
            else:
                bad[s] += _bin_run(run, i, i + 1, lo, hi, norm, edges, nbins, clip, rows[s])


@njit(cache=True, nogil=True)
def _count_float32_split(bits, x, offset, n_total, n_windows, tables, filled, totals, split_at):
    """Count float32 values ``x`` (``bits``: the same memory as uint32) per window at
    ``2 * bucket + (value >= split_at[bucket])`` (``tables``: (S, 2 * 65,536)), the
    bucket being the top 16 bits: one increment per value and no branch, 1.3x faster
    than :func:`_count_float32` (docs/benchmarks.md). Exact for ranges whose buckets are
    split by at most one edge (:class:`~.window_counts.Float32Buckets`, ``split_bins``).
    """
    runs = _window_runs(offset, bits.shape[0], n_total, n_windows, tables, filled, totals)
    for r in range(runs.shape[0]):
        s, a, b = runs[r, 0], runs[r, 1], runs[r, 2]
        table = tables[s]
        run_bits, run = bits[a:b], x[a:b]  # indexed from 0, as in _count_patterns
        for i in range(run.shape[0]):
            key = run_bits[i] >> np.uint32(16)
            table[2 * key + (run[i] >= split_at[key])] += 1


def kernel_threads(threads: int | None = None) -> int:
    """Threads the kernels use: ``threads``, else numba's count (honours NUMBA_NUM_THREADS)."""
    return max(1, int(threads) if threads is not None else numba.get_num_threads())


def histogram_edges(config: DescriptorConfig) -> np.ndarray:
    """The B + 1 float64 bin edges of a resolved config, as numpy.histogram makes them.

    Examples
    --------
    >>> histogram_edges(DescriptorConfig(S=1, B=4, value_range=(-1, 1))).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    lo, hi = config.range
    return np.linspace(lo, hi, config.B + 1)


@dataclass
class WindowScan:
    """What one pass over a model counted.

    Attributes
    ----------
    patterns : dict
        Narrow float dtype name -> ``(used, counts)``: the sorted bit patterns that occur
        (uint32, a bfloat16 model of normal weights uses a tenth of them) and their
        (S, len(used)) counts per window (int64, or uint32 once :meth:`compact`).
    binned : numpy.ndarray or None
        (S, B) int64 histogram counts of the float32/float64 tensors (None if not binned).
    nonfinite : numpy.ndarray or None
        (S,) int64 NaN/Inf counts of the binned tensors.
    """

    patterns: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    binned: np.ndarray | None = None
    nonfinite: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return sum(u.nbytes + c.nbytes for u, c in self.patterns.values())

    def compact(self) -> WindowScan:
        """The pattern counts alone, in uint32 where they fit: to keep between passes or
        send between processes (the binned counts belong to one range and are dropped)."""
        kept = {}
        for dtype, (used, counts) in self.patterns.items():
            if counts.size and counts.max() <= np.iinfo(np.uint32).max:
                counts = counts.astype(np.uint32)
            kept[dtype] = (used, counts)
        return WindowScan(kept)


class _ThreadState:
    """One thread's tables.

    A window's uint32 table is folded into int64 totals before it could overflow; the
    totals are allocated only for a model whose windows can hold 4G values (until then a
    placeholder, which the kernels never touch).
    """

    def __init__(self, S: int, n_total: int, config: DescriptorConfig | None) -> None:
        self.S, self.n_total = S, n_total
        self.tables: dict[str, list] = {}
        if config is not None:
            self.binned = np.zeros((S, config.B), np.int64)
            self.nonfinite = np.zeros(S, np.int64)
            # float32 values of buckets split by edges (window_counts.float32_buckets)
            self.slots = np.zeros((S, 4, config.B + 2), np.int64)
            self.rows = np.zeros((S, 4, config.B), np.int64)
        self.buffers: dict[np.dtype, np.ndarray] = {}

    def buffer(self, dtype: np.dtype) -> np.ndarray:
        """This thread's read buffer of ``dtype`` (READ_BYTES), made once."""
        if dtype not in self.buffers:
            self.buffers[dtype] = np.empty(READ_BYTES // dtype.itemsize, dtype)
        return self.buffers[dtype]

    def table(
        self, dtype: str, g: int, n: int, split: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(table, filled, totals) of ``dtype`` for a block of n values from theta[g]
        (``split``: float32 counted with the split bit, :func:`_count_float32_split`)."""
        if dtype not in self.tables:
            bits = 16 if dtype == "float32" else pattern_bits(dtype)
            # 8-bit: four copies (_count_bytes); float32 split: two entries per bucket
            size = (1 << bits) * (4 if bits == 8 else 2 if split else 1)
            self.tables[dtype] = [
                np.zeros((self.S, size), np.uint32),
                np.zeros(self.S, np.int64),
                None,
            ]
        entry = self.tables[dtype]
        table, filled, totals = entry
        if totals is None:
            first = ((g + 1) * self.S - 1) // self.n_total
            last = ((g + n) * self.S - 1) // self.n_total
            if int(filled[first : last + 1].max()) + n > _TABLE_LIMIT:
                totals = entry[2] = np.zeros(table.shape, np.int64)
        return table, filled, _NO_TOTALS if totals is None else totals

    def _copies(self, counts: np.ndarray) -> np.ndarray:
        """(S, copies, P) view of a table (8-bit tables hold four copies side by side)."""
        return counts.reshape(self.S, 4 if counts.shape[1] == 4 * 256 else 1, -1)

    def occurring(self, dtype: str) -> np.ndarray:
        """(P,) bool: the patterns of ``dtype`` this thread counted at least once."""
        table, _, totals = self.tables[dtype]
        seen = self._copies(table).any(axis=(0, 1))
        return seen if totals is None else seen | self._copies(totals).any(axis=(0, 1))

    def counts(self, dtype: str, used: np.ndarray) -> np.ndarray:
        """(S, len(used)) int64 counts of the patterns ``used`` (copies added): only the
        patterns that occur are copied out of the (S, 65,536) tables."""
        table, _, totals = self.tables[dtype]
        out = np.zeros((self.S, used.shape[0]), np.int64)
        for counts in (table, totals):
            if counts is not None:
                out += self._copies(counts)[:, :, used].sum(axis=1, dtype=np.int64)
        return out


_NO_TOTALS = np.zeros((1, 1), np.int64)


def _blocks(ws: WeightSource, narrow: bool, wide: bool) -> list[tuple[int, int, int, int]]:
    """(tensor index, start, stop, global offset) of the blocks to scan, in theta order."""
    out = []
    offset = 0
    for i, t in enumerate(ws.tensors):
        narrow_tensor = is_narrow(t.dtype)
        if (narrow and narrow_tensor) or (wide and not narrow_tensor):
            for a in range(0, t.size, BLOCK_ELEMS):
                out.append((i, a, min(a + BLOCK_ELEMS, t.size), offset + a))
        offset += t.size
    return out


def scan_source(
    ws: WeightSource,
    S: int,
    bin_config: DescriptorConfig | None = None,
    *,
    count_patterns: bool = True,
    threads: int | None = None,
    progress: bool | None = None,
) -> WindowScan:
    """One pass over a model: count the patterns of its 16-/8-bit tensors per window and,
    given a resolved ``bin_config``, bin its float32/float64 tensors directly.

    Parameters
    ----------
    ws
        The opened model.
    S
        Windows.
    bin_config
        Bin the float32/float64 tensors on this resolved config (None: leave them).
    count_patterns
        Count the 16-/8-bit tensors (False: leave them, e.g. already counted).
    threads
        Threads (default :func:`kernel_threads`); worker processes pass 1.
    progress
        Show a bar per gigabyte (default: for models of at least :data:`PROGRESS_BYTES`).

    Examples
    --------
    >>> import ml_dtypes
    >>> from miwd_widget.weights import open_weights
    >>> ws = open_weights(np.array([1.0, 1.0, 2.0], ml_dtypes.bfloat16))
    >>> used, counts = scan_source(ws, S=1).patterns["bfloat16"]
    >>> [hex(p) for p in used], counts.tolist()  # bfloat16 1.0 and 2.0
    (['0x3f80', '0x4000'], [[2, 1]])
    """
    n_total = ws.n
    # A small model given a range is binned value by value, 16-/8-bit tensors included.
    direct = bin_config is not None and n_total <= DIRECT_MAX_ELEMS
    blocks = _blocks(ws, count_patterns, bin_config is not None)
    nthreads = min(kernel_threads(threads), max(1, len(blocks)))
    states = [_ThreadState(S, n_total, bin_config) for _ in range(nthreads)]
    split = False
    if bin_config is not None:
        lo, hi = bin_config.range
        edges = histogram_edges(bin_config)
        B, clip = bin_config.B, bin_config.clip
        norm = B / (hi - lo)
        buckets = float32_buckets(lo, hi, B, clip)
        # no bucket split by two edges (fine bins near the range's ends): one branchless
        # increment per float32 value; else the kernel that bins those values one by one
        split = not (buckets.kind == 2).any()
    total_bytes = sum(ws.tensors[i].data.itemsize * (b - a) for i, a, b, _ in blocks)
    show = progress if progress is not None else total_bytes >= PROGRESS_BYTES
    bar = progress_bar(desc=f"MI-WD {ws.name}"[-60:], total=total_bytes, show=show, unit="B")
    if show:
        bar.unit_scale = True
    lock = threading.Lock()
    position = iter(range(len(blocks)))

    def work(state: _ThreadState) -> None:
        while True:
            with lock:
                j = next(position, None)
            if j is None:
                return
            i, a, b, g = blocks[j]
            t = ws.tensors[i]
            narrow = is_narrow(t.dtype)
            if narrow and not direct:
                table, filled, totals = state.table(t.dtype, g, b - a)
            elif t.data.dtype == np.float32 and not direct:
                table, filled, totals = state.table("float32", g, b - a, split)
            # data read from its file fills the thread's buffer; data in memory is viewed
            buffer = state.buffer(t.data.dtype) if hasattr(t.data, "read_into") else None
            step = READ_BYTES // t.data.dtype.itemsize
            for a2 in range(a, b, step):
                piece = t.values(a2, min(a2 + step, b), buffer)
                at = g + a2 - a
                if direct:
                    x = to_float32(piece, t.dtype) if narrow else piece
                    if x.dtype not in (np.float32, np.float64):
                        x = x.astype(np.float32)
                    accumulate_windows(
                        x, at, n_total, S, B, lo, hi, edges, clip, state.binned, state.nonfinite
                    )
                elif narrow:
                    patterns = pattern_view(piece, t.dtype)
                    count = _count_bytes if patterns.itemsize == 1 else _count_patterns
                    count(patterns, at, n_total, S, table, filled, totals)
                elif piece.dtype == np.float32 and split:
                    _count_float32_split(
                        piece.view(np.uint32), piece, at, n_total, S, table, filled, totals,
                        buckets.split_at,
                    )  # fmt: skip
                elif piece.dtype == np.float32:
                    _count_float32(
                        piece.view(np.uint32), piece, at, n_total, S, table, filled, totals,
                        buckets.kind, buckets.threshold, buckets.below, buckets.above, lo, hi,
                        norm, edges, B, clip, state.slots, state.rows, state.nonfinite,
                    )  # fmt: skip
                else:
                    x = piece if piece.dtype == np.float64 else piece.astype(np.float32)
                    accumulate_windows(
                        x, at, n_total, S, B, lo, hi, edges, clip, state.binned, state.nonfinite
                    )
            with lock:
                bar.update(t.data.itemsize * (b - a))

    try:
        if nthreads == 1:
            work(states[0])
        else:
            with ThreadPoolExecutor(nthreads, thread_name_prefix="miwd") as pool:
                for f in [pool.submit(work, st) for st in states]:
                    f.result()
    finally:
        bar.close()
    scan = WindowScan()
    for st in states:
        for dtype, (table, _, totals) in st.tables.items():
            if dtype == "float32":  # buckets of this range: binned counts, not patterns
                for counts in (table, totals):
                    if counts is not None:  # one window at a time, no copy of the table
                        hist, bad = counts_histogram(counts, "float32", bin_config)
                        st.binned += hist
                        st.nonfinite += bad
                st.binned += st.rows.sum(axis=1) + st.slots.sum(axis=1)[:, 1:-1]
    narrow_dtypes = {d for st in states for d in st.tables if d != "float32"}
    for dtype in sorted(narrow_dtypes):
        counted = [st for st in states if dtype in st.tables]
        used = np.flatnonzero(np.logical_or.reduce([st.occurring(dtype) for st in counted]))
        used = used.astype(np.uint32)
        scan.patterns[dtype] = (used, sum(st.counts(dtype, used) for st in counted))
    if bin_config is not None:
        scan.binned = sum(st.binned for st in states[1:]) + states[0].binned
        scan.nonfinite = sum(st.nonfinite for st in states[1:]) + states[0].nonfinite
    return scan


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
    ws: WeightSource,
    config: DescriptorConfig,
    threads: int | None = None,
    *,
    scan: WindowScan | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """The (S, B) float32 descriptor of one opened model on a resolved ``config``.

    ``threads`` caps the kernel's threads (default: numba's thread count, which honours
    ``NUMBA_NUM_THREADS``); worker processes pass 1, as they already use every core.
    ``scan``: the model's pattern counts from an earlier pass (:func:`scan_source`), so
    only its float32/float64 tensors are read again.

    Examples
    --------
    >>> from miwd_widget.weights import open_weights
    >>> cfg = DescriptorConfig(S=2, B=2, value_range=(-1, 1))
    >>> describe_source(open_weights(np.array([-0.5, -0.5, 0.5, 0.5])), cfg).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_describable(ws, config.S)
    has_wide = not all(is_narrow(t.dtype) for t in ws.tensors)
    small = scan is None and ws.n <= DIRECT_MAX_ELEMS  # binned value by value, all of it
    fresh = scan_source(
        ws,
        config.S,
        config if has_wide or small else None,
        count_patterns=scan is None,
        threads=threads,
        progress=progress,
    )
    if scan is not None:
        fresh.patterns = scan.patterns
    descriptor = descriptor_from_scan(fresh, config)
    if descriptor is None:
        raise_nonfinite(ws)
    return descriptor


def descriptor_from_scan(scan: WindowScan, config: DescriptorConfig) -> np.ndarray | None:
    """The (S, B) float32 descriptor from a complete scan of a model on a resolved config;
    None if the model holds NaN/Inf and ``config.nan_policy`` is ``"raise"`` (the caller
    names them: :func:`~.window_counts.raise_nonfinite`).

    Examples
    --------
    >>> used = np.array([0x38, 0xB8], np.uint32)  # float8_e4m3fn 1.0 and -1.0
    >>> scan = WindowScan({"float8_e4m3fn": (used, np.array([[3, 1]]))})
    >>> descriptor_from_scan(scan, DescriptorConfig(1, 2, (-1, 1))).tolist()
    [[0.25, 0.75]]
    """
    counts = np.zeros((config.S, config.B), np.int64)
    nonfinite = np.zeros(config.S, np.int64)
    for dtype, (used, table) in scan.patterns.items():
        hist, bad = counts_histogram(table, dtype, config, used)
        counts += hist
        nonfinite += bad
    if scan.binned is not None:
        counts += scan.binned
        nonfinite += scan.nonfinite
    if nonfinite.any() and config.nan_policy == "raise":
        return None
    totals = counts.sum(axis=1, keepdims=True)
    # A window with no in-range weight stays all zeros rather than dividing by zero.
    return (counts / np.maximum(totals, 1)).astype(np.float32)
