"""ONNX models: initializers, Constant nodes and the subgraphs of If/Loop/Scan nodes.

Order: first use while walking the nodes in graph order; a Constant node's value at the
Constant's position; subgraphs walked at their node's position (an If's then-branch before
its else-branch; names prefixed ``<node>.<attribute>/``); initializers never used follow
their graph's nodes.

External data is read relative to the model file, and only from inside its folder: each
tensor's ``location`` is checked here (:func:`~miwd_widget.weights.guard.inside_folder`:
relative, no ``..``, no symlink out, a regular file), and its ``offset``/``length`` must lie
within that file, before the onnx library (which confines it too) reads it.

Every float tensor is checked before its values are read (:func:`_check_tensor`): no
negative dimension, its values stored in exactly one place (``raw_data``, one typed field
such as ``float_data``, or external data), and that place holding exactly the values its
dims declare.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..guard import check_weight_count, inside_folder
from ..source import Skip, WeightReadError, require
from ._base import FileFormat, Items, ReadResult

__all__ = ["ONNX"]


def read(path: Path) -> ReadResult:
    """Read the weights of an ONNX model."""
    onnx = require("onnx", "onnx", f"reading the ONNX model {path}")
    from onnx import AttributeProto, TensorProto, numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    base_dir = str(path.parent)
    floats = {
        TensorProto.FLOAT,
        TensorProto.DOUBLE,
        TensorProto.FLOAT16,
        TensorProto.BFLOAT16,
        TensorProto.FLOAT8E4M3FN,
        TensorProto.FLOAT8E4M3FNUZ,
        TensorProto.FLOAT8E5M2,
        TensorProto.FLOAT8E5M2FNUZ,
    }
    items: Items = []
    emitted: set[str] = set()

    def emit(label: str, value: Any) -> None:
        if label in emitted:
            return
        emitted.add(label)
        if not isinstance(value, TensorProto):
            items.append((label, value))
        elif value.data_type in floats:
            _check_tensor(path, label, value)
            if value.data_location == TensorProto.EXTERNAL:
                _check_external(path, label, value)
            try:
                # Reads external data relative to the model file when the tensor has any.
                items.append((label, numpy_helper.to_array(value, base_dir=base_dir)))
            except (OSError, ValueError) as exc:
                raise WeightReadError(f"{path}: cannot read tensor {label!r}: {exc}") from None
        elif value.data_type == TensorProto.UNDEFINED or (
            value.data_type not in TensorProto.DataType.values()
        ):
            raise WeightReadError(
                f"{path}: tensor {label!r} has an undefined or unknown data type "
                f"({value.data_type})"
            )
        else:
            kind = TensorProto.DataType.Name(value.data_type).lower()
            if value.data_location != TensorProto.EXTERNAL:
                # Not a weight, but a tensor whose values do not fit its dims means a
                # corrupt file (onnx itself refuses it): decoded to check, then dropped.
                try:
                    numpy_helper.to_array(value)
                except Exception as exc:  # noqa: BLE001 - any decoding failure
                    raise WeightReadError(
                        f"{path}: tensor {label!r} ({kind}) is corrupt: {type(exc).__name__}: {exc}"
                    ) from None
            items.append((label, Skip(f"{kind} tensor is not a weight")))

    def walk(graph: Any, prefix: str, outer: dict[str, tuple[str, Any]]) -> None:
        scope = dict(outer)
        own = [(prefix + t.name, t) for t in graph.initializer]
        # Sparse initializers: their stored (non-zero) values are the weights.
        own += [(prefix + s.values.name, s.values) for s in graph.sparse_initializer]
        for label, tensor in own:
            scope[label[len(prefix) :]] = (label, tensor)
        for k, node in enumerate(graph.node):
            node_label = node.name or f"{node.op_type}_{k}"
            for name in node.input:
                if name in scope:
                    emit(*scope[name])
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                label = prefix + (node.output[0] if node.output else node_label)
                for attr in node.attribute:
                    if attr.name == "value":
                        emit(label, attr.t)
                    elif attr.name == "sparse_value":
                        emit(label, attr.sparse_tensor.values)
                    elif attr.name == "value_float":
                        emit(label, np.array([attr.f], np.float32))
                    elif attr.name == "value_floats":
                        emit(label, np.array(attr.floats, np.float32))
                    else:
                        emit(label, Skip(f"Constant {attr.name} is not a weight"))
            # onnx.helper stores attributes sorted by name; an If's then-branch comes first.
            branch_rank = {"then_branch": 0, "else_branch": 1}
            for attr in sorted(node.attribute, key=lambda a: branch_rank.get(a.name, 2)):
                if attr.type == AttributeProto.GRAPH:
                    walk(attr.g, f"{prefix}{node_label}.{attr.name}/", scope)
                elif attr.type == AttributeProto.GRAPHS:
                    for j, sub in enumerate(attr.graphs):
                        walk(sub, f"{prefix}{node_label}.{attr.name}[{j}]/", scope)
        for label, tensor in own:  # initializers no node uses
            emit(label, tensor)

    walk(model.graph, "", {})
    return items, [], "onnx"


#: TensorProto fields that hold values typed (the alternative to raw_data).
_TYPED_FIELDS = ("float_data", "double_data", "int32_data", "int64_data", "uint64_data")


def _check_tensor(path: Path, label: str, tensor: Any) -> None:
    """Refuse a tensor with impossible dims or values stored twice or in the wrong amount."""
    from onnx import TensorProto, helper

    where = f"{path}: tensor {label!r}"
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise WeightReadError(f"{where} has dims {dims}: a dimension is negative")
    count = math.prod(dims)
    check_weight_count(where, count)
    typed = [f for f in _TYPED_FIELDS if len(getattr(tensor, f))]
    places = typed + (["raw_data"] if tensor.HasField("raw_data") else [])
    if tensor.data_location == TensorProto.EXTERNAL:
        places.append("external data")
    if len(places) > 1:
        raise WeightReadError(
            f"{where} stores its values twice ({' and '.join(places)}): which one is meant?"
        )
    if tensor.data_location == TensorProto.EXTERNAL:
        return
    if places == ["raw_data"]:
        itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        have, need = len(tensor.raw_data), count * itemsize
        unit = "bytes"
    else:
        # float16/bfloat16/float8 values travel one per int32 entry
        have = len(getattr(tensor, typed[0])) if typed else 0
        need, unit = count, "values"
    if have != need:
        raise WeightReadError(
            f"{where} has dims {dims} ({need:,} {unit}) but stores {have:,} {unit}"
        )


def _check_external(path: Path, label: str, tensor: Any) -> None:
    """Refuse external data outside the model's folder or beyond the end of its file."""
    info = {e.key: e.value for e in tensor.external_data}
    what = f"external data of tensor {label!r}"
    if "location" not in info:
        raise WeightReadError(f"{path}: {what} has no location")
    data_file = inside_folder(path, info["location"], what)
    size = data_file.stat().st_size
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError:
        raise WeightReadError(f"{path}: {what}: offset/length are not integers") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise WeightReadError(
            f"{path}: {what}: bytes {offset:,}..{offset + length:,} of {info['location']!r} "
            f"are beyond its end ({size:,} bytes)"
        )


ONNX = FileFormat("onnx", (".onnx",), read, "an ONNX model", "onnx")
