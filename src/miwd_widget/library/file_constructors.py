"""The ``ModelLibrary.from_*`` constructors of models in no particular layout.

Model files and folders (``from_files``), models in memory (``from_models``), descriptors
computed elsewhere (``from_dataframe``) and rows of large matrices, chunk by chunk
(``from_chunks``); see :mod:`.constructors` for what every constructor does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..descriptors.config import DescriptorConfig
from . import builders, storage
from .constructors import Library, LibraryConstructors
from .options import build_options, kernel_threads

__all__ = ["FileConstructors"]


class FileConstructors(LibraryConstructors):
    """The constructors of :class:`~miwd_widget.library.ModelLibrary` from model files and
    folders, in-memory models, a table of descriptors and chunks of large matrices."""

    @classmethod
    def from_files(
        cls: type[Library],
        paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike],
        metadata: pd.DataFrame | str | os.PathLike | None = None,
        on: str = "path",
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from model files.

        Parameters
        ----------
        paths_or_glob
            A path, directory (searched recursively for model files) or glob pattern, or a
            list of them.
        metadata
            Optional table (DataFrame, or a .csv/.tsv/.parquet path) joined to the files on
            ``on``: ``"path"`` (relative paths are relative to the table file's folder, or to
            the working directory for a DataFrame) or ``"id"`` (the file name without suffix).
            A table ``id`` column, when present, names the models.
        config, **options
            The descriptor parameters (``value_range="auto"``, the default: the pooled
            ``percentiles`` of all the library's weights; or a fixed ``(lo, hi)`` such as the
            paper's ``(-5, 5)``) and the worker options: ``n_jobs`` (joblib processes, -1: all
            cores, 1: this process), ``client`` (a ``dask.distributed.Client``),
            ``batch_size`` (files per task, default about 8 tasks per worker, at most 64 files
            each), ``progress`` (default: for more than 10 files).

        Returns
        -------
        ModelLibrary
            Rows in input order with ``id``, ``source`` (absolute path), the table's columns,
            ``n_params`` (weights read, unless the table has it) and ``accuracy_norm``.
            Files that failed are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_files("models/*.safetensors", S=16, n_jobs=4)  # doctest: +SKIP
        """
        config, runner = build_options("from_files", config, options)
        return cls.from_parts(builders.file_parts(paths_or_glob, metadata, on, config, runner))

    @classmethod
    def from_models(
        cls: type[Library],
        models: Any,
        metadata: pd.DataFrame | None = None,
        names: Sequence[str] | None = None,
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from in-memory models (arrays, dicts of arrays, torch modules).

        The models are described in this process: they are already in its memory and
        shipping them to worker processes would cost more than the histograms (``n_jobs``,
        ``client`` and ``batch_size`` do not apply).

        Parameters
        ----------
        models
            A list of models, or a dict name -> model. A dict whose values are arrays or
            tensors is one model (a state dict); name array models with ``names=``.
        metadata
            Optional table joined on its ``id`` column (the names), or row by row when it has
            no ``id`` column and one row per model.
        names
            Model ids (default: the dict keys, or ``model0``, ``model1``, ...).
        config, **options
            As in :meth:`from_files`.

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> rng = np.random.default_rng(0)
        >>> models = {f"m{i}": {"w": rng.normal(size=(16, 16))} for i in range(4)}
        >>> ModelLibrary.from_models(models, S=4, B=8)
        ModelLibrary(4 models, descriptors 4x8, not projected)
        """
        config, runner = build_options("from_models", config, options)
        return cls.from_parts(builders.model_parts(models, metadata, names, config, runner))

    @classmethod
    def from_dataframe(
        cls: type[Library],
        df: pd.DataFrame,
        descriptors: Any,
        value_range: tuple[float, float] | None = None,
        *,
        config: DescriptorConfig | None = None,
        embedding: np.ndarray | None = None,
        attrs: dict[str, Any] | None = None,
        clusters: Any = None,
        **options: Any,
    ) -> Library:
        """A library from a table and descriptors computed elsewhere.

        Parameters
        ----------
        df
            One row per model, in the descriptors' order. Without an ``id`` column, ids are
            made from the index when it is not the default 0..n-1 range, else ``"0"``,
            ``"1"``, ... . Ids must be unique. An ``accuracy_norm`` column is derived, as in
            the other constructors, when missing and a test-accuracy column is there.
        descriptors
            (n, S, B) array of finite numbers (e.g. from :func:`miwd_widget.describe`), or the
            name of a ``df`` column whose cells are (S, B) arrays (the column is dropped).
        value_range
            The histogram range the descriptors were computed with (needed to describe new
            models on the same grid; ``None`` if unknown).
        config, **options
            The other descriptor parameters they were computed with (default: their S and
            B); no worker options.
        embedding, attrs, clusters
            As in :class:`~miwd_widget.library.ModelLibrary`.

        Raises
        ------
        TypeError, ValueError
            Naming the argument: ``df`` not a DataFrame or with duplicate ids, descriptors
            of the wrong shape or length, not finite, a bad ``value_range``.

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> df = pd.DataFrame({"optimizer": ["adam", "sgd"]}, index=["m0", "m1"])
        >>> lib = ModelLibrary.from_dataframe(df, np.full((2, 4, 8), 1 / 8), value_range=(-1, 1))
        >>> lib, lib.metadata["id"].tolist()
        (ModelLibrary(2 models, descriptors 4x8, not projected), ['m0', 'm1'])
        """
        parts = builders.dataframe_parts(
            df,
            descriptors,
            value_range,
            config,
            options,
            embedding=embedding,
            attrs=attrs,
            clusters=clusters,
        )
        return cls.from_parts(parts)

    @classmethod
    def from_chunks(
        cls: type[Library],
        chunks: Iterable[Any],
        path: str | os.PathLike,
        *,
        config: DescriptorConfig | None = None,
        attrs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Library:
        """Build a large library chunk by chunk into ``path``, resumably, then load it.

        Each chunk's descriptors and metadata are written to ``<path>.parts/`` as soon as
        they are computed (memory holds one chunk); running the same call again after an
        interruption skips the finished chunks. The library is saved with its descriptors
        in a sidecar and loaded memory-mapped. See :mod:`miwd_widget.library.chunked`.

        Parameters
        ----------
        chunks
            Blocks of rows, one model per row: :func:`miwd_widget.library.chunked.matrix_chunks`
            of a ``.npy`` matrix, or :func:`miwd_widget.library.cnn_zoo.cnn_zoo_chunks`.
        path
            The library file to write.
        config, **options
            As in :meth:`from_files`, but ``n_jobs`` is the kernel's threads in this process
            (-1: all cores), ``client`` describes the chunks on its dask workers, and there
            is no ``batch_size`` (the chunks are the batches). ``threads=`` is the deprecated
            name of ``n_jobs``.
        attrs
            Library ``attrs`` to save.

        Examples
        --------
        >>> from miwd_widget.library.chunked import matrix_chunks
        >>> lib = ModelLibrary.from_chunks(matrix_chunks("w.npy"), "w.parquet")  # doctest: +SKIP
        """
        from .chunked import build_chunked

        config, runner = build_options("from_chunks", config, options)
        if runner.batch_size is not None:
            raise TypeError("from_chunks() takes no batch_size: the chunks are the batches")
        build_chunked(
            chunks,
            config,
            path,
            attrs=attrs,
            threads=kernel_threads(runner),
            client=runner.client,
            progress=runner.progress,
        )
        return cls.from_parts(storage.load(path))
