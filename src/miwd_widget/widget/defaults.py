"""What an Atlas shows when not told: its colour, parallel axes and tooltip columns.

The paper's libraries get the paper's choices (colour by the normalized accuracy; dataset,
lr, batch_size, optimizer, activation, initialization as axes); a generic library gets its
first accuracy- or loss-like column as colour and its low-cardinality or numeric
hyper-parameter columns as axes. Names given are checked against the metadata here too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd
import traitlets

from ..columns import ACCURACY_COLUMNS, hyperparameter_columns
from .clusters import CLUSTER_COLUMN

__all__ = [
    "ACCURACY_PREFERENCE",
    "check_view_columns",
    "DEFAULT_AXES",
    "DEFAULT_COLOR",
    "resolve_axes",
    "resolve_color",
    "resolve_tooltip",
    "resolve_view",
]

#: The default colour: the normalized accuracy, else the first accuracy- or loss-like column.
DEFAULT_COLOR = "accuracy_norm"
#: Colour / last-axis preference: the normalized accuracy, then the raw ones.
ACCURACY_PREFERENCE = (DEFAULT_COLOR, *ACCURACY_COLUMNS)
#: The paper's hyper-parameters, in the paper's order.
DEFAULT_AXES = ("dataset", "lr", "batch_size", "optimizer", "activation", "initialization")
# A generic library's axes: columns with at most this many values (or numeric), at most 6.
_MAX_AUTO_CATEGORIES = 50
_MAX_AUTO_AXES = 6
# A generic library's colour: the first numeric column whose name says accuracy or loss.
_SCORE_WORDS = ("acc", "loss", "score", "error")


def resolve_color(color: str | None, meta: pd.DataFrame) -> str:
    """The colour column: ``color`` if present, the default's fallbacks, or "" (one colour).

    Examples
    --------
    >>> meta = pd.DataFrame({"test_accuracy": [0.5, 0.9], "lr": [0.1, 0.01]})
    >>> resolve_color(DEFAULT_COLOR, meta), resolve_color(None, meta), resolve_color("lr", meta)
    ('test_accuracy', '', 'lr')
    """
    if color is None or color == "":
        return ""
    if color in meta.columns:
        return color
    if color == DEFAULT_COLOR:
        numeric = [
            c
            for c in meta.columns
            if pd.api.types.is_numeric_dtype(meta[c])
            and not pd.api.types.is_bool_dtype(meta[c])
            and meta[c].notna().any()
        ]
        for alt in ACCURACY_PREFERENCE:
            if alt in numeric:
                return alt
        for c in numeric:
            if any(word in str(c).lower() for word in _SCORE_WORDS):
                return str(c)
        return ""
    raise ValueError(
        f"color: no metadata column {color!r}; available: {', '.join(map(str, meta.columns))}"
    )


def resolve_axes(
    axes: Sequence[str] | None, meta: pd.DataFrame, extra: Collection[str] = ()
) -> list[str]:
    """The parallel axes: ``axes`` (or the defaults), each once, the accuracy last.

    ``extra`` names columns that are not metadata but may be axes (``"(cluster)"``).

    Examples
    --------
    >>> meta = pd.DataFrame({"test_accuracy": [0.5], "lr": [0.1], "optimizer": ["sgd"]})
    >>> resolve_axes(None, meta), resolve_axes(["test_accuracy", "lr", "lr"], meta)
    (['lr', 'optimizer', 'test_accuracy'], ['lr', 'test_accuracy'])
    """
    accuracy = next((c for c in ACCURACY_PREFERENCE if c in meta.columns), None)
    if axes is None:
        chosen = [c for c in DEFAULT_AXES if c in meta.columns]
        if not chosen:  # a generic library: low-cardinality or numeric columns
            for c in hyperparameter_columns(meta.columns):
                col = meta[c]
                if not col.notna().any():
                    continue  # an all-missing column draws nothing
                numeric = pd.api.types.is_numeric_dtype(col)
                if numeric or col.nunique() <= _MAX_AUTO_CATEGORIES:
                    chosen.append(c)
                if len(chosen) == _MAX_AUTO_AXES:
                    break
    else:
        if isinstance(axes, str):
            raise TypeError("axes: expected a list of column names, not a single string")
        chosen = list(axes)
        missing = [c for c in chosen if c not in meta.columns and c not in extra]
        if missing:
            raise ValueError(
                f"axes: no metadata column(s) {missing}; "
                f"available: {', '.join(map(str, meta.columns))}"
            )
    chosen = list(dict.fromkeys(chosen))
    if accuracy is not None:
        chosen = [c for c in chosen if c != accuracy] + [accuracy]
    return chosen


def resolve_tooltip(
    tooltip: Sequence[str] | None, meta: pd.DataFrame, axes: Sequence[str], color: str
) -> list[str]:
    """The tooltip columns: ``tooltip``, or ``id`` plus the axes and the colour (present ones).

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["m0"], "lr": [0.1]})
    >>> resolve_tooltip(None, meta, ["lr", "(cluster)"], "lr")
    ['id', 'lr']
    """
    if tooltip is None:
        names = ["id", *axes, *([color] if color else [])]
    else:
        names = list(tooltip)
        missing = [c for c in names if c not in meta.columns]
        if missing:
            raise ValueError(f"tooltip: no metadata column(s) {missing}")
    return list(dict.fromkeys(n for n in names if n in meta.columns))


def resolve_view(
    meta: pd.DataFrame,
    color: str | None,
    axes: Sequence[str] | None,
    tooltip: Sequence[str] | None,
    has_clusters: bool,
) -> tuple[str, list[str], list[str]]:
    """Colour, axes and tooltip of a new atlas; ``"(cluster)"`` is allowed with clusters.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["m0"], "lr": [0.1], "test_accuracy": [0.5]})
    >>> resolve_view(meta, "(cluster)", None, None, has_clusters=True)
    ('(cluster)', ['lr', 'test_accuracy'], ['id', 'lr', 'test_accuracy'])
    """
    if color == CLUSTER_COLUMN:  # the browser builds that column from the clusters
        if not has_clusters:
            raise ValueError(f"color: {CLUSTER_COLUMN!r} needs clusters (none given or saved)")
        color_name = CLUSTER_COLUMN
    else:
        color_name = resolve_color(color, meta)
    axes_names = resolve_axes(axes, meta, extra={CLUSTER_COLUMN} if has_clusters else set())
    return color_name, axes_names, resolve_tooltip(tooltip, meta, axes_names, color_name)


def check_view_columns(trait: str, value: Any, meta: pd.DataFrame, has_clusters: bool) -> Any:
    """The ``color``, ``axes`` or ``tooltip_columns`` trait's new value, checked.

    Each name must be a metadata column, or ``"(cluster)"`` while there are clusters (the
    browser builds that column); lists lose repeated names. Errors are ``TraitError``.

    Examples
    --------
    >>> meta = pd.DataFrame({"lr": [0.1]})
    >>> check_view_columns("axes", ["lr", "(cluster)", "lr"], meta, has_clusters=True)
    ['lr', '(cluster)']
    """

    def known(name: str) -> bool:
        return name in meta.columns or (name == CLUSTER_COLUMN and has_clusters)

    if trait == "color":
        if value and not known(value):
            raise traitlets.TraitError(f"color: no metadata column {value!r}")
        return value
    names = list(value)
    missing = [c for c in names if not known(c)]
    if missing:
        raise traitlets.TraitError(
            f"{trait}: no metadata column(s) {missing}; "
            f"available: {', '.join(map(str, meta.columns))}"
        )
    return list(dict.fromkeys(names))
