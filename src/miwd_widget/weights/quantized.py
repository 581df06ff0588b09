"""Quantized checkpoints: recognized, dequantized on the fly where the format is public,
refused by name otherwise.

A quantized checkpoint stores a linear layer's weight as packed integers or 8-bit floats
plus *quantization state* (scales, zero points, group indexes). Describing the stored
tensors as they are would describe the scales, not the weights (a GPTQ layer of 65,536
weights stores 768 fp16 scales). So a reader hands its items to :func:`dequantize_items`,
which replaces each quantized layer by one float32 tensor named ``<module>.weight`` (in the
model's ``[out, in]`` layout, at the place of the packed weight) whose values are computed
block by block when the descriptor reads them (:class:`DequantizedArray`): no layer is
ever materialized whole. The state tensors are reported in ``WeightSource.skipped`` as
``"quantization state of <module>.weight"``.

The method comes from ``quantization_config`` in the ``config.json`` beside the model file
(or AutoGPTQ's ``quantize_config.json``), and is also recognized from tensor names and
dtypes. Dequantized exactly, in float32 (each value is the format's formula evaluated once):

- ``gptq`` (AutoGPTQ / GPTQModel / transformers, 2, 4 or 8 bits): ``qweight`` int32
  ``(in * bits / 32, out)`` packs ``32 / bits`` values along the input dimension, lowest
  bits first; ``qzeros`` int32 ``(groups, out * bits / 32)`` packs along the output
  dimension; ``scales`` ``(groups, out)``; ``g_idx`` ``(in,)`` the group of each input
  (act-order / ``desc_act`` checkpoints permute it; without it, group ``i // group_size``).
  ``w[o, i] = scales[g, o] * (q[i, o] - z[g, o])`` with ``g = g_idx[i]``, where the zero
  point is the stored one plus 1 in the original format (``checkpoint_format`` ``"gptq"``,
  the default) and the stored one in GPTQModel's ``"gptq_v2"``. As AutoGPTQ reads it, the
  ``+ 1`` applies to the unpacked field (a stored 15 of 4 bits is a zero point of 16).
- ``awq`` (AutoAWQ GEMM, 4 bits): ``qweight`` int32 ``(in, out / 8)`` and ``qzeros``
  ``(groups, out / 8)`` pack 8 values along the output dimension in the order
  ``[0, 2, 4, 6, 1, 3, 5, 7]``; ``w[o, i] = (q[i, o] - z[i // group_size, o]) *
  scales[i // group_size, o]``.
- 8-bit floats with scales (``fp8``, ``fbgemm_fp8``, ``compressed-tensors``
  ``float-quantized``, or a float8 ``weight`` beside a ``weight_scale`` without a config):
  ``w = q * s`` with ``s`` per tensor, per output row, or per block of
  ``weight_block_size`` (``weight_scale_inv``, DeepSeek-V3 style).

Refused with a :class:`~miwd_widget.weights.WeightReadError` naming the model and the method:
every other method (bitsandbytes, hqq, eetq, exl2, marlin/bitblas GPTQ formats, GPTQ with 3
bits, AWQ GEMV/Marlin, ...) and any setting these rules do not cover exactly.

Examples
--------
>>> quantization_columns({"quantization_config": {"quant_method": "gptq", "bits": 4}})
{'quant_method': 'gptq', 'quant_bits': 4}
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .dtypes import is_narrow, to_float32
from .file_array import FileArray
from .source import Quantization, Skip, Tensor, WeightReadError

__all__ = [
    "DequantizedArray",
    "dequantize_items",
    "quantization_config",
    "quantization_columns",
    "AWQ_PACK_ORDER",
]

#: AutoAWQ's GEMM packing: nibble k of a packed int32 holds output column 8c + ORDER[k].
AWQ_PACK_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)
#: Values computed at once inside a block (bounds the temporaries, not the result).
COMPUTE_ELEMS = 1 << 18
#: Files beside a model file that may hold its quantization config, in order.
CONFIG_FILES = ("config.json", "quantize_config.json", "quant_config.json")

GPTQ_STATE = ("qzeros", "scales", "g_idx")
BNB_MARKS = (".absmax", ".quant_map", ".quant_state.", ".nested_absmax", ".SCB")


class DequantizedArray:
    """A 1-D float32 array-like whose values are computed from packed tensors when sliced.

    The descriptor engine only slices tensor data and reads ``dtype``, ``itemsize`` and
    ``shape``: this object offers exactly that, over a matrix of ``rows x cols`` values
    (the dequantized ``[out, in]`` weight, flattened row by row) that ``compute_rows(a, b)``
    returns rows ``a:b`` of.

    Examples
    --------
    >>> m = DequantizedArray(2, 3, lambda a, b: np.arange(a * 3, b * 3, dtype=np.float32).reshape(-1, 3))
    >>> m[1:5].tolist(), len(m), m.dtype
    ([1.0, 2.0, 3.0, 4.0], 6, dtype('float32'))
    """

    dtype = np.dtype(np.float32)
    itemsize = 4
    ndim = 1

    def __init__(self, rows: int, cols: int, compute_rows: Callable[[int, int], np.ndarray]):
        self.rows, self.cols = rows, cols
        self.shape = (rows * cols,)
        self._compute = compute_rows

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return 4 * self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("a dequantized tensor is read by slices")
        start, stop, step = key.indices(self.shape[0])
        if stop <= start:
            return np.empty(0, np.float32)
        out = np.empty(stop - start, np.float32)
        rows_at_once = max(1, COMPUTE_ELEMS // max(1, self.cols))
        r = start // self.cols
        pos = start
        while pos < stop:
            r_end = min(self.rows, r + rows_at_once, -(-stop // self.cols))
            values = np.ascontiguousarray(self._compute(r, r_end), np.float32).reshape(-1)
            first = pos - r * self.cols
            take = min(stop - pos, values.shape[0] - first)
            out[pos - start : pos - start + take] = values[first : first + take]
            pos += take
            r = r_end
        return out if step == 1 else out[::step].copy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


# -- configs ------------------------------------------------------------------------------


def quantization_config(model_file: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The quantization config beside ``model_file`` and the file it came from.

    ``config.json``'s ``quantization_config`` first, else AutoGPTQ's ``quantize_config.json``
    (GPTQ unless it names another method) or AutoAWQ's ``quant_config.json``. Files must stay
    in the model's folder (:func:`~miwd_widget.weights.guard.inside_folder`).
    """
    from .guard import inside_folder

    for name in CONFIG_FILES:
        if not (model_file.parent / name).exists():
            continue
        path = inside_folder(model_file, name, "config")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            # Not the weights: an unreadable config is no config (packed tensors without one
            # are still refused, from their names).
            continue
        if not isinstance(data, dict):
            continue
        if name == "config.json":
            found = data.get("quantization_config")
            if isinstance(found, dict):
                return found, str(path)
            continue
        config = dict(data)
        if "quant_method" not in config:
            config["quant_method"] = "awq" if "w_bit" in config else "gptq"
        return config, str(path)
    return None, None


