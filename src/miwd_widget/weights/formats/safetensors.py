"""safetensors files, hand-parsed so that every tensor is read where it lies, by positional
reads (:class:`~miwd_widget.weights.file_array.FileArray`; small files are read whole, into
one read-only buffer).

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

from ..file_array import FileArray, OpenFile
from ..source import Skip, Tensor, WeightReadError, natural_key
from ._base import FileFormat, Items, ReadResult, apply_listed_order

__all__ = ["SAFETENSORS", "safetensors_items"]

#: safetensors dtype -> (numpy dtype of the stored values, Tensor.dtype)
SAFETENSORS_FLOATS = {
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
    # 8-bit floats, as their bit patterns (miwd_widget.weights.dtypes decodes them).
    "F8_E4M3": ("<u1", "float8_e4m3fn"),
    "F8_E5M2": ("<u1", "float8_e5m2"),
    "F8_E4M3FNUZ": ("<u1", "float8_e4m3fnuz"),
    "F8_E5M2FNUZ": ("<u1", "float8_e5m2fnuz"),
}
#: Every other dtype the safetensors library knows: dtype -> (bits per value, report name).
#: They are not read as weights, but a dtype outside this list and SAFETENSORS_FLOATS
#: makes the file invalid, as it does for the library.
SAFETENSORS_OTHERS = {
    "BOOL": (8, "bool"),
    "U8": (8, "uint8"),
    "I8": (8, "int8"),
    "U16": (16, "uint16"),
    "I16": (16, "int16"),
    "U32": (32, "uint32"),
    "I32": (32, "int32"),
    "U64": (64, "uint64"),
    "I64": (64, "int64"),
    "C64": (64, "complex64"),
    "F8_E8M0": (8, "float8_e8m0"),
    "F6_E2M3": (6, "float6_e2m3"),
    "F6_E3M2": (6, "float6_e3m2"),
    "F4": (4, "float4"),
}
#: Integer dtypes, kept as (read-in-place) arrays of their stored shape.
SAFETENSORS_INTEGERS = {
    "BOOL": "?",
    "U8": "<u1",
    "I8": "<i1",
    "U16": "<u2",
    "I16": "<i2",
    "U32": "<u4",
    "I32": "<i4",
    "U64": "<u8",
    "I64": "<i8",
}
MAX_HEADER_BYTES = 100_000_000  # the format's own limit
#: Files up to this size are read whole in one call: one read of a 40 KB file costs less
#: than a read per tensor, and a library of small files opens thousands.
SMALL_FILE_BYTES = 1 << 20


def _is_index(value: Any) -> bool:
    """A JSON non-negative integer (bool is an int subclass in Python, not in JSON)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, key: str, info: Any) -> tuple[str, list[int], int, int, int]:
    """``(dtype, shape, begin, end, bytes)`` of one header entry, validated as the library does."""
    where = f"{path}: corrupt safetensors header: tensor {key!r}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise WeightReadError(f"{where} is not a {{dtype, shape, data_offsets}} object")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype in SAFETENSORS_FLOATS:
        bits = 8 * np.dtype(SAFETENSORS_FLOATS[dtype][0]).itemsize
    elif dtype in SAFETENSORS_OTHERS:
        bits = SAFETENSORS_OTHERS[dtype][0]
    else:
        raise WeightReadError(f"{where} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_index(d) for d in shape):
        raise WeightReadError(f"{where} has shape {shape!r}: not a list of integers >= 0")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_index, offsets))):
        raise WeightReadError(
            f"{where} has data_offsets {offsets!r}: not two integers >= 0 [begin, end]"
        )
    begin, end = offsets
    total_bits = math.prod(shape) * bits
    if total_bits % 8:
        raise WeightReadError(f"{where}: shape {shape} of {dtype} does not fill whole bytes")
    nbytes = total_bits // 8
    if end < begin or end - begin != nbytes:
        raise WeightReadError(
            f"{where} has data_offsets [{begin}, {end}] that do not fit shape {shape} of "
            f"{dtype} ({nbytes:,} bytes)"
        )
    return dtype, shape, begin, end, nbytes


