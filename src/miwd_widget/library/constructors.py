"""The ``ModelLibrary.from_*`` constructors: a builder's parts, then ``from_parts``.

:class:`LibraryConstructors` is the base class of
:class:`~miwd_widget.library.ModelLibrary` that holds its classmethod constructors, kept
apart from the library's instance API. Each one checks its options in one place
(:func:`.options.build_options`: ``config=``, the keyword shortcuts ``S``, ``B``,
``value_range``, ``percentiles``, ``clip``, ``nan_policy`` and the worker options
``n_jobs``, ``client``, ``batch_size``, ``progress``; an unknown keyword is a TypeError
naming the valid ones), runs a builder (:mod:`.builders`, :mod:`.chunked`, :mod:`.cnn_zoo`, :mod:`.model_zoos`)
and makes the library of its :class:`~.parts.LibraryParts`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..descriptors.config import DescriptorConfig
from . import builders, storage
from .options import build_options, kernel_threads
from .parts import LibraryParts

__all__ = ["LibraryConstructors"]

Library = TypeVar("Library", bound="LibraryConstructors")


class LibraryConstructors:
    """The classmethod constructors of :class:`~miwd_widget.library.ModelLibrary`.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> ModelLibrary.from_models([np.arange(64.0)], S=4, B=4, bins=4)
    Traceback (most recent call last):
    ...
    TypeError: from_models() got an unexpected keyword argument 'bins'; valid: config, S, B, value_range, percentiles, clip, nan_policy, n_jobs, client, batch_size, progress
    """

    @classmethod
    def from_parts(cls: type[Library], parts: LibraryParts) -> Library:
        """A library of ``parts`` (what builders and :func:`.storage.load` return).

        Examples
        --------
        >>> from miwd_widget.library import ModelLibrary
        >>> ModelLibrary.from_parts(ModelLibrary(np.zeros((2, 3, 4))).parts())
        ModelLibrary(2 models, descriptors 3x4, not projected)
        """
        return cls(  # type: ignore[call-arg]
            parts.descriptors,
            parts.metadata,
            parts.embedding,
            errors=parts.errors,
            attrs=parts.attrs,
            clusters=parts.clusters,
            config=parts.config,
        )

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
    def from_zoo(
        cls: type[Library],
        zoo_dir: str | os.PathLike,
        snapshots: bool = False,
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
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
        config, **options
            As in :meth:`from_files`.

        Raises
        ------
        FileNotFoundError
            Not a zoo, or ``snapshots=True`` and the zoo has no ``snapshots.csv``.

        Examples
        --------
        >>> lib = ModelLibrary.from_zoo("zoos/zoo-2000")  # doctest: +SKIP
        >>> trajectories = ModelLibrary.from_zoo("zoos/zoo-2000", snapshots=True)  # doctest: +SKIP
        """
        config, runner = build_options("from_zoo", config, options)
        return cls.from_parts(builders.zoo_parts(zoo_dir, snapshots, config, runner))

    @classmethod
    def from_nws(
        cls: type[Library],
        csv_path: str | os.PathLike,
        snapshot: int = 20,
        root: str | os.PathLike | None = None,
        snapshots: str | Sequence[int] | None = None,
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
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
        config, **options
            As in :meth:`from_files`.

        A CSV row with a bad value (no path, an empty or non-integer ``weightn_conv`` or
        ``weightn_fc``) is recorded in ``library.errors``, naming the CSV and the row, and
        the other rows are built.

        Examples
        --------
        >>> lib = ModelLibrary.from_nws("nws/nws_main_test.csv")  # doctest: +SKIP
        >>> paths = ModelLibrary.from_nws("nws/nws_main_test.csv", snapshots="all")  # doctest: +SKIP
        """
        config, runner = build_options("from_nws", config, options)
        parts = builders.nws_parts(csv_path, snapshot, root, snapshots, config, runner)
        return cls.from_parts(parts)

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

    @classmethod
    def from_cnn_zoo(
        cls: type[Library],
        folder: str | os.PathLike,
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from the Small CNN Zoo (Unterthiner et al. 2020), one row per
        checkpoint; see :mod:`miwd_widget.library.cnn_zoo` for the layout and its reading.

        Parameters
        ----------
        folder
            The zoo's root (every subfolder holding ``weights.npy``, ``metrics.csv.gz`` and
            ``layout.csv``: mnist, fashion_mnist, cifar10, svhn_cropped) or one dataset folder.
        config, **options
            As in :meth:`from_files` (``"auto"`` pools one vote per checkpoint), described
            in this process: ``n_jobs`` is the kernel's threads (-1: all cores),
            ``batch_size`` the rows of the memory-mapped matrix described at a time (default
            4096); no ``client`` (on dask: ``from_chunks(cnn_zoo_chunks(folder), path,
            client=...)``). ``threads=`` and ``chunk_rows=`` are the deprecated names of
            ``n_jobs`` and ``batch_size``.

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
        from .cnn_zoo import DEFAULT_CHUNK_ROWS, build_cnn_zoo

        config, runner = build_options("from_cnn_zoo", config, options)
        if runner.client is not None:
            raise ValueError(
                "from_cnn_zoo() describes in this process; on a dask cluster use "
                "from_chunks(cnn_zoo_chunks(folder), path, client=client)"
            )
        rows = runner.batch_size or DEFAULT_CHUNK_ROWS
        parts = build_cnn_zoo(folder, config, rows, kernel_threads(runner), runner.progress)
        return cls.from_parts(parts)

    @classmethod
    def from_model_zoos(
        cls: type[Library],
        path: str | os.PathLike,
        snapshots: str | int | Sequence[int] = "last",
        *,
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from the Model Zoos collection (Schürholt et al., NeurIPS 2022):
        a zoo folder or a folder of zoos; see :mod:`miwd_widget.library.model_zoos`.

        Each ray-tune trial folder is one model; its ``checkpoint_<e>/checkpoints`` files
        (padded or not) are read with ``torch.load(weights_only=True)`` in the worker
        processes, ``params.json`` and ``result.json`` give the metadata. Nothing outside
        ``path`` is read, and ``dataset.pt`` never.

        Parameters
        ----------
        path
            A zoo (the folder holding the trial folders, ``config.json`` and ``dataset.pt``)
            or a folder of zoos.
        snapshots
            ``"last"`` (the default, as ``from_zoo`` and ``from_nws``: one row per model,
            its last checkpoint); ``"all"``: one row per checkpoint, the training paths
            (``model`` and ``epoch`` columns, as ``from_nws(snapshots="all")``); or a list
            of epochs.
        config, **options
            As in :meth:`from_files`.

        Returns
        -------
        ModelLibrary
            Columns ``id`` (``"<zoo>/<trial>"``, with ``@e<epoch>`` unless ``"last"``),
            ``source`` (the ``checkpoints`` file), ``dataset`` (the zoo), ``model``
            (``"<zoo>/<trial>"``), ``epoch``, the params without their ``model::`` /
            ``optim::`` / ... prefix where that name is unambiguous (``nlin``,
            ``init_type``, ``dropout``, ``optimizer``, ``lr``, ``wd``, ``seed``, ...),
            ``test_accuracy``, ``train_accuracy``, ``test_loss``, ``train_loss`` (-999
            and missing: NaN), ``generalization_gap``, ``n_params``, ``accuracy_norm``.
            Broken trials (unreadable ``params.json`` or ``result.json``), missing
            checkpoint files and files resolving outside ``path`` are in
            ``library.errors``; the rest is built.

        Examples
        --------
        >>> lib = ModelLibrary.from_model_zoos("model-zoos/tune_zoo_mnist_uniform")  # doctest: +SKIP
        >>> paths = ModelLibrary.from_model_zoos("model-zoos", snapshots="all", n_jobs=4)  # doctest: +SKIP
        """
        from .model_zoos import build_model_zoos

        config, runner = build_options("from_model_zoos", config, options)
        return cls.from_parts(build_model_zoos(path, snapshots, config, runner))

    @classmethod
    def from_huggingface(
        cls: type[Library],
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        adapter: str = "weights",
        config: DescriptorConfig | None = None,
        **options: Any,
    ) -> Library:
        """Build a library from Hugging Face model folders or the Hugging Face hub cache;
        see :mod:`miwd_widget.library.huggingface`.

        Nothing is executed: safetensors files are read in place, ``.bin`` checkpoints are
        read with ``torch.load(weights_only=True)``, no ``transformers`` is needed.

        Parameters
        ----------
        paths
            A model folder (``config.json`` + ``model.safetensors``, sharded safetensors with
            their index, or ``pytorch_model.bin``), a hub cache root (e.g.
            ``~/.cache/huggingface/hub``), one ``models--ORG--NAME`` entry or snapshot, a
            folder of model folders, or a list of these. A PEFT adapter folder
            (``adapter_config.json`` + ``adapter_model.safetensors``) is a model folder too.
        adapter
            How adapters are read: ``"weights"``, their own tensors (natural order of the
            names: ``lora_A`` before ``lora_B`` in each module), or ``"update"``, the update
            ``(lora_alpha / r) * B @ A`` each LoRA module applies to its base weight
            (:mod:`miwd_widget.weights.adapters`). Full models are read as they are.
        config, **options
            As in :meth:`from_files`.

        Returns
        -------
        ModelLibrary
            One row per model folder or cache snapshot: ``id`` (the repository, with
            ``@revision`` when the cache holds several of it, else the folder name),
            ``source`` (the weight file), ``repo``, ``revision`` and ``ref`` for cache
            snapshots, and the scalar fields of ``config.json`` (``model_type``,
            ``architectures``, ``hidden_size``, ``num_hidden_layers``, ``torch_dtype``,
            ``vocab_size``, ...); for adapters ``peft_type``, ``base_model_name_or_path``,
            ``task_type``, ``r``, ``lora_alpha``, ``target_modules`` (sorted, comma-joined),
            ``use_rslora``, ``use_dora``. Folders without weights, and adapters of a type
            that cannot be read so, are in ``library.errors``.

        Examples
        --------
        >>> lib = ModelLibrary.from_huggingface("~/.cache/huggingface/hub")  # doctest: +SKIP
        """
        config, runner = build_options("from_huggingface", config, options)
        return cls.from_parts(builders.huggingface_parts(paths, config, runner, adapter))
