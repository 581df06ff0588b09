"""PyTorch checkpoints (.pt .pth .ckpt, and .bin when it is one), read with
``torch.load(weights_only=True)``: a file that needs arbitrary unpickling is refused.

Order: the state_dict's own order (checkpoint wrappers such as ``{"state_dict": ...}``
unwrapped). Zip checkpoints are memory-mapped by ``torch.load(mmap=True)``.
"""

from __future__ import annotations

import pickle
import pickletools
import re
import warnings
from pathlib import Path

from ..objects import object_items
from ..source import WeightReadError, require
from ._base import ZIP_MAGIC, FileFormat, ReadResult

__all__ = ["PYTORCH", "read", "looks_like_pickle"]


def read(path: Path) -> ReadResult:
    """Read a PyTorch checkpoint with the safe (weights-only) unpickler."""
    torch = require("torch", "torch", f"reading the PyTorch checkpoint {path}")
    with open(path, "rb") as f:
        is_zip = f.read(4) == ZIP_MAGIC
    if not is_zip and not looks_like_pickle(path):
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
    items, skipped = object_items(obj, include_buffers=True)
    return items, skipped, "torch"


def looks_like_pickle(path: Path) -> bool:
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


PYTORCH = FileFormat("torch", (".pt", ".pth", ".ckpt"), read, "a PyTorch checkpoint", "pytorch")
