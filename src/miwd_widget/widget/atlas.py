"""The Atlas widget: linked WebGL scatter, parallel coordinates and descriptor gallery.

Protocol with the front end (js/src/index.ts):

Synced traits (binary arrays use the ``{"buffer", "dtype", "shape"}`` codec of
:mod:`miwd_widget.widget.codec`; ipywidgets sends each buffer as a binary frame):

- ``coordinates``: float32 (n, 2) atlas positions.
- ``_columns``: ``{name: encoded column}``, every column the views need (parallel axes,
  color, tooltip): numeric float32 + range + log flag, or categorical codes + labels.
- ``color`` (column name or ""), ``axes`` (parallel-coordinate columns, accuracy last),
  ``tooltip_columns`` (columns shown on hover), ``S``, ``B``, ``value_range``, ``gallery_size``.
- ``selection``: sorted row positions; sent as an int32 buffer, accepted from the front end
  as an int32 buffer or a list. Python-side it is a list of ints. An empty array travels as
  ``"buffer": ""`` (empty base64), never as an empty binary frame.
- ``_located``: query markers of :meth:`Atlas.locate` (x, y float32, neighbor indices int32).
- ``clusters``: named clusters (:mod:`miwd_widget.widget.clusters`: names, sizes, one int32
  buffer of rows), synced both ways; ``color``/``axes`` ``"(cluster)"`` draw by them (the
  browser builds that column from the clusters).
- ``_all_columns``: every metadata column name (menus offer them; the browser sets ``color``,
  ``axes`` or ``tooltip_columns`` and Python sends the missing columns).
- ``_neighbors``: the descriptor-space neighbours shown (row, int32 neighbours, float32
  distances), ``{"row", "error"}`` when they could not be found (the view says why), ``{}``
  for none; ``neighbors_k`` is how many a click asks for.
- ``_paths``: training paths of snapshot libraries (``model``/``epoch`` columns): int32 path id
  per row (-1: a model with one row) and int32 order along the path; ``{}`` for none.
- ``_deferred_columns`` (names), ``_text_columns`` (``{name: encoded text column}``): the
  deferred text columns of large libraries, below.

Custom messages: the front end asks ``{"type": "descriptors", "id", "n"}`` with one int32
buffer of row positions (none = the whole library); Python answers ``{"type": "descriptors",
"id", "n", "all", "indices", "labels", "k", "S", "B", "value_range"}`` with three float32
buffers: the first
``gallery_size`` descriptors (k, S, B), the mean (S, B) and the standard deviation (S, B) of
all requested rows. Errors come back as ``{"type": "descriptors", "id", "error": message}``.
``{"type": "neighbors", "row", "k"}`` asks for a model's descriptor-space neighbours; the
answer is the ``_neighbors`` trait (every view of the widget shows them).

Deferred text columns: a library of more than :data:`DEFERRED_TEXT_ROWS` models leaves its
tooltip-only text columns (ids, paths: packed UTF-8, 9 MB of ids at 1,000,000 models) out
of the first ``_columns``; ``_deferred_columns`` names them. After its first frame (or on
the first hover or CSV download) the front end asks ``{"type": "columns", "names": [...]}``;
Python puts those columns in ``_text_columns`` (``{name: encoded text column}``, a trait of
its own so that the update carries only the text columns, not every column of ``_columns``
again) and removes them from ``_deferred_columns``, in one update (names not deferred are
ignored). A deferred column added to the tooltip again is sent the same way at once; one
chosen as an axis or the colour goes into ``_columns``, encoded as drawn. The browser's
columns are ``_columns`` overlaid on ``_text_columns`` (``_columns`` wins: the drawn
encoding). If no answer comes (no kernel), the CSV download waits at most 10 s and then
saves without the missing columns. ``save_html`` pages hold every column in ``_columns``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .._positions import PositionError
from .._positions import as_positions as _as_positions
from ..columns import ACCURACY_COLUMNS, EPOCH, MODEL, hyperparameter_columns
from ..library import ModelLibrary
from ..library.summary import mean_std
from .clusters import (
    CLUSTER_COLUMN,
    clusters_from_json,
    clusters_to_json,
    next_cluster_name,
    normalize_clusters,
)
from .codec import (
    MISSING_LABEL,
    array_from_json,
    array_to_json,
    encode_column,
    encode_text,
    state_to_base64,
)
from .standalone import DEFAULT_MAX_DESCRIPTOR_BYTES, library_payload, page

__all__ = ["Atlas"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
_BUNDLE = _STATIC / "widget.js"
_BUNDLE_CSS = _STATIC / "widget.css"
# Importing the package must work without the built front end (editable install without
# Node); the widget then says how to build it instead of failing at import.
_MISSING_BUNDLE_ESM = """
export default { render({ el }) {
  el.textContent = "miwd-widget: the front end is not built (run `make js`, then restart).";
} };
"""
# Colour/last-axis preference: the normalized accuracy, then the raw ones.
_ACCURACY_COLUMNS = ("accuracy_norm", *ACCURACY_COLUMNS)
# The paper's hyper-parameters, in the paper's order.
_DEFAULT_AXES = ("dataset", "lr", "batch_size", "optimizer", "activation", "initialization")
_MAX_AUTO_CATEGORIES = 50
#: Above this many selected models the gallery's mean and std are those of a seeded uniform
#: sample of this many (said in the view): 122 ms instead of ~0.9 s for 500,000 of 32x32
#: here, within 1.3% of a standard deviation of the exact values (benchmarks/bench_gallery.py).
#: ``atlas.summary()`` is always exact.
GALLERY_EXACT_ROWS = 65_536
#: Above this many models the tooltip-only text columns (ids, paths) are sent after the first
#: paint, when the browser asks: at 1,000,000 models the ids are 9 of the 33 MB of the first
#: state and delay the first frame; below it they are small (2 MB at 200,000) and sent with it.
DEFERRED_TEXT_ROWS = 200_000
# A generic library's colour: the first numeric column whose name says accuracy or loss.
_SCORE_WORDS = ("acc", "loss", "score", "error")
# The keyword arguments of Atlas(...) besides the library (ipywidgets' `layout` included).
_ATLAS_KEYWORDS = (
    "color",
    "axes",
    "gallery_size",
    "tooltip",
    "clusters",
    "neighbors_k",
    "selection",
    "layout",  # ipywidgets' own
    "tabbable",
)
# The synced traits a standalone page needs (the rest is ipywidgets/anywidget plumbing).
_STANDALONE_TRAITS = (
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
    "_located",
    "clusters",
    "_all_columns",
    "_paths",
)


def _selection_to_json(value: list[int], widget: Any) -> dict[str, Any]:
    return array_to_json(np.asarray(value, dtype=np.int64).astype(np.int32))


def _selection_from_json(value: Any, widget: Any) -> np.ndarray:
    # An int32 array, no per-row Python: the validator turns it into the trait's list.
    return array_from_json(value, "selection").reshape(-1)


def _ndarray_to_json(value: np.ndarray | None, widget: Any) -> dict[str, Any] | None:
    return None if value is None else array_to_json(value)


class Atlas(anywidget.AnyWidget):
    """Interactive atlas of a model library: scatter, parallel coordinates and gallery.

    Parameters
    ----------
    library
        A projected :class:`~miwd_widget.ModelLibrary` (``library.embedding`` set).
    color
        Metadata column that colors the points (continuous: viridis + color bar;
        categorical: palette + legend), or ``"(cluster)"`` to colour by the clusters.
        ``None`` for a single color. The default falls back to ``test_accuracy`` when
        ``accuracy_norm`` is absent, then to the first accuracy- or loss-like column.
    axes
        Hyper-parameter columns for the parallel coordinates; accuracy is appended last.
        Default: the paper's dataset, lr, batch_size, optimizer, activation, initialization
        (those present).
    gallery_size
        How many individual descriptors of a selection the gallery shows.
    tooltip
        Columns shown on hover (default: ``id`` plus the axes and color column). Above
        ``DEFERRED_TEXT_ROWS`` models their text columns (ids) reach the browser after the
        first paint; until then the tooltip shows "…" and the CSV download waits for them.
    clusters
        Named clusters ``{name: rows}`` to start with (default: the library's saved ones).
        ``atlas.clusters`` writes through to ``library.clusters``, so ``library.save`` keeps
        them; with two atlases on one library, the last change wins.
    neighbors_k
        How many descriptor-space neighbours a click shows.
    selection
        Row positions selected at first.

    Examples
    --------
    >>> lib = miwd_widget.load_demo_library()  # doctest: +SKIP
    >>> atlas = Atlas(lib)  # doctest: +SKIP
    >>> atlas.select(lib.metadata.query("optimizer == 'adam'").index)  # doctest: +SKIP
    >>> atlas.selected.head()  # doctest: +SKIP
    """

    _esm = _BUNDLE if _BUNDLE.exists() else _MISSING_BUNDLE_ESM
    _css = _BUNDLE_CSS if _BUNDLE_CSS.exists() else ""

    n = traitlets.Int(0).tag(sync=True)
    coordinates = traitlets.Instance(np.ndarray, allow_none=True).tag(
        sync=True, to_json=_ndarray_to_json
    )
    _columns = traitlets.Dict().tag(sync=True)
    color = traitlets.Unicode("").tag(sync=True)
    axes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Not named `tooltip`: ipywidgets' DOMWidget already syncs a `tooltip` (a string), and
    # its JS view reads it in initialize; a list there broke rendering in JupyterLab.
    tooltip_columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # Any + a validator (not List(Int)): every input (mask, array, Index) gets one clear error.
    selection = traitlets.Any([]).tag(
        sync=True, to_json=_selection_to_json, from_json=_selection_from_json
    )
    S = traitlets.Int(0).tag(sync=True)
    B = traitlets.Int(0).tag(sync=True)
    value_range = traitlets.List(traitlets.Float(), allow_none=True).tag(sync=True)
    gallery_size = traitlets.Int(12).tag(sync=True)
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

    def __init__(
        self,
        library: ModelLibrary,
        color: str | None = "accuracy_norm",
        axes: list[str] | None = None,
        gallery_size: int = 12,
        tooltip: list[str] | None = None,
        clusters: dict[str, Any] | None = None,
        neighbors_k: int = 10,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - set(_ATLAS_KEYWORDS))
        if unknown:
            raise TypeError(
                f"Atlas() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"valid: library, {', '.join(_ATLAS_KEYWORDS)}"
            )
        if not isinstance(library, ModelLibrary):
            raise TypeError(f"library: expected a ModelLibrary, got {type(library).__name__}")
        if library.embedding is None:
            raise ValueError("library: it has no atlas embedding yet; call library.project() first")
        if len(library) == 0:
            raise ValueError("library: it is empty")
        if int(gallery_size) < 0:
            raise ValueError(f"gallery_size: must be >= 0, got {gallery_size}")
        if int(neighbors_k) < 1:
            raise ValueError(f"neighbors_k: must be >= 1, got {neighbors_k}")
        self._library = library
        meta = library.metadata
        # The library's saved clusters unless others are given; then they are the library's.
        initial = normalize_clusters(
            getattr(library, "clusters", None) if clusters is None else clusters,
            len(library),
            "clusters",
        )
        if color == CLUSTER_COLUMN:  # colour by the clusters given (or the library's)
            if not initial:
                raise ValueError(f"color: {CLUSTER_COLUMN!r} needs clusters (none given or saved)")
            color_name = CLUSTER_COLUMN
        else:
            color_name = self._resolve_color(color, meta)
        # "(cluster)" may be an axis too when there are clusters (the browser builds it).
        axes_names = self._resolve_axes(axes, meta, extra={CLUSTER_COLUMN} if initial else set())
        tooltip_names = self._resolve_tooltip(tooltip, meta, axes_names, color_name)
        needed = dict.fromkeys([*axes_names, *([color_name] if color_name else []), *tooltip_names])
        # Columns drawn (axes, color) are encoded as values or categories; text columns only
        # in the tooltip (ids, paths: one label per row) as packed UTF-8, no factorizing.
        shown = {*axes_names, *([color_name] if color_name else [])}
        n, s, b = library.descriptors.shape
        sent = [name for name in needed if name != CLUSTER_COLUMN]  # "(cluster)": below
        deferred = (
            [name for name in sent if _is_text(meta[name], name in shown)]
            if n > DEFERRED_TEXT_ROWS
            else []
        )
        vr = library.value_range
        # Until super().__init__ has set every trait, a tooltip change is the initial one.
        self._deferral_ready = False
        super().__init__(
            n=n,
            coordinates=np.ascontiguousarray(library.embedding, dtype=np.float32),
            _columns={
                name: self._encode_needed(meta[name], name in shown)
                for name in sent
                if name not in deferred
            },
            _deferred_columns=deferred,
            color=color_name,
            axes=axes_names,
            tooltip_columns=tooltip_names,
            S=s,
            B=b,
            value_range=None if vr is None else [float(vr[0]), float(vr[1])],
            gallery_size=int(gallery_size),
            _all_columns=[str(c) for c in meta.columns],
            neighbors_k=int(neighbors_k),
            _paths=_training_paths(meta),
            clusters=initial,
            **kwargs,
        )
        self._deferral_ready = True
        self.on_msg(self._on_custom_msg)

    # ------------------------------------------------------------------ configuration
    @staticmethod
    def _encode_needed(series: pd.Series, drawn: bool) -> dict[str, Any]:
        return encode_text(series) if _is_text(series, drawn) else encode_column(series)

    @staticmethod
    def _resolve_color(color: str | None, meta: pd.DataFrame) -> str:
        if color is None or color == "":
            return ""
        if color in meta.columns:
            return color
        if color == "accuracy_norm":  # the default: the first accuracy- or loss-like column
            numeric = [
                c
                for c in meta.columns
                if pd.api.types.is_numeric_dtype(meta[c])
                and not pd.api.types.is_bool_dtype(meta[c])
                and meta[c].notna().any()
            ]
            for alt in _ACCURACY_COLUMNS:
                if alt in numeric:
                    return alt
            for c in numeric:
                if any(word in str(c).lower() for word in _SCORE_WORDS):
                    return str(c)
            return ""
        raise ValueError(
            f"color: no metadata column {color!r}; available: {', '.join(map(str, meta.columns))}"
        )

    @staticmethod
    def _resolve_axes(
        axes: list[str] | None, meta: pd.DataFrame, extra: set[str] | None = None
    ) -> list[str]:
        accuracy = next((c for c in _ACCURACY_COLUMNS if c in meta.columns), None)
        if axes is None:
            chosen = [c for c in _DEFAULT_AXES if c in meta.columns]
            if not chosen:  # a generic library: low-cardinality or numeric columns
                for c in hyperparameter_columns(meta.columns):
                    col = meta[c]
                    if not col.notna().any():
                        continue  # an all-missing column draws nothing
                    numeric = pd.api.types.is_numeric_dtype(col)
                    if numeric or col.nunique() <= _MAX_AUTO_CATEGORIES:
                        chosen.append(c)
                    if len(chosen) == 6:
                        break
        else:
            if isinstance(axes, str):
                raise TypeError("axes: expected a list of column names, not a single string")
            chosen = list(axes)
            missing = [c for c in chosen if c not in meta.columns and c not in (extra or ())]
            if missing:
                raise ValueError(
                    f"axes: no metadata column(s) {missing}; "
                    f"available: {', '.join(map(str, meta.columns))}"
                )
        chosen = list(dict.fromkeys(chosen))
        if accuracy is not None:
            chosen = [c for c in chosen if c != accuracy] + [accuracy]
        return chosen

    @staticmethod
    def _resolve_tooltip(
        tooltip: list[str] | None, meta: pd.DataFrame, axes: list[str], color: str
    ) -> list[str]:
        if tooltip is None:
            names = ["id", *axes, *([color] if color else [])]
        else:
            names = list(tooltip)
            missing = [c for c in names if c not in meta.columns]
            if missing:
                raise ValueError(f"tooltip: no metadata column(s) {missing}")
        return list(dict.fromkeys(n for n in names if n in meta.columns))

    def _known(self, name: str) -> bool:
        # "(cluster)" is built by the browser from the clusters (js/src/clusters.ts), never sent.
        return name in self._library.metadata.columns or (
            name == CLUSTER_COLUMN and bool(self.clusters)
        )

    @traitlets.validate("color")
    def _validate_color(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        if name and not self._known(name):
            raise traitlets.TraitError(f"color: no metadata column {name!r}")
        return name

    @traitlets.validate("axes", "tooltip_columns")
    def _validate_columns(self, proposal: dict[str, Any]) -> list[str]:
        names = list(proposal["value"])
        missing = [c for c in names if not self._known(c)]
        if missing:
            trait = proposal["trait"].name
            raise traitlets.TraitError(
                f"{trait}: no metadata column(s) {missing}; "
                f"available: {', '.join(map(str, self._library.metadata.columns))}"
            )
        return list(dict.fromkeys(names))

    @traitlets.observe("color", "axes", "tooltip_columns")
    def _send_missing_columns(self, change: dict[str, Any]) -> None:
        # Columns chosen from Python or from the view's menus that the browser does not have
        # yet (or has only as tooltip text, when they are now drawn) are sent now. Deferred
        # ones wait for the browser's request unless drawn or added to the tooltip again.
        drawn = {*self.axes, *([self.color] if self.color else [])}
        wanted = dict.fromkeys(
            [*self.axes, *([self.color] if self.color else []), *self.tooltip_columns]
        )
        deferred = set(self._deferred_columns)
        chosen = (
            set(change["new"]) - set(change["old"] or ())
            if change["name"] == "tooltip_columns" and self._deferral_ready
            else set()
        )
        self._add_columns(
            [
                name
                for name in wanted
                if name != CLUSTER_COLUMN
                and (
                    (
                        self._held_kind(name) is None
                        and (name not in deferred or name in drawn | chosen)
                    )
                    or (name in drawn and self._held_kind(name) == "text")
                )
            ]
        )

    def _held_kind(self, name: str) -> str | None:
        """The kind of the column ``name`` the browser holds (None: not sent). ``_columns``
        wins over ``_text_columns``, as in the browser: it is the drawn encoding."""
        column = self._columns.get(name, self._text_columns.get(name))
        return None if column is None else str(column.get("kind"))

    def _add_columns(self, names: list[str]) -> None:
        """Send the columns ``names`` (encoded as drawn or as tooltip text); none deferred after.

        Deferred columns sent as text go into ``_text_columns``, the others into
        ``_columns``; only the traits that change are in the update.
        """
        drawn = {*self.axes, *([self.color] if self.color else [])}
        meta = self._library.metadata
        deferred = set(self._deferred_columns)
        added = {name: self._encode_needed(meta[name], name in drawn) for name in names}
        text = {k: v for k, v in added.items() if k in deferred and v["kind"] == "text"}
        other = {k: v for k, v in added.items() if k not in text}
        with self.hold_sync():  # one update: the browser sees the columns and the list agree
            if other:
                self._columns = {**self._columns, **other}
            if text:
                self._text_columns = {**self._text_columns, **text}
            if deferred & set(added):
                self._deferred_columns = [c for c in self._deferred_columns if c not in added]

    @traitlets.validate("clusters")
    def _validate_clusters(self, proposal: dict[str, Any]) -> dict[str, np.ndarray]:
        try:
            return normalize_clusters(proposal["value"], self.n, "clusters")
        except (TypeError, ValueError, PositionError) as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.observe("clusters")
    def _clusters_changed(self, change: dict[str, Any]) -> None:
        # The library keeps them (saved with it). Without clusters nothing draws by them.
        if hasattr(self._library, "clusters"):
            self._library.clusters = dict(change["new"])
        if not change["new"]:
            if self.color == CLUSTER_COLUMN:
                self.color = ""
            if CLUSTER_COLUMN in self.axes:
                self.axes = [a for a in self.axes if a != CLUSTER_COLUMN]

    @traitlets.validate("neighbors_k")
    def _validate_neighbors_k(self, proposal: dict[str, Any]) -> int:
        if int(proposal["value"]) < 1:
            raise traitlets.TraitError(f"neighbors_k: must be >= 1, got {proposal['value']}")
        return int(proposal["value"])

    @traitlets.validate("selection")
    def _validate_selection(self, proposal: dict[str, Any]) -> list[int]:
        try:
            positions = _as_positions(proposal["value"], self.n, "selection")
        except PositionError as err:
            raise traitlets.TraitError(str(err)) from None
        return positions.tolist()

    # ------------------------------------------------------------------ public API
    @property
    def library(self) -> ModelLibrary:
        """The :class:`ModelLibrary` shown."""
        return self._library

    def select(self, indices: Any) -> Atlas:
        """Select models by row position; the views update.

        Parameters
        ----------
        indices
            Row positions (list, numpy array, ``DataFrame.index``, a DataFrame whose index is
            used) or a boolean mask with one entry per model. ``None`` or ``[]`` clears.

        Examples
        --------
        >>> atlas.select(lib.metadata.query("optimizer == 'adam'").index)  # doctest: +SKIP
        >>> atlas.select(lib.metadata["lr"] > 1e-3)  # doctest: +SKIP
        """
        self.selection = _as_positions(indices, self.n, "indices").tolist()
        return self

    @property
    def selected(self) -> pd.DataFrame:
        """The metadata rows of the current selection (index = row position).

        Examples
        --------
        >>> atlas.selected["optimizer"].value_counts()  # doctest: +SKIP
        """
        return self._library.metadata.iloc[np.asarray(self.selection, dtype=np.int64)]

    def summary(self) -> Any:
        """``library.summarize`` of the current selection (mean/std descriptors, traits).

        Examples
        --------
        >>> atlas.summary().characteristic.head()  # doctest: +SKIP
        """
        return self._library.summarize(list(self.selection))

    # ------------------------------------------------------------------ clusters
    def add_cluster(self, name: str | None = None, rows: Any = None) -> str:
        """Keep ``rows`` (default: the current selection) as a named cluster.

        Parameters
        ----------
        name
            The cluster's name; default the next free of A, B, C, ... (the paper's labels).
            An existing name is replaced.
        rows
            Row positions or a boolean mask, as :meth:`select` takes them.

        Returns
        -------
        str
            The name given.

        Examples
        --------
        >>> atlas.add_cluster("adam", lib.metadata.query("optimizer == 'adam'").index)  # doctest: +SKIP
        'adam'
        """
        name = next_cluster_name(self.clusters) if name is None else name
        chosen = self.selection if rows is None else rows
        if rows is None and not len(chosen):
            raise ValueError("rows: none given and nothing is selected")
        self.clusters = {**self.clusters, name: chosen}
        return name

    def remove_cluster(self, name: str) -> None:
        """Forget the cluster ``name`` (a ``KeyError`` names the existing ones)."""
        if name not in self.clusters:
            raise KeyError(f"no cluster {name!r}; clusters: {', '.join(self.clusters) or 'none'}")
        self.clusters = {k: v for k, v in self.clusters.items() if k != name}

    def clusters_frame(self) -> pd.DataFrame:
        """The metadata of every clustered model with its ``cluster`` (one row per membership).

        The index is the row position; a model in two clusters appears twice. ``cluster`` is
        a categorical in the clusters' order, ready for ``groupby``.

        Examples
        --------
        >>> atlas.clusters_frame().groupby("cluster", observed=True)["test_accuracy"].median()  # doctest: +SKIP
        """
        meta = self._library.metadata
        names = list(self.clusters)
        parts = [meta.iloc[self.clusters[k]].assign(cluster=k) for k in names]
        frame = pd.concat(parts) if parts else meta.iloc[:0].assign(cluster=[])
        frame["cluster"] = pd.Categorical(frame["cluster"], categories=names)
        return frame

    def compare(self, **kwargs: Any) -> Any:
        """``library.compare(atlas.clusters)``: the paper's Figure 5 as a table.

        Examples
        --------
        >>> atlas.compare().query("p_value < 0.01")  # doctest: +SKIP
        """
        if not self.clusters:
            raise ValueError("compare: no clusters yet; keep a selection as a cluster first")
        return self._library.compare(self.clusters, **kwargs)

    # ------------------------------------------------------------------ neighbours
    def neighbors(self, row: int, k: int | None = None) -> pd.DataFrame:
        """The ``k`` models nearest to ``row`` in descriptor space (not atlas distance).

        Also shown in the atlas: lines from the model to its neighbours. ``k`` defaults to
        ``neighbors_k``, what a click shows.

        Examples
        --------
        >>> atlas.neighbors(0, k=5)[["id", "distance"]]  # doctest: +SKIP
        """
        table = self._library.neighbors(row, k=self.neighbors_k if k is None else k)
        self._neighbors = _neighbor_json(int(row), table.index.to_numpy(), table["distance"])
        return table

    def _neighbor_state(self, row: int, k: int) -> dict[str, Any]:
        return _neighbor_json(row, *self._library.neighbor_positions(row, k))

    def locate(self, models: Any, k: int = 5, placement: str = "auto") -> pd.DataFrame:
        """Place new (black-box) models in the atlas and show them with their neighbors.

        Calls ``library.locate(models, k=k, placement=placement)``; the returned table
        (query, query_name, x, y, rank, neighbor, id, distance) is also drawn: one
        highlighted marker per query with lines to its ``k`` nearest library models.

        Parameters
        ----------
        models
            One model or a list (paths, weight arrays, state dicts, torch modules).
        k
            Neighbors per query.
        placement
            How the query's atlas position is found (see ``ModelLibrary.locate``).

        Examples
        --------
        >>> atlas.locate(["new_model.safetensors"], k=5)  # doctest: +SKIP
        """
        table = self._library.locate(models, k=k, placement=placement)
        self.show_located(table)
        return table

    def show_located(self, table: pd.DataFrame) -> None:
        """Draw a ``library.locate`` result (one row per query-neighbor pair)."""
        if table is None or len(table) == 0:
            self._located = {}
            return
        required = {"query", "x", "y", "neighbor", "rank"}
        missing = required - set(table.columns)
        if missing:
            raise ValueError(f"locate result lacks column(s) {sorted(missing)}")
        ordered = table.sort_values(["query", "rank"])
        queries = ordered.drop_duplicates("query")
        n_queries = len(queries)
        k = int(ordered.groupby("query").size().max())
        neighbors = np.full((n_queries, k), -1, dtype=np.int32)
        for row, (_, group) in enumerate(ordered.groupby("query", sort=True)):
            neighbors[row, : len(group)] = group["neighbor"].to_numpy(dtype=np.int32)
        names = (
            queries["query_name"].astype(str).tolist()
            if "query_name" in queries
            else [str(q) for q in queries["query"]]
        )
        self._located = {
            "x": array_to_json(queries["x"].to_numpy(dtype=np.float32)),
            "y": array_to_json(queries["y"].to_numpy(dtype=np.float32)),
            "neighbors": array_to_json(neighbors),
            "names": names,
        }

    # ------------------------------------------------------------------ descriptors
    def _labels(self, positions: np.ndarray) -> list[str]:
        """Gallery captions: id, then dataset · accuracy · optimizer · activation (those present).

        Column-wise string operations, not a loop over rows: ``save_html`` captions every model.
        """
        meta = self._library.metadata.iloc[np.asarray(positions, dtype=np.int64)]
        if meta.empty:
            return []

        def text(column: pd.Series) -> pd.Series:  # pandas' str dtype keeps NaN: say missing
            return column.astype(object).where(column.notna(), MISSING_LABEL).map(str)

        parts: list[pd.Series] = []
        if "dataset" in meta.columns:
            parts.append(text(meta["dataset"]))
        acc = next((c for c in ("test_accuracy", *_ACCURACY_COLUMNS) if c in meta), None)
        if acc is not None:
            values = pd.to_numeric(meta[acc], errors="coerce")
            parts.append(("acc " + values.map("{:.3f}".format)).where(values.notna(), ""))
        parts += [text(meta[c]) for c in ("optimizer", "activation") if c in meta.columns]
        ids = text(meta["id"]) if "id" in meta.columns else pd.Series(meta.index.astype(str))
        if not parts:
            return (ids + "\n").tolist()
        # Each part brings its own separator, so a missing accuracy leaves no empty " ·  · ".
        joined = sum(((" · " + part).where(part != "", "") for part in parts[1:]), parts[0])
        return (ids + "\n" + joined.str.removeprefix(" · ")).tolist()

    def descriptor_reply(self, indices: Any, request_id: Any = None) -> tuple[dict, list]:
        """The reply to a gallery request: content and buffers (gallery, mean, std).

        An empty request describes the whole library.

        Examples
        --------
        >>> content, buffers = atlas.descriptor_reply([0, 5, 9])  # doctest: +SKIP
        """
        positions = _as_positions(indices, self.n, "indices")
        everything = positions.size == 0
        mean, std, used = mean_std(
            self._library.descriptors,
            None if everything else positions,
            max_rows=GALLERY_EXACT_ROWS,
        )
        mean, std = mean.astype(np.float32), std.astype(np.float32)
        shown = _spread_sample(np.arange(self.n) if everything else positions, self.gallery_size)
        gallery = np.ascontiguousarray(self._library.descriptors[shown], dtype=np.float32)
        content = {
            "type": "descriptors",
            "id": request_id,
            "n": int(self.n if everything else positions.size),
            "all": bool(everything),
            "indices": [int(i) for i in shown],
            "labels": self._labels(shown),
            "k": int(len(shown)),
            "S": self.S,
            "B": self.B,
            "value_range": self.value_range,
            # rows the mean and std come from: fewer than n when a large selection is sampled
            "sampled": int(used),
        }
        buffers = [
            memoryview(gallery.reshape(-1)).cast("B"),
            memoryview(mean.reshape(-1)).cast("B"),
            memoryview(std.reshape(-1)).cast("B"),
        ]
        return content, buffers

    def _on_custom_msg(self, widget: Any, content: Any, buffers: list | None) -> None:
        if isinstance(content, dict) and content.get("type") == "neighbors":
            self._on_neighbors_msg(content)
            return
        if isinstance(content, dict) and content.get("type") == "columns":
            self._on_columns_msg(content)
            return
        if not isinstance(content, dict) or content.get("type") != "descriptors":
            return
        request_id = content.get("id")
        try:
            if buffers:
                indices = np.frombuffer(memoryview(buffers[0]), dtype=np.int32)
            else:
                indices = np.asarray(content.get("indices", []), dtype=np.int64)
            reply, reply_buffers = self.descriptor_reply(indices, request_id)
        except Exception as err:  # the browser shows the message instead of waiting
            self.send({"type": "descriptors", "id": request_id, "error": str(err)})
            return
        self.send(reply, buffers=reply_buffers)

    def _on_columns_msg(self, content: dict[str, Any]) -> None:
        # The deferred columns asked for; other names (unknown, already sent) are ignored.
        names = content.get("names")
        if not isinstance(names, list):
            return
        asked = {name for name in names if isinstance(name, str)}
        self._add_columns([name for name in self._deferred_columns if name in asked])

    def _on_neighbors_msg(self, content: dict[str, Any]) -> None:
        # The answer is a trait, not a reply: every view of the widget shows the neighbours.
        row = content.get("row")
        if row is None or row == -1:
            self._neighbors = {}
            return
        try:
            k = int(content.get("k", self.neighbors_k))
            self._neighbors = self._neighbor_state(int(row), k)
        except Exception as err:  # shown in the view instead of a silent nothing
            self._neighbors = {"row": row, "error": str(err)}

    # ------------------------------------------------------------------ standalone HTML
    def save_html(
        self,
        path: str | pathlib.Path,
        selection: Any = None,
        title: str = "",
        max_descriptor_bytes: int = DEFAULT_MAX_DESCRIPTOR_BYTES,
    ) -> None:
        """Write a standalone, offline HTML page of the atlas (no kernel, no CDN).

        The JS bundle, its CSS and the data (as base64 buffers) are inlined. Every model's
        descriptor is embedded as a uint16 code (error at most 1/131,070 of the value span,
        7.6e-6 for histograms; see :mod:`miwd_widget.widget.standalone`), so the page computes
        the gallery (mean, std, examples) of any selection without a kernel. ``selection``
        (default: the current selection, or the whole library if nothing is selected) is the
        one the page opens with; its gallery is saved exactly (float32).

        Parameters
        ----------
        path
            The HTML file to write.
        selection
            Row positions the page opens with.
        title
            The page title (default: "MI-WD atlas of N models").
        max_descriptor_bytes
            Largest descriptor block embedded: 2 bytes per value before compression (default
            64 MiB, e.g. 32,768 models of 32x32). Beyond it the page embeds only the gallery of
            ``selection`` and shows that one, marked as the saved selection, for every other
            selection; a warning says so.

        Examples
        --------
        >>> atlas.save_html("atlas.html")  # doctest: +SKIP
        """
        js_path, css_path = _BUNDLE, _BUNDLE_CSS
        if not js_path.exists():
            raise FileNotFoundError(f"{js_path} is missing: build the front end first (make js)")
        chosen = self.selection if selection is None else _as_positions(selection, self.n).tolist()
        state = self.get_state(key=list(_STANDALONE_TRAITS))
        state["selection"] = _selection_to_json(chosen, self)
        meta = self._library.metadata
        # The page has no kernel to ask: its `_columns` hold every column (the text columns
        # sent, the deferred ones, and the ids for its CSV download).
        held = {  # `_columns` wins, as in the view
            **state["_columns"],
            **{k: v for k, v in self._text_columns.items() if k not in state["_columns"]},
        }
        extra = [*self._deferred_columns, *(["id"] if "id" in meta else [])]
        state["_columns"] = {
            **held,
            **{name: encode_text(meta[name]) for name in extra if name not in held},
        }
        state["_deferred_columns"] = []
        # The page has no kernel to send more columns: its menus offer the columns it holds.
        state["_all_columns"] = [c for c in state["_all_columns"] if c in state["_columns"]]
        reply, reply_buffers = self.descriptor_reply(chosen, "saved")
        payload = {
            "state": state_to_base64(state),
            "descriptors": {
                "content": reply,
                "buffers": state_to_base64(reply_buffers),
                "selection": list(map(int, chosen)),
            },
            "library": library_payload(
                self._library.descriptors,
                lambda: self._labels(np.arange(self.n)),
                max_descriptor_bytes,
            ),
        }
        css = css_path.read_text(encoding="utf-8") if css_path.exists() else ""
        text = page(
            title or f"MI-WD atlas of {self.n} models", css, payload, js_path.read_text("utf-8")
        )
        pathlib.Path(path).write_text(text, encoding="utf-8")


def _is_text(series: pd.Series, drawn: bool) -> bool:
    """Whether a column travels as packed text: shown only in the tooltip, and neither a
    number nor a categorical (ids, paths: one label per row, not worth factorizing).

    Examples
    --------
    >>> _is_text(pd.Series(["a", "b"]), drawn=False), _is_text(pd.Series(["a", "b"]), drawn=True)
    (True, False)
    """
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return not (drawn or numeric or isinstance(series.dtype, pd.CategoricalDtype))


def _spread_sample(positions: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``positions`` spread evenly over all of them (first and last included).

    The gallery shows a sample of the whole selection, not its first rows (those would be
    the models that happen to come first in the library, e.g. one dataset's).

    Examples
    --------
    >>> _spread_sample(np.arange(100), 5).tolist()
    [0, 25, 50, 74, 99]
    >>> _spread_sample(np.arange(3), 5).tolist()
    [0, 1, 2]
    """
    if k <= 0 or positions.size == 0:
        return positions[:0]
    if positions.size <= k:
        return positions
    picks = np.linspace(0, positions.size - 1, k).round().astype(np.int64)
    return positions[np.unique(picks)]


