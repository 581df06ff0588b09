"""A library of models: descriptors, metadata and (once projected) a 2-D atlas embedding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ModelLibrary"]


class ModelLibrary:
    """Descriptors of many models with their metadata, aligned row by row.

    Parameters
    ----------
    descriptors
        (n, S, B) float32 MI-WD descriptors.
    metadata
        One row per model (column ``id`` at least); reset to a 0..n-1 RangeIndex so that
        row positions, DataFrame index and widget selection indices are the same thing.
    embedding
        Optional (n, 2) float32 atlas coordinates.
    value_range
        The histogram range the descriptors were computed with.

    Examples
    --------
    >>> lib = ModelLibrary(np.zeros((3, 4, 4), np.float32), pd.DataFrame({"id": ["a", "b", "c"]}))
    >>> len(lib)
    3
    """

    def __init__(
        self,
        descriptors: np.ndarray,
        metadata: pd.DataFrame | None = None,
        embedding: np.ndarray | None = None,
        value_range: tuple[float, float] | None = None,
        errors: pd.DataFrame | None = None,
    ) -> None:
        d = np.asarray(descriptors, dtype=np.float32)
        if d.ndim != 3:
            raise ValueError(f"descriptors must be (n, S, B), got shape {d.shape}")
        n = d.shape[0]
        if metadata is None:
            metadata = pd.DataFrame({"id": [str(i) for i in range(n)]})
        if len(metadata) != n:
            raise ValueError(f"metadata has {len(metadata)} rows but there are {n} descriptors")
        self.descriptors = d
        self.metadata = metadata.reset_index(drop=True)
        if "id" not in self.metadata.columns:
            self.metadata.insert(0, "id", [str(i) for i in range(n)])
        self.embedding = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        if self.embedding is not None and self.embedding.shape != (n, 2):
            raise ValueError(f"embedding must be ({n}, 2), got {self.embedding.shape}")
        self.value_range = value_range
        self.errors = errors if errors is not None else pd.DataFrame(columns=["source", "error"])

    def __len__(self) -> int:
        return self.descriptors.shape[0]

    def __repr__(self) -> str:
        n, s, b = self.descriptors.shape
        proj = "projected" if self.embedding is not None else "not projected"
        return f"ModelLibrary({n} models, descriptors {s}x{b}, {proj})"


@dataclass
class SelectionSummary:
    """What :meth:`ModelLibrary.summarize` returns for a selection."""

    mean: pd.DataFrame  # (S, B) mean descriptor
    std: pd.DataFrame  # (S, B) standard-deviation descriptor
    characteristic: pd.DataFrame  # over-represented hyper-parameter values
    n: int
