"""numpy files: ``.npz`` archives (file order) and ``.npy`` arrays (one tensor, memory-mapped).

``allow_pickle=False`` everywhere: an object array would need pickle, which can execute code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..source import Skip, WeightReadError
from ._base import ZIP_MAGIC, FileFormat, Items, ReadResult

__all__ = ["NPZ", "NPY"]

NPY_MAGIC = b"\x93NUMPY"


def read_npz(path: Path) -> ReadResult:
    """Read an .npz archive."""
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


def read_npy(path: Path) -> ReadResult:
    """Read an .npy array (memory-mapped)."""
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


NPZ = FileFormat("npz", (".npz",), read_npz, "an .npz archive", "npz")
NPY = FileFormat("npy", (".npy",), read_npy, "an .npy array", "npy")
