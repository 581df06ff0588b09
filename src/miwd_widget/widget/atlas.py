"""The Atlas widget: linked WebGL scatter, parallel coordinates and descriptor gallery.

The :class:`Atlas` ties a :class:`~miwd_widget.ModelLibrary` to its front end (js/src). This
module is its wiring: the constructor (checks, first state, the front end's messages routed to
their handlers), the library, the gallery's replies and the standalone page. Its other
concepts are mixins with a module each: :mod:`.atlas_columns` (the columns shown),
:mod:`.atlas_selection` (select, selected, summarize), :mod:`.atlas_clusters` (named
clusters), :mod:`.atlas_overlays` (neighbours, located models). Each sub-protocol has a module
of its own too (listed in :mod:`miwd_widget.widget`): the synced traits, the defaults, the
column transport, the gallery, the overlays, the messages and their dispatch, the standalone
page.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from .._positions import as_positions
from ..library import ModelLibrary
from ..library.atlas_space import representation_label
from .atlas_clusters import ClusterMethods
from .atlas_columns import ViewColumnMethods
from .atlas_overlays import OverlayMethods
from .atlas_selection import SelectionMethods
from .clusters import normalize_clusters
from .column_transport import first_columns
from .defaults import DEFAULT_COLOR, resolve_view
from .frontend import widget_css, widget_esm
from .gallery import answer_request, descriptor_reply, value_range_of
from .messages import DescriptorReply, message_router
from .overlays import training_paths
from .standalone import DEFAULT_MAX_DESCRIPTOR_BYTES, atlas_page

__all__ = ["Atlas"]

# The keyword arguments of Atlas(...) besides the library: its own, the `selection` trait,
# and ipywidgets' `layout` and `tabbable`.
_ATLAS_KEYWORDS = ("color", "axes", "gallery_size", "tooltip", "clusters", "neighbors_k")
_ATLAS_KEYWORDS += ("selection", "layout", "tabbable")


class Atlas(ViewColumnMethods, OverlayMethods, ClusterMethods, SelectionMethods):
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

    # ------------------------------------------------------------------ library
    @property
    def library(self) -> ModelLibrary:
        """The :class:`ModelLibrary` shown."""
        return self._library

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
