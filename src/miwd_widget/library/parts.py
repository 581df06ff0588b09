"""What a library is made of, as one value: :class:`LibraryParts`.

Builders (:mod:`.builders`, :mod:`.chunked`, :mod:`.cnn_zoo`) return parts, :mod:`.storage`
saves and loads parts, and :class:`~miwd_widget.library.ModelLibrary` is built from parts
(``ModelLibrary.from_parts``) and gives its own (``library.parts()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..descriptors.config import DescriptorConfig

__all__ = ["LibraryParts", "DescriptorsInFile"]


class DescriptorsInFile(Protocol):
    """Descriptors not read yet (e.g. :class:`~miwd_widget.library.storage.LazyDescriptors`):
    their shape, and ``load()`` to read them."""

    shape: tuple[int, int, int]

    def load(self) -> np.ndarray: ...


@dataclass
class LibraryParts:
    """Descriptors, metadata and what goes with them; no behaviour.

    Attributes
    ----------
    descriptors
        (n, S, B) float32 descriptors, or descriptors still in a file
        (:class:`DescriptorsInFile`).
    metadata
        One row per model.
    config
        The descriptor parameters (value range ``"auto"`` while unresolved, e.g. empty).
    embedding
        (n, 2) atlas coordinates, or None.
    errors
        Models that could not be described (columns ``source``, ``error``), or None.
    clusters
        Named clusters ``{name: row positions}``, or None.
    attrs
        Library-level information (zoo config, projection parameters, ...).

    Examples
    --------
    >>> parts = LibraryParts(np.zeros((2, 4, 4), np.float32), pd.DataFrame({"id": ["a", "b"]}),
    ...                      DescriptorConfig(S=4, B=4, value_range=(-1, 1)))
    >>> parts.config.value_range, parts.attrs
    ((-1.0, 1.0), {})
    """

    descriptors: np.ndarray | DescriptorsInFile
    metadata: pd.DataFrame
    config: DescriptorConfig
    embedding: np.ndarray | None = None
    errors: pd.DataFrame | None = None
    clusters: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)
