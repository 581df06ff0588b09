"""PyTorch checkpoints (.pt .pth .ckpt, and .bin when it is one), read with
``torch.load(weights_only=True)``: a file that needs arbitrary unpickling is refused.

Order: the state_dict's own order (checkpoint wrappers such as ``{"state_dict": ...}``
unwrapped). Zip checkpoints are opened by ``torch.load(mmap=True)``, and their tensors are
then read in place from the file by positional reads, never through torch's map
(:func:`_read_in_place`).

Before a zip checkpoint is memory-mapped, every storage ``data.pkl`` declares is checked
against its record in the zip (:func:`check_storages`): torch's ``mmap=True`` path trusts
the declared size and would read past a short record into the next members, where
``mmap=False`` refuses the file. ``data.pkl`` is parsed for that by a stub unpickler that
imports and calls nothing.
"""

from __future__ import annotations

import functools
import io
import pickle
import pickletools
import re
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..dtypes import stored_dtype
from ..file_array import FileArray, OpenFile
from ..guard import check_zip
from ..objects import object_items
from ..source import Tensor, WeightReadError, require
from ._base import ZIP_MAGIC, FileFormat, ReadResult

__all__ = ["PYTORCH", "read", "looks_like_pickle", "check_storages"]


def read(path: Path) -> ReadResult:
    """Read a PyTorch checkpoint with the safe (weights-only) unpickler."""
    torch = require("torch", "torch", f"reading the PyTorch checkpoint {path}")
    with open(path, "rb") as f:
        is_zip = f.read(4) == ZIP_MAGIC
    if not is_zip and not looks_like_pickle(path):
        raise WeightReadError(
            f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)"
        )
    if is_zip:
        check_storages(path)
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
    items, skipped = object_items(obj, include_buffers=True)
    if is_zip:
        items = _read_in_place(path, items)
    return items, skipped, "torch"


