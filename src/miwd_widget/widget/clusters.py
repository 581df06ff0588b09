"""Named clusters of the Atlas: validation and the binary trait codec.

A cluster set is an ordered ``{name: sorted int64 row positions}``. Clusters may overlap
(a model can belong to A and to B). The browser builds the ``"(cluster)"`` colour column from
them (js/src/views/clusters.ts ``clusterColumn``: each row's first cluster), so a rename sends only
the clusters and a saved page recolours without a kernel.

Wire format of the ``clusters`` trait (one binary buffer, however many clusters):
``{"names": [...], "sizes": [...], "rows": int32 buffer}`` where ``rows`` is every
cluster's positions, concatenated in the order of ``names``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .codec import array_from_json, array_to_json

__all__ = [
    "CLUSTER_COLUMN",
    "NO_CLUSTER",
    "clusters_frame",
    "clusters_from_json",
    "clusters_to_json",
    "next_cluster_name",
    "normalize_clusters",
]

#: The colour / axis name of the clusters (parenthesized: no metadata clash).
CLUSTER_COLUMN = "(cluster)"
#: Its label for rows in no cluster.
NO_CLUSTER = "(no cluster)"


def normalize_clusters(clusters: Any, n: int, name: str = "clusters") -> dict[str, np.ndarray]:
    """Validate clusters as a library keeps them, and refuse the widget's reserved name.

    The rules (names, positions, masks, one label per row) are the library's:
    :func:`miwd_widget.library.clusters.named_clusters`.

    Parameters
    ----------
    clusters
        A mapping from cluster names to row positions (anything ``Atlas.select`` takes:
        lists, arrays, a DataFrame index, boolean masks), or one label per row. ``None``
        means no clusters.
    n
        Number of models (positions must be in ``[0, n)``).
    name
        The argument's name for error messages.

    Examples
    --------
    >>> normalize_clusters({"A": [3, 1, 3]}, 5)["A"].tolist()
    [1, 3]
    """
    from ..library.clusters import named_clusters

    result = named_clusters(clusters, n)
    if NO_CLUSTER in result:
        raise ValueError(f"{name}: {NO_CLUSTER!r} is reserved for rows in no cluster")
    return result


def clusters_to_json(clusters: Mapping[str, np.ndarray], widget: Any = None) -> dict[str, Any]:
    """The trait's wire format: names, sizes and one int32 buffer of all rows."""
    names = list(clusters)
    arrays = [np.asarray(clusters[k], dtype=np.int32) for k in names]
    rows = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
    return {"names": names, "sizes": [int(a.size) for a in arrays], "rows": array_to_json(rows)}


def clusters_from_json(value: Any, widget: Any = None) -> dict[str, np.ndarray]:
    """Invert :func:`clusters_to_json` (the front end sends the same format)."""
    if not value:
        return {}
    names = [str(k) for k in value.get("names", [])]
    sizes = [int(s) for s in value.get("sizes", [])]
    if len(names) != len(sizes):
        raise ValueError("clusters: names and sizes differ in length")
    rows = array_from_json(value["rows"], "clusters").reshape(-1).astype(np.int64)
    if rows.size != sum(sizes):
        raise ValueError(f"clusters: {rows.size} rows sent for sizes summing to {sum(sizes)}")
    bounds = np.cumsum([0, *sizes])
    return {k: rows[bounds[i] : bounds[i + 1]] for i, k in enumerate(names)}


def next_cluster_name(existing: Any) -> str:
    """The paper's labels: A, B, ..., Z, then AA, AB, ...; the first one not taken.

    Examples
    --------
    >>> next_cluster_name(["A", "B"]), next_cluster_name(["B"])
    ('C', 'A')
    """
    taken = set(existing)
    i = 0
    while True:
        label, k = "", i
        while True:
            label = chr(ord("A") + k % 26) + label
            k = k // 26 - 1
            if k < 0:
                break
        if label not in taken:
            return label
        i += 1


def clusters_frame(meta: pd.DataFrame, clusters: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The metadata of every clustered model with its ``cluster`` (one row per membership).

    The index is the row position; a model in two clusters appears twice. ``cluster`` is
    a categorical in the clusters' order, ready for ``groupby``.

    Examples
    --------
    >>> meta = pd.DataFrame({"lr": [0.1, 0.2, 0.3]})
    >>> frame = clusters_frame(meta, {"B": np.array([2]), "A": np.array([0, 2])})
    >>> frame.index.tolist(), frame["cluster"].tolist(), list(frame["cluster"].cat.categories)
    ([2, 0, 2], ['B', 'A', 'A'], ['B', 'A'])
    """
    names = list(clusters)
    parts = [meta.iloc[clusters[k]].assign(cluster=k) for k in names]
    frame = pd.concat(parts) if parts else meta.iloc[:0].assign(cluster=[])
    frame["cluster"] = pd.Categorical(frame["cluster"], categories=names)
    return frame
