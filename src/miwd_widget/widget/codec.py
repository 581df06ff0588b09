"""Binary encodings of arrays and table columns for the widget's synced state.

An ndarray travels as ``{"buffer": memoryview, "dtype": str, "shape": [..]}``: ipywidgets
lifts every memoryview out of the JSON state into a binary frame, so numbers never become
JSON lists. A table column travels as one of (see :func:`encode_column`):

- ``numeric``: floats as float32; integers exactly: spanning fewer than 2**16 values (in
  columns of more than 65,536 rows) as uint8/uint16 codes counted from ``offset`` (0 when
  absent), else int32 where they fit, else
  float64 (exact up to 2**53), else int64/uint64 (the browser keeps them as BigInt64Array);
  missing values are NaN, or a uint8 ``missing`` mask for int32/int64 values;
- ``datetime``: epoch milliseconds (UTC) as float64, NaT as NaN, plus the time zone;
- ``categorical``: dictionary codes (uint8/uint16/uint32) plus the sorted category labels
  (strings, booleans, categories); a missing value has its own label, at index ``missing``;
- ``text`` (tooltip-only columns): one label per row, packed.

The {buffer, dtype, shape} codec was kept over Arrow IPC: these few dtypes need no Arrow
decoder in the front-end bundle, and the columns stay zero-copy typed-array views.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "array_to_json",
    "array_from_json",
    "quantized_to_json",
    "encode_column",
    "encode_text",
    "pack_labels",
    "unpack_labels",
    "decode_column",
    "state_to_base64",
    "MISSING_LABEL",
]

# Dtypes the front end views as JS typed arrays (int64/uint64 as BigInt64Array/BigUint64Array).
_SUPPORTED = {
    "uint8",
    "uint16",
    "uint32",
    "int8",
    "int16",
    "int32",
    "float32",
    "float64",
    "int64",
    "uint64",
}
MISSING_LABEL = "(missing)"
# A positive numeric column spanning at least this many decades gets a log axis.
LOG_DECADES = 2.0
# Hyper-parameters usually sampled log-uniformly: positive columns of these names get a log
# axis even when they span fewer decades (a learning rate in [2e-4, 5e-3] spans 1.4).
LOG_SCALE_NAMES = frozenset(
    {
        "lr",
        "learning_rate",
        "learningrate",
        "base_lr",
        "max_lr",
        "min_lr",
        "weight_decay",
        "wd",
        "l1reg",
        "l2reg",
        "l1_reg",
        "l2_reg",
        "l2",
        "l2_penalty",
        "init_std",
        "eps",
        "epsilon",
        "adam_eps",
    }
)
# Identifiers (random seeds, ids, group numbers) span decades without being magnitudes: the
# decades rule leaves them linear (log=True or log_columns still apply).
_IDENTIFIER_NAMES = frozenset({"seed", "id", "idx", "index", "run", "group", "train_group"})
_IDENTIFIER_SUFFIXES = ("_seed", "_id", "_idx", "_index", "_group")
# More category labels than this travel packed (one UTF-8 buffer), not as a JSON list.
MAX_JSON_LABELS = 1000
# Arrays of more rows than this travel in narrower codes: integer columns as uint8/uint16 when
# their span allows (a megabyte per million rows instead of four), atlas positions as uint16
# (:func:`quantized_to_json`); smaller ones keep int32/float32, where the saving is a few
# kilobytes and the plain values are easier to read on the wire.
NARROW_ABOVE_ROWS = 65_536
_INT32 = np.iinfo(np.int32)
_EXACT_DOUBLE = 2**53  # every integer up to this magnitude is exact as a float64 (JS number)
_EXACT_FLOAT = 2**24  # ... and as a float32


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


def quantized_to_json(array: np.ndarray) -> dict[str, Any]:
    """Finite float positions (n, d) as uint16 codes per column: ``lo + code * step``.

    For drawing, not for exact values: the error is at most half a step, 1/131,070 of each
    column's span (for the atlas, 0.004 px of a 460 px scatter; a point moves by a pixel only
    beyond a 100x zoom). Arrays of :data:`NARROW_ABOVE_ROWS` rows or fewer, and arrays with
    missing values, travel as float32 (:func:`array_to_json`).

    Examples
    --------
    >>> positions = np.linspace(0, 1, 200_000).reshape(-1, 2)
    >>> enc = quantized_to_json(positions)
    >>> enc["dtype"], enc["shape"], enc["lo"][0], round(enc["step"][0] * 65_535, 4)
    ('uint16', [100000, 2], 0.0, 1.0)
    >>> bool(np.abs(array_from_json(enc) - positions).max() <= 0.5 / 65_535 + 1e-7)
    True
    """
    values = np.asarray(array, dtype=np.float64)
    if values.ndim != 2 or len(values) <= NARROW_ABOVE_ROWS or not np.isfinite(values).all():
        return array_to_json(np.asarray(array, dtype=np.float32))
    lo, hi = values.min(axis=0), values.max(axis=0)
    step = np.where(hi > lo, (hi - lo) / 65_535, 1.0)
    codes = np.rint((values - lo) / step).astype(np.uint16)
    return {**array_to_json(codes), "lo": lo.tolist(), "step": step.tolist()}


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
        if "step" in value:  # quantized positions (quantized_to_json)
            return (value["lo"] + arr.reshape(shape) * np.asarray(value["step"])).astype(np.float32)
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


def _wants_log(series: pd.Series, lo: float, hi: float, log: bool | None) -> bool:
    """The log-axis rule: positive values, and (asked for, or a known name, or 2+ decades)."""
    name = str(series.name) if series.name is not None else "column"
    if log is not None:
        if log and not lo > 0:
            raise ValueError(f"column {name!r}: a log scale needs positive values (min {lo})")
        return bool(log)
    if not lo > 0:
        return False
    listed = series.attrs.get("log_columns")  # e.g. metadata.attrs["log_columns"] = ["lr"]
    if isinstance(listed, str):
        listed = [listed]
    if listed is not None and series.name in listed:
        return True
    # The last part of dotted/slashed names: "optimizer.lr" and "train/lr" are learning rates.
    short = name.lower().replace("/", ".").replace(":", ".").rsplit(".", 1)[-1]
    if short in LOG_SCALE_NAMES:
        return True
    if short in _IDENTIFIER_NAMES or short.endswith(_IDENTIFIER_SUFFIXES):
        return False
    return bool(np.log10(hi / lo) >= LOG_DECADES)


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def _encode_datetime(series: pd.Series) -> dict[str, Any]:
    tz = getattr(series.dt, "tz", None)
    utc = series.dt.tz_convert(None) if tz is not None else series  # naive UTC wall times
    raw = utc.to_numpy(dtype="datetime64[ms]")  # sub-millisecond precision is dropped
    ms = raw.astype(np.int64).astype(np.float64)
    ms[np.isnat(raw)] = np.nan
    lo, hi = _range(ms)
    return {
        "kind": "datetime",
        "values": array_to_json(ms),
        "min": lo,
        "max": hi,
        "log": False,
        # Shown in this zone (IANA name); naive times are shown as they are (as UTC).
        "tz": None if tz is None else str(tz),
    }


def _narrow_integers(
    exact: np.ndarray, missing: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, int] | None:
    """Integers spanning fewer than 2**16 values as uint8/uint16 codes and the offset they
    count from (0 when the values fit as they are): a batch size of 32-256 is one byte a row,
    not four. Only within int32 (the decoded values are int32) and for columns of more than
    :data:`NARROW_ABOVE_ROWS` rows. None: int32 or wider."""
    if exact.size <= NARROW_ABOVE_ROWS or lo < _INT32.min or hi > _INT32.max:
        return None
    for dtype in (np.uint8, np.uint16):
        top = int(np.iinfo(dtype).max)
        if hi - lo > top:
            continue
        offset = 0 if lo >= 0 and hi <= top else lo
        shifted = exact if offset == 0 else exact - np.asarray(offset, dtype=exact.dtype)
        codes = shifted.astype(dtype)
        if missing.size:
            codes[missing] = 0  # a missing row's placeholder, whatever its offset
        return codes, offset
    return None


def _encode_integers(series: pd.Series, log: bool | None) -> dict[str, Any]:
    unsigned = pd.api.types.is_unsigned_integer_dtype(series)
    wide = np.uint64 if unsigned else np.int64
    if isinstance(series.dtype, np.dtype):  # numpy integers cannot be missing: no mask work
        exact = series.to_numpy().astype(wide, copy=False)
        missing = np.zeros(0, dtype=bool)
        present = exact
    else:  # nullable Int64/UInt8...: pd.NA marks the missing rows
        missing = series.isna().to_numpy(dtype=bool)
        exact = series.to_numpy(dtype=wide, na_value=0)
        present = exact[~missing]
    lo_int = int(present.min()) if present.size else 0
    hi_int = int(present.max()) if present.size else 0
    encoded: dict[str, Any] = {"kind": "numeric", "integer": True, "min": float(lo_int)}
    encoded["max"] = float(hi_int)
    encoded["log"] = _wants_log(series, float(lo_int) if present.size else 0.0, float(hi_int), log)
    narrow = _narrow_integers(exact, missing, lo_int, hi_int)
    if narrow is not None:
        values: np.ndarray = narrow[0]
        if narrow[1]:
            encoded["offset"] = narrow[1]
    elif _INT32.min <= lo_int and hi_int <= _INT32.max:
        values = exact.astype(np.int32)
    elif -_EXACT_DOUBLE <= lo_int and hi_int <= _EXACT_DOUBLE:
        values = exact.astype(np.float64)  # exact: missing values can be NaN, no mask
        if missing.size:
            values[missing] = np.nan
        missing = np.zeros(0, dtype=bool)
    elif unsigned and hi_int > np.iinfo(np.int64).max:
        values = exact
    else:
        values = exact.astype(np.int64)
    encoded["values"] = array_to_json(values)
    if missing.any():
        encoded["missing"] = array_to_json(missing.astype(np.uint8))
    return encoded


def encode_column(series: pd.Series, log: bool | None = None) -> dict[str, Any]:
    """Encode one metadata column for the browser.

    Numeric columns travel with their range and a ``log`` flag: floats as float32 (NaN =
    missing), integers exactly (uint8/uint16 codes and an ``offset`` when they span fewer than
    2**16 values, else int32 where they fit, else float64 up to 2**53, else int64/uint64; see
    the module docstring). Datetimes travel as epoch milliseconds
    (``kind="datetime"``). Everything else (strings, booleans, categories) is
    dictionary-encoded: small integer codes plus the category labels, sorted; missing values
    get the label ``"(missing)"``, whose index is ``missing``.

    A positive column gets a log axis when ``log=True``, when its name is in
    ``series.attrs["log_columns"]`` (pandas copies a DataFrame's attrs to its columns), when
    its name is a hyper-parameter usually sampled log-uniformly (:data:`LOG_SCALE_NAMES`:
    ``lr``, ``weight_decay``, ...) or when it spans at least :data:`LOG_DECADES` decades
    and is not an identifier (``seed``, ``id``, ``*_id``...).
    ``log=False`` forces a linear axis.

    Examples
    --------
    >>> enc = encode_column(pd.Series(["sgd", "adam", "sgd"]))
    >>> enc["kind"], enc["categories"], array_from_json(enc["codes"]).tolist()
    ('categorical', ['adam', 'sgd'], [1, 0, 1])
    >>> encode_column(pd.Series([1e-4, 1e-2, 1e-1]))["log"]
    True
    >>> encode_column(pd.Series([2e-4, 5e-3], name="lr"))["log"]  # 1.4 decades, but a rate
    True
    >>> array_from_json(encode_column(pd.Series([123456789]))["values"]).tolist()
    [123456789]
    >>> enc = encode_column(pd.Series([32, 256, 64] * 30_000))
    >>> enc["values"]["dtype"], enc["offset"], decode_column(enc)[:3].tolist()
    ('uint8', 32, [32, 256, 64])
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return _encode_datetime(series)
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return _encode_integers(series, log)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        lo, hi = _range(values)
        encoded = {"kind": "numeric", "min": lo, "max": hi, "log": _wants_log(series, lo, hi, log)}
        finite = values[np.isfinite(values)]
        # Integers stored as floats (pandas' NaN promotion of an integer column) beyond
        # float32's exact range keep every digit as float64; other floats go as float32.
        big = finite.size and max(abs(lo), abs(hi)) > _EXACT_FLOAT
        if big and np.array_equal(finite, np.round(finite)):
            encoded["values"] = array_to_json(values)
            encoded["integer"] = True
        else:
            encoded["values"] = array_to_json(values.astype(np.float32))
            encoded["integer"] = False
        return encoded
    try:
        codes, uniques = pd.factorize(series, sort=True)  # vectorized; NaN -> -1
    except TypeError:  # mixed types that do not sort: order by their text
        codes, uniques = pd.factorize(series.map(lambda v: v if pd.isna(v) else str(v)), sort=True)
    if len(uniques) > MAX_JSON_LABELS and pd.api.types.is_string_dtype(uniques.dtype):
        labels = uniques.astype(str).tolist()  # strings already: no per-label Python
    else:
        labels = [_category_label(u) for u in uniques]
    missing = codes < 0
    encoded: dict[str, Any] = {"kind": "categorical"}
    if missing.any():
        codes = codes.copy()
        codes[missing] = len(labels)
        # The index says which code is missing: a real "(missing)" string is not.
        encoded["missing"] = len(labels)
        labels.append(MISSING_LABEL)
    encoded["codes"] = array_to_json(codes.astype(_codes_dtype(len(labels))))
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
    """Invert :func:`encode_column` / :func:`encode_text`.

    Numeric columns give their values (float32, or integers exactly: an integer array, or
    float64 with NaN for missing values up to 2**53, else an object array of ints and
    None); datetimes give ``datetime64[ms]`` in UTC with NaT; the others an object array
    of labels.

    Examples
    --------
    >>> decode_column(encode_column(pd.Series(["b", None, "a"]))).tolist()
    ['b', '(missing)', 'a']
    >>> decode_column(encode_column(pd.Series([2**60 + 1, None], dtype="Int64"))).tolist()
    [1152921504606846977, None]
    """
    kind = encoded["kind"]
    if kind == "datetime":
        ms = array_from_json(encoded["values"])
        out = np.full(ms.shape, np.datetime64("NaT"), dtype="datetime64[ms]")
        present = np.isfinite(ms)
        out[present] = ms[present].astype(np.int64).astype("datetime64[ms]")
        return out
    if kind == "numeric":
        values = array_from_json(encoded["values"])
        if values.dtype.kind == "u" and values.dtype.itemsize <= 2:  # narrow integer codes
            values = values.astype(np.int32) + int(encoded.get("offset", 0))
        if "missing" not in encoded:
            return values
        missing = array_from_json(encoded["missing"]).astype(bool)
        if values.dtype.kind in "iu" and values.dtype.itemsize <= 4:
            out = values.astype(np.float64)
            out[missing] = np.nan
            return out
        return np.array(
            [None if m else int(v) for v, m in zip(values, missing, strict=True)], dtype=object
        )
    if kind == "text":
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
