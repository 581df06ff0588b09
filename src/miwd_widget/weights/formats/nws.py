"""NWS weight snapshots (``weights/NNN.bin``): raw little-endian float64, memory-mapped.

A ``.bin`` file is either a PyTorch checkpoint (zip or pickle) or such a raw vector; only a
pickle that parses all the way to its STOP opcode is taken for a checkpoint, because raw
float64 bytes can start like one by chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..guard import regular_file
from ..source import WeightReadError
from . import pytorch
from ._base import ZIP_MAGIC, FileFormat, ReadResult

__all__ = ["BIN", "read_bin", "read_raw_float64"]


def read_bin(path: Path) -> ReadResult:
    """Read a .bin file as a PyTorch checkpoint or, failing that, an NWS float64 vector."""
    with open(path, "rb") as f:
        head = f.read(4)
    # PyTorch .bin checkpoints are zip archives or (legacy) pickles; an NWS .bin is raw
    # float64, whose first bytes can by chance be 0x80 0x02..0x05: only a pickle that parses
    # all the way to its STOP opcode is taken as one.
    if head == ZIP_MAGIC or pytorch.looks_like_pickle(path):
        return pytorch.read(path)
    theta = read_raw_float64(
        path,
        "neither a PyTorch checkpoint (no zip or pickle header) nor an NWS raw float64 weight file",
    )
    return [("theta", theta)], [], "nws-float64"


def read_raw_float64(path: Path, what: str = "not a raw float64 weight file") -> np.memmap:
    """Memory-map a headerless little-endian float64 vector (an NWS weight snapshot).

    ``what`` completes the error for a file whose size is not a whole number of float64s.
    """
    # NWS layouts reach this without read_path (build opens "f64" specs directly): stat here.
    size = regular_file(path).stat().st_size
    if size == 0:
        raise WeightReadError(f"{path}: empty file")
    if size % 8:
        raise WeightReadError(f"{path}: {what} (its size, {size:,} bytes, is not a multiple of 8)")
    return np.memmap(path, dtype="<f8", mode="r")


BIN = FileFormat(
    "bin",
    (".bin",),
    read_bin,
    "a .bin file (PyTorch checkpoint or NWS raw float64 weights)",
    "pytorch",
)
