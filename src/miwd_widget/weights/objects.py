"""In-memory model objects as named tensors: arrays, mappings, lists, torch modules.

Order rules: a numpy array is one tensor ``"theta"``; a list/tuple of arrays (or torch
tensors) keeps list order; a mapping name -> array keeps insertion order, nested mappings
are flattened (``"a.b"``) and checkpoint wrappers such as ``{"state_dict": {...}, "epoch": 3}``
are unwrapped (the other entries reported as skipped). A ``torch.nn.Module`` gives its
parameters in registration order; with ``include_buffers=True`` each module's buffers follow
its parameters, i.e. the module's ``state_dict`` order. ``order=`` (a list of names)
overrides every rule and also selects.

torch is never imported here: an object can only be a torch one if torch is already loaded.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .dtypes import is_narrow, pattern_view
from .file_array import FileArray
from .source import Skip, Tensor, WeightReadError, WeightSource

__all__ = ["build_source", "object_items", "is_tensor_like", "is_module", "CHECKPOINT_KEYS"]

log = logging.getLogger(__name__)

#: Keys under which training checkpoints commonly keep the model's state_dict.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")


def _torch() -> Any:
    """The torch module if it is already imported: only then can an object be a torch one."""
    return sys.modules.get("torch")


def is_tensor_like(x: Any) -> bool:
    """Whether ``x`` is a numpy array or a torch tensor (one layer, not one model)."""
    if isinstance(x, (np.ndarray, FileArray)):
        return True
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def is_module(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.nn.Module)


def _from_torch(name: str, t: Any) -> tuple[Tensor | None, str | None]:
    """A torch tensor as a Tensor sharing its memory where possible (16- and 8-bit floats
    that numpy lacks as their bit patterns)."""
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
    if is_narrow(kind) and t.element_size() == 1:
        return Tensor(name, flat.view(torch.uint8).numpy(), kind), None
    if t.dtype not in (torch.float16, torch.float32, torch.float64):
        # Other exotic floats (float4, e8m0 scales): converted once to float32.
        flat = flat.to(torch.float32)
    data = flat.numpy()
    return Tensor(name, data, str(data.dtype)), None


def _classify(name: str, arr: Any) -> tuple[Tensor | None, str | None]:
    """Turn one array-like into a Tensor, or give the reason it is not a weight."""
    if isinstance(arr, Skip):
        return None, arr.reason
    if isinstance(arr, Tensor):
        return Tensor(name, arr.data, arr.dtype, arr.shape), None
    if arr is None or isinstance(arr, (str, bytes, bool, int, float, complex)):
        return None, f"not a tensor ({type(arr).__name__})"
    torch = _torch()
    if torch is not None and isinstance(arr, torch.Tensor):
        return _from_torch(name, arr)
    if isinstance(arr, FileArray):  # stays in its file until read
        if arr.dtype.kind == "f":
            return Tensor(name, arr.reshape(-1), str(arr.dtype)), None
        arr = np.empty(0, arr.dtype)  # reported by dtype below, never read
    a = np.asanyarray(arr)  # keeps np.memmap (no copy either way)
    if a.dtype.kind == "f":
        return Tensor(name, a.reshape(-1), str(a.dtype)), None
    if a.dtype.kind in "biu":
        return None, f"{a.dtype} tensor is not a weight"
    if a.dtype.kind == "V" and is_narrow(a.dtype.name):  # ml_dtypes (onnx, jax, keras)
        return Tensor(name, pattern_view(a.reshape(-1), a.dtype.name), a.dtype.name), None
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


def object_items(
    obj: Any, include_buffers: bool, prefix: str = ""
) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """Named entries of an in-memory model object, plus the entries skipped on the way."""
    skipped: list[tuple[str, str]] = []
    if is_module(obj):
        return [(prefix + k, v) for k, v in _module_items(obj, include_buffers)], skipped
    if isinstance(obj, Mapping):
        wrapped = next(
            (
                k
                for k in CHECKPOINT_KEYS
                if k in obj and (isinstance(obj[k], Mapping) or is_module(obj[k]))
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
            items, more = object_items(obj[wrapped], include_buffers, prefix)
            return items, skipped + more
        items = []
        for k, v in obj.items():
            if isinstance(v, (Mapping, list, tuple)) or is_module(v):
                sub, more = object_items(v, include_buffers, f"{prefix}{k}.")
                items += sub
                skipped += more
            else:
                items.append((f"{prefix}{k}", v))
        return items, skipped
    if isinstance(obj, (list, tuple)):
        items = []
        for i, v in enumerate(obj):
            if isinstance(v, (Mapping, list, tuple)) or is_module(v):
                sub, more = object_items(v, include_buffers, f"{prefix}{i}.")
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
    if skipped:
        log.debug("%s: %d entries are not weights: %s", name, len(skipped), skipped[:5])
    return WeightSource(name, tensors, skipped, path, format)