def _bits(config: dict[str, Any]) -> int | None:
    """The bits of one stored weight a quantization config declares, if it does."""
    method = str(config.get("quant_method", "")).lower()
    for key in ("bits", "w_bit", "weight_bits", "nbits"):
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if method in ("fp8", "fbgemm_fp8"):
        return 8
    if method == "bitsandbytes":
        return 4 if config.get("load_in_4bit") else 8 if config.get("load_in_8bit") else None
    if method == "compressed-tensors":
        found = {
            g["weights"].get("num_bits")
            for g in (config.get("config_groups") or {}).values()
            if isinstance(g, dict) and isinstance(g.get("weights"), dict)
        }
        if len(found) == 1 and isinstance(next(iter(found)), int):
            return next(iter(found))
    return None


def quantization_columns(config: dict[str, Any]) -> dict[str, Any]:
    """``quant_method`` and ``quant_bits`` of a model's ``config.json`` (empty if it is not
    quantized): the library columns of a quantized model.

    Examples
    --------
    >>> quantization_columns({"model_type": "llama"})
    {}
    >>> quantization_columns({"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}})
    {'quant_method': 'fp8', 'quant_bits': 8}
    """
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        return {}
    return {"quant_method": str(quant.get("quant_method", "unknown")), "quant_bits": _bits(quant)}


# -- helpers over items -------------------------------------------------------------------


def _shape(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, (np.ndarray, FileArray)):
        return value.shape
    return None


