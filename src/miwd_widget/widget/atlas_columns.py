"""The Atlas's shown columns: checking the colour, axes and tooltip chosen, sending their data.

:class:`ViewColumnMethods` is a mixin of :class:`~miwd_widget.Atlas`: a column chosen (from
Python or the view's menus) is checked against the metadata (:mod:`.defaults`) and sent if
the browser lacks it; the browser's requests for deferred text columns
(:class:`~.messages.ColumnsRequest`) are answered here. What is sent, how and when is
:mod:`.column_transport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import traitlets

from .column_transport import requested_columns, send_columns, send_missing_columns
from .defaults import check_view_columns
from .traits import AtlasTraits

if TYPE_CHECKING:
    from ..library import ModelLibrary
    from .messages import Buffers, ColumnsRequest

__all__ = ["ViewColumnMethods"]


class ViewColumnMethods(AtlasTraits):
    """The column checks and transport of :class:`~miwd_widget.Atlas` (set up by its constructor)."""

    _library: ModelLibrary
    # False until the constructor has set every trait: until then a change is the initial one.
    _deferral_ready: bool

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