def _training_paths(meta: pd.DataFrame) -> dict[str, Any]:
    """Path id and order per row for libraries of training snapshots, ``{}`` otherwise.

    A path is a model's snapshots (the ``model`` column) ordered by ``epoch``; models with
    one row are not paths (id -1).

    Examples
    --------
    >>> md = pd.DataFrame({"model": ["b", "a", "c", "a", "c"], "epoch": [0, 1, 0, 0, 1]})
    >>> paths = _training_paths(md)
    >>> array_from_json(paths["line"]).tolist(), array_from_json(paths["order"]).tolist()
    ([-1, 0, 1, 0, 1], [0, 1, 0, 0, 1])
    """
    if MODEL not in meta.columns or EPOCH not in meta.columns or meta.empty:
        return {}
    line, models = pd.factorize(meta[MODEL], sort=False)
    sizes = np.bincount(line[line >= 0], minlength=len(models))
    if not (sizes > 1).any():
        return {}
    epoch = pd.to_numeric(meta[EPOCH], errors="coerce").to_numpy(dtype=np.float64)
    order = (
        pd.DataFrame({"line": line, "epoch": epoch})
        .groupby("line")["epoch"]
        .rank(method="first")
        .fillna(1)
        .to_numpy()
        - 1
    )
    # Path ids 0..count-1 (models with one row are no path).
    is_path = sizes > 1
    on_path = (line >= 0) & is_path[np.maximum(line, 0)]
    line = np.where(on_path, (np.cumsum(is_path) - 1)[np.maximum(line, 0)], -1)
    return {
        "line": array_to_json(line.astype(np.int32)),
        "order": array_to_json(order.astype(np.int32)),
        "count": int((sizes > 1).sum()),
    }


def _neighbor_json(row: int, positions: Any, distances: Any) -> dict[str, Any]:
    """The ``_neighbors`` trait: the row, its neighbours (int32) and distances (float32)."""
    return {
        "row": row,
        "neighbors": array_to_json(np.asarray(positions, dtype=np.int32)),
        "distances": array_to_json(np.asarray(distances, dtype=np.float32)),
    }
