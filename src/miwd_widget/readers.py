"""Read the weights of a model from anything: arrays, mappings, torch modules, model files.

A reader turns a *source* into a :class:`WeightSource`: an ordered list of floating-point
tensors (possibly memory-mapped, never concatenated) plus a report of what was skipped.
Descriptors are computed from the tensors segment by segment, so a multi-GB file never
has to be materialized as one ``theta`` vector.

Sources and the order of their tensors (theta is the tensors concatenated in this order):

- numpy array: one tensor ``"theta"``; list/tuple of arrays (or torch tensors): list order;
  mapping name -> array: insertion order. Nested mappings are flattened (``"a.b"``), and
  checkpoint wrappers such as ``{"state_dict": {...}, "epoch": 3}`` or ``{"model": {...}}``
  are unwrapped (the other entries are reported as skipped).
- ``torch.nn.Module``: parameters in registration order (``named_parameters``). With
  ``include_buffers=True`` each module's buffers (BatchNorm ``running_mean``/``running_var``)
  follow that module's parameters, i.e. the module's ``state_dict`` order, so a module and its
  saved state_dict give the same theta. ``num_batches_tracked`` (an integer) is skipped.
- torch state_dict: its own (insertion) order; it holds whatever was saved, buffers included.
- files (see :mod:`miwd_widget._formats`): .safetensors (memory-mapped; ordered by the
  ``"order"`` list in the file's metadata if present, else by :func:`natural_key`, because
  safetensors sorts its keys), sharded safetensors (``*.index.json``), .pt/.pth/.bin PyTorch
  checkpoints (``torch.load(weights_only=True)`` only), .onnx (order of first use in the
  graph), .npz (file order), .npy and NWS float64 .bin (memory-mapped, one tensor), Keras
  .keras/.h5 (layer order).
- ``order=`` (a list of tensor names) overrides every rule above and also selects: tensors it
  does not name are left out and reported.

Integer and boolean tensors (position ids, step counters) are not weights: they are skipped
and listed in :attr:`WeightSource.skipped` with the reason; :meth:`WeightSource.report` shows
them. Readers know nothing of descriptors or widgets.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Tensor",
    "WeightSource",
    "WeightReadError",
    "MissingDependencyError",
    "open_weights",
    "flatten_weights",
    "natural_key",
]

#: numpy dtypes a descriptor kernel reads directly; anything else floating is converted in chunks.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: Keys under which training checkpoints commonly keep the model's state_dict.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")


class WeightReadError(ValueError):
    """A source could not be read as model weights (the message names the source and why)."""


class MissingDependencyError(WeightReadError, ImportError):
    """Reading a source needs an optional extra that is not installed."""


def _require(module: str, extra: str, what: str) -> Any:
    """Import an optional dependency, or say which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the optional package {module!r}: pip install miwd-widget[{extra}]"
        ) from exc


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
    """

    name: str
    tensors: list[Tensor]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    path: str | None = None
    format: str | None = None

    @property
    def n(self) -> int:
        """Total number of weights N in theta."""
        return sum(t.size for t in self.tensors)

    @property
    def names(self) -> list[str]:
        """Tensor names in theta order."""
        return [t.name for t in self.tensors]

    def chunks(self, max_elems: int = 1 << 20) -> Iterator[tuple[Tensor, int, np.ndarray]]:
        """Yield ``(tensor, global_offset, piece)`` over theta in order."""
        offset = 0
        for t in self.tensors:
            for piece in t.chunks(max_elems):
                yield t, offset, piece
                offset += piece.shape[0]

    def report(self) -> str:
        """A short human-readable report of what was read and skipped.

        Examples
        --------
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


# --------------------------------------------------------------------------------------
# Turning objects into tensors
# --------------------------------------------------------------------------------------


def _torch() -> Any:
    """The torch module if it is already imported: only then can an object be a torch one."""
    return sys.modules.get("torch")


def is_tensor_like(x: Any) -> bool:
    """Whether ``x`` is a numpy array or a torch tensor (one layer, not one model)."""
    if isinstance(x, np.ndarray):
        return True
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _is_module(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.nn.Module)