def _ints(label: str, name: str, value: Any, ndim: int) -> np.ndarray | FileArray:
    """An integer tensor of ``ndim`` dimensions, or an error naming it."""
    if (
        not isinstance(value, (np.ndarray, FileArray))
        or value.dtype.kind not in "iu"
        or value.ndim != ndim
    ):
        what = getattr(value, "dtype", type(value).__name__)
        raise WeightReadError(
            f"{label}: {name} is not a {ndim}-D integer tensor as its quantization format "
            f"stores it (got {what} of shape {_shape(value)})"
        )
    return value


def _floats(label: str, name: str, value: Any) -> tuple[np.ndarray, str]:
    """A float tensor's stored values in its stored shape, and its dtype name."""
    if isinstance(value, Tensor) and value.shape is not None:
        return value.data.reshape(value.shape), value.dtype
    if isinstance(value, (np.ndarray, FileArray)) and value.dtype.kind == "f":
        return value, str(value.dtype)
    raise WeightReadError(
        f"{label}: {name} is not a floating-point tensor of known shape, as its quantization "
        "format stores it"
    )


def _as_float32(stored: np.ndarray, dtype: str) -> np.ndarray:
    """Stored values (a slice) as float32: exact for every 16- and 8-bit float."""
    if is_narrow(dtype):
        return to_float32(np.ascontiguousarray(stored).reshape(-1), dtype).reshape(stored.shape)
    return np.asarray(stored, dtype=np.float32)


def _unpack(packed: np.ndarray, bits: int, axis: int) -> np.ndarray:
    """Unsigned ``bits``-bit fields of int32 words, lowest bits first, spread along ``axis``
    (each word becomes ``32 / bits`` consecutive entries of that axis)."""
    words = packed.view(np.uint32)  # logical shifts: the top field of a word is unsigned
    per = 32 // bits
    shifts = np.arange(0, 32, bits, dtype=np.uint32)
    mask = np.uint32((1 << bits) - 1)
    if axis == 0:
        fields = (words[:, None, :] >> shifts[None, :, None]) & mask
        return fields.astype(np.int16).reshape(words.shape[0] * per, words.shape[1])
    fields = (words[:, :, None] >> shifts[None, None, :]) & mask
    return fields.astype(np.int16).reshape(words.shape[0], words.shape[1] * per)


def _refuse(label: str, method: str, why: str) -> WeightReadError:
    return WeightReadError(
        f"{label}: {method} quantization is not supported ({why}); its weights cannot be "
        "described exactly. Dequantize the model with its library and save the float weights"
    )


def _int_setting(label: str, config: dict[str, Any], keys: tuple[str, ...], method: str) -> int:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise _refuse(label, method, f"its config has no integer {keys[0]!r}")


# -- GPTQ and AWQ -------------------------------------------------------------------------