def _record_offsets(path: Path, file: OpenFile) -> dict[int, int]:
    """Byte offset in the file of every stored storage record (``<archive>/data/<key>``)
    of the zip -> its size."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            if info.compress_type != zipfile.ZIP_STORED or parts[1:2] != ["data"]:
                continue
            # The data follows the local header, whose name and extra fields may differ in
            # length from the central directory's.
            local = bytes(file.read(info.header_offset, 30))
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            out[info.header_offset + 30 + name_len + extra_len] = info.file_size
    return out


def _read_in_place(path: Path, items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Replace the memory-mapped tensors torch loaded by arrays read from the file in place.

    ``torch.load(mmap=True)`` maps the whole file and places every storage at its record's
    offset; reading through that map in this process would turn a file truncated under
    the reader into SIGBUS (file_array). Each storage is located in the file (its address
    minus the map's, checked against the zip's records) and read by positional reads.
    """
    torch = require("torch", "torch", f"reading the PyTorch checkpoint {path}")
    tensors = [
        (i, v)
        for i, (_, v) in enumerate(items)
        if isinstance(v, torch.Tensor) and v.device.type == "cpu" and v.layout == torch.strided
        and not v.is_quantized and v.numel() > 0
    ]  # fmt: skip
    if not tensors:
        return items
    file = OpenFile(path)
    records = _record_offsets(path, file)
    storages = {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes() for _, v in tensors}
    base = min(storages) - min(records)
    if any(records.get(ptr - base) != nbytes for ptr, nbytes in storages.items()):
        raise WeightReadError(
            f"{path}: its tensors could not be located in the file (a zip layout this "
            "reader does not know); save it again with torch.save, or as .safetensors"
        )
    out = list(items)
    for i, v in tensors:
        kind = str(v.dtype).removeprefix("torch.")
        stored = stored_dtype(kind)
        if stored is None:
            continue  # not a weight this reader decodes: reported by its dtype, never read
        if v.is_contiguous():
            data = FileArray(file, v.data_ptr() - base, stored, (v.numel(),))
        else:  # a strided view saved as such: its storage read, then the view taken
            storage = v.untyped_storage()
            raw = FileArray(
                file, storage.data_ptr() - base, stored, (storage.nbytes() // stored.itemsize,)
            )
            data = np.lib.stride_tricks.as_strided(
                np.asarray(raw)[v.storage_offset() :], tuple(v.shape),
                tuple(st * stored.itemsize for st in v.stride()),
            ).reshape(-1)  # fmt: skip
        out[i] = (items[i][0], Tensor(items[i][0], data, kind, tuple(v.shape)))
    return out


class _Stub:
    """Stands in for every global and persistent object while ``data.pkl`` is parsed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Stub:
        return _Stub()

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass


class _StorageLister(pickle.Unpickler):
    """Collects the persistent ids (storage records) of a torch ``data.pkl``; runs nothing."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.storages: list[tuple[Any, ...]] = []

    def find_class(self, module: str, name: str) -> type:
        # Never imports: a class named like the global, carrying its name for the size table.
        return type(name, (_Stub,), {"where": (module, name)})

    def persistent_load(self, pid: Any) -> _Stub:
        self.storages.append(tuple(pid) if isinstance(pid, (tuple, list)) else (pid,))
        return _Stub()


def _element_size(storage_type: Any) -> int | None:
    """Bytes per element of a torch storage class named in ``data.pkl`` (None: unknown).

    Known means a class torch's safe unpickler would accept under that module and name:
    ``torch.storage.UntypedStorage`` (bytes; torch >= 2 pickles every storage whose dtype has
    no legacy class this way, e.g. float8 and uint16/32/64) and the legacy typed classes in
    ``torch`` and ``torch.cuda``. The table is built from torch's own list
    (``torch._storage_classes``), which its safe unpickler also allows.
    """
    where = getattr(storage_type, "where", ("", ""))
    return _storage_sizes().get(where)


@functools.cache
def _storage_sizes() -> dict[tuple[str, str], int]:
    """``(module, name) -> bytes per element`` for every storage class torch knows."""
    import torch

    sizes = {("torch", "UntypedStorage"): 1}  # as this reader accepted before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the typed storage classes
        for cls in torch._storage_classes:
            where = (cls.__module__, cls.__name__)
            if cls is torch.storage.UntypedStorage:
                sizes[where] = 1
                continue
            dtype = getattr(cls, "dtype", None)  # TypedStorage itself has none
            if isinstance(dtype, torch.dtype):
                sizes[where] = torch._utils._element_size(dtype)
    return sizes


def check_storages(path: Path) -> None:
    """Refuse a zip checkpoint whose storage records are not the size ``data.pkl`` declares.

    Examples
    --------
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as d:
    ...     torch.save({"w": torch.ones(3)}, f"{d}/m.pt")
    ...     check_storages(Path(f"{d}/m.pt"))
    """
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if not infos:
            raise WeightReadError(f"{path}: not a PyTorch checkpoint (an empty zip archive)")
        # torch names every record <archive>/...; the archive name is the first one's folder.
        prefix = infos[0].filename.split("/", 1)[0] + "/"
        pkl = prefix + "data.pkl"
        records = {i.filename: i for i in infos}
        if pkl not in records:
            raise WeightReadError(f"{path}: not a PyTorch checkpoint (no {pkl} in the archive)")
        check_zip(path, archive, [pkl])
        lister = _StorageLister(archive.read(pkl))
        try:
            lister.load()
        except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt data.pkl
            raise WeightReadError(
                f"{path}: corrupt checkpoint: {pkl} does not parse ({type(exc).__name__}: {exc})"
            ) from None
        for key in dict.fromkeys(str(pid[2]) for pid in lister.storages if len(pid) >= 5):
            info = records.get(f"{prefix}data/{key}")
            if info is None:
                continue  # reported below
            try:  # mmap trusts the directory; the record's own local header must agree
                with archive.open(info):
                    pass
            except (zipfile.BadZipFile, NotImplementedError, OSError) as exc:
                raise WeightReadError(
                    f"{path}: corrupt checkpoint: storage record {info.filename!r}: {exc}"
                ) from None
    for pid in lister.storages:
        if len(pid) < 5 or pid[0] not in ("storage", b"storage"):
            raise WeightReadError(f"{path}: corrupt checkpoint: unexpected persistent id {pid!r}")
        storage_type, key, _, numel = pid[1:5]
        size = _element_size(storage_type)
        name = getattr(storage_type, "where", ("?", repr(storage_type)))[1]
        if size is None or not isinstance(numel, int) or numel < 0:
            raise WeightReadError(
                f"{path}: corrupt checkpoint: storage {key!r} has type {name} and {numel!r} "
                "elements"
            )
        record = f"{prefix}data/{key}"
        info = records.get(record)
        if info is None:
            raise WeightReadError(f"{path}: corrupt checkpoint: storage record {record!r} missing")
        need = numel * size
        if info.file_size != need:
            raise WeightReadError(
                f"{path}: corrupt checkpoint: storage {key!r} declares {numel:,} x {name} "
                f"({need:,} bytes) but its record {record!r} holds {info.file_size:,} bytes"
            )


class _Bounded:
    """A binary file whose reads never ask for more than it holds.

    pickletools reads a length-prefixed argument with one ``read(n)``; raw bytes that look
    like a pickle can declare n in the exabytes, which would be allocated up front.
    """

    def __init__(self, f: Any, size: int) -> None:
        self.f, self.size = f, size

    def read(self, n: int = -1) -> bytes:
        left = max(0, self.size - self.f.tell())
        return self.f.read(left if n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self.f.readline()

    def tell(self) -> int:
        return self.f.tell()


def looks_like_pickle(path: Path) -> bool:
    """Whether the file starts with a well-formed pickle (parsed, never executed)."""
    with open(path, "rb") as f:
        head = f.read(2)
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            return False
        f.seek(0)
        try:
            for opcode, _, _ in pickletools.genops(_Bounded(f, path.stat().st_size)):
                if opcode.name == "STOP":
                    return True
        except Exception:  # any parse failure: not a pickle
            return False
    return False


PYTORCH = FileFormat("torch", (".pt", ".pth", ".ckpt"), read, "a PyTorch checkpoint", "pytorch")
