"""Library builders: models from files, memory, zoos, NWS, Hugging Face or a table, as parts.

Each builder turns a source of models into :class:`~.parts.LibraryParts`, on a
:class:`~miwd_widget.descriptors.config.DescriptorConfig` and a :class:`~.executor.Runner`
(both from :func:`.options.build_options`): the ``ModelLibrary.from_*`` constructors are
these builders plus ``ModelLibrary.from_parts``. Where the models come from is
:mod:`.sources`; how they are described, :mod:`.build`. The chunked builders are
:func:`.chunked.build_chunked` and :func:`.cnn_zoo.build_cnn_zoo`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..columns import ID, SOURCE
from ..descriptors.config import DescriptorConfig
from .build import accuracy_norm, build, errors_frame
from .executor import Runner
from .options import build_options
from .parts import LibraryParts
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
from .storage import LazyDescriptors

__all__ = [
    "item_parts",
    "file_parts",
    "model_parts",
    "zoo_parts",
    "nws_parts",
    "huggingface_parts",
    "dataframe_parts",
    "new_items",
    "appended",
]

log = logging.getLogger(__name__)


def item_parts(
    items: list[Item],
    config: DescriptorConfig,
    runner: Runner,
    errors: list[tuple[str, str]] | None = None,
    attrs: dict[str, Any] | None = None,
) -> LibraryParts:
    """Describe work items (:mod:`.sources`) into parts: rows in item order, with
    ``accuracy_norm``; failures in ``errors``; the ``"auto"`` range resolved.

    Examples
    --------
    >>> items = [Item(np.linspace(-1, 1, 64), "a", None, {"lr": 0.1})]
    >>> parts = item_parts(items, DescriptorConfig(S=4, B=4), Runner(in_process=True))
    >>> parts.descriptors.shape, parts.metadata.columns.tolist(), parts.config.is_auto
    ((1, 4, 4), ['id', 'lr', 'n_params', 'accuracy_norm'], False)
    """
    built = build(items, config, runner, errors)
    meta = built.metadata
    if len(meta) == 0:
        meta = pd.DataFrame({ID: pd.Series([], dtype=object)})
    meta["accuracy_norm"] = accuracy_norm(meta)
    return LibraryParts(
        built.descriptors,
        meta,
        built.config or config,  # None: no model could be sampled, the range stays "auto"
        errors=errors_frame(built.errors),
        attrs=dict(attrs or {}),
    )


def file_parts(
    paths_or_glob: str | os.PathLike | Iterable[str | os.PathLike],
    metadata: pd.DataFrame | str | os.PathLike | None,
    on: str,
    config: DescriptorConfig,
    runner: Runner,
) -> LibraryParts:
    """Model files (paths, folders searched recursively, glob patterns) and a table joined
    on ``on`` (``"path"`` or ``"id"``); see ``ModelLibrary.from_files``.

    Examples
    --------
    >>> file_parts("models/*.npy", None, "path", DescriptorConfig(), Runner())  # doctest: +SKIP
    """
    files = expand_paths(paths_or_glob, missing="keep")  # bad paths: recorded errors
    if not files:
        raise FileNotFoundError(f"{paths_or_glob}: no model files found")
    table, base = read_table(metadata)
    return item_parts(file_items(files, table, on, base), config, runner)


def model_parts(
    models: Any,
    metadata: pd.DataFrame | None,
    names: Sequence[str] | None,
    config: DescriptorConfig,
    runner: Runner,
) -> LibraryParts:
    """In-memory models, described in this process (they are in its memory: shipping them
    to workers would cost more than the histograms); see ``ModelLibrary.from_models``.

    Examples
    --------
    >>> parts = model_parts([np.arange(16.0)], None, ["a"], DescriptorConfig(S=2, B=2), Runner())
    >>> parts.metadata["id"].tolist()
    ['a']
    """
    items = model_items(models, metadata, names)
    return item_parts(items, config, Runner(in_process=True, progress=runner.progress))


def zoo_parts(
    zoo_dir: str | os.PathLike, snapshots: bool, config: DescriptorConfig, runner: Runner
) -> LibraryParts:
    """A zoo written by :mod:`miwd_widget.zoo` (``zoo.json`` in ``attrs["zoo"]``); see
    ``ModelLibrary.from_zoo``.

    Examples
    --------
    >>> zoo_parts("zoos/zoo-2000", False, DescriptorConfig(), Runner())  # doctest: +SKIP
    """
    items, errors, zoo_config = zoo_items(zoo_dir, snapshots=snapshots)
    return item_parts(items, config, runner, errors=errors, attrs={"zoo": zoo_config})


def nws_parts(
    csv_path: str | os.PathLike,
    snapshot: int,
    root: str | os.PathLike | None,
    snapshots: str | Sequence[int] | None,
    config: DescriptorConfig,
    runner: Runner,
) -> LibraryParts:
    """The NWS dataset's layout (``attrs["nws"]`` records the CSV and snapshots); see
    ``ModelLibrary.from_nws``.

    Examples
    --------
    >>> nws_parts("nws/test.csv", 20, None, None, DescriptorConfig(), Runner())  # doctest: +SKIP
    """
    items, errors = nws_items(csv_path, snapshot, root, snapshots=snapshots)
    attrs: dict[str, Any] = {"nws": {"csv": str(csv_path), "snapshot": snapshot}}
    if snapshots is not None:
        attrs["nws"]["snapshots"] = nws_snapshots(snapshot, snapshots)
    return item_parts(items, config, runner, errors=errors, attrs=attrs)


def huggingface_parts(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    config: DescriptorConfig,
    runner: Runner,
    adapter: str = "weights",
) -> LibraryParts:
    """Hugging Face model folders or hub caches (``~`` expanded; ``attrs["huggingface"]``
    lists them, and ``adapter`` unless it is ``"weights"``); see
    ``ModelLibrary.from_huggingface`` and :mod:`.huggingface`.

    Examples
    --------
    >>> huggingface_parts("~/.cache/huggingface/hub", DescriptorConfig(), Runner())  # doctest: +SKIP
    """
    from .huggingface import huggingface_items

    if isinstance(paths, (str, os.PathLike)):
        paths = os.path.expanduser(paths)
        listed = [str(paths)]
    else:
        paths = [os.path.expanduser(p) for p in paths]
        listed = [str(p) for p in paths]
    items, errors = huggingface_items(paths, adapter)
    attrs: dict[str, Any] = {"huggingface": {"paths": listed}}
    if adapter != "weights":
        attrs["huggingface"]["adapter"] = adapter
    return item_parts(items, config, runner, errors=errors, attrs=attrs)


def dataframe_parts(
    df: pd.DataFrame,
    descriptors: Any,
    value_range: tuple[float, float] | None,
    config: DescriptorConfig | None = None,
    options: dict[str, Any] | None = None,
    *,
    embedding: np.ndarray | None = None,
    attrs: dict[str, Any] | None = None,
    clusters: Any = None,
) -> LibraryParts:
    """A table and descriptors computed elsewhere, checked; see
    ``ModelLibrary.from_dataframe``. ``config`` defaults to the descriptors' S and B, and
    takes the descriptor shortcuts in ``options``; a ``value_range`` (a fixed ``(lo, hi)``,
    never ``"auto"``) replaces its range.

    Raises
    ------
    TypeError, ValueError
        Naming the argument: ``df`` not a DataFrame or with duplicate ids, descriptors of
        the wrong shape or length, not finite, a bad ``value_range``.

    Examples
    --------
    >>> parts = dataframe_parts(pd.DataFrame({"x": [1, 2]}), np.ones((2, 3, 4)), (-1, 1))
    >>> parts.metadata["id"].tolist(), parts.config.S, parts.config.value_range
    (['0', '1'], 3, (-1.0, 1.0))
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
    if config is None:
        config = DescriptorConfig(S=max(d.shape[1], 1), B=max(d.shape[2], 1))
    config = build_options("from_dataframe", config, options, worker_options=False)[0]
    if value_range is not None:
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(
                f"value_range: expected (lo, hi) numbers, got {value_range!r}"
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"value_range: need finite lo < hi, got {value_range!r}")
        config = config.with_range((lo, hi))
    if ID not in meta.columns:
        default_index = isinstance(meta.index, pd.RangeIndex) and meta.index.equals(
            pd.RangeIndex(len(meta))
        )
        index = range(len(meta)) if default_index else meta.index
        meta.insert(0, ID, [str(i) for i in index])
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
    return LibraryParts(
        d.astype(np.float32),
        meta,
        config,
        embedding=embedding,
        clusters=clusters,
        attrs=dict(attrs or {}),
    )


