"""safetensors files, hand-parsed so that every tensor is a read-only memory map.

Order: the JSON list under ``"order"`` in the file's ``__metadata__`` if present (names it
omits follow in natural order), otherwise :func:`~miwd_widget.weights.natural_key` order,
because safetensors stores its keys sorted ("layers.10" would otherwise precede "layers.2").
The safetensors library itself loads tensors into memory, hence the parser.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..source import Skip, Tensor, WeightReadError, natural_key
from ._base import FileFormat, Items, ReadResult, apply_listed_order

__all__ = ["SAFETENSORS", "safetensors_items"]

#: safetensors dtype -> (numpy dtype of the stored values, Tensor.dtype)
SAFETENSORS_FLOATS = {
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
}
#: safetensors dtype -> (bytes per value, name used in reports)
SAFETENSORS_OTHERS = {
    "BOOL": (1, "bool"),
    "U8": (1, "uint8"),
    "I8": (1, "int8"),
    "U16": (2, "uint16"),
    "I16": (2, "int16"),
    "U32": (4, "uint32"),
    "I32": (4, "int32"),
    "U64": (8, "uint64"),
    "I64": (8, "int64"),
    "F8_E4M3": (1, "float8_e4m3"),
    "F8_E5M2": (1, "float8_e5m2"),
}
MAX_HEADER_BYTES = 100_000_000  # the format's own limit


def safetensors_items(path: Path) -> tuple[Items, dict[str, Any]]:
    """Memory-mapped items of one safetensors file (file key order) and its metadata."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightReadError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        n_header = int.from_bytes(head, "little")
        if n_header > min(size - 8, MAX_HEADER_BYTES):
            raise WeightReadError(
                f"{path}: not a safetensors file or truncated (header length {n_header:,} "
                f"bytes, file size {size:,})"
            )
        try:
            header = json.loads(f.read(n_header))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightReadError(f"{path}: corrupt safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise WeightReadError(f"{path}: corrupt safetensors header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    start = 8 + n_header
    buffer = np.memmap(path, dtype=np.uint8, mode="r") if size > start else None
    items: Items = []
    for key, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            count = math.prod(int(s) for s in shape)
        except (KeyError, TypeError, ValueError):
            raise WeightReadError(f"{path}: corrupt safetensors header entry {key!r}") from None
        if dtype in SAFETENSORS_FLOATS:
            stored, kind = SAFETENSORS_FLOATS[dtype]
            itemsize = np.dtype(stored).itemsize
        elif dtype in SAFETENSORS_OTHERS:
            itemsize, kind = SAFETENSORS_OTHERS[dtype]
        else:
            items.append((key, Skip(f"unsupported safetensors dtype {dtype}")))
            continue
        if not 0 <= begin <= end or end - begin != count * itemsize:
            raise WeightReadError(
                f"{path}: corrupt safetensors header: tensor {key!r} has data_offsets "
                f"[{begin}, {end}] that do not fit shape {shape} of {dtype}"
            )
        if start + end > size:
            raise WeightReadError(
                f"{path}: truncated: tensor {key!r} needs bytes up to {start + end:,} but the "
                f"file has {size:,}"
            )
        if dtype not in SAFETENSORS_FLOATS:
            why = "not supported" if kind.startswith("float8") else "not a weight"
            items.append((key, Skip(f"{kind} tensor is {why}")))
        elif count == 0:
            items.append((key, np.empty(0, np.dtype(stored))))
        else:
            data = buffer[start + begin : start + end].view(np.dtype(stored))
            # Tensor dtype "bfloat16" marks the uint16 bit patterns.
            items.append((key, Tensor(key, data, kind)))
    return items, metadata


def read(path: Path) -> ReadResult:
    """Read a safetensors file (memory-mapped)."""
    items, metadata = safetensors_items(path)
    if isinstance(metadata, dict) and "order" in metadata:
        items = apply_listed_order(path, items, metadata["order"], "the metadata's")
    else:
        items = sorted(items, key=lambda kv: natural_key(kv[0]))
    return items, [], "safetensors"


SAFETENSORS = FileFormat(
    "safetensors", (".safetensors",), read, "a safetensors file", "safetensors"
)
