"""A library on disk: one Parquet file with metadata, descriptors and atlas coordinates."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .build import errors_frame
from .compare import named_clusters

if TYPE_CHECKING:
    from .model_library import ModelLibrary

__all__ = ["save", "load", "FORMAT_VERSION", "DESCRIPTOR_COLUMN", "EMBEDDING_COLUMNS"]

#: Version of the Parquet layout written by :func:`save`.
FORMAT_VERSION = 1

#: Reserved Parquet column names (metadata columns must not use them).
DESCRIPTOR_COLUMN = "__miwd_descriptor__"
EMBEDDING_COLUMNS = ("__miwd_atlas_x__", "__miwd_atlas_y__")
SCHEMA_KEY = b"miwd"


def save(library: ModelLibrary, path: str | os.PathLike) -> Path:
    """Save ``library`` to one Parquet file, atomically.

    Layout: the metadata columns; ``__miwd_descriptor__``, a fixed-size list of S*B
    float32 per row (the descriptor in row-major order); ``__miwd_atlas_x__`` and
    ``__miwd_atlas_y__`` (float32) when projected. The Parquet schema metadata key
    ``miwd`` holds JSON with the format version, S, B, value_range, the errors table,
    ``attrs`` (projection parameters, zoo config) and ``clusters`` ({name: [row positions]}).
    The file is written next to its destination and moved into place with ``os.replace``: a
    crash mid-write leaves any previous file intact.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> save(lib, "lib.parquet")  # doctest: +SKIP
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .. import __version__

    path = Path(path)
    reserved = [c for c in (DESCRIPTOR_COLUMN, *EMBEDDING_COLUMNS) if c in library.metadata]
    if reserved:
        raise ValueError(f"metadata uses reserved column names {reserved}")
    table = pa.Table.from_pandas(library.metadata, preserve_index=False)
    flat = pa.array(library.descriptors.reshape(-1), type=pa.float32())
    table = table.append_column(
        DESCRIPTOR_COLUMN, pa.FixedSizeListArray.from_arrays(flat, library.S * library.B)
    )
    if library.embedding is not None:
        for j, name in enumerate(EMBEDDING_COLUMNS):
            table = table.append_column(name, pa.array(library.embedding[:, j], pa.float32()))
    info = {
        "format_version": FORMAT_VERSION,
        "miwd_widget_version": __version__,
        "n": len(library),
        "S": library.S,
        "B": library.B,
        "value_range": None if library.value_range is None else list(library.value_range),
        "errors": library.errors[["source", "error"]].astype(str).values.tolist(),
        "attrs": library.attrs,
        # named clusters as {name: [positions]}: validated (and names made strings) on the way
        "clusters": {
            name: rows.tolist()
            for name, rows in named_clusters(library.clusters, len(library)).items()
        },
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


def load(path: str | os.PathLike) -> dict[str, Any]:
    """The constructor arguments of a library written by :func:`save` (exact round trip).

    The fitted projection is not stored: :meth:`locate` places new models by their
    nearest library models, or refits it with ``placement="transform"``.

    Examples
    --------
    >>> ModelLibrary(**load("lib.parquet"))  # doctest: +SKIP
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
    return dict(
        descriptors=descriptors,
        metadata=metadata,
        embedding=embedding,
        value_range=None if value_range is None else tuple(value_range),
        errors=errors_frame(tuple(e) for e in info.get("errors", [])),
        attrs=info.get("attrs") or {},
        clusters=_loaded_clusters(info.get("clusters"), len(table), path),
    )


def _loaded_clusters(raw: Any, n: int, path: Path) -> dict[str, np.ndarray]:
    """The saved clusters (files written before clusters were saved have none)."""
    if not raw:
        return {}
    try:
        return named_clusters(raw, n)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{path}: the saved clusters are not valid ({exc})") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
