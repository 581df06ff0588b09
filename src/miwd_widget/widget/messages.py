"""The custom messages between the Atlas and its front end, and their dispatch.

Browser -> Python (js/src/wire/model.ts declares the same types):

- :class:`DescriptorRequest` ``{"type": "descriptors", "id", "n"}`` with one int32 buffer of
  ``n`` row positions (none: the whole library). Answered with a :class:`DescriptorReply`
  and three float32 buffers: the first ``gallery_size`` descriptors (k, S, B), the mean
  (S, B) and the standard deviation (S, B) of the rows (:mod:`.gallery`), or with a
  :class:`DescriptorError`.
- :class:`ColumnsRequest` ``{"type": "columns", "names"}``: send these deferred columns
  (:mod:`.column_transport`); the answer is the ``_text_columns`` / ``_columns`` traits.
- :class:`NeighborsRequest` ``{"type": "neighbors", "row", "k"}``: show the descriptor-space
  neighbours of ``row`` (-1: none); the answer is the ``_neighbors`` trait, so that every
  view of the widget shows them (:mod:`.overlays`).

Each type has one handler in one table (:func:`message_router`); messages of other types,
and contents that are not objects, are ignored. The browser is not trusted to send the
declared types: the handlers check the fields they read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict

__all__ = [
    "Buffers",
    "ColumnsRequest",
    "DescriptorError",
    "DescriptorReply",
    "DescriptorRequest",
    "Handler",
    "NeighborsRequest",
    "message_router",
]

#: The binary buffers of a message (ipywidgets gives memoryviews).
Buffers = list[Any]
#: What a message type's handler gets: the message and its buffers.
Handler = Callable[[Any, Buffers], None]


class DescriptorRequest(TypedDict):
    """Browser -> Python: the gallery of ``n`` rows, sent as one int32 buffer."""

    type: Literal["descriptors"]
    id: str
    n: int


class DescriptorReply(TypedDict):
    """Python -> browser: a gallery (buffers: descriptors (k, S, B), mean, std)."""

    type: Literal["descriptors"]
    id: Any
    n: int
    all: bool
    indices: list[int]
    labels: list[str]
    k: int
    S: int
    B: int
    value_range: list[float] | None
    #: Rows the mean and std come from: fewer than ``n`` when a large selection is sampled.
    sampled: int


class DescriptorError(TypedDict):
    """Python -> browser: why a gallery request failed (the view shows it)."""

    type: Literal["descriptors"]
    id: Any
    error: str


class ColumnsRequest(TypedDict):
    """Browser -> Python: send these deferred columns."""

    type: Literal["columns"]
    names: list[str]


class _NeighborsRow(TypedDict):
    type: Literal["neighbors"]
    row: int


class NeighborsRequest(_NeighborsRow, total=False):
    """Browser -> Python: show the ``k`` neighbours of ``row`` (-1: show none)."""

    k: int


def message_router(handlers: Mapping[str, Handler]) -> Callable[[Any, Any, Any], None]:
    """An ``on_msg`` callback that gives each message to the handler of its ``type``.

    Examples
    --------
    >>> seen = []
    >>> route = message_router({"columns": lambda message, buffers: seen.append(message)})
    >>> route(None, {"type": "columns", "names": ["id"]}, None)
    >>> route(None, {"type": "unknown"}, None); route(None, "not an object", None)
    >>> seen
    [{'type': 'columns', 'names': ['id']}]
    """

    def route(widget: Any, content: Any, buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler = handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(content, list(buffers or []))

    return route
