"""2-D projection of vectorized descriptors: the model atlas (paper, section 2.2).

UMAP (umap-learn) on the K = S*B dimensional descriptors, with a scikit-learn PCA
pre-reduction by default: UMAP's nearest-neighbour search and its optimization are much faster
on 50 dimensions than on 1024, and the leading principal components keep the neighbourhoods
(benchmarks/bench_projection.py measures both time and trustworthiness).

Large libraries (``fit_sample=``): the projection is fitted on a random subsample and the
other rows are placed in batches, by their nearest fitted rows in the reduced space
(``sample_placement="neighbors"``, the inverse-distance weighted mean of their atlas positions)
or by UMAP's own ``transform``; descriptors are read batch by batch, so a memory-mapped
1,000,000 x 1024 matrix is never copied whole. ``backend="cuml"`` runs RAPIDS cuML's UMAP
where cuML and a GPU are present, and otherwise falls back to umap-learn with a warning.

Placing new models in an atlas lives here too: their atlas position from their nearest
library models (:func:`place`; the neighbours come from
:class:`miwd_widget.library.neighbors.DescriptorIndex`), used by ``ModelLibrary.locate``.
scikit-learn and umap are imported when first needed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = [
    "project",
    "vectorize",
    "refit",
    "place",
    "locate_table",
    "PLACEMENTS",
    "BACKENDS",
]

#: How :meth:`ModelLibrary.locate` finds a query's atlas position.
PLACEMENTS = ("auto", "transform", "neighbors")

#: Where UMAP runs: umap-learn on the CPU, or RAPIDS cuML on a GPU.
BACKENDS = ("umap-learn", "cuml")

#: How rows outside ``fit_sample`` are placed.
SAMPLE_PLACEMENTS = ("neighbors", "transform")

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
    *,
    fit_sample: int | None = None,
    sample_placement: str = "neighbors",
    batch_size: int = 65536,
    backend: str = "umap-learn",
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
    fit_sample
        Fit on this many rows drawn at random (seeded by ``random_state``) when there are
        more, and place the others in batches: for a million rows (benchmarks/
        bench_projection.py ``--scale`` measures time and trustworthiness against a full fit).
    sample_placement
        How rows outside the sample are placed: ``"neighbors"`` (default; the
        inverse-distance weighted mean of the atlas positions of their ``n_neighbors``
        nearest sample rows in the reduced space; fast) or ``"transform"`` (UMAP's
        ``transform``, which also optimizes each point; about 20x slower).
    batch_size
        Rows read, reduced and placed at a time (bounds the extra memory).
    backend
        ``"umap-learn"`` or ``"cuml"`` (RAPIDS cuML's UMAP on a GPU; if cuML or a GPU is
        missing, a RuntimeWarning says so and umap-learn runs instead).

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
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if sample_placement not in SAMPLE_PLACEMENTS:
        raise ValueError(
            f"sample_placement must be one of {SAMPLE_PLACEMENTS}, got {sample_placement!r}"
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n_rows = len(descriptors)
    if fit_sample is not None:
        if not isinstance(fit_sample, (int, np.integer)) or fit_sample < 3:
            raise ValueError(f"fit_sample must be an integer >= 3 or None, got {fit_sample!r}")
        if n_rows > fit_sample:
            return _project_sampled(
                descriptors,
                int(fit_sample),
                sample_placement,
                int(batch_size),
                dict(
                    method=method,
                    n_neighbors=n_neighbors,
                    min_dist=min_dist,
                    pca_components=pca_components,
                    random_state=random_state,
                    metric=metric,
                    backend=backend,
                ),
            )
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
        if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 2:
            raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
        umap_class = _umap_class(backend)
        reducer = umap_class(
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


def _umap_class(backend: str) -> Any:
    """The UMAP estimator class of ``backend`` (umap-learn's when cuML cannot run here)."""
    if backend == "cuml":
        try:
            import cupy
            from cuml.manifold import UMAP as CumlUMAP  # noqa: N811

            devices = int(cupy.cuda.runtime.getDeviceCount())
        except Exception as exc:  # noqa: BLE001 - not installed, no CUDA driver, ...
            reason = f"cuML is not usable here ({type(exc).__name__}: {exc})"
        else:
            if devices > 0:
                return CumlUMAP
            reason = "no GPU was found"
        warnings.warn(
            f"backend='cuml': {reason}; projecting with umap-learn on the CPU instead",
            RuntimeWarning,
            stacklevel=3,
        )
    import umap  # lazily: importing umap compiles numba code and takes seconds

    return umap.UMAP


def _project_sampled(
    descriptors: Any, fit_sample: int, placement: str, batch_size: int, params: dict[str, Any]
) -> tuple[np.ndarray, Pipeline]:
    """Fit on ``fit_sample`` random rows, then place the other rows batch by batch."""
    n = len(descriptors)
    rng = np.random.default_rng(params["random_state"])
    sample = np.sort(rng.choice(n, size=fit_sample, replace=False))
    fitted_embedding, model = project(np.asarray(descriptors[sample]), **params)
    out = np.empty((n, 2), np.float32)
    out[sample] = fitted_embedding
    rest = np.ones(n, bool)
    rest[sample] = False
    rest_rows = np.flatnonzero(rest)
    if params["method"] == "pca" or placement == "transform":
        for a in range(0, len(rest_rows), batch_size):
            rows = rest_rows[a : a + batch_size]
            out[rows] = model.transform(vectorize(descriptors[rows]))
        return out, model
    reduce = model.named_steps["pca"]
    reduced_fit = _reduce(reduce, vectorize(descriptors[sample]))
    reducer = model.named_steps["umap"]
    k = int(min(reducer.n_neighbors, fit_sample))
    index = getattr(reducer, "_knn_search_index", None)  # umap-learn's NN-descent index
    if index is None or params["metric"] != "euclidean":
        from sklearn.neighbors import NearestNeighbors

        index = NearestNeighbors(metric=params["metric"]).fit(reduced_fit)
    for a in range(0, len(rest_rows), batch_size):
        rows = rest_rows[a : a + batch_size]
        q = _reduce(reduce, vectorize(descriptors[rows]))
        if hasattr(index, "kneighbors"):
            distance, neighbor = index.kneighbors(q, n_neighbors=k)
        else:
            neighbor, distance = index.query(q, k=k)
        out[rows] = place(fitted_embedding, neighbor, distance, q)
    return out, model


def _reduce(step: Any, x: np.ndarray) -> np.ndarray:
    return x if isinstance(step, str) else np.ascontiguousarray(step.transform(x), np.float32)


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
