"""Open the weights of one model from anything: the entry point of :mod:`miwd_widget.weights`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .adapters import ADAPTER_CONFIG, ADAPTER_MODES, is_adapter_folder, read_adapter
from .objects import build_source, is_module, is_tensor_like, object_items
from .registry import read_path
from .source import Tensor, WeightReadError, WeightSource

__all__ = ["open_weights", "flatten_weights"]


def open_weights(
    source: Any,
    *,
    order: Sequence[str] | None = None,
    include_buffers: bool = False,
    name: str | None = None,
    adapter: str = "weights",
) -> WeightSource:
    """Open the weights of one model without concatenating them.

    Parameters
    ----------
    source
        A numpy array, a list of arrays, a mapping name -> array (insertion order kept),
        a ``torch.nn.Module`` or state_dict, or a path to a model file or to a directory
        holding one (see the module docstring for formats and tensor order).
    order
        Explicit tensor order (names), overriding the format's own or natural order.
        Tensors not named are left out (and reported in ``skipped``).
    include_buffers
        For torch modules: add each module's buffers (e.g. BatchNorm running statistics)
        after its parameters.
    name
        Label used in reports and errors (defaults to the path or the type).
    adapter
        For a PEFT adapter folder (``adapter_config.json``, :mod:`.adapters`):
        ``"weights"``, its own tensors in natural order of their names, or ``"update"``,
        each LoRA module's update ``(lora_alpha / r) * B @ A``, computed as it is read.

    Returns
    -------
    WeightSource
        Ordered tensors (memory maps for .safetensors, .npy and NWS .bin files).

    Raises
    ------
    WeightReadError
        The source cannot be read; the message names it and says why.
        :class:`MissingDependencyError` (a subclass) when an optional extra is missing.

    Examples
    --------
    >>> ws = open_weights({"w": np.ones((2, 3), np.float32), "step": np.array(3)})
    >>> ws.n, ws.skipped
    (6, [('step', 'int64 tensor is not a weight')])
    >>> open_weights({"b": np.zeros(2), "a": np.ones(1)}, order=["a", "b"]).names
    ['a', 'b']
    """
    if adapter not in ADAPTER_MODES:
        raise ValueError(f"adapter must be one of {ADAPTER_MODES}, got {adapter!r}")
    if isinstance(source, (str, os.PathLike)) and is_adapter_folder(source):
        return read_adapter(source, adapter, order=order, name=name)
    if adapter != "weights":
        is_path = isinstance(source, (str, os.PathLike))
        label = name or (os.fspath(source) if is_path else type(source).__name__)
        raise WeightReadError(
            f"{label}: adapter={adapter!r} reads PEFT adapter folders, and this is not one "
            f"(no {ADAPTER_CONFIG})"
        )
    if isinstance(source, WeightSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        return read_path(Path(source), order=order, include_buffers=include_buffers, name=name)
    if isinstance(source, Tensor):
        return build_source(name or source.name, [(source.name, source)], order)
    if is_tensor_like(source):
        return build_source(name or "array", [("theta", source)], order)
    if (
        isinstance(source, (list, tuple))
        and source
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    ):
        raise WeightReadError(
            f"open_weights reads one model, got a list of {len(source)} paths; "
            "pass them to describe() or ModelLibrary.from_files() to read many models"
        )
    if is_module(source) or isinstance(source, (Mapping, list, tuple)):
        label = name or (
            type(source).__name__
            if is_module(source)
            else "mapping"
            if isinstance(source, Mapping)
            else "list"
        )
        items, skipped = object_items(source, include_buffers)
        return build_source(label, items, order, skipped=skipped)
    raise WeightReadError(f"cannot read weights from an object of type {type(source).__name__}")


def flatten_weights(source: Any, **kwargs: Any) -> np.ndarray:
    """Concatenate a model's floating-point weights in layer order into one 1-D theta.

    The result has the widest input float dtype (16- and 8-bit floats become float32).
    Keyword arguments are passed to :func:`open_weights`.

    Examples
    --------
    >>> flatten_weights([np.zeros(2), np.ones(3)])
    array([0., 0., 1., 1., 1.])
    """
    ws = open_weights(source, **kwargs)
    if not ws.tensors:
        raise WeightReadError(f"{ws.name}: the model has no floating-point weights")
    dtype = np.result_type(*[t.chunk_dtype for t in ws.tensors])
    try:
        out = np.empty(ws.n, dtype=dtype)
    except MemoryError:
        raise WeightReadError(
            f"{ws.name}: not enough memory for its {ws.n:,} weights as one {dtype} vector "
            "(describe() reads a model in pieces and needs no such vector)"
        ) from None
    for _, offset, piece in ws.chunks():
        out[offset : offset + piece.shape[0]] = piece
    return out
