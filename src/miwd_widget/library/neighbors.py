"""Nearest models in descriptor space (not in the 2-D atlas), searched exactly.

Distances are Euclidean between flattened (S*B) descriptors, the space the atlas projects.
The search is scikit-learn's brute force: a click in the atlas is one query, which reads
the descriptors once (0.2-0.3 s for 200,000 models of 32x32 here, about 1.5 s for a
million). An approximate graph (pynndescent) would pay only for many queries: building one
took 72 s for 50,000 models here, plus about 40 CPU-seconds of numba compilation in every
new process, so the first click would wait minutes instead of a fraction of a second.

Examples
--------
>>> unit = np.eye(4).reshape(4, 2, 2)  # four models, unit vectors after flattening
>>> unit[3] *= 3
>>> rows, distances = DescriptorIndex(unit).neighbors(0, k=2)
>>> rows.tolist(), [round(float(d), 3) for d in distances]
([1, 2], [1.414, 1.414])
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DescriptorIndex"]


class DescriptorIndex:
    """Exact k nearest neighbours over flattened descriptors; :meth:`neighbors` of a row.

    Parameters
    ----------
    descriptors
        (n, S, B) descriptors or (n, K) vectors (finite).

    Attributes
    ----------
    source : numpy.ndarray
        The array the index was built from (a library checks it is still its descriptors).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = DescriptorIndex(rng.random((50, 4, 4)))
    >>> index.neighbors(3, k=5)[0].shape
    (5,)
    """

    def __init__(self, descriptors: Any) -> None:
        from sklearn.neighbors import NearestNeighbors

        from ..projection import vectorize

        self.source = descriptors
        self._vectors = vectorize(descriptors)
        if len(self._vectors) == 0:
            raise ValueError("descriptors: no models to index")
        self._index = NearestNeighbors(algorithm="brute").fit(self._vectors)

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
        candidates = self._index.kneighbors(query, n_neighbors=k + 1, return_distance=False)[0]
        candidates = candidates[(candidates != row) & (candidates >= 0)].astype(np.int64)
        # float32 search distances carry ~1e-8 noise (the dot-product trick); the ranking and
        # the reported distances come from an exact float64 recomputation of the few candidates
        diff = self._vectors[candidates].astype(np.float64) - query.astype(np.float64)
        distance = np.sqrt((diff * diff).sum(1))
        order = np.lexsort((candidates, distance))[:k]
        return candidates[order], distance[order].astype(np.float32)
