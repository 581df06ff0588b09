"""The Small CNN Zoo (Unterthiner et al. 2020, "Predicting Neural Network Accuracy from Weights").

Layout, as the authors publish it: one folder per dataset (``mnist``, ``fashion_mnist``,
``cifar10``, ``svhn_cropped``) holding

- ``weights.npy``: float32, one row per checkpoint, 4,970 columns (every parameter of one
  fixed CNN: three 3x3 conv layers of 16 units, global average pooling, a 10-way dense
  layer). Read in place here (rows read as they are used, never through a memory map),
  never loaded whole.
- ``metrics.csv.gz``: one row per checkpoint, aligned with the matrix: ``config.*``
  hyper-parameters, ``modeldir`` (the run), ``step``, ``test_accuracy``, ``test_loss``,
  ``train_accuracy``, ``train_loss``.
- ``layout.csv``: which matrix columns hold which tensor.

What the library records per checkpoint: ``id`` (``"<dataset>/<row>"``, the row of the
dataset's matrix), ``source`` (its ``weights.npy``), ``dataset``, ``model`` (the run: its
``modeldir``), ``epoch`` and ``step``, the metrics' other columns with the ``config.``
prefix dropped, ``n_params`` and ``accuracy_norm``.

**Epochs.** Each run checkpoints at epochs 0 (initialization), 1, 2, 3, 20, 40, 60, 80 and
86, and ``step`` counts optimizer steps, a whole number of steps per epoch (the training
batches drop their remainder). So a run's steps per epoch is its smallest positive
``step`` (the epoch-1 checkpoint: epochs 0 to 3 are always checkpointed) and
``epoch = step // steps_per_epoch``; a full run gives exactly
0, 1, 2, 3, 20, 40, 60, 80, 86. (``config.epochs_between_checkpoints`` is the spacing of the
later checkpoints, 20, not a divisor of the steps.) A run whose only checkpoint is step 0
gets epoch 0. A run missing its epoch-1 checkpoint would get wrong epochs, so a run with
a step that is no whole number of epochs, or an epoch outside :data:`CNN_ZOO_EPOCHS`, gets
NaN epochs and an error in ``library.errors`` naming the metrics file and the run.

**Weight order (theta).** The network's layers in order, each layer's kernel before its
bias, as Keras lists a layer's weights and as the project's Keras reader reads them. The
published matrix stores each layer's bias first (columns 0-15 are the first conv layer's
biases, 16-159 its kernel, per the authors' notebook), so ``layout.csv`` is read to map
columns to tensors and the columns are reordered within each layer. ``layout.csv`` may
have one row per matrix column (a column naming its tensor, e.g.
``sequential/conv2d/kernel:0``, optionally a ``layer`` column and a column index) or one
row per tensor (its name and ``start``/``end`` columns, a ``size`` or a ``shape``). A tensor's layer is
its name without the last component (``kernel``, ``bias``); layers keep the order in which
the matrix first uses them.

Descriptors are computed chunk by chunk straight from the file with the project's
histogram kernel (one compiled loop over the rows of a chunk, no Python object per row):
:func:`cnn_zoo_chunks` yields the chunks, and :func:`build_cnn_zoo` describes them with the
chunked builder's own code (:mod:`.chunked`: the same ``"auto"`` range, the same rows
kernel and messages as ``ModelLibrary.from_chunks(cnn_zoo_chunks(...))``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._progress import progress as progress_bar
from ..columns import EPOCH, ID, MODEL, SOURCE
from ..descriptors.config import DescriptorConfig
from .parts import LibraryParts

__all__ = [
    "CNN_ZOO_DATASETS",
    "CNN_ZOO_EPOCHS",
    "CnnZooDataset",
    "CnnZooChunk",
    "cnn_zoo_datasets",
    "cnn_zoo_chunks",
    "cnn_zoo_value_range",
    "build_cnn_zoo",
    "read_layout",
]

log = logging.getLogger(__name__)

#: The published datasets, in the order the authors list them.
CNN_ZOO_DATASETS = ("mnist", "fashion_mnist", "cifar10", "svhn_cropped")
#: The epochs every run was checkpointed at (README of dnn_predict_accuracy).
CNN_ZOO_EPOCHS = (0, 1, 2, 3, 20, 40, 60, 80, 86)

WEIGHTS = "weights.npy"
METRICS = "metrics.csv.gz"
LAYOUT = "layout.csv"

#: Rows described per chunk: 4,096 x 4,970 float32 is 81 MB read at a time.
DEFAULT_CHUNK_ROWS = 4096

_NAME_COLUMNS = ("varname", "var_name", "variable", "name", "tensor", "weight", "param")
_START_COLUMNS = ("start", "start_idx", "start_index", "begin", "offset", "first")
_END_COLUMNS = ("end", "end_idx", "end_index", "stop")
_SIZE_COLUMNS = ("size", "length", "count", "n", "numel", "num_params")
_INDEX_COLUMNS = ("column", "col", "index", "idx", "position", "unnamed: 0")


# --------------------------------------------------------------------------------------
# layout.csv
# --------------------------------------------------------------------------------------


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _layer_and_kind(name: str) -> tuple[str, str]:
    """``"sequential/conv2d_1/kernel:0"`` -> ``("sequential/conv2d_1", "kernel")``."""
    text = name.split(":")[0].strip().strip("/")
    layer, _, kind = text.rpartition("/")
    return (layer or text), kind.lower()


def read_layout(path: str | os.PathLike, n_columns: int) -> tuple[list[str], np.ndarray]:
    """Tensor names in theta order and the matrix columns that make theta, in that order.

    Parameters
    ----------
    path
        The ``layout.csv`` (see the module docstring for the forms it may take).
    n_columns
        Columns of the weight matrix; the layout must cover each exactly once.

    Returns
    -------
    (names, order)
        ``names``: tensors in theta order; ``order``: int64 column indices, so that
        ``theta = row[order]`` (layers in order, each layer's kernel before its bias).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "layout.csv"
    >>> _ = f.write_text("varname,start,end\\nc/bias,0,2\\nc/kernel,2,5\\nd/bias,5,6\\nd/kernel,6,8\\n")
    >>> names, order = read_layout(f, 8)
    >>> names, order.tolist()
    (['c/kernel', 'c/bias', 'd/kernel', 'd/bias'], [2, 3, 4, 0, 1, 6, 7, 5])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the Small CNN Zoo's {LAYOUT})")
    table = pd.read_csv(path)
    columns = {str(c).strip().lower(): c for c in table.columns}
    name_col = _pick(columns, _NAME_COLUMNS)
    layer_col = columns.get("layer")
    if name_col is None and layer_col is not None:
        name_col, layer_col = layer_col, None
    if name_col is None:
        raise ValueError(
            f"{path}: no column naming the tensors (looked for {', '.join(_NAME_COLUMNS)} or "
            f"layer; it has {', '.join(map(str, table.columns))})"
        )
    names = table[name_col].astype(str).to_numpy()
    start_col, end_col = _pick(columns, _START_COLUMNS), _pick(columns, _END_COLUMNS)
    size_col = _pick(columns, _SIZE_COLUMNS)
    if size_col is None and "shape" in columns and len(table) != n_columns:
        # e.g. "(3, 3, 1, 16)": the tensor's size is the product of its dimensions
        dims = table[columns["shape"]].astype(str).str.findall(r"\d+")
        table = table.assign(__size__=[int(np.prod([int(d) for d in ds])) for ds in dims])
        size_col = "__size__"
    # Per tensor: the matrix columns that hold it, in stored order
    tensors: dict[str, list[np.ndarray]] = {}
    per_column = len(table) == n_columns and start_col is None and size_col is None
    try:
        if per_column:
            # One row per matrix column, in column order unless an index column says.
            index_col = _pick(columns, _INDEX_COLUMNS)
            cols = (
                table[index_col].to_numpy(dtype=np.int64)
                if index_col is not None
                else np.arange(n_columns, dtype=np.int64)
            )
            for name in dict.fromkeys(names):
                tensors[name] = [np.sort(cols[names == name])]
        else:
            if start_col is not None and end_col is not None:
                bounds = zip(
                    table[start_col].to_numpy(dtype=np.int64),
                    table[end_col].to_numpy(dtype=np.int64),
                    strict=True,
                )
            elif start_col is not None and size_col is not None:
                first = table[start_col].to_numpy(dtype=np.int64)
                bounds = zip(first, first + table[size_col].to_numpy(dtype=np.int64), strict=True)
            elif size_col is not None:
                stops = np.cumsum(table[size_col].to_numpy(dtype=np.int64))
                bounds = zip(stops - table[size_col].to_numpy(dtype=np.int64), stops, strict=True)
            else:
                raise ValueError(
                    f"{path}: {len(table)} rows for {n_columns} matrix columns, and no start/end "
                    "or size columns to say which columns each tensor holds"
                )
            for name, (a, b) in zip(names, bounds, strict=True):
                if not 0 <= a <= b:
                    raise ValueError(f"{path}: tensor {name!r} has columns {a}..{b}")
                tensors.setdefault(name, []).append(np.arange(a, b, dtype=np.int64))
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read the column ranges: {exc}") from None
    if layer_col is not None:
        layer_of = dict(zip(names, table[layer_col].astype(str), strict=True))
    else:
        layer_of = {name: _layer_and_kind(name)[0] for name in tensors}
    cols_of = {name: np.concatenate(parts) for name, parts in tensors.items()}
    used = np.concatenate(list(cols_of.values())) if cols_of else np.empty(0, np.int64)
    if used.size != n_columns or not np.array_equal(np.sort(used), np.arange(n_columns)):
        missing = np.setdiff1d(np.arange(n_columns), used)
        twice = used.size - np.unique(used).size
        raise ValueError(
            f"{path}: does not map each of the {n_columns} matrix columns to one tensor "
            f"({missing.size} columns unmapped, {twice} mapped twice, "
            f"{int((used >= n_columns).sum() + (used < 0).sum())} out of range)"
        )
    # Layers in the order the matrix first uses them; in a layer: kernel, bias, the rest.
    first_col = {name: int(c.min()) for name, c in cols_of.items()}
    layer_first: dict[str, int] = {}
    for name, col in first_col.items():
        layer = layer_of[name]
        layer_first[layer] = min(layer_first.get(layer, col), col)
    kind_rank = {"kernel": 0, "weight": 0, "weights": 0, "bias": 1, "biases": 1}
    ordered = sorted(
        cols_of,
        key=lambda n: (
            layer_first[layer_of[n]],
            kind_rank.get(_layer_and_kind(n)[1], 2),
            first_col[n],
        ),
    )
    order = np.concatenate([cols_of[n] for n in ordered]).astype(np.int64)
    return ordered, order


# --------------------------------------------------------------------------------------
# metrics.csv.gz
# --------------------------------------------------------------------------------------


def _epochs(
    dataset: pd.Series, model: pd.Series, step: pd.Series, path: Path | None = None
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """``step // steps_per_epoch`` per checkpoint, steps per epoch = the run's smallest
    positive step (see the module docstring); 0 for runs with only step 0.

    That rests on every run having its epoch-1 checkpoint. A run where it cannot hold (a
    step that is no whole number of epochs, or an epoch not in :data:`CNN_ZOO_EPOCHS`:
    e.g. epoch 1 missing, so epoch 2 is taken for 1) gets NaN epochs and an error naming
    the metrics file and the run, rather than wrong epochs silently.
    """
    positive = step.where(step > 0)
    per_epoch = positive.groupby([dataset, model], sort=False).transform("min")
    epoch = (step // per_epoch).fillna(0)
    wrong = (per_epoch.notna() & (step % per_epoch != 0)) | ~epoch.isin(CNN_ZOO_EPOCHS)
    errors: list[tuple[str, str]] = []
    if not wrong.any():
        return epoch.to_numpy(dtype=np.int64), errors
    runs = pd.DataFrame({"dataset": dataset, "model": model})
    bad = pd.MultiIndex.from_frame(runs[wrong.to_numpy()]).unique()
    in_bad = pd.MultiIndex.from_frame(runs).isin(bad)
    where = f"{path}: " if path is not None else ""
    for ds, run in bad:
        rows = in_bad & (runs["dataset"] == ds).to_numpy() & (runs["model"] == run).to_numpy()
        steps = sorted(int(v) for v in step[rows])
        errors.append(
            (
                f"{path}:{run}" if path is not None else str(run),
                f"{where}run {run}: steps {steps} are not the checkpoints of epochs "
                f"{list(CNN_ZOO_EPOCHS)} at {int(per_epoch[rows].iloc[0])} steps per epoch "
                "(its epoch-1 checkpoint may be missing); its epochs are left NaN",
            )
        )
    out = epoch.to_numpy(dtype=np.float64, copy=True)
    out[in_bad] = np.nan
    return out, errors


def read_metrics(
    path: Path,
    dataset: str,
    n_rows: int,
    source: str,
    errors: list[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """The cleaned metadata of one dataset's checkpoints (one row per matrix row).

    Runs whose epochs cannot be told from their steps are appended to ``errors``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the Small CNN Zoo's {METRICS})")
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # gzip or CSV errors: name the file
        raise ValueError(f"{path}: cannot read it as a gzipped CSV: {exc}") from None
    if len(table) != n_rows:
        raise ValueError(
            f"{path}: {len(table):,} rows, but {source} has {n_rows:,}; the metrics must be "
            "aligned with the weight matrix, one row per checkpoint"
        )
    unnamed = [c for c in table.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        # A saved DataFrame index: the checkpoint paths (kept), or plain row numbers (dropped).
        first = table[unnamed[0]]
        if not pd.api.types.is_numeric_dtype(first):
            table = table.rename(columns={unnamed[0]: "checkpoint"})
            unnamed = unnamed[1:]
        table = table.drop(columns=unnamed)
    table = table.rename(columns=lambda c: c[len("config.") :] if c.startswith("config.") else c)
    missing = [c for c in ("modeldir", "step") if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing} (it has {', '.join(table.columns)})")
    if table.columns.duplicated().any():
        dup = table.columns[table.columns.duplicated()].tolist()
        raise ValueError(f"{path}: columns {dup} appear both with and without 'config.'")
    step = pd.to_numeric(table.pop("step"), errors="coerce")
    if step.isna().any() or (step < 0).any():
        bad = int(np.flatnonzero(step.isna().to_numpy() | (step < 0).to_numpy())[0])
        raise ValueError(f"{path}: row {bad}: step is not a non-negative number")
    step = step.astype(np.int64)
    model = table.pop("modeldir").astype(str).str.rstrip("/")
    if "dataset" in table.columns:
        names = table.pop("dataset").astype(str)
    else:
        names = pd.Series(dataset, index=table.index)
    epoch, epoch_errors = _epochs(names, model, step, path)
    if errors is not None:
        errors += epoch_errors
    front = pd.DataFrame(
        {
            ID: dataset + "/" + pd.Series(np.arange(n_rows), dtype=np.int64).astype(str),
            SOURCE: source,
            "dataset": names,
            MODEL: model,
            EPOCH: epoch,
            "step": step,
        }
    )
    # A metrics column named like one of ours is kept under another name, not duplicated.
    table = table.rename(columns={c: f"metrics.{c}" for c in front.columns if c in table.columns})
    return pd.concat([front, table.reset_index(drop=True)], axis=1)


# --------------------------------------------------------------------------------------
# Datasets and chunks
# --------------------------------------------------------------------------------------


@dataclass
class CnnZooDataset:
    """One dataset folder of the Small CNN Zoo, opened (the matrix read in place)."""

    name: str
    folder: Path
    weights: Any  # (rows, columns) FileArray: read in place, as stored
    order: np.ndarray | None  # theta = row[order]; None: the stored order already is theta
    tensors: list[str]
    metadata: pd.DataFrame
    errors: list[tuple[str, str]] = field(default_factory=list)  # found reading the metrics

    @property
    def source(self) -> str:
        """Absolute path of the weight matrix."""
        return os.path.abspath(self.folder / WEIGHTS)

    @property
    def n_rows(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_weights(self) -> int:
        return int(self.weights.shape[1])

    def theta(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a (rows, N) array in theta order (float32 or float64)."""
        return _ordered(self.weights[start:stop], self.order)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """The rows ``index`` (sorted row numbers) in theta order."""
        return _ordered(self.weights[index], self.order)


def _ordered(block: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """A block of matrix rows in theta order: a copy of the block, never of the matrix."""
    if order is None:
        return np.ascontiguousarray(_kernel_dtype(np.asarray(block)))
    # The order is a few runs of consecutive columns (one per tensor): copying run by run
    # is several times faster than a column gather (np.take) of the block.
    out = np.empty(block.shape, dtype=_kernel_dtype(block[:0]).dtype)
    for dst, src, size in _runs(order):
        out[:, dst : dst + size] = block[:, src : src + size]
    return out


def _runs(order: np.ndarray) -> list[tuple[int, int, int]]:
    """``order`` as runs ``(position in theta, first column, length)`` of consecutive columns.

    Examples
    --------
    >>> _runs(np.array([2, 3, 4, 0, 1, 7]))
    [(0, 2, 3), (3, 0, 2), (5, 7, 1)]
    """
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    starts = np.concatenate([[0], breaks])
    sizes = np.diff(np.concatenate([starts, [order.size]]))
    return [(int(a), int(order[a]), int(n)) for a, n in zip(starts, sizes, strict=True)]


def _kernel_dtype(block: np.ndarray) -> np.ndarray:
    if block.dtype in (np.float32, np.float64):
        return block
    return block.astype(np.float32)


@dataclass
class CnnZooChunk:
    """Rows ``start:stop`` of one dataset's matrix: their metadata, and theta on demand.

    ``key`` names the chunk stably (the matrix's absolute path and rows), so a resumable writer can tell which
    chunks it has finished without reading their weights again. A chunk holds the matrix's
    path, not its data: it pickles small (for worker processes or a dask cluster) and
    reads the matrix's rows when :meth:`theta` is called.
    """

    dataset: str
    source: str  # absolute path of the dataset's weights.npy
    start: int
    stop: int
    order: np.ndarray | None = field(repr=False)  # theta = row[order]; None: as stored
    metadata: pd.DataFrame = field(repr=False)  # one row per checkpoint of the chunk
    #: Errors found reading the dataset (runs with unknown epochs): carried by its first
    #: chunk, so a chunked build records them once.
    errors: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def key(self) -> str:
        return f"{self.source}:{self.start}-{self.stop}"

    @property
    def n_weights(self) -> int:
        """Weights per row (from the layout, else the .npy header: nothing is read)."""
        if self.order is not None:
            return int(self.order.size)
        return int(np.load(self.source, mmap_mode="r", allow_pickle=False).shape[1])

    def theta(self) -> np.ndarray:
        """The chunk's weights, (rows, N) in theta order, read from the file now."""
        return _ordered(_matrix(self.source)[self.start : self.stop], self.order)

    def theta_rows(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (sorted, relative to the chunk) only, in theta order: the
        ``"auto"`` range's sample reads these, not the whole chunk."""
        rows = _matrix(self.source)[self.start + np.asarray(index, dtype=np.int64)]
        return _ordered(rows, self.order)

    def __len__(self) -> int:
        return self.stop - self.start


def _matrix(path: str | os.PathLike) -> Any:
    """A zoo's ``weights.npy``, read in place by positional reads (never through a map)."""
    from ..weights.formats.npy import in_place

    return in_place(Path(path), np.load(path, mmap_mode="r", allow_pickle=False))


def _dataset_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: no such folder (a Small CNN Zoo or one of its datasets)"
        )
    if (folder / WEIGHTS).exists():
        return [folder]
    found = sorted(p.parent for p in folder.glob(f"*/{WEIGHTS}"))
    if not found:
        raise FileNotFoundError(
            f"{folder}: not a Small CNN Zoo folder: neither it nor its subfolders hold {WEIGHTS}"
        )
    known = {name: i for i, name in enumerate(CNN_ZOO_DATASETS)}
    return sorted(found, key=lambda p: (known.get(p.name, len(known)), p.name))


def open_dataset(folder: Path) -> CnnZooDataset:
    """Open one dataset folder: its matrix (read in place), its layout and metrics."""
    weights_path = folder / WEIGHTS
    from ..weights.guard import regular_file

    regular_file(weights_path)  # a FIFO or device is refused before np.load opens it
    try:
        weights = _matrix(weights_path)
    except Exception as exc:  # truncated header, pickled object array...
        raise ValueError(f"{weights_path}: cannot open it as a .npy matrix: {exc}") from None
    if weights.ndim != 2 or not np.issubdtype(weights.dtype, np.floating):
        raise ValueError(
            f"{weights_path}: expected a 2-D float matrix (checkpoints x weights), got "
            f"{weights.dtype} of shape {weights.shape}"
        )
    names, order = read_layout(folder / LAYOUT, weights.shape[1])
    identity = np.array_equal(order, np.arange(weights.shape[1]))
    source = os.path.abspath(weights_path)
    errors: list[tuple[str, str]] = []
    metadata = read_metrics(folder / METRICS, folder.name, weights.shape[0], source, errors)
    return CnnZooDataset(
        folder.name, folder, weights, None if identity else order, names, metadata, errors
    )


def cnn_zoo_datasets(folder: str | os.PathLike) -> list[CnnZooDataset]:
    """The datasets of a Small CNN Zoo root (every subfolder with a ``weights.npy``), or the
    one dataset a dataset folder is.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing folder or file, metrics not aligned with the matrix, a layout that does
        not cover the matrix: the message names the file.

    Examples
    --------
    >>> cnn_zoo_datasets("no/such/zoo")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/zoo: no such folder (a Small CNN Zoo or one of its datasets)
    """
    return [open_dataset(p) for p in _dataset_folders(Path(folder))]


def cnn_zoo_chunks(
    folder: str | os.PathLike | list[CnnZooDataset], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[CnnZooChunk]:
    """The checkpoints of a Small CNN Zoo (root or one dataset) as chunks of rows.

    Chunks follow the datasets' order and never span two datasets; each holds at most
    ``chunk_rows`` rows. Nothing is read from the matrices until a chunk's
    :meth:`CnnZooChunk.theta` is called.

    Examples
    --------
    >>> chunks = cnn_zoo_chunks("zoos/small-cnn-zoo", chunk_rows=8192)  # doctest: +SKIP
    >>> next(chunks).theta().shape  # doctest: +SKIP
    (8192, 4970)
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)):
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    datasets = folder if isinstance(folder, list) else cnn_zoo_datasets(folder)
    for ds in datasets:
        for start in range(0, ds.n_rows, int(chunk_rows)):
            stop = min(start + int(chunk_rows), ds.n_rows)
            meta = ds.metadata.iloc[start:stop].reset_index(drop=True)
            first = list(ds.errors) if start == 0 else []
            yield CnnZooChunk(ds.name, ds.source, start, stop, ds.order, meta, first)


# --------------------------------------------------------------------------------------
# The "auto" range and the build
# --------------------------------------------------------------------------------------


def _same_width(datasets: list[CnnZooDataset]) -> None:
    for ds in datasets[1:]:
        if ds.n_weights != datasets[0].n_weights:
            raise ValueError(
                f"{ds.source}: {ds.n_weights} weights per row, {datasets[0].source} has "
                f"{datasets[0].n_weights}"
            )


def cnn_zoo_value_range(
    datasets: list[CnnZooDataset],
    percentiles: tuple[float, float],
    budget: int | None = None,
) -> tuple[tuple[float, float], list[tuple[str, str]]]:
    """The ``"auto"`` range of a Small CNN Zoo: pooled percentiles, one vote per checkpoint.

    :func:`~miwd_widget.library.chunked.chunks_value_range` over the zoo's chunks (the one
    implementation, so ``from_cnn_zoo`` and ``from_chunks(cnn_zoo_chunks(...))`` agree):
    each checkpoint sampled as a library build samples a model, degenerate rows left out
    and reported, a regular stride of rows beyond ``budget`` samples (default
    :data:`~miwd_widget.descriptors.value_range.RANGE_BUDGET`).

    Returns
    -------
    ((lo, hi), warnings)
        The range, and ``(label, message)`` of degenerate rows left out.

    Examples
    --------
    >>> cnn_zoo_value_range(cnn_zoo_datasets("zoo"), (0.5, 99.5))  # doctest: +SKIP
    ((-0.41, 0.43), [])
    """
    from .chunked import chunks_value_range

    if sum(ds.n_rows for ds in datasets) == 0:
        raise ValueError("the Small CNN Zoo has no checkpoints (its matrices have no rows)")
    _same_width(datasets)
    lo_hi, warnings = chunks_value_range(
        list(cnn_zoo_chunks(datasets, DEFAULT_CHUNK_ROWS)), percentiles, budget
    )
    log.info("Small CNN Zoo value_range='auto': [%.4g, %.4g]", *lo_hi)
    return lo_hi, warnings


def build_cnn_zoo(
    folder: str | os.PathLike,
    config: DescriptorConfig,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    threads: int | None = None,
    progress: bool | None = None,
) -> LibraryParts:
    """Describe every checkpoint of a Small CNN Zoo into a library's parts.

    Rows that cannot be described (NaN/Inf weights with ``nan_policy="raise"``) are
    recorded in ``errors`` (naming the matrix and the row) and left out. The descriptors are
    written into one preallocated (rows, S, B) array, chunk by chunk. ``attrs["cnn_zoo"]``
    records the folder, datasets, rows and tensors.

    Examples
    --------
    >>> parts = build_cnn_zoo("small-cnn-zoo", DescriptorConfig())  # doctest: +SKIP
    """
    from .build import accuracy_norm, errors_frame
    from .chunked import describe_chunk

    datasets = cnn_zoo_datasets(folder)
    _same_width(datasets)
    errors: list[tuple[str, str]] = [e for ds in datasets for e in ds.errors]
    if config.is_auto:
        lo_hi, warnings = cnn_zoo_value_range(datasets, config.percentiles)
        errors += warnings
        resolved = config.with_range(lo_hi)
    else:
        resolved = config
    total = sum(ds.n_rows for ds in datasets)
    out = np.empty((total, config.S, config.B), dtype=np.float32)
    keep = np.ones(total, dtype=bool)
    written = 0  # failed rows are skipped, so the kept rows stay contiguous in ``out``
    first = 0
    bar = progress_bar(desc="MI-WD (CNN zoo)", total=total, show=progress, unit="row")
    try:
        for chunk in cnn_zoo_chunks(datasets, chunk_rows):
            # the chunked builder's own code: the same kernel, NaN/Inf policy and messages
            d, ok, _, failed = describe_chunk(chunk, resolved, threads)
            errors += failed
            keep[first : first + len(chunk)] = ok
            k = int(ok.sum())
            out[written : written + k] = d
            written += k
            first += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
    metadata = pd.concat([ds.metadata for ds in datasets], ignore_index=True)
    if not keep.all():
        metadata = metadata[keep].reset_index(drop=True)
    metadata["n_params"] = np.int64(datasets[0].n_weights)
    metadata["accuracy_norm"] = accuracy_norm(metadata)
    attrs = {
        "cnn_zoo": {
            "folder": os.path.abspath(folder),
            "datasets": [ds.name for ds in datasets],
            "rows": total,
            "tensors": datasets[0].tensors,
        },
    }
    if errors:
        log.warning("%d Small CNN Zoo row(s) not described or left out of the range", len(errors))
    return LibraryParts(out[:written], metadata, resolved, errors=errors_frame(errors), attrs=attrs)
