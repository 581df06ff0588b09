"""Sharded checkpoints: a ``*.index.json`` whose ``weight_map`` names tensor -> shard file.

Order: ``metadata["order"]`` if present; else the ``weight_map`` order, unless that is plain
sorted order (as transformers writes it, so it carries no layer order): then natural order.
Shards are read by the format their suffix names, through the ``read_shard`` the registry
passes in (so this module needs no registry: no import cycle); a ``.bin`` shard is a
PyTorch checkpoint, never raw float64.

Confinement: every shard must be a relative path inside the index's folder (no ``..``, not
absolute, no symlink leading out) and a regular file; otherwise the index is refused with
an error naming the index and the entry (:func:`~miwd_widget.weights.guard.inside_folder`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..guard import inside_folder
from ..source import WeightReadError, natural_key
from ._base import Items, ReadResult, Skipped, apply_listed_order
from .safetensors import safetensors_items

__all__ = ["read"]


def read(path: Path, read_shard: Callable[[Path], ReadResult]) -> ReadResult:
    """Read a sharded checkpoint index; ``read_shard`` reads a shard that is not safetensors."""
    try:
        index = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightReadError(f"{path}: not a valid JSON index file: {exc}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise WeightReadError(f"{path}: index file has no 'weight_map' of tensor -> shard file")
    shards: dict[str, dict[str, Any]] = {}
    skipped: Skipped = []
    bad = next(((k, v) for k, v in weight_map.items() if not isinstance(v, str) or not v), None)
    if bad is not None:
        raise WeightReadError(
            f"{path}: weight_map entry {bad[0]!r} names no shard file (got {bad[1]!r})"
        )
    # Check every entry before reading any shard: a refused index reads nothing.
    shard_paths = {
        shard: inside_folder(path, shard, "shard file")
        for shard in dict.fromkeys(weight_map.values())
    }
    for shard, shard_path in shard_paths.items():
        if shard_path.suffix.lower() == ".safetensors":
            shard_items, _ = safetensors_items(shard_path)
        else:
            shard_items, shard_skipped, _ = read_shard(shard_path)
            skipped += shard_skipped
        shards[str(shard)] = dict(shard_items)
    items: Items = []
    for key, shard in weight_map.items():
        if key not in shards[str(shard)]:
            raise WeightReadError(f"{path}: tensor {key!r} is not in its shard {shard!r}")
        items.append((key, shards[str(shard)][key]))
    metadata = index.get("metadata") or {}
    keys = [k for k, _ in items]
    if isinstance(metadata, dict) and "order" in metadata:
        items = apply_listed_order(path, items, metadata["order"], "the index metadata's")
    elif keys == sorted(keys):
        items = sorted(items, key=lambda kv: natural_key(kv[0]))
    all_safetensors = all(str(s).lower().endswith(".safetensors") for s in shards)
    return items, skipped, "safetensors-sharded" if all_safetensors else "sharded"
