"""A library's named clusters, validated: ``{name: sorted int64 row positions}``.

The one check of clusters given as a mapping or as one label per row, used by the library
(``ModelLibrary.clusters``), its storage and the comparison of clusters (:mod:`.compare`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._positions import as_positions

__all__ = ["as_clusters", "named_clusters", "factorize"]


def as_clusters(clusters: Any, n: int, name: str = "clusters") -> dict[Hashable, np.ndarray]:
    """Clusters as ``{name: sorted unique int64 row positions}``.

    Parameters
    ----------
    clusters
        A mapping ``{name: row positions or boolean mask}`` (clusters may overlap), or one
        label per row (Series, array, list, Categorical; missing labels are in no cluster).
        Labels are ordered as a Categorical's categories, else sorted (else as they appear).
    n
        Number of rows (models).
    name
        The argument's name, for error messages.

    Raises
    ------
    IndexError
        Positions out of range or not integers; the message names the cluster.
    ValueError
        Labels whose number is not ``n``.

    Examples
    --------
    >>> as_clusters(["b", "a", None, "b"], 4)
    {'a': array([1]), 'b': array([0, 3])}
    >>> as_clusters({"A": [3, 1]}, 4)["A"].tolist()
    [1, 3]
    """
    if isinstance(clusters, Mapping):
        return {
            key: as_positions(rows, n, name=f"{name}: cluster {key!r}")
            for key, rows in clusters.items()
        }
    if isinstance(clusters, str) or np.ndim(clusters) == 0:
        raise TypeError(
            f"{name}: expected {{name: row positions}} or one label per row, got {clusters!r}"
        )
    labels = pd.Series(
        clusters.to_numpy() if isinstance(clusters, pd.Series | pd.Index) else clusters
    )
    if len(labels) != n:
        raise ValueError(f"{name}: one label per row needs {n} labels, got {len(labels)}")
    codes, uniques = factorize(labels)
    if isinstance(labels.dtype, pd.CategoricalDtype):
        uniques = list(labels.cat.categories)
        codes = labels.cat.codes.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {
        label: np.sort(order[bounds[i] : bounds[i + 1]]).astype(np.int64)
        for i, label in enumerate(uniques)
    }


def named_clusters(clusters: Any, n: int) -> dict[str, np.ndarray]:
    """:func:`as_clusters` with string names (a library's clusters, saved as JSON keys).

    Examples
    --------
    >>> named_clusters({1: [0], "2": [1]}, 2)
    {'1': array([0]), '2': array([1])}
    >>> named_clusters(None, 3)
    {}
    """
    if clusters is None:
        return {}
    out: dict[str, np.ndarray] = {}
    for key, rows in as_clusters(clusters, n).items():
        name = str(key)
        if not name.strip():
            raise ValueError(f"clusters: cluster names must not be empty, got {key!r}")
        if name in out:
            raise ValueError(f"clusters: two clusters are named {name!r}")
        out[name] = rows
    return out


def factorize(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1: missing) and the distinct values, sorted when they can be.

    Examples
    --------
    >>> codes, values = factorize(pd.Series([3, 1, None, 3]))
    >>> codes.tolist(), [float(v) for v in values]
    ([1, 0, -1, 1], [1.0, 3.0])
    """
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values of mixed types: keep their order of appearance
        codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(codes, dtype=np.int64), list(np.asarray(uniques, dtype=object))
