"""Named clusters side by side (the paper's Figure 5): what characterizes each, how it scores.

:func:`compare` gives, for each cluster and hyper-parameter, the share of each value in the
cluster and in the library, the lift and a test of over-representation; :func:`cluster_accuracy`
gives each cluster's accuracy distribution. :func:`miwd_widget.evaluate.charts.compare_chart`
draws both. The value counting here is also what :func:`.summary.characteristic` uses.

Examples
--------
>>> md = pd.DataFrame({"opt": ["sgd"] * 4 + ["adam"] * 4, "accuracy_norm": np.linspace(0, 1, 8)})
>>> table = compare(md, {"A": [0, 1, 2, 3]})
>>> table[table.value == "sgd"][["cluster", "share_cluster", "share_library", "lift"]].values.tolist()
[['A', 1.0, 0.5, 2.0]]
>>> cluster_accuracy(md, {"A": [0, 1, 2, 3]})[["cluster", "n", "median"]].values.tolist()
[['A', 4, 0.21428571428571427]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..columns import ACCURACY_COLUMNS, hyperparameter_columns
from .clusters import as_clusters, factorize

__all__ = [
    "compare",
    "cluster_accuracy",
    "value_codes",
    "code_counts",
    "accuracy_column",
    "column_kind",
    "COMPARE_COLUMNS",
    "ACCURACY_SUMMARY_COLUMNS",
]

#: Columns of :func:`compare`'s table, in order.
COMPARE_COLUMNS = [
    "cluster",
    "n_cluster",
    "column",
    "kind",
    "value",
    "count",
    "share_cluster",
    "share_library",
    "lift",
    "median_cluster",
    "median_rest",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
]

#: Columns of :func:`cluster_accuracy`'s table, in order.
ACCURACY_SUMMARY_COLUMNS = [
    "cluster",
    "n",
    "column",
    "count",
    "mean",
    "std",
    "min",
    "q1",
    "median",
    "q3",
    "max",
]

#: Numeric columns with more distinct values than this are compared as numbers, not values.
MAX_CATEGORIES = 12


def column_kind(col: pd.Series, n: int | None = None) -> Literal["category", "numeric"] | None:
    """How a metadata column is compared: value by value, as numbers, or not at all (None).

    Booleans, categoricals, text and numbers with at most 12 distinct values are categories;
    other numbers are numeric. All-missing columns, unhashable cells (lists, dicts) and text
    with more than ``max(12, n / 2)`` distinct values (names, free text) are left out.

    Examples
    --------
    >>> column_kind(pd.Series([0.1, 0.01, 0.1])), column_kind(pd.Series(np.arange(20.0)))
    ('category', 'numeric')
    """
    n = len(col) if n is None else n
    try:
        distinct = col.nunique(dropna=True)
    except TypeError:  # unhashable cells: not a hyper-parameter
        return None
    if distinct == 0:
        return None
    is_bool = pd.api.types.is_bool_dtype(col)
    numeric = pd.api.types.is_numeric_dtype(col) and not is_bool
    if numeric:
        return "numeric" if distinct > MAX_CATEGORIES else "category"
    if is_bool or isinstance(col.dtype, pd.CategoricalDtype):
        return "category"
    return None if distinct > max(MAX_CATEGORIES, 0.5 * n) else "category"


def accuracy_column(metadata: pd.DataFrame, accuracy: str | None = None) -> str | None:
    """The accuracy column: ``accuracy`` if given (checked), else ``accuracy_norm`` or the first
    of :data:`~miwd_widget.columns.ACCURACY_COLUMNS` with a value; None if there is none.

    Examples
    --------
    >>> accuracy_column(pd.DataFrame({"accuracy_norm": [np.nan], "test_accuracy": [0.5]}))
    'test_accuracy'
    """
    if accuracy is not None:
        if accuracy not in metadata.columns:
            raise ValueError(
                f"accuracy: {accuracy!r} is not a metadata column (have {list(metadata.columns)})"
            )
        col = metadata[accuracy]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"accuracy: column {accuracy!r} is not numeric ({col.dtype})")
        return accuracy
    for name in ("accuracy_norm", *ACCURACY_COLUMNS):
        if name in metadata.columns:
            col = metadata[name]
            if pd.api.types.is_numeric_dtype(col) and col.notna().any():
                return name
    return None


def compare(
    metadata: pd.DataFrame,
    clusters: Any,
    columns: Sequence[str] | None = None,
    accuracy: str | None | Literal[False] = None,
) -> pd.DataFrame:
    """What characterizes each cluster: value shares, lift and over-representation tests.

    Each cluster is compared with the rest of the library (every row not in it, so clusters
    may overlap).

    - Category columns (see :func:`column_kind`): one row per cluster and library value with
      ``count`` (models of the cluster with the value), ``share_cluster`` (count / cluster
      size), ``share_library``, ``lift`` (= share_cluster / share_library) and a one-sided
      Fisher exact test (``scipy.stats.fisher_exact``, ``alternative="greater"``) of the 2x2
      table cluster/rest x value/other; ``statistic`` is its odds ratio. Missing values are
      never a value but count in the shares' denominators. Fisher's test is used at every
      size: it is exact, and scipy computes it from the hypergeometric distribution in well
      under a millisecond even for a million models, so chi-square's approximation buys
      nothing here.
    - Numeric columns (more than 12 distinct numbers): one row per cluster and column with
      ``count`` (non-missing values in the cluster), ``median_cluster``, ``median_rest`` and a
      two-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``) of the cluster against the
      rest; ``statistic`` is U.

    ``p_adjusted`` is the Benjamini-Hochberg adjustment (``scipy.stats.false_discovery_control``)
    over all the tests of the table. An empty cluster, or a test with an empty side, has no
    shares or p-values (NaN); a cluster holding every model has Fisher p = 1.

    Parameters
    ----------
    metadata
        One row per model (row positions are the clusters' positions).
    clusters
        ``{name: row positions or boolean mask}`` or one label per row; see :func:`as_clusters`.
    columns
        Columns to compare (default: :func:`~miwd_widget.columns.hyperparameter_columns`, those
        :func:`column_kind` can compare). A named column that cannot be compared is an error.
    accuracy
        Accuracy column also compared as a numeric column (default: :func:`accuracy_column`);
        ``False`` for none.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`: ``cluster``, ``n_cluster``, ``column``, ``kind``
        (``"category"`` or ``"numeric"``), ``value`` (NaN for numeric rows), ``count``,
        ``share_cluster``, ``share_library``, ``lift``, ``median_cluster``, ``median_rest``,
        ``test`` (``"fisher"`` or ``"mannwhitney"``), ``statistic``, ``p_value``,
        ``p_adjusted``. Rows by cluster, then column, then value.

    Raises
    ------
    IndexError
        Row positions out of range, naming the cluster.
    ValueError
        Unknown or uncomparable columns, a bad ``accuracy`` column, labels of the wrong length.

    Examples
    --------
    >>> md = pd.DataFrame({"opt": list("aaaabbbb"), "lr": [0.1, 0.2] * 4})
    >>> t = compare(md, {"X": [0, 1, 2]})
    >>> t[["column", "value", "count", "lift"]].values.tolist()
    [['opt', 'a', 3, 2.0], ['opt', 'b', 0, 0.0], ['lr', 0.1, 2, 1.3333333333333333], ['lr', 0.2, 1, 0.6666666666666666]]
    """
    from scipy.stats import fisher_exact, mannwhitneyu

    n = len(metadata)
    groups = as_clusters(clusters, n)
    names = _columns(metadata, columns, accuracy)
    rows: list[dict[str, Any]] = []
    for column, kind in names:
        col = metadata[column]
        if kind == "category":
            codes, uniques, lib_counts = value_codes(col)
            for cluster, idx in groups.items():
                base = {"cluster": cluster, "n_cluster": int(idx.size), "column": column}
                counts = code_counts(codes, idx, len(uniques))
                for value, count, total in zip(uniques, counts, lib_counts, strict=True):
                    row = {**base, "kind": kind, "value": value, "count": int(count)}
                    row["share_library"] = total / n
                    row["test"] = "fisher"
                    if idx.size:
                        row["share_cluster"] = count / idx.size
                        row["lift"] = row["share_cluster"] / row["share_library"]
                        rest = n - idx.size
                        table = [[count, idx.size - count], [total - count, rest - total + count]]
                        res = fisher_exact(table, alternative="greater")
                        row["statistic"], row["p_value"] = float(res.statistic), float(res.pvalue)
                    rows.append(row)
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            for cluster, idx in groups.items():
                inside = np.zeros(n, dtype=bool)
                inside[idx] = True
                a, b = x[inside], x[~inside]
                a, b = a[~np.isnan(a)], b[~np.isnan(b)]
                row = {"cluster": cluster, "n_cluster": int(idx.size), "column": column}
                row.update(kind=kind, value=np.nan, count=int(a.size), test="mannwhitney")
                row["median_cluster"] = float(np.median(a)) if a.size else np.nan
                row["median_rest"] = float(np.median(b)) if b.size else np.nan
                if a.size and b.size:
                    res = mannwhitneyu(a, b, alternative="two-sided")
                    row["statistic"], row["p_value"] = float(res.statistic), float(res.pvalue)
                rows.append(row)
    out = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    out["value"] = out["value"].astype(object)
    out["cluster"] = out["cluster"].astype(object)
    for name in ("n_cluster", "count"):
        out[name] = out[name].astype(np.int64)
    for name in COMPARE_COLUMNS[6:11] + ["statistic", "p_value"]:
        out[name] = out[name].astype(np.float64)
    out["p_adjusted"] = _benjamini_hochberg(out["p_value"].to_numpy())
    order = {c: i for i, c in enumerate(groups)}
    out = out.iloc[np.argsort(out["cluster"].map(order).to_numpy(), kind="stable")]
    return out.reset_index(drop=True)


def cluster_accuracy(
    metadata: pd.DataFrame, clusters: Any, accuracy: str | None = None
) -> pd.DataFrame:
    """Each cluster's accuracy distribution: count, mean, std, min, quartiles, max.

    Parameters
    ----------
    metadata
        One row per model.
    clusters
        As in :func:`compare`.
    accuracy
        The accuracy column (default: :func:`accuracy_column`: ``accuracy_norm``, else
        ``test_accuracy`` ...). Without one, the statistics are NaN and ``column`` is None.

    Returns
    -------
    pandas.DataFrame
        One row per cluster, columns :data:`ACCURACY_SUMMARY_COLUMNS`: ``cluster``, ``n``
        (models), ``column``, ``count`` (models with an accuracy), ``mean``, ``std`` (sample
        standard deviation, NaN below 2 values), ``min``, ``q1``, ``median``, ``q3``, ``max``.

    Examples
    --------
    >>> md = pd.DataFrame({"test_accuracy": [0.1, 0.2, 0.4, np.nan]})
    >>> t = cluster_accuracy(md, {"A": [0, 1, 2, 3]})
    >>> t["count"].item(), t["median"].item(), t["q3"].item()
    (3, 0.2, 0.30000000000000004)
    """
    n = len(metadata)
    groups = as_clusters(clusters, n)
    column = accuracy_column(metadata, accuracy)
    x = (
        np.full(n, np.nan)
        if column is None
        else pd.to_numeric(metadata[column], errors="coerce").to_numpy(dtype=np.float64)
    )
    rows = []
    for cluster, idx in groups.items():
        v = x[idx]
        v = v[~np.isnan(v)]
        stats = dict.fromkeys(ACCURACY_SUMMARY_COLUMNS[4:], np.nan)
        if v.size:
            q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
            stats.update(mean=v.mean(), std=v.std(ddof=1) if v.size > 1 else np.nan)
            stats.update(zip(["min", "q1", "median", "q3", "max"], q, strict=True))
        rows.append({"cluster": cluster, "n": int(idx.size), "column": column, "count": v.size})
        rows[-1].update({k: float(s) for k, s in stats.items()})
    out = pd.DataFrame(rows, columns=ACCURACY_SUMMARY_COLUMNS)
    out["cluster"] = out["cluster"].astype(object)
    for name in ("n", "count"):
        out[name] = out[name].astype(np.int64)
    return out


# ------------------------------------------------------------------------------------------
# Shared with summary.characteristic: which columns, which values, how many of each
# ------------------------------------------------------------------------------------------


def _columns(
    metadata: pd.DataFrame, columns: Sequence[str] | None, accuracy: str | None | Literal[False]
) -> list[tuple[str, str]]:
    """(column, kind) pairs to compare, checked."""
    n = len(metadata)
    if isinstance(columns, str):
        columns = [columns]
    if columns is None:
        chosen = [(c, column_kind(metadata[c], n)) for c in hyperparameter_columns(metadata)]
        pairs = [(c, k) for c, k in chosen if k is not None]
    else:
        unknown = [c for c in columns if c not in metadata.columns]
        if unknown:
            raise ValueError(
                f"columns: {unknown} are not metadata columns (have {list(metadata.columns)})"
            )
        pairs = []
        for c in dict.fromkeys(columns):
            kind = column_kind(metadata[c], n)
            if kind is None:
                raise ValueError(
                    f"columns: {c!r} cannot be compared (all missing, unhashable cells, or "
                    "free text with too many distinct values)"
                )
            pairs.append((c, kind))
    acc = None if accuracy is False else accuracy_column(metadata, accuracy)
    if acc is not None and acc not in {c for c, _ in pairs}:
        pairs.append((acc, "numeric"))
    return pairs


def value_codes(values: pd.Series) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """Codes (-1: missing), distinct values and each value's count in the library.

    Examples
    --------
    >>> codes, values, counts = value_codes(pd.Series(["b", "a", None, "b"]))
    >>> codes.tolist(), values, counts.tolist()
    ([1, 0, -1, 1], ['a', 'b'], [1, 2])
    """
    codes, uniques = factorize(values)
    return codes, [_plain(u) for u in uniques], code_counts(codes, None, len(uniques))


def code_counts(codes: np.ndarray, idx: np.ndarray | None, k: int) -> np.ndarray:
    """How many of the rows ``idx`` (all if None) have each of the ``k`` values.

    Examples
    --------
    >>> code_counts(np.array([1, 0, -1, 1]), np.array([0, 3]), 2).tolist()
    [0, 2]
    """
    c = codes if idx is None else codes[idx]
    return np.bincount(c[c >= 0], minlength=k)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (readable reprs, JSON-friendly tables)."""
    return value.item() if isinstance(value, np.generic) else value


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values of the finite entries of ``p`` (NaN stays NaN)."""
    from scipy.stats import false_discovery_control

    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = false_discovery_control(p[finite], method="bh")
    return out