class _RecentLayers:
    """The packed tensors of the few layers read last, in memory.

    GPTQ and AWQ store a layer's weight transposed, so a block of its rows is a block of
    columns of the packed tensors: read from the file (positional reads go by rows), each
    block would read the whole tensor. A layer is read whole once instead; the descriptor's
    threads take blocks in order, so a handful of layers in memory serve them all.
    """

    def __init__(self, size: int = 4) -> None:
        self.size, self.lock = size, threading.Lock()
        self.held: OrderedDict[int, tuple[tuple[Any, ...], tuple[np.ndarray, ...]]]
        self.held = OrderedDict()

    def get(self, arrays: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
        # Keyed by the layer's own tuple, which the entry keeps alive: its id is not reused.
        key = id(arrays)
        with self.lock:
            if key in self.held:
                self.held.move_to_end(key)
                return self.held[key][1]
        loaded = tuple(np.asarray(a) for a in arrays)
        with self.lock:
            self.held[key] = (arrays, loaded)
            while len(self.held) > self.size:
                self.held.popitem(last=False)
        return loaded


_RECENT_LAYERS = _RecentLayers()


def _group_rows(label: str, groups: int, n_in: int, group_size: int, where: str) -> np.ndarray:
    """Group of each input row for contiguous groups of ``group_size`` (-1: one group)."""
    size = n_in if group_size == -1 else group_size
    if size <= 0 or -(-n_in // size) != groups:
        raise WeightReadError(
            f"{label}: {where} has {groups} groups, but {n_in} inputs in groups of "
            f"{group_size} make {-(-n_in // size) if size > 0 else '?'}"
        )
    return np.arange(n_in) // size


def _gptq_layer(
    label: str, prefix: str, lookup: dict[str, Any], bits: int, group_size: int,
    zero_offset: int, desc_act: bool,
) -> DequantizedArray:  # fmt: skip
    qweight = _ints(label, f"{prefix}.qweight", lookup[f"{prefix}.qweight"], 2)
    qzeros = _ints(label, f"{prefix}.qzeros", lookup.get(f"{prefix}.qzeros"), 2)
    scales, scale_dtype = _floats(label, f"{prefix}.scales", lookup.get(f"{prefix}.scales"))
    per = 32 // bits
    n_in, n_out = qweight.shape[0] * per, qweight.shape[1]
    groups = scales.shape[0] if scales.ndim == 2 else -1
    if scales.ndim != 2 or scales.shape[1] != n_out or qzeros.shape != (groups, n_out // per):
        raise WeightReadError(
            f"{label}: {prefix}: GPTQ tensors do not fit together for {bits} bits: qweight "
            f"{qweight.shape}, qzeros {qzeros.shape}, scales {scales.shape} (expected qzeros "
            f"(groups, {n_out // per}) and scales (groups, {n_out}))"
        )
    if f"{prefix}.g_idx" in lookup:
        g_idx = np.asarray(_ints(label, f"{prefix}.g_idx", lookup[f"{prefix}.g_idx"], 1))
        if g_idx.shape[0] != n_in or (n_in and (g_idx.min() < 0 or g_idx.max() >= groups)):
            raise WeightReadError(
                f"{label}: {prefix}.g_idx must give each of the {n_in} inputs a group in "
                f"[0, {groups})"
            )
    elif desc_act:
        raise _refuse(label, "gptq", f"desc_act is set but {prefix}.g_idx is missing")
    else:
        _group_rows(label, groups, n_in, group_size, f"{prefix}.scales")
        g_idx = None

    packed = (qweight, qzeros, scales)

    def rows(o0: int, o1: int) -> np.ndarray:
        qweight, qzeros, scales = _RECENT_LAYERS.get(packed)
        g = (
            _group_rows(label, groups, n_in, group_size, f"{prefix}.scales")
            if g_idx is None
            else g_idx.astype(np.int64)
        )
        c0, c1 = o0 // per, -(-o1 // per)
        q = _unpack(qweight[:, o0:o1], bits, axis=0)  # (in, m)
        z = _unpack(qzeros[:, c0:c1], bits, axis=1)[:, o0 - c0 * per : o1 - c0 * per]
        s = _as_float32(scales[:, o0:o1], scale_dtype)
        w = (q - (z[g] + zero_offset)).astype(np.float32) * s[g]
        return w.T

    return DequantizedArray(n_out, n_in, rows)


def _awq_layer(
    label: str, prefix: str, lookup: dict[str, Any], group_size: int
) -> DequantizedArray:
    qweight = _ints(label, f"{prefix}.qweight", lookup[f"{prefix}.qweight"], 2)
    qzeros = _ints(label, f"{prefix}.qzeros", lookup.get(f"{prefix}.qzeros"), 2)
    scales, scale_dtype = _floats(label, f"{prefix}.scales", lookup.get(f"{prefix}.scales"))
    n_in, n_out = qweight.shape[0], qweight.shape[1] * 8
    groups = scales.shape[0] if scales.ndim == 2 else -1
    if scales.ndim != 2 or scales.shape[1] != n_out or qzeros.shape != (groups, n_out // 8):
        raise WeightReadError(
            f"{label}: {prefix}: AWQ tensors do not fit together: qweight {qweight.shape}, "
            f"qzeros {qzeros.shape}, scales {scales.shape} (expected qzeros (groups, "
            f"{n_out // 8}) and scales (groups, {n_out}))"
        )
    _group_rows(label, groups, n_in, group_size, f"{prefix}.scales")
    # Output column 8c + j sits in nibble k with AWQ_PACK_ORDER[k] == j.
    unorder = np.argsort(AWQ_PACK_ORDER)

    def unpack_columns(packed: np.ndarray) -> np.ndarray:
        fields = _unpack(packed, 4, axis=1).reshape(packed.shape[0], packed.shape[1], 8)
        return fields[:, :, unorder].reshape(packed.shape[0], -1)

    packed = (qweight, qzeros, scales)

    def rows(o0: int, o1: int) -> np.ndarray:
        qweight, qzeros, scales = _RECENT_LAYERS.get(packed)
        c0, c1 = o0 // 8, -(-o1 // 8)
        cut = slice(o0 - c0 * 8, o1 - c0 * 8)
        q = unpack_columns(qweight[:, c0:c1])[:, cut]  # (in, m)
        z = unpack_columns(qzeros[:, c0:c1])[:, cut]
        s = _as_float32(scales[:, o0:o1], scale_dtype)
        group = _group_rows(label, groups, n_in, group_size, f"{prefix}.scales")
        w = (q - z[group]).astype(np.float32) * s[group]
        return w.T

    return DequantizedArray(n_out, n_in, rows)


# -- 8-bit floats -------------------------------------------------------------------------


def _fp8_layer(
    label: str, name: str, weight: Tensor, scale_name: str, scale: Any,
    block: tuple[int, int] | None,
) -> DequantizedArray:  # fmt: skip
    if weight.shape is None or len(weight.shape) != 2:
        raise WeightReadError(f"{label}: {name} is not a 2-D float8 weight (shape {weight.shape})")
    n_out, n_in = weight.shape
    stored, scale_dtype = _floats(label, scale_name, scale)
    data = weight.data
    # Scales stay as stored (memory-mapped) until a block of rows needs them.
    if stored.size == 1:
        kind, stored = "tensor", stored.reshape(1, 1)
    elif stored.shape in ((n_out,), (n_out, 1)):
        kind, stored = "row", stored.reshape(n_out, 1)
    elif block is not None and stored.shape == (-(-n_out // block[0]), -(-n_in // block[1])):
        kind = "block"
    else:
        raise WeightReadError(
            f"{label}: {scale_name} of shape {stored.shape} is not a per-tensor, per-row or "
            f"per-block scale of {name} {weight.shape} (weight_block_size {block})"
        )

    def rows(o0: int, o1: int) -> np.ndarray:
        q = to_float32(data[o0 * n_in : o1 * n_in], weight.dtype).reshape(o1 - o0, n_in)
        if kind == "tensor":
            return q * _as_float32(stored, scale_dtype)
        if kind == "row":
            return q * _as_float32(stored[o0:o1], scale_dtype)
        assert block is not None
        b0, b1 = block
        s = _as_float32(stored[o0 // b0 : -(-o1 // b0)], scale_dtype)
        s = np.repeat(s, b1, axis=1)[:, :n_in]  # (row blocks, in)
        return q * s[np.arange(o0, o1) // b0 - o0 // b0]

    return DequantizedArray(n_out, n_in, rows)


def _is_fp8(value: Any) -> bool:
    return isinstance(value, Tensor) and value.dtype.startswith("float8")


# -- the hook -----------------------------------------------------------------------------


def _replace(
    items: list[tuple[str, Any]],
    layers: dict[str, tuple[str, DequantizedArray]],
    state: dict[str, str],
) -> list[tuple[str, Any]]:
    """Items with each packed weight replaced by its dequantized tensor (same place) and the
    state tensors by Skips naming the weight they belong to."""
    out: list[tuple[str, Any]] = []
    for key, value in items:
        if key in layers:
            name, array = layers[key]
            out.append((name, Tensor(name, array, "float32", (array.rows, array.cols))))
        elif key in state:
            out.append((key, Skip(f"quantization state of {state[key]}")))
        else:
            out.append((key, value))
    return out


def _detect_without_config(label: str, names: set[str]) -> None:
    """Refuse packed layouts that cannot be dequantized without their config."""
    if any(n.endswith((".qweight", ".qzeros")) for n in names):
        raise WeightReadError(
            f"{label}: holds GPTQ/AWQ-style packed weights (qweight/qzeros) but no "
            "quantization_config (config.json or quantize_config.json beside it): without "
            "the method, bits and group size they cannot be dequantized; they are not "
            "described from their scales alone"
        )
    if any(mark in n for n in names for mark in BNB_MARKS):
        raise _refuse(label, "bitsandbytes", "found by its state tensors")
    if any(n.endswith(".weight_scale_inv") for n in names):
        raise _refuse(label, "block-scaled fp8", "weight_scale_inv without weight_block_size")


def dequantize_items(
    label: str, model_file: Path, items: list[tuple[str, Any]], format: str = "safetensors"
) -> tuple[list[tuple[str, Any]], Quantization | None]:
    """A reader's items with quantized layers dequantized (see the module docstring).

    Returns the items unchanged and None for a model that is not quantized. Only
    safetensors files (one or sharded) are dequantized: a quantized checkpoint in another
    ``format`` (a pickled ``.bin``) is refused.

    Raises
    ------
    WeightReadError
        A quantized model this module cannot dequantize exactly (names it and the method).
    """
    lookup = dict(items)
    names = set(lookup)
    config, where = quantization_config(model_file)
    if format not in ("safetensors", "safetensors-sharded"):
        quantized = config is not None or any(
            n.endswith((".qweight", ".qzeros")) or any(mark in n for mark in BNB_MARKS)
            for n in names
        )
        if quantized:
            method = str((config or {}).get("quant_method", "packed")).lower()
            raise _refuse(
                label,
                method,
                f"a quantized checkpoint in {format} format is read only from safetensors files",
            )
        return items, None
    if config is None:
        _detect_without_config(label, names)
        return _scaled_fp8(label, items, lookup, "fp8", None, required=False)
    method = str(config.get("quant_method", "")).lower()
    if method == "gptq":
        return _gptq(label, items, lookup, config)
    if method == "awq":
        return _awq(label, items, lookup, config)
    if method in ("fp8", "fbgemm_fp8"):
        block = config.get("weight_block_size")
        return _scaled_fp8(label, items, lookup, method, _block(label, block), required=True)
    if method == "compressed-tensors":
        return _compressed_tensors(label, items, lookup, config)
    if method == "bitsandbytes":
        kind = (
            f"4-bit {config.get('bnb_4bit_quant_type', 'fp4')}"
            if config.get("load_in_4bit")
            else "8-bit (LLM.int8)"
        )
        raise _refuse(
            label, f"bitsandbytes {kind}", "its stored state is defined by bitsandbytes' "
            "code, not a documented layout this reader can follow exactly"
        )  # fmt: skip
    raise _refuse(label, repr(method or "unnamed"), f"quant_method in {where}")


def _block(label: str, block: Any) -> tuple[int, int] | None:
    if block is None:
        return None
    if (
        isinstance(block, list)
        and len(block) == 2
        and all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in block)
    ):
        return block[0], block[1]
    raise _refuse(label, "fp8", f"weight_block_size {block!r} is not two positive integers")


def _gptq(
    label: str, items: list[tuple[str, Any]], lookup: dict[str, Any], config: dict[str, Any]
) -> tuple[list[tuple[str, Any]], Quantization]:
    bits = _int_setting(label, config, ("bits",), "gptq")
    if bits not in (2, 4, 8):
        raise _refuse(label, f"gptq {bits}-bit", "only 2, 4 and 8 bits pack whole int32 words")
    fmt = str(config.get("checkpoint_format", config.get("format", "gptq"))).lower()
    if config.get("is_marlin_format"):
        fmt = "marlin"
    if fmt not in ("gptq", "gptq_v2"):
        raise _refuse(label, f"gptq (checkpoint_format {fmt!r})", "a kernel-specific layout")
    pack = str(config.get("pack_dtype", "int32")).removeprefix("torch.")
    if pack != "int32":
        raise _refuse(label, f"gptq (pack_dtype {pack})", "only int32 packing is read")
    group_size = _int_setting(label, config, ("group_size",), "gptq")
    desc_act = bool(config.get("desc_act", False))
    offset = 1 if fmt == "gptq" else 0
    prefixes = [k[: -len(".qweight")] for k, _ in items if k.endswith(".qweight")]
    if not prefixes:
        raise WeightReadError(f"{label}: the config says gptq but no tensor is a .qweight")
    layers, state = {}, {}
    for p in prefixes:
        layers[f"{p}.qweight"] = (
            f"{p}.weight",
            _gptq_layer(label, p, lookup, bits, group_size, offset, desc_act),
        )
        state.update({f"{p}.{s}": f"{p}.weight" for s in GPTQ_STATE if f"{p}.{s}" in lookup})
    details = (
        ("group_size", group_size), ("desc_act", desc_act), ("checkpoint_format", fmt),
        ("zero_point_offset", offset),
    )  # fmt: skip
    return _replace(items, layers, state), Quantization("gptq", bits, details)


def _awq(
    label: str, items: list[tuple[str, Any]], lookup: dict[str, Any], config: dict[str, Any]
) -> tuple[list[tuple[str, Any]], Quantization]:
    bits = _int_setting(label, config, ("bits", "w_bit"), "awq")
    version = str(config.get("version") or config.get("format") or "gemm").lower()
    backend = str(config.get("backend") or "autoawq").lower()
    if backend == "llm-awq":  # MIT's original layout: another packing order
        raise _refuse(label, "awq (backend 'llm-awq')", "only AutoAWQ's GEMM layout is read")
    if version != "gemm":
        raise _refuse(label, f"awq (version {version!r})", "only the GEMM layout is read")
    if bits != 4:
        raise _refuse(label, f"awq {bits}-bit", "the GEMM packing order is defined for 4 bits")
    if config.get("zero_point", True) is not True:
        raise _refuse(label, "awq without zero points", "its GEMM layout is not documented")
    group_size = _int_setting(label, config, ("group_size", "q_group_size"), "awq")
    prefixes = [k[: -len(".qweight")] for k, _ in items if k.endswith(".qweight")]
    if not prefixes:
        raise WeightReadError(f"{label}: the config says awq but no tensor is a .qweight")
    layers, state = {}, {}
    for p in prefixes:
        layers[f"{p}.qweight"] = (f"{p}.weight", _awq_layer(label, p, lookup, group_size))
        state.update(
            {f"{p}.{s}": f"{p}.weight" for s in ("qzeros", "scales") if f"{p}.{s}" in lookup}
        )
    details = (("group_size", group_size), ("version", version))
    return _replace(items, layers, state), Quantization("awq", bits, details)


def _scaled_fp8(
    label: str, items: list[tuple[str, Any]], lookup: dict[str, Any], method: str,
    block: tuple[int, int] | None, required: bool,
) -> tuple[list[tuple[str, Any]], Quantization | None]:  # fmt: skip
    """float8 weights with a ``weight_scale`` (``w = q * s``) or, given ``block``, a
    ``weight_scale_inv`` per block (``w = q * s[o // b0, i // b1]``)."""
    layers, state = {}, {}
    for key, value in items:
        if not key.endswith("weight") or not _is_fp8(value):
            continue
        for suffix in ("_scale_inv", "_scale"):
            if key + suffix in lookup:
                if suffix == "_scale_inv" and block is None and method != "fp8":
                    raise _refuse(label, method, f"{key}{suffix} without weight_block_size")
                layers[key] = (
                    key,
                    _fp8_layer(label, key, value, key + suffix, lookup[key + suffix], block),
                )
                state[key + suffix] = key
                break
    if not layers:
        if required:
            raise WeightReadError(
                f"{label}: the config says {method} but no float8 weight has a "
                "weight_scale or weight_scale_inv"
            )
        return items, None
    # The activation scales of static fp8 quantization are not weights either.
    for key in lookup:
        for suffix in (".input_scale", ".output_scale"):
            if key.endswith(suffix) and f"{key[: -len(suffix)]}.weight" in layers:
                state[key] = f"{key[: -len(suffix)]}.weight"
    dtypes = sorted({lookup[k].dtype for k in layers})
    details = (("block", block), ("dtype", ",".join(dtypes)))
    return _replace(items, layers, state), Quantization(method, 8, details)


def _compressed_tensors(
    label: str, items: list[tuple[str, Any]], lookup: dict[str, Any], config: dict[str, Any]
) -> tuple[list[tuple[str, Any]], Quantization | None]:
    groups = [g for g in (config.get("config_groups") or {}).values() if isinstance(g, dict)]
    formats = {str(g.get("format", config.get("format", ""))) for g in groups} or {
        str(config.get("format", ""))
    }
    weights = [g.get("weights") or {} for g in groups]
    floats8 = all(
        isinstance(w, dict) and w.get("type") == "float" and w.get("num_bits") == 8 for w in weights
    )
    if formats != {"float-quantized"} or not weights or not floats8:
        raise _refuse(
            label, f"compressed-tensors (format {', '.join(sorted(formats))})",
            "only float-quantized 8-bit float weights are read",
        )  # fmt: skip
    blocks = {tuple(w["block_structure"]) for w in weights if w.get("block_structure")}
    if len(blocks) > 1:
        raise _refuse(label, "compressed-tensors", f"several block structures {sorted(blocks)}")
    block = _block(label, list(next(iter(blocks)))) if blocks else None
    return _scaled_fp8(label, items, lookup, "compressed-tensors", block, required=True)
