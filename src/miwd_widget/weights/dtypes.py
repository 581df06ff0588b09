"""Narrow floating-point dtypes: 16- and 8-bit floats held as their raw bit patterns.

numpy has float16 but no bfloat16 or float8, so readers keep these tensors as unsigned
integer bit patterns (``uint16``/``uint8``) and tag them with the dtype's name
(:attr:`~miwd_widget.weights.Tensor.dtype`). A 16-bit float has 65,536 patterns and an
8-bit float 256, so a descriptor can count patterns and decode them once, through
:func:`decode_table`. The decoding itself is ml_dtypes', the reference implementation JAX,
TensorFlow and ONNX use; ``float16`` is numpy's own.

Examples
--------
>>> decode_table("bfloat16")[0x3F80], pattern_bits("float8_e4m3fn")
(1.0, 8)
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = [
    "NARROW_FLOATS",
    "pattern_bits",
    "decode_table",
    "to_float32",
    "is_narrow",
    "stored_dtype",
]

#: Narrow float dtype name -> (bits, ml_dtypes attribute or None for numpy's float16).
NARROW_FLOATS: dict[str, tuple[int, str | None]] = {
    "bfloat16": (16, "bfloat16"),
    "float16": (16, None),
    "float8_e4m3fn": (8, "float8_e4m3fn"),
    "float8_e5m2": (8, "float8_e5m2"),
    "float8_e4m3fnuz": (8, "float8_e4m3fnuz"),
    "float8_e5m2fnuz": (8, "float8_e5m2fnuz"),
}


def is_narrow(dtype: str) -> bool:
    """Whether ``dtype`` (a Tensor.dtype name) is held as bit patterns."""
    return dtype in NARROW_FLOATS


def pattern_bits(dtype: str) -> int:
    """Bits of one value of the narrow float ``dtype`` (16 or 8)."""
    return NARROW_FLOATS[dtype][0]


def stored_dtype(dtype: str) -> np.dtype | None:
    """The little-endian numpy dtype a reader keeps a ``dtype`` tensor's stored values in
    (numpy's floats as themselves, the others as bit patterns), or None for other dtypes.

    Examples
    --------
    >>> stored_dtype("bfloat16"), stored_dtype("float16"), stored_dtype("int8")
    (dtype('uint16'), dtype('float16'), None)
    """
    if dtype in ("float16", "float32", "float64"):
        return np.dtype(f"<f{int(dtype[5:]) // 8}")
    if is_narrow(dtype):
        return np.dtype(f"<u{pattern_bits(dtype) // 8}")
    return None


def _numpy_type(dtype: str) -> np.dtype:
    bits, name = NARROW_FLOATS[dtype]
    if name is None:
        return np.dtype(np.float16)
    import ml_dtypes  # lazily: only narrow tensors need it

    return np.dtype(getattr(ml_dtypes, name))


def pattern_view(data: np.ndarray, dtype: str) -> np.ndarray:
    """``data`` (the stored values of a narrow tensor) as unsigned bit patterns, no copy."""
    bits = pattern_bits(dtype)
    return data.view(np.uint16 if bits == 16 else np.uint8)


@cache
def decode_table(dtype: str) -> np.ndarray:
    """float64 value of every bit pattern of ``dtype`` (read-only, 2**bits entries).

    NaN patterns decode to NaN, infinities to +-inf; -0.0 stays -0.0.

    Examples
    --------
    >>> t = decode_table("float8_e5m2")
    >>> t.shape, float(t[0x7C]), bool(np.isnan(t[0x7F]))
    ((256,), inf, True)
    """
    bits = pattern_bits(dtype)
    patterns = np.arange(1 << bits, dtype=np.uint16 if bits == 16 else np.uint8)
    with np.errstate(invalid="ignore"):  # NaN patterns decode to NaN, as they should
        table = patterns.view(_numpy_type(dtype)).astype(np.float64)
    table.flags.writeable = False
    return table


def to_float32(data: np.ndarray, dtype: str) -> np.ndarray:
    """A narrow tensor's values as float32 (exact: every narrow float is a float32).

    Examples
    --------
    >>> to_float32(np.array([0x3F80, 0xC000], np.uint16), "bfloat16").tolist()
    [1.0, -2.0]
    """
    patterns = pattern_view(np.asarray(data), dtype)
    if dtype == "bfloat16":
        # bfloat16 is the high half of a float32: shift the bits into place (no table).
        return (patterns.astype(np.uint32) << 16).view(np.float32)
    return patterns.view(_numpy_type(dtype)).astype(np.float32)
