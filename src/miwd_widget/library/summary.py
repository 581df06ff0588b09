"""What a selection of models has in common: mean/std descriptors, characteristic values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import IDENTIFIER_COLUMNS

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
    """Values over-represented in rows ``idx``: lift = share_selection / share_library > 1."""
    columns = ["column", "value", "share_selection", "share_library", "lift"]
    rows: list[tuple] = []
    n_lib, n_sel = len(metadata), len(idx)
    if n_sel == 0 or n_lib == 0:
        return pd.DataFrame(columns=columns)
    for name in metadata.columns:
        if name in IDENTIFIER_COLUMNS:
            continue
        try:
            values = comparable_values(metadata[name], n_lib, quantiles)
            if values is None:
                continue
            lib_share = values.value_counts(dropna=True) / n_lib
            sel_share = values.iloc[idx].value_counts(dropna=True) / n_sel
        except TypeError:  # unhashable cells (lists, dicts): not a hyper-parameter
            continue
        for value, share in sel_share.items():
            lift = share / lib_share[value]
            if lift > 1 + 1e-12:
                rows.append((name, value, float(share), float(lib_share[value]), float(lift)))
    out = pd.DataFrame(rows, columns=columns)
    if len(out):
        out["value"] = out["value"].astype(object)
        out = out.sort_values(
            ["lift", "share_selection"], ascending=False, kind="stable"
        ).reset_index(drop=True)
    return out


def comparable_values(col: pd.Series, n_lib: int, quantiles: int) -> pd.Series | None:
    """A column as values to count (continuous numbers as quantile-bin labels), or None."""
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if numeric and col.nunique() > 12:
        try:
            binned = pd.qcut(col, q=quantiles, duplicates="drop")
        except ValueError:
            return None
        labels = {iv: f"({iv.left:.3g}, {iv.right:.3g}]" for iv in binned.cat.categories}
        values = binned.map(labels).astype(object)
    else:
        values = col.astype(object)
        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        if not (numeric or categorical or pd.api.types.is_bool_dtype(col)):
            if values.nunique() > max(12, 0.5 * n_lib):
                return None  # free text or names, not a hyper-parameter
    return values.where(col.notna())
