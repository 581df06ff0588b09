"""numpy files: ``.npz`` archives (file order) and ``.npy`` arrays (one tensor, memory-mapped).

``allow_pickle=False`` everywhere: an object array would need pickle, which can execute code.

.npz members are read from the zip directly, not through ``np.load``: the archive is checked
for bombs before anything is decompressed (:func:`~miwd_widget.weights.guard.check_zip`),
each member's header is parsed and its declared shape checked against the bytes it holds
before any allocation, and a member that cannot be read is an error naming the member (an
object array is skipped, with the reason, as it is not a weight).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..file_array import FileArray, OpenFile
from ..guard import check_weight_count, check_zip
from ..source import Skip, WeightReadError
from ._base import ZIP_MAGIC, FileFormat, Items, ReadResult

__all__ = ["NPZ", "NPY"]

NPY_MAGIC = b"\x93NUMPY"


def read_npz(path: Path) -> ReadResult:
    """Read an .npz archive (members in file order)."""
    items: Items = []
    with open(path, "rb") as f:
        head = f.read(6)
    if head[:4] != ZIP_MAGIC:
        # np.load would take anything else for a pickle (refused) or a single .npy array.
        raise WeightReadError(f"{path}: not an .npz archive (no zip header)")
    with zipfile.ZipFile(path) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        check_zip(path, archive)
        for info in members:
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                items.append((key, _read_member(path, archive, info, key)))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise WeightReadError(
                    f"{path}: member {key!r} is corrupt: {type(exc).__name__}: {exc}"
                ) from None
    return items, [], "npz"


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> Any:
    """One .npz member: an array, or a Skip for an object array (which would need pickle)."""
    label = f"{path}: member {key!r}"
    with archive.open(info) as f:
        if f.read(6) != NPY_MAGIC:
            raise WeightReadError(f"{label} is not an .npy array (no NUMPY header)")
        major, minor = f.read(2)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif (major, minor) in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only by a UTF-8 header, which the 2.0 parser decodes too
            # for the ASCII headers numpy writes.
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise WeightReadError(f"{label}: unknown .npy format version {major}.{minor}")
        if dtype.hasobject:
            return Skip("object array refused (loading it would need pickle)")
        count = math.prod(shape)
        check_weight_count(label, count)
        need, holds = count * dtype.itemsize, info.file_size - f.tell()
        if need > holds:
            raise WeightReadError(
                f"{label} declares shape {shape} of {dtype} ({need:,} bytes) but holds "
                f"{max(holds, 0):,} bytes (truncated or corrupt)"
            )
        data = f.read(need)
        f.read()  # to the end of the member: zipfile checks its CRC there
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def in_place(path: Path, mapped: np.ndarray) -> FileArray | np.ndarray:
    """The values of the .npy file ``path``, read in place, from numpy's map of it
    (``np.load(mmap_mode="r")``: numpy parses the header, the map itself is never read).

    A file truncated under a map kills the process with SIGBUS (weights.file_array).
    Fortran-ordered matrices are read whole (theta is C order), as are arrays numpy did not
    map (no values).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     np.save(f"{d}/m.npy", np.arange(6.0).reshape(2, 3))
    ...     a = in_place(Path(f"{d}/m.npy"), np.load(f"{d}/m.npy", mmap_mode="r"))
    ...     print(type(a).__name__, a[1])
    FileArray [3. 4. 5.]
    """
    if not isinstance(mapped, np.memmap):
        return mapped
    where, shape, dtype = mapped.offset, mapped.shape, mapped.dtype
    fortran = mapped.ndim > 1 and not mapped.flags.c_contiguous
    values = FileArray(OpenFile(path), where, dtype, shape)
    if fortran:
        return np.asarray(values.reshape(-1)).reshape(shape, order="F")
    return values


def read_npy(path: Path) -> ReadResult:
    """Read an .npy array (in place, by positional reads)."""
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
    values = in_place(path, array)
    return [("theta", values)], [], "npy"


NPZ = FileFormat("npz", (".npz",), read_npz, "an .npz archive", "npz")
NPY = FileFormat("npy", (".npy",), read_npy, "an .npy array", "npy")
