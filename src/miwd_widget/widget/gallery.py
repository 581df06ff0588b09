"""The gallery's side of the Atlas: a selection's descriptors, mean and std, and captions.

The browser asks with a :class:`~.messages.DescriptorRequest` (the rows as one int32
buffer; none = the whole library) and gets a :class:`~.messages.DescriptorReply` with three
float32 buffers: ``gallery_size`` descriptors spread over the rows (k, S, B), and the mean
and the standard deviation (S, B) of all rows, or of a seeded uniform sample of
:data:`GALLERY_EXACT_ROWS` of them for larger selections (the reply says how many). A
request that fails gets a :class:`~.messages.DescriptorError`, which the view shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._positions import as_positions
from ..library.summary import mean_std
from .codec import MISSING_LABEL
from .defaults import ACCURACY_PREFERENCE
from .messages import Buffers, DescriptorReply, DescriptorRequest

if TYPE_CHECKING:
    from ..library import ModelLibrary

__all__ = [
    "GALLERY_EXACT_ROWS",
    "answer_request",
    "captions",
    "descriptor_reply",
    "spread_sample",
    "value_range_of",
]

#: Above this many selected models the gallery's mean and std are those of a seeded uniform
#: sample of this many (said in the view): 122 ms instead of ~0.9 s for 500,000 of 32x32
#: here, within 1.3% of a standard deviation of the exact values (benchmarks/bench_gallery.py).
#: ``atlas.summarize()`` is always exact.
GALLERY_EXACT_ROWS = 65_536


def value_range_of(library: ModelLibrary) -> list[float] | None:
    """The descriptors' value span as the ``value_range`` trait holds it."""
    vr = library.value_range
    return None if vr is None else [float(vr[0]), float(vr[1])]


def spread_sample(positions: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``positions`` spread evenly over all of them (first and last included).

    The gallery shows a sample of the whole selection, not its first rows (those would be
    the models that happen to come first in the library, e.g. one dataset's).

    Examples
    --------
    >>> spread_sample(np.arange(100), 5).tolist()
    [0, 25, 50, 74, 99]
    >>> spread_sample(np.arange(3), 5).tolist()
    [0, 1, 2]
    """
    if k <= 0 or positions.size == 0:
        return positions[:0]
    if positions.size <= k:
        return positions
    picks = np.linspace(0, positions.size - 1, k).round().astype(np.int64)
    return positions[np.unique(picks)]


def captions(meta: pd.DataFrame, positions: np.ndarray) -> list[str]:
    """Gallery captions: id, then dataset · accuracy · optimizer · activation (those present).

    Column-wise string operations, not a loop over rows: ``save_html`` captions every model.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["m0", "m1"], "dataset": ["mnist", None]})
    >>> captions(meta, np.array([1, 0]))
    ['m1\\n(missing)', 'm0\\nmnist']
    """
    meta = meta.iloc[np.asarray(positions, dtype=np.int64)]
    if meta.empty:
        return []

    def text(column: pd.Series) -> pd.Series:  # pandas' str dtype keeps NaN: say missing
        return column.astype(object).where(column.notna(), MISSING_LABEL).map(str)

    parts: list[pd.Series] = []
    if "dataset" in meta.columns:
        parts.append(text(meta["dataset"]))
    acc = next((c for c in ("test_accuracy", *ACCURACY_PREFERENCE) if c in meta), None)
    if acc is not None:
        values = pd.to_numeric(meta[acc], errors="coerce")
        parts.append(("acc " + values.map("{:.3f}".format)).where(values.notna(), ""))
    parts += [text(meta[c]) for c in ("optimizer", "activation") if c in meta.columns]
    ids = text(meta["id"]) if "id" in meta.columns else pd.Series(meta.index.astype(str))
    if not parts:
        return (ids + "\n").tolist()
    # Each part brings its own separator, so a missing accuracy leaves no empty " ·  · ".
    joined = sum(((" · " + part).where(part != "", "") for part in parts[1:]), parts[0])
    return (ids + "\n" + joined.str.removeprefix(" · ")).tolist()


def descriptor_reply(
    library: ModelLibrary, indices: Any, request_id: Any, gallery_size: int
) -> tuple[DescriptorReply, list[memoryview]]:
    """The reply to a gallery request: content and buffers (gallery, mean, std).

    An empty request describes the whole library.
    """
    descriptors = library.descriptors
    n, s, b = descriptors.shape
    positions = as_positions(indices, n, "indices")
    everything = positions.size == 0
    mean, std, used = mean_std(
        descriptors, None if everything else positions, max_rows=GALLERY_EXACT_ROWS
    )
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    shown = spread_sample(np.arange(n) if everything else positions, gallery_size)
    gallery = np.ascontiguousarray(descriptors[shown], dtype=np.float32)
    content: DescriptorReply = {
        "type": "descriptors",
        "id": request_id,
        "n": int(n if everything else positions.size),
        "all": bool(everything),
        "indices": [int(i) for i in shown],
        "labels": captions(library.metadata, shown),
        "k": int(len(shown)),
        "S": int(s),
        "B": int(b),
        "value_range": value_range_of(library),
        "sampled": int(used),
    }
    buffers = [memoryview(a.reshape(-1)).cast("B") for a in (gallery, mean, std)]
    return content, buffers


def answer_request(
    message: DescriptorRequest,
    buffers: Buffers,
    reply: Callable[[np.ndarray, Any], tuple[DescriptorReply, list[memoryview]]],
    send: Callable[..., None],
) -> None:
    """Answer a gallery request with ``reply(rows, id)``, or with the error it raised.

    The rows are the request's int32 buffer (or, from older front ends, its ``indices``).
    """
    request_id = message.get("id")
    try:
        if buffers:
            rows = np.frombuffer(memoryview(buffers[0]), dtype=np.int32)
        else:
            rows = np.asarray(message.get("indices", []), dtype=np.int64)
        content, reply_buffers = reply(rows, request_id)
    except Exception as err:  # the browser shows the message instead of waiting
        send({"type": "descriptors", "id": request_id, "error": str(err)})
        return
    send(content, buffers=reply_buffers)
