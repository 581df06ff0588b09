"""2-D projection of vectorized descriptors: the model atlas (paper, section 2.2).

UMAP (umap-learn) on the K = S*B dimensional descriptors, with a scikit-learn PCA
pre-reduction by default: UMAP's nearest-neighbour search and its optimization are much faster
on 50 dimensions than on 1024, and the leading principal components keep the neighbourhoods
(benchmarks/bench_projection.py measures both time and trustworthiness).

Locating new models in an atlas lives here too: their nearest library models in descriptor
space (:func:`nearest`) and their atlas position (:func:`place`), used by
``ModelLibrary.locate``. scikit-learn and umap are imported when first needed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.neighbors import NearestNeighbors
    from sklearn.pipeline import Pipeline

__all__ = ["project", "vectorize", "refit", "nearest", "place", "locate_table", "PLACEMENTS"]

#: How :meth:`ModelLibrary.locate` finds a query's atlas position.
PLACEMENTS = ("auto", "transform", "neighbors")

#: Below this many points UMAP's spectral initialization can fail (eigsh needs k < N), so a
#: random initialization is used instead.
SMALL_LIBRARY = 16


def vectorize(descriptors: Any) -> np.ndarray:
    """Descriptors (n, S, B) or already vectorized (n, K) as a C-contiguous (n, K) float32 array.

    Examples
    --------
    >>> vectorize(np.zeros((3, 4, 2))).shape
    (3, 8)
    """
    x = np.asarray(descriptors, dtype=np.float32)
    if x.ndim == 3:
        x = x.reshape(x.shape[0], -1)
    if x.ndim != 2:
        raise ValueError(f"descriptors must be (n, S, B) or (n, K), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("descriptors contain NaN or Inf values")
    return np.ascontiguousarray(x)


def project(
    descriptors: Any,
    method: Literal["umap", "pca"] = "umap",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    pca_components: int | None = 50,
    random_state: int | None = 0,
    metric: str = "euclidean",
) -> tuple[np.ndarray, Pipeline]:
    """Project descriptors to 2-D: the atlas coordinates and the fitted projection.

    Parameters
    ----------
    descriptors
        (n, S, B) descriptors or (n, K) vectors.
    method
        ``"umap"`` (the paper's choice) or ``"pca"`` (the first two principal components; fast,
        linear, for a quick look).
    n_neighbors, min_dist, metric
        UMAP parameters. ``n_neighbors`` is reduced to ``n - 1`` for tiny libraries.
    pca_components
        PCA pre-reduction before UMAP (default 50 components); ``None`` runs UMAP on the raw
        K-dimensional vectors. Clamped to ``min(n, K)``. Note that a non-euclidean ``metric``
        is then measured between principal-component vectors.
    random_state
        Seed for PCA and UMAP; with a seed UMAP is reproducible (and runs single-threaded).

    Returns
    -------
    embedding : numpy.ndarray
        (n, 2) float32 coordinates.
    model : sklearn.pipeline.Pipeline
        The fitted ``[("pca", PCA), ("umap", UMAP)]`` pipeline (PCA step ``"passthrough"``
        when disabled); ``model.transform(vectors)`` places new descriptors in the atlas.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> emb, model = project(rng.random((40, 4, 4)), method="pca")
    >>> emb.shape, emb.dtype
    ((40, 2), dtype('float32'))
    """
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline

    x = vectorize(descriptors)
    n, k = x.shape
    if method not in ("umap", "pca"):
        raise ValueError(f"method must be 'umap' or 'pca', got {method!r}")
    if n < 3:
        raise ValueError(f"a projection needs at least 3 models, got {n}")
    if pca_components is not None and (
        not isinstance(pca_components, (int, np.integer)) or pca_components < 2
    ):
        raise ValueError(f"pca_components must be an integer >= 2 or None, got {pca_components!r}")
    if method == "pca":
        model = Pipeline([("pca", PCA(n_components=2, random_state=random_state))])
    else:
        import umap  # lazily: importing umap compiles numba code and takes seconds

        if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 2:
            raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
        reducer = umap.UMAP(
            n_neighbors=int(min(n_neighbors, n - 1)),
            min_dist=min_dist,
            metric=metric,
            random_state=random_state,
            init="random" if n < SMALL_LIBRARY else "spectral",
        )
        pca: Any = "passthrough"
        if pca_components is not None and min(n, k) > pca_components:
            pca = PCA(n_components=int(pca_components), random_state=random_state)
        model = Pipeline([("pca", pca), ("umap", reducer)])
    with warnings.catch_warnings():
        # umap warns that a seed disables parallelism; that is the documented trade-off here.
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        embedding = model.fit_transform(x)
    return np.ascontiguousarray(embedding, dtype=np.float32), model


def refit(descriptors: np.ndarray, embedding: np.ndarray, params: Mapping[str, Any]) -> Pipeline:
    """Refit a saved projection from its parameters and check it reproduces ``embedding``.

    UMAP is deterministic with a seed, so the same parameters on the same descriptors give
    the same atlas; other umap-learn/numba versions may not, and then this says so.
    """
    if not params or params.get("random_state") is None:
        raise RuntimeError(
            "placement='transform' needs the fitted projection; this library was loaded "
            "without a seeded projection to refit, call project() first"
        )
    again, model = project(descriptors, **params)
    spread = float(np.ptp(embedding, axis=0).max()) or 1.0
    if np.abs(again - embedding).max() > 1e-3 * spread:
        raise RuntimeError(
            "refitting the projection with its saved parameters did not reproduce the "
            "saved atlas (other umap-learn/numba versions?); use placement='neighbors' "
            "or call project() again"
        )
    return model


def nearest(
    library: np.ndarray, queries: np.ndarray, k: int, index: NearestNeighbors | None = None
) -> tuple[np.ndarray, np.ndarray, NearestNeighbors]:
    """The ``k`` nearest library vectors of each query: (neighbor, distance, index).

    Euclidean distance between vectorized descriptors (scikit-learn ``NearestNeighbors``),
    recomputed exactly in float64 and re-ranked on it, so a library model finds itself at
    distance 0. ``index`` (returned for reuse) is fitted on ``library`` when not given.

    Examples
    --------
    >>> lib = np.eye(3, dtype=np.float32)
    >>> neighbor, distance, _ = nearest(lib, lib[[2]], k=2)
    >>> neighbor.tolist(), distance[0].tolist()
    ([[2, 0]], [0.0, 1.4142135623730951])
    """
    from sklearn.neighbors import NearestNeighbors

    if index is None:
        index = NearestNeighbors(metric="euclidean").fit(library)
    _, neighbor = index.kneighbors(queries, n_neighbors=k)
    # The search's float32 dot-product trick leaves ~1e-8 noise, so an identical model would
    # not come out at distance 0.
    diff = library[neighbor].astype(np.float64) - queries[:, None, :].astype(np.float64)
    distance = np.sqrt((diff * diff).sum(-1))
    order = np.argsort(distance, axis=1, kind="stable")
    return np.take_along_axis(neighbor, order, 1), np.take_along_axis(distance, order, 1), index


def place(
    embedding: np.ndarray,
    neighbor: np.ndarray,
    distance: np.ndarray,
    queries: np.ndarray,
    projector: Pipeline | None = None,
) -> np.ndarray:
    """Atlas positions (m, 2) of queries: the projector's transform, else their neighbours'.

    Without a projector, the inverse-distance weighted mean of the neighbours' positions
    (what UMAP's transform starts from before it optimizes); a library model lands on itself.

    Examples
    --------
    >>> emb = np.array([[0.0, 0.0], [4.0, 0.0]], np.float32)
    >>> place(emb, np.array([[0, 1]]), np.array([[1.0, 3.0]]), np.zeros((1, 2))).tolist()
    [[1.0, 0.0]]
    """
    if projector is not None:
        return np.asarray(projector.transform(queries), dtype=np.float32)
    w = 1.0 / np.maximum(distance, 1e-12)
    return ((w[..., None] * embedding[neighbor]).sum(1) / w.sum(1, keepdims=True)).astype(
        np.float32
    )


def locate_table(
    xy: np.ndarray,
    neighbor: np.ndarray,
    distance: np.ndarray,
    names: Sequence[str],
    ids: np.ndarray,
) -> pd.DataFrame:
    """One row per (query, neighbour): query, query_name, x, y, rank, neighbor, id, distance.

    Examples
    --------
    >>> t = locate_table(np.zeros((1, 2)), np.array([[1]]), np.array([[0.5]]), ["q"], np.array(["a", "b"]))
    >>> t[["query_name", "rank", "id", "distance"]].values.tolist()
    [['q', 1, 'b', 0.5]]
    """
    import pandas as pd

    m, k = neighbor.shape
    return pd.DataFrame(
        {
            "query": np.repeat(np.arange(m), k),
            "query_name": np.repeat(np.asarray(list(names), dtype=object), k),
            "x": np.repeat(xy[:, 0], k).astype(np.float32),
            "y": np.repeat(xy[:, 1], k).astype(np.float32),
            "rank": np.tile(np.arange(1, k + 1), m),
            "neighbor": neighbor.reshape(-1),
            "id": ids[neighbor.reshape(-1)],
            "distance": distance.reshape(-1),
        }
    )
