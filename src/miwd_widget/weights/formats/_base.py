"""What every file format shares: the :class:`FileFormat` record and small helpers.

A format module defines one or more ``FileFormat`` values; :mod:`miwd_widget.weights.registry`
lists them explicitly. A reader takes a path and returns ``(items, skipped, format)``: items
are ``(name, array | Skip | Tensor)`` pairs already in the format's layer order, which
:func:`miwd_widget.weights.objects.build_source` turns into a ``WeightSource``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..source import WeightReadError, natural_key

__all__ = ["FileFormat", "Items", "Skipped", "ReadResult", "apply_listed_order", "ZIP_MAGIC"]

Items = list[tuple[str, Any]]
Skipped = list[tuple[str, str]]
ReadResult = tuple[Items, Skipped, str]

ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class FileFormat:
    """One model file format.

    Attributes
    ----------
    name
        Short name (also the ``WeightSource.format`` most of its files get).
    suffixes
        Lower-case file suffixes it reads (``".index.json"`` style double suffixes allowed).
    read
        ``read(path) -> (items, skipped, format)``.
    description
        Completes "cannot read it as ..." in errors, e.g. ``"a safetensors file"``.
    group
        Formats of one group compete when a directory holds several model files.

    Examples
    --------
    >>> fmt = FileFormat("demo", (".demo",), lambda p: ([], [], "demo"), "a demo file")
    >>> fmt.matches(Path("model.DEMO"))
    True
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[Path], ReadResult]
    description: str
    group: str = ""

    def matches(self, path: Path) -> bool:
        """Whether ``path`` has one of this format's suffixes."""
        lower = path.name.lower()
        return any(lower.endswith(s) for s in self.suffixes)


def apply_listed_order(path: Path, items: Items, listed: Any, where: str) -> Items:
    """Order items by a stored list of names; names it omits follow in natural order."""
    if isinstance(listed, str):
        try:
            listed = json.loads(listed)
        except json.JSONDecodeError as exc:
            raise WeightReadError(f"{path}: {where} 'order' is not valid JSON: {exc}") from None
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise WeightReadError(f"{path}: {where} 'order' must be a JSON list of tensor names")
    lookup = dict(items)
    unknown = [n for n in listed if n not in lookup]
    if unknown:
        raise WeightReadError(
            f"{path}: {where} 'order' names tensors the file does not hold: {unknown[:10]}"
        )
    listed_set = set(listed)
    rest = sorted((k for k, _ in items if k not in listed_set), key=natural_key)
    return [(k, lookup[k]) for k in list(dict.fromkeys(listed)) + rest]
