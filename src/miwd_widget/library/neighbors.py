"""Nearest models in descriptor space (not in the 2-D atlas), searched exactly.

Distances are Euclidean between flattened (S*B) descriptors, the space the atlas projects.
The search is scikit-learn's brute force: a click in the atlas is one query, which reads
the descriptors once (0.2-0.3 s for 200,000 models of 32x32 here, about 1.5 s for a
million). The same index answers both questions: the models nearest to a library row
(:meth:`DescriptorIndex.neighbors`, the atlas' neighbour panel) and those nearest to new
descriptors (:meth:`DescriptorIndex.query`, ``ModelLibrary.locate``). An approximate graph (pynndescent) would pay only for many queries: building one
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

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DescriptorIndex", "NearestModels"]


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
        candidates = self._index.kneighbors(
            self._vectors[[row]], n_neighbors=k + 1, return_distance=False
        )[0]
        candidates = candidates[candidates != row]
        rows, distance = self._exact(self._vectors[row], candidates, k)
        return rows, distance.astype(np.float32)

    def query(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` library models nearest to each of ``vectors`` (new descriptors).

        Parameters
        ----------
        vectors
            (m, S, B) descriptors or (m, S*B) vectors on the library's grid.
        k
            Neighbours per query (at most the library's size).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            (m, k) row positions (int64) and float64 distances, nearest first; a library
            model finds itself at distance 0.

        Examples
        --------
        >>> rows, distance = DescriptorIndex(np.eye(3)).query(np.eye(3)[[2]], k=2)
        >>> rows.tolist(), distance.tolist()
        ([[2, 0]], [[0.0, 1.4142135623730951]])
        """
        from ..projection import vectorize

        q = vectorize(vectors)
        if q.shape[1] != self._vectors.shape[1]:
            raise ValueError(
                f"descriptors have {q.shape[1]} values, the library's have {self._vectors.shape[1]}"
            )
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), len(self))
        candidates = self._index.kneighbors(
            q, n_neighbors=min(k + 1, len(self)), return_distance=False
        )
        rows = np.empty((len(q), k), np.int64)
        distance = np.empty((len(q), k), np.float64)
        for i in range(len(q)):
            rows[i], distance[i] = self._exact(q[i], candidates[i], k)
        return rows, distance

    def _exact(
        self, query: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest of ``candidates``, ranked on exact float64 distances.

        The float32 search distances carry ~1e-8 noise (the dot-product trick), so an
        identical model would not come out at 0; ties go to the lower row.
        """
        candidates = candidates[candidates >= 0].astype(np.int64)
        diff = self._vectors[candidates].astype(np.float64) - query.astype(np.float64)
        distance = np.sqrt((diff * diff).sum(1))
        order = np.lexsort((candidates, distance))[:k]
        return candidates[order], distance[order]


class NearestModels:
    """The nearest-model queries of :class:`~miwd_widget.library.ModelLibrary` (its base
    class): the models nearest to a library row. New models are placed in the atlas by
    :class:`~miwd_widget.library.atlas_projection.AtlasProjection`, with the same index.

    The library provides ``descriptors``, ``metadata`` and the cache ``_index``, which it
    resets whenever its descriptors change.
    """

    _index: DescriptorIndex | None

    def descriptor_index(self) -> DescriptorIndex:
        """The exact kNN index over the flattened descriptors (built on first use, kept until
        the descriptors change); see :class:`miwd_widget.library.neighbors.DescriptorIndex`."""
        if self._index is None:
            self._index = DescriptorIndex(self.descriptors)
        return self._index

    def neighbor_positions(self, row: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Row positions (int64) and distances (float32) of the ``k`` models nearest to
        ``row`` in descriptor space, nearest first, ``row`` itself excluded.

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> lib = ModelLibrary(np.arange(4.0).reshape(4, 1, 1))
        >>> rows, distances = lib.neighbor_positions(0, k=2)
        >>> rows.tolist(), distances.tolist()
        ([1, 2], [1.0, 2.0])
        """
        return self.descriptor_index().neighbors(row, k)

    def neighbors(self, row: int, k: int = 10) -> pd.DataFrame:
        """The ``k`` models nearest to ``row`` by descriptor distance (not atlas distance).

        Euclidean distance between flattened (S*B) descriptors, searched exactly (scikit-learn's
        brute force; one query reads the descriptors once: 0.2-0.3 s for 200,000 models). The
        index is built on the first call and kept on the library (rebuilt after :meth:`add`).

        Returns
        -------
        pandas.DataFrame
            The neighbours' metadata rows (index: their row positions), nearest first, with
            ``rank`` (1 = nearest) and ``distance`` first (replacing metadata columns of
            those names).

        Raises
        ------
        IndexError
            ``row`` is not a row position.

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> lib = ModelLibrary(np.arange(4.0).reshape(4, 1, 1))
        >>> lib.neighbors(3, k=2)[["rank", "distance", "id"]].values.tolist()
        [[1, 1.0, '2'], [2, 2.0, '1']]
        """
        rows, distances = self.neighbor_positions(row, k)
        out = self.metadata.iloc[rows].drop(columns=["rank", "distance"], errors="ignore")
        out.insert(0, "distance", distances)
        out.insert(0, "rank", np.arange(1, len(rows) + 1))
        return out
