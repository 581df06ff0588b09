"""The synced state of the Atlas: its traits and their binary codecs.

js/src/wire/model.ts declares the same traits as ``AtlasTraits`` (tests/widget/test_traits.py
checks that both sides name the same ones, of the same kinds). Binary arrays use the
``{"buffer", "dtype", "shape"}`` codec of :mod:`.codec`; ipywidgets sends each buffer as a
binary frame.

- ``n``, ``coordinates``: the number of models and their (n, 2) atlas positions: float32, or
  above 65,536 models uint16 codes per axis with ``lo`` and ``step`` (half the bytes).
- ``_columns``: ``{name: encoded column}``, every column the views draw or show (parallel
  axes, colour, tooltip): numeric float32 + range + log flag, categorical codes + labels, or
  packed tooltip text (:mod:`.column_transport`).
- ``color`` (column name or ""), ``axes`` (parallel-coordinate columns, accuracy last),
  ``tooltip_columns`` (columns shown on hover): chosen in Python or in the view's menus.
- ``_all_columns``: every metadata column name (the menus offer them; Python sends the
  columns chosen).
- ``_deferred_columns`` (names), ``_text_columns`` (``{name: encoded text column}``): the
  tooltip-only text columns of large libraries, sent after the first paint
  (:mod:`.column_transport`).
- ``selection``: sorted row positions; sent as an int32 buffer, or, above ``n / 32`` and
  16,384 rows, as a bitmask of ``n`` bits (both ways: a lasso of half a million rows is 125 kB, not 2 MB),
  accepted from the front end also as a list; a list of ints in Python. An empty array travels as
  ``"buffer": ""`` (empty base64), never as an empty binary frame.
- ``S``, ``B``, ``value_range``, ``gallery_size``: the gallery's descriptor shape, value
  span and number of images (:mod:`.gallery`).
- ``representation``: what the atlas is laid out on (``library.project(representation=...)``),
  a short label such as ``"miwd (32×32)"`` or ``"stats (K=16)"``, shown above the scatter.
- ``clusters``: named clusters (:mod:`.clusters`: names, sizes, one int32 buffer of rows),
  synced both ways; ``color``/``axes`` ``"(cluster)"`` draw by them.
- ``_located``, ``_neighbors`` / ``neighbors_k``, ``_paths``: the scatter's overlays
  (:mod:`.overlays`): located models, a model's descriptor-space neighbours (and how many a
  click asks for), training paths.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets

from .._positions import PositionError, as_positions
from .clusters import clusters_from_json, clusters_to_json, normalize_clusters
from .codec import array_from_json, array_to_json, quantized_to_json

__all__ = [
    "SELECTION_MASK_ABOVE",
    "SELECTION_MASK_MIN_ROWS",
    "STANDALONE_TRAITS",
    "AtlasTraits",
    "ReceivedRows",
    "SelectionRows",
    "as_selection",
    "coordinates_to_json",
    "ndarray_to_json",
    "selection_from_json",
    "selection_is_bitmask",
    "selection_to_json",
]

#: The synced traits a standalone page needs (the rest is ipywidgets/anywidget plumbing, the
#: neighbours a kernel finds, and the deferral a kernel answers).
STANDALONE_TRAITS = (
    "n",
    "coordinates",
    "_columns",
    "color",
    "axes",
    "tooltip_columns",
    "selection",
    "S",
    "B",
    "value_range",
    "gallery_size",
    "representation",
    "_located",
    "clusters",
    "_all_columns",
    "_paths",
)


#: A selection of more than ``n / SELECTION_MASK_ABOVE`` rows, and more than
#: ``SELECTION_MASK_MIN_ROWS`` (a 64 kB int32 buffer; smaller messages leave at once anyway),
#: travels as a bitmask of ``n`` bits (``n / 8`` bytes, fewer than its 4 bytes a row as int32).
#: Both ends apply the same rule (js/src/wire/codec.ts), so ipywidgets' echo check finds the
#: kernel's encoding of a selection the browser sent identical to it and sends nothing back.
SELECTION_MASK_ABOVE = 32
SELECTION_MASK_MIN_ROWS = 16_384


def selection_is_bitmask(rows: int, n: int) -> bool:
    """Whether a selection of ``rows`` of ``n`` models travels as a bitmask.

    Examples
    --------
    >>> selection_is_bitmask(500_000, 1_000_000), selection_is_bitmask(100, 200)
    (True, False)
    """
    return rows > SELECTION_MASK_MIN_ROWS and rows * SELECTION_MASK_ABOVE > n


class SelectionRows(list):
    """A validated selection: the list of row positions Python code sees (sorted, unique
    ints), which also keeps them as an int64 array for ``n`` models. Sending it to the browser,
    comparing it and validating it again then cost no per-row Python; changing the list in
    place drops the array (it is rebuilt from the list when needed).

    Examples
    --------
    >>> rows = SelectionRows(np.array([1, 4]), n=5)
    >>> rows == [1, 4], isinstance(rows, list), rows.positions().dtype.name
    (True, True, 'int64')
    >>> rows.append(3); rows.positions().tolist()
    [1, 4, 3]
    """

    __slots__ = ("_n", "_positions")

    def __init__(self, positions: np.ndarray, n: int) -> None:
        super().__init__(positions.tolist())
        self._positions: np.ndarray | None = positions
        self._n = n

    def positions(self) -> np.ndarray:
        """The rows as an int64 array (read-only when it is the kept one)."""
        kept = getattr(self, "_positions", None)  # copies (copy.copy, pickle) keep no array
        if kept is None:
            return np.asarray(self, dtype=np.int64)
        kept.flags.writeable = False
        return kept

    def validated_for(self, n: int) -> bool:
        """Whether these are unchanged, validated positions of ``n`` models."""
        return getattr(self, "_positions", None) is not None and self._n == n


def _dropping_positions(name: str) -> Any:
    method = getattr(list, name)

    def mutate(self: SelectionRows, *args: Any, **kwargs: Any) -> Any:
        self._positions = None
        return method(self, *args, **kwargs)

    mutate.__name__ = name
    return mutate


for _mutator in ("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"):
    setattr(SelectionRows, _mutator, _dropping_positions(_mutator))
for _mutator in ("__setitem__", "__delitem__", "__iadd__", "__imul__"):
    setattr(SelectionRows, _mutator, _dropping_positions(_mutator))


def as_selection(value: Any, n: int, name: str = "selection") -> SelectionRows:
    """Row positions of ``n`` models as a validated :class:`SelectionRows` (see
    :func:`~miwd_widget._positions.as_positions`; already validated ones are kept).

    Examples
    --------
    >>> as_selection([3, 1, 3], 5)
    [1, 3]
    """
    if isinstance(value, SelectionRows) and value.validated_for(n):
        return value
    return SelectionRows(as_positions(value, n, name), n)


def selection_to_json(value: Any, widget: Any = None) -> dict[str, Any]:
    """The ``selection`` trait on the wire: an int32 buffer of the rows, or, for a large share
    of ``widget.n`` (:func:`selection_is_bitmask`), a little-endian bitmask of ``n`` bits
    (``"encoding": "bitmask"``).

    Examples
    --------
    >>> selection_to_json([2, 5])["dtype"], selection_to_json([])["buffer"]
    ('int32', '')
    >>> class Widget:
    ...     n = 100_000
    >>> mask = selection_to_json(range(0, 100_000, 2), Widget())
    >>> mask["encoding"], mask["n"], bytes(mask["buffer"][:2])
    ('bitmask', 100000, b'UU')
    """
    rows = value.positions() if isinstance(value, SelectionRows) else np.asarray(value, np.int64)
    n = int(getattr(widget, "n", 0) or 0)
    if selection_is_bitmask(rows.size, n):
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        encoded = array_to_json(np.packbits(mask, bitorder="little"))
        return {**encoded, "encoding": "bitmask", "n": n}
    return array_to_json(rows.astype(np.int32))


class ReceivedRows(np.ndarray):
    """Rows as the browser sent them, before the trait's validator makes them a
    :class:`SelectionRows`; compared by identity only. traitlets compares the value a trait
    holds with each new one (twice here: the received value, then the validated one), and a
    list against an array is an element-wise numpy comparison (35 ms for half a million rows).
    """

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        return self is other

    def __ne__(self, other: object) -> bool:  # type: ignore[override]
        return self is not other

    __hash__ = None  # type: ignore[assignment]


def selection_from_json(value: Any, widget: Any = None) -> np.ndarray:
    """The browser's selection (int32 buffer, bitmask or list) as an array, no per-row Python
    (a :class:`ReceivedRows`).

    Examples
    --------
    >>> selection_from_json(selection_to_json([2, 5])).tolist()
    [2, 5]
    >>> selection_from_json({"buffer": b"\\x01\\x02", "dtype": "uint8", "shape": [2],
    ...                      "encoding": "bitmask", "n": 16}).tolist()
    [0, 9]
    """
    if isinstance(value, dict) and value.get("encoding") == "bitmask":
        bits = array_from_json(value, "selection").reshape(-1)
        n = value.get("n")
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"selection: a bitmask needs its number of bits n, got {n!r}")
        if bits.dtype != np.uint8 or bits.size != (n + 7) // 8:
            raise ValueError(
                f"selection: a bitmask of {n} bits is {(n + 7) // 8} uint8 bytes,"
                f" got {bits.size} {bits.dtype}"
            )
        rows = np.flatnonzero(np.unpackbits(bits, count=n, bitorder="little"))
    else:
        rows = array_from_json(value, "selection").reshape(-1)
    return rows.view(ReceivedRows)


def ndarray_to_json(value: np.ndarray | None, widget: Any = None) -> dict[str, Any] | None:
    """An array trait on the wire (None stays None)."""
    return None if value is None else array_to_json(value)


def coordinates_to_json(value: np.ndarray | None, widget: Any = None) -> dict[str, Any] | None:
    """The atlas positions on the wire: float32, or uint16 codes for large libraries
    (:func:`~.codec.quantized_to_json`: half the bytes, well below a pixel). None stays None.

    Examples
    --------
    >>> coordinates_to_json(np.zeros((3, 2), np.float32))["dtype"]
    'float32'
    """
    return None if value is None else quantized_to_json(value)


class AtlasTraits(anywidget.AnyWidget):
    """The synced traits of :class:`~miwd_widget.Atlas`, and the checks that need only ``n``."""

    n = traitlets.Int(0).tag(sync=True)
    coordinates = traitlets.Instance(np.ndarray, allow_none=True).tag(
        sync=True, to_json=coordinates_to_json
    )
    _columns = traitlets.Dict().tag(sync=True)
    color = traitlets.Unicode("").tag(sync=True)
    axes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Not named `tooltip`: ipywidgets' DOMWidget already syncs a `tooltip` (a string), and
    # its JS view reads it in initialize; a list there broke rendering in JupyterLab.
    tooltip_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Any + a validator (not List(Int)): every input (mask, array, Index) gets one clear error.
    selection = traitlets.Any([]).tag(
        sync=True, to_json=selection_to_json, from_json=selection_from_json
    )
    S = traitlets.Int(0).tag(sync=True)
    B = traitlets.Int(0).tag(sync=True)
    value_range = traitlets.List(traitlets.Float(), allow_none=True).tag(sync=True)
    gallery_size = traitlets.Int(12).tag(sync=True)
    representation = traitlets.Unicode("").tag(sync=True)
    _located = traitlets.Dict().tag(sync=True)
    clusters = traitlets.Any({}).tag(
        sync=True, to_json=clusters_to_json, from_json=clusters_from_json
    )
    _all_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    _neighbors = traitlets.Dict().tag(sync=True)
    neighbors_k = traitlets.Int(10).tag(sync=True)
    _paths = traitlets.Dict().tag(sync=True)
    # Text columns left out of the first `_columns` (large libraries); the browser asks.
    _deferred_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # The deferred columns once sent as tooltip text: their own trait, so that sending them
    # does not send every column of `_columns` again (ipywidgets syncs a Dict whole).
    _text_columns = traitlets.Dict().tag(sync=True)

    @traitlets.validate("selection")
    def _validate_selection(self, proposal: dict[str, Any]) -> SelectionRows:
        try:
            return as_selection(proposal["value"], self.n)
        except PositionError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("clusters")
    def _validate_clusters(self, proposal: dict[str, Any]) -> dict[str, np.ndarray]:
        try:
            return normalize_clusters(proposal["value"], self.n, "clusters")
        except (TypeError, ValueError, PositionError) as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("neighbors_k")
    def _validate_neighbors_k(self, proposal: dict[str, Any]) -> int:
        if int(proposal["value"]) < 1:
            raise traitlets.TraitError(f"neighbors_k: must be >= 1, got {proposal['value']}")
        return int(proposal["value"])