def _from_torch(name: str, t: Any) -> tuple[Tensor | None, str | None]:
    """A torch tensor as a Tensor sharing its memory where possible (bfloat16 as uint16 bits)."""
    torch = _torch()
    t = t.detach()
    if t.is_quantized:
        t = t.dequantize()
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.device.type == "meta":
        return None, "tensor on the meta device has no values"
    if t.device.type != "cpu":
        t = t.cpu()
    kind = str(t.dtype).removeprefix("torch.")
    if t.is_complex():
        return None, f"{kind} tensor is not supported"
    if not t.is_floating_point():
        return None, f"{kind} tensor is not a weight"
    flat = t.reshape(-1)
    if t.dtype == torch.bfloat16:
        return Tensor(name, flat.view(torch.int16).numpy().view(np.uint16), "bfloat16"), None
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        # float8 and other exotic floats: small in practice, converted once to float32.
        flat = flat.to(torch.float32)
    data = flat.numpy()
    return Tensor(name, data, str(data.dtype)), None


def _classify(name: str, arr: Any) -> tuple[Tensor | None, str | None]:
    """Turn one array-like into a Tensor, or give the reason it is not a weight."""
    if isinstance(arr, Skip):
        return None, arr.reason
    if isinstance(arr, Tensor):
        return Tensor(name, arr.data, arr.dtype), None
    if arr is None or isinstance(arr, (str, bytes, bool, int, float, complex)):
        return None, f"not a tensor ({type(arr).__name__})"
    torch = _torch()
    if torch is not None and isinstance(arr, torch.Tensor):
        return _from_torch(name, arr)
    a = np.asanyarray(arr)  # keeps np.memmap (no copy either way)
    if a.dtype.kind == "f":
        return Tensor(name, a.reshape(-1), str(a.dtype)), None
    if a.dtype.kind in "biu":
        return None, f"{a.dtype} tensor is not a weight"
    if a.dtype.kind == "V" and a.dtype.name == "bfloat16":  # ml_dtypes (onnx, jax, keras)
        return Tensor(name, a.reshape(-1).view(np.uint16), "bfloat16"), None
    if a.dtype.kind == "V" and a.dtype.name.startswith("float"):  # ml_dtypes float8/float4
        return Tensor(name, a.reshape(-1).astype(np.float32), "float32"), None
    return None, f"unsupported dtype {a.dtype}"


def _module_items(module: Any, include_buffers: bool) -> list[tuple[str, Any]]:
    """A module's parameters (and buffers) per submodule, in registration order."""
    items: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for prefix, sub in module.named_modules():
        own = list(sub.named_parameters(recurse=False))
        if include_buffers:
            own += list(sub.named_buffers(recurse=False))
        for local, value in own:
            if value is None or id(value) in seen:  # shared (tied) weights count once
                continue
            seen.add(id(value))
            items.append((f"{prefix}.{local}" if prefix else local, value))
    return items


