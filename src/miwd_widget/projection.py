"""2-D projection of vectorized descriptors: the model atlas (paper, section 2.2).

UMAP (umap-learn) on the K = S*B dimensional descriptors, with a scikit-learn PCA
pre-reduction by default: UMAP's nearest-neighbour search and its optimization are much faster
on 50 dimensions than on 1024, and the leading principal components keep the neighbourhoods
(benchmarks/bench_projection.py measures both time and trustworthiness).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline

__all__ = ["project", "vectorize"]

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