def new_items(
    library_metadata: pd.DataFrame,
    paths_or_models: Any,
    metadata: pd.DataFrame | str | os.PathLike | None,
    on: str,
    names: Sequence[str] | None,
    runner: Runner,
) -> tuple[list[Item], Runner]:
    """The items of ``paths_or_models`` not in a library yet, and the runner to build them.

    Files whose absolute path is already a ``source``, and in-memory models whose name is
    already an ``id``, are left out; in-memory models are built in this process.

    Examples
    --------
    >>> known = pd.DataFrame({"id": ["a"]})
    >>> models = {"a": {"w": np.ones(4)}, "b": {"w": np.ones(4)}}
    >>> items, _ = new_items(known, models, None, "path", None, Runner())
    >>> [it.id for it in items]
    ['b']
    """
    is_files = isinstance(paths_or_models, (str, os.PathLike)) or (
        isinstance(paths_or_models, (list, tuple))
        and len(paths_or_models) > 0
        and all(isinstance(p, (str, os.PathLike)) for p in paths_or_models)
    )
    if is_files:
        known = (
            set(library_metadata[SOURCE].dropna().map(os.path.normcase))
            if SOURCE in library_metadata.columns
            else set()
        )
        found = expand_paths(paths_or_models, missing="keep")
        files = [f for f in found if os.path.normcase(os.path.abspath(f)) not in known]
        log.info("add: %d file(s), %d already in the library", len(found), len(found) - len(files))
        table, base = read_table(metadata)
        return file_items(files, table, on, base), runner
    table = metadata if isinstance(metadata, pd.DataFrame) else read_table(metadata)[0]
    known_ids = set(library_metadata[ID].astype(str))
    items = [it for it in model_items(paths_or_models, table, names) if it.id not in known_ids]
    return items, Runner(in_process=True, progress=runner.progress)


