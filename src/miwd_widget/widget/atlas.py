"""The Atlas widget: linked WebGL scatter, parallel coordinates and descriptor gallery.

The :class:`Atlas` ties a :class:`~miwd_widget.ModelLibrary` to its front end (js/src); each
sub-protocol has a module of its own (listed in :mod:`miwd_widget.widget`): the synced
traits, the defaults, the column transport, the gallery, the overlays, the messages and
their dispatch, the standalone page.
"""

from __future__ import annotations

import pathlib
import warnings
from typing import Any

import numpy as np
import pandas as pd
import traitlets

from .._positions import as_positions
from ..library import ModelLibrary
from ..library.atlas_space import representation_label
from .clusters import CLUSTER_COLUMN, clusters_frame, next_cluster_name, normalize_clusters
from .column_transport import first_columns, requested_columns, send_columns, send_missing_columns
from .defaults import DEFAULT_COLOR, check_view_columns, resolve_view
from .frontend import widget_css, widget_esm
from .gallery import answer_request, descriptor_reply, value_range_of
from .messages import Buffers, ColumnsRequest, DescriptorReply, NeighborsRequest, message_router
from .overlays import located_json, neighbor_json, neighbors_state, training_paths
from .standalone import DEFAULT_MAX_DESCRIPTOR_BYTES, atlas_page
from .traits import AtlasTraits, as_selection

__all__ = ["Atlas"]

# The keyword arguments of Atlas(...) besides the library: its own, the `selection` trait,
# and ipywidgets' `layout` and `tabbable`.
_ATLAS_KEYWORDS = ("color", "axes", "gallery_size", "tooltip", "clusters", "neighbors_k")
_ATLAS_KEYWORDS += ("selection", "layout", "tabbable")


class Atlas(AtlasTraits):
    """Interactive atlas of a model library: scatter, parallel coordinates and gallery.

    Parameters
    ----------
    library
        A projected :class:`~miwd_widget.ModelLibrary` (``library.embedding`` set). The
        representation it was projected from is shown above the scatter (the
        ``representation`` trait: ``"miwd (32×32)"``, ``"stats (K=16)"``, ...); the gallery
        shows the MI-WD descriptors whatever the layout.
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

    Other Parameters
    ----------------
    selection : sequence of int
        Row positions selected at first.

    Examples
    --------
    >>> lib = miwd_widget.load_demo_library()  # doctest: +SKIP
    >>> atlas = Atlas(lib)  # doctest: +SKIP
    >>> atlas.select(lib.metadata.query("optimizer == 'adam'").index)  # doctest: +SKIP
    >>> atlas.selected.head()  # doctest: +SKIP
    """

    _esm = widget_esm()
    _css = widget_css()

    def __init__(
        self,
        library: ModelLibrary,
        color: str | None = DEFAULT_COLOR,
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
        color_name, axes_names, tooltip_names = resolve_view(
            meta, color, axes, tooltip, has_clusters=bool(initial)
        )
        columns, deferred = first_columns(meta, color_name, axes_names, tooltip_names)
        n, s, b = library.descriptors.shape
        self._deferral_ready = False
        super().__init__(
            n=n,
            coordinates=np.ascontiguousarray(library.embedding, dtype=np.float32),
            _columns=columns,
            _deferred_columns=deferred,
            color=color_name,
            axes=axes_names,
            tooltip_columns=tooltip_names,
            S=s,
            B=b,
            value_range=value_range_of(library),
            gallery_size=int(gallery_size),
            representation=representation_label(library.attrs.get("representation")),
            _all_columns=[str(c) for c in meta.columns],
            neighbors_k=int(neighbors_k),
            _paths=training_paths(meta),
            clusters=initial,
            **kwargs,
        )
        self._deferral_ready = True
        # One handler per message type (messages.py); other messages are ignored.
        self.on_msg(
            message_router(
                {
                    "descriptors": lambda message, buffers: answer_request(
                        message, buffers, self.descriptor_reply, self.send
                    ),
                    "columns": self._on_columns_request,
                    "neighbors": self._on_neighbors_request,
                }
            )
        )

    # ------------------------------------------------------------------ configuration
    @traitlets.validate("color", "axes", "tooltip_columns")
    def _validate_view_columns(self, proposal: dict[str, Any]) -> Any:
        meta, trait = self._library.metadata, proposal["trait"].name
        return check_view_columns(trait, proposal["value"], meta, bool(self.clusters))

    @traitlets.observe("color", "axes", "tooltip_columns")
    def _send_missing_columns(self, change: dict[str, Any]) -> None:
        # Until super().__init__ has set every trait, a change is the initial one.
        initial = not self._deferral_ready
        send_missing_columns(self, self._library.metadata, change, initial)

    def _on_columns_request(self, message: ColumnsRequest, buffers: Buffers) -> None:
        names = requested_columns(message, self._deferred_columns)
        send_columns(self, self._library.metadata, names)

    def _on_neighbors_request(self, message: NeighborsRequest, buffers: Buffers) -> None:
        # The answer is a trait, not a reply: every view of the widget shows the neighbours.
        self._neighbors = neighbors_state(self._library, message, self.neighbors_k)

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
        self.selection = as_selection(indices, self.n, "indices")
        return self

    @property
    def selected(self) -> pd.DataFrame:
        """The metadata rows of the current selection (index = row position).

        Examples
        --------
        >>> atlas.selected["optimizer"].value_counts()  # doctest: +SKIP
        """
        return self._library.metadata.iloc[as_selection(self.selection, self.n).positions()]

    def summarize(self) -> Any:
        """``library.summarize`` of the current selection (mean/std descriptors, traits).

        Always exact (the gallery samples selections above ``GALLERY_EXACT_ROWS``).

        Examples
        --------
        >>> atlas.summarize().characteristic.head()  # doctest: +SKIP
        """
        return self._library.summarize(list(self.selection))

    def summary(self) -> Any:
        """Deprecated name of :meth:`summarize` (one name, the library's, for a summary)."""
        warnings.warn(
            "Atlas.summary() is deprecated; use Atlas.summarize()", DeprecationWarning, stacklevel=2
        )
        return self.summarize()

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
        return clusters_frame(self._library.metadata, self.clusters)

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
        self._neighbors = neighbor_json(int(row), table.index.to_numpy(), table["distance"])
        return table

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
        self._located = located_json(table)

    # ------------------------------------------------------------------ descriptors
    def descriptor_reply(
        self, indices: Any, request_id: Any = None
    ) -> tuple[DescriptorReply, list[memoryview]]:
        """The reply to a gallery request: content and buffers (gallery, mean, std).

        An empty request describes the whole library.

        Examples
        --------
        >>> content, buffers = atlas.descriptor_reply([0, 5, 9])  # doctest: +SKIP
        """
        return descriptor_reply(self._library, indices, request_id, self.gallery_size)

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
        chosen = self.selection if selection is None else as_positions(selection, self.n).tolist()
        text = atlas_page(self, self._library, chosen, title, max_descriptor_bytes)
        pathlib.Path(path).write_text(text, encoding="utf-8")
