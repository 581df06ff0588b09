"""The weights behind a library's rows, read through the package's readers.

A library keeps descriptors, not weights: an evaluation reads each model again from the
file in ``metadata["source"]`` (or takes the models given with ``weights=``). Everything is
read with :func:`miwd_widget.weights.open_weights`, so the tensor order (the safetensors
``"order"`` metadata, natural key order otherwise) is the one the descriptors were built with.

Examples
--------
>>> from miwd_widget.library import ModelLibrary
>>> lib = ModelLibrary(np.zeros((2, 4, 4), np.float32))
>>> [t.shape for t in library_weights(lib, weights=[np.ones(8), np.ones(9)])]
[(8,), (9,)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress as progress_bar
from ..columns import ID, SOURCE

__all__ = ["LibraryWeightsError", "library_weights", "library_sources", "state_dict"]


class LibraryWeightsError(ValueError):
    """The library does not give access to its models' weights."""


def library_sources(library: Any) -> list[str]:
    """The weight file of every library row, or a clear error saying the weights are missing.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> library_sources(ModelLibrary(np.zeros((1, 4, 4), np.float32)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    miwd_widget.evaluate.weights.LibraryWeightsError: the library has no weights: ...
    """
    md = library.metadata
    n = len(md)
    if SOURCE not in md.columns:
        raise LibraryWeightsError(
            "the library has no weights: its metadata has no 'source' column (the path of each "
            "model's weight file). Build it with ModelLibrary.from_zoo/from_files, or pass "
            "weights=[...] with one model per library row."
        )
    missing = []
    for i, src in enumerate(md[SOURCE]):
        if not isinstance(src, (str, os.PathLike)) or not os.path.isfile(src):
            missing.append((i, md[ID].iloc[i] if ID in md.columns else i, src))
    if missing:
        examples = "; ".join(f"row {i} (id {mid!r}): {src!r}" for i, mid, src in missing[:3])
        raise LibraryWeightsError(
            f"the library has no weights for {len(missing)} of {n} models: metadata['source'] "
            f"is empty or the file does not exist ({examples}). Rebuild the library where the "
            f"files are, or pass weights=[...] with one model per library row."
        )
    return [os.fspath(s) for s in md[SOURCE]]


def library_weights(
    library: Any, weights: Sequence[Any] | None = None, progress: bool | None = None
) -> list[np.ndarray]:
    """Every library model's theta as a float32 1-D array, in library row order.

    Parameters
    ----------
    library
        A :class:`~miwd_widget.library.ModelLibrary` whose ``metadata["source"]`` holds
        each model's weight file.
    weights
        Optional models (anything :func:`~miwd_widget.weights.flatten_weights` reads), one
        per library row, used instead of ``metadata["source"]``.
    progress
        Progress bar; by default for more than 10 models.

    Examples
    --------
    >>> from miwd_widget.library import ModelLibrary
    >>> lib = ModelLibrary(np.zeros((2, 4, 4), np.float32))
    >>> [t.dtype.name for t in library_weights(lib, weights=[np.ones(8), np.ones(9)])]
    ['float32', 'float32']
    """
    from ..weights import flatten_weights

    n = len(library.metadata)
    if weights is not None:
        models = list(weights)
        if len(models) != n:
            raise ValueError(f"weights has {len(models)} models but the library has {n} rows")
    else:
        models = library_sources(library)
    return [
        np.asarray(flatten_weights(m), dtype=np.float32)
        for m in progress_bar(models, desc="reading weights", show=progress)
    ]


def _stored_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes a file stores, for readers whose tensors are flat.

    The readers' :class:`~miwd_widget.weights.Tensor` is 1-D, and the invariance test needs
    the matrices' shapes to permute neurons. Only the shapes are looked up here (the header
    of a safetensors file, the array headers of an .npz); values and order come from the
    readers.
    """
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k].shape for k in z.files}
    raise ValueError(
        f"{path}: invariance needs the weights' shapes; it reads .safetensors and .npz files. "
        f"Pass state dicts (mappings name -> array) for other formats."
    )


def state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A weight file as an ordered mapping name -> shaped array, in theta order.

    The tensors, their order and what is skipped (integer counters) are the readers'
    (:func:`~miwd_widget.weights.open_weights`); the arrays are reshaped to the shapes the
    file stores (.safetensors and .npz).

    Examples
    --------
    >>> import tempfile
    >>> from safetensors.numpy import save_file
    >>> path = tempfile.mkdtemp() + "/m.safetensors"
    >>> save_file({"w": np.ones((2, 3), np.float32), "b": np.zeros(2, np.float32)}, path)
    >>> {k: v.shape for k, v in state_dict(path).items()}
    {'b': (2,), 'w': (2, 3)}
    """
    from ..weights import open_weights

    ws = open_weights(path)
    shapes = _stored_shapes(Path(path))
    out: dict[str, np.ndarray] = {}
    for t in ws.tensors:
        flat = np.concatenate(list(t.chunks())) if t.size else np.empty(0, np.float32)
        shape = getattr(t, "shape", None) or shapes.get(t.name, (t.size,))
        out[t.name] = flat.reshape(shape)
    return out
