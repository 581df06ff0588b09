"""File readers behind :func:`miwd_widget.readers.open_weights`.

Each reader returns ``(items, skipped, format)``: ``items`` are ``(name, array | Skip)`` pairs
already in the format's layer order, which :func:`~miwd_widget.readers.build_source` turns
into a :class:`~miwd_widget.readers.WeightSource`.

Order rules per format:

- .safetensors: the JSON list under ``"order"`` in the file's ``__metadata__`` if present
  (names it omits follow in natural order); otherwise :func:`natural_key` order, because
  safetensors stores its keys sorted ("layers.10" would otherwise come before "layers.2").
- sharded checkpoints (``*.index.json``): ``metadata["order"]`` if present; else the
  ``weight_map`` order, unless that is plain sorted order (as transformers writes it, so it
  carries no layer order): then natural order.
- .pt/.pth/.bin/.ckpt: the state_dict's own order (nested ``state_dict``/``model`` unwrapped).
- .onnx: order of first use while walking the nodes in graph order; a Constant node's value
  at the Constant's position; subgraphs of If/Loop/Scan nodes walked at their node's position
  (an If's then-branch before its else-branch; names prefixed ``<node>.<attribute>/``);
  initializers never used follow their graph's nodes.
- .npz: file order. .npy and NWS .bin: one tensor ``"theta"``.
- Keras: legacy .h5 files follow the ``layer_names`` and per-layer ``weight_names``
  attributes. Keras 3 weight files (``layers/<name>/vars/<i>``) follow the layer list of the
  model's ``config.json`` when it is known (.keras archives), else the group creation order
  if the file tracked it, else natural order of the group names (Keras 3 names groups per
  class, e.g. ``dense_1``, so across classes that order may differ from the model's); the
  variables of one layer are in index order. Optimizer and metric state are skipped.

Streaming: .safetensors, .npy and NWS .bin tensors are read-only ``np.memmap`` views, so
nothing is loaded until a descriptor reads it; PyTorch zip checkpoints are memory-mapped by
``torch.load(mmap=True)``; the other formats are read into memory.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .readers import (
    Skip,
    Tensor,
    WeightReadError,
    WeightSource,
    _object_items,
    _require,
    build_source,
    natural_key,
)

Items = list[tuple[str, Any]]
Skipped = list[tuple[str, str]]

SUPPORTED = (
    ".safetensors, model.safetensors.index.json, .pt, .pth, .bin, .ckpt, .onnx, .npz, .npy, "
    ".keras, .h5, .hdf5"
)

#: Model files looked for in a directory, most preferred first.
DIRECTORY_PREFERENCE = (
    (".safetensors",),
    (".pt", ".pth", ".bin", ".ckpt"),
    (".onnx",),
    (".keras",),
    (".h5", ".hdf5"),
    (".npz",),
    (".npy",),
)

ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"


def read_path(
    path: Path, *, order: Sequence[str] | None, include_buffers: bool, name: str | None
) -> WeightSource:
    """Read the model file at ``path`` (or the one model file in a directory)."""
    if not path.exists():
        raise WeightReadError(f"{path}: no such file or directory")
    label = name or str(path)
    target = _model_in_directory(path) if path.is_dir() else path
    reader = _reader_for(target)
    try:
        items, skipped, fmt = reader(target)
    except (WeightReadError, MemoryError):
        raise
    except Exception as exc:  # library errors on corrupt files become one clear message
        raise WeightReadError(
            f"{target}: cannot read it as {reader.__doc__ or 'a model file'} "
            f"(corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from exc
    return build_source(label, items, order, skipped=skipped, path=str(target), format=fmt)


def _reader_for(path: Path) -> Any:
    lower = path.name.lower()
    if lower.endswith(".index.json"):
        return _read_sharded
    suffix = path.suffix.lower()
    readers = {
        ".safetensors": _read_safetensors,
        ".pt": _read_torch,
        ".pth": _read_torch,
        ".ckpt": _read_torch,
        ".bin": _read_bin,
        ".onnx": _read_onnx,
        ".npz": _read_npz,
        ".npy": _read_npy,
        ".keras": _read_keras,
        ".h5": _read_h5,
        ".hdf5": _read_h5,
    }
    if suffix not in readers:
        raise WeightReadError(
            f"{path}: unknown model file suffix {path.suffix or '(none)'!r}; supported: {SUPPORTED}"
        )
    return readers[suffix]


def _model_in_directory(directory: Path) -> Path:
    """The one model file a directory holds (a sharded index first), or a clear error."""
    files = sorted(p for p in directory.iterdir() if p.is_file())
    indexes = [p for p in files if p.name.lower().endswith(".index.json")]
    if len(indexes) > 1:
        preferred = [p for p in indexes if p.name == "model.safetensors.index.json"]
        if len(preferred) == 1:
            return preferred[0]
        raise WeightReadError(
            f"{directory}: holds several index files ({', '.join(p.name for p in indexes)}); "
            "pass one of them"
        )
    if indexes:
        return indexes[0]
    snapshots = directory / "weights"
    if snapshots.is_dir() and any(snapshots.glob("*.bin")):
        raise WeightReadError(
            f"{directory}: looks like an NWS network folder holding several weight snapshots; "
            f"pass one of them, e.g. {snapshots / '020.bin'}"
        )
    for suffixes in DIRECTORY_PREFERENCE:
        found = [p for p in files if p.suffix.lower() in suffixes]
        if len(found) == 1:
            return found[0]
        if found:
            raise WeightReadError(
                f"{directory}: holds several model files ({', '.join(p.name for p in found[:6])}) "
                "and no index file; pass one of them"
            )
    raise WeightReadError(
        f"{directory}: no recognizable model file in this directory (looked for {SUPPORTED})"
    )


def _apply_listed_order(path: Path, items: Items, listed: Any, where: str) -> Items:
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


# --------------------------------------------------------------------------------------
# safetensors (hand-parsed: the safetensors library loads tensors, we want memory maps)
# --------------------------------------------------------------------------------------

#: safetensors dtype -> (numpy dtype of the stored values, Tensor.dtype)
SAFETENSORS_FLOATS = {
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
}
#: safetensors dtype -> (bytes per value, name used in reports)
SAFETENSORS_OTHERS = {
    "BOOL": (1, "bool"),
    "U8": (1, "uint8"),
    "I8": (1, "int8"),
    "U16": (2, "uint16"),
    "I16": (2, "int16"),
    "U32": (4, "uint32"),
    "I32": (4, "int32"),
    "U64": (8, "uint64"),
    "I64": (8, "int64"),
    "F8_E4M3": (1, "float8_e4m3"),
    "F8_E5M2": (1, "float8_e5m2"),
}
MAX_HEADER_BYTES = 100_000_000  # the format's own limit


def _safetensors_tensors(path: Path) -> tuple[Items, dict[str, Any]]:
    """Memory-mapped items of one safetensors file (file key order) and its metadata."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightReadError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        n_header = int.from_bytes(head, "little")
        if n_header > min(size - 8, MAX_HEADER_BYTES):
            raise WeightReadError(
                f"{path}: not a safetensors file or truncated (header length {n_header:,} "
                f"bytes, file size {size:,})"
            )
        try:
            header = json.loads(f.read(n_header))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WeightReadError(f"{path}: corrupt safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise WeightReadError(f"{path}: corrupt safetensors header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    start = 8 + n_header
    buffer = np.memmap(path, dtype=np.uint8, mode="r") if size > start else None
    items: Items = []
    for key, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            count = math.prod(int(s) for s in shape)
        except (KeyError, TypeError, ValueError):
            raise WeightReadError(f"{path}: corrupt safetensors header entry {key!r}") from None
        if dtype in SAFETENSORS_FLOATS:
            stored, kind = SAFETENSORS_FLOATS[dtype]
            itemsize = np.dtype(stored).itemsize
        elif dtype in SAFETENSORS_OTHERS:
            itemsize, kind = SAFETENSORS_OTHERS[dtype]
        else:
            items.append((key, Skip(f"unsupported safetensors dtype {dtype}")))
            continue
        if not 0 <= begin <= end or end - begin != count * itemsize:
            raise WeightReadError(
                f"{path}: corrupt safetensors header: tensor {key!r} has data_offsets "
                f"[{begin}, {end}] that do not fit shape {shape} of {dtype}"
            )
        if start + end > size:
            raise WeightReadError(
                f"{path}: truncated: tensor {key!r} needs bytes up to {start + end:,} but the "
                f"file has {size:,}"
            )
        if dtype not in SAFETENSORS_FLOATS:
            why = "not supported" if kind.startswith("float8") else "not a weight"
            items.append((key, Skip(f"{kind} tensor is {why}")))
        elif count == 0:
            items.append((key, np.empty(0, np.dtype(stored))))
        else:
            data = buffer[start + begin : start + end].view(np.dtype(stored))
            # Tensor dtype "bfloat16" marks the uint16 bit patterns.
            items.append((key, Tensor(key, data, kind)))
    return items, metadata


def _read_safetensors(path: Path) -> tuple[Items, Skipped, str]:
    """a safetensors file"""
    items, metadata = _safetensors_tensors(path)
    if isinstance(metadata, dict) and "order" in metadata:
        items = _apply_listed_order(path, items, metadata["order"], "the metadata's")
    else:
        items = sorted(items, key=lambda kv: natural_key(kv[0]))
    return items, [], "safetensors"


def _read_sharded(path: Path) -> tuple[Items, Skipped, str]:
    """a sharded checkpoint index (JSON with a weight_map)"""
    try:
        index = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightReadError(f"{path}: not a valid JSON index file: {exc}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise WeightReadError(f"{path}: index file has no 'weight_map' of tensor -> shard file")
    shards: dict[str, dict[str, Any]] = {}
    skipped: Skipped = []
    for shard in dict.fromkeys(weight_map.values()):
        shard_path = path.parent / str(shard)
        if not shard_path.is_file():
            raise WeightReadError(f"{path}: shard file {shard!r} listed in weight_map is missing")
        if shard_path.suffix.lower() == ".safetensors":
            shard_items, _ = _safetensors_tensors(shard_path)
        else:
            shard_items, shard_skipped, _ = _reader_for(shard_path)(shard_path)
            skipped += shard_skipped
        shards[str(shard)] = dict(shard_items)
    items: Items = []
    for key, shard in weight_map.items():
        if key not in shards[str(shard)]:
            raise WeightReadError(f"{path}: tensor {key!r} is not in its shard {shard!r}")
        items.append((key, shards[str(shard)][key]))
    metadata = index.get("metadata") or {}
    keys = [k for k, _ in items]
    if isinstance(metadata, dict) and "order" in metadata:
        items = _apply_listed_order(path, items, metadata["order"], "the index metadata's")
    elif keys == sorted(keys):
        items = sorted(items, key=lambda kv: natural_key(kv[0]))
    all_safetensors = all(str(s).lower().endswith(".safetensors") for s in shards)
    return items, skipped, "safetensors-sharded" if all_safetensors else "sharded"


# --------------------------------------------------------------------------------------
# PyTorch checkpoints and NWS raw float64 files
# --------------------------------------------------------------------------------------


def _read_torch(path: Path) -> tuple[Items, Skipped, str]:
    """a PyTorch checkpoint"""
    torch = _require("torch", "torch", f"reading the PyTorch checkpoint {path}")
    with open(path, "rb") as f:
        is_zip = f.read(4) == ZIP_MAGIC
    if not is_zip and not _looks_like_pickle(path):
        raise WeightReadError(
            f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols it dislikes
            # mmap=True only works for the zip format (torch >= 1.6); it keeps tensors on disk.
            obj = torch.load(path, weights_only=True, map_location="cpu", mmap=is_zip)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if "Weights only load failed" not in message and "weights_only" not in message:
            raise
        found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
        other = re.search(r"WeightsUnpickler error:\s*(.+)", message)
        detail = (
            f"it references {found.group(1)}"
            if found
            else other.group(1).strip()
            if other
            else "the safe loader rejected it"
        )
        raise WeightReadError(
            f"{path}: refused: loading this file would execute code (it needs arbitrary "
            f"unpickling: {detail}). Only plain tensors and containers are loaded "
            "(torch.load with weights_only=True); save the weights as a state_dict, e.g. "
            "torch.save(model.state_dict(), path), or as .safetensors"
        ) from None
    items, skipped = _object_items(obj, include_buffers=True)
    return items, skipped, "torch"


def _looks_like_pickle(path: Path) -> bool:
    """Whether the file starts with a well-formed pickle (parsed, never executed)."""
    with open(path, "rb") as f:
        head = f.read(2)
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            return False
        f.seek(0)
        try:
            for opcode, _, _ in pickletools.genops(f):
                if opcode.name == "STOP":
                    return True
        except Exception:  # any parse failure: not a pickle
            return False
    return False


def _read_bin(path: Path) -> tuple[Items, Skipped, str]:
    """a .bin file (PyTorch checkpoint or NWS raw float64 weights)"""
    with open(path, "rb") as f:
        head = f.read(4)
    # PyTorch .bin checkpoints are zip archives or (legacy) pickles; an NWS .bin is raw
    # float64, whose first bytes can by chance be 0x80 0x02..0x05: only a pickle that parses
    # all the way to its STOP opcode is taken as one.
    if head == ZIP_MAGIC or _looks_like_pickle(path):
        return _read_torch(path)
    theta = read_raw_float64(
        path,
        "neither a PyTorch checkpoint (no zip or pickle header) nor an NWS raw float64 weight file",
    )
    return [("theta", theta)], [], "nws-float64"


def read_raw_float64(path: Path, what: str = "not a raw float64 weight file") -> np.memmap:
    """Memory-map a headerless little-endian float64 vector (an NWS weight snapshot).

    ``what`` completes the error for a file whose size is not a whole number of float64s.
    """
    size = Path(path).stat().st_size
    if size == 0:
        raise WeightReadError(f"{path}: empty file")
    if size % 8:
        raise WeightReadError(f"{path}: {what} (its size, {size:,} bytes, is not a multiple of 8)")
    return np.memmap(path, dtype="<f8", mode="r")


# --------------------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------------------


def _read_npz(path: Path) -> tuple[Items, Skipped, str]:
    """an .npz archive"""
    items: Items = []
    with open(path, "rb") as f:
        head = f.read(6)
    if head[:4] != ZIP_MAGIC:
        # np.load would take anything else for a pickle (refused) or a single .npy array.
        raise WeightReadError(f"{path}: not an .npz archive (no zip header)")
    archive = np.load(path, allow_pickle=False)
    with archive:
        for key in archive.files:
            try:
                items.append((key, archive[key]))
            except ValueError:  # object arrays need pickle, which could execute code
                items.append((key, Skip("object array refused (loading it would need pickle)")))
    return items, [], "npz"


def _read_npy(path: Path) -> tuple[Items, Skipped, str]:
    """an .npy array"""
    with open(path, "rb") as f:
        head = f.read(6)
    if head != NPY_MAGIC:
        what = (
            "it is a pickle, which could execute code" if head[:1] == b"\x80" else "no NUMPY header"
        )
        raise WeightReadError(f"{path}: not an .npy array ({what})")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc) or "Python objects" in str(exc):
            raise WeightReadError(
                f"{path}: refused: the array holds Python objects (loading it would need "
                "pickle, which could execute code)"
            ) from None
        raise
    if not isinstance(array, np.ndarray):
        raise WeightReadError(f"{path}: not an .npy array")
    return [("theta", array)], [], "npy"


# --------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------


def _read_onnx(path: Path) -> tuple[Items, Skipped, str]:
    """an ONNX model"""
    onnx = _require("onnx", "onnx", f"reading the ONNX model {path}")
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
            try:
                # Reads external data relative to the model file when the tensor has any.
                items.append((label, numpy_helper.to_array(value, base_dir=base_dir)))
            except (OSError, ValueError) as exc:
                raise WeightReadError(f"{path}: cannot read tensor {label!r}: {exc}") from None
        else:
            kind = TensorProto.DataType.Name(value.data_type).lower()
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


# --------------------------------------------------------------------------------------
# Keras (h5py)
# --------------------------------------------------------------------------------------


def _h5_attr_list(group: Any, name: str) -> list[str] | None:
    """A list-of-strings attribute, also when Keras split it into name0, name1, ... chunks."""
    if name in group.attrs:
        values = list(group.attrs[name])
    elif f"{name}0" in group.attrs:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values += list(group.attrs[f"{name}{i}"])
            i += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _h5_array(dataset: Any) -> Any:
    """A dataset's values (Keras 3 marks bfloat16 datasets with a dtype attribute)."""
    data = dataset[()]
    if dataset.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
        bits = np.asarray(data).reshape(-1).view(np.uint16)
        return Tensor(dataset.name, bits, "bfloat16")
    return data


def _keras_snake_case(class_name: str) -> str:
    """Keras 3's naming.to_snake_case: how it names container entries in weight files."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _keras_layer_names(layer_configs: list[Any]) -> list[tuple[str, Any]]:
    """Weight-file group names of a layer list, as Keras 3 assigns them (per-class counter)."""
    used: dict[str, int] = {}
    out = []
    for cfg in layer_configs:
        base = _keras_snake_case(str(cfg.get("class_name", "")))
        if base in used:
            used[base] += 1
            out.append((f"{base}_{used[base]}", cfg))
        else:
            used[base] = 0
            out.append((base, cfg))
    return out


def _ordered_children(group: Any, names_in_order: list[str] | None) -> list[str]:
    """Child group names: known layer order, else creation order if tracked, else natural."""
    h5py = _require("h5py", "keras", "reading Keras weight files")
    children = [k for k in group if isinstance(group[k], h5py.Group) and k != "vars"]
    if names_in_order:
        rank = {n: i for i, n in enumerate(names_in_order)}
        known = sorted((c for c in children if c in rank), key=rank.__getitem__)
        return known + sorted((c for c in children if c not in rank), key=natural_key)
    if group.id.get_create_plist().get_link_creation_order():
        return children  # h5py iterates in creation order when the file tracked it
    return sorted(children, key=natural_key)


#: Top-level groups of a Keras 3 weight file that hold training state, not model weights.
KERAS_NON_MODEL = ("optimizer", "loss")


def _is_training_state(name: str) -> bool:
    lower = name.lower()
    return lower in KERAS_NON_MODEL or "metric" in lower


def _keras3_walk(group: Any, path: str, config: Any, items: Items, skipped: Skipped) -> None:
    """Variables of one Keras 3 saveable: its own ``vars``, then its children's."""
    if "vars" in group:
        vars_group = group["vars"]
        for key in sorted(vars_group, key=natural_key):
            items.append((f"{path}vars/{key}", _h5_array(vars_group[key])))
    sub_layers = None
    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        sub_layers = config["config"].get("layers")
    for child in _ordered_children(group, None):
        if not path and _is_training_state(child):
            skipped.append((child, "optimizer/metric state, not model weights"))
            continue
        child_group = group[child]
        if child in ("layers", "_layer_checkpoint_dependencies") and isinstance(sub_layers, list):
            # Keras 3 names a layer list's groups by class (see _keras_layer_names); the
            # config's list gives their order.
            named = _keras_layer_names(sub_layers)
            cfgs = dict(named)
            for layer in _ordered_children(child_group, [n for n, _ in named]):
                _keras3_walk(
                    child_group[layer], f"{path}{child}/{layer}/", cfgs.get(layer), items, skipped
                )
        else:
            _keras3_walk(child_group, f"{path}{child}/", None, items, skipped)


def _read_h5_file(h5: Any, config: Any) -> tuple[Items, Skipped]:
    items: Items = []
    skipped: Skipped = []
    root = h5["model_weights"] if "model_weights" in h5 else h5
    layer_names = _h5_attr_list(root, "layer_names")
    if layer_names is not None:  # legacy Keras (2.x) h5: names give the order
        for layer in layer_names:
            group = root[layer]
            for weight in _h5_attr_list(group, "weight_names") or []:
                # Keras weight names usually start with the layer name already.
                label = weight if weight.startswith(f"{layer}/") else f"{layer}/{weight}"
                items.append((label, _h5_array(group[weight])))
        skipped += [
            (k, "optimizer state, not model weights")
            for k in h5
            if k != "model_weights" and k.startswith("optimizer")
        ]
        return items, skipped
    # Keras 3: [vars/<i>], layers/<name>/vars/<i>, optimizer and metric state beside.
    _keras3_walk(h5, "", config, items, skipped)
    if not items and not skipped:
        raise WeightReadError(
            "no Keras weights found (no 'layer_names' attribute, no 'layers' group)"
        )
    return items, skipped


def _has_layers(config: Any) -> bool:
    return (
        isinstance(config, dict)
        and isinstance(config.get("config"), dict)
        and isinstance(config["config"].get("layers"), list)
    )


def _read_h5(path: Path) -> tuple[Items, Skipped, str]:
    """a Keras HDF5 weight file"""
    h5py = _require("h5py", "keras", f"reading the Keras weight file {path}")
    with h5py.File(path, "r") as h5:
        try:
            items, skipped = _read_h5_file(h5, None)
        except WeightReadError as exc:
            raise WeightReadError(f"{path}: {exc}") from None
    return items, skipped, "keras-h5"


def _read_keras(path: Path) -> tuple[Items, Skipped, str]:
    """a Keras .keras archive"""
    h5py = _require("h5py", "keras", f"reading the Keras archive {path}")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "model.weights.h5" not in names:
            hint = " (npz weights need pickle: refused)" if "model.weights.npz" in names else ""
            raise WeightReadError(f"{path}: the archive holds no model.weights.h5{hint}")
        config = None
        if "config.json" in names:
            try:
                config = json.loads(archive.read("config.json"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                config = None  # the weights are still readable, in natural order
        # h5py needs a seekable file; the archive member is read into memory once.
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as h5:
        try:
            items, skipped = _read_h5_file(h5, config)
        except WeightReadError as exc:
            raise WeightReadError(f"{path}: {exc}") from None
    return items, skipped, "keras"
