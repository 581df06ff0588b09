"""The Atlas widget: linked WebGL scatter, parallel coordinates and descriptor gallery.

- :mod:`.atlas`: the :class:`Atlas` anywidget (synced state, selection, gallery requests);
- :mod:`.codec`: binary encodings of arrays and table columns for the synced state;
- :mod:`.standalone`: the offline HTML page written by :meth:`Atlas.save_html`.

The front end is ``js/src`` (bundled into ``miwd_widget/static``).
"""

from __future__ import annotations

from .atlas import Atlas

__all__ = ["Atlas"]
