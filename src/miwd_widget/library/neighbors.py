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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..columns import ID

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
    class): neighbours of a library row and the place of new models in the atlas.

    The library provides ``descriptors``, ``metadata``, ``embedding``, ``attrs``,
    ``describe``, ``_atlas_space`` (the atlas' representation when not MI-WD: its vectors,
    their index and ``transform`` for new models) and the caches ``_index`` and
    ``_projector``, which it resets whenever its descriptors change.
    """

    _index: DescriptorIndex | None
    _projector: Any

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

    def locate(self, models: Any, k: int = 5, placement: str = "auto") -> pd.DataFrame:
        """Place new (black-box) models in the atlas and find their nearest library models.

        New models are put in the representation the atlas was projected from
        (:meth:`project`'s ``representation``, recorded in ``attrs["representation"]``),
        with the state fitted on the library (never refitted on them). By default that is
        the library's MI-WD: the query descriptors are computed on the library's grid (S, B,
        value range). For another representation the library's own vectors are kept from
        :meth:`project`; after :meth:`load` they are computed again once from the weight
        files in ``metadata["source"]`` (a progress bar; the files must be unchanged).
        Neighbours are the k nearest library models in that space: the euclidean distance
        between vectors (scikit-learn ``NearestNeighbors``, distances recomputed exactly in
        float64, so a library model finds itself at 0).

        The atlas position ``x, y`` of a query depends on ``placement``:

        - ``"transform"``: the fitted projection's ``transform`` (PCA, then UMAP's
          transform). After :meth:`load` the fitted UMAP is not in the file; it is refit
          once with the saved parameters and ``random_state`` (UMAP is deterministic with a
          seed) and must reproduce the saved atlas, else a RuntimeError says so. Refitting
          costs UMAP's numba compilation (tens of seconds in a fresh process) plus the fit.
        - ``"neighbors"``: the inverse-distance weighted mean of the k neighbours' atlas
          positions (what UMAP's transform starts from before it optimizes); needs no UMAP,
          always in the saved atlas' frame, and a library model lands on itself.
        - ``"auto"`` (default): ``"transform"`` if the fitted projection is in memory (the
          library was projected in this session), else ``"neighbors"`` (e.g. after load).

        Parameters
        ----------
        models
            One model or a list (paths, arrays, dicts, torch modules).
        k
            Neighbours per query.
        placement
            ``"auto"``, ``"transform"`` or ``"neighbors"``.

        Returns
        -------
        pandas.DataFrame
            One row per (query, neighbour): ``query`` (int), ``query_name``, ``x``, ``y``,
            ``rank`` (1 = nearest), ``neighbor`` (library row position), ``id``, ``distance``.

        Examples
        --------
        >>> lib.locate("my_model.safetensors", k=3)  # doctest: +SKIP
        """
        from ..descriptors.compute import is_single

        if not self._atlas_record().get("descriptors", True):
            self._check_locatable(placement)
            space = self._atlas_space()
            vectors, names = space.transform([models] if is_single(models) else list(models))
            return self._locate_vectors(
                vectors, names, k, placement, space.index(), space.vectors, space.rows
            )
        d = self.describe(models)
        d = d[None] if is_single(models) else d
        names = list(d.names) if getattr(d, "names", None) else None
        return self.locate_descriptors(np.asarray(d), names, k=k, placement=placement)

    def locate_descriptors(
        self,
        descriptors: np.ndarray,
        names: Sequence[str] | None = None,
        k: int = 5,
        placement: str = "auto",
    ) -> pd.DataFrame:
        """:meth:`locate` for descriptors already computed on this library's grid (an atlas
        projected from the library's MI-WD descriptors only).

        Examples
        --------
        >>> lib.locate_descriptors(lib.descriptors[:2], k=1)  # doctest: +SKIP
        """
        from ..projection import vectorize

        record = self._atlas_record()
        if not record.get("descriptors", True):
            raise ValueError(
                f"descriptors: the atlas is projected from the representation "
                f"{record.get('name')!r}, not from MI-WD descriptors; use locate(models)"
            )
        self._check_locatable(placement)
        q = vectorize(descriptors)
        names = [str(i) for i in range(len(q))] if names is None else [str(n) for n in names]
        return self._locate_vectors(
            q, names, k, placement, self.descriptor_index(), self.descriptors, None
        )

    def _atlas_record(self) -> dict[str, Any]:
        """``attrs["representation"]`` (``{}`` for libraries projected before it existed)."""
        return dict(self.attrs.get("representation") or {})

    def _check_locatable(self, placement: str) -> None:
        from ..projection import PLACEMENTS

        if placement not in PLACEMENTS:
            raise ValueError(
                f"placement must be 'auto', 'transform' or 'neighbors', got {placement!r}"
            )
        if self.embedding is None:
            raise RuntimeError("the library is not projected: call project() first")
        if len(self) == 0:
            raise RuntimeError("the library holds no models")

    def _locate_vectors(
        self,
        q: np.ndarray,
        names: list[str],
        k: int,
        placement: str,
        index: DescriptorIndex,
        fitted_on: np.ndarray,
        rows: np.ndarray | None,
    ) -> pd.DataFrame:
        """Neighbours of queries ``q`` in ``index`` (built on ``fitted_on``, the vectors of
        library ``rows``; None: every row) and their atlas positions."""
        from ..projection import locate_table, place

        neighbor, distance = index.query(q, k)
        embedding = self.embedding if rows is None else self.embedding[rows]
        if placement == "transform" and self._projector is None:
            from ..projection import refit

            params = self.attrs.get("projection") or {}
            self._projector = refit(fitted_on, embedding, params)
        projector = self._projector if placement != "neighbors" else None
        xy = place(embedding, neighbor, distance, q, projector)
        neighbor = neighbor if rows is None else rows[neighbor]
        return locate_table(xy, neighbor, distance, names, self.metadata[ID].to_numpy())
