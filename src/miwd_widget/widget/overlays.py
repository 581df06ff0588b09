"""What the Atlas draws over its scatter: training paths, located models, neighbour lines.

Each is a synced trait (``_paths``, ``_located``, ``_neighbors``), ``{}`` for none; the
browser decodes them in js/src/draw/paths.ts, located.ts and neighbors.ts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..columns import EPOCH, MODEL
from .codec import array_to_json

if TYPE_CHECKING:
    from ..library import ModelLibrary
    from .messages import NeighborsRequest

__all__ = ["located_json", "neighbor_json", "neighbors_state", "training_paths"]


def training_paths(meta: pd.DataFrame) -> dict[str, Any]:
    """Path id and order per row for libraries of training snapshots, ``{}`` otherwise.

    A path is a model's snapshots (the ``model`` column) ordered by ``epoch``; models with
    one row are not paths (id -1).

    Examples
    --------
    >>> from miwd_widget.widget.codec import array_from_json
    >>> md = pd.DataFrame({"model": ["b", "a", "c", "a", "c"], "epoch": [0, 1, 0, 0, 1]})
    >>> paths = training_paths(md)
    >>> array_from_json(paths["line"]).tolist(), array_from_json(paths["order"]).tolist()
    ([-1, 0, 1, 0, 1], [0, 1, 0, 0, 1])
    """
    if MODEL not in meta.columns or EPOCH not in meta.columns or meta.empty:
        return {}
    line, models = pd.factorize(meta[MODEL], sort=False)
    sizes = np.bincount(line[line >= 0], minlength=len(models))
    if not (sizes > 1).any():
        return {}
    epoch = pd.to_numeric(meta[EPOCH], errors="coerce").to_numpy(dtype=np.float64)
    order = (
        pd.DataFrame({"line": line, "epoch": epoch})
        .groupby("line")["epoch"]
        .rank(method="first")
        .fillna(1)
        .to_numpy()
        - 1
    )
    # Path ids 0..count-1 (models with one row are no path).
    is_path = sizes > 1
    on_path = (line >= 0) & is_path[np.maximum(line, 0)]
    line = np.where(on_path, (np.cumsum(is_path) - 1)[np.maximum(line, 0)], -1)
    return {
        "line": array_to_json(line.astype(np.int32)),
        "order": array_to_json(order.astype(np.int32)),
        "count": int((sizes > 1).sum()),
    }


def located_json(table: pd.DataFrame | None) -> dict[str, Any]:
    """The ``_located`` trait of a ``library.locate`` result (one row per query-neighbour pair):
    each query's position, its neighbours (int32, -1 padded) and name.

    Examples
    --------
    >>> table = pd.DataFrame({"query": [0, 0], "x": [1.0, 1.0], "y": [2.0, 2.0],
    ...                       "neighbor": [4, 7], "rank": [1, 0]})
    >>> located_json(table)["neighbors"]["shape"], located_json(table)["names"]
    ([1, 2], ['0'])
    """
    if table is None or len(table) == 0:
        return {}
    required = {"query", "x", "y", "neighbor", "rank"}
    missing = required - set(table.columns)
    if missing:
        raise ValueError(f"locate result lacks column(s) {sorted(missing)}")
    ordered = table.sort_values(["query", "rank"])
    queries = ordered.drop_duplicates("query")
    k = int(ordered.groupby("query").size().max())
    neighbors = np.full((len(queries), k), -1, dtype=np.int32)
    for row, (_, group) in enumerate(ordered.groupby("query", sort=True)):
        neighbors[row, : len(group)] = group["neighbor"].to_numpy(dtype=np.int32)
    names = (
        queries["query_name"].astype(str).tolist()
        if "query_name" in queries
        else [str(q) for q in queries["query"]]
    )
    return {
        "x": array_to_json(queries["x"].to_numpy(dtype=np.float32)),
        "y": array_to_json(queries["y"].to_numpy(dtype=np.float32)),
        "neighbors": array_to_json(neighbors),
        "names": names,
    }


def neighbor_json(row: int, positions: Any, distances: Any) -> dict[str, Any]:
    """The ``_neighbors`` trait: the row, its neighbours (int32) and distances (float32)."""
    return {
        "row": row,
        "neighbors": array_to_json(np.asarray(positions, dtype=np.int32)),
        "distances": array_to_json(np.asarray(distances, dtype=np.float32)),
    }


def neighbors_state(
    library: ModelLibrary, message: NeighborsRequest, default_k: int
) -> dict[str, Any]:
    """The ``_neighbors`` trait a neighbours request asks for: ``{}`` for none (row -1 or
    absent), ``{"row", "error"}`` when they cannot be found (the view says why)."""
    row = message.get("row")
    if row is None or row == -1:
        return {}
    try:
        k = int(message.get("k", default_k))
        return neighbor_json(int(row), *library.neighbor_positions(int(row), k))
    except Exception as err:  # shown in the view instead of a silent nothing
        return {"row": row, "error": str(err)}
