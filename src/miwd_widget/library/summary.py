"""What a selection of models has in common: mean/std descriptors, characteristic values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import IDENTIFIER_COLUMNS
from .compare import _counts, _factorized, column_kind

__all__ = ["SelectionSummary", "summarize", "characteristic"]


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
    if idx.size:
        sel = descriptors[idx].astype(np.float64)
        mean, std = sel.mean(0), sel.std(0)
    else:
        mean = std = np.full((S, B), np.nan)
    return SelectionSummary(
        mean=pd.DataFrame(mean, **grid),
        std=pd.DataFrame(std, **grid),
        characteristic=characteristic(metadata, idx, quantiles),
        n=int(idx.size),
    )


def characteristic(metadata: pd.DataFrame, idx: np.ndarray, quantiles: int) -> pd.DataFrame:
    """Values over-represented in rows ``idx``: lift = share_selection / share_library > 1.

    Columns and values are those of :func:`.compare.compare` (same :func:`.compare.column_kind`,
    same counting), except that continuous numbers are binned into library quantiles here.
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
        codes, uniques, lib_counts = _factorized(values)
        sel_counts = _counts(codes, idx, len(uniques))
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
