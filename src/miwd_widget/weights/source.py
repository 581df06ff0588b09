"""The weights of one model: ordered tensors (possibly memory-mapped) and what was skipped.

A reader turns a *source* (an array, a mapping, a torch module, a model file) into a
:class:`WeightSource`; descriptors read it segment by segment, so a multi-GB file never has
to be materialized as one ``theta`` vector. This module depends on numpy only: readers and
descriptors build on it, never the other way round.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dtypes import is_narrow, pattern_view, to_float32

__all__ = [
    "Tensor",
    "WeightSource",
    "Skip",
    "Quantization",
    "WeightReadError",
    "MissingDependencyError",
    "natural_key",
    "require",
    "KERNEL_DTYPES",
]

#: Most bytes :meth:`Tensor.chunks` reads from a file at once (each piece is a new array).
FILE_CHUNK_BYTES = 1 << 22
#: numpy dtypes a descriptor kernel reads directly; anything else floating is converted in chunks.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class WeightReadError(ValueError):
    """A source could not be read as model weights (the message names the source and why)."""


class MissingDependencyError(WeightReadError, ImportError):
    """Reading a source needs an optional extra that is not installed."""


def require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or say which extra to install.

    Examples
    --------
    >>> require("json", "none", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Never an install line for the name "miwd-widget": it is not published on an index,
        # so whoever registered it would be installed instead.
        raise MissingDependencyError(
            f"{what} needs the optional package {module!r}: pip install {module}, or install "
            f"miwd-widget's {extra!r} extra from your wheel or checkout "
            f"(pip install 'miwd_widget-....whl[{extra}]' or pip install '.[{extra}]')"
        ) from exc


@dataclass
class Tensor:
    """One named floating-point tensor of a model, flattened to 1-D.

    ``data`` is a 1-D numpy array or array-like (a ``FileArray`` read from its file as it
    is sliced, a computed update or dequantized layer). For the narrow floats numpy
    lacks (bfloat16, the float8 kinds), ``data`` holds the raw ``uint16``/``uint8`` bit
    patterns and ``dtype`` names the format (:mod:`~miwd_widget.weights.dtypes`).

    Examples
    --------
    >>> Tensor("w", np.arange(3, dtype=np.float32), "float32").size
    3
    """

    name: str
    data: np.ndarray
    dtype: str
    #: The stored shape, when the reader knows it (quantized layouts need it).
    shape: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        return int(self.data.shape[0])

    def values(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """``data[start:stop]`` as a numpy array: a view of data in memory; data read from
        its file (:class:`~miwd_widget.weights.file_array.FileArray`) fills ``out``, a
        buffer of data's dtype the caller reuses, when one is given."""
        if out is not None and hasattr(self.data, "read_into"):
            return self.data.read_into(start, out[: stop - start])
        return self.data[start:stop]

    def chunks(self, max_elems: int = 1 << 20, reuse: bool = False) -> Iterator[np.ndarray]:
        """Yield the tensor as float32/float64 1-D pieces of at most ``max_elems`` values.

        float32 and float64 data are yielded as views (no copy); 16- and 8-bit floats are
        converted to float32 one piece at a time, so extra memory stays bounded.
        ``reuse``: data read from its file fills one buffer, overwritten by the next piece
        (for callers that use each piece before asking for the next: no fresh pages).
        """
        n = self.size
        narrow = is_narrow(self.dtype)
        buffer = None
        if hasattr(self.data, "read_into"):  # read from its file: new arrays, or one buffer
            max_elems = min(max_elems, FILE_CHUNK_BYTES // self.data.dtype.itemsize)
            if reuse:
                buffer = np.empty(min(max_elems, n), self.data.dtype)
        for start in range(0, n, max_elems):
            yield self.floats(start, min(start + max_elems, n), buffer, narrow)

    def floats(
        self, start: int, stop: int, out: np.ndarray | None = None, narrow: bool | None = None
    ) -> np.ndarray:
        """``data[start:stop]`` as float32/float64, as :meth:`chunks` yields it (``out``:
        as :meth:`values`)."""
        piece = self.values(start, stop, out)
        if is_narrow(self.dtype) if narrow is None else narrow:
            return to_float32(piece, self.dtype)
        if piece.dtype in KERNEL_DTYPES:
            return piece
        return np.asarray(piece, dtype=np.float32)

    @property
    def patterns(self) -> np.ndarray | None:
        """The raw bit patterns (uint16/uint8, no copy) of a 16- or 8-bit float tensor,
        else None: descriptors count these instead of converting the values."""
        return pattern_view(self.data, self.dtype) if is_narrow(self.dtype) else None

    @property
    def chunk_dtype(self) -> np.dtype:
        """The dtype :meth:`chunks` yields (float64 stays float64, the rest is float32)."""
        return np.dtype(np.float64) if self.data.dtype == np.float64 else np.dtype(np.float32)


@dataclass(frozen=True)
class Quantization:
    """How a quantized checkpoint stores its weights (:mod:`~miwd_widget.weights.quantized`).

    Attributes
    ----------
    method : str
        The ``quant_method`` of ``quantization_config`` (``"gptq"``, ``"awq"``, ``"fp8"``,
        ``"compressed-tensors"``), or ``"fp8"`` for scaled float8 tensors without a config.
    bits : int
        Bits of one stored weight.
    details : tuple of (str, object)
        What else the dequantization followed (group size, zero-point convention, block).

    Examples
    --------
    >>> Quantization("gptq", 4, (("group_size", 128),)).columns()
    {'quant_method': 'gptq', 'quant_bits': 4}
    """

    method: str
    bits: int
    details: tuple[tuple[str, Any], ...] = ()

    def columns(self) -> dict[str, Any]:
        """The library columns of this quantization."""
        return {"quant_method": self.method, "quant_bits": self.bits}


@dataclass
class WeightSource:
    """The weights of one model: ordered tensors plus a report of what was left out.

    Attributes
    ----------
    name : str
        Label used in reports and errors (the path for files).
    tensors : list of Tensor
        The floating-point tensors, in theta order.
    skipped : list of (str, str)
        ``(tensor name, reason)`` of everything that was read but is not a weight.
    path : str or None
        The file actually read (for a directory: the model file found in it).
    format : str or None
        The reader used, e.g. ``"safetensors"``, ``"torch"``, ``"onnx"``, ``"nws-float64"``.
    quantization : Quantization or None
        For a quantized checkpoint, how its weights were stored (they are dequantized).
    """

    name: str
    tensors: list[Tensor]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    path: str | None = None
    format: str | None = None
    quantization: Quantization | None = None

    @property
    def n(self) -> int:
        """Total number of weights N in theta."""
        return sum(t.size for t in self.tensors)

    @property
    def names(self) -> list[str]:
        """Tensor names in theta order."""
        return [t.name for t in self.tensors]

    def chunks(
        self, max_elems: int = 1 << 20, reuse: bool = False
    ) -> Iterator[tuple[Tensor, int, np.ndarray]]:
        """Yield ``(tensor, global_offset, piece)`` over theta in order (``reuse``: as
        :meth:`Tensor.chunks`)."""
        offset = 0
        for t in self.tensors:
            for piece in t.chunks(max_elems, reuse):
                yield t, offset, piece
                offset += piece.shape[0]

    def report(self) -> str:
        """A short human-readable report of what was read and skipped.

        Examples
        --------
        >>> from miwd_widget.weights import open_weights
        >>> print(open_weights({"w": np.ones(3), "step": np.array(7)}, name="m").report())
        m: 1 tensors, N=3 weights
          skipped step: int64 tensor is not a weight
        """
        fmt = f" ({self.format})" if self.format else ""
        lines = [f"{self.name}{fmt}: {len(self.tensors)} tensors, N={self.n:,} weights"]
        for name, reason in self.skipped:
            lines.append(f"  skipped {name}: {reason}")
        return "\n".join(lines)


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded integers numerically ("layers.2" before "layers.10").

    Examples
    --------
    >>> sorted(["layers.10.w", "layers.2.w", "embed"], key=natural_key)
    ['embed', 'layers.2.w', 'layers.10.w']
    """
    # Integers and strings alternate in the same positions for any two names (re.split with
    # a capturing group always starts with a string), so the keys are comparable.
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class Skip:
    """Placeholder for an entry a reader found but that is not a weight (with the reason)."""

    reason: str
