"""Read the weights of a model from anything: arrays, mappings, torch modules, model files.

A reader turns a *source* into a :class:`WeightSource`: an ordered list of floating-point
tensors (possibly memory-mapped, never concatenated) plus a report of what was skipped.
Descriptors are computed from the tensors segment by segment, so a multi-GB file never
has to be materialized as one ``theta`` vector.

Readers know nothing of descriptors or widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Tensor",
    "WeightSource",
    "WeightReadError",
    "open_weights",
    "flatten_weights",
    "natural_key",
]

#: numpy dtypes a descriptor kernel reads directly; anything else floating is converted in chunks.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class WeightReadError(ValueError):
    """A source could not be read as model weights (the message names the source and why)."""


@dataclass
class Tensor:
    """One named floating-point tensor of a model, flattened to 1-D.

    ``data`` is a 1-D numpy array (possibly a ``np.memmap``). For bfloat16, which numpy lacks,
    ``data`` holds the raw ``uint16`` bit patterns and ``dtype`` is ``"bfloat16"``.
    """

    name: str
    data: np.ndarray
    dtype: str

    @property
    def size(self) -> int:
        return int(self.data.shape[0])

    def chunks(self, max_elems: int = 1 << 20) -> Iterator[np.ndarray]:
        """Yield the tensor as float32/float64 1-D pieces of at most ``max_elems`` values.

        float32 and float64 data are yielded as views (no copy); float16 and bfloat16 are
        converted to float32 one piece at a time, so extra memory stays bounded.
        """
        n = self.size
        for start in range(0, n, max_elems):
            piece = self.data[start : start + max_elems]
            if self.dtype == "bfloat16":
                # bfloat16 is the high half of a float32: shift the bits into place.
                yield (np.asarray(piece, dtype=np.uint32) << 16).view(np.float32)
            elif piece.dtype in KERNEL_DTYPES:
                yield piece
            else:
                yield np.asarray(piece, dtype=np.float32)


@dataclass
class WeightSource:
    """The weights of one model: ordered tensors plus a report of what was left out."""

    name: str
    tensors: list[Tensor]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    path: str | None = None

    @property
    def n(self) -> int:
        """Total number of weights N in theta."""
        return sum(t.size for t in self.tensors)

    def chunks(self, max_elems: int = 1 << 20) -> Iterator[tuple[Tensor, int, np.ndarray]]:
        """Yield ``(tensor, global_offset, piece)`` over theta in order."""
        offset = 0
        for t in self.tensors:
            for piece in t.chunks(max_elems):
                yield t, offset, piece
                offset += piece.shape[0]

    def report(self) -> str:
        """A one-paragraph human-readable report of what was read and skipped."""
        lines = [f"{self.name}: {len(self.tensors)} tensors, N={self.n:,} weights"]
        for name, reason in self.skipped:
            lines.append(f"  skipped {name}: {reason}")
        return "\n".join(lines)


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded integers numerically ("layers.2" before "layers.10")."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _classify(name: str, arr: Any) -> tuple[Tensor | None, str | None]:
    """Turn one array-like into a Tensor, or give the reason it is not a weight."""
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        return Tensor(name, a.reshape(-1), str(a.dtype)), None
    if a.dtype.kind in "biu":
        return None, f"{a.dtype} tensor is not a weight"
    return None, f"unsupported dtype {a.dtype}"


def _from_mapping(name: str, mapping: Mapping[str, Any], order: Sequence[str] | None) -> WeightSource:
    keys = list(mapping.keys())
    if order is not None:
        missing = [k for k in order if k not in mapping]
        if missing:
            raise WeightReadError(f"{name}: order= names keys not in the model: {missing[:5]}")
        keys = list(order)
    tensors, skipped = [], []
    for k in keys:
        t, why = _classify(str(k), mapping[k])
        if t is None:
            skipped.append((str(k), why or "not a weight"))
        elif t.size:
            tensors.append(t)
    return WeightSource(name, tensors, skipped)


def open_weights(
    source: Any,
    *,
    order: Sequence[str] | None = None,
    include_buffers: bool = False,
    name: str | None = None,
) -> WeightSource:
    """Open the weights of one model without concatenating them.

    Parameters
    ----------
    source
        A numpy array, a list of arrays, a mapping name -> array (insertion order kept),
        a ``torch.nn.Module`` or state_dict, or a path to a model file.
    order
        Explicit tensor order (names), overriding the format's own or natural order.
    include_buffers
        For torch modules: add buffers (e.g. BatchNorm running statistics).
    name
        Label used in reports and errors (defaults to the path or the type).

    Examples
    --------
    >>> ws = open_weights({"w": np.ones((2, 3), np.float32), "step": np.array(3)})
    >>> ws.n, ws.skipped
    (6, [('step', 'int64 tensor is not a weight')])
    """
    if isinstance(source, WeightSource):
        return source
    if isinstance(source, (str, Path)):
        raise WeightReadError(f"{source}: file readers are not available yet")
    if isinstance(source, np.ndarray):
        return _from_mapping(name or "array", {"theta": source}, None)
    if isinstance(source, Mapping):
        return _from_mapping(name or "mapping", source, order)
    if isinstance(source, (list, tuple)):
        return _from_mapping(name or "list", {f"[{i}]": a for i, a in enumerate(source)}, None)
    raise WeightReadError(f"cannot read weights from an object of type {type(source).__name__}")


def flatten_weights(source: Any, **kwargs: Any) -> np.ndarray:
    """Concatenate a model's floating-point weights in layer order into one 1-D theta.

    The result has the widest input float dtype (bfloat16 and float16 become float32).

    Examples
    --------
    >>> flatten_weights([np.zeros(2), np.ones(3)])
    array([0., 0., 1., 1., 1.])
    """
    ws = open_weights(source, **kwargs)
    if not ws.tensors:
        raise WeightReadError(f"{ws.name}: the model has no floating-point weights")
    dtype = np.result_type(*[np.float32 if t.dtype in ("bfloat16", "float16") else t.data.dtype for t in ws.tensors])
    out = np.empty(ws.n, dtype=dtype)
    for _, offset, piece in ws.chunks():
        out[offset : offset + piece.shape[0]] = piece
    return out
