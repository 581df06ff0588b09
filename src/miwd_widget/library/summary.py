"""What a selection of models has in common: mean/std descriptors, characteristic values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import IDENTIFIER_COLUMNS
from .compare import code_counts, column_kind, value_codes

__all__ = ["SelectionSummary", "summarize", "characteristic", "mean_std"]


@dataclass
class SelectionSummary:
    """What :meth:`ModelLibrary.summarize` returns for a selection."""

    mean: pd.DataFrame  # (S, B) mean descriptor
    std: pd.DataFrame  # (S, B) standard-deviation descriptor
    characteristic: pd.DataFrame  # over-represented hyper-parameter values
    n: int


def summarize(
    descriptors: np.ndarray, metadata: pd.DataFrame, idx: np.ndarray, quantiles: int = 4
) -> SelectionSummary:
    """Summary of rows ``idx`` (validated row positions); see ``ModelLibrary.summarize``.

    Examples
    --------
    >>> md = pd.DataFrame({"opt": list("aabb")})
    >>> summarize(np.zeros((4, 2, 3)), md, np.array([0, 1])).characteristic["lift"].tolist()
    [2.0]
    """
    _, S, B = descriptors.shape
    grid = dict(index=pd.RangeIndex(S, name="window"), columns=pd.RangeIndex(B, name="bin"))
    mean, std, _ = mean_std(descriptors, idx)
    return SelectionSummary(
        mean=pd.DataFrame(mean, **grid),
        std=pd.DataFrame(std, **grid),
        characteristic=characteristic(metadata, idx, quantiles),
        n=int(idx.size),
    )


def characteristic(metadata: pd.DataFrame, idx: np.ndarray, quantiles: int) -> pd.DataFrame:
    """Values over-represented in rows ``idx``: lift = share_selection / share_library > 1.

    Values are counted as :func:`.compare.compare` counts them (same :func:`.compare.column_kind`),
    except that continuous numbers are binned into library quantiles here. Unlike ``compare``,
    which looks at the hyper-parameters only, every column but the identifiers is looked at,
    outcomes (``test_accuracy``) included: a selection of the best models shows it here.
    """
    columns = ["column", "value", "share_selection", "share_library", "lift"]
    rows: list[tuple] = []
    n_lib, n_sel = len(metadata), len(idx)
    if n_sel == 0 or n_lib == 0:
        return pd.DataFrame(columns=columns)
    for name in metadata.columns:
        if name in IDENTIFIER_COLUMNS:
            continue
        values = comparable_values(metadata[name], n_lib, quantiles)
        if values is None:
            continue
        codes, uniques, lib_counts = value_codes(values)
        sel_counts = code_counts(codes, idx, len(uniques))
        # most frequent in the selection first, as ties in (lift, share) are left in this order
        for i in np.argsort(-sel_counts, kind="stable"):
            if sel_counts[i] == 0:
                break
            share, lib_share = sel_counts[i] / n_sel, lib_counts[i] / n_lib
            lift = share / lib_share
            if lift > 1 + 1e-12:
                rows.append((name, uniques[i], float(share), float(lib_share), float(lift)))
    out = pd.DataFrame(rows, columns=columns)
    if len(out):
        out["value"] = out["value"].astype(object)
        out = out.sort_values(
            ["lift", "share_selection"], ascending=False, kind="stable"
        ).reset_index(drop=True)
    return out


def comparable_values(col: pd.Series, n_lib: int, quantiles: int) -> pd.Series | None:
    """A column as values to count (continuous numbers as quantile-bin labels), or None."""
    kind = column_kind(col, n_lib)
    if kind is None:
        return None
    if kind == "numeric":
        try:
            binned = pd.qcut(col, q=quantiles, duplicates="drop")
        except ValueError:
            return None
        labels = {iv: f"({iv.left:.3g}, {iv.right:.3g}]" for iv in binned.cat.categories}
        return binned.map(labels).astype(object).where(col.notna())
    return col.astype(object).where(col.notna())


def mean_std(
    descriptors: np.ndarray,
    positions: np.ndarray | None = None,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    chunk_bytes: int = 1 << 20,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and (population) standard deviation of descriptor rows, and how many were used.

    One vectorized pass: rows are gathered chunk by chunk into one reused float32 buffer (a
    500,000-model selection of 32x32 descriptors would otherwise be a 2 GB fancy-indexed
    copy), and each chunk adds its sums of ``x - shift`` and ``(x - shift)**2`` to float64
    accumulators; the shift (the mean of the first rows) keeps ``E[x^2] - E[x]^2`` free of
    cancellation. A chunk is about ``chunk_bytes``, so it stays in cache between the gather
    and the two sums.

    Parameters
    ----------
    descriptors
        (n, S, B) descriptors (any float dtype; a memory map is read chunk by chunk).
    positions
        Sorted row positions; ``None`` means every row.
    max_rows
        Above this many rows, the statistics are those of a uniform random sample of
        ``max_rows`` of them (seeded by ``seed``: the same selection gives the same sample).
        The work is memory-bound (500,000 rows of 32x32 are 2 GB to read, about a second
        here); a 65,536-row sample reads an eighth of that, and its mean is within about
        1.3% of a standard deviation of the exact one in every bin. ``None``: always exact.
    seed
        Seed of the sample.
    chunk_bytes
        Size of one gathered chunk.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int)
        The (S, B) mean and std (float64; NaN for no rows) and the number of rows they are
        computed from (the sample size when sampled).

    Examples
    --------
    >>> d = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    >>> mean, std, used = mean_std(d, np.array([0, 2]))
    >>> mean.tolist(), std[0, 0].item(), used
    ([[4.0, 5.0], [6.0, 7.0]], 4.0, 2)
    >>> mean_std(d, np.array([0, 1, 2]), max_rows=2)[2]
    2
    """
    flat = descriptors.reshape(len(descriptors), -1)
    shape = descriptors.shape[1:]
    count = len(flat) if positions is None else int(positions.size)
    if max_rows is not None and count > max_rows:
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(count, int(max_rows), replace=False))
        positions = picks if positions is None else np.asarray(positions)[picks]
        count = int(positions.size)
    if count == 0:
        nan = np.full(shape, np.nan)
        return nan, nan.copy(), 0
    if positions is not None:
        positions = np.asarray(positions)
        low, high = int(positions.min()), int(positions.max())
        if low < 0 or high >= len(flat):
            raise IndexError(f"positions: {low if low < 0 else high} is not a row of {len(flat)}")
    same_dtype = flat.dtype == np.float32
    chunk = int(np.clip(chunk_bytes // max(4 * flat.shape[1], 1), 1, 16384))
    head = flat[:256] if positions is None else flat[positions[:256]]
    shift = head.mean(axis=0, dtype=np.float64).astype(np.float32)
    total = np.zeros(flat.shape[1], dtype=np.float64)
    squares = np.zeros(flat.shape[1], dtype=np.float64)
    buffer = np.empty((min(chunk, count), flat.shape[1]), dtype=np.float32)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        block = buffer[: stop - start]
        if positions is None:
            block[...] = flat[start:stop]  # casts any float dtype into the float32 buffer
        elif same_dtype:
            # unbuffered gather (mode="raise" would buffer it); positions were bounds-checked
            np.take(flat, positions[start:stop], axis=0, out=block, mode="clip")
        else:
            block[...] = flat[positions[start:stop]]
        block -= shift
        total += block.sum(axis=0, dtype=np.float64)
        block *= block
        squares += block.sum(axis=0, dtype=np.float64)
    mean = total / count
    variance = np.maximum(squares / count - mean * mean, 0.0)
    return (mean + shift).reshape(shape), np.sqrt(variance).reshape(shape), count