def appended(parts: LibraryParts, new: LibraryParts) -> LibraryParts:
    """``parts`` with the rows and errors of ``new`` (built on its config) appended.

    An ``"auto"`` range still unresolved in ``parts`` (an empty library) becomes the one
    ``new`` resolved. New rows drop the embedding (with a warning if there was one);
    clusters and attrs are kept (new rows are appended: positions stay valid).

    Examples
    --------
    >>> cfg = DescriptorConfig(S=1, B=1, value_range=(0, 1))
    >>> one = LibraryParts(np.ones((1, 1, 1), np.float32), pd.DataFrame({"id": ["a"]}), cfg)
    >>> two = LibraryParts(np.ones((1, 1, 1), np.float32), pd.DataFrame({"id": ["b"]}), cfg)
    >>> appended(one, two).metadata["id"].tolist()
    ['a', 'b']
    """
    config = new.config if parts.config.is_auto else parts.config
    errors = parts.errors if parts.errors is not None else errors_frame()
    if new.errors is not None and len(new.errors):
        errors = (
            new.errors if len(errors) == 0 else pd.concat([errors, new.errors], ignore_index=True)
        )
    if len(new.descriptors) == 0:
        return replace(parts, config=config, errors=errors)
    old = parts.metadata.drop(columns=["accuracy_norm"], errors="ignore")
    meta = new.metadata.drop(columns=["accuracy_norm"], errors="ignore")
    merged = meta if len(old) == 0 else pd.concat([old, meta], ignore_index=True)
    merged["accuracy_norm"] = accuracy_norm(merged)
    d = parts.descriptors
    d = d.load() if isinstance(d, LazyDescriptors) else d  # still in its file
    if parts.embedding is not None:
        warnings.warn(
            f"added {len(new.descriptors)} models: the embedding was dropped, call project() again",
            stacklevel=3,
        )
    return replace(
        parts,
        descriptors=np.concatenate([d, new.descriptors]) if len(d) else new.descriptors,
        metadata=merged.reset_index(drop=True),
        config=config,
        embedding=None,
        errors=errors,
    )
