"""Which metadata columns an Atlas sends to the browser, how, and when.

The browser holds the columns its views draw or show (axes, colour, tooltip). Drawn columns
are encoded as values or categories (:func:`~.codec.encode_column`); columns only shown in
the tooltip that are neither numbers nor categoricals (ids, paths: one label per row) travel
as packed UTF-8 text (:func:`~.codec.encode_text`), with no factorizing.

A column chosen later (from Python or the view's menus) is sent when chosen. Deferred text
columns: a library of more than :data:`DEFERRED_TEXT_ROWS` models leaves its tooltip-only
text columns (9 MB of ids at 1,000,000 models) out of the first ``_columns``;
``_deferred_columns`` names them. After its first frame (or on the first hover or CSV
download) the browser asks with a :class:`~.messages.ColumnsRequest`; the columns go into
``_text_columns`` (a trait of its own, so that the update carries only them, not every
column of ``_columns`` again) and leave ``_deferred_columns``, in one update (names not
deferred are ignored). A deferred column added to the tooltip again is sent the same way at
once; one chosen as an axis or the colour goes into ``_columns``, encoded as drawn. The
browser's columns are ``_columns`` overlaid on ``_text_columns`` (``_columns`` wins: the
drawn encoding). If no answer comes (no kernel), the CSV download waits at most 10 s and then
saves without the missing columns. ``save_html`` pages hold every column in ``_columns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .clusters import CLUSTER_COLUMN
from .codec import encode_column, encode_text

if TYPE_CHECKING:
    from .messages import ColumnsRequest
    from .traits import AtlasTraits

__all__ = [
    "DEFERRED_TEXT_ROWS",
    "encode_for_view",
    "first_columns",
    "is_text",
    "requested_columns",
    "send_columns",
    "send_missing_columns",
]

#: Above this many models the tooltip-only text columns (ids, paths) are sent after the first
#: paint, when the browser asks: at 1,000,000 models the ids are 9 of the 33 MB of the first
#: state and delay the first frame; below it they are small (2 MB at 200,000) and sent with it.
DEFERRED_TEXT_ROWS = 200_000


def is_text(series: pd.Series, drawn: bool) -> bool:
    """Whether a column travels as packed text: shown only in the tooltip, and neither a
    number nor a categorical (ids, paths: one label per row, not worth factorizing).

    Examples
    --------
    >>> is_text(pd.Series(["a", "b"]), drawn=False), is_text(pd.Series(["a", "b"]), drawn=True)
    (True, False)
    """
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return not (drawn or numeric or isinstance(series.dtype, pd.CategoricalDtype))


def encode_for_view(series: pd.Series, drawn: bool) -> dict[str, Any]:
    """A column encoded as the browser needs it: as drawn, or as tooltip text.

    Examples
    --------
    >>> encode_for_view(pd.Series(["a", "b"]), drawn=False)["kind"]
    'text'
    """
    return encode_text(series) if is_text(series, drawn) else encode_column(series)


def _drawn(axes: Sequence[str], color: str) -> list[str]:
    return [*axes, *([color] if color else [])]


def first_columns(
    meta: pd.DataFrame, color: str, axes: Sequence[str], tooltip: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """The first ``_columns`` and ``_deferred_columns`` of an atlas.

    ``"(cluster)"`` is never sent: the browser builds it from the clusters.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["m0", "m1"], "lr": [0.1, 0.01]})
    >>> columns, deferred = first_columns(meta, "lr", [], ["id", "lr"])
    >>> {name: column["kind"] for name, column in columns.items()}, deferred
    ({'lr': 'numeric', 'id': 'text'}, [])
    """
    drawn = set(_drawn(axes, color))
    needed = dict.fromkeys([*_drawn(axes, color), *tooltip])
    sent = [name for name in needed if name != CLUSTER_COLUMN]
    deferred = (
        [name for name in sent if is_text(meta[name], name in drawn)]
        if len(meta) > DEFERRED_TEXT_ROWS
        else []
    )
    columns = {
        name: encode_for_view(meta[name], name in drawn) for name in sent if name not in deferred
    }
    return columns, deferred


def _held_kind(state: AtlasTraits, name: str) -> str | None:
    """The kind of the column ``name`` the browser holds (None: not sent). ``_columns``
    wins over ``_text_columns``, as in the browser: it is the drawn encoding."""
    column = state._columns.get(name, state._text_columns.get(name))
    return None if column is None else str(column.get("kind"))


def send_missing_columns(
    state: AtlasTraits, meta: pd.DataFrame, change: dict[str, Any], initial: bool
) -> None:
    """After a change of ``color``, ``axes`` or ``tooltip_columns`` (from Python or from the
    view's menus): send the chosen columns the browser does not hold yet, or holds only as
    tooltip text when they are now drawn. Deferred ones wait for the browser's request unless
    drawn, or added to the tooltip after the atlas was made (then they are sent at once;
    ``initial``: the change is the atlas being made).
    """
    added_to_tooltip = (
        set(change["new"]) - set(change["old"] or ())
        if change["name"] == "tooltip_columns" and not initial
        else set()
    )
    drawn = set(_drawn(state.axes, state.color))
    wanted = dict.fromkeys([*_drawn(state.axes, state.color), *state.tooltip_columns])
    deferred = set(state._deferred_columns)
    chosen = drawn | set(added_to_tooltip)
    missing = []
    for name in wanted:
        if name == CLUSTER_COLUMN:
            continue
        kind = _held_kind(state, name)
        if (kind is None and (name not in deferred or name in chosen)) or (
            name in drawn and kind == "text"
        ):
            missing.append(name)
    send_columns(state, meta, missing)


def send_columns(state: AtlasTraits, meta: pd.DataFrame, names: Sequence[str]) -> None:
    """Send the columns ``names`` (encoded as drawn or as tooltip text); none deferred after.

    Deferred columns sent as text go into ``_text_columns``, the others into ``_columns``;
    only the traits that change are in the update.
    """
    drawn = set(_drawn(state.axes, state.color))
    deferred = set(state._deferred_columns)
    added = {name: encode_for_view(meta[name], name in drawn) for name in names}
    text = {k: v for k, v in added.items() if k in deferred and v["kind"] == "text"}
    other = {k: v for k, v in added.items() if k not in text}
    with state.hold_sync():  # one update: the browser sees the columns and the list agree
        if other:
            state._columns = {**state._columns, **other}
        if text:
            state._text_columns = {**state._text_columns, **text}
        if deferred & set(added):
            state._deferred_columns = [c for c in state._deferred_columns if c not in added]


def requested_columns(message: ColumnsRequest, deferred: Sequence[str]) -> list[str]:
    """The deferred columns a request asks for; other names (unknown, sent) are ignored.

    Examples
    --------
    >>> requested_columns({"type": "columns", "names": ["id", "nope"]}, ["path", "id"])
    ['id']
    >>> requested_columns({"type": "columns", "names": "id"}, ["id"])  # not a list
    []
    """
    names = message.get("names")
    if not isinstance(names, list):
        return []
    asked = {name for name in names if isinstance(name, str)}
    return [name for name in deferred if name in asked]