def _header(path: Path, raw: bytes) -> dict[str, Any]:
    """The JSON header, parsed as strictly as the safetensors library parses it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeightReadError(f"{path}: corrupt safetensors header: not UTF-8 ({exc})") from None
    try:
        header = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise WeightReadError(f"{path}: corrupt safetensors header: {exc}") from None
    except RecursionError:
        raise WeightReadError(f"{path}: corrupt safetensors header: nested too deeply") from None
    if not isinstance(header, dict):
        raise WeightReadError(f"{path}: corrupt safetensors header (not a JSON object)")
    return header


def _no_constant(name: str) -> None:
    """JSON has no NaN/Infinity (Python's json accepts them, serde does not)."""
    raise ValueError(f"{name} is not JSON")


def safetensors_items(path: Path) -> tuple[Items, dict[str, Any]]:
    """The items of one safetensors file, read in place, (file key order) and its metadata.

    The header is checked as the safetensors library checks it, before any tensor is
    read: UTF-8 JSON; every entry a known dtype, a shape of integers >= 0 and
    ``data_offsets`` holding exactly that many bytes; the tensors' byte ranges contiguous
    from 0, without gaps or overlaps, ending exactly at the end of the file. Errors name
    the file and the tensor.
    """
    size = path.stat().st_size
    whole, file = None, None
    if size <= SMALL_FILE_BYTES:
        with open(path, "rb") as f:
            whole = f.read(size + 1)
        if len(whole) != size:
            raise WeightReadError(
                f"{path}: changed while it was read ({size:,} bytes listed, {len(whole):,} read)"
            )
    else:
        file = OpenFile(path)  # positional reads, never a map (file_array: no SIGBUS)
        size = file.size
    if size < 8:
        raise WeightReadError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    head = whole[:8] if whole is not None else bytes(file.read(0, 8))
    n_header = int.from_bytes(head, "little")
    if n_header > min(size - 8, MAX_HEADER_BYTES):
        raise WeightReadError(
            f"{path}: not a safetensors file or truncated (header length {n_header:,} "
            f"bytes, file size {size:,})"
        )
    raw = whole[8 : 8 + n_header] if whole is not None else bytes(file.read(8, n_header))
    header = _header(path, raw)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise WeightReadError(
            f"{path}: corrupt safetensors header: __metadata__ must map names to strings"
        )
    entries = {key: _entry(path, key, info) for key, info in header.items()}
    start = 8 + n_header
    # Byte ranges must tile the data section exactly (the library's own rule).
    position = 0
    for key, (_, _, begin, end, _) in sorted(entries.items(), key=lambda kv: kv[1][2:4]):
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else "leaves a gap"
            raise WeightReadError(
                f"{path}: corrupt safetensors header: tensor {key!r} at bytes [{begin}, {end}] "
                f"{what} (expected it to start at {position})"
            )
        if start + end > size:
            raise WeightReadError(
                f"{path}: truncated: tensor {key!r} needs bytes up to {start + end:,} but the "
                f"file has {size:,}"
            )
        position = end
    if start + position < size:
        raise WeightReadError(
            f"{path}: corrupt safetensors file: {size - start - position:,} bytes after the "
            f"last tensor (the header covers {start + position:,} of {size:,} bytes)"
        )
    buffer = np.frombuffer(whole, np.uint8) if whole is not None else None  # read-only

    def stored(begin: int, end: int, dtype: str) -> Any:
        """The bytes [begin, end) of the data section as ``dtype`` values (1-D)."""
        if buffer is not None:
            return buffer[start + begin : start + end].view(np.dtype(dtype))
        n = (end - begin) // np.dtype(dtype).itemsize
        return FileArray(file, start + begin, np.dtype(dtype), (n,))

    items: Items = []
    for key, (dtype, shape, begin, end, nbytes) in entries.items():
        if dtype in SAFETENSORS_INTEGERS and nbytes:
            # Integer tensors are not weights (build_source skips them), but quantized
            # checkpoints pack their weights in them (miwd_widget.weights.quantized).
            ints = stored(begin, end, SAFETENSORS_INTEGERS[dtype])
            items.append((key, ints.reshape(shape)))
            continue
        if dtype not in SAFETENSORS_FLOATS:
            kind = SAFETENSORS_OTHERS[dtype][1]
            why = "not supported" if kind.startswith(("float", "complex")) else "not a weight"
            items.append((key, Skip(f"{kind} tensor is {why}")))
            continue
        numpy_dtype, kind = SAFETENSORS_FLOATS[dtype]
        if nbytes == 0:
            items.append((key, np.empty(0, np.dtype(numpy_dtype))))
        else:
            data = stored(begin, end, numpy_dtype)
            # Tensor dtypes "bfloat16" and "float8_*" mark uint16/uint8 bit patterns.
            items.append((key, Tensor(key, data, kind, tuple(shape))))
    return items, metadata


def read(path: Path) -> ReadResult:
    """Read a safetensors file (tensors read in place, as they are used)."""
    items, metadata = safetensors_items(path)
    if isinstance(metadata, dict) and "order" in metadata:
        items = apply_listed_order(path, items, metadata["order"], "the metadata's")
    else:
        items = sorted(items, key=lambda kv: natural_key(kv[0]))
    return items, [], "safetensors"


SAFETENSORS = FileFormat(
    "safetensors", (".safetensors",), read, "a safetensors file", "safetensors"
)
