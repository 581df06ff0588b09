"""The one progress-bar helper (tqdm), shown by default only for more than 10 items."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["progress", "SHOW_ABOVE"]

#: Below this many items a bar is more noise than help.
SHOW_ABOVE = 10


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    desc: str,
    total: int | None = None,
    show: bool | None = None,
    unit: str = "model",
) -> Any:
    """A tqdm bar over ``iterable`` (or a manual one with ``total``).

    Parameters
    ----------
    iterable
        Items to wrap; ``None`` for a bar advanced with ``bar.update(k)``.
    desc, unit
        Label and unit shown.
    total
        Number of items (default ``len(iterable)``).
    show
        ``True``/``False``, or ``None``: only for more than :data:`SHOW_ABOVE` items.

    Examples
    --------
    >>> list(progress([1, 2, 3], desc="demo"))
    [1, 2, 3]
    """
    from tqdm.auto import tqdm  # lazily: importing tqdm.auto probes for notebooks

    if total is None and iterable is not None:
        total = len(iterable)  # type: ignore[arg-type]
    visible = show if show is not None else (total or 0) > SHOW_ABOVE
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not visible)
