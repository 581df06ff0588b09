"""The :class:`ModelLibrary` facade: descriptors + metadata (+ atlas), row by row.

The work is done elsewhere: :mod:`.builders`, :mod:`.chunked` and :mod:`.cnn_zoo` build a
library's :class:`~.parts.LibraryParts` (on the options of :mod:`.options`), :mod:`.storage`
saves and loads them, :mod:`.summary` and :mod:`.compare` describe selections and clusters,
:mod:`.neighbors` finds nearest models and :mod:`.atlas_projection` lays out the atlas
and places new models in it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._positions import as_positions
from ..descriptors.config import DescriptorConfig
from . import builders, storage
from .atlas_projection import AtlasProjection
from .build import errors_frame
from .clusters import named_clusters
from .file_constructors import FileConstructors
from .hub_constructors import HubConstructors
from .neighbors import DescriptorIndex, NearestModels
from .options import build_options
from .parts import LibraryParts
from .summary import SelectionSummary, summarize
from .zoo_constructors import ZooConstructors

if TYPE_CHECKING:
    from ..descriptors.compute import DescriptorArray
    from .atlas_space import AtlasSpace

__all__ = ["ModelLibrary"]


class ModelLibrary(
    FileConstructors, ZooConstructors, HubConstructors, NearestModels, AtlasProjection
):
    """Descriptors of many models with their metadata, aligned row by row.

    Every ``from_*`` constructor takes ``config=`` (a
    :class:`~miwd_widget.descriptors.config.DescriptorConfig`) and its keyword shortcuts
    ``S``, ``B``, ``value_range`` (default ``"auto"``: pooled percentiles of the library's
    weights), ``percentiles``, ``clip``, ``nan_policy``; those that describe models also
    take the worker options ``n_jobs``, ``client``, ``batch_size``, ``progress``. An unknown
    keyword is a TypeError naming the valid ones (see :mod:`miwd_widget.library.options`).

    Parameters
    ----------
    descriptors
        (n, S, B) float32 MI-WD descriptors.
    metadata
        One row per model (column ``id`` at least); reset to a 0..n-1 RangeIndex so that
        row positions, DataFrame index and widget selection indices are the same thing.
    embedding
        Optional (n, 2) float32 atlas coordinates.
    value_range
        The histogram range the descriptors were computed with (replaces ``config``'s).
    errors
        Models that could not be described: columns ``source`` and ``error``.
    attrs
        Library-level information saved with the library (e.g. the zoo's config under
        ``"zoo"``, the projection parameters under ``"projection"``).
    clusters
        Named clusters, saved with the library: see :attr:`clusters`.
    config
        The descriptor parameters (default: the descriptors' S and B, ``value_range``).

    Examples
    --------
    >>> lib = ModelLibrary(np.zeros((3, 4, 4), np.float32), pd.DataFrame({"id": ["a", "b", "c"]}))
    >>> len(lib), lib.config.S, lib.value_range
    (3, 4, None)
    """

    def __init__(
        self,
        descriptors: np.ndarray,
        metadata: pd.DataFrame | None = None,
        embedding: np.ndarray | None = None,
        value_range: tuple[float, float] | None = None,
        errors: pd.DataFrame | None = None,
        attrs: dict[str, Any] | None = None,
        clusters: Any = None,
        *,
        config: DescriptorConfig | None = None,
    ) -> None:
        if isinstance(descriptors, storage.LazyDescriptors):  # load(path, descriptors=False)
            self._lazy_descriptors: Any = descriptors
            self._descriptors: np.ndarray | None = None
            self._shape = tuple(descriptors.shape)
            self._reset_caches()
        else:
            self.descriptors = descriptors
        n, S, B = self._shape
        config = config or DescriptorConfig(S=S or 32, B=B or 32)
        if S and B and (S, B) != (config.S, config.B):
            raise ValueError(f"config has S={config.S}, B={config.B}; descriptors are {S}x{B}")
        self._config = config if value_range is None else config.with_range(value_range)
        if metadata is None:
            metadata = pd.DataFrame({"id": [str(i) for i in range(n)]})
        if len(metadata) != n:
            raise ValueError(f"metadata has {len(metadata)} rows but there are {n} descriptors")
        self.metadata = metadata.reset_index(drop=True)
        if "id" not in self.metadata.columns:
            self.metadata.insert(0, "id", [str(i) for i in range(n)])
        self.embedding = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        if self.embedding is not None and self.embedding.shape != (n, 2):
            raise ValueError(f"embedding must be ({n}, 2), got {self.embedding.shape}")
        self.errors = errors if errors is not None else errors_frame()
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.clusters = clusters

    def _reset_caches(self) -> None:
        """Forget what was computed from the descriptors: new descriptors, new caches."""
        self._projector: Any = None  # the fitted (PCA, UMAP) pipeline, not saved
        self._index: DescriptorIndex | None = None  # built on first use
        self._space: AtlasSpace | None = None  # the atlas' representation, when not MI-WD

    @property
    def descriptors(self) -> np.ndarray:
        """(n, S, B) float32 descriptors (a read-only memory map for large saved libraries;
        after ``load(path, descriptors=False)`` read from the file on first use)."""
        if self._descriptors is None:
            d = self._lazy_descriptors.load()
            if d.shape != self._shape:
                raise ValueError(f"descriptors have shape {d.shape}, expected {self._shape}")
            self._descriptors, self._lazy_descriptors = d, None
        return self._descriptors

    @descriptors.setter
    def descriptors(self, value: np.ndarray) -> None:
        d = np.asarray(value, dtype=np.float32)  # a float32 memory map stays one
        if d.ndim != 3:
            raise ValueError(f"descriptors must be (n, S, B), got shape {d.shape}")
        self._descriptors, self._lazy_descriptors, self._shape = d, None, d.shape
        self._reset_caches()
        if hasattr(self, "_config") and min(d.shape[1:]) > 0:  # a new grid: the config's S, B
            self._config = replace(self._config, S=d.shape[1], B=d.shape[2])

    def __len__(self) -> int:
        return int(self._shape[0])

    def __repr__(self) -> str:
        n, s, b = self._shape
        proj = "projected" if self.embedding is not None else "not projected"
        failed = f", {len(self.errors)} failed" if len(self.errors) else ""
        return f"ModelLibrary({n} models, descriptors {s}x{b}, {proj}{failed})"

    @property
    def S(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of windows (descriptor rows)."""
        return int(self._shape[1])

    @property
    def B(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of histogram bins (descriptor columns)."""
        return int(self._shape[2])

    @property
    def config(self) -> DescriptorConfig:
        """The descriptor parameters of this library (value range ``"auto"`` while unknown).

        New models are described on it (:meth:`describe`, :meth:`add`, :meth:`locate`), so
        their descriptors stay comparable with the library's.
        """
        return self._config

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The histogram range of the descriptors (None while unknown, e.g. empty)."""
        return None if self._config.is_auto else self._config.range

    @value_range.setter
    def value_range(self, value: tuple[float, float] | None) -> None:
        self._config = self._config.with_range("auto" if value is None else value)

    @property
    def clusters(self) -> dict[str, np.ndarray]:
        """Named clusters: ``{name: sorted int64 row positions}`` (default ``{}``).

        Saved by :meth:`save` and restored by :meth:`load`; kept by :meth:`add` (new models
        are appended, so positions stay valid). Assigning validates: a mapping
        ``{name: positions or boolean mask}`` or one label per row (see
        :func:`miwd_widget.library.clusters.as_clusters`); names become strings. Entries set
        directly in the dict are validated when saved.

        Examples
        --------
        >>> lib = ModelLibrary(np.zeros((4, 2, 2)))
        >>> lib.clusters = {"A": [3, 1, 1]}
        >>> lib.clusters["A"].tolist()
        [1, 3]
        """
        return self._clusters

    @clusters.setter
    def clusters(self, value: Any) -> None:
        self._clusters = named_clusters(value, len(self))

    def parts(self) -> LibraryParts:
        """This library as :class:`~.parts.LibraryParts` (the same arrays, not copies)."""
        d = self._descriptors if self._descriptors is not None else self._lazy_descriptors
        return LibraryParts(
            d, self.metadata, self.config, self.embedding, self.errors, self.clusters, self.attrs
        )

    def add(
        self,
        paths_or_models: Any,
        metadata: pd.DataFrame | str | os.PathLike | None = None,
        on: str = "path",
        *,
        names: Sequence[str] | None = None,
        **options: Any,
    ) -> ModelLibrary:
        """Add models on the library's config, describing only those not in it yet (files by
        ``source``, in-memory models by ``id``); worker options as in the constructors.
        Failures are appended to ``errors``; new rows drop the embedding (with a warning).

        Examples
        --------
        >>> lib = ModelLibrary.load("lib.parquet").add("new_models/")  # doctest: +SKIP
        """
        runner = build_options("add", None, options, descriptor_options=False)[1]
        items, runner = builders.new_items(
            self.metadata, paths_or_models, metadata, on, names, runner
        )
        if items:
            new = builders.item_parts(items, self.config, runner)
            parts = builders.appended(self.parts(), new)
            if len(new.descriptors):
                self.descriptors = parts.descriptors  # and resets the caches
            self.metadata, self.embedding = parts.metadata, parts.embedding
            self._config, self.errors = parts.config, parts.errors
        return self

    def describe(self, models: Any) -> DescriptorArray:
        """Descriptors of new models on this library's grid (same S, B, value range).

        Examples
        --------
        >>> lib.describe("new_model.safetensors").shape  # doctest: +SKIP
        (32, 32)
        """
        from ..descriptors import describe

        if self.value_range is None:
            raise ValueError("the library has no value_range yet (it holds no models)")
        c = self.config
        return describe(
            models, c.S, c.B, c.value_range, c.clip, nan_policy=c.nan_policy, progress=False
        )

    def save(self, path: str | os.PathLike, descriptors: str = "auto") -> Path:
        """Save atomically to a Parquet file (descriptors inline, or in a memory-mappable
        ``.npy`` sidecar above 256 MB or with ``"sidecar"``); see :func:`.storage.save`.

        Examples
        --------
        >>> lib.save("lib.parquet")  # doctest: +SKIP
        """
        return storage.save(self.parts(), path, descriptors=descriptors)

    @classmethod
    def load(
        cls, path: str | os.PathLike, descriptors: bool = True, verify: bool | None = None
    ) -> ModelLibrary:
        """Load a library written by :meth:`save` (exact round trip, checked); with
        ``descriptors=False`` they are read on first use; see :func:`.storage.load`.

        Examples
        --------
        >>> table = ModelLibrary.load("big.parquet", descriptors=False).metadata  # doctest: +SKIP
        """
        return cls.from_parts(storage.load(path, descriptors=descriptors, verify=verify))

    def summarize(self, indices: Any, quantiles: int = 4) -> SelectionSummary:
        """Mean and standard deviation descriptors of a selection and its characteristic values.

        Characteristic values are hyper-parameter values over-represented in the selection:
        ``lift = share_selection / share_library > 1``, sorted by lift (then by share).
        Categorical, boolean and text columns, and numeric columns with at most 12 distinct
        values, are compared value by value; other numeric columns (learning rate,
        accuracies, parameter counts) by the library's ``quantiles`` bins (quartiles by
        default), reported as interval labels such as ``"(0.25, 0.5]"``. Identifier columns
        (:data:`miwd_widget.columns.IDENTIFIER_COLUMNS`: id, source, path, seed, ...) are
        left out.

        Parameters
        ----------
        indices
            Row positions (duplicates ignored) or a boolean mask.
        quantiles
            Bins for continuous numeric columns.

        Returns
        -------
        SelectionSummary
            ``mean`` and ``std`` (population std) as (S, B) DataFrames (index ``window``,
            columns ``bin``), ``characteristic`` with columns column, value, share_selection,
            share_library, lift; ``n`` selected models. An empty selection gives NaN
            descriptors and no characteristic values.

        Raises
        ------
        IndexError
            Indices out of range (named in the message) or not integers.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> lib = ModelLibrary(rng.random((4, 2, 3)), pd.DataFrame({"opt": list("aabb")}))
        >>> s = lib.summarize([0, 1])
        >>> s.characteristic[["column", "value", "lift"]].values.tolist()
        [['opt', 'a', 2.0]]
        """
        idx = as_positions(indices, len(self))
        return summarize(self.descriptors, self.metadata, idx, quantiles)

    def compare(
        self, clusters: Any = None, columns: Sequence[str] | None = None, accuracy: Any = None
    ) -> pd.DataFrame:
        """What characterizes each cluster (default :attr:`clusters`; the paper's Figure 5):
        per cluster and hyper-parameter value, counts, shares, lift and an
        over-representation test; see :func:`miwd_widget.library.compare.compare`.

        Examples
        --------
        >>> lib = ModelLibrary(np.zeros((4, 2, 2)), pd.DataFrame({"opt": list("aabb")}))
        >>> lib.compare({"A": [0, 1]})[["cluster", "value", "lift"]].values.tolist()
        [['A', 'a', 2.0], ['A', 'b', 0.0]]
        """
        from .compare import compare

        clusters = self.clusters if clusters is None else clusters
        return compare(self.metadata, clusters, columns, accuracy)

    def cluster_accuracy(self, clusters: Any = None, accuracy: str | None = None) -> pd.DataFrame:
        """Each cluster's accuracy distribution (count, mean, std, quartiles); see
        :func:`miwd_widget.library.compare.cluster_accuracy`. Default clusters: :attr:`clusters`.

        Examples
        --------
        >>> lib = ModelLibrary(np.zeros((3, 2, 2)), pd.DataFrame({"test_accuracy": [0.2, 0.4, 0.9]}))
        >>> lib.cluster_accuracy({"A": [0, 1]})["mean"].round(3).tolist()
        [0.3]
        """
        from .compare import cluster_accuracy

        clusters = self.clusters if clusters is None else clusters
        return cluster_accuracy(self.metadata, clusters, accuracy)
