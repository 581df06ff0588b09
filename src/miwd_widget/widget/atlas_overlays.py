"""The Atlas's overlays asked for from the library: new models located, a model's neighbours.

:class:`OverlayMethods` is a mixin of :class:`~miwd_widget.Atlas`: it asks the library
(``locate``, ``neighbors``) and sets the overlay traits ``_located`` and ``_neighbors``,
whose wire formats are :mod:`.overlays`. A click in the scatter asks for neighbours with a
:class:`~.messages.NeighborsRequest`, answered here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .overlays import located_json, neighbor_json, neighbors_state
from .traits import AtlasTraits

if TYPE_CHECKING:
    from ..library import ModelLibrary
    from .messages import Buffers, NeighborsRequest

__all__ = ["OverlayMethods"]


class OverlayMethods(AtlasTraits):
    """The neighbour and locate methods of :class:`~miwd_widget.Atlas` (set up by its constructor)."""

    _library: ModelLibrary

    def _on_neighbors_request(self, message: NeighborsRequest, buffers: Buffers) -> None:
        # The answer is a trait, not a reply: every view of the widget shows the neighbours.
        self._neighbors = neighbors_state(self._library, message, self.neighbors_k)

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