def _object_items(
    obj: Any, include_buffers: bool, prefix: str = ""
) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Named entries of an in-memory model object, plus the entries skipped on the way."""
    skipped: list[tuple[str, str]] = []
    if _is_module(obj):
        return [(prefix + k, v) for k, v in _module_items(obj, include_buffers)], skipped
    if isinstance(obj, Mapping):
        wrapped = next(
            (
                k
                for k in CHECKPOINT_KEYS
                if k in obj and (isinstance(obj[k], Mapping) or _is_module(obj[k]))
            ),
            None,
        )
        if wrapped is not None:
            # A training checkpoint: keep the model, report the rest (optimizer, epoch, ...).
            skipped += [
                (prefix + str(k), f"checkpoint entry beside {wrapped!r}, not model weights")
                for k in obj
                if k != wrapped
            ]
            items, more = _object_items(obj[wrapped], include_buffers, prefix)
            return items, skipped + more
        items = []
        for k, v in obj.items():
            if isinstance(v, (Mapping, list, tuple)) or _is_module(v):
                sub, more = _object_items(v, include_buffers, f"{prefix}{k}.")
                items += sub
                skipped += more
            else:
                items.append((f"{prefix}{k}", v))
        return items, skipped
    if isinstance(obj, (list, tuple)):
        items = []
        for i, v in enumerate(obj):
            if isinstance(v, (Mapping, list, tuple)) or _is_module(v):
                sub, more = _object_items(v, include_buffers, f"{prefix}{i}.")
                items += sub
                skipped += more
            else:
                items.append((f"{prefix}[{i}]" if not prefix else f"{prefix}{i}", v))
        return items, skipped
    return [(prefix.rstrip(".") or "theta", obj)], skipped


def _reorder(
    name: str, items: list[tuple[str, Any]], order: Sequence[str], skipped: list[tuple[str, str]]
) -> list[tuple[str, Any]]:
    """Apply an explicit ``order=``: it selects and orders tensors by name."""
    if isinstance(order, (str, bytes)) or not isinstance(order, Sequence):
        raise WeightReadError(f"{name}: order= must be a list of tensor names, got {order!r}")
    lookup = dict(items)
    unknown = [o for o in order if o not in lookup]
    if unknown:
        have = list(lookup)
        raise WeightReadError(
            f"{name}: order= names {len(unknown)} tensor(s) the model does not have: "
            f"{unknown[:10]}{' ...' if len(unknown) > 10 else ''}; "
            f"its tensors are {have[:10]}{' ...' if len(have) > 10 else ''}"
        )
    repeated = sorted({o for o in order if list(order).count(o) > 1})
    if repeated:
        raise WeightReadError(f"{name}: order= names these tensors more than once: {repeated[:10]}")
    chosen = set(order)
    skipped += [(k, "not named in order=") for k, _ in items if k not in chosen]
    return [(o, lookup[o]) for o in order]


def build_source(
    name: str,
    items: list[tuple[str, Any]],
    order: Sequence[str] | None = None,
    *,
    skipped: list[tuple[str, str]] | None = None,
    path: str | None = None,
    format: str | None = None,
) -> WeightSource:
    """A WeightSource from ``(name, array-like | Skip)`` pairs already in the format's order."""
    skipped = list(skipped or [])
    if order is not None:
        items = _reorder(name, items, order, skipped)
    tensors = []
    for key, value in items:
        tensor, why = _classify(str(key), value)
        if tensor is None:
            skipped.append((str(key), why or "not a weight"))
        elif tensor.size:
            tensors.append(tensor)
    return WeightSource(name, tensors, skipped, path, format)


def _from_mapping(
    name: str, mapping: Mapping[str, Any], order: Sequence[str] | None
) -> WeightSource:
    items, skipped = _object_items(mapping, include_buffers=True)
    return build_source(name, items, order, skipped=skipped)


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
    if isinstance(source, WeightSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        from ._formats import read_path  # file readers live in their own module

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
    if _is_module(source) or isinstance(source, (Mapping, list, tuple)):
        label = name or (
            type(source).__name__
            if _is_module(source)
            else "mapping"
            if isinstance(source, Mapping)
            else "list"
        )
        items, skipped = _object_items(source, include_buffers)
        return build_source(label, items, order, skipped=skipped)
    raise WeightReadError(f"cannot read weights from an object of type {type(source).__name__}")


def flatten_weights(source: Any, **kwargs: Any) -> np.ndarray:
    """Concatenate a model's floating-point weights in layer order into one 1-D theta.

    The result has the widest input float dtype (bfloat16 and float16 become float32).
    Keyword arguments are passed to :func:`open_weights`.

    Examples
    --------
    >>> flatten_weights([np.zeros(2), np.ones(3)])
    array([0., 0., 1., 1., 1.])
    """
    ws = open_weights(source, **kwargs)
    if not ws.tensors:
        raise WeightReadError(f"{ws.name}: the model has no floating-point weights")
    dtype = np.result_type(
        *[np.float32 if t.dtype in ("bfloat16", "float16") else t.data.dtype for t in ws.tensors]
    )
    out = np.empty(ws.n, dtype=dtype)
    for _, offset, piece in ws.chunks():
        out[offset : offset + piece.shape[0]] = piece
    return out
