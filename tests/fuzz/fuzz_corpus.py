"""Generators of broken and hostile model files, and the judge of what a reader did with one.

A *case* is one model file (or folder) written into its own directory, next to an
``outside/`` directory whose files a reader must never touch. Generators cover, per format
(safetensors, sharded index, torch zip and legacy, ONNX, npy, npz, legacy .h5, .keras,
NWS .bin):

- ``truncate``, ``bitflip``, ``scribble``, ``append``: byte-level damage of a valid file;
- ``tamper``: a header or directory changed on purpose (offsets, shapes, dtypes, records);
- ``bomb``: declared sizes far beyond what the file holds (zip bombs, unwritten HDF5);
- ``special``: FIFOs, devices, dangling symlinks, directories, symlink loops;
- ``escape``: references leaving the folder (index shards, ONNX external data, HDF5
  external storage / virtual datasets / external links), pickles carrying code.

:func:`judge` reads a case with :func:`miwd_widget.weights.flatten_weights` and sorts the
outcome into one of :data:`OUTCOMES`. A result is ``correct`` only if an independent reader
(the format's own library: safetensors, numpy, torch with ``mmap=False``, onnx, h5py)
accepts the same file and returns the same values *in the same order*: each reference puts
the tensors in the order the miwd reader documents for its format (state_dict order, file
key order, natural name order, first use, layer order), so a reader that reads the right
weights in the wrong order is ``wrong``. Accepting what that reader rejects, or what a case
declares hostile, is ``wrong`` too. Outside reads are caught by an audit hook on
``open`` and by sentinel values in the outside files.

The corpus is a pure function of ``(seed, index)``: :func:`make_case`. Zip-bomb and HDF5
limits are scaled down with :func:`small_limits` so that bombs stay small on disk.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Outcomes, worst first. The first five must never happen.
OUTCOMES = (
    "code executed",
    "outside read",
    "hang",
    "crash",
    "wrong weights",
    "unnamed error",
    "clean error",
    "correct",
)
BAD = OUTCOMES[:6]

#: A value no generated model holds: finding it in a result means an outside file was read.
SENTINEL = 31337.0

#: Limits (environment variables, also for subprocesses) that make small bombs trip.
SMALL_LIMITS = {
    "MIWD_RATIO_EXEMPT_BYTES": str(1 << 16),
    "MIWD_MAX_MEMBER_BYTES": str(64 << 20),
    "MIWD_MAX_WEIGHTS": str(1 << 28),
}


def small_limits() -> Any:
    """Apply :data:`SMALL_LIMITS` in this process; returns the previous limits."""
    from miwd_widget.weights import guard

    return guard.set_read_limits(
        ratio_exempt_bytes=int(SMALL_LIMITS["MIWD_RATIO_EXEMPT_BYTES"]),
        max_member_bytes=int(SMALL_LIMITS["MIWD_MAX_MEMBER_BYTES"]),
        max_weights=int(SMALL_LIMITS["MIWD_MAX_WEIGHTS"]),
    )


@dataclass
class Case:
    """One generated file: where it is, what made it, and how to judge a result."""

    name: str  # e.g. "safetensors/bitflip"
    path: Path  # what the reader is given
    folder: Path  # the model's folder: errors must name a file in it
    outside: Path  # the folder no read may touch
    reference: Callable[[], np.ndarray] | None  # independent reader; None: must be refused
    canary: Path | None = None  # exists afterwards only if pickled code ran
    notes: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Valid base files and their independent readers
# --------------------------------------------------------------------------------------


def _values(rng: random.Random, n: int, dtype: str = "<f4") -> np.ndarray:
    seed = rng.randrange(1 << 30)
    return np.random.default_rng(seed).normal(size=n).astype(dtype)


def _floats(arrays: list[Any]) -> np.ndarray:
    parts = [np.asarray(a, dtype=np.float64).ravel() for a in arrays if _is_float(a)]
    return np.concatenate(parts) if parts else np.empty(0)


def _is_float(a: Any) -> bool:
    return getattr(getattr(a, "dtype", None), "kind", "") == "f"


def _natural(name: str) -> list[Any]:
    """Names with their integers compared as numbers ("layers.2" before "layers.10").

    Written here rather than imported, so that the judge does not share the reader's code.
    """
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _listed_order(names: list[str], listed: Any) -> list[str]:
    """A stored ``order`` (a JSON list of names) first, the names it omits in natural order."""
    if isinstance(listed, str):
        listed = json.loads(listed)
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise ValueError("the stored order is not a list of names")
    if not set(listed) <= set(names):
        raise ValueError("the stored order names tensors the file does not hold")
    first = list(dict.fromkeys(listed))
    return first + sorted((n for n in names if n not in set(first)), key=_natural)


def write_safetensors(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    import safetensors.numpy

    # layers.2 and layers.10: natural order differs from the sorted order the file stores
    tensors = {
        "layers.0.weight": _values(rng, rng.randint(1, 40)),
        "layers.0.bias": _values(rng, rng.randint(1, 8), "<f8"),
        "layers.10.weight": _values(rng, rng.randint(1, 16), "<f2"),
        "layers.2.weight": _values(rng, rng.randint(1, 8)),
        "step": np.array([rng.randint(0, 99)], np.int64),
    }
    safetensors.numpy.save_file(tensors, str(path))

    def reference() -> np.ndarray:
        # The reader's order: the metadata's "order" list, else natural order of the names
        # (safetensors itself stores them sorted, which puts "layers.10" before "layers.2").
        tensors = safetensors.numpy.load_file(str(path))
        with safetensors.safe_open(str(path), "numpy") as f:
            metadata = f.metadata() or {}
        names = list(tensors)
        if "order" in metadata:
            names = _listed_order(names, metadata["order"])
        else:
            names = sorted(names, key=_natural)
        return _floats([tensors[n] for n in names])

    return reference


def write_npy(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    np.save(path, _values(rng, rng.randint(1, 64)).reshape(-1, 1))
    return lambda: _floats([np.load(path, allow_pickle=False)])


def write_npz(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    np.savez_compressed(path, a=_values(rng, rng.randint(1, 64)), b=_values(rng, 5, "<f8"))

    def reference() -> np.ndarray:
        with np.load(path, allow_pickle=False) as z:  # z.files: the archive's member order
            return _floats([z[k] for k in z.files])

    return reference


def write_torch(path: Path, rng: random.Random, legacy: bool = False) -> Callable[[], np.ndarray]:
    import torch

    state = {
        "fc.weight": torch.from_numpy(_values(rng, 12)).reshape(3, 4),
        "fc.bias": torch.from_numpy(_values(rng, 3, "<f8")),
        "bn.num_batches_tracked": torch.tensor(7),
    }
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)

    def reference() -> np.ndarray:
        obj = torch.load(path, weights_only=True, mmap=False, map_location="cpu")
        # state_dict order: the dict's own (insertion) order
        return _floats([v.numpy() for v in obj.values() if v.is_floating_point()])

    return reference


def write_onnx(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    raw = numpy_helper.from_array(_values(rng, 6).reshape(2, 3), "w")
    typed = helper.make_tensor("b", TensorProto.FLOAT, [3], _values(rng, 3).tolist())
    node = helper.make_node("MatMul", ["x", "w"], ["h"])
    add = helper.make_node("Add", ["h", "b"], ["y"])
    graph = helper.make_graph(
        [node, add],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [raw, typed],
    )
    onnx.save_model(helper.make_model(graph), str(path))

    def reference() -> np.ndarray:
        # Not onnx.checker: a broken graph around intact weights is no reader's business.
        model = onnx.load(str(path), load_external_data=False)
        graph = model.graph
        # The reader's order: first use by the nodes, in graph order; unused initializers
        # after them. (This corpus writes no Constant nodes nor subgraphs.)
        by_name = {t.name: t for t in graph.initializer}
        used = [name for node in graph.node for name in node.input if name in by_name]
        names = list(dict.fromkeys(used + [t.name for t in graph.initializer]))
        return _floats([numpy_helper.to_array(by_name[n]) for n in names])

    return reference


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _h5_reference(source: Any) -> np.ndarray:
    """What legacy Keras loads: the layers of ``layer_names``, each its ``weight_names``."""
    import h5py

    arrays: list[np.ndarray] = []
    with h5py.File(source, "r") as h5:
        if "layer_names" not in h5.attrs:
            raise ValueError("no layer_names: not a legacy Keras weight file")
        for layer in h5.attrs["layer_names"]:
            group = h5[_text(layer)]
            for weight in group.attrs["weight_names"]:
                arrays.append(group[_text(weight)][()])
    return _floats(arrays)


def _keras3_reference(config: Any, source: Any) -> np.ndarray:
    """What Keras 3 loads from ``layers/<name>/vars/<i>``: the config's layers, in order.

    Keras 3 names a layer's group after its class in snake case, with ``_1``, ``_2``...
    for repeats (the split below suits this corpus's plain CamelCase class names); each
    layer's variables are in index order.
    """
    import h5py

    groups, count = [], {}
    for layer in config["config"]["layers"]:
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", layer["class_name"]).lower()
        count[base] = count.get(base, -1) + 1
        groups.append(f"{base}_{count[base]}" if count[base] else base)
    arrays: list[np.ndarray] = []
    with h5py.File(source, "r") as h5:
        found: list[str] = []
        h5.visititems(
            lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        expected = [
            f"layers/{g}/vars/{k}" for g in groups for k in sorted(h5[f"layers/{g}/vars"], key=int)
        ]
        if sorted(found) != sorted(expected):
            raise ValueError(f"datasets {found} are not the config's layers' variables")
        arrays = [h5[name][()] for name in expected]
    return _floats(arrays)


def write_h5(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense", b"out"]
        for layer, n in (("dense", 8), ("out", 3)):
            group = f.create_group(layer)
            group.attrs["weight_names"] = [f"{layer}/kernel".encode()]
            group.create_dataset(f"{layer}/kernel", data=_values(rng, n))
    return lambda: _h5_reference(path)


def _keras_weights(rng: random.Random) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        group = h5.create_group("layers/dense/vars")
        group["0"] = _values(rng, 8).reshape(2, 4)
        group["1"] = _values(rng, 4)
    return buffer.getvalue()


KERAS_CONFIG = json.dumps(
    {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}
)


def write_keras(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", KERAS_CONFIG)
        archive.writestr("model.weights.h5", _keras_weights(rng))

    def reference() -> np.ndarray:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            return _keras3_reference(config, io.BytesIO(archive.read("model.weights.h5")))

    return reference


def write_nws(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    _values(rng, rng.randint(1, 64), "<f8").tofile(path)

    def reference() -> np.ndarray:
        if path.stat().st_size % 8 or path.stat().st_size == 0:
            raise ValueError("not a whole number of float64")
        return np.fromfile(path, "<f8")

    return reference


def write_sharded(path: Path, rng: random.Random) -> Callable[[], np.ndarray]:
    import safetensors.numpy

    folder = path.parent
    weight_map = {}
    for k, layer in enumerate((2, 10)):
        shard = f"model-0000{k + 1}-of-00002.safetensors"
        name = f"layers.{layer}.weight"
        safetensors.numpy.save_file({name: _values(rng, rng.randint(1, 20))}, str(folder / shard))
        weight_map[name] = shard
    # Sorted, as transformers writes it ("layers.10" first): the reader reads natural order.
    index = {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}
    path.write_text(json.dumps(index))

    def reference() -> np.ndarray:
        index = json.loads(path.read_text())
        tensors = {}
        for name, shard in index["weight_map"].items():
            target = (folder / shard).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise ValueError("shard outside the folder")
            tensors[name] = safetensors.numpy.load_file(str(target))[name]
        # The reader's order: metadata "order", else the weight_map's order unless that is
        # plain sorted order (as transformers writes it): then natural order of the names.
        names = list(tensors)
        metadata = index.get("metadata") or {}
        if isinstance(metadata, dict) and "order" in metadata:
            names = _listed_order(names, metadata["order"])
        elif names == sorted(names):
            names = sorted(names, key=_natural)
        return _floats([tensors[n] for n in names])

    return reference


#: format -> (file name, writer)
FORMATS: dict[str, tuple[str, Callable[..., Callable[[], np.ndarray]]]] = {
    "safetensors": ("model.safetensors", write_safetensors),
    "sharded": ("model.safetensors.index.json", write_sharded),
    "torch": ("model.pt", write_torch),
    "torch-legacy": ("legacy.pt", lambda p, r: write_torch(p, r, legacy=True)),
    "onnx": ("model.onnx", write_onnx),
    "npy": ("model.npy", write_npy),
    "npz": ("model.npz", write_npz),
    "h5": ("model.h5", write_h5),
    "keras": ("model.keras", write_keras),
    "nws": ("weights/020.bin", write_nws),
}


# --------------------------------------------------------------------------------------
# Byte-level damage of a valid file (judged against the format's own reader)
# --------------------------------------------------------------------------------------


def truncate(data: bytes, rng: random.Random) -> bytes:
    cut = rng.choice([0, 1, 7, 8, 9, rng.randrange(len(data)), len(data) - 1, len(data) // 2])
    return data[: max(0, min(cut, len(data) - 1))]


def bitflip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    # Headers decide how everything else is read: flip there more often.
    span = min(len(out), rng.choice([16, 128, 512, len(out)]))
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(span)] ^= 1 << rng.randrange(8)
    return bytes(out)


def scribble(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    start = rng.randrange(len(out))
    length = rng.randint(1, 64)
    filler = rng.choice([b"\x00", b"\xff", bytes([rng.randrange(256)])])
    out[start : start + length] = filler * len(out[start : start + length])
    return bytes(out)


def append(data: bytes, rng: random.Random) -> bytes:
    return data + rng.choice([b"\x00", b"x" * 8, os.urandom(rng.randint(1, 100)), data[:64]])


DAMAGE = {"truncate": truncate, "bitflip": bitflip, "scribble": scribble, "append": append}


# --------------------------------------------------------------------------------------
# Hostile files: refused whatever the format's library would do
# --------------------------------------------------------------------------------------


def _outside_files(outside: Path) -> None:
    """Files a hostile model points at: real models and raw bytes, all of SENTINEL."""
    import safetensors.numpy

    outside.mkdir(parents=True, exist_ok=True)
    values = np.full(16, SENTINEL, np.float32)
    safetensors.numpy.save_file(
        {"w": values, "layers.0.weight": values}, str(outside / "x.safetensors")
    )
    np.full(16, SENTINEL, "<f8").tofile(outside / "secret.bin")
    np.full(16, SENTINEL, "<f4").tofile(outside / "secret.f32")
    import h5py

    with h5py.File(outside / "source.h5", "w") as f:
        f.create_dataset("data", data=np.full(16, SENTINEL, "<f4"))


def _tamper_safetensors(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    key = rng.choice([k for k in header if k != "__metadata__"])
    entry = header[key]
    choice = rng.randrange(9)
    if choice == 0:
        entry["data_offsets"] = [
            entry["data_offsets"][0] + rng.choice([-4, 2, 4]),
            entry["data_offsets"][1],
        ]
    elif choice == 1:
        entry["data_offsets"] = entry["data_offsets"][::-1]
    elif choice == 2:
        entry["shape"] = [rng.choice([-1, 2.0, True, "3", 1 << 40])] + entry["shape"][1:]
    elif choice == 3:
        entry["dtype"] = rng.choice(["F33", "f32", "Q4", "", 7])
    elif choice == 4:
        entry["shape"] = [s * 2 for s in entry["shape"]] or [2]
    elif choice == 5:
        del entry[rng.choice(["dtype", "shape", "data_offsets"])]
    elif choice == 6:
        body += b"\x00" * rng.randint(1, 16)
    elif choice == 7:
        header["__metadata__"] = (
            {"order": rng.choice([1, ["x"], None])} if rng.random() < 0.5 else "x"
        )
    else:
        entry["data_offsets"] = [0, entry["data_offsets"][1] - entry["data_offsets"][0]]
    text = json.dumps(header).encode()
    if rng.random() < 0.1:
        text = text.replace(b'"', b'"\xff', 1)
    path.write_bytes(len(text).to_bytes(8, "little") + text + body)


def _tamper_npy(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    header_len = int.from_bytes(data[8:10], "little")
    header = data[10 : 10 + header_len].decode("latin1")
    choice = rng.randrange(4)
    if choice == 0:
        header = header.replace("'shape': (", "'shape': (1000000, ", 1)
    elif choice == 1:
        header = header.replace("'<f4'", "'|O'")
    elif choice == 2:
        header = header.replace("'<f4'", "'<f8'")
    else:
        header = header.replace("'shape': (", "'shape': (-1, ", 1)
    encoded = header.encode("latin1").ljust(header_len)[:header_len]
    if not encoded.endswith(b"\n"):
        encoded = encoded[:-1] + b"\n"
    path.write_bytes(data[:10] + encoded + data[10 + header_len :])


def _tamper_torch(path: Path, rng: random.Random) -> None:
    with zipfile.ZipFile(path) as old:
        members = [(i.filename, old.read(i)) for i in old.infolist()]
    choice = rng.randrange(4)
    with zipfile.ZipFile(path, "w") as new:
        for name, data in members:
            if "/data/" in name and not name.endswith("serialization_id") and choice < 2:
                data = data[: len(data) // 2] if choice == 0 else data + bytes(8)
            elif name.endswith("data.pkl") and choice == 2:
                data = data[: len(data) // 2]
            elif name.endswith("data/0") and choice == 3:
                continue
            new.writestr(name, data)


def _tamper_onnx(path: Path, rng: random.Random) -> None:
    import onnx

    model = onnx.load(str(path))
    tensor = rng.choice(list(model.graph.initializer))
    choice = rng.randrange(4)
    if choice == 0:
        tensor.dims[0] = -tensor.dims[0]
    elif choice == 1:
        if tensor.HasField("raw_data"):
            tensor.float_data.extend([1.0] * int(np.prod(tensor.dims)))
        else:
            tensor.raw_data = np.ones(int(np.prod(tensor.dims)), np.float32).tobytes()
    elif choice == 2:
        tensor.dims[0] = tensor.dims[0] + 5
    else:
        tensor.dims.append(0)
    path.write_bytes(model.SerializeToString())


def _tamper_h5(path: Path, rng: random.Random) -> None:
    import h5py

    with h5py.File(path, "a") as f:
        choice = rng.randrange(4)
        if choice == 0:
            f.attrs["layer_names"] = [b"dense"] * rng.randint(2, 50)
        elif choice == 1:
            f["dense/dense/kernel"].attrs["dtype"] = "bfloat16"
        elif choice == 2:
            f.attrs["layer_names"] = [b"dense", b"missing"]
        else:
            group = f["dense"]
            del group["dense/kernel"]
            group.create_dataset("dense/kernel", (4096, 4096), "<f4", chunks=(64, 64))


def _tamper_npz(path: Path, rng: random.Random) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        choice = rng.randrange(3)
        if choice == 0:
            archive.writestr("a.npy", b"\x93NUMPY\x01\x00" + b"garbage")
        elif choice == 1:
            buffer = io.BytesIO()
            np.save(buffer, np.ones(4, np.float32))
            archive.writestr("a.npy", buffer.getvalue()[:-3])
        else:
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                buffer, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)}
            )
            archive.writestr("a.npy", b"\x93NUMPY\x01\x00" + buffer.getvalue()[8:] + bytes(16))


def _tamper_keras(path: Path, rng: random.Random) -> None:
    weights = _keras_weights(rng)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        choice = rng.randrange(3)
        if choice == 0:
            archive.writestr("config.json", "[" * 200_000 + "]" * 200_000)
        elif choice == 1:
            archive.writestr("config.json", '{"config": {"layers": [}')
        if choice != 2:
            archive.writestr("model.weights.h5", weights)
        else:
            archive.writestr("config.json", KERAS_CONFIG)
            archive.writestr("model.weights.npz", b"x")


def _tamper_sharded(path: Path, rng: random.Random) -> None:
    index = json.loads(path.read_text())
    key = rng.choice(list(index["weight_map"]))
    choice = rng.randrange(4)
    if choice == 0:
        index["weight_map"][key] = "missing.safetensors"
    elif choice == 1:
        index["weight_map"]["not.there"] = index["weight_map"][key]
    elif choice == 2:
        index["weight_map"][key] = path.name
    else:
        index["weight_map"] = []
    path.write_text(json.dumps(index))


def _tamper_nws(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(rng.choice([data[:-3], b"", data + b"\x01"]))


TAMPER = {
    "safetensors": _tamper_safetensors,
    "npy": _tamper_npy,
    "torch": _tamper_torch,
    "onnx": _tamper_onnx,
    "h5": _tamper_h5,
    "npz": _tamper_npz,
    "keras": _tamper_keras,
    "sharded": _tamper_sharded,
    "nws": _tamper_nws,
}


def _zero_member(archive: zipfile.ZipFile, name: str, header: bytes, n_bytes: int) -> None:
    chunk = bytes(1 << 20)
    with archive.open(name, "w", force_zip64=True) as f:
        f.write(header)
        for _ in range(n_bytes // len(chunk)):
            f.write(chunk)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    return b"\x93NUMPY\x01\x00" + buffer.getvalue()[8:]


def bomb(folder: Path, rng: random.Random) -> Path:
    """A small file declaring far more than it holds (limits scaled by SMALL_LIMITS)."""
    import h5py

    choice = rng.randrange(5)
    if choice == 0:
        path = folder / "bomb.npz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            _zero_member(archive, "w.npy", _npy_header((1 << 20,)), 4 << 20)
    elif choice == 1:
        path = folder / "bomb.keras"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", KERAS_CONFIG)
            _zero_member(archive, "model.weights.h5", b"", 4 << 20)
    elif choice == 2:
        path = folder / "bomb.h5"
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = [b"dense"]
            group = f.create_group("dense")
            group.attrs["weight_names"] = [b"dense/kernel"]
            group.create_dataset("dense/kernel", (65536, 16384), "<f4", chunks=(256, 256))
    elif choice == 3:
        path = folder / "bomb.safetensors"
        header = json.dumps(
            {"w": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 1 << 42]}}
        ).encode()
        path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(64))
    else:
        path = folder / "bomb.npy"
        path.write_bytes(_npy_header((1 << 40,)) + bytes(64))
    return path


def special(folder: Path, rng: random.Random) -> Path:
    """Not a regular file, named like a model."""
    suffix = rng.choice(
        [".safetensors", ".onnx", ".keras", ".npy", ".pt", ".safetensors.index.json"]
    )
    path = folder / f"special{suffix}"
    choice = rng.randrange(6)
    if choice == 0:
        os.mkfifo(path)
    elif choice == 1:
        path.symlink_to("/dev/zero")
    elif choice == 2:
        path.symlink_to("/dev/null")
    elif choice == 3:
        path.symlink_to(folder / "nowhere")
    elif choice == 4:
        path.mkdir()  # a directory named like a model, holding none
        (path / "notes.txt").write_text("")
    else:
        path.symlink_to(path)  # a loop
    return path


def _onnx_external(path: Path, location: str, offset: int = 0, length: int = 64) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros(16, np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16])],
        [weight],
    )
    onnx.save_model(helper.make_model(graph), str(path))


def escape(folder: Path, outside: Path, rng: random.Random) -> tuple[Path, Path | None]:
    """A model whose references leave its folder (or a pickle carrying code)."""
    import h5py

    rel = os.path.relpath(outside, folder)
    choice = rng.randrange(10)
    canary = None
    if choice == 0:
        entry = rng.choice(
            [
                f"{rel}/x.safetensors",
                str(outside / "x.safetensors"),
                "sub/../../outside/x.safetensors",
            ]
        )
        path = folder / "model.safetensors.index.json"
        path.write_text(json.dumps({"weight_map": {"w": entry}}))
    elif choice == 1:
        (folder / "link.safetensors").symlink_to(outside / "x.safetensors")
        path = folder / "model.safetensors.index.json"
        path.write_text(json.dumps({"weight_map": {"w": "link.safetensors"}}))
    elif choice == 2:
        shutil.copy(outside / "secret.bin", folder / "pytorch_model-00001-of-00001.bin")
        path = folder / "pytorch_model.bin.index.json"
        path.write_text(json.dumps({"weight_map": {"w": "pytorch_model-00001-of-00001.bin"}}))
    elif choice == 3:
        path = folder / "model.onnx"
        location = rng.choice(
            [f"{rel}/secret.f32", str(outside / "secret.f32"), "link.f32", "zero.f32"]
        )
        (folder / "link.f32").symlink_to(outside / "secret.f32")
        (folder / "zero.f32").symlink_to("/dev/zero")
        _onnx_external(path, location)
    elif choice == 4:
        path = folder / "model.onnx"
        (folder / "w.f32").write_bytes(np.ones(16, np.float32).tobytes())
        _onnx_external(path, "w.f32", offset=rng.choice([8, 60, 1 << 40]), length=64)
    elif choice in (5, 6, 7):
        path = folder / "model.h5"
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = [b"dense"]
            group = f.create_group("dense")
            group.attrs["weight_names"] = [b"dense/kernel"]
            if choice == 5:
                group.create_dataset(
                    "dense/kernel", (16,), "<f8", external=[(str(outside / "secret.bin"), 0, 128)]
                )
            elif choice == 6:
                layout = h5py.VirtualLayout(shape=(16,), dtype="<f4")
                layout[:] = h5py.VirtualSource(str(outside / "source.h5"), "data", shape=(16,))
                group.create_virtual_dataset("dense/kernel", layout)
            else:
                group["dense/kernel"] = h5py.ExternalLink(str(outside / "source.h5"), "/data")
    else:
        canary = folder / "PWNED"
        path = folder / rng.choice(["evil.pt", "evil.bin", "evil.ckpt"])
        import pickle

        class Evil:
            def __reduce__(self) -> tuple:
                return (os.system, (f"touch {canary}",))

        payload = {"w": Evil()} if choice == 8 else [Evil()]
        if choice == 9 and rng.random() < 0.5:
            import torch

            torch.save({"w": torch.ones(2), "x": payload}, path)  # zip with an evil data.pkl
        else:
            path.write_bytes(pickle.dumps(payload, protocol=2))
    return path, canary


# --------------------------------------------------------------------------------------
# The corpus and the judge
# --------------------------------------------------------------------------------------

KINDS = ("truncate", "bitflip", "scribble", "append", "tamper", "bomb", "special", "escape")
#: How often each kind is drawn (damage of valid files most, as it varies most).
WEIGHTS = (3, 4, 2, 1, 3, 1, 1, 2)


def make_case(root: Path, seed: int, index: int) -> Case:
    """Write case ``index`` of the corpus of ``seed`` under ``root/<index>/``."""
    rng = random.Random(f"{seed}:{index}")
    base = root / f"{index:05d}"
    folder, outside = base / "model", base / "outside"
    folder.mkdir(parents=True)
    _outside_files(outside)
    kind = rng.choices(KINDS, WEIGHTS)[0]
    if kind == "bomb":
        return Case("bomb", bomb(folder, rng), folder, outside, None)
    if kind == "special":
        return Case("special", special(folder, rng), folder, outside, None)
    if kind == "escape":
        path, canary = escape(folder, outside, rng)
        return Case("escape", path, folder, outside, None, canary)
    fmt = rng.choice(sorted(TAMPER) if kind == "tamper" else sorted(FORMATS))
    name, writer = FORMATS[fmt]
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    reference = writer(path, rng)
    if kind == "tamper":
        TAMPER[fmt](path, rng)
        # Some tampering leaves a valid file (e.g. a longer npy dtype): judge it by reference.
        return Case(f"{fmt}/tamper", path, folder, outside, reference)
    target = path
    if fmt == "sharded" and rng.random() < 0.6:
        target = folder / "model-00001-of-00002.safetensors"
    target.write_bytes(DAMAGE[kind](target.read_bytes(), rng))
    return Case(f"{fmt}/{kind}", path, folder, outside, reference)


def make_valid_case(root: Path, fmt: str, seed: int = 0) -> Case:
    """An undamaged file of format ``fmt`` under ``root/<fmt>/`` (what the damage starts from)."""
    rng = random.Random(f"{seed}:{fmt}")
    base = root / fmt
    folder, outside = base / "model", base / "outside"
    folder.mkdir(parents=True)
    _outside_files(outside)
    name, writer = FORMATS[fmt]
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return Case(f"{fmt}/valid", path, folder, outside, writer(path, rng))


class OpenWatch:
    """Records every path this process opens while active (a ``sys.addaudithook`` hook)."""

    installed: OpenWatch | None = None

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)

    @classmethod
    def get(cls) -> OpenWatch:
        if cls.installed is None:
            cls.installed = cls()
        return cls.installed

    def _hook(self, event: str, args: tuple) -> None:
        if (
            self.active
            and event == "open"
            and args
            and isinstance(args[0], (str, bytes, os.PathLike))
        ):
            self.paths.append(os.fsdecode(args[0]))


#: Formats whose reader documents no order, the only ones compared as sorted values. None
#: today: every reader in miwd_widget.weights.formats documents one, and a sorted comparison
#: would pass a reader that puts the right tensors in the wrong order (a wrong theta).
UNORDERED: frozenset[str] = frozenset()


def judge(case: Case) -> tuple[str, str]:
    """``(outcome, detail)`` of reading ``case`` with ``flatten_weights``."""
    from miwd_widget.weights import WeightReadError, flatten_weights

    watch = OpenWatch.get()
    watch.paths.clear()
    watch.active = True
    try:
        theta, error = flatten_weights(case.path), None
    except WeightReadError as exc:
        theta, error = None, exc
    except Exception as exc:  # noqa: BLE001 - an unnamed error is an outcome
        watch.active = False
        return "unnamed error", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        watch.active = False
    outside = os.path.realpath(case.outside)
    touched = [p for p in watch.paths if os.path.realpath(p).startswith(outside + os.sep)]
    if case.canary is not None and case.canary.exists():
        return "code executed", str(case.canary)
    if touched or (theta is not None and np.any(theta == SENTINEL)):
        return "outside read", ", ".join(touched[:2]) or "sentinel values in the result"
    if error is not None:
        message = str(error)
        if str(case.folder) not in message and str(case.path) not in message:
            return "unnamed error", message[:200]
        return "clean error", message[:200]
    if case.reference is None:
        return "wrong weights", f"accepted a hostile file: {theta.size} weights"
    try:
        expected = case.reference()
    except Exception as exc:  # noqa: BLE001 - the format's own reader rejects it
        return (
            "wrong weights",
            f"accepted what the reference rejects ({type(exc).__name__}: {str(exc)[:120]})",
        )
    ours, theirs = theta.astype(np.float64), expected.astype(np.float64)
    if case.name.split("/")[0] in UNORDERED:
        ours, theirs = np.sort(ours), np.sort(theirs)
    if ours.shape != theirs.shape:
        return "wrong weights", f"{ours.size} values, the reference reads {theirs.size}"
    if not np.array_equal(ours, theirs, equal_nan=True):
        same = np.array_equal(np.sort(ours), np.sort(theirs), equal_nan=True)
        first = int(np.flatnonzero(~((ours == theirs) | (np.isnan(ours) & np.isnan(theirs))))[0])
        what = "the same values in another order" if same else "other values"
        return "wrong weights", f"{what}: first difference at weight {first} of {ours.size}"
    return "correct", f"{theta.size} weights"
