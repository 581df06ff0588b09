"""Nearest models in descriptor space (not in the 2-D atlas): a kNN index built once.

Distances are Euclidean between flattened (S*B) descriptors, the space the atlas projects.
Small libraries are searched exactly (scikit-learn, brute force); beyond
:data:`EXACT_MAX_ROWS` models an approximate pynndescent graph answers in constant time
per query.

Examples
--------
>>> unit = np.eye(4).reshape(4, 2, 2)  # four models, unit vectors after flattening
>>> unit[3] *= 3
>>> rows, distances = DescriptorIndex(unit).neighbors(0, k=2)
>>> rows.tolist(), [round(float(d), 3) for d in distances]
([1, 2], [1.414, 1.414])
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["DescriptorIndex", "EXACT_MAX_ROWS"]

#: Up to this many models the search is exact; above, pynndescent's approximate graph.
EXACT_MAX_ROWS = 20_000


class DescriptorIndex:
    """A kNN index over flattened descriptors; :meth:`neighbors` of a library row.

    Parameters
    ----------
    descriptors
        (n, S, B) descriptors or (n, K) vectors (finite).
    method
        ``"exact"`` (scikit-learn ``NearestNeighbors``, brute force, distances recomputed in
        float64), ``"nndescent"`` (``pynndescent.NNDescent``: its k-NN graph, built once, answers
        library rows directly; larger k is queried on the index) or ``"auto"``: exact up to
        :data:`EXACT_MAX_ROWS` models.
    n_neighbors
        Graph degree of pynndescent (the largest k answered from the graph is one less).
    random_state
        Seed of pynndescent.

    Attributes
    ----------
    method : str
        ``"exact"`` or ``"nndescent"``, as chosen.
    source : numpy.ndarray
        The array the index was built from (a library checks it is still its descriptors).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = DescriptorIndex(rng.random((50, 4, 4)))
    >>> index.method, index.neighbors(3, k=5)[0].shape
    ('exact', (5,))
    """

    def __init__(
        self,
        descriptors: Any,
        method: Literal["auto", "exact", "nndescent"] = "auto",
        n_neighbors: int = 30,
        random_state: int | None = 0,
    ) -> None:
        from ..projection import vectorize

        if method not in ("auto", "exact", "nndescent"):
            raise ValueError(f"method must be 'auto', 'exact' or 'nndescent', got {method!r}")
        self.source = descriptors
        self._vectors = vectorize(descriptors)
        n = len(self._vectors)
        if n == 0:
            raise ValueError("descriptors: no models to index")
        if method == "auto":
            method = "exact" if n <= EXACT_MAX_ROWS else "nndescent"
        self.method: str = method
        self._graph: tuple[np.ndarray, np.ndarray] | None = None
        if method == "exact":
            from sklearn.neighbors import NearestNeighbors

            self._index: Any = NearestNeighbors(algorithm="brute").fit(self._vectors)
        else:
            from pynndescent import NNDescent

            self._index = NNDescent(
                self._vectors,
                metric="euclidean",
                n_neighbors=min(int(n_neighbors), n - 1) if n > 1 else 1,
                random_state=random_state,
            )
            self._graph = self._index.neighbor_graph

    def __len__(self) -> int:
        return len(self._vectors)

    def neighbors(self, row: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` models nearest to library row ``row``, the row itself excluded.

        Parameters
        ----------
        row
            Row position of the query model.
        k
            Number of neighbours (at most ``n - 1``: fewer models give fewer rows).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Row positions (int64) and Euclidean distances (float32, recomputed exactly),
            nearest first. Identical models are neighbours at distance 0.

        Raises
        ------
        IndexError
            ``row`` out of range or not an integer.
        ValueError
            ``k`` not a positive integer.

        Examples
        --------
        >>> DescriptorIndex(np.arange(5.0)[:, None]).neighbors(4, k=2)[0].tolist()
        [3, 2]
        """
        n = len(self)
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
            raise IndexError(f"row: expected an integer row position, got {row!r}")
        if not 0 <= row < n:
            raise IndexError(f"row: {row} is not a row position 0..{n - 1} (a library of {n})")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), n - 1)
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = self._vectors[[row]]
        graph = self._graph
        if graph is not None and k < graph[0].shape[1]:
            candidates = graph[0][row]
        elif self.method == "exact":
            candidates = self._index.kneighbors(query, n_neighbors=k + 1, return_distance=False)[0]
        else:
            candidates = self._index.query(query, k=k + 1)[0][0]
        candidates = candidates[(candidates != row) & (candidates >= 0)].astype(np.int64)
        # float32 search distances carry ~1e-8 noise (the dot-product trick); the ranking and
        # the reported distances come from an exact float64 recomputation of the few candidates
        diff = self._vectors[candidates].astype(np.float64) - query.astype(np.float64)
        distance = np.sqrt((diff * diff).sum(1))
        order = np.lexsort((candidates, distance))[:k]
        return candidates[order], distance[order].astype(np.float32)
