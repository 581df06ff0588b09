"""A zoo on disk: the files a run writes, and reading them back to resume.

Layout (``miwd-zoo/2``)::

    zoo.json                    settings, search space, training constants, runs, failures
    metadata.csv                one row per model (the best-validation weights)
    models/<id>.safetensors     those weights, tensors named in layer order
    snapshots.csv               one row per snapshot: id "<model>@e<epoch>", model, epoch, path,
                                val/test/train accuracy, best
    snapshots/<id>/e<epoch>.safetensors

Rows are appended after every training group and each file is written to a temporary name
and renamed, so an interrupted run leaves whole files and at most one torn CSV line, which
:func:`read_table` drops. A group counts as done only when all its rows and files exist.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import EPOCH, MODEL, TRAIN_GROUP
from .network import Layout

__all__ = [
    "FORMAT",
    "METADATA_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "read_table",
    "write_json",
    "save_weights",
    "group_rows",
]

FORMAT = "miwd-zoo/2"
METADATA_COLUMNS = [
    "id",
    "path",
    TRAIN_GROUP,
    "dataset",
    "lr",
    "batch_size",
    "augmentation",
    "optimizer",
    "activation",
    "initialization",
    "filter_size",
    "depth_conv",
    "depth_fc",
    "width_conv",
    "width_fc",
    "test_accuracy",
    "train_accuracy",
    "val_accuracy",
    "epochs",
    "best_epoch",
    "n_params",
    "seed",
    "diverged",
]
SNAPSHOT_COLUMNS = [
    "id",
    MODEL,
    EPOCH,
    "path",
    "val_accuracy",
    "test_accuracy",
    "train_accuracy",
    "best",
]
_INT_COLUMNS = {
    "batch_size", "filter_size", "depth_conv", "depth_fc", "width_conv", "width_fc",
    "epochs", "best_epoch", "n_params", "seed", TRAIN_GROUP, EPOCH,
}  # fmt: skip
_BOOL_COLUMNS = {"augmentation", "diverged", "best"}
_NULLABLE = {"train_accuracy"}  # NaN at initialization: no training batch seen yet


def read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read a zoo CSV, dropping a torn or incomplete row (an interrupted append).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metadata.csv"
    >>> read_table(p, ["id", "path"]).shape
    (0, 2)
    """
    try:
        df = pd.read_csv(path, dtype={"id": str, "path": str, MODEL: str}, on_bad_lines="skip")
    except (pd.errors.EmptyDataError, FileNotFoundError):
        return pd.DataFrame(columns=columns)
    df = df.reindex(columns=columns)
    required = [c for c in columns if c not in _NULLABLE]
    df = df.dropna(subset=required)
    for col in columns:
        if col in _INT_COLUMNS:
            df[col] = df[col].astype(np.int64)
        elif col in _BOOL_COLUMNS:
            df[col] = df[col].astype(str).str.lower().eq("true")
    return df.reset_index(drop=True)


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def save_weights(path: Path, layout: Layout, flat: np.ndarray, info: dict[str, Any]) -> None:
    """One model's flat weights as a safetensors file, tensors named in layer order."""
    from safetensors.numpy import save_file

    tensors = layout.split(flat)
    meta = {"order": json.dumps(list(tensors)), "format": FORMAT}
    meta["config"] = json.dumps({k: v for k, v in info.items() if k != "path"}, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def snapshot_path(model_id: str, epoch: int) -> str:
    """Zoo-relative path of a snapshot file."""
    return f"snapshots/{model_id}/e{epoch:03d}.safetensors"


def write_group(out: Path, result: Any) -> tuple[list[dict], list[dict]]:
    """Write a trained group's model and snapshot files; return their CSV rows."""
    layout = result.layout
    meta_rows, snap_rows = [], []
    for g, row in enumerate(result.rows):
        row = {**row, "path": f"models/{row['id']}.safetensors"}
        save_weights(out / row["path"], layout, result.best[g], row)
        meta_rows.append(row)
        for epoch, weights, val, test, train, taken in result.snapshots:
            if not taken[g] and epoch > 0:
                continue  # the model had stopped: its weights did not change
            path = snapshot_path(row["id"], epoch)
            save_weights(out / path, layout, weights[g], {"id": row["id"], EPOCH: epoch})
            snap_rows.append(
                {
                    "id": f"{row['id']}@e{epoch:03d}",
                    MODEL: row["id"],
                    EPOCH: epoch,
                    "path": path,
                    "val_accuracy": float(val[g]),
                    "test_accuracy": float(test[g]),
                    "train_accuracy": float(train[g]),
                    "best": epoch == row["best_epoch"],
                }
            )
    return meta_rows, snap_rows


def group_rows(configs: pd.DataFrame) -> list[list[dict]]:
    """The sampled configs as one list of rows per training group, in group order."""
    return [g.to_dict("records") for _, g in configs.groupby(TRAIN_GROUP, sort=True)]


def finished_groups(out: Path, configs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metadata and snapshot rows of groups whose rows and files all exist.

    A group cut short by an interruption is dropped here and trained again.
    """
    meta = read_table(out / "metadata.csv", METADATA_COLUMNS)
    snaps = read_table(out / "snapshots.csv", SNAPSHOT_COLUMNS)
    meta = meta[meta["id"].isin(configs["id"])]
    if len(meta):
        meta = meta[[(out / p).is_file() for p in meta["path"]]]
        snap_ok = snaps[[(out / p).is_file() for p in snaps["path"]]] if len(snaps) else snaps
        has_snaps = set(snap_ok[MODEL]) if len(snap_ok) else set()
        meta = meta[meta["id"].isin(has_snaps)]
        sizes = configs.groupby(TRAIN_GROUP).size()
        counts = meta.groupby(TRAIN_GROUP).size()
        whole = counts[counts == sizes.reindex(counts.index)].index
        meta = meta[meta[TRAIN_GROUP].isin(whole)]
    snaps = snaps[snaps[MODEL].isin(meta["id"])] if len(snaps) else snaps
    return meta.reset_index(drop=True), snaps.reset_index(drop=True)
