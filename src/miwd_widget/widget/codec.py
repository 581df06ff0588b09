"""Binary encodings of arrays and table columns for the widget's synced state.

An ndarray travels as ``{"buffer": memoryview, "dtype": str, "shape": [..]}``: ipywidgets
lifts every memoryview out of the JSON state into a binary frame, so numbers never become
JSON lists. A table column travels as either a float32 numeric array or dictionary-encoded
categorical codes (uint8/uint16/uint32) plus the list of category labels.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "array_to_json",
    "array_from_json",
    "encode_column",
    "encode_text",
    "pack_labels",
    "unpack_labels",
    "decode_column",
    "state_to_base64",
    "MISSING_LABEL",
]

# Dtypes the front end can view without conversion (JS typed arrays; no int64/float64 on
# purpose: WebGL and Int32 selection indices are all we need).
_SUPPORTED = {"uint8", "uint16", "uint32", "int8", "int16", "int32", "float32"}
MISSING_LABEL = "(missing)"
LOG_DECADES = 1.5
# More category labels than this travel packed (one UTF-8 buffer), not as a JSON list.
MAX_JSON_LABELS = (
    1000  # a positive numeric column spanning more than this many decades gets a log axis
)


def array_to_json(array: Any, dtype: str | None = None) -> dict[str, Any]:
    """Encode an array as ``{"buffer": memoryview, "dtype", "shape"}`` without JSON lists.

    Examples
    --------
    >>> enc = array_to_json(np.arange(3), "int32")
    >>> enc["dtype"], enc["shape"], bytes(enc["buffer"]) == np.arange(3, dtype="int32").tobytes()
    ('int32', [3], True)
    """
    arr = np.ascontiguousarray(array if dtype is None else np.asarray(array, dtype=dtype))
    if arr.dtype.name not in _SUPPORTED:
        raise TypeError(f"cannot send dtype {arr.dtype} to the browser; use one of {_SUPPORTED}")
    if arr.size == 0:
        # An empty binary frame breaks JupyterLab's widget state deserialization; an empty
        # array travels as empty base64 text instead (both ends decode it).
        return {"buffer": "", "dtype": arr.dtype.name, "shape": list(arr.shape)}
    # A flat byte view of the (C-contiguous) data: no copy, and a single binary frame.
    view = memoryview(arr.reshape(-1)).cast("B")
    return {"buffer": view, "dtype": arr.dtype.name, "shape": list(arr.shape)}


def array_from_json(value: Any, name: str = "array") -> np.ndarray:
    """Decode what :func:`array_to_json` (or the front end) produced; also accepts a list.

    Examples
    --------
    >>> array_from_json(array_to_json(np.array([1.5, 2.0], np.float32))).tolist()
    [1.5, 2.0]
    >>> array_from_json([3, 1]).tolist()
    [3, 1]
    """
    if isinstance(value, dict):
        try:
            buffer, dtype, shape = value["buffer"], value["dtype"], value["shape"]
        except KeyError as err:
            raise ValueError(f"{name}: encoded array lacks key {err}") from None
        if dtype not in _SUPPORTED:
            raise ValueError(f"{name}: unsupported dtype {dtype!r}")
        if isinstance(buffer, str):  # base64 (standalone HTML state)
            buffer = base64.b64decode(buffer)
        arr = np.frombuffer(memoryview(buffer), dtype=dtype)
        expected = int(np.prod(shape)) if len(shape) else 1
        if arr.size != expected:
            raise ValueError(
                f"{name}: buffer holds {arr.size} values, shape {shape} needs {expected}"
            )
        return arr.reshape(shape)
    if value is None:
        return np.zeros(0)
    return np.asarray(value)


def _codes_dtype(n_categories: int) -> str:
    if n_categories <= 1 << 8:
        return "uint8"
    if n_categories <= 1 << 16:
        return "uint16"
    return "uint32"


def _category_label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def encode_column(series: pd.Series) -> dict[str, Any]:
    """Encode one metadata column for the browser.

    Numeric columns become float32 (NaN = missing) with their range and a ``log`` flag for
    positive columns spanning more than 1.5 decades (learning rates). Everything else
    (strings, booleans, categories) is dictionary-encoded: small integer codes plus the
    category labels, sorted; missing values get the label ``"(missing)"``.

    Examples
    --------
    >>> enc = encode_column(pd.Series(["sgd", "adam", "sgd"]))
    >>> enc["kind"], enc["categories"], array_from_json(enc["codes"]).tolist()
    ('categorical', ['adam', 'sgd'], [1, 0, 1])
    >>> encode_column(pd.Series([1e-4, 1e-2, 1e-1]))["log"]
    True
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 0.0
        log = bool(finite.size and lo > 0 and np.log10(hi / lo) > LOG_DECADES)
        return {
            "kind": "numeric",
            "values": array_to_json(values.astype(np.float32)),
            "min": lo,
            "max": hi,
            "log": log,
        }
    try:
        codes, uniques = pd.factorize(series, sort=True)  # vectorized; NaN -> -1
    except TypeError:  # mixed types that do not sort: order by their text
        codes, uniques = pd.factorize(series.map(lambda v: v if pd.isna(v) else str(v)), sort=True)
    if len(uniques) > MAX_JSON_LABELS and pd.api.types.is_string_dtype(uniques.dtype):
        labels = uniques.astype(str).tolist()  # strings already: no per-label Python
    else:
        labels = [_category_label(u) for u in uniques]
    missing = codes < 0
    if missing.any():
        codes = codes.copy()
        codes[missing] = len(labels)
        labels.append(MISSING_LABEL)
    encoded: dict[str, Any] = {
        "kind": "categorical",
        "codes": array_to_json(codes.astype(_codes_dtype(len(labels)))),
    }
    if len(labels) > MAX_JSON_LABELS:
        encoded["labels"] = pack_labels(labels)
    else:
        encoded["categories"] = labels
    return encoded


