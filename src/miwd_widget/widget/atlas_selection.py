"""The Atlas's selection: choosing models from Python, their metadata and their summary.

:class:`SelectionMethods` is a mixin of :class:`~miwd_widget.Atlas`; the trait ``selection``
itself (validation, int32 buffer or bitmask) is :mod:`.traits`. The views' brushes and lasso
set the same trait.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from .traits import AtlasTraits, as_selection

if TYPE_CHECKING:
    from ..library import ModelLibrary

__all__ = ["SelectionMethods"]

# `select` returns the atlas it is called on (typing.Self is Python 3.11+).
_Atlas = TypeVar("_Atlas", bound="SelectionMethods")


class SelectionMethods(AtlasTraits):
    """The selection methods of :class:`~miwd_widget.Atlas` (set up by its constructor)."""

    _library: ModelLibrary

    def select(self: _Atlas, indices: Any) -> _Atlas:
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
