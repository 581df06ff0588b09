"""NWS weight snapshots (``weights/NNN.bin``): raw little-endian float64, read in place.

A ``.bin`` file is either a PyTorch checkpoint (zip or pickle) or such a raw vector. Raw
float64 bytes can begin with anything, so:

- a file named like an NWS snapshot (``weights/<digits>.bin``) is always raw float64,
  never sniffed (:func:`is_nws_snapshot`); so is every file an NWS layout names (the
  library build reads those with :func:`read_raw_float64` directly);
- any other ``.bin`` is a checkpoint only if it is a whole zip archive (a zip header *and*
  a readable central directory) or a pickle that parses all the way to its STOP opcode
  (then the safe torch loader decides, and refuses a pickle that carries code).

A ``.bin`` shard of a sharded index is a different case: it is always a PyTorch
checkpoint (see :data:`miwd_widget.weights.registry.SHARD_FORMATS`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..file_array import FileArray, OpenFile
from ..guard import regular_file
from ..source import WeightReadError
from . import pytorch
from ._base import ZIP_MAGIC, FileFormat, ReadResult

__all__ = ["BIN", "read_bin", "read_raw_float64", "is_nws_snapshot"]


def is_nws_snapshot(path: Path) -> bool:
    """Whether ``path`` is named like an NWS weight snapshot: ``.../weights/<digits>.bin``.

    Examples
    --------
    >>> is_nws_snapshot(Path("net_00042/weights/020.bin")), is_nws_snapshot(Path("model.bin"))
    (True, False)
    """
    return path.suffix.lower() == ".bin" and path.stem.isdigit() and path.parent.name == "weights"


def _is_checkpoint(path: Path) -> bool:
    """Whether a .bin file is a PyTorch checkpoint, not raw float64 that starts like one."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == ZIP_MAGIC:
        return zipfile.is_zipfile(path)  # needs the central directory at the end too
    return pytorch.looks_like_pickle(path)


def read_bin(path: Path) -> ReadResult:
    """Read a .bin file as a PyTorch checkpoint or, failing that, an NWS float64 vector."""
    if not is_nws_snapshot(path) and _is_checkpoint(path):
        return pytorch.read(path)
    theta = read_raw_float64(
        path,
        "neither a PyTorch checkpoint (no zip or pickle header) nor an NWS raw float64 weight file",
    )
    return [("theta", theta)], [], "nws-float64"


def read_raw_float64(path: Path, what: str = "not a raw float64 weight file") -> FileArray:
    """Open a headerless little-endian float64 vector (an NWS weight snapshot).

    ``what`` completes the error for a file whose size is not a whole number of float64s.
    """
    # NWS layouts reach this without read_path (build opens "f64" specs directly): stat here.
    size = regular_file(path).stat().st_size
    if size == 0:
        raise WeightReadError(f"{path}: empty file")
    if size % 8:
        raise WeightReadError(f"{path}: {what} (its size, {size:,} bytes, is not a multiple of 8)")
    file = OpenFile(path)  # read in place, never mapped (file_array: no SIGBUS)
    return FileArray(file, 0, np.dtype("<f8"), (size // 8,))


BIN = FileFormat(
    "bin",
    (".bin",),
    read_bin,
    "a .bin file (PyTorch checkpoint or NWS raw float64 weights)",
    "pytorch",
)
