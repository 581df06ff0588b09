"""The Atlas widget: linked WebGL scatter, parallel coordinates and descriptor gallery.

- :mod:`.atlas`: the :class:`Atlas` anywidget, its wiring (construction, messages routed to
  their handlers, gallery replies, ``save_html``) and, as mixins of their own, its concepts:
  :mod:`.atlas_columns` (the columns shown), :mod:`.atlas_selection` (select, selected,
  summarize), :mod:`.atlas_clusters` (named clusters), :mod:`.atlas_overlays` (neighbours,
  located models);
- :mod:`.traits`: its synced traits (``AtlasTraits``, mirrored in js/src/wire/model.ts);
- :mod:`.defaults`: the colour, axes and tooltip shown when not given, and the names allowed;
- :mod:`.column_transport`: which metadata columns are sent, how, and when (deferred text);
- :mod:`.gallery`: a selection's descriptors, mean, std and captions for the gallery;
- :mod:`.overlays`: training paths, located models and neighbour lines over the scatter;
- :mod:`.messages`: the custom messages (typed dicts) and their one dispatch table;
- :mod:`.clusters`: named clusters (validation, wire format);
- :mod:`.codec`: binary encodings of arrays and table columns for the synced state;
- :mod:`.standalone`: the offline HTML page written by :meth:`Atlas.save_html`;
- :mod:`.frontend`: where the built front end is.

The front end is ``js/src`` (bundled into ``miwd_widget/static``).
"""

from __future__ import annotations

from .atlas import Atlas

__all__ = ["Atlas"]