def pack_labels(labels: list[str]) -> dict[str, Any]:
    """Many strings as one binary buffer: UTF-8, separated by NUL (a NUL inside becomes U+FFFD).

    Examples
    --------
    >>> unpack_labels(pack_labels(["a", "b c", ""]))
    ['a', 'b c', '']
    >>> unpack_labels(pack_labels(["a" + chr(0) + "b"])) == ["a\ufffdb"]
    True
    """
    text = "\0".join(labels)
    if text.count("\0") != max(len(labels) - 1, 0):
        text = "\0".join(label.replace("\0", "\ufffd") for label in labels)
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return {"text": array_to_json(data), "count": len(labels)}


def unpack_labels(packed: dict[str, Any]) -> list[str]:
    """Invert :func:`pack_labels`."""
    if packed["count"] == 0:
        return []
    return bytes(array_from_json(packed["text"])).decode("utf-8").split("\0")


def encode_text(series: pd.Series) -> dict[str, Any]:
    """A text column as one label per row (no factorizing): ``{"kind": "text", "labels"}``.

    For columns only shown in the tooltip (ids, paths): a million unique ids are packed in
    one buffer instead of sorted categories plus a JSON list. Missing values are
    ``"(missing)"``; non-strings are shown as text.

    Examples
    --------
    >>> decode_column(encode_text(pd.Series(["m1", None, "m0"]))).tolist()
    ['m1', '(missing)', 'm0']
    """
    filled = series.where(series.notna(), MISSING_LABEL)
    if pd.api.types.is_string_dtype(filled.dtype) and not pd.api.types.is_object_dtype(
        filled.dtype
    ):
        labels = filled.tolist()
    else:
        labels = [v if isinstance(v, str) else _category_label(v) for v in filled.tolist()]
    return {"kind": "text", "labels": pack_labels(labels)}


def decode_column(encoded: dict[str, Any]) -> np.ndarray:
    """Invert :func:`encode_column`: float32 values or an object array of labels.

    Examples
    --------
    >>> decode_column(encode_column(pd.Series(["b", None, "a"]))).tolist()
    ['b', '(missing)', 'a']
    """
    if encoded["kind"] == "numeric":
        return array_from_json(encoded["values"])
    if encoded["kind"] == "text":
        return np.asarray(unpack_labels(encoded["labels"]), dtype=object)
    codes = array_from_json(encoded["codes"])
    labels = encoded["categories"] if "categories" in encoded else unpack_labels(encoded["labels"])
    return np.asarray(labels, dtype=object)[codes]


def state_to_base64(value: Any) -> Any:
    """Copy a JSON state replacing every binary buffer by its base64 text (for save_html).

    Examples
    --------
    >>> state_to_base64({"a": [memoryview(b"hi")]})
    {'a': ['aGk=']}
    """
    if isinstance(value, memoryview | bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: state_to_base64(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [state_to_base64(v) for v in value]
    return value
