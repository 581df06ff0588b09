"""A library of models: descriptors, metadata and (once projected) a 2-D atlas embedding.

Building a library is two passes over the models, both run in parallel (joblib processes, or a
dask cluster when a ``distributed.Client`` is given), in batches of files so that each task
amortizes its overhead:

1. with ``value_range="auto"``, each worker reads a strided sample of each model's weights and
   the pooled percentiles (each weight counts once) become the library's histogram range;
2. each worker computes the MI-WD descriptors of its files with that one shared range.

Workers open the files themselves (readers return memory maps), so only paths and small
results travel between processes. A model that fails is recorded in ``library.errors`` with
its reason and the build goes on.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ModelLibrary",
    "SelectionSummary",
    "expand_paths",
    "load_demo_library",
    "FORMAT_VERSION",
]

#: Version of the Parquet layout written by :meth:`ModelLibrary.save`.
FORMAT_VERSION = 1

#: File suffixes taken from a directory (explicit paths and globs are always attempted).
MODEL_SUFFIXES = (
    ".safetensors",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".onnx",
    ".npz",
    ".npy",
    ".keras",
    ".h5",
    ".hdf5",
)

#: Pooled weight samples used for ``value_range="auto"`` over the whole library.
AUTO_RANGE_SAMPLES = 1 << 22

#: Reserved Parquet column names (metadata columns must not use them).
DESCRIPTOR_COLUMN = "__miwd_descriptor__"
EMBEDDING_COLUMNS = ("__miwd_atlas_x__", "__miwd_atlas_y__")
SCHEMA_KEY = b"miwd"

#: Metadata columns that identify a model rather than describe how it was made.
IDENTIFIER_COLUMNS = {"id", "source", "path", "seed", "cohort"}

#: Accuracy columns, in order of preference, normalized into ``accuracy_norm``.
ACCURACY_COLUMNS = ("test_accuracy", "accuracy", "test_acc")

#: NWS integer codes (nws-facts.md) mapped to the names the project's zoo uses.
NWS_CODES = {
    "optimizer": {0: "adam", 1: "rmsprop", 2: "sgd_momentum"},
    "activation": {0: "relu", 1: "elu", 2: "sigmoid", 3: "tanh"},
    "initialization": {
        0: "constant",
        1: "random_normal",
        2: "glorot_uniform",
        3: "glorot_normal",
    },
}


# --------------------------------------------------------------------------------------
# Work items and the functions that run in worker processes
# --------------------------------------------------------------------------------------


@dataclass
class _Item:
    """One model to describe: what a worker opens, plus what the library records about it."""

    spec: Any  # a path string, ("f64", path, expected_n) for raw float64 files, or a model
    id: str
    source: str | None  # absolute path of the file, None for in-memory models
    meta: dict[str, Any]


def _open(spec: Any):
    from .readers import WeightReadError, open_weights

    if isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "f64":
        # NWS snapshots are headerless little-endian float64 vectors; the layout, not the
        # file, says so, hence this reader lives with from_nws.
        from ._formats import read_raw_float64

        _, path, expected = spec
        theta = read_raw_float64(path)
        if expected is not None and theta.shape[0] != expected:
            raise WeightReadError(
                f"{path}: holds {theta.shape[0]} float64 values, the CSV says {expected} weights"
            )
        return open_weights(theta, name=path)
    return open_weights(spec)


def _error_text(exc: BaseException) -> str:
    from .descriptors import DescriptorError
    from .readers import WeightReadError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (WeightReadError, DescriptorError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _sample_batch(specs: list[Any], cap: int, single_thread: bool) -> list[tuple]:
    """Pass 1: per model ("ok", n, stride, finite strided sample) or ("error", message)."""
    from .descriptors import _sample

    out: list[tuple] = []
    for spec in specs:
        try:
            ws = _open(spec)
            n = ws.n
            if n == 0:
                raise ValueError("the model has no floating-point weights")
            stride = max(1, -(-n // cap))
            out.append(("ok", n, stride, _sample(ws, stride)))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, the build goes on
            out.append(("error", _error_text(exc)))
    return out


def _describe_batch(
    specs: list[Any],
    S: int,
    B: int,
    value_range: tuple[float, float],
    clip: bool,
    nan_policy: str,
    single_thread: bool,
) -> list[tuple]:
    """Pass 2: per model ("ok", descriptor (S, B) float32, N) or ("error", message)."""
    from .descriptors import _describe_one

    if single_thread:
        # Processes already use every core; numba's own threads would oversubscribe them.
        import numba

        numba.set_num_threads(1)
    lo, hi = value_range
    out: list[tuple] = []
    for spec in specs:
        try:
            ws = _open(spec)
            d = _describe_one(ws, S, B, lo, hi, clip, nan_policy)
            out.append(("ok", d, ws.n))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, the build goes on
            out.append(("error", _error_text(exc)))
    return out


def _n_workers(n_jobs: int, client: Any) -> int:
    if client is not None:
        return max(1, len(client.scheduler_info().get("workers", {})))
    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def _run(
    func: Callable[..., list[tuple]],
    specs: list[Any],
    kwargs: dict[str, Any],
    n_jobs: int,
    client: Any,
    in_process: bool,
    batch_size: int | None,
    desc: str,
    progress: bool,
) -> list[tuple]:
    """Run ``func`` over ``specs`` in batches; one result tuple per spec, in input order.

    A batch whose task dies (a crashed worker, a lost dask future) records every model of the
    batch as failed; the results of all other batches are kept.
    """
    from tqdm.auto import tqdm

    if not specs:
        return []
    workers = 1 if in_process else _n_workers(n_jobs, client)
    if batch_size is None:
        # ~8 tasks per worker balances load; at most 64 files per task keeps progress lively.
        batch_size = max(1, min(64, math.ceil(len(specs) / (8 * workers))))
    batches = [specs[i : i + batch_size] for i in range(0, len(specs), batch_size)]
    results: list[list[tuple] | None] = [None] * len(batches)
    bar = tqdm(total=len(specs), desc=desc, unit="model", disable=not progress)

    def fail(i: int, exc: BaseException) -> None:
        results[i] = [("error", f"worker task failed: {_error_text(exc)}")] * len(batches[i])

    try:
        if client is not None and not in_process:
            from distributed import as_completed

            futures = client.map(func, batches, pure=False, single_thread=True, **kwargs)
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    results[i] = fut.result()
                except Exception as exc:  # noqa: BLE001
                    fail(i, exc)
                bar.update(len(batches[i]))
        elif workers == 1 or len(batches) == 1:
            for i, batch in enumerate(batches):
                try:
                    results[i] = func(batch, single_thread=False, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    fail(i, exc)
                bar.update(len(batch))
        else:
            from joblib import Parallel, delayed

            def indexed(i: int, batch: list[Any]) -> tuple[int, list[tuple]]:
                return i, func(batch, single_thread=True, **kwargs)

            parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
            try:
                for i, res in parallel(delayed(indexed)(i, b) for i, b in enumerate(batches)):
                    results[i] = res
                    bar.update(len(batches[i]))
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by a bad file
                for i, res in enumerate(results):
                    if res is None:
                        fail(i, exc)
    finally:
        bar.close()
    return [r for batch in results for r in (batch or [])]


def _pooled_percentiles(
    samples: list[np.ndarray], strides: list[int], percentiles: tuple[float, float]
) -> tuple[float, float]:
    """Percentiles of all weights pooled, from per-model strided samples.

    Each sampled value stands for ``stride`` weights of its model, so models are weighted by
    their size as if every weight were pooled. With equal strides (small libraries: stride 1)
    this is exactly ``np.percentile`` of the pooled sample, as in ``auto_value_range``.
    """
    lo_q, hi_q = percentiles
    if not 0 <= lo_q < hi_q <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {percentiles!r}")
    pooled = np.concatenate(samples) if samples else np.empty(0)
    if pooled.size == 0:
        raise ValueError("value_range='auto': the models have no finite weights")
    if len(set(strides)) <= 1:
        lo, hi = (float(v) for v in np.percentile(pooled, [lo_q, hi_q]))
    else:
        weights = np.repeat(np.asarray(strides, float), [len(s) for s in samples])
        lo, hi = (
            float(v)
            for v in np.percentile(pooled, [lo_q, hi_q], weights=weights, method="inverted_cdf")
        )
    if not lo < hi:
        # All weights equal (e.g. constant-initialized models): widen symmetrically.
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    return lo, hi


def _errors_frame(records: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    records = list(records)
    return pd.DataFrame(
        {
            "source": pd.Series([str(r[0]) for r in records], dtype=object),
            "error": pd.Series([str(r[1]) for r in records], dtype=object),
        }
    )


# --------------------------------------------------------------------------------------
# Paths and metadata tables
# --------------------------------------------------------------------------------------


def expand_paths(paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Model files named by paths, directories (searched recursively) and glob patterns.

    Directories contribute files with a model suffix (``MODEL_SUFFIXES``), hidden ones left
    out; explicit paths and glob matches are taken whatever their suffix. Duplicates are
    dropped, order is kept.

    Raises
    ------
    FileNotFoundError
        A path that does not exist or a pattern that matches nothing.

    Examples
    --------
    >>> expand_paths("no/such/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no/such/dir: no such file or directory
    """
    import glob

    items = [paths_or_glob] if isinstance(paths_or_glob, (str, os.PathLike)) else paths_or_glob
    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(c in text for c in "*?[") and not os.path.exists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            found += [Path(m) for m in matches if os.path.isfile(m)]
        elif os.path.isdir(text):
            root = Path(text)
            found += sorted(
                p
                for p in root.rglob("*")
                if p.is_file()
                and p.suffix.lower() in MODEL_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        elif os.path.isfile(text):
            found.append(Path(text))
        else:
            raise FileNotFoundError(f"{text}: no such file or directory")
    seen: set[str] = set()
    unique = []
    for p in found:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _read_table(metadata: Any) -> tuple[pd.DataFrame | None, Path]:
    """A metadata table and the directory its relative paths are relative to."""
    if metadata is None:
        return None, Path.cwd()
    if isinstance(metadata, pd.DataFrame):
        return metadata.reset_index(drop=True), Path.cwd()
    path = Path(metadata)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metadata table not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix in (".csv", ".txt"):
        table = pd.read_csv(path)
    elif suffix == ".tsv":
        table = pd.read_csv(path, sep="\t")
    else:
        raise ValueError(f"{path}: metadata table must be .csv, .tsv or .parquet")
    return table, path.parent.resolve()


def _abs_key(path: str | os.PathLike, base: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = base / p
    return os.path.normcase(os.path.abspath(p))


def _file_items(files: list[Path], table: pd.DataFrame | None, on: str, base: Path) -> list[_Item]:
    """Work items for files, each joined with its row of the metadata table."""
    if on not in ("path", "id"):
        raise ValueError(f"on must be 'path' or 'id', got {on!r}")
    rows: dict[str, dict[str, Any]] = {}
    if table is not None:
        if on not in table.columns:
            raise ValueError(f"the metadata table has no {on!r} column to join on")
        keys = (
            [_abs_key(p, base) for p in table["path"].astype(str)]
            if on == "path"
            else list(table["id"].astype(str))
        )
        records = table.to_dict(orient="records")
        dup = pd.Series(keys)[pd.Series(keys).duplicated()].tolist()
        if dup:
            raise ValueError(f"the metadata table has duplicate {on!r} values: {dup[:5]}")
        rows = dict(zip(keys, records, strict=True))
    stems = [p.stem for p in files]
    if len(set(stems)) < len(stems) and len(files) > 1:
        # File names repeat across folders: ids are the paths below the common folder.
        root = Path(os.path.commonpath([os.path.abspath(p) for p in files]))
        stems = [
            os.path.splitext(os.path.relpath(os.path.abspath(p), root))[0].replace(os.sep, "/")
            for p in files
        ]
    items = []
    for path, stem in zip(files, stems, strict=True):
        source = os.path.abspath(path)
        key = os.path.normcase(source) if on == "path" else stem
        meta = dict(rows.get(key, {}))
        model_id = str(meta.pop("id", stem))
        if model_id == "nan":
            model_id = stem
        items.append(_Item(source, model_id, source, meta))
    return items


def _accuracy_norm(metadata: pd.DataFrame) -> pd.Series:
    """Test accuracy normalized per dataset: (p - min p_d) / (max p_d - min p_d) (paper, sec. 3).

    A dataset whose models all have the same accuracy gets 0.5 (neither best nor worst).
    """
    column = next((c for c in ACCURACY_COLUMNS if c in metadata.columns), None)
    if column is None or len(metadata) == 0:
        return pd.Series(np.nan, index=metadata.index, dtype=float)
    p = pd.to_numeric(metadata[column], errors="coerce").astype(float)
    if "dataset" in metadata.columns:
        groups = metadata["dataset"].astype(object).where(metadata["dataset"].notna(), "")
    else:
        groups = pd.Series("", index=metadata.index)
    lo = p.groupby(groups).transform("min")
    hi = p.groupby(groups).transform("max")
    span = hi - lo
    norm = (p - lo) / span.where(span > 0)
    return norm.where(~((span == 0) & p.notna()), 0.5)


# --------------------------------------------------------------------------------------
# The library
# --------------------------------------------------------------------------------------


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
    ) -> None:
        d = np.asarray(descriptors, dtype=np.float32)
        if d.ndim != 3:
            raise ValueError(f"descriptors must be (n, S, B), got shape {d.shape}")
        n = d.shape[0]
        if metadata is None:
            metadata = pd.DataFrame({"id": [str(i) for i in range(n)]})
        if len(metadata) != n:
            raise ValueError(f"metadata has {len(metadata)} rows but there are {n} descriptors")
        self.descriptors = d
        self.metadata = metadata.reset_index(drop=True)
        if "id" not in self.metadata.columns:
            self.metadata.insert(0, "id", [str(i) for i in range(n)])
        self.embedding = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        if self.embedding is not None and self.embedding.shape != (n, 2):
            raise ValueError(f"embedding must be ({n}, 2), got {self.embedding.shape}")
        self.value_range = (
            None if value_range is None else (float(value_range[0]), float(value_range[1]))
        )
        self.errors = errors if errors is not None else _errors_frame()
        self.attrs: dict[str, Any] = dict(attrs or {})
        self._projector: Any = None  # the fitted (PCA, UMAP) pipeline, not saved
        self._neighbors: Any = None  # NearestNeighbors over the vectorized descriptors

    def __len__(self) -> int:
        return self.descriptors.shape[0]

    def __repr__(self) -> str:
        n, s, b = self.descriptors.shape
        proj = "projected" if self.embedding is not None else "not projected"
        failed = f", {len(self.errors)} failed" if len(self.errors) else ""
        return f"ModelLibrary({n} models, descriptors {s}x{b}, {proj}{failed})"

    @property
    def S(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of windows (descriptor rows)."""
        return int(self.descriptors.shape[1])

    @property
    def B(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of histogram bins (descriptor columns)."""
        return int(self.descriptors.shape[2])

    # ----------------------------------------------------------------------------------
    # Building
    # ----------------------------------------------------------------------------------

    @classmethod
    def _build(
        cls,
        items: list[_Item],
        S: int,
        B: int,
        value_range: Any,
        percentiles: tuple[float, float],
        clip: bool,
        nan_policy: str,
        n_jobs: int,
        client: Any,
        in_process: bool,
        batch_size: int | None,
        progress: bool | None,
        errors: list[tuple[str, str]] | None = None,
    ) -> tuple[np.ndarray, pd.DataFrame, tuple[float, float] | None, list[tuple[str, str]]]:
        """Describe ``items``: (descriptors, metadata rows, value range, error records)."""
        from .descriptors import _check_nan_policy, _check_range, _check_shape

        _check_shape(S, B)
        _check_nan_policy(nan_policy)
        errors = list(errors or [])
        show = progress if progress is not None else len(items) > 10
        run = dict(n_jobs=n_jobs, client=client, in_process=in_process, batch_size=batch_size)

        def label(item: _Item) -> str:
            return item.source or item.id

        if isinstance(value_range, str):
            if value_range != "auto":
                raise ValueError(f"value_range must be 'auto' or (lo, hi), got {value_range!r}")
            cap = max(4096, AUTO_RANGE_SAMPLES // max(1, len(items)))
            sampled = _run(
                _sample_batch,
                [it.spec for it in items],
                {"cap": cap},
                desc="value range",
                progress=show,
                **run,
            )
            kept = []
            for item, res in zip(items, sampled, strict=True):
                if res[0] == "ok":
                    kept.append((item, res))
                else:
                    errors.append((label(item), res[1]))
            items = [k[0] for k in kept]
            lo_hi = (
                _pooled_percentiles([r[3] for _, r in kept], [r[2] for _, r in kept], percentiles)
                if kept
                else None
            )
        else:
            lo_hi = _check_range(value_range)
        descriptors, rows = [], []
        if items and lo_hi is not None:
            described = _run(
                _describe_batch,
                [it.spec for it in items],
                {"S": S, "B": B, "value_range": lo_hi, "clip": clip, "nan_policy": nan_policy},
                desc="MI-WD",
                progress=show,
                **run,
            )
            for item, res in zip(items, described, strict=True):
                if res[0] != "ok":
                    errors.append((label(item), res[1]))
                    continue
                descriptors.append(res[1])
                row: dict[str, Any] = {"id": item.id}
                if item.source is not None:
                    row["source"] = item.source
                row.update(item.meta)
                row.setdefault("n_params", int(res[2]))
                rows.append(row)
        d = np.stack(descriptors) if descriptors else np.empty((0, S, B), np.float32)
        return d, pd.DataFrame(rows), lo_hi, errors

    @classmethod
    def _from_items(
        cls,
        items: list[_Item],
        *,
        S: int,
        B: int,
        value_range: Any,
        n_jobs: int,
        client: Any,
        percentiles: tuple[float, float],
        clip: bool,
        nan_policy: str,
        batch_size: int | None,
        progress: bool | None,
        in_process: bool = False,
        errors: list[tuple[str, str]] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> ModelLibrary:
        d, meta, lo_hi, errs = cls._build(
            items,
            S,
            B,
            value_range,
            percentiles,
            clip,
            nan_policy,
            n_jobs,
            client,
            in_process,
            batch_size,
            progress,
            errors,
        )
        if len(meta) == 0:
            meta = pd.DataFrame({"id": pd.Series([], dtype=object)})
        meta["accuracy_norm"] = _accuracy_norm(meta)
        info = {
            "percentiles": list(percentiles) if isinstance(value_range, str) else None,
            "clip": bool(clip),
            "nan_policy": nan_policy,
            **(attrs or {}),
        }
        return cls(d, meta, value_range=lo_hi, errors=_errors_frame(errs), attrs=info)

    @classmethod
    def from_files(
        cls,
        paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike],
        metadata: pd.DataFrame | str | os.PathLike | None = None,
        on: str = "path",
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = "auto",
        n_jobs: int = -1,
        client: Any = None,
        *,
        percentiles: tuple[float, float] = (5.0, 95.0),
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
        files = expand_paths(paths_or_glob)
        if not files:
            raise FileNotFoundError(f"{paths_or_glob}: no model files found")
        table, base = _read_table(metadata)
        items = _file_items(files, table, on, base)
        return cls._from_items(
            items,
            S=S,
            B=B,
            value_range=value_range,
            n_jobs=n_jobs,
            client=client,
            percentiles=percentiles,
            clip=clip,
            nan_policy=nan_policy,
            batch_size=batch_size,
            progress=progress,
        )

    @staticmethod
    def _model_items(
        models: Any, metadata: pd.DataFrame | None, names: Sequence[str] | None
    ) -> list[_Item]:
        if isinstance(models, Mapping) and not _looks_like_state_dict(models):
            # name -> model; a mapping of arrays/tensors is one model (a state dict).
            names = [str(k) for k in models.keys()] if names is None else names
            models = list(models.values())
        elif not isinstance(models, (list, tuple)):
            models = [models]
        models = list(models)
        if names is None:
            names = [f"model{i}" for i in range(len(models))]
        names = [str(n) for n in names]
        if len(names) != len(models):
            raise ValueError(f"got {len(names)} names for {len(models)} models")
        if len(set(names)) != len(names):
            raise ValueError("model names must be unique")
        rows: list[dict[str, Any]] = [{} for _ in models]
        if metadata is not None:
            table = metadata.reset_index(drop=True)
            if "id" in table.columns:
                by_id = {str(r["id"]): r for r in table.to_dict(orient="records")}
                rows = [dict(by_id.get(n, {})) for n in names]
            elif len(table) == len(models):
                rows = table.to_dict(orient="records")
            else:
                raise ValueError(
                    f"metadata has {len(table)} rows and no 'id' column for {len(models)} models"
                )
        items = []
        for name, model, meta in zip(names, models, rows, strict=True):
            meta.pop("id", None)
            items.append(_Item(model, name, None, meta))
        return items

    @classmethod
    def from_models(
        cls,
        models: Any,
        metadata: pd.DataFrame | None = None,
        names: Sequence[str] | None = None,
        S: int = 32,
        B: int = 32,
        value_range: tuple[float, float] | str = "auto",
        *,
        percentiles: tuple[float, float] = (5.0, 95.0),
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
        items = cls._model_items(models, metadata, names)
        return cls._from_items(
            items,
            S=S,
            B=B,
            value_range=value_range,
            n_jobs=1,
            client=None,
            percentiles=percentiles,
            clip=clip,
            nan_policy=nan_policy,
            batch_size=None,
            progress=progress,
            in_process=True,
        )

    @classmethod
    def from_zoo(cls, zoo_dir: str | os.PathLike, **kwargs: Any) -> ModelLibrary:
        """Build a library from a model zoo written by :mod:`miwd_widget.zoo`.

        Reads ``<zoo>/metadata.csv`` (one row per model, ``path`` relative to the zoo) and
        the ``models/*.safetensors`` it names; ``<zoo>/zoo.json`` is kept in
        ``library.attrs["zoo"]``. Keyword arguments go to :meth:`from_files`.

        Examples
        --------
        >>> lib = ModelLibrary.from_zoo("zoos/zoo-2000")  # doctest: +SKIP
        """
        root = Path(zoo_dir)
        table_path = root / "metadata.csv"
        if not table_path.is_file():
            raise FileNotFoundError(f"{root}: not a zoo (no metadata.csv)")
        table = pd.read_csv(table_path, dtype={"id": str})
        if "path" not in table.columns:
            raise ValueError(f"{table_path}: no 'path' column")
        config: dict[str, Any] = {}
        if (root / "zoo.json").is_file():
            config = json.loads((root / "zoo.json").read_text())
        files = [root / p for p in table["path"].astype(str)]
        missing = [str(f) for f in files if not f.is_file()]
        items = _file_items([f for f in files if f.is_file()], table, "path", root.resolve())
        errors = [(m, f"{m}: listed in metadata.csv but the file is missing") for m in missing]
        return cls._from_items(
            items,
            errors=errors,
            attrs={"zoo": config},
            **_build_kwargs(kwargs),
        )

    @classmethod
    def from_nws(
        cls,
        csv_path: str | os.PathLike,
        snapshot: int = 20,
        root: str | os.PathLike | None = None,
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
        **kwargs
            As in :meth:`from_files`.

        Examples
        --------
        >>> lib = ModelLibrary.from_nws("nws/nws_main_test.csv")  # doctest: +SKIP
        """
        csv_path = Path(csv_path)
        if not csv_path.is_file():
            raise FileNotFoundError(f"{csv_path}: NWS CSV not found")
        if not 1 <= int(snapshot) <= 20:
            raise ValueError(f"snapshot must be 1..20, got {snapshot}")
        table = pd.read_csv(csv_path)
        if "path" not in table.columns:
            raise ValueError(f"{csv_path}: no 'path' column (not an NWS CSV)")
        base = Path(root) if root is not None else csv_path.parent
        table = table.rename(columns={"lrate": "lr"})
        for column, codes in NWS_CODES.items():
            if column in table.columns and pd.api.types.is_numeric_dtype(table[column]):
                table[column] = table[column].map(codes).astype(object)
        items, errors = [], []
        for row in table.to_dict(orient="records"):
            folder = Path(str(row["path"]))
            folder = folder if folder.is_absolute() else base / folder
            weights = os.path.abspath(folder / "weights" / f"{int(snapshot):03d}.bin")
            try:
                row.update(_nws_accuracy(folder / "error.bin", int(snapshot)))
            except (OSError, ValueError) as exc:
                errors.append((weights, _error_text(exc)))
                continue
            if not os.path.isfile(weights):
                errors.append((weights, f"{weights}: snapshot file not found"))
                continue
            expected = None
            if "weightn_conv" in row and "weightn_fc" in row:
                expected = int(row["weightn_conv"]) + int(row["weightn_fc"])
            model_id = str(row.get("id", folder.name))
            row.pop("id", None)
            row["snapshot"] = int(snapshot)
            items.append(_Item(("f64", weights, expected), model_id, weights, row))
        return cls._from_items(
            items,
            errors=errors,
            attrs={"nws": {"csv": str(csv_path), "snapshot": snapshot}},
            **_build_kwargs(kwargs),
        )

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
        value_range: Any = self.value_range if self.value_range is not None else "auto"
        percentiles = tuple(self.attrs.get("percentiles") or (5.0, 95.0))
        common = dict(
            S=self.S,
            B=self.B,
            value_range=value_range,
            percentiles=percentiles,
            clip=bool(self.attrs.get("clip", False)),
            nan_policy=str(self.attrs.get("nan_policy", "raise")),
        )
        is_files = isinstance(paths_or_models, (str, os.PathLike)) or (
            isinstance(paths_or_models, (list, tuple))
            and len(paths_or_models) > 0
            and all(isinstance(p, (str, os.PathLike)) for p in paths_or_models)
        )
        if is_files:
            known = (
                set(self.metadata["source"].dropna().map(os.path.normcase))
                if ("source" in self.metadata.columns)
                else set()
            )
            files = [
                f
                for f in expand_paths(paths_or_models)
                if os.path.normcase(os.path.abspath(f)) not in known
            ]
            table, base = _read_table(metadata)
            items = _file_items(files, table, on, base)
            run = dict(n_jobs=n_jobs, client=client, batch_size=batch_size, in_process=False)
        else:
            table = metadata if isinstance(metadata, pd.DataFrame) else _read_table(metadata)[0]
            items = self._model_items(paths_or_models, table, names)
            known_ids = set(self.metadata["id"].astype(str))
            items = [it for it in items if it.id not in known_ids]
            run = dict(n_jobs=1, client=None, batch_size=None, in_process=True)
        if not items:
            return self
        d, meta, lo_hi, errs = self._build(
            items,
            common["S"],
            common["B"],
            common["value_range"],
            common["percentiles"],
            common["clip"],
            common["nan_policy"],
            run["n_jobs"],
            run["client"],
            run["in_process"],
            run["batch_size"],
            progress,
        )
        if self.value_range is None:
            self.value_range = lo_hi
        if errs:
            new_errors = _errors_frame(errs)
            self.errors = (
                new_errors
                if len(self.errors) == 0
                else pd.concat([self.errors, new_errors], ignore_index=True)
            )
        if len(d) == 0:
            return self
        old = self.metadata.drop(columns=["accuracy_norm"], errors="ignore")
        merged = meta if len(old) == 0 else pd.concat([old, meta], ignore_index=True)
        merged["accuracy_norm"] = _accuracy_norm(merged)
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
        return self

    def describe(self, models: Any) -> Any:
        """Descriptors of new models on this library's grid (same S, B, value range).

        Examples
        --------
        >>> lib.describe("new_model.safetensors").shape  # doctest: +SKIP
        (32, 32)
        """
        from .descriptors import describe

        if self.value_range is None:
            raise ValueError("the library has no value_range yet (it holds no models)")
        return describe(
            models,
            S=self.S,
            B=self.B,
            value_range=self.value_range,
            clip=bool(self.attrs.get("clip", False)),
            nan_policy=str(self.attrs.get("nan_policy", "raise")),
        )

    # ----------------------------------------------------------------------------------
    # Saving and loading
    # ----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Save to one Parquet file, atomically.

        Layout: the metadata columns; ``__miwd_descriptor__``, a fixed-size list of S*B
        float32 per row (the descriptor in row-major order); ``__miwd_atlas_x__`` and
        ``__miwd_atlas_y__`` (float32) when projected. The Parquet schema metadata key
        ``miwd`` holds JSON with the format version, S, B, value_range, the errors table,
        ``attrs`` (projection parameters, zoo config). The file is written next to its
        destination and moved into place with ``os.replace``: a crash mid-write leaves any
        previous file intact.

        Returns
        -------
        pathlib.Path
            The written path.

        Examples
        --------
        >>> lib.save("lib.parquet")  # doctest: +SKIP
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from . import __version__

        path = Path(path)
        reserved = [c for c in (DESCRIPTOR_COLUMN, *EMBEDDING_COLUMNS) if c in self.metadata]
        if reserved:
            raise ValueError(f"metadata uses reserved column names {reserved}")
        table = pa.Table.from_pandas(self.metadata, preserve_index=False)
        flat = pa.array(self.descriptors.reshape(-1), type=pa.float32())
        table = table.append_column(
            DESCRIPTOR_COLUMN, pa.FixedSizeListArray.from_arrays(flat, self.S * self.B)
        )
        if self.embedding is not None:
            for j, name in enumerate(EMBEDDING_COLUMNS):
                table = table.append_column(name, pa.array(self.embedding[:, j], pa.float32()))
        info = {
            "format_version": FORMAT_VERSION,
            "miwd_widget_version": __version__,
            "n": len(self),
            "S": self.S,
            "B": self.B,
            "value_range": None if self.value_range is None else list(self.value_range),
            "errors": self.errors[["source", "error"]].astype(str).values.tolist(),
            "attrs": self.attrs,
        }
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[SCHEMA_KEY] = json.dumps(info, default=_json_default).encode()
        table = table.replace_schema_metadata(schema_meta)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                pq.write_table(table, f, compression="zstd")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelLibrary:
        """Load a library written by :meth:`save` (exact round trip).

        The fitted projection is not stored: :meth:`locate` places new models by their
        nearest library models, or refits it with ``placement="transform"``.

        Examples
        --------
        >>> lib = ModelLibrary.load("lib.parquet")  # doctest: +SKIP
        """
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such library file")
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        raw = (table.schema.metadata or {}).get(SCHEMA_KEY)
        if raw is None or DESCRIPTOR_COLUMN not in table.column_names:
            raise ValueError(f"{path}: not a miwd library (no descriptors or 'miwd' metadata)")
        info = json.loads(raw)
        if info.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path}: library format {info['format_version']} is newer than this "
                f"miwd-widget reads ({FORMAT_VERSION}); upgrade miwd-widget"
            )
        S, B = int(info["S"]), int(info["B"])
        column = table.column(DESCRIPTOR_COLUMN).combine_chunks()
        values = column.flatten().to_numpy(zero_copy_only=False)
        descriptors = np.asarray(values, dtype=np.float32).reshape(len(table), S, B)
        embedding = None
        if all(c in table.column_names for c in EMBEDDING_COLUMNS):
            embedding = np.stack(
                [table.column(c).to_numpy().astype(np.float32) for c in EMBEDDING_COLUMNS], 1
            )
        extra = [c for c in (DESCRIPTOR_COLUMN, *EMBEDDING_COLUMNS) if c in table.column_names]
        metadata = table.drop_columns(extra).to_pandas()
        value_range = info.get("value_range")
        return cls(
            descriptors,
            metadata,
            embedding=embedding,
            value_range=None if value_range is None else tuple(value_range),
            errors=_errors_frame(tuple(e) for e in info.get("errors", [])),
            attrs=info.get("attrs") or {},
        )

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
    ) -> ModelLibrary:
        """Project the descriptors to the 2-D atlas (sets ``embedding``); see
        :func:`miwd_widget.projection.project`.

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
        from .projection import project

        params = dict(
            method=method,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            pca_components=pca_components,
            random_state=random_state,
            metric=metric,
        )
        self.embedding, self._projector = project(self.descriptors, **params)
        self.attrs["projection"] = params
        return self

    def _fitted_projector(self, refit: bool) -> Any:
        """The fitted projection; after :meth:`load`, refit (if ``refit``) and checked."""
        from .projection import project

        if self._projector is not None or not refit:
            return self._projector
        params = self.attrs.get("projection")
        if not params or params.get("random_state") is None:
            raise RuntimeError(
                "placement='transform' needs the fitted projection; this library was loaded "
                "without a seeded projection to refit, call project() first"
            )
        embedding, model = project(self.descriptors, **params)
        spread = float(np.ptp(self.embedding, axis=0).max()) or 1.0
        if np.abs(embedding - self.embedding).max() > 1e-3 * spread:
            raise RuntimeError(
                "refitting the projection with its saved parameters did not reproduce the "
                "saved atlas (other umap-learn/numba versions?); use placement='neighbors' "
                "or call project() again"
            )
        self._projector = model
        return model

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
        from .descriptors import _is_single

        d = self.describe(models)
        if _is_single(models):
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
        from sklearn.neighbors import NearestNeighbors

        from .projection import vectorize

        if placement not in ("auto", "transform", "neighbors"):
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
        if self._neighbors is None:
            self._neighbors = NearestNeighbors(metric="euclidean").fit(vectorize(self.descriptors))
        _, neighbor = self._neighbors.kneighbors(q, n_neighbors=k)
        # Exact float64 distances (the search's float32 dot-product trick leaves ~1e-8 noise,
        # so an identical model would not come out at distance 0), re-ranked on them.
        lib_vectors = self.descriptors.reshape(len(self), -1)
        diff = lib_vectors[neighbor].astype(np.float64) - q[:, None, :].astype(np.float64)
        distance = np.sqrt((diff * diff).sum(-1))
        order = np.argsort(distance, axis=1, kind="stable")
        distance = np.take_along_axis(distance, order, 1)
        neighbor = np.take_along_axis(neighbor, order, 1)
        projector = self._fitted_projector(refit=placement == "transform")
        if placement != "neighbors" and projector is not None:
            xy = np.asarray(projector.transform(q), dtype=np.float32)
        else:
            w = 1.0 / np.maximum(distance, 1e-12)
            xy = (w[..., None] * self.embedding[neighbor]).sum(1) / w.sum(1, keepdims=True)
        m = len(q)
        return pd.DataFrame(
            {
                "query": np.repeat(np.arange(m), k),
                "query_name": np.repeat(np.asarray(names, dtype=object), k),
                "x": np.repeat(xy[:, 0], k).astype(np.float32),
                "y": np.repeat(xy[:, 1], k).astype(np.float32),
                "rank": np.tile(np.arange(1, k + 1), m),
                "neighbor": neighbor.reshape(-1),
                "id": self.metadata["id"].to_numpy()[neighbor.reshape(-1)],
                "distance": distance.reshape(-1),
            }
        )

    # ----------------------------------------------------------------------------------
    # Selections
    # ----------------------------------------------------------------------------------

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(
                    f"a boolean selection needs {len(self)} values, got shape {idx.shape}"
                )
            return np.flatnonzero(idx)
        idx = idx.reshape(-1)
        if idx.size == 0:
            return idx.astype(np.int64)
        if idx.dtype.kind not in "iu":
            if idx.dtype.kind == "f" and np.all(np.mod(idx, 1) == 0):
                idx = idx.astype(np.int64)
            else:
                raise IndexError(f"indices must be integers (row positions), got {idx.dtype}")
        bad = idx[(idx < 0) | (idx >= len(self))]
        if bad.size:
            raise IndexError(
                f"indices out of range for a library of {len(self)} models "
                f"(valid 0..{len(self) - 1}): {sorted(set(bad.tolist()))[:10]}"
            )
        return np.unique(idx.astype(np.int64))

    def summarize(self, indices: Any, quantiles: int = 4) -> SelectionSummary:
        """Mean and standard deviation descriptors of a selection and its characteristic values.

        Characteristic values are hyper-parameter values over-represented in the selection:
        ``lift = share_selection / share_library > 1``, sorted by lift (then by share).
        Categorical, boolean and text columns, and numeric columns with at most 12 distinct
        values, are compared value by value; other numeric columns (learning rate,
        accuracies, parameter counts) by the library's ``quantiles`` bins (quartiles by
        default), reported as interval labels such as ``"(0.25, 0.5]"``. Identifier columns
        (id, source, path, seed, cohort) are left out.

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
        idx = self._check_indices(indices)
        grid = dict(
            index=pd.RangeIndex(self.S, name="window"), columns=pd.RangeIndex(self.B, name="bin")
        )
        if idx.size:
            sel = self.descriptors[idx].astype(np.float64)
            mean, std = sel.mean(0), sel.std(0)
        else:
            mean = std = np.full((self.S, self.B), np.nan)
        return SelectionSummary(
            mean=pd.DataFrame(mean, **grid),
            std=pd.DataFrame(std, **grid),
            characteristic=_characteristic(self.metadata, idx, quantiles),
            n=int(idx.size),
        )


def _characteristic(metadata: pd.DataFrame, idx: np.ndarray, quantiles: int) -> pd.DataFrame:
    columns = ["column", "value", "share_selection", "share_library", "lift"]
    rows: list[tuple] = []
    n_lib, n_sel = len(metadata), len(idx)
    if n_sel == 0 or n_lib == 0:
        return pd.DataFrame(columns=columns)
    for name in metadata.columns:
        if name in IDENTIFIER_COLUMNS:
            continue
        try:
            values = _comparable_values(metadata[name], n_lib, quantiles)
            if values is None:
                continue
            lib_share = values.value_counts(dropna=True) / n_lib
            sel_share = values.iloc[idx].value_counts(dropna=True) / n_sel
        except TypeError:  # unhashable cells (lists, dicts): not a hyper-parameter
            continue
        for value, share in sel_share.items():
            lift = share / lib_share[value]
            if lift > 1 + 1e-12:
                rows.append((name, value, float(share), float(lib_share[value]), float(lift)))
    out = pd.DataFrame(rows, columns=columns)
    if len(out):
        out["value"] = out["value"].astype(object)
        out = out.sort_values(
            ["lift", "share_selection"], ascending=False, kind="stable"
        ).reset_index(drop=True)
    return out


def _comparable_values(col: pd.Series, n_lib: int, quantiles: int) -> pd.Series | None:
    """A column as values to count (continuous numbers as quantile-bin labels), or None."""
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if numeric and col.nunique() > 12:
        try:
            binned = pd.qcut(col, q=quantiles, duplicates="drop")
        except ValueError:
            return None
        labels = {iv: f"({iv.left:.3g}, {iv.right:.3g}]" for iv in binned.cat.categories}
        values = binned.map(labels).astype(object)
    else:
        values = col.astype(object)
        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        if not (numeric or categorical or pd.api.types.is_bool_dtype(col)):
            if values.nunique() > max(12, 0.5 * n_lib):
                return None  # free text or names, not a hyper-parameter
    return values.where(col.notna())


def _looks_like_state_dict(mapping: Mapping) -> bool:
    """Whether a mapping is one model (name -> tensor) rather than name -> model."""
    values = list(mapping.values())
    if not values:
        return False
    first = values[0]
    if isinstance(first, np.ndarray):
        return True
    return type(first).__name__ in ("Tensor", "Parameter")


def _build_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of from_files, with its defaults, for from_zoo/from_nws."""
    allowed = {
        "S": 32,
        "B": 32,
        "value_range": "auto",
        "n_jobs": -1,
        "client": None,
        "percentiles": (5.0, 95.0),
        "clip": False,
        "nan_policy": "raise",
        "batch_size": None,
        "progress": None,
    }
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected keyword arguments: {unknown}")
    return {**allowed, **kwargs}


def _nws_accuracy(error_bin: Path, snapshot: int) -> dict[str, float]:
    """Train and test accuracy (0..1) of NWS snapshot ``snapshot`` from its error.bin."""
    if not error_bin.is_file():
        raise FileNotFoundError(f"{error_bin}: error.bin not found")
    err = np.fromfile(error_bin, dtype="<f8")
    if err.size == 0 or err.size % 5:
        raise ValueError(f"{error_bin}: {err.size} float64 values is not rows of 5")
    err = err.reshape(-1, 5)
    exports = err.shape[0]
    row = int(np.round(np.linspace(0, exports - 1, 20))[snapshot - 1])
    return {
        "train_accuracy": float(1.0 - err[row, 1] / 100.0),
        "test_accuracy": float(1.0 - err[row, 3] / 100.0),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class SelectionSummary:
    """What :meth:`ModelLibrary.summarize` returns for a selection."""

    mean: pd.DataFrame  # (S, B) mean descriptor
    std: pd.DataFrame  # (S, B) standard-deviation descriptor
    characteristic: pd.DataFrame  # over-represented hyper-parameter values
    n: int


#: The demo library shipped in the wheel (built by scripts/build_demo_library.py).
DEMO_LIBRARY = "demo_library.parquet"


def load_demo_library() -> ModelLibrary:
    """The demo library shipped with the package: a projected zoo of trained CNNs.

    Built by ``scripts/build_demo_library.py`` from a zoo trained by :mod:`miwd_widget.zoo`
    (its config is in ``library.attrs["zoo"]``); descriptors, metadata and atlas only, no
    weights (so ``source`` is absent and :meth:`ModelLibrary.locate` places new models by
    their nearest library models). Loads offline from the package data.

    Examples
    --------
    >>> lib = load_demo_library()  # doctest: +SKIP
    >>> lib.embedding.shape  # doctest: +SKIP
    (2000, 2)
    """
    from importlib.resources import as_file, files

    resource = files("miwd_widget") / "data" / DEMO_LIBRARY
    if not resource.is_file():
        raise FileNotFoundError(
            f"{resource}: the demo library is not installed; build it with "
            "scripts/build_demo_library.py"
        )
    with as_file(resource) as path:
        return ModelLibrary.load(path)
