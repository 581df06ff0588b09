"""The Atlas's named clusters: keeping a selection as a cluster, forgetting one, tables of them.

:class:`ClusterMethods` is a mixin of :class:`~miwd_widget.Atlas`; the trait ``clusters``
itself (validation, binary codec) is :mod:`.traits` and :mod:`.clusters`. ``clusters``
writes through to ``library.clusters``, so ``library.save`` keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import traitlets

from .clusters import CLUSTER_COLUMN, clusters_frame, next_cluster_name
from .traits import AtlasTraits

if TYPE_CHECKING:
    from ..library import ModelLibrary

__all__ = ["ClusterMethods"]


class ClusterMethods(AtlasTraits):
    """The cluster methods of :class:`~miwd_widget.Atlas` (set up by its constructor)."""

    _library: ModelLibrary

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
