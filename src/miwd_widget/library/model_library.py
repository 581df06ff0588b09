"""The :class:`ModelLibrary` facade: descriptors + metadata (+ atlas), row by row.

The work is done elsewhere: :mod:`.sources` (files, tables, zoos, NWS), :mod:`.build` (the
two passes over the models, run by :mod:`.executor`), :mod:`.storage` (Parquet),
:mod:`.summary` (selections) and :mod:`miwd_widget.projection` (atlas, locate).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._positions import as_positions
from ..columns import ID, SOURCE
from ..descriptors.config import DEFAULT_PERCENTILES, DEFAULT_VALUE_RANGE, DescriptorConfig

if TYPE_CHECKING:
    from ..descriptors.compute import DescriptorArray
from . import storage
from .build import accuracy_norm, build, errors_frame
from .compare import named_clusters
from .executor import Runner
from .sources import (
    Item,
    expand_paths,
    file_items,
    model_items,
    nws_items,
    nws_snapshots,
    read_table,
    zoo_items,
)
from .summary import SelectionSummary, summarize

__all__ = ["ModelLibrary"]

log = logging.getLogger(__name__)


def _build_options(kwargs: dict[str, Any]) -> tuple[DescriptorConfig, Runner]:
    """The keyword arguments of :meth:`ModelLibrary.from_files` (with its defaults) as
    a descriptor config and a runner, for the other file-based constructors."""
    defaults = {
        "S": 32,
        "B": 32,
        "value_range": DEFAULT_VALUE_RANGE,
        "percentiles": DEFAULT_PERCENTILES,
        "clip": False,
        "nan_policy": "raise",
        "n_jobs": -1,
        "client": None,
        "batch_size": None,
        "progress": None,
    }
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {unknown}")
    o = {**defaults, **kwargs}
    config = DescriptorConfig(
        o["S"], o["B"], o["value_range"], o["percentiles"], o["clip"], o["nan_policy"]
    )
    return config, Runner(o["n_jobs"], o["client"], False, o["batch_size"], o["progress"])


class ModelLibrary:
    """Descriptors of many models with their metadata, aligned row by row.

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
        The histogram range the descriptors were computed with.
    errors
        Models that could not be described: columns ``source`` and ``error``.
    attrs
        Library-level information saved with the library (e.g. the zoo's config under
        ``"zoo"``, the projection parameters under ``"projection"``).
    clusters
        Named clusters, saved with the library: see :attr:`clusters`.

    Examples
    --------
    >>> lib = ModelLibrary(np.zeros((3, 4, 4), np.float32), pd.DataFrame({"id": ["a", "b", "c"]}))
    >>> len(lib)
    3
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
    ) -> None:
        if isinstance(descriptors, storage.LazyDescriptors):
            # read on first use (ModelLibrary.load(path, descriptors=False))
            self._lazy_descriptors: Any = descriptors
            self._descriptors: np.ndarray | None = None
            self._shape = tuple(descriptors.shape)
        else:
            self.descriptors = descriptors
        n = self._shape[0]
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
        self.value_range = (
            None if value_range is None else (float(value_range[0]), float(value_range[1]))
        )
        self.errors = errors if errors is not None else errors_frame()
        self.attrs: dict[str, Any] = dict(attrs or {})
        self._projector: Any = None  # the fitted (PCA, UMAP) pipeline, not saved
        self._neighbors: Any = None  # NearestNeighbors over the vectorized descriptors
        self._descriptor_index: Any = None  # neighbors.DescriptorIndex, built on first use
        self.clusters = clusters

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
    def clusters(self) -> dict[str, np.ndarray]:
        """Named clusters: ``{name: sorted int64 row positions}`` (default ``{}``).

        Saved by :meth:`save` and restored by :meth:`load`; kept by :meth:`add` (new models
        are appended, so positions stay valid). Assigning validates: a mapping
        ``{name: positions or boolean mask}`` or one label per row (see
        :func:`miwd_widget.library.compare.as_clusters`); names become strings. Entries set
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

    @property
    def config(self) -> DescriptorConfig:
        """The descriptor parameters of this library (value range ``"auto"`` while empty).

        New models are described on it (:meth:`describe`, :meth:`add`, :meth:`locate`), so
        their descriptors stay comparable with the library's.
        """
        return DescriptorConfig(
            self.S if self.S else 32,
            self.B if self.B else 32,
            self.value_range if self.value_range is not None else "auto",
            tuple(self.attrs.get("percentiles") or DEFAULT_PERCENTILES),
            bool(self.attrs.get("clip", False)),
            str(self.attrs.get("nan_policy", "raise")),
        )

    # ----------------------------------------------------------------------------------
    # Building
    # ----------------------------------------------------------------------------------

    @classmethod
    def _from_items(
        cls,
        items: list[Item],
        config: DescriptorConfig,
        runner: Runner,
        errors: list[tuple[str, str]] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> ModelLibrary:
        built = build(items, config, runner, errors)
        meta = built.metadata
        if len(meta) == 0:
            meta = pd.DataFrame({ID: pd.Series([], dtype=object)})
        meta["accuracy_norm"] = accuracy_norm(meta)
        info = {
            "percentiles": list(config.percentiles) if config.is_auto else None,
            "clip": config.clip,
            "nan_policy": config.nan_policy,
            **(attrs or {}),
        }
        value_range = None if built.config is None else built.config.range
        return cls(
            built.descriptors,
            meta,
            value_range=value_range,
            errors=errors_frame(built.errors),
            attrs=info,
        )

    @classmethod
    def from_files(
        cls,
        paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike],
        metadata: pd.DataFrame | str | os.PathLike | None = None,
        on: str = "path",
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        n_jobs: int = -1,
        client: Any = None,
        *,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        nan_policy: str = "raise",
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> ModelLibrary:
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
        S, B
            Descriptor windows and bins.
        value_range
            ``"auto"`` (default): the pooled ``percentiles`` of all the library's weights,
            recorded in ``library.value_range``; or a fixed ``(lo, hi)`` such as the paper's
            ``(-5, 5)``.
        n_jobs
            joblib worker processes (-1: all cores; 1: in this process).
        client
            A ``dask.distributed.Client``: batches run on its cluster instead of joblib.
        percentiles, clip, nan_policy
            As in :func:`miwd_widget.describe`.
        batch_size
            Files per task (default: about 8 tasks per worker, at most 64 files each).
        progress
            Show progress bars (default: for more than 10 files).

        Returns
        -------
        ModelLibrary
            Rows in input order with ``id``, ``source`` (absolute path), the table's columns,
            ``n_params`` (weights read, unless the table has it) and ``accuracy_norm``.
            Files that failed are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_files("models/*.safetensors")  # doctest: +SKIP
        """
        config = DescriptorConfig(S, B, value_range, percentiles, clip, nan_policy)
        files = expand_paths(paths_or_glob, missing="keep")  # bad paths: recorded errors
        if not files:
            raise FileNotFoundError(f"{paths_or_glob}: no model files found")
        table, base = read_table(metadata)
        items = file_items(files, table, on, base)
        runner = Runner(n_jobs, client, batch_size=batch_size, progress=progress)
        return cls._from_items(items, config, runner)

    @classmethod
    def from_models(
        cls,
        models: Any,
        metadata: pd.DataFrame | None = None,
        names: Sequence[str] | None = None,
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        *,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        nan_policy: str = "raise",
        progress: bool | None = None,
        **ignored: Any,
    ) -> ModelLibrary:
        """Build a library from in-memory models (arrays, dicts of arrays, torch modules).

        The models are described in this process: they are already in its memory and
        shipping them to worker processes would cost more than the histograms (``n_jobs`` and
        ``client`` are accepted and ignored).

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
        S, B, value_range, percentiles, clip, nan_policy, progress
            As in :meth:`from_files`.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> models = {f"m{i}": {"w": rng.normal(size=(16, 16))} for i in range(4)}
        >>> ModelLibrary.from_models(models, S=4, B=8)
        ModelLibrary(4 models, descriptors 4x8, not projected)
        """
        config = DescriptorConfig(S, B, value_range, percentiles, clip, nan_policy)
        items = model_items(models, metadata, names)
        return cls._from_items(items, config, Runner(in_process=True, progress=progress))

    @classmethod
    def from_zoo(
        cls, zoo_dir: str | os.PathLike, snapshots: bool = False, **kwargs: Any
    ) -> ModelLibrary:
        """Build a library from a model zoo written by :mod:`miwd_widget.zoo`.

        Reads ``<zoo>/metadata.csv`` (one row per model, ``path`` relative to the zoo) and
        the model files it names; ``<zoo>/zoo.json`` is kept in ``library.attrs["zoo"]``.

        Parameters
        ----------
        zoo_dir
            The zoo's folder.
        snapshots
            One row per training snapshot instead of per model, from ``<zoo>/snapshots.csv``
            (``id`` such as ``"m00012@e003"``, ``model``, ``epoch`` (0 = initialization),
            ``path``, ``test_accuracy``, ``val_accuracy``, ``train_accuracy``, ``best``: the
            weights kept as the model), joined with the model's other metadata columns on
            ``model`` == metadata ``id``; the snapshot's own columns win.
        **kwargs
            As in :meth:`from_files` (``S``, ``B``, ``value_range``, ``n_jobs``, ...).

        Raises
        ------
        FileNotFoundError
            Not a zoo, or ``snapshots=True`` and the zoo has no ``snapshots.csv``.

        Examples
        --------
        >>> lib = ModelLibrary.from_zoo("zoos/zoo-2000")  # doctest: +SKIP
        >>> trajectories = ModelLibrary.from_zoo("zoos/zoo-2000", snapshots=True)  # doctest: +SKIP
        """
        config, runner = _build_options(kwargs)
        items, errors, zoo_config = zoo_items(zoo_dir, snapshots=snapshots)
        return cls._from_items(items, config, runner, errors=errors, attrs={"zoo": zoo_config})

    @classmethod
    def from_nws(
        cls,
        csv_path: str | os.PathLike,
        snapshot: int = 20,
        root: str | os.PathLike | None = None,
        snapshots: str | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> ModelLibrary:
        """Build a library from the NWS dataset's own layout (Eilertsen et al., ECAI 2020).

        Each CSV row is one net: hyper-parameter columns with integer codes (mapped to the
        names the project's zoo uses: optimizer adam/rmsprop/sgd_momentum, activation
        relu/elu/sigmoid/tanh, initialization constant/random_normal/glorot_uniform/
        glorot_normal; ``lrate`` is renamed ``lr``) and a ``path`` column with the net's
        folder, holding ``weights/001.bin`` ... ``weights/020.bin`` (raw float64 snapshots)
        and ``error.bin`` (float64 rows: step, train, validation, test, smoothed validation
        error in %). ``test_accuracy`` of snapshot k is
        ``1 - error[round(linspace(0, exports - 1, 20))[k - 1], 3] / 100``.

        Parameters
        ----------
        csv_path
            The NWS CSV (e.g. the test split of nws_main).
        snapshot
            Which of the 20 snapshots to describe (default 20: the converged model).
        root
            Folder the CSV's paths are relative to (default: the CSV's folder).
        snapshots
            ``"all"`` (or a list of snapshot numbers 1..20): one row per net and snapshot
            instead (training paths), id ``"<net>@s<k>"``, with ``model`` (the net),
            ``epoch`` (the exported epoch it was taken at, 0 = initialization: its row of
            error.bin), ``step`` and ``snapshot``. ``snapshot`` is then ignored.
        **kwargs
            As in :meth:`from_files`.

        A CSV row with a bad value (no path, an empty or non-integer ``weightn_conv`` or
        ``weightn_fc``) is recorded in ``library.errors``, naming the CSV and the row, and
        the other rows are built.

        Examples
        --------
        >>> lib = ModelLibrary.from_nws("nws/nws_main_test.csv")  # doctest: +SKIP
        >>> paths = ModelLibrary.from_nws("nws/nws_main_test.csv", snapshots="all")  # doctest: +SKIP
        """
        config, runner = _build_options(kwargs)
        items, errors = nws_items(csv_path, snapshot, root, snapshots=snapshots)
        attrs = {"nws": {"csv": str(csv_path), "snapshot": snapshot}}
        if snapshots is not None:
            attrs["nws"]["snapshots"] = nws_snapshots(snapshot, snapshots)
        return cls._from_items(items, config, runner, errors=errors, attrs=attrs)

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        descriptors: Any,
        value_range: tuple[float, float] | None = None,
        *,
        embedding: np.ndarray | None = None,
        attrs: dict[str, Any] | None = None,
        clusters: Any = None,
    ) -> ModelLibrary:
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
        embedding, attrs, clusters
            As in :class:`ModelLibrary`.

        Raises
        ------
        TypeError, ValueError
            Naming the argument: ``df`` not a DataFrame or with duplicate ids, descriptors
            of the wrong shape or length, not finite, a bad ``value_range``.

        Examples
        --------
        >>> df = pd.DataFrame({"optimizer": ["adam", "sgd"]}, index=["m0", "m1"])
        >>> lib = ModelLibrary.from_dataframe(df, np.full((2, 4, 8), 1 / 8), value_range=(-1, 1))
        >>> lib, lib.metadata["id"].tolist()
        (ModelLibrary(2 models, descriptors 4x8, not projected), ['m0', 'm1'])
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
        meta = df.copy()
        if isinstance(descriptors, str):
            if descriptors not in meta.columns:
                raise ValueError(f"descriptors: {descriptors!r} is not a column of df")
            try:
                d = np.stack([np.asarray(c, dtype=np.float64) for c in meta[descriptors]])
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"descriptors: the cells of column {descriptors!r} are not arrays of one "
                    f"shape ({exc})"
                ) from None
            meta = meta.drop(columns=[descriptors])
        else:
            try:
                d = np.asarray(descriptors, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"descriptors: not an array of numbers ({exc})") from None
        if d.ndim != 3:
            raise ValueError(f"descriptors: expected an (n, S, B) array, got shape {d.shape}")
        if len(d) != len(meta):
            raise ValueError(f"descriptors: {len(d)} descriptors for the {len(meta)} rows of df")
        bad = np.flatnonzero(~np.isfinite(d).all(axis=(1, 2)))
        if bad.size:
            raise ValueError(f"descriptors: NaN or Inf values in rows {bad[:10].tolist()}")
        if value_range is not None:
            try:
                lo, hi = (float(v) for v in value_range)
            except (TypeError, ValueError):
                raise ValueError(
                    f"value_range: expected (lo, hi) numbers, got {value_range!r}"
                ) from None
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ValueError(f"value_range: need finite lo < hi, got {value_range!r}")
            value_range = (lo, hi)
        if ID not in meta.columns:
            default_index = isinstance(meta.index, pd.RangeIndex) and meta.index.equals(
                pd.RangeIndex(len(meta))
            )
            ids = (
                [str(i) for i in range(len(meta))]
                if default_index
                else [str(i) for i in meta.index]
            )
            meta.insert(0, ID, ids)
        ids = meta[ID]
        if ids.isna().any() or ids.astype(str).duplicated().any():
            dup = ids[ids.astype(str).duplicated(keep=False) | ids.isna()].astype(str)
            raise ValueError(
                f"df: ids must be unique and present; repeated or missing: {sorted(set(dup))[:10]}"
            )
        meta = meta.reset_index(drop=True)
        if "accuracy_norm" not in meta.columns:
            norm = accuracy_norm(meta)
            if norm.notna().any():
                meta["accuracy_norm"] = norm
        return cls(
            d.astype(np.float32),
            meta,
            embedding=embedding,
            value_range=value_range,
            attrs=attrs,
            clusters=clusters,
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[Any],
        path: str | os.PathLike,
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        *,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        nan_policy: str = "raise",
        threads: int | None = None,
        client: Any = None,
        progress: bool | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> ModelLibrary:
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
        S, B, value_range, percentiles, clip, nan_policy
            As in :meth:`from_files`.
        threads
            Kernel threads in this process.
        client
            A ``dask.distributed.Client``: chunks are described on its workers.
        progress, attrs
            Progress bar; library ``attrs`` to save.

        Examples
        --------
        >>> from miwd_widget.library.chunked import matrix_chunks
        >>> lib = ModelLibrary.from_chunks(matrix_chunks("w.npy"), "w.parquet")  # doctest: +SKIP
        """
        from .chunked import build_chunked

        config = DescriptorConfig(S, B, value_range, percentiles, clip, nan_policy)
        build_chunked(
            chunks,
            config,
            path,
            library_class=cls,
            attrs=attrs,
            threads=threads,
            client=client,
            progress=progress,
        )
        return cls.load(path)

    @classmethod
    def from_cnn_zoo(
        cls,
        folder: str | os.PathLike,
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = DEFAULT_VALUE_RANGE,
        *,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        clip: bool = False,
        nan_policy: str = "raise",
        chunk_rows: int = 4096,
        threads: int | None = None,
        progress: bool | None = None,
    ) -> ModelLibrary:
        """Build a library from the Small CNN Zoo (Unterthiner et al. 2020), one row per
        checkpoint; see :mod:`miwd_widget.library.cnn_zoo` for the layout and its reading.

        Parameters
        ----------
        folder
            The zoo's root (every subfolder holding ``weights.npy``, ``metrics.csv.gz`` and
            ``layout.csv``: mnist, fashion_mnist, cifar10, svhn_cropped) or one dataset folder.
        S, B, value_range, percentiles, clip, nan_policy
            As in :meth:`from_files`; ``"auto"`` pools one vote per checkpoint.
        chunk_rows
            Rows of the memory-mapped matrix described at a time.
        threads
            Threads of the histogram kernel (default: numba's thread count).
        progress
            Show a progress bar (default: for more than 10 rows).

        Returns
        -------
        ModelLibrary
            Columns ``id`` (``"<dataset>/<row>"``), ``source`` (the ``weights.npy``),
            ``dataset``, ``model`` (the run, from ``modeldir``), ``epoch``, ``step``, the
            metrics' columns without their ``config.`` prefix (``learning_rate``,
            ``optimizer``, ..., ``test_accuracy``), ``n_params``, ``accuracy_norm``. Rows with
            NaN/Inf weights (``nan_policy="raise"``) are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_cnn_zoo("small-cnn-zoo/cifar10")  # doctest: +SKIP
        """
        from .cnn_zoo import build_cnn_zoo

        config = DescriptorConfig(S, B, value_range, percentiles, clip, nan_policy)
        return cls(**build_cnn_zoo(folder, config, chunk_rows, threads, progress))

    @classmethod
    def from_huggingface(
        cls,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        **kwargs: Any,
    ) -> ModelLibrary:
        """Build a library from Hugging Face model folders or the Hugging Face hub cache;
        see :mod:`miwd_widget.library.huggingface`.

        Nothing is executed: safetensors files are memory-mapped, ``.bin`` checkpoints are
        read with ``torch.load(weights_only=True)``, no ``transformers`` is needed.

        Parameters
        ----------
        paths
            A model folder (``config.json`` + ``model.safetensors``, sharded safetensors with
            their index, or ``pytorch_model.bin``), a hub cache root (e.g.
            ``~/.cache/huggingface/hub``), one ``models--ORG--NAME`` entry or snapshot, a
            folder of model folders, or a list of these.
        **kwargs
            As in :meth:`from_files` (``S``, ``B``, ``value_range``, ``n_jobs``, ...).

        Returns
        -------
        ModelLibrary
            One row per model folder or cache snapshot: ``id`` (the repository, with
            ``@revision`` when the cache holds several of it, else the folder name),
            ``source`` (the weight file), ``repo``, ``revision`` and ``ref`` for cache
            snapshots, and the scalar fields of ``config.json`` (``model_type``,
            ``architectures``, ``hidden_size``, ``num_hidden_layers``, ``torch_dtype``,
            ``vocab_size``, ...). Folders without weights are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_huggingface("~/.cache/huggingface/hub")  # doctest: +SKIP
        """
        from .huggingface import huggingface_items

        config, runner = _build_options(kwargs)
        if isinstance(paths, (str, os.PathLike)):
            paths = os.path.expanduser(paths)
            listed = [str(paths)]
        else:
            paths = [os.path.expanduser(p) for p in paths]
            listed = [str(p) for p in paths]
        items, errors = huggingface_items(paths)
        attrs = {"huggingface": {"paths": listed}}
        return cls._from_items(items, config, runner, errors=errors, attrs=attrs)

    # ----------------------------------------------------------------------------------
    # Adding, describing new models
    # ----------------------------------------------------------------------------------

    def add(
        self,
        paths_or_models: Any,
        metadata: pd.DataFrame | str | os.PathLike | None = None,
        on: str = "path",
        n_jobs: int = -1,
        client: Any = None,
        *,
        names: Sequence[str] | None = None,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> ModelLibrary:
        """Add models, computing descriptors only for those not in the library yet.

        Files whose absolute path is already a ``source`` (and in-memory models whose name is
        already an ``id``) are skipped. New descriptors use the library's S, B and
        ``value_range``, so they stay comparable. Failures are appended to ``errors``. A
        projected library loses its embedding (call :meth:`project` again).

        Returns
        -------
        ModelLibrary
            ``self``, for chaining.

        Examples
        --------
        >>> lib = ModelLibrary.load("lib.parquet").add("new_models/")  # doctest: +SKIP
        """
        is_files = isinstance(paths_or_models, (str, os.PathLike)) or (
            isinstance(paths_or_models, (list, tuple))
            and len(paths_or_models) > 0
            and all(isinstance(p, (str, os.PathLike)) for p in paths_or_models)
        )
        if is_files:
            known = (
                set(self.metadata[SOURCE].dropna().map(os.path.normcase))
                if (SOURCE in self.metadata.columns)
                else set()
            )
            found = expand_paths(paths_or_models, missing="keep")
            files = [f for f in found if os.path.normcase(os.path.abspath(f)) not in known]
            log.info(
                "add: %d file(s), %d already in the library", len(found), len(found) - len(files)
            )
            table, base = read_table(metadata)
            items = file_items(files, table, on, base)
            runner = Runner(n_jobs, client, batch_size=batch_size, progress=progress)
        else:
            table = metadata if isinstance(metadata, pd.DataFrame) else read_table(metadata)[0]
            items = model_items(paths_or_models, table, names)
            known_ids = set(self.metadata[ID].astype(str))
            items = [it for it in items if it.id not in known_ids]
            runner = Runner(in_process=True, progress=progress)
        if not items:
            return self
        built = build(items, self.config, runner)
        d, meta, errs = built.descriptors, built.metadata, built.errors
        lo_hi = None if built.config is None else built.config.range
        if self.value_range is None:
            self.value_range = lo_hi
        if errs:
            new_errors = errors_frame(errs)
            self.errors = (
                new_errors
                if len(self.errors) == 0
                else pd.concat([self.errors, new_errors], ignore_index=True)
            )
        if len(d) == 0:
            return self
        old = self.metadata.drop(columns=["accuracy_norm"], errors="ignore")
        merged = meta if len(old) == 0 else pd.concat([old, meta], ignore_index=True)
        merged["accuracy_norm"] = accuracy_norm(merged)
        self.descriptors = np.concatenate([self.descriptors, d]) if len(self) else d
        self.metadata = merged.reset_index(drop=True)
        if self.embedding is not None:
            warnings.warn(
                f"added {len(d)} models: the embedding was dropped, call project() again",
                stacklevel=2,
            )
        self.embedding = None
        self._projector = None
        self._neighbors = None
        self._descriptor_index = None
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

    # ----------------------------------------------------------------------------------
    # Saving and loading
    # ----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, descriptors: str = "auto") -> Path:
        """Save atomically (see :func:`miwd_widget.library.storage.save`).

        Layout: a Parquet file with the metadata columns and
        ``__miwd_atlas_x__``/``__miwd_atlas_y__`` when projected; the descriptors in it
        (``__miwd_descriptor__``, a fixed-size list of S*B float32 per row) or, for large
        libraries (``descriptors="auto"`` above 256 MB, or ``"sidecar"``), in a ``.npy``
        file next to it that :meth:`load` memory-maps. The schema metadata key ``miwd``
        holds JSON with the format version, S, B, value_range, the errors table and
        ``attrs``. A crash mid-write leaves any previous file intact.

        Returns
        -------
        pathlib.Path
            The written path.

        Examples
        --------
        >>> lib.save("lib.parquet")  # doctest: +SKIP
        """
        return storage.save(self, path, descriptors=descriptors)

    @classmethod
    def load(
        cls, path: str | os.PathLike, descriptors: bool = True, verify: bool | None = None
    ) -> ModelLibrary:
        """Load a library written by :meth:`save` (exact round trip), checking the file.

        Parameters
        ----------
        path
            The library's Parquet file.
        descriptors
            False: read the metadata (and atlas) columns only; the descriptors are read
            from the file when first used. Descriptors in a sidecar are memory-mapped.
        verify
            Check a descriptor sidecar's digest (default: up to 256 MB; see
            :func:`miwd_widget.library.storage.load`).

        The fitted projection is not stored: :meth:`locate` places new models by their
        nearest library models, or refits it with ``placement="transform"``.

        Examples
        --------
        >>> lib = ModelLibrary.load("lib.parquet")  # doctest: +SKIP
        >>> table = ModelLibrary.load("big.parquet", descriptors=False).metadata  # doctest: +SKIP
        """
        return cls(**storage.load(path, descriptors=descriptors, verify=verify))

    # ----------------------------------------------------------------------------------
    # Projection and placing new models
    # ----------------------------------------------------------------------------------

    def project(
        self,
        method: str = "umap",
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        pca_components: int | None = 50,
        random_state: int | None = 0,
        metric: str = "euclidean",
        *,
        fit_sample: int | None = None,
        sample_placement: str = "neighbors",
        backend: str = "umap-learn",
    ) -> ModelLibrary:
        """Project the descriptors to the 2-D atlas (sets ``embedding``); see
        :func:`miwd_widget.projection.project`.

        For large libraries, ``fit_sample=50_000`` fits on a random subsample and places
        the other rows by their nearest sample rows (``sample_placement``), in batches;
        ``backend="cuml"`` uses RAPIDS cuML's UMAP on a GPU (else umap-learn, with a warning).

        The parameters are recorded in ``attrs["projection"]`` (and saved), the fitted
        PCA + UMAP pipeline is kept for :meth:`locate`.

        Returns
        -------
        ModelLibrary
            ``self``, for chaining.

        Examples
        --------
        >>> lib.project(n_neighbors=30).embedding.shape  # doctest: +SKIP
        (2000, 2)
        """
        from ..projection import project

        params = dict(
            method=method,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            pca_components=pca_components,
            random_state=random_state,
            metric=metric,
        )
        if fit_sample is not None:
            params.update(fit_sample=fit_sample, sample_placement=sample_placement)
        if backend != "umap-learn":
            params["backend"] = backend
        self.embedding, self._projector = project(self.descriptors, **params)
        self.attrs["projection"] = params
        return self

    def _fitted_projector(self, refit: bool) -> Any:
        """The fitted projection; after :meth:`load`, refit (if ``refit``) and checked."""
        if self._projector is None and refit:
            from ..projection import refit as refit_projection

            self._projector = refit_projection(
                self.descriptors, self.embedding, self.attrs.get("projection") or {}
            )
        return self._projector

    def locate(self, models: Any, k: int = 5, placement: str = "auto") -> pd.DataFrame:
        """Place new (black-box) models in the atlas and find their nearest library models.

        The query descriptors are computed on the library's grid (S, B, value range).
        Neighbours are the k nearest library models in descriptor space: the euclidean
        distance between vectorized (S*B) descriptors (scikit-learn ``NearestNeighbors``,
        distances recomputed exactly in float64, so a library model finds itself at 0).

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

        d = self.describe(models)
        if is_single(models):
            d = d[None]
        names = list(d.names) if getattr(d, "names", None) else [str(i) for i in range(len(d))]
        return self.locate_descriptors(np.asarray(d), names, k=k, placement=placement)

    def locate_descriptors(
        self,
        descriptors: np.ndarray,
        names: Sequence[str] | None = None,
        k: int = 5,
        placement: str = "auto",
    ) -> pd.DataFrame:
        """:meth:`locate` for descriptors already computed on this library's grid.

        Examples
        --------
        >>> lib.locate_descriptors(lib.descriptors[:2], k=1)  # doctest: +SKIP
        """
        from ..projection import PLACEMENTS, locate_table, nearest, place, vectorize

        if placement not in PLACEMENTS:
            raise ValueError(
                f"placement must be 'auto', 'transform' or 'neighbors', got {placement!r}"
            )
        if self.embedding is None:
            raise RuntimeError("the library is not projected: call project() first")
        if len(self) == 0:
            raise RuntimeError("the library holds no models")
        q = vectorize(descriptors)
        if q.shape[1] != self.S * self.B:
            raise ValueError(
                f"descriptors have {q.shape[1]} values, the library's have {self.S * self.B}"
            )
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        names = [str(i) for i in range(len(q))] if names is None else [str(n) for n in names]
        k = min(int(k), len(self))
        neighbor, distance, self._neighbors = nearest(
            vectorize(self.descriptors), q, k, self._neighbors
        )
        projector = self._fitted_projector(refit=placement == "transform")
        xy = place(
            self.embedding, neighbor, distance, q, projector if placement != "neighbors" else None
        )
        return locate_table(xy, neighbor, distance, names, self.metadata[ID].to_numpy())

    # ----------------------------------------------------------------------------------
    # Selections
    # ----------------------------------------------------------------------------------

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

    # ----------------------------------------------------------------------------------
    # Clusters and neighbours
    # ----------------------------------------------------------------------------------

    def compare(
        self, clusters: Any = None, columns: Sequence[str] | None = None, accuracy: Any = None
    ) -> pd.DataFrame:
        """What characterizes each cluster (the paper's Figure 5), as a tidy table.

        See :func:`miwd_widget.library.compare.compare`: per cluster and hyper-parameter
        value, its count and share in the cluster and in the library, the lift, a one-sided
        Fisher test of over-representation (Mann-Whitney for numeric columns) with raw and
        Benjamini-Hochberg adjusted p-values. The accuracy distribution per cluster is
        :meth:`cluster_accuracy`; :func:`miwd_widget.evaluate.charts.compare_chart` draws both.

        Parameters
        ----------
        clusters
            ``{name: row positions}`` or one label per row; default :attr:`clusters`.
        columns
            Columns to compare (default: the hyper-parameter columns).
        accuracy
            Accuracy column also compared (default ``accuracy_norm`` / ``test_accuracy``);
            ``False`` for none.

        Examples
        --------
        >>> lib = ModelLibrary(np.zeros((4, 2, 2)), pd.DataFrame({"opt": list("aabb")}))
        >>> lib.compare({"A": [0, 1]})[["cluster", "value", "lift"]].values.tolist()
        [['A', 'a', 2.0], ['A', 'b', 0.0]]
        """
        from .compare import compare

        return compare(
            self.metadata, self.clusters if clusters is None else clusters, columns, accuracy
        )

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

        return cluster_accuracy(
            self.metadata, self.clusters if clusters is None else clusters, accuracy
        )

    def descriptor_index(self) -> Any:
        """The kNN index over the flattened descriptors, built on first use and kept until
        :meth:`add` (or a new ``descriptors`` array); see
        :class:`miwd_widget.library.neighbors.DescriptorIndex` (exact, brute force)."""
        from .neighbors import DescriptorIndex

        index = self._descriptor_index
        if index is None or index.source is not self.descriptors:
            index = self._descriptor_index = DescriptorIndex(self.descriptors)
        return index

    def neighbor_positions(self, row: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Row positions (int64) and distances (float32) of the ``k`` models nearest to
        ``row`` in descriptor space, nearest first, ``row`` itself excluded.

        Examples
        --------
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
        >>> lib = ModelLibrary(np.arange(4.0).reshape(4, 1, 1))
        >>> lib.neighbors(3, k=2)[["rank", "distance", "id"]].values.tolist()
        [[1, 1.0, '2'], [2, 2.0, '1']]
        """
        rows, distances = self.neighbor_positions(row, k)
        out = self.metadata.iloc[rows].drop(columns=["rank", "distance"], errors="ignore")
        out.insert(0, "distance", distances)
        out.insert(0, "rank", np.arange(1, len(rows) + 1))
        return out
