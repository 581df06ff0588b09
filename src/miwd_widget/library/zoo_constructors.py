"""The ``ModelLibrary.from_*`` constructors of model zoos and collections, in their layouts.

A zoo written by :mod:`miwd_widget.zoo` (``from_zoo``), the NWS dataset (``from_nws``),
the Small CNN Zoo (``from_cnn_zoo``) and the Model Zoos collection (``from_model_zoos``);
see :mod:`.constructors` for what every constructor does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..descriptors.config import DescriptorConfig
from . import builders
from .constructors import Library, LibraryConstructors
from .options import build_options, kernel_threads

__all__ = ["ZooConstructors"]


class ZooConstructors(LibraryConstructors):
    """The constructors of :class:`~miwd_widget.library.ModelLibrary` from model zoos and
    collections: the project's zoos, NWS, the Small CNN Zoo, Model Zoos."""

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
